package labels

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text is measured and fitted here, with the metrics of the font set it will
// be drawn in (fonts.go); free text is cleaned with clean first, so that
// a label never holds a rune its font has no glyph for.

const (
	ptToMM     = 25.4 / 72
	lineFactor = 1.2 // line height as a multiple of the font size

	// maxTextRunes caps a cleaned text field: no box holds more, and it keeps
	// layout work bounded whatever the input.
	maxTextRunes = 300
	ellipsis     = "…"
)

// clean makes free text printable with the Go fonts (which draw more than
// the core fonts; see fonts.go), predictably:
//   - control characters (C0, C1, including tab and newline) and every kind
//     of Unicode space or line separator become a space; runs of spaces
//     collapse to one and the ends are trimmed;
//   - format characters (bidi embeddings and overrides such as U+202E,
//     zero-width joiners, soft hyphens) are removed;
//   - combining marks the fonts lack are removed (they belong to the
//     previous character);
//   - any other character the fonts lack (CJK, emoji, Hebrew, Arabic, …) and
//     invalid UTF-8 become '?';
//   - text longer than maxTextRunes is cut there and ends in '…'.
//
// Nothing is transliterated.
func clean(s string) string {
	fs := goFonts()
	simple := len(s) <= maxTextRunes
	for i := 0; simple && i < len(s); i++ {
		c := s[i]
		simple = c > 0x20 && c < 0x7f || c == ' ' && i > 0 && i < len(s)-1 && s[i-1] != ' '
	}
	if simple {
		return s // printable ASCII without space runs: the common case, no allocation
	}
	var b strings.Builder
	b.Grow(min(len(s), 4*maxTextRunes))
	n := 0
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError:
			r = '?'
		case unicode.IsControl(r) || unicode.IsSpace(r):
			space = true
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		case !fs.printable(r):
			if unicode.In(r, unicode.Mn, unicode.Me) {
				continue
			}
			r = '?'
		}
		if n >= maxTextRunes {
			b.WriteString(ellipsis)
			break
		}
		if space && n > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// span is one field of a text block: its text and the largest and smallest
// sizes it may be drawn at.
type span struct {
	text     string
	bold     bool
	size     float64 // preferred size in points
	min      float64 // smallest size in points
	maxLines int     // lines it may wrap to at its smallest size (0 means 1)
	gap      float64 // space above it in mm (ignored for the first span)
	// wrapFirst wraps (up to maxLines) before shrinking, for running text
	// such as instructions; names and addresses shrink first.
	wrapFirst bool
}

// line is one line of text placed in a box, in mm; y is the top of the line
// box, whose height is lineFactor times the size.
type line struct {
	text    string
	bold    bool
	size    float64
	x, y, w float64
}

// h is the line's height. Here and wherever a product is added to
// something, float64(…) forbids a fused multiply-add (Go allows fusing, and
// does on arm64), so that layout decisions and coordinates, and therefore
// the PDF bytes, are the same on every platform.
func (l line) h() float64 { return float64(l.size * lineFactor * ptToMM) }

type align int

const (
	alignLeft align = iota
	alignCenter
	alignRight
)

