package labels

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"time"
	"unicode/utf16"
)

// A label is a one-page PDF written here: a content stream of filled
// rectangles, one dashed rectangle and lines of text, and the fonts of one
// font set (fonts.go). Nothing is parsed or built per document but what
// the page draws: the core fonts are named, and an embedded font is
// written as the subset of its glyphs the page uses (sfnt.go), compressed
// with compressors shared by every label (deflate.go).
//
// The same page gives the same bytes: objects are written in a fixed
// order, numbers with fixed precision, and the document is dated by the
// label, not the clock.

const ptPerMM = 72 / 25.4

// pdfPage is the page being drawn. Coordinates are taken in millimetres
// from the top-left corner and written in points from the bottom left.
type pdfPage struct {
	w, h float64 // mm
	fs   *fontSet
	c    []byte // the content stream

	font     *face   // the font and size selected in the content, nil for none yet
	size     float64 // points
	fillGray uint8
	faces    [2]faceUse // regular, bold

	// wholeFonts embeds every glyph, not only those drawn: tests compare
	// what a subset draws with what the whole font draws.
	wholeFonts bool
}

// faceUse is what the page drew with one face.
type faceUse struct {
	used bool
	// uni[g] is the character glyph g was drawn for, 0 for a glyph not
	// drawn; embedded fonts only. It is the subset and the ToUnicode map.
	uni []rune
}

func newPDFPage(size rect, fs *fontSet) *pdfPage {
	return &pdfPage{w: size.W, h: size.H, fs: fs, c: make([]byte, 0, 8192)}
}

func (p *pdfPage) num(v float64) {
	p.c = strconv.AppendFloat(p.c, v, 'f', 2, 64)
	p.c = append(p.c, ' ')
}

// rect appends the path of r.
func (p *pdfPage) rect(r rect) {
	p.num(r.X * ptPerMM)
	p.num((p.h - r.Y) * ptPerMM)
	p.num(r.W * ptPerMM)
	p.num(-r.H * ptPerMM)
	p.c = append(p.c, "re "...)
}

// setFill sets the colour of fills and text, 0 black to 255 white.
func (p *pdfPage) setFill(gray uint8) {
	if gray == p.fillGray {
		return
	}
	p.fillGray = gray
	p.c = strconv.AppendFloat(p.c, float64(gray)/255, 'f', 3, 64)
	p.c = append(p.c, " g\n"...)
}

// fillRect fills r in black.
func (p *pdfPage) fillRect(r rect) {
	p.setFill(0)
	p.rect(r)
	p.c = append(p.c, "f\n"...)
}

// strokeDashed draws r's outline, width mm wide in gray, dashed as
// dash (mm on, mm off).
func (p *pdfPage) strokeDashed(r rect, width float64, gray uint8, on, off float64) {
	p.c = append(p.c, "q "...)
	p.c = strconv.AppendFloat(p.c, float64(gray)/255, 'f', 3, 64)
	p.c = append(p.c, " G "...)
	p.num(width * ptPerMM)
	p.c = append(p.c, "w ["...)
	p.num(on * ptPerMM)
	p.num(off * ptPerMM)
	p.c = append(p.c, "] 0 d "...)
	p.rect(r)
	p.c = append(p.c, "S Q\n"...)
}

// text draws s (cleaned and covered by the page's font set) with its
// baseline starting at (x, y), in the bold or regular face at size points,
// in the current fill colour.
func (p *pdfPage) text(x, y float64, bold bool, size float64, s string) {
	fc, i := p.fs.regular, 0
	if bold {
		fc, i = p.fs.bold, 1
	}
	use := &p.faces[i]
	use.used = true
	p.c = append(p.c, "BT "...)
	if fc != p.font || size != p.size {
		p.font, p.size = fc, size
		p.c = append(p.c, "/F"...)
		p.c = strconv.AppendInt(p.c, int64(i+1), 10)
		p.c = append(p.c, ' ')
		p.num(size)
		p.c = append(p.c, "Tf "...)
	}
	p.num(x * ptPerMM)
	p.num((p.h - y) * ptPerMM)
	p.c = append(p.c, "Td "...)
	if p.fs.core {
		p.c = appendLiteral(p.c, toWinAnsi(s))
	} else {
		if use.uni == nil {
			use.uni = make([]rune, fc.sfnt.numGlyphs)
		}
		p.c = append(p.c, '<')
		for _, r := range s {
			g := fc.glyph[r]
			if use.uni[g] == 0 {
				use.uni[g] = r
			}
			p.c = appendHex4(p.c, g)
		}
		p.c = append(p.c, '>')
	}
	p.c = append(p.c, " Tj ET\n"...)
}

