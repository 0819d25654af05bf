package labels

import (
	"bytes"
	"fmt"
	"math"
	"sync"

	"github.com/jung-kurt/gofpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// A label's text is drawn in one of two font sets, chosen per label by
// fontsFor, so that one label never mixes two typefaces:
//
//   - helvetica, the PDF core fonts Helvetica and Helvetica-Bold in
//     WinAnsiEncoding (Windows-1252): every PDF reader and printer driver
//     has them, so nothing is embedded, parsed or subset per document. They
//     cover English and the Western European languages (Latin-1 plus € – —
//     ‘ ’ “ ” … Š š Ž ž Œ œ Ÿ), which is most labels; a label in this set
//     renders in a fraction of a millisecond.
//   - goFonts, the Go fonts (regular and bold), embedded as TrueType
//     fonts with only the glyphs a label draws (pdf.go, sfnt.go), about a
//     millisecond more: only for labels with text WinAnsi lacks (Latin
//     Extended, Greek, Cyrillic). They also decide what a label can print
//     at all: clean turns what they lack into '?'.
//
// Text is measured with the widths the PDF gives each glyph (the core
// fonts' standard metrics, or the /W array written from face.widths), so
// that fitting and alignment hold in both.

// face is one font of a set and the metrics to measure text in it.
type face struct {
	name string // PostScript name: the core font's, or the embedded font's
	ttf  []byte // TrueType bytes of an embedded font; nil for a core font
	// widths[r] is the advance of rune r in thousandths of an em, rounded
	// as the PDF gives it; 0 means the font has no glyph for r.
	widths []uint16
	// Embedded fonts only: glyph[r] is rune r's glyph, and sfnt the font
	// read for subsetting.
	glyph []uint16
	sfnt  *sfnt
}

// fontSet is an immutable pair of faces shared by every render.
type fontSet struct {
	family        string // the set's name (for the core set, also the family gofpdf reads its widths under)
	core          bool   // a PDF core font in WinAnsiEncoding, not embedded
	regular, bold *face
	// ascent and descent are fractions of an em, the same for both faces;
	// text is centred vertically on them.
	ascent, descent float64
}

// printable reports whether both faces draw r.
func (fs *fontSet) printable(r rune) bool {
	return r >= 0 && r < 0x10000 && fs.regular.widths[r] != 0 && fs.bold.widths[r] != 0
}

// covers reports whether both faces draw every rune of s.
func (fs *fontSet) covers(s string) bool {
	for _, r := range s {
		if !fs.printable(r) {
			return false
		}
	}
	return true
}

func (fs *fontSet) face(bold bool) *face {
	if bold {
		return fs.bold
	}
	return fs.regular
}

// width returns the width of s in mm at size points, as a PDF reader
// lays it out. s must be cleaned.
func (fc *face) width(s string, size float64) float64 {
	var w int
	for _, r := range s {
		if r >= 0 && r < 0x10000 {
			w += int(fc.widths[r])
		}
	}
	return float64(float64(w) * size / 1000 * ptToMM) // float64: see line.h
}

var goFonts = sync.OnceValue(func() *fontSet {
	// Private copies: the subsetter keeps slices of them.
	fs := &fontSet{
		family:  "go",
		regular: &face{name: "GoRegular", ttf: bytes.Clone(goregular.TTF)},
		bold:    &face{name: "GoBold", ttf: bytes.Clone(gobold.TTF)},
	}
	for i, fc := range []*face{fs.regular, fs.bold} {
		m, err := parseTTF(fc.ttf)
		if err == nil {
			fc.sfnt, err = readSfnt(fc.ttf)
		}
		if err != nil {
			panic(fmt.Sprintf("labels: embedded Go font: %v", err)) // embedded bytes: cannot happen
		}
		fc.glyph = m.glyph
		if i == 0 {
			fs.ascent = float64(m.ascent) / float64(m.unitsPerEm)
			fs.descent = float64(-m.descent) / float64(m.unitsPerEm)
		}
		fc.widths = make([]uint16, 0x10000)
		for r := rune(0x20); r < 0x10000; r++ {
			g := m.glyph[r]
			if g == 0 {
				continue
			}
			adv := m.advance(g)
			if adv == 0 {
				continue // zero-width glyphs are treated as missing
			}
			// In thousandths of an em, rounded: what the /W array says.
			w := math.Round(1000 / float64(m.unitsPerEm) * float64(adv))
			fc.widths[r] = uint16(max(w, 1))
		}
	}
	return fs
})

var helvetica = sync.OnceValue(func() *fontSet {
	fs := &fontSet{
		family:  "Helvetica",
		core:    true,
		regular: &face{name: "Helvetica"},
		bold:    &face{name: "Helvetica-Bold"},
		// The union of the fonts' bounding boxes (Adobe's AFM FontBBox:
		// Helvetica -225 to 931, Helvetica-Bold -228 to 962 thousandths):
		// centred in a line 1.2 em high, every glyph, accents included,
		// stays inside its line. It puts the baseline where the Go fonts'
		// metrics put it, to a hundredth of an em.
		ascent:  0.962,
		descent: 0.228,
	}
	// The widths are the core fonts' standard metrics (Adobe's AFM files),
	// as gofpdf carries them, read once: what every reader lays the text
	// out with.
	pdf := gofpdf.New("P", "mm", "A4", "")
	for i, fc := range []*face{fs.regular, fs.bold} {
		pdf.SetFont(fs.family, []string{"", "B"}[i], 10)
		fc.widths = make([]uint16, 0x10000)
		for c := 0x20; c <= 0xff; c++ {
			if r := winAnsiRune(byte(c)); r != 0 {
				fc.widths[r] = uint16(pdf.GetStringSymbolWidth(string([]byte{byte(c)})))
			}
		}
	}
	if err := pdf.Error(); err != nil {
		panic(fmt.Sprintf("labels: core font metrics: %v", err)) // fonts built into gofpdf: cannot happen
	}
	return fs
})

// fontsFor returns the set that draws every span of blocks: Helvetica when
// it covers them all, else the Go fonts (which draw whatever clean left).
func fontsFor(blocks []block) *fontSet {
	core := helvetica()
	for _, b := range blocks {
		for _, sp := range b.spans {
			if !core.covers(sp.text) {
				return goFonts()
			}
		}
	}
	return core
}

// winAnsi80 holds the characters of WinAnsiEncoding (Windows-1252) at codes
// 0x80 to 0x9F, 0 where a code is unused. Codes 0x20 to 0x7E and 0xA0 to
// 0xFF are the Unicode characters of the same number.
var winAnsi80 = [32]rune{
	'€', 0, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0, 'Ž', 0,
	0, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0, 'ž', 'Ÿ',
}

// winAnsiRune returns the character of WinAnsi code c, or 0 for a control
// or unused code.
func winAnsiRune(c byte) rune {
	switch {
	case c >= 0x20 && c < 0x7f || c >= 0xa0:
		return rune(c)
	case c >= 0x80 && c < 0xa0:
		return winAnsi80[c-0x80]
	}
	return 0
}

// toWinAnsi encodes s, whose runes the core fonts draw, as WinAnsi bytes.
func toWinAnsi(s string) string {
	ascii := true
	for i := 0; ascii && i < len(s); i++ {
		ascii = s[i] < 0x80
	}
	if ascii {
		return s // the same bytes: no allocation
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r < 0x80 || r >= 0xa0 && r <= 0xff:
			b = append(b, byte(r))
		default:
			c := byte('?') // not reached for covered text
			for i, w := range winAnsi80 {
				if w == r && w != 0 {
					c = byte(0x80 + i)
					break
				}
			}
			b = append(b, c)
		}
	}
	return string(b)
}