// fitBlock places spans top to bottom in box, one after the other, never
// outside it, measuring them with fs. Each span is drawn at the largest size
// (in half points, between its size and its min) at which it fits the width
// on one line; a span that does not fit at its min wraps at spaces (or
// anywhere, for a long word) into at most maxLines lines, the last cut with
// '…'. When the lines are taller than the box, all sizes step down together,
// then wrapped spans lose lines, then trailing spans are left out. Empty
// spans take no room.
func fitBlock(fs *fontSet, box rect, spans []span, al align, middle bool) []line {
	type state struct {
		sp    span
		size  float64
		lines []string
	}
	st := make([]state, 0, len(spans))
	for _, sp := range spans {
		if sp.text == "" {
			continue
		}
		if sp.maxLines < 1 {
			sp.maxLines = 1
		}
		sp.min = min(sp.min, sp.size)
		st = append(st, state{sp: sp})
	}
	// place sets each span's size (at most ceiling) and lines.
	place := func(i int, ceiling float64, maxLines int) {
		s := &st[i]
		fc := fs.face(s.sp.bold)
		size := min(s.sp.size, max(ceiling, s.sp.min))
		for ; size > s.sp.min; size -= 0.5 {
			if fc.width(s.sp.text, size) <= box.W {
				s.size, s.lines = size, []string{s.sp.text}
				return
			}
			if s.sp.wrapFirst {
				if lines, cut := wrap(fc, s.sp.text, size, box.W, maxLines); !cut {
					s.size, s.lines = size, lines
					return
				}
			}
		}
		s.size = s.sp.min
		s.lines, _ = wrap(fc, s.sp.text, s.size, box.W, maxLines)
	}
	height := func() float64 {
		h := 0.0
		for i, s := range st {
			if i > 0 {
				h += s.sp.gap
			}
			h += float64(float64(len(s.lines)) * s.size * lineFactor * ptToMM)
		}
		return h
	}
	const step = 0.5
	ceiling, floor := 0.0, math.Inf(1) // from the largest size to the smallest min
	for _, s := range st {
		ceiling = max(ceiling, s.sp.size)
		floor = min(floor, s.sp.min)
	}
	limits := make([]int, len(st))
	for i := range st {
		limits[i] = st[i].sp.maxLines
		place(i, ceiling, limits[i])
	}
	// Step every span down together until the block is short enough.
	for height() > box.H && ceiling > floor {
		ceiling -= step
		for i := range st {
			place(i, ceiling, limits[i])
		}
	}
	// Then take lines away from the span with the most lines (the later
	// one on a tie: names and streets come before countries).
	for height() > box.H {
		most := -1
		for i := range st {
			if len(st[i].lines) > 1 && (most < 0 || len(st[i].lines) >= len(st[most].lines)) {
				most = i
			}
		}
		if most < 0 {
			break
		}
		limits[most] = len(st[most].lines) - 1
		place(most, ceiling, limits[most])
	}
	// Finally leave out trailing spans.
	for height() > box.H && len(st) > 0 {
		st = st[:len(st)-1]
	}

	var out []line
	y := box.Y
	if middle {
		y += (box.H - height()) / 2
	}
	for i, s := range st {
		if i > 0 {
			y += s.sp.gap
		}
		fc := fs.face(s.sp.bold)
		for _, t := range s.lines {
			l := line{text: t, bold: s.sp.bold, size: s.size, x: box.X, y: y, w: fc.width(t, s.size)}
			switch al {
			case alignCenter:
				l.x = box.X + (box.W-l.w)/2
			case alignRight:
				l.x = box.right() - l.w
			}
			out = append(out, l)
			y += l.h()
		}
	}
	return out
}

// wrap breaks s into at most maxLines lines no wider than w mm at size
// points: at spaces where it can, inside a word when a word alone is too
// wide. When s does not fit, the last line ends in '…' and cut is true; in a
// box too narrow for a single character, text is left out rather than
// overflowing.
func wrap(fc *face, s string, size, w float64, maxLines int) (lines []string, cut bool) {
	rest := s
	for len(lines) < maxLines-1 && fc.width(rest, size) > w {
		n := fitPrefix(fc, rest, size, w)
		if n == 0 {
			return lines, true
		}
		if n < len(rest) && rest[n] != ' ' { // inside a word: break at the last space if any
			if sp := strings.LastIndexByte(rest[:n], ' '); sp > 0 {
				n = sp
			}
		}
		lines = append(lines, strings.TrimRight(rest[:n], " "))
		rest = strings.TrimLeft(rest[n:], " ")
	}
	if rest == "" {
		return lines, false
	}
	if fc.width(rest, size) <= w {
		return append(lines, rest), false
	}
	ew := fc.width(ellipsis, size)
	if ew > w {
		return lines, true
	}
	n := fitPrefix(fc, rest, size, w-ew)
	return append(lines, strings.TrimRight(rest[:n], " ")+ellipsis), true
}

// fitPrefix returns the byte length of the longest prefix of s no wider
// than w.
func fitPrefix(fc *face, s string, size, w float64) int {
	units := 0
	for i, r := range s {
		if r >= 0 && r < 0x10000 {
			units += int(fc.widths[r])
		}
		if float64(units)*size/1000*ptToMM > w {
			return i
		}
	}
	return len(s)
}
