package labels

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/labelscan"
)

// TestRenderTextReadsBack extracts the text of every hostile label with
// pdftotext, which reads it through the fonts' encodings (WinAnsi, or the
// embedded fonts' ToUnicode maps): every line drawn must read back as it
// was drawn, so that a reader searches, copies and prints what the label
// says.
func TestRenderTextReadsBack(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext not found: install poppler-utils (make test does this)")
	}
	forEachHostile(t, func(t *testing.T, l Label) {
		var lines []string
		var buf bytes.Buffer
		if err := render(&buf, l, func(d drawn) {
			if d.kind == drawText {
				lines = append(lines, d.text)
			}
		}); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("pdftotext", "-raw", "-enc", "UTF-8", "-", "-")
		cmd.Stdin = &buf
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		text := strings.Join(strings.Fields(string(out)), " ")
		for _, ln := range lines {
			if want := strings.Join(strings.Fields(ln), " "); !strings.Contains(text, want) {
				t.Errorf("drawn %q, but the PDF's text does not have it:\n%s", want, text)
			}
		}
	})
}

// TestRenderPassesQpdfCheck has qpdf check every hostile label's structure:
// the cross-reference table, stream lengths, compressed streams. Readers
// that repair a damaged file (poppler, which the other tests rasterise
// with, silently rebuilds a wrong cross-reference table) would hide what
// a stricter reader or a printer's firmware may refuse.
func TestRenderPassesQpdfCheck(t *testing.T) {
	if _, err := exec.LookPath("qpdf"); err != nil {
		t.Fatal("qpdf not found: install qpdf (make test does this)")
	}
	forEachHostile(t, func(t *testing.T, l Label) {
		in := filepath.Join(t.TempDir(), "label.pdf")
		if err := os.WriteFile(in, renderBytes(t, l), 0o644); err != nil {
			t.Fatal(err)
		}
		// qpdf exits 2 on errors and 3 on warnings.
		if out, err := exec.Command("qpdf", "--check", in).CombinedOutput(); err != nil {
			t.Errorf("qpdf --check: %v\n%s", err, out)
		}
	})
}

// TestSubsetDrawsAsWholeFont rasterises every hostile label in embedded
// fonts twice, once with the glyphs it draws and once with the whole
// fonts, and wants the same pixels: the subset has every outline the
// label draws.
func TestSubsetDrawsAsWholeFont(t *testing.T) {
	n := 0
	for _, h := range hostileLabels() {
		page, err := draw(h.label, nil)
		if err != nil {
			t.Fatal(err)
		}
		if page.fs.core {
			continue
		}
		n++
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			var subset, whole bytes.Buffer
			info := pdfInfo{title: "t", created: h.label.IssuedAt}
			if err := page.write(&subset, info); err != nil {
				t.Fatal(err)
			}
			page.wholeFonts = true
			if err := page.write(&whole, info); err != nil {
				t.Fatal(err)
			}
			if subset.Len()*2 > whole.Len() {
				t.Errorf("subset %d bytes, whole fonts %d: less than half expected", subset.Len(), whole.Len())
			}
			if !bytes.Equal(labelscan.Raster(t, subset.Bytes(), 150), labelscan.Raster(t, whole.Bytes(), 150)) {
				t.Error("the label in its subset fonts draws other pixels than in the whole fonts")
			}
		})
	}
	if n == 0 {
		t.Fatal("no hostile label needs the embedded fonts")
	}
}