// appendHex4 appends v as four hexadecimal digits.
func appendHex4(b []byte, v uint16) []byte {
	const digits = "0123456789ABCDEF"
	return append(b, digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf])
}

// appendLiteral appends s as a PDF literal string.
func appendLiteral(b []byte, s string) []byte {
	b = append(b, '(')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', ')', '\\':
			b = append(b, '\\', c)
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return append(b, ')')
}

// raw appends content operators as they are.
func (p *pdfPage) raw(b []byte) {
	p.c = append(p.c, b...)
	p.c = append(p.c, '\n')
	p.font = nil // raw content may have changed the graphics state
}

// pdfInfo is the document's information dictionary.
type pdfInfo struct {
	title   string
	created time.Time
}

// pdfDoc is a document being written: objects are numbered in the order
// they are written, from 1.
type pdfDoc struct {
	b       bytes.Buffer
	offsets []int // of object n at offsets[n-1]
}

// begin starts the next object, which must be number n.
func (d *pdfDoc) begin(n int) {
	d.offsets = append(d.offsets, d.b.Len())
	if n != len(d.offsets) {
		panic(fmt.Sprintf("labels: PDF object %d written as %d", n, len(d.offsets))) // a bug in write
	}
	d.b.WriteString(strconv.Itoa(n))
	d.b.WriteString(" 0 obj\n")
}

// object writes dictionary object n.
func (d *pdfDoc) object(n int, dict string) {
	d.begin(n)
	d.b.WriteString(dict)
	d.b.WriteString("\nendobj\n")
}

// stream writes stream object n of data, deflated when deflate is set;
// extra entries are added to its dictionary.
func (d *pdfDoc) stream(n int, data []byte, deflate bool, extra string) {
	if deflate {
		data = compress(data)
		extra += " /Filter /FlateDecode"
	}
	d.rawStream(n, data, extra)
}

// rawStream writes stream object n of data as it is, with extra entries in
// its dictionary.
func (d *pdfDoc) rawStream(n int, data []byte, extra string) {
	d.begin(n)
	d.b.WriteString("<< /Length ")
	d.b.WriteString(strconv.Itoa(len(data)))
	d.b.WriteString(extra)
	d.b.WriteString(" >>\nstream\n")
	d.b.Write(data)
	d.b.WriteString("\nendstream\nendobj\n")
}

