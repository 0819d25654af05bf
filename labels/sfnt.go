package labels

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// sfnt is a TrueType font read once for embedding in labels: the tables an
// embedded CID font needs and every glyph's outline.
//
// A label embeds only the glyphs it draws, by emptying the others: the
// font keeps its glyph numbering (so text is written as glyph numbers with
// no per-document renumbering, and hmtx, the hinting programs and maxp are
// copied unchanged), and glyf and loca are rebuilt with the outlines of the
// glyphs drawn, the glyphs their composites are built from and .notdef.
// The Go fonts' 712 glyphs come down from about 130 KB of outlines to the
// few dozen a label draws.
type sfnt struct {
	numGlyphs  int
	unitsPerEm int
	head       []byte
	glyf       []byte
	loca       []uint32   // numGlyphs+1 offsets into glyf
	components [][]uint16 // the glyphs each composite glyph draws; nil for a simple glyph

	// fixed is the tables every subset copies as they are, each padded to
	// four bytes, in the order of records. It follows the table directory
	// (which has entries for them and for head, loca and glyf), so their
	// offsets from the file's start are the same in every subset.
	fixed       []byte
	records     []sfntRecord
	fixedSum    uint32
	fixedBlocks func() []byte // fixed as deflate blocks, not final

	// For the font descriptor, in thousandths of an em.
	bbox            [4]int
	ascent, descent int
	capHeight       int
	weight          int // OS/2 usWeightClass
}

// sfntRecord is a table's entry in the table directory.
type sfntRecord struct {
	tag            string
	checksum       uint32
	offset, length int
}

// sfntKept are the tables besides head, glyf and loca an embedded
// CIDFontType2 font keeps, in tag order: metrics, the hinting programs
// (the glyphs' instructions call them) and, for readers that look there,
// OS/2 and cmap. name, post and gasp are left out.
var sfntKept = []string{"OS/2", "cmap", "cvt ", "fpgm", "hhea", "hmtx", "maxp", "prep"}

// readSfnt reads b, a TrueType font with glyf outlines. The font keeps
// sub-slices of b: b must not change afterwards.
func readSfnt(b []byte) (*sfnt, error) {
	byTag, err := sfntTables(b)
	if err != nil {
		return nil, err
	}
	f := &sfnt{head: byTag["head"], glyf: byTag["glyf"]}
	maxp, loca, hhea := byTag["maxp"], byTag["loca"], byTag["hhea"]
	if len(f.head) < 54 || len(maxp) < 6 || len(hhea) < 36 || f.glyf == nil || loca == nil {
		return nil, fmt.Errorf("no head, maxp, hhea, glyf or loca table: %w", errTTF)
	}
	dirLen := 12 + 16*(len(sfntKept)+3)
	for _, tag := range sfntKept {
		t, ok := byTag[tag]
		if !ok {
			return nil, fmt.Errorf("no %s table: %w", tag, errTTF)
		}
		at := len(f.fixed)
		f.fixed = pad4(append(f.fixed, t...))
		sum := sfntChecksum(f.fixed[at:])
		f.records = append(f.records, sfntRecord{tag, sum, dirLen + at, len(t)})
		f.fixedSum += sum
	}
	f.fixedBlocks = sync.OnceValue(func() []byte { return appendDeflate(nil, f.fixed, false) })
	u16 := func(t []byte, off int) int { return int(binary.BigEndian.Uint16(t[off:])) }
	s16 := func(t []byte, off int) int { return int(int16(binary.BigEndian.Uint16(t[off:]))) }
	f.numGlyphs, f.unitsPerEm = u16(maxp, 4), u16(f.head, 18)
	if f.unitsPerEm == 0 {
		return nil, errTTF
	}
	long := s16(f.head, 50) == 1
	if long && len(loca) < 4*(f.numGlyphs+1) || !long && len(loca) < 2*(f.numGlyphs+1) {
		return nil, fmt.Errorf("loca too short: %w", errTTF)
	}
	f.loca = make([]uint32, f.numGlyphs+1)
	for g := range f.loca {
		if long {
			f.loca[g] = binary.BigEndian.Uint32(loca[4*g:])
		} else {
			f.loca[g] = 2 * uint32(binary.BigEndian.Uint16(loca[2*g:]))
		}
		if f.loca[g] > uint32(len(f.glyf)) || g > 0 && f.loca[g] < f.loca[g-1] {
			return nil, fmt.Errorf("glyph %d outside glyf: %w", g, errTTF)
		}
	}
	f.components = make([][]uint16, f.numGlyphs)
	for g := range f.numGlyphs {
		if f.components[g], err = compositeOf(f.glyf[f.loca[g]:f.loca[g+1]], f.numGlyphs); err != nil {
			return nil, fmt.Errorf("glyph %d: %w", g, err)
		}
	}

	em := func(v int) int { return v * 1000 / f.unitsPerEm }
	f.bbox = [4]int{em(s16(f.head, 36)), em(s16(f.head, 38)), em(s16(f.head, 40)), em(s16(f.head, 42))}
	f.ascent, f.descent = em(s16(hhea, 4)), em(s16(hhea, 6))
	f.capHeight, f.weight = f.ascent, 400
	if os2 := byTag["OS/2"]; len(os2) >= 6 {
		f.weight = u16(os2, 4)
		if u16(os2, 0) >= 2 && len(os2) >= 90 {
			f.capHeight = em(s16(os2, 88))
		}
	}
	return f, nil
}

