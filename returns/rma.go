package returns

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// RMA numbers look like R-4K7M-9XQ2: the letter R, then eight symbols of
// Crockford's base 32 (digits and capital letters without I, L, O and U, so
// nothing reads as another symbol over the phone), in two groups of four. The
// first seven symbols are random; the eighth is a check symbol.
//
// The check: read the eight symbols as elements v0…v7 of the field GF(32)
// (polynomial x⁵+x²+1, α = 2 a generator of its 31 non-zero elements) and
// require v0·α⁰ + v1·α¹ + … + v7·α⁷ = 0. Every single-symbol substitution
// changes the sum by e·αⁱ with e ≠ 0, which is never zero; every transposition
// of two different symbols a, b at positions i and j (adjacent or not) changes
// it by (a−b)(αⁱ−αʲ), never zero either because αⁱ ≠ αʲ for i ≠ j < 31. An
// integer weighted sum modulo 32 cannot catch both kinds of error, and
// Crockford's own mod-37 check needs five extra symbols (*~$=U) that are bad to
// read aloud; this check stays within the 32 symbols.

const (
	rmaPrefix   = "R"
	rmaAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	rmaRandom   = 7 // random symbols
	rmaSymbols  = rmaRandom + 1
	rmaPoly     = 0x25 // x⁵+x²+1
)

// rmaWeights[i] is αⁱ in GF(32); rmaCheckInv is α⁻⁷ = α²⁴.
var rmaWeights, rmaCheckInv = func() ([rmaSymbols]byte, byte) {
	var w [rmaSymbols]byte
	a := byte(1)
	for i := range w {
		w[i] = a
		a = gf32Mul(a, 2)
	}
	inv := byte(1)
	for range 31 - (rmaSymbols - 1) {
		inv = gf32Mul(inv, 2)
	}
	return w, inv
}()

// gf32Mul multiplies a and b in GF(32) modulo x⁵+x²+1.
func gf32Mul(a, b byte) byte {
	var p byte
	for ; b != 0; b >>= 1 {
		if b&1 != 0 {
			p ^= a
		}
		a <<= 1
		if a&0x20 != 0 {
			a ^= rmaPoly
		}
	}
	return p
}

// rmaSum returns Σ vᵢ·αⁱ over the given symbol values.
func rmaSum(v []byte) byte {
	var s byte
	for i, x := range v {
		s ^= gf32Mul(x, rmaWeights[i])
	}
	return s
}

// NewRMA returns a new RMA number in canonical form (R-XXXX-XXXX), drawing its
// seven random symbols from r. Callers pass crypto/rand.Reader; tests may pass
// fixed bytes. There are 32⁷ (about 3.4·10¹⁰) numbers, so the store still
// needs a unique constraint and a retry on the rare collision.
func NewRMA(r io.Reader) (string, error) {
	var v [rmaSymbols]byte
	if _, err := io.ReadFull(r, v[:rmaRandom]); err != nil {
		return "", fmt.Errorf("returns: new rma: %w", err)
	}
	for i := range rmaRandom {
		v[i] &= 31 // 256 is a multiple of 32: no modulo bias
	}
	v[rmaRandom] = gf32Mul(rmaSum(v[:rmaRandom]), rmaCheckInv)
	return formatRMA(v), nil
}

// ParseRMA reads an RMA number as a scanner or a person typed it and returns
// its canonical form and whether its check symbol is right. It accepts
// surrounding spaces and line ends, lower case, missing or extra dashes and
// spaces, Unicode dashes, I and L for 1 and O for 0 (as Crockford's base 32
// does), the symbology identifier some scanners send first (]C0, ]A0, ]Q1, …)
// and Code 39 start/stop asterisks. The leading R is required, so that an
// eight-character tracking number is never taken for an RMA.
//
// canonical is empty when s cannot be an RMA number at all (wrong length,
// a symbol outside the alphabet such as U); otherwise it is the normalised
// number even when ok is false, so a screen can show what was read.
func ParseRMA(s string) (canonical string, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 3 && s[0] == ']' { // AIM symbology identifier: ]<code><modifier>
		s = strings.TrimSpace(s[3:])
	}
	s = strings.TrimSpace(strings.Trim(s, "*"))

	var b strings.Builder
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '−' {
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	s = b.String()
	if len(s) != len(rmaPrefix)+rmaSymbols || !strings.HasPrefix(s, rmaPrefix) {
		return "", false
	}

	var v [rmaSymbols]byte
	for i := range rmaSymbols {
		x, valid := rmaValue(s[len(rmaPrefix)+i])
		if !valid {
			return "", false
		}
		v[i] = x
	}
	return formatRMA(v), rmaSum(v[:]) == 0
}

// rmaValue returns the value of one upper-case symbol.
func rmaValue(c byte) (byte, bool) {
	switch c {
	case 'I', 'L':
		return 1, true
	case 'O':
		return 0, true
	}
	if i := strings.IndexByte(rmaAlphabet, c); i >= 0 {
		return byte(i), true
	}
	return 0, false
}

func formatRMA(v [rmaSymbols]byte) string {
	b := make([]byte, 0, len(rmaPrefix)+rmaSymbols+2)
	b = append(b, rmaPrefix...)
	for i, x := range v {
		if i%4 == 0 {
			b = append(b, '-')
		}
		b = append(b, rmaAlphabet[x])
	}
	return string(b)
}
