package labels

import (
	"math/bits"
	"sync"
)

// A QR encoder for what a label carries: a status URL in byte mode at error
// correction level M, versions 1 to 10 (up to 213 bytes). It writes the
// same symbol as boombuler/barcode's encoder (same version, same mask; the
// tests compare every module), several times faster: the mask is chosen on
// byte grids with rolling windows instead of bit lists read one module at a
// time, which was most of a label's CPU. Anything else (numeric or
// alphanumeric content, longer URLs) goes to boombuler/barcode.

// qrVersion is the block structure of one version at level M.
type qrVersion struct {
	ecPerBlock int   // error correction codewords per block
	blocks     []int // data codewords of each block
	align      []int // alignment pattern centres (rows and columns)
	dataBytes  int   // sum of blocks
}

// qrVersionsM are versions 1 to 10 at level M (ISO/IEC 18004 tables 9 and E.1).
var qrVersionsM = func() []qrVersion {
	vs := []qrVersion{
		{ecPerBlock: 10, blocks: rep(1, 16)},
		{ecPerBlock: 16, blocks: rep(1, 28), align: []int{6, 18}},
		{ecPerBlock: 26, blocks: rep(1, 44), align: []int{6, 22}},
		{ecPerBlock: 18, blocks: rep(2, 32), align: []int{6, 26}},
		{ecPerBlock: 24, blocks: rep(2, 43), align: []int{6, 30}},
		{ecPerBlock: 16, blocks: rep(4, 27), align: []int{6, 34}},
		{ecPerBlock: 18, blocks: rep(4, 31), align: []int{6, 22, 38}},
		{ecPerBlock: 22, blocks: append(rep(2, 38), rep(2, 39)...), align: []int{6, 24, 42}},
		{ecPerBlock: 22, blocks: append(rep(3, 36), rep(2, 37)...), align: []int{6, 26, 46}},
		{ecPerBlock: 26, blocks: append(rep(4, 43), rep(1, 44)...), align: []int{6, 28, 50}},
	}
	for i := range vs {
		for _, b := range vs[i].blocks {
			vs[i].dataBytes += b
		}
	}
	return vs
}()

