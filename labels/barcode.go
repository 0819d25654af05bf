package labels

import (
	"fmt"
	"image/color"
	"math"
	"sync"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/code128"
	"github.com/boombuler/barcode/qr"
)

// Barcodes are drawn as vector rectangles from the boombuler/barcode module
// matrices: one rectangle per horizontal run of dark modules, merged with
// the same run in the rows below (see matrix.rects). A module is a whole number of printer dots (see dot), never fewer than
// minDots, and each barcode starts on the dot grid.

const (
	minDots      = 2  // 0.25 mm: the narrowest module a 203 dpi printer resolves reliably
	code128Quiet = 10 // modules of white space each side of a Code 128 symbol
	qrQuiet      = 4  // modules of white space around a QR symbol
)

// matrix is an encoded barcode: dark[y][x] for each module.
type matrix struct {
	content string
	w, h    int
	dark    []bool // row-major
	quiet   int    // modules of quiet zone on each side (drawn as white space)
}

func (m *matrix) at(x, y int) bool { return m.dark[y*m.w+x] }

func toMatrix(bc barcode.Barcode, quiet int) *matrix {
	b := bc.Bounds()
	m := &matrix{content: bc.Content(), w: b.Dx(), h: b.Dy(), quiet: quiet}
	m.dark = make([]bool, m.w*m.h)
	for y := 0; y < m.h; y++ {
		for x := 0; x < m.w; x++ {
			m.dark[y*m.w+x] = isDark(bc.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return m
}

func isDark(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r+g+b < 3*0x8000
}

// encode128 encodes s (printable ASCII, as Validate checks) as Code 128.
func encode128(s string) (*matrix, error) {
	bc, err := code128.Encode(s)
	if err != nil {
		return nil, err
	}
	return toMatrix(bc, code128Quiet), nil
}

// qrCodes keeps the QR codes made last, by content (qrOf). A label's QR code is its
// return's status URL, the same on each of the label's formats (the 4x6 label, the
// shopper's A4 or Letter page, the email's attachment), and choosing its mask is
// nearly half of rendering a label. A matrix is never changed once made.
var qrCodes = struct {
	sync.Mutex
	m map[string]*matrix
}{m: map[string]*matrix{}}

// qrCodesMax bounds qrCodes: past it, it starts again empty.
const qrCodesMax = 512

// qrOf is encodeQR, from qrCodes when s was encoded lately.
func qrOf(s string) (*matrix, error) {
	qrCodes.Lock()
	m, ok := qrCodes.m[s]
	qrCodes.Unlock()
	if ok {
		return m, nil
	}
	m, err := encodeQR(s)
	if err != nil {
		return nil, err
	}
	qrCodes.Lock()
	if len(qrCodes.m) >= qrCodesMax {
		clear(qrCodes.m)
	}
	qrCodes.m[s] = m
	qrCodes.Unlock()
	return m, nil
}

// encodeQR encodes s as a QR code with error correction level M (15 %).
func encodeQR(s string) (*matrix, error) {
	if m, ok := fastQR(s); ok {
		return m, nil
	}
	bc, err := qr.Encode(s, qr.M, qr.Auto)
	if err != nil {
		return nil, err
	}
	return toMatrix(bc, qrQuiet), nil
}

// placement is where a matrix is drawn: origin of the symbol including its
// quiet zone, the module size, and the module height for 1D codes.
type placement struct {
	outer  rect    // symbol plus quiet zone
	module float64 // module width in mm (a whole number of dots)
	rowH   float64 // height of one matrix row in mm
	dots   int     // module width in dots
}

// place1D fits a one-row matrix into box: the widest module of at most
// maxDots dots (and at least minDots) for which the symbol and its quiet
// zones fit, full box height (in whole dots), centred, on the dot grid.
func place1D(m *matrix, box rect, maxDots int) (placement, error) {
	total := m.w + 2*m.quiet
	for k := maxDots; k >= minDots; k-- {
		w := float64(total*k) * dot
		if w > box.W-dot { // one dot spare for snapping to the grid
			continue
		}
		h := math.Floor((box.H-dot)/dot) * dot
		x := snapInside(box.X+(box.W-w)/2, box.X, box.right()-w)
		y := snapInside(box.Y+(box.H-h)/2, box.Y, box.bottom()-h)
		return placement{outer: rect{x, y, w, h}, module: float64(k) * dot, rowH: h, dots: k}, nil
	}
	return placement{}, fmt.Errorf("%d modules do not fit %.1f mm at %d dots (%.2f mm) per module",
		total, box.W, minDots, minDots*dot)
}

// placeSquare fits a square matrix into box: the largest whole number of
// dots per module, at least minDots, centred, on the dot grid.
func placeSquare(m *matrix, box rect) (placement, error) {
	total := m.w + 2*m.quiet
	side := min(box.W, box.H) - dot
	k := int(side / (float64(total) * dot))
	if k < minDots {
		return placement{}, fmt.Errorf("%d modules do not fit %.1f mm at %d dots per module", total, side, minDots)
	}
	s := float64(total*k) * dot
	x := snapInside(box.X+(box.W-s)/2, box.X, box.right()-s)
	y := snapInside(box.Y+(box.H-s)/2, box.Y, box.bottom()-s)
	return placement{outer: rect{x, y, s, s}, module: float64(k) * dot, rowH: float64(k) * dot, dots: k}, nil
}

// snapInside returns v moved to the dot grid, staying within [lo, hi]
// (hi - lo must be at least one dot).
func snapInside(v, lo, hi float64) float64 {
	s := float64(math.Round(v/dot) * dot) // float64: no fused multiply-add with the lines below
	if s < lo {
		s += dot
	}
	if s > hi {
		s -= dot
	}
	return s
}

// rects calls fn for rectangles that together cover exactly the dark
// modules of m, with the first module and the size of each in modules: each
// horizontal run of dark modules, merged with the identical runs (same first
// module, same length) in the rows directly below it. A QR code needs about
// a quarter fewer rectangles than with one per run (less PDF to write and
// to rasterise), and its vertical stretches have no seams between rows. A 1D
// code is one rectangle per bar.
func (m *matrix) rects(fn func(x, y, w, h int)) {
	type rectangle struct{ x, y, w, h int }
	// open holds the rectangles that reach the previous row, left to right;
	// next collects those that reach this row.
	var open, next []rectangle
	for y := 0; y < m.h; y++ {
		next = next[:0]
		i := 0 // open[:i] are continued or closed
		for x := 0; x < m.w; {
			if !m.at(x, y) {
				x++
				continue
			}
			n := 1
			for x+n < m.w && m.at(x+n, y) {
				n++
			}
			// What starts left of this run above has no run below it.
			for ; i < len(open) && open[i].x < x; i++ {
				fn(open[i].x, open[i].y, open[i].w, open[i].h)
			}
			switch {
			case i < len(open) && open[i].x == x && open[i].w == n:
				open[i].h++
				next = append(next, open[i])
				i++
			case i < len(open) && open[i].x == x: // same start, other length
				fn(open[i].x, open[i].y, open[i].w, open[i].h)
				i++
				fallthrough
			default:
				next = append(next, rectangle{x, y, n, 1})
			}
			x += n
		}
		for ; i < len(open); i++ {
			fn(open[i].x, open[i].y, open[i].w, open[i].h)
		}
		open, next = next, open
	}
	for _, r := range open {
		fn(r.x, r.y, r.w, r.h)
	}
}