// compositeOf returns the glyphs the composite glyph g (its glyf bytes)
// is built from, nil for a simple or empty glyph.
func compositeOf(g []byte, numGlyphs int) ([]uint16, error) {
	if len(g) < 10 || int16(binary.BigEndian.Uint16(g)) >= 0 {
		return nil, nil
	}
	const (
		argsAreWords   = 0x0001
		haveScale      = 0x0008
		moreComponents = 0x0020
		haveXYScale    = 0x0040
		haveTwoByTwo   = 0x0080
	)
	var parts []uint16
	for off := 10; ; {
		if off+4 > len(g) {
			return nil, errTTF
		}
		flags, part := binary.BigEndian.Uint16(g[off:]), binary.BigEndian.Uint16(g[off+2:])
		if int(part) >= numGlyphs {
			return nil, errTTF
		}
		parts = append(parts, part)
		off += 4 + 2
		if flags&argsAreWords != 0 {
			off += 2
		}
		switch {
		case flags&haveScale != 0:
			off += 2
		case flags&haveXYScale != 0:
			off += 4
		case flags&haveTwoByTwo != 0:
			off += 8
		}
		if flags&moreComponents == 0 {
			return parts, nil
		}
	}
}

// subset returns the font file with only the outlines of the glyphs keep
// marks (indexed by glyph), the glyphs they are composed of and .notdef;
// the others are empty. keep is extended with those components.
//
// The file is dir, then f.fixed, then tail: the table directory, the
// tables copied as they are (the same bytes in every subset, so that
// their compressed form is made once: see deflated), then head, loca and
// glyf.
func (f *sfnt) subset(keep []bool) (dir, tail []byte) {
	keep[0] = true
	for g := range keep {
		f.keepParts(keep, g)
	}
	loca := make([]byte, 4*(f.numGlyphs+1))
	glyfLen := 0
	for g := range f.numGlyphs {
		if keep[g] {
			glyfLen += int(f.loca[g+1]-f.loca[g]+3) &^ 3
		}
		binary.BigEndian.PutUint32(loca[4*(g+1):], uint32(glyfLen))
	}
	tail = make([]byte, 0, (len(f.head)+3)&^3+len(loca)+glyfLen)
	tail = append(tail, f.head...)
	binary.BigEndian.PutUint32(tail[8:], 0)  // checkSumAdjustment, set below
	binary.BigEndian.PutUint16(tail[50:], 1) // indexToLocFormat: long offsets
	tail = pad4(tail)
	headAt := 0
	locaAt := len(tail)
	tail = append(tail, loca...)
	glyfAt := len(tail)
	for g := range f.numGlyphs {
		if keep[g] {
			tail = pad4(append(tail, f.glyf[f.loca[g]:f.loca[g+1]]...))
		}
	}

	n := len(f.records) + 3
	dir = make([]byte, 12+16*n)
	pow := 1 << (bits.Len(uint(n)) - 1) // the largest power of two ≤ n
	binary.BigEndian.PutUint32(dir[0:], 0x00010000)
	binary.BigEndian.PutUint16(dir[4:], uint16(n))
	binary.BigEndian.PutUint16(dir[6:], uint16(16*pow))
	binary.BigEndian.PutUint16(dir[8:], uint16(bits.Len(uint(pow))-1))
	binary.BigEndian.PutUint16(dir[10:], uint16(16*(n-pow)))
	tailAt := len(dir) + len(f.fixed)
	records := make([]sfntRecord, 0, n)
	records = append(records, f.records...)
	records = append(records,
		sfntRecord{"head", sfntChecksum(tail[headAt:locaAt]), tailAt + headAt, len(f.head)},
		sfntRecord{"loca", sfntChecksum(tail[locaAt:glyfAt]), tailAt + locaAt, len(loca)},
		sfntRecord{"glyf", sfntChecksum(tail[glyfAt:]), tailAt + glyfAt, len(tail) - glyfAt})
	// The directory is in tag order; the tables need not be.
	slices.SortFunc(records, func(a, b sfntRecord) int { return strings.Compare(a.tag, b.tag) })
	for i, r := range records {
		rec := dir[12+16*i:]
		copy(rec, r.tag)
		binary.BigEndian.PutUint32(rec[4:], r.checksum)
		binary.BigEndian.PutUint32(rec[8:], uint32(r.offset))
		binary.BigEndian.PutUint32(rec[12:], uint32(r.length))
	}
	sum := sfntChecksum(dir) + f.fixedSum + sfntChecksum(tail)
	binary.BigEndian.PutUint32(tail[headAt+8:], 0xB1B0AFBA-sum)
	return dir, tail
}