// write writes the page as a complete PDF document to w.
func (p *pdfPage) write(w io.Writer, info pdfInfo) error {
	// Objects: 1 catalog, 2 page tree, 3 page, 4 information, 5 content,
	// then each face the page uses: one object for a core font, five for
	// an embedded one.
	const contentObj = 5
	var fontObj [2]int
	next := contentObj + 1
	for i, u := range p.faces {
		if !u.used {
			continue
		}
		fontObj[i] = next
		if p.fs.core {
			next++
		} else {
			next += 5
		}
	}

	var d pdfDoc
	if p.fs.core {
		d.b.Grow(len(p.c) + 2048)
	} else {
		d.b.Grow(40 << 10) // two subset fonts and compressed content: 25-35 KB
	}
	d.b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	d.object(1, "<< /Type /Catalog /Pages 2 0 R >>")
	d.object(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	page := fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R /Resources << /Font <<",
		p.w*ptPerMM, p.h*ptPerMM, contentObj)
	for i, n := range fontObj {
		if n != 0 {
			page += fmt.Sprintf(" /F%d %d 0 R", i+1, n)
		}
	}
	d.object(3, page+" >> >> >>")
	date := "D:" + info.created.UTC().Format("20060102150405") + "Z"
	d.object(4, "<< /Title "+textString(info.title)+" /Creator (Roundtrip) /Producer (Roundtrip) /CreationDate ("+date+") /ModDate ("+date+") >>")
	// The content of a page in core fonts is a few kilobytes of text and
	// rectangles: left uncompressed, it costs nothing to write. With
	// embedded fonts every character is four hexadecimal digits: deflated.
	d.stream(contentObj, p.c, !p.fs.core, "")
	for i, n := range fontObj {
		if n == 0 {
			continue
		}
		fc := p.fs.face(i == 1)
		if p.fs.core {
			d.object(n, "<< /Type /Font /Subtype /Type1 /BaseFont /"+fc.name+" /Encoding /WinAnsiEncoding >>")
		} else {
			p.faces[i].writeEmbedded(&d, n, fc, p.wholeFonts)
		}
	}

	xref := d.b.Len()
	d.b.WriteString("xref\n0 ")
	d.b.WriteString(strconv.Itoa(len(d.offsets) + 1))
	d.b.WriteString("\n0000000000 65535 f \n")
	for _, off := range d.offsets {
		fmt.Fprintf(&d.b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&d.b, "trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(d.offsets)+1, xref)
	_, err := w.Write(d.b.Bytes())
	return err
}

// writeEmbedded writes the five objects of face fc embedded with the
// glyphs u drew, from number n: the Type 0 font the page names, its
// CIDFontType2 font (glyph numbers as CIDs), the font descriptor, the font
// file and the map from glyphs back to text, which is what lets a reader
// search and copy the label's text.
func (u *faceUse) writeEmbedded(d *pdfDoc, n int, fc *face, whole bool) {
	f := fc.sfnt
	keep := make([]bool, f.numGlyphs)
	for g, r := range u.uni {
		keep[g] = r != 0 || whole
	}
	file, length := f.deflated(keep)
	name := subsetTag(keep) + "+" + fc.name

	d.object(n, fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>",
		name, n+1, n+4))

	// Widths of the glyphs drawn, as text was measured (face.widths),
	// in runs of consecutive glyphs.
	var w bytes.Buffer
	w.WriteString("[")
	for g := 0; g < len(u.uni); {
		if u.uni[g] == 0 {
			g++
			continue
		}
		fmt.Fprintf(&w, " %d [", g)
		for ; g < len(u.uni) && u.uni[g] != 0; g++ {
			fmt.Fprintf(&w, " %d", fc.widths[u.uni[g]])
		}
		w.WriteString(" ]")
	}
	w.WriteString(" ]")
	d.object(n+1, fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /CIDToGIDMap /Identity /DW 0 /W %s >>",
		name, n+2, w.String()))

	stemV := 50 + f.weight*f.weight/65/65 // the usual estimate from the weight class: 87 for Go regular (400), 135 for Go bold (600)
	d.object(n+2, fmt.Sprintf("<< /Type /FontDescriptor /FontName /%s /Flags 4 /FontBBox [%d %d %d %d] /ItalicAngle 0 /Ascent %d /Descent %d /CapHeight %d /StemV %d /FontFile2 %d 0 R >>",
		name, f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3], f.ascent, f.descent, f.capHeight, stemV, n+3))
	d.rawStream(n+3, file, " /Filter /FlateDecode /Length1 "+strconv.Itoa(length))
	d.stream(n+4, toUnicode(u.uni), true, "")
}

// subsetTag names a subset as PDF asks: six capital letters, here from a
// hash of the glyphs kept, so that the same glyphs give the same name.
func subsetTag(keep []bool) string {
	h := fnv.New64a()
	var b [2]byte
	for g, k := range keep {
		if k {
			binary.BigEndian.PutUint16(b[:], uint16(g))
			h.Write(b[:])
		}
	}
	v := h.Sum64()
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + byte(v%26)
		v /= 26
	}
	return string(tag)
}

// toUnicode returns the CMap from the glyphs drawn back to their
// characters (all in the Basic Multilingual Plane).
func toUnicode(uni []rune) []byte {
	var b bytes.Buffer
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	var drawn []uint16
	for g, r := range uni {
		if r != 0 {
			drawn = append(drawn, uint16(g))
		}
	}
	for len(drawn) > 0 { // at most 100 entries a block
		k := min(len(drawn), 100)
		b.WriteString(strconv.Itoa(k))
		b.WriteString(" beginbfchar\n")
		for _, g := range drawn[:k] {
			b.Write(appendHex4([]byte{'<'}, g))
			b.WriteString("> <")
			b.Write(appendHex4(nil, uint16(uni[g])))
			b.WriteString(">\n")
		}
		b.WriteString("endbfchar\n")
		drawn = drawn[k:]
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return b.Bytes()
}

// textString encodes s as a PDF text string: UTF-16BE with a byte-order
// mark, in hexadecimal.
func textString(s string) string {
	b := []byte("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		b = appendHex4(b, u)
	}
	return string(append(b, '>'))
}
