package labels

import (
	"fmt"
	"strings"
	"unicode"
)

// UPU S10 item identifiers: two-letter service indicator, eight-digit serial
// number, a mod-11 check digit and the issuer's ISO 3166-1 alpha-2 country
// code, e.g. EE876543216CA (the example in Annex A of the S10 standard).

// s10Weights are applied to the eight serial digits, left to right.
var s10Weights = [8]int{8, 6, 4, 2, 3, 5, 9, 7}

// MaxS10Serial is the largest serial number an S10 identifier holds.
const MaxS10Serial = 99_999_999

// s10Check returns the check digit of an eight-digit serial: 11 - (S mod 11),
// where S is the weighted digit sum; 10 becomes 0 and 11 becomes 5.
func s10Check(serial string) int {
	sum := 0
	for i := 0; i < 8; i++ {
		sum += int(serial[i]-'0') * s10Weights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return 0
	case 11:
		return 5
	default:
		return c
	}
}

// S10 returns the UPU S10 identifier for serial (0 to MaxS10Serial) with
// the given two-letter service indicator and issuer country code (ASCII
// letters, either case; the result is upper-case).
func S10(prefix string, serial int, country string) (string, error) {
	prefix, country = strings.ToUpper(prefix), strings.ToUpper(country)
	if !upperLetters(prefix, 2) {
		return "", fmt.Errorf("labels: S10 service indicator %q: want two letters A-Z", prefix)
	}
	if !upperLetters(country, 2) {
		return "", fmt.Errorf("labels: S10 country %q: want an ISO 3166-1 alpha-2 code", country)
	}
	if serial < 0 || serial > MaxS10Serial {
		return "", fmt.Errorf("labels: S10 serial %d out of range 0 to %d", serial, MaxS10Serial)
	}
	digits := fmt.Sprintf("%08d", serial)
	return fmt.Sprintf("%s%s%d%s", prefix, digits, s10Check(digits), country), nil
}

// ValidS10 reports whether s is a well-formed S10 identifier with a correct
// check digit: exactly 13 characters, upper-case, no spaces (apply
// NormalizeTracking to scanned or typed input first). The country code is
// checked for shape only, not against the ISO 3166 list.
func ValidS10(s string) bool {
	if len(s) != 13 || !upperLetters(s[:2], 2) || !upperLetters(s[11:], 2) {
		return false
	}
	for i := 2; i < 11; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return int(s[10]-'0') == s10Check(s[2:10])
}

// NormalizeTracking returns s upper-cased with every space (any Unicode white
// space) and dash removed, the form tracking numbers are stored and compared
// in: " rr 123-456-785 gb " becomes "RR123456785GB".
func NormalizeTracking(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' || r == '‐' || r == '‑' || r == '–' || r == '—' {
			return -1
		}
		return unicode.ToUpper(r)
	}, s)
}

// humanTracking returns the human-readable form printed under the tracking
// barcode: S10 identifiers grouped as in the standard ("EE 876 543 216 CA"),
// anything else as it is.
func humanTracking(s string) string {
	if !ValidS10(s) {
		return s
	}
	return s[:2] + " " + s[2:5] + " " + s[5:8] + " " + s[8:11] + " " + s[11:]
}

func upperLetters(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
