package labels

import (
	"errors"
	"io"
	"testing"
)

// FuzzRender feeds arbitrary names, address lines and barcode contents to
// Render: it must never panic, fail only with ErrInvalidLabel, and succeed
// whenever Validate accepts the label (the barcode limits guarantee a fit).
func FuzzRender(f *testing.F) {
	f.Add("Zoë Ångström-Müller", "12 Rue de la Paix", "東京都", "RR123456785GB", "R-7KQ4-M2XD", "https://r.example/x", uint8(0))
	f.Add("\x00\t\n\u202e", "", "🎉👩‍👩‍👧", "1Z999AA10123456784", "R-1", "HTTPS://R.EXAMPLE/X", uint8(1))
	f.Add("Łukasz Żółć", "ул. Тверская", "\xff\xfe", "", "", "", uint8(2))
	f.Add(string(make([]byte, 300)), "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW", "a b", "9400111899223100000000", "RRRRRRRRRRRRRRRRRR", "https://x", uint8(3))
	f.Fuzz(func(t *testing.T, name, line, city, tracking, rma, url string, format uint8) {
		l := sample([]Format{Format4x6, FormatLetter, FormatA4, ""}[format%4])
		l.From.Name, l.From.Line1, l.From.City = name, line, city
		l.To.Name, l.To.Line2 = name, line
		l.Carrier, l.MerchantName = city, name
		l.TrackingNumber, l.RMA, l.StatusURL = tracking, rma, url
		err := Render(io.Discard, l)
		if err != nil && !errors.Is(err, ErrInvalidLabel) {
			t.Fatalf("Render: %v, want nil or ErrInvalidLabel", err)
		}
		if err != nil && l.Validate() == nil {
			t.Fatalf("Render: %v for a label Validate accepts", err)
		}
	})
}

// FuzzFitText drives the text layer alone, far faster than FuzzRender:
// whatever the text and the box, clean leaves only runes the chosen font
// set draws and fitBlock keeps every line inside the box.
func FuzzFitText(f *testing.F) {
	f.Add("Zoë Ångström-Müller", "東京都 🎉 \u202e\x00", 60.0, 20.0, 12.0, 8.0, uint8(2))
	f.Add("WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW", "a b c d e f", 20.0, 5.0, 16.0, 6.0, uint8(5))
	f.Fuzz(func(t *testing.T, a, b string, w, h, size, minSize float64, lines uint8) {
		if !(w >= 5 && w <= 300 && h >= 0 && h <= 300 && size >= 4 && size <= 40 && minSize >= 4 && minSize <= size) {
			return // outside the boxes and sizes the layout uses
		}
		box := rect{1, 2, w, h}
		spans := []span{
			{text: clean(a), bold: true, size: size, min: minSize, maxLines: int(lines % 6)},
			{text: clean(b), size: size, min: minSize, maxLines: int(lines / 6 % 6), gap: 1, wrapFirst: lines%2 == 0},
		}
		fs := fontsFor([]block{{spans: spans}})
		for _, l := range fitBlock(fs, box, spans, align(lines%3), lines%5 == 0) {
			if !box.contains(rect{l.x, l.y, l.w, l.h()}, 1e-9) {
				t.Fatalf("line %q (%.2f pt) at %+v leaves %+v", l.text, l.size, rect{l.x, l.y, l.w, l.h()}, box)
			}
			for _, r := range l.text {
				if !fs.printable(r) {
					t.Fatalf("line %q holds %U", l.text, r)
				}
			}
		}
	})
}