// file returns the whole subset font file (see subset).
func (f *sfnt) file(keep []bool) []byte {
	dir, tail := f.subset(keep)
	return slices.Concat(dir, f.fixed, tail)
}

// deflated returns the subset font file (see subset) as a zlib stream, and
// the file's length: the directory as a stored block, the shared tables'
// blocks deflated once (f.fixedBlocks), then the rest.
func (f *sfnt) deflated(keep []bool) ([]byte, int) {
	dir, tail := f.subset(keep)
	fixed := f.fixedBlocks()
	out := make([]byte, 0, len(zlibHeader)+5+len(dir)+len(fixed)+len(tail)/2+64)
	out = append(out, zlibHeader...)
	out = appendStored(out, dir)
	out = append(out, fixed...)
	out = appendDeflate(out, tail, true)
	return appendAdler32(out, dir, f.fixed, tail), len(dir) + len(f.fixed) + len(tail)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// keepParts marks the glyphs composite glyph g draws, and theirs.
func (f *sfnt) keepParts(keep []bool, g int) {
	if !keep[g] {
		return
	}
	for _, p := range f.components[g] {
		if !keep[p] {
			keep[p] = true
			f.keepParts(keep, int(p))
		}
	}
}

// sfntChecksum is the sum of b's big-endian 32-bit words; len(b) is a
// multiple of four.
func sfntChecksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i+4 <= len(b); i += 4 {
		sum += binary.BigEndian.Uint32(b[i:])
	}
	return sum
}
