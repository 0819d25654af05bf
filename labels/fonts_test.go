package labels

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/jung-kurt/gofpdf"
)

// polish is the sample label with a shopper whose name and address need
// the embedded Go fonts (Ł, ż, ś and ź are not in WinAnsi).
func polish(f Format) Label {
	l := sample(f)
	l.From = Address{Name: "Łukasz Żółć", Line1: "ul. Świętokrzyska 12 m. 4", City: "Łódź", PostalCode: "90-001", Country: "PL"}
	return l
}

// TestWidthsMatchGofpdf checks the widths text is measured with against
// another PDF library's, gofpdf's (the core fonts' standard metrics; an
// embedded font's advances as its /W array gives them), in both font sets,
// for every rune they draw.
func TestWidthsMatchGofpdf(t *testing.T) {
	for _, fs := range []*fontSet{goFonts(), helvetica()} {
		pdf := gofpdf.New("P", "mm", "A4", "")
		if !fs.core {
			pdf.AddUTF8FontFromBytes(fs.family, "", bytes.Clone(fs.regular.ttf))
			pdf.AddUTF8FontFromBytes(fs.family, "B", bytes.Clone(fs.bold.ttf))
		}
		encode := func(s string) string { return s }
		if fs.core {
			encode = toWinAnsi
		}
		for i, fc := range []*face{fs.regular, fs.bold} {
			pdf.SetFont(fs.family, []string{"", "B"}[i], 10)
			var all strings.Builder
			n := 0
			for c := rune(0x20); c < 0x10000; c++ {
				if !fs.printable(c) {
					continue
				}
				n++
				all.WriteRune(c)
				if got, want := int(fc.widths[c]), pdf.GetStringSymbolWidth(encode(string(c))); got != want {
					t.Errorf("%s %q: width of %U is %d, gofpdf says %d", fs.family, fc.name, c, got, want)
				}
			}
			if got, want := fc.width(all.String(), 10), pdf.GetStringWidth(encode(all.String())); math.Abs(got-want) > 1e-9 {
				t.Errorf("%s %q: all glyphs measure %v mm, gofpdf says %v", fs.family, fc.name, got, want)
			}
			if fs.core && n != 0x7f-0x20+27+0x60 {
				t.Errorf("%s %q draws %d runes, want the 218 of WinAnsi", fs.family, fc.name, n)
			}
		}
		if err := pdf.Error(); err != nil {
			t.Fatal(err)
		}
		if !fs.printable('?') || !fs.covers(ellipsis) {
			t.Errorf("%s lacks '?' or the ellipsis, which clean and wrap put into text", fs.family)
		}
	}
	// Go fonts: hhea ascender 1935 and descender -432 of 2048 units.
	if fs := goFonts(); fs.ascent != 1935.0/2048 || fs.descent != 432.0/2048 {
		t.Errorf("ascent %v, descent %v, want 1935/2048 and 432/2048", fs.ascent, fs.descent)
	}
}

// TestWinAnsiMatchesGofpdf checks the WinAnsi table against gofpdf's own
// cp1252 code page: every rune the core fonts are said to draw is encoded
// as gofpdf encodes it, and no other rune from U+0080 up has a code there.
func TestWinAnsiMatchesGofpdf(t *testing.T) {
	pdf := gofpdf.New("P", "mm", "A4", "")
	cp1252 := pdf.UnicodeTranslatorFromDescriptor("cp1252")
	if err := pdf.Error(); err != nil {
		t.Fatal(err)
	}
	fs := helvetica()
	for r := rune(0x20); r < 0x10000; r++ {
		s := string(r)
		switch {
		case fs.printable(r):
			if got, want := toWinAnsi(s), cp1252(s); got != want {
				t.Errorf("%U: encoded as %x, gofpdf's cp1252 says %x", r, got, want)
			}
		case r >= 0x80 && cp1252(s) != ".":
			t.Errorf("%U has cp1252 code %x, but the core fonts are said not to draw it", r, cp1252(s))
		}
	}
	if got, want := toWinAnsi("Zoë – 5 € … “ok”"), "Zo\xeb \x96 5 \x80 \x85 \x93ok\x94"; got != want {
		t.Errorf("toWinAnsi = %q, want %q", got, want)
	}
}

// TestRenderFontChoice checks which font set draws a label: the core
// Helvetica, embedding nothing, when all its cleaned text is WinAnsi (CJK
// and emoji are '?' by then), else the Go fonts for all of its text.
func TestRenderFontChoice(t *testing.T) {
	core := map[string]bool{
		"plain": true, "accented latin": true, "cjk": true, "right to left": true, "emoji": true,
		"200-character text": true, "200 characters without spaces": true, "empty address lines": true,
		"blank shopper": true, "control characters": true, "invalid UTF-8": true, "many parcels and items": true,
		"UPS-style tracking number": true, "USPS-style tracking number": true, "longest codes": true,
		"polish": false, "greek": false, "cyrillic": false,
	}
	for _, tc := range hostile {
		wantCore, ok := core[tc.name]
		if !ok {
			t.Errorf("hostile case %q: say here which font set it needs", tc.name)
			continue
		}
		for _, f := range formats {
			l := sample(f)
			tc.edit(&l)
			families := map[string]bool{}
			var buf bytes.Buffer
			if err := render(&buf, l, func(d drawn) {
				if d.kind == drawText {
					families[d.fs.family] = true
				}
			}); err != nil {
				t.Fatalf("%s/%s: %v", tc.name, f, err)
			}
			want := goFonts().family
			if wantCore {
				want = helvetica().family
			}
			if len(families) != 1 || !families[want] {
				t.Errorf("%s/%s: text drawn in %v, want %s only", tc.name, f, families, want)
			}
			if embedded := bytes.Contains(buf.Bytes(), []byte("/FontFile2")); embedded == wantCore {
				t.Errorf("%s/%s: font embedded: %v, want %v", tc.name, f, embedded, !wantCore)
			}
		}
	}
}

// TestRenderLeavesFontBytesAlone checks that subsetting never writes into
// the font bytes every render shares: concurrent renders, which go test
// -race reports if one does, and the package's font bytes unchanged
// afterwards.
func TestRenderLeavesFontBytesAlone(t *testing.T) {
	fs := goFonts()
	regular, bold := bytes.Clone(fs.regular.ttf), bytes.Clone(fs.bold.ttf)
	const n = 8
	done := make(chan error)
	for i := range n {
		go func() { done <- Render(io.Discard, polish(formats[i%len(formats)])) }()
	}
	for range n {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(fs.regular.ttf, regular) || !bytes.Equal(fs.bold.ttf, bold) {
		t.Fatal("rendering changed the shared font bytes")
	}
}
