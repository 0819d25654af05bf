package labels

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A minimal TrueType reader: just what deciding which runes the label fonts
// can draw and how wide they are needs (head, hhea, hmtx and the Unicode BMP
// cmap). golang.org/x/image/font/sfnt would do, but it pulls
// golang.org/x/text into the module graph for legacy Mac encodings.

type ttfMetrics struct {
	unitsPerEm      int
	ascent, descent int   // hhea, in font units; descent is negative
	advances        []int // per glyph index, for the first numberOfHMetrics glyphs
	glyph           []uint16
}

// advance returns glyph g's advance width in font units.
func (m *ttfMetrics) advance(g uint16) int {
	if len(m.advances) == 0 {
		return 0
	}
	if int(g) < len(m.advances) {
		return m.advances[g]
	}
	return m.advances[len(m.advances)-1] // monospaced tail shares the last advance
}

var errTTF = errors.New("malformed TrueType font")

// sfntTables returns the tables of the TrueType font b by tag, as
// sub-slices of b.
func sfntTables(b []byte) (map[string][]byte, error) {
	if len(b) < 12 {
		return nil, errTTF
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	tables := make(map[string][]byte, n)
	for i := range n {
		rec := 12 + 16*i
		if rec+16 > len(b) {
			return nil, errTTF
		}
		off, size := int(binary.BigEndian.Uint32(b[rec+8:])), int(binary.BigEndian.Uint32(b[rec+12:]))
		if off < 0 || size < 0 || off+size > len(b) {
			return nil, fmt.Errorf("table %q outside the file: %w", b[rec:rec+4], errTTF)
		}
		tables[string(b[rec:rec+4])] = b[off : off+size]
	}
	return tables, nil
}

func parseTTF(b []byte) (*ttfMetrics, error) {
	tables, err := sfntTables(b)
	if err != nil {
		return nil, err
	}
	for _, t := range []string{"head", "hhea", "hmtx", "cmap"} {
		if _, ok := tables[t]; !ok {
			return nil, fmt.Errorf("no %s table: %w", t, errTTF)
		}
	}
	// u16 reads the big-endian uint16 at off in table t.
	u16 := func(t []byte, off int) (int, error) {
		if off < 0 || off+2 > len(t) {
			return 0, errTTF
		}
		return int(binary.BigEndian.Uint16(t[off:])), nil
	}
	m := &ttfMetrics{glyph: make([]uint16, 0x10000)}
	if m.unitsPerEm, err = u16(tables["head"], 18); err != nil || m.unitsPerEm == 0 {
		return nil, errTTF
	}
	hhea := tables["hhea"]
	asc, _ := u16(hhea, 4)
	desc, _ := u16(hhea, 6)
	m.ascent, m.descent = int(int16(asc)), int(int16(desc))
	nh, err := u16(hhea, 34)
	if err != nil {
		return nil, err
	}
	m.advances = make([]int, nh)
	for g := range nh {
		if m.advances[g], err = u16(tables["hmtx"], 4*g); err != nil {
			return nil, err
		}
	}
	cmap := tables["cmap"]
	if err := m.readCmap(func(off int) (int, error) { return u16(cmap, off) }); err != nil {
		return nil, err
	}
	return m, nil
}

// readCmap fills m.glyph from the Windows Unicode BMP (3,1) or Unicode
// (0,x) subtable in format 4; u16 reads the cmap table.
func (m *ttfMetrics) readCmap(u16 func(int) (int, error)) error {
	const cmap = 0
	n, err := u16(cmap + 2)
	if err != nil {
		return err
	}
	sub := -1
	for i := 0; i < n; i++ {
		rec := cmap + 4 + 8*i
		platform, _ := u16(rec)
		encoding, _ := u16(rec + 2)
		hi, _ := u16(rec + 4)
		lo, err := u16(rec + 6)
		if err != nil {
			return err
		}
		format, _ := u16(cmap + (hi<<16 | lo))
		if format == 4 && (platform == 3 && encoding == 1 || platform == 0) {
			sub = cmap + (hi<<16 | lo)
			break
		}
	}
	if sub < 0 {
		return fmt.Errorf("no format 4 Unicode cmap: %w", errTTF)
	}
	segX2, err := u16(sub + 6)
	if err != nil {
		return err
	}
	ends := sub + 14
	starts := ends + segX2 + 2
	deltas := starts + segX2
	ranges := deltas + segX2
	for s := 0; s < segX2; s += 2 {
		end, _ := u16(ends + s)
		start, _ := u16(starts + s)
		delta, _ := u16(deltas + s)
		ro, err := u16(ranges + s)
		if err != nil {
			return err
		}
		for c := start; c <= end && c < 0xffff; c++ {
			g := 0
			if ro == 0 {
				g = (c + delta) & 0xffff
			} else {
				if g, err = u16(ranges + s + ro + 2*(c-start)); err != nil {
					return err
				}
				if g != 0 {
					g = (g + delta) & 0xffff
				}
			}
			m.glyph[c] = uint16(g)
		}
	}
	return nil
}
