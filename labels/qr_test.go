package labels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
)

// TestFastQRIsBoombulersSymbol: for every version it handles and for random
// URLs and bytes, the fast encoder writes exactly the symbol boombuler/barcode
// does (same version, same mask, every module), and it leaves what it does
// not handle to boombuler.
func TestFastQRIsBoombulersSymbol(t *testing.T) {
	var inputs []string
	// every length from 1 to past version 10's capacity: every version, every
	// padding
	for n := 1; n <= 220; n++ {
		s := "h" + strings.Repeat("ab9/", n)
		inputs = append(inputs, s[:n])
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		b := make([]byte, 1+rng.IntN(210))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, string(b))
		inputs = append(inputs, fmt.Sprintf("https://returns.example.com/portal/shop-%d/r/R-%04X-%04X?t=%x", rng.IntN(1000), rng.IntN(65536), rng.IntN(65536), rng.Uint64()))
	}
	inputs = append(inputs, "R-7KQ4-M2XD", "12345", "HTTPS://X.EXAMPLE/R/ABC") // alphanumeric and numeric: not ours
	fast, versions := 0, map[int]bool{}
	for _, s := range inputs {
		bc, err := qr.Encode(s, qr.M, qr.Auto)
		if err != nil {
			t.Fatal(err)
		}
		want := toMatrix(bc, qrQuiet)
		got, ok := fastQR(s)
		if !ok {
			continue
		}
		fast++
		versions[(got.w-17)/4] = true
		if got.w != want.w || got.h != want.h {
			t.Fatalf("%q: got %dx%d modules, want %dx%d", s, got.w, got.h, want.w, want.h)
		}
		for i := range want.dark {
			if got.dark[i] != want.dark[i] {
				t.Fatalf("%q (%d modules a side): module (%d, %d) differs", s, want.w, i%want.w, i/want.w)
			}
		}
	}
	if fast < len(inputs)/2 || len(versions) != len(qrVersionsM) {
		t.Fatalf("the fast encoder took %d of %d inputs in versions %v, want most, in every version", fast, len(inputs), versions)
	}
	for _, s := range []string{"R-7KQ4-M2XD", "12345", strings.Repeat("x", 214)} {
		if _, ok := fastQR(s); ok {
			t.Errorf("%q: the fast encoder took it, want it left to boombuler", s)
		}
	}
}

// TestPenaltyOnRowsIsModuleByModules: the mask penalty computed on rows of bits is
// the module-by-module score, for random symbols of every size and for uniform and
// striped ones (runs to the edge, the dark share's rounding).
func TestPenaltyOnRowsIsModuleByModules(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for v := 1; v <= len(qrVersionsM); v++ {
		n := 17 + 4*v
		fill := []func(x, y int) bool{
			func(x, y int) bool { return true },
			func(x, y int) bool { return false },
			func(x, y int) bool { return x%2 == 0 },
			func(x, y int) bool { return (x/5+y)%2 == 0 },
			func(x, y int) bool { return x < n/2 },
		}
		for range 200 {
			density := rng.Float64()
			fill = append(fill, func(x, y int) bool { return rng.Float64() < density })
		}
		for i, f := range fill {
			g := make([]byte, n*n)
			rows, cols := make([]uint64, n), make([]uint64, n)
			for y := 0; y < n; y++ {
				for x := 0; x < n; x++ {
					if f(x, y) {
						g[y*n+x] = 1
						rows[y] |= 1 << x
					}
				}
			}
			if got, want := qrPenaltyRows(rows, cols, n), qrPenaltyBytes(g, n); got != want {
				t.Fatalf("version %d, grid %d: got penalty %d, want %d", v, i, got, want)
			}
		}
	}
}

// qrPenaltyBytes is the reference for qrPenaltyRows: the score of a masked
// symbol as a byte a module (1: dark), module by module, as boombuler/barcode
// scores it (ISO/IEC 18004 8.8.2): runs of five or more, 2x2 blocks, finder-like 1:1:3:1:1 patterns
// with four light modules on one side, and the share of dark modules.
func qrPenaltyBytes(g []byte, n int) int {
	p := 0
	// rule 1, rows and columns
	for a := 0; a < n; a++ {
		runH, runV := 1, 1
		for b := 1; b < n; b++ {
			if g[a*n+b] == g[a*n+b-1] {
				runH++
			} else {
				if runH >= 5 {
					p += runH - 2
				}
				runH = 1
			}
			if g[b*n+a] == g[(b-1)*n+a] {
				runV++
			} else {
				if runV >= 5 {
					p += runV - 2
				}
				runV = 1
			}
		}
		if runH >= 5 {
			p += runH - 2
		}
		if runV >= 5 {
			p += runV - 2
		}
	}
	// rule 2
	for y := 0; y < n-1; y++ {
		for x := 0; x < n-1; x++ {
			c := g[y*n+x]
			if g[y*n+x+1] == c && g[(y+1)*n+x] == c && g[(y+1)*n+x+1] == c {
				p += 3
			}
		}
	}
	// rule 3: 10111010000 or 00001011101 in 11-module windows
	const pat1, pat2, window = 0b10111010000, 0b00001011101, 1<<11 - 1
	for a := 0; a < n; a++ {
		h, v := 0, 0
		for b := 0; b < n; b++ {
			h = (h<<1 | int(g[a*n+b])) & window
			v = (v<<1 | int(g[b*n+a])) & window
			if b >= 10 {
				if h == pat1 || h == pat2 {
					p += 40
				}
				if v == pat1 || v == pat2 {
					p += 40
				}
			}
		}
	}
	// rule 4, on the dark modules counted one by one
	dark := 0
	for _, c := range g {
		dark += int(c)
	}
	return p + qrBalancePenalty(dark, n*n)
}
