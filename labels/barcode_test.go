package labels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRectsCoverDarkModules checks that the rectangles a barcode is drawn
// with cover every dark module exactly once and no light one, for real
// symbols and for random and awkward matrices, and that merging runs saves
// rectangles on a QR code.
func TestRectsCoverDarkModules(t *testing.T) {
	var ms []*matrix
	for _, s := range []string{"https://returns.example.com/r/R-7KQ4-M2XD", "https://x", strings.Repeat("x", maxStatusURLLen)} {
		m, err := encodeQR(s)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	for _, s := range []string{"RR123456785GB", "R-7KQ4-M2XD"} {
		m, err := encode128(s)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	grid := func(w, h int, dark func(x, y int) bool) *matrix {
		m := &matrix{w: w, h: h, dark: make([]bool, w*h)}
		for y := range h {
			for x := range w {
				m.dark[y*w+x] = dark(x, y)
			}
		}
		return m
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ms = append(ms,
		grid(7, 5, func(x, y int) bool { return true }),
		grid(7, 5, func(x, y int) bool { return false }),
		grid(8, 8, func(x, y int) bool { return (x+y)%2 == 0 }),
		grid(9, 9, func(x, y int) bool { return x <= y }),     // staircase: every run starts at 0, each one longer
		grid(9, 9, func(x, y int) bool { return x >= 8-y }),   // every run ends at the edge, each starting earlier
		grid(9, 9, func(x, y int) bool { return x/3 == y%3 }), // blocks shifting right
	)
	for range 200 {
		w, h := 1+rng.IntN(12), 1+rng.IntN(12)
		ms = append(ms, grid(w, h, func(x, y int) bool { return rng.IntN(3) > 0 }))
	}

	for i, m := range ms {
		name := fmt.Sprintf("matrix %d (%dx%d %q)", i, m.w, m.h, m.content)
		covered := make([]int, m.w*m.h)
		m.rects(func(x, y, w, h int) {
			if w < 1 || h < 1 || x < 0 || y < 0 || x+w > m.w || y+h > m.h {
				t.Fatalf("%s: rectangle %d,%d %dx%d is empty or outside", name, x, y, w, h)
			}
			for yy := y; yy < y+h; yy++ {
				for xx := x; xx < x+w; xx++ {
					covered[yy*m.w+xx]++
				}
			}
		})
		for j, n := range covered {
			if want := map[bool]int{true: 1, false: 0}[m.dark[j]]; n != want {
				t.Fatalf("%s: module %d,%d (dark %v) covered %d times", name, j%m.w, j/m.w, m.dark[j], n)
			}
		}
	}

	qr := ms[0]
	runs, rects := 0, 0
	for y := range qr.h {
		for x := range qr.w {
			if qr.at(x, y) && (x == 0 || !qr.at(x-1, y)) {
				runs++
			}
		}
	}
	qr.rects(func(x, y, w, h int) { rects++ })
	if rects*5 > runs*4 {
		t.Errorf("sample QR code: %d rectangles for %d runs, want at least a fifth fewer", rects, runs)
	}
	t.Logf("sample QR code: %d rectangles for %d runs", rects, runs)
}