// TestSubsetKeepsNumberingAndOutlines checks a subset of the Go regular
// font as a TrueType reader would: the same glyph count and metrics, the
// outlines of the glyphs kept byte for byte, every other glyph empty, and
// valid checksums. (The Go fonts have no composite glyphs: see
// TestCompositeParts.)
func TestSubsetKeepsNumberingAndOutlines(t *testing.T) {
	fc := goFonts().regular
	f := fc.sfnt
	keep := make([]bool, f.numGlyphs)
	for _, r := range "Łódź" {
		keep[fc.glyph[r]] = true
	}
	asked := 4
	out := f.file(keep)
	z, n := f.deflated(slices.Clone(keep))
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	// ReadAll reads to the end, where the reader checks the stream's checksum.
	if unz, err := io.ReadAll(zr); err != nil || !bytes.Equal(unz, out) || n != len(out) {
		t.Fatalf("deflated subset: %d bytes, %v; want the %d of the file (said %d)", len(unz), err, len(out), n)
	}

	got, err := readSfnt(out)
	if err != nil {
		t.Fatalf("subset does not read back: %v", err)
	}
	if got.numGlyphs != f.numGlyphs || got.unitsPerEm != f.unitsPerEm {
		t.Fatalf("%d glyphs at %d units an em, want %d at %d", got.numGlyphs, got.unitsPerEm, f.numGlyphs, f.unitsPerEm)
	}
	m, err := parseTTF(out)
	if err != nil {
		t.Fatal(err)
	}
	for r := rune(0x20); r < 0x250; r++ {
		if g := fc.glyph[r]; m.glyph[r] != g || g != 0 && fc.widths[r] != 0 && m.advance(g) == 0 {
			t.Fatalf("%U: glyph %d advance %d in the subset, want glyph %d", r, m.glyph[r], m.advance(g), g)
		}
	}
	kept := 0
	for g := range f.numGlyphs {
		orig := f.glyf[f.loca[g]:f.loca[g+1]]
		sub := got.glyf[got.loca[g]:got.loca[g+1]]
		switch {
		case keep[g]:
			kept++
			if len(orig) > 0 && !bytes.Equal(orig, sub[:len(orig)]) {
				t.Errorf("glyph %d: outline changed", g)
			}
		case len(sub) != 0:
			t.Errorf("glyph %d not asked for, but kept (%d bytes)", g, len(sub))
		}
	}
	if kept != asked+1 {
		t.Errorf("%d glyphs kept, want .notdef and the %d asked", kept, asked)
	}
	if sum := sfntChecksum(out); sum != 0xB1B0AFBA {
		t.Errorf("whole-font checksum %#x, want 0xB1B0AFBA", sum)
	}
	for i := range int(binary.BigEndian.Uint16(out[4:])) {
		rec := out[12+16*i:]
		off, n := binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
		data := append([]byte(nil), out[off:off+(n+3)&^3]...)
		if string(rec[:4]) == "head" {
			binary.BigEndian.PutUint32(data[8:], 0)
		}
		if got, want := binary.BigEndian.Uint32(rec[4:]), sfntChecksum(data); got != want {
			t.Errorf("table %q checksum %#x, want %#x", rec[:4], got, want)
		}
	}
}

// TestCompositeParts reads the parts of composite glyphs (two components,
// with word arguments and a scale) and keeps them, and their parts, with
// the glyph; a truncated glyph or a part out of range is malformed.
func TestCompositeParts(t *testing.T) {
	glyph := []byte{
		0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, // numberOfContours -1, bounding box
		0x00, 0x21, 0, 5, 0, 1, 0, 2, // MORE_COMPONENTS|ARG_1_AND_2_ARE_WORDS, glyph 5, two words
		0x00, 0x08, 0, 7, 1, 2, 0x40, 0, // WE_HAVE_A_SCALE, glyph 7, two bytes, scale 1.0
	}
	parts, err := compositeOf(glyph, 10)
	if err != nil || len(parts) != 2 || parts[0] != 5 || parts[1] != 7 {
		t.Fatalf("parts %v, %v; want [5 7]", parts, err)
	}
	if _, err := compositeOf(glyph[:len(glyph)-6], 10); err == nil {
		t.Error("a composite glyph cut short read without error")
	}
	if _, err := compositeOf(glyph, 6); err == nil {
		t.Error("a part beyond the font's glyphs read without error")
	}
	if parts, err := compositeOf([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 10); parts != nil || err != nil {
		t.Errorf("simple glyph: parts %v, %v; want none", parts, err)
	}

	f := &sfnt{components: make([][]uint16, 10)}
	f.components[2] = []uint16{5, 7}
	f.components[7] = []uint16{9}
	keep := make([]bool, 10)
	keep[2] = true
	for g := range keep {
		f.keepParts(keep, g)
	}
	for g, want := range []bool{false, false, true, false, false, true, false, true, false, true} {
		if keep[g] != want {
			t.Errorf("glyph %d kept: %v, want %v", g, keep[g], want)
		}
	}
}