func rep(n, v int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// qrAlphanumeric are the characters of QR's alphanumeric mode.
const qrAlphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// fastQR encodes s as boombuler/barcode's qr.Encode(s, qr.M, qr.Auto) does
// and reports whether it could: s must need byte mode (a byte outside the
// alphanumeric set, as any URL with a lower-case letter has) and fit
// version 10.
func fastQR(s string) (*matrix, bool) {
	byteMode := false
	for i := 0; i < len(s); i++ {
		if !containsByte(qrAlphanumeric, s[i]) {
			byteMode = true
			break
		}
	}
	if !byteMode {
		return nil, false
	}
	version := 0
	for v := 1; v <= len(qrVersionsM); v++ {
		count := 8
		if v >= 10 {
			count = 16
		}
		if qrVersionsM[v-1].dataBytes*8 >= 4+count+8*len(s) {
			version = v
			break
		}
	}
	if version == 0 {
		return nil, false
	}
	vi := &qrVersionsM[version-1]
	data := qrData(s, version, vi)
	codewords := qrInterleave(data, vi)
	return qrSymbol(s, version, vi, codewords), true
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// qrData is the data codewords: mode, count, the bytes, terminator, padding.
func qrData(s string, version int, vi *qrVersion) []byte {
	var w bitWriter
	w.buf = make([]byte, 0, vi.dataBytes)
	w.add(0b0100, 4)
	if version >= 10 {
		w.add(len(s), 16)
	} else {
		w.add(len(s), 8)
	}
	for i := 0; i < len(s); i++ {
		w.add(int(s[i]), 8)
	}
	capacity := vi.dataBytes * 8
	for i := 0; i < 4 && w.n < capacity; i++ {
		w.add(0, 1)
	}
	for w.n%8 != 0 {
		w.add(0, 1)
	}
	for i := 0; w.n < capacity; i++ {
		if i%2 == 0 {
			w.add(0xEC, 8)
		} else {
			w.add(0x11, 8)
		}
	}
	return w.buf
}

type bitWriter struct {
	buf []byte
	n   int // bits written
}

func (w *bitWriter) add(v, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>i&1 == 1 {
			w.buf[w.n/8] |= 0x80 >> (w.n % 8)
		}
		w.n++
	}
}

// qrInterleave splits data into the version's blocks, adds each block's
// Reed-Solomon codewords and interleaves them.
func qrInterleave(data []byte, vi *qrVersion) []byte {
	gen := rsGenerator(vi.ecPerBlock)
	blocks := make([][]byte, len(vi.blocks))
	ecs := make([][]byte, len(vi.blocks))
	off := 0
	for i, n := range vi.blocks {
		blocks[i] = data[off : off+n]
		ecs[i] = rsRemainder(blocks[i], gen)
		off += n
	}
	out := make([]byte, 0, vi.dataBytes+len(vi.blocks)*vi.ecPerBlock)
	for i := 0; i < vi.blocks[len(vi.blocks)-1]; i++ {
		for _, b := range blocks {
			if i < len(b) {
				out = append(out, b[i])
			}
		}
	}
	for i := 0; i < vi.ecPerBlock; i++ {
		for _, e := range ecs {
			out = append(out, e[i])
		}
	}
	return out
}

// GF(256) with the polynomial x^8+x^4+x^3+x^2+1 (0x11D).
var gfExp, gfLog = func() (exp [512]byte, log [256]byte) {
	x := 1
	for i := 0; i < 255; i++ {
		exp[i] = byte(x)
		log[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11D
		}
	}
	for i := 255; i < 512; i++ {
		exp[i] = exp[i-255]
	}
	return exp, log
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// rsGenerator is the product of (x - α^i) for i < n, highest power first
// without its leading 1.
func rsGenerator(n int) []byte {
	g := []byte{1}
	for i := 0; i < n; i++ {
		next := make([]byte, len(g)+1)
		for j, c := range g {
			next[j] ^= c
			next[j+1] ^= gfMul(c, gfExp[i])
		}
		g = next
	}
	return g[1:]
}

// rsRemainder is data·x^n mod the generator: the block's error correction.
func rsRemainder(data, gen []byte) []byte {
	rem := make([]byte, len(gen))
	for _, d := range data {
		f := d ^ rem[0]
		copy(rem, rem[1:])
		rem[len(rem)-1] = 0
		if f != 0 {
			for i, g := range gen {
				rem[i] ^= gfMul(g, f)
			}
		}
	}
	return rem
}

// qrSymbol places the function patterns and the codewords, and keeps the
// mask with the lowest penalty (the first of equals).
func qrSymbol(content string, version int, vi *qrVersion, codewords []byte) *matrix {
	n := 17 + 4*version
	base := make([]byte, n*n) // 1: dark
	fn := make([]bool, n*n)   // function module (not data)
	set := func(x, y int, dark bool) {
		fn[y*n+x] = true
		if dark {
			base[y*n+x] = 1
		} else {
			base[y*n+x] = 0
		}
	}
	finder := func(cx, cy int) { // centre of the 7x7 pattern, with its separator
		for dy := -4; dy <= 4; dy++ {
			for dx := -4; dx <= 4; dx++ {
				x, y := cx+dx, cy+dy
				if x < 0 || y < 0 || x >= n || y >= n {
					continue
				}
				d := max(abs(dx), abs(dy))
				set(x, y, d != 2 && d != 4)
			}
		}
	}
	finder(3, 3)
	finder(n-4, 3)
	finder(3, n-4)
	for _, cy := range vi.align {
		for _, cx := range vi.align {
			if (cx == 6 && cy == 6) || (cx == 6 && cy == n-7) || (cx == n-7 && cy == 6) {
				continue
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					set(cx+dx, cy+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	for i := 0; i < n; i++ {
		if !fn[6*n+i] {
			set(i, 6, i%2 == 0)
		}
		if !fn[i*n+6] {
			set(6, i, i%2 == 0)
		}
	}
	set(8, n-8, true) // the dark module
	if version >= 7 {
		rem := version
		for range 12 {
			rem = rem<<1 ^ (rem>>11)*0x1F25
		}
		bits := version<<12 | rem
		for i := 0; i < 18; i++ {
			dark := bits>>i&1 == 1
			a, b := n-11+i%3, i/3
			set(a, b, dark)
			set(b, a, dark)
		}
	}
	// reserve the format areas (written per mask below)
	qrFormat(n, 0, set)

	// data, in the zigzag order, two columns at a time from the right
	bit, total := 0, len(codewords)*8
	for right := n - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for vert := 0; vert < n; vert++ {
			for j := 0; j < 2; j++ {
				x := right - j
				y := vert
				if (right+1)&2 == 0 {
					y = n - 1 - vert
				}
				if fn[y*n+x] {
					continue
				}
				if bit < total && codewords[bit>>3]>>(7-bit&7)&1 == 1 {
					base[y*n+x] = 1
				}
				bit++
			}
		}
	}

	// each mask on rows of bits (bit x of row y is module (x, y); n is at most
	// 57), scored with word operations instead of module by module
	baseRows, fnRows := make([]uint64, n), make([]uint64, n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if base[y*n+x] == 1 {
				baseRows[y] |= 1 << x
			}
			if fn[y*n+x] {
				fnRows[y] |= 1 << x
			}
		}
	}
	masks := qrMaskRows()[version-1]
	rows, cols, bestRows := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	bestPenalty := -1
	for mask := 0; mask < 8; mask++ {
		for y := 0; y < n; y++ {
			rows[y] = baseRows[y] ^ (masks[mask][y] &^ fnRows[y])
		}
		qrFormat(n, mask, func(x, y int, dark bool) {
			if dark {
				rows[y] |= 1 << x
			} else {
				rows[y] &^= 1 << x
			}
		})
		if p := qrPenaltyRows(rows, cols, n); bestPenalty < 0 || p < bestPenalty {
			bestPenalty = p
			copy(bestRows, rows)
		}
	}
	m := &matrix{content: content, w: n, h: n, dark: make([]bool, n*n), quiet: qrQuiet}
	for y, r := range bestRows {
		for x := 0; x < n; x++ {
			m.dark[y*n+x] = r>>x&1 == 1
		}
	}
	return m
}

// qrMaskRows are the eight mask patterns of each version, as rows of bits: bit
// x of row y is set where the mask inverts module (x, y). Built on first use.
var qrMaskRows = sync.OnceValue(func() [][8][]uint64 {
	table := make([][8][]uint64, len(qrVersionsM))
	for v := range table {
		n := 17 + 4*(v+1)
		for mask := range 8 {
			rows := make([]uint64, n)
			for y := 0; y < n; y++ {
				for x := 0; x < n; x++ {
					if qrMasked(mask, x, y) {
						rows[y] |= 1 << x
					}
				}
			}
			table[v][mask] = rows
		}
	}
	return table
})

// qrPenaltyRows scores a masked symbol of n modules a side, given as rows of bits
// (cols is scratch for its columns), as boombuler/barcode does (ISO/IEC 18004
// 8.8.2): runs of five or more, 2x2 blocks, finder-like 1:1:3:1:1 patterns with
// four light modules on one side, and the share of dark modules.
func qrPenaltyRows(rows, cols []uint64, n int) int {
	clear(cols[:n])
	dark := 0
	for y := 0; y < n; y++ {
		r := rows[y]
		dark += bits.OnesCount64(r)
		for r != 0 {
			cols[bits.TrailingZeros64(r)] |= 1 << y
			r &= r - 1
		}
	}
	p := 0
	for i := 0; i < n; i++ {
		// rule 1, rows and columns
		p += qrRunPenalty(rows[i], n) + qrRunPenalty(cols[i], n)
		// rule 3
		p += 40 * (qrFinderLike(rows[i], n) + qrFinderLike(cols[i], n))
	}
	// rule 2: a block at x where a[x] = a[x+1] and b matches a at x and x+1
	inner := uint64(1)<<(n-1) - 1
	for y := 0; y < n-1; y++ {
		a, b := rows[y], rows[y+1]
		same := ^(a ^ b)
		p += 3 * bits.OnesCount64(same&(same>>1)&^(a^(a>>1))&inner)
	}
	return p + qrBalancePenalty(dark, n*n)
}

// qrBalancePenalty is rule 4: ten points for every 5 % the share of dark modules
// is off 50 %, rounded toward 50 %.
func qrBalancePenalty(dark, total int) int {
	// |floor(pct/5) - 10| and |ceil(pct/5) - 10| with pct = 100·dark/total,
	// in integers: 20·dark/total is pct/5
	lo := 20 * dark / total
	hi := lo
	if lo*total != 20*dark {
		hi = lo + 1
	}
	return 10 * min(abs(lo-10), abs(hi-10))
}

// qrRunPenalty is rule 1 for one line of n modules: each run of five or more
// modules of one colour scores its length less two.
func qrRunPenalty(line uint64, n int) int {
	// bit i of ends: module i differs from module i+1 (a run ends at i)
	ends := (line ^ line>>1) & (uint64(1)<<(n-1) - 1)
	p, start := 0, 0
	for ends != 0 {
		i := bits.TrailingZeros64(ends)
		if run := i - start + 1; run >= 5 {
			p += run - 2
		}
		start = i + 1
		ends &= ends - 1
	}
	if run := n - start; run >= 5 {
		p += run - 2
	}
	return p
}

// qrFinderLike is rule 3's count for one line: windows of eleven modules
// reading 10111010000 or 00001011101.
func qrFinderLike(line uint64, n int) int {
	const pat1, pat2 = "10111010000", "00001011101"
	m1, m2 := ^uint64(0), ^uint64(0)
	for k := 0; k < 11; k++ {
		// bit x of line>>k is module x+k: a window starting at x
		at := line >> k
		if pat1[k] == '1' {
			m1 &= at
		} else {
			m1 &^= at
		}
		if pat2[k] == '1' {
			m2 &= at
		} else {
			m2 &^= at
		}
	}
	starts := uint64(1)<<(n-10) - 1
	return bits.OnesCount64(m1&starts) + bits.OnesCount64(m2&starts)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func qrMasked(mask, x, y int) bool {
	switch mask {
	case 0:
		return (x+y)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (x+y)%3 == 0
	case 4:
		return (y/2+x/3)%2 == 0
	case 5:
		return (x*y)%2+(x*y)%3 == 0
	case 6:
		return ((x*y)%2+(x*y)%3)%2 == 0
	}
	return ((x+y)%2+(x*y)%3)%2 == 0
}

// qrFormat writes the format information (level M, mask) in both places.
func qrFormat(n, mask int, set func(x, y int, dark bool)) {
	data := 0b00<<3 | mask // level M
	rem := data
	for range 10 {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	bits := (data<<10 | rem) ^ 0x5412
	bit := func(i int) bool { return bits>>i&1 == 1 }
	for i := 0; i <= 5; i++ {
		set(8, i, bit(i))
	}
	set(8, 7, bit(6))
	set(8, 8, bit(7))
	set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		set(14-i, 8, bit(i))
	}
	for i := 0; i < 8; i++ {
		set(n-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		set(8, n-15+i, bit(i))
	}
	set(8, n-8, true)
}
