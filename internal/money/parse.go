package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax means a number is not written as a plain non-negative decimal.
var ErrSyntax = errors.New("money: not a plain non-negative decimal number")

// Parse reads an amount written in currency's major unit, as people type it into a
// form ("4.95", "4,95", "1200", ".5"), into minor units: Parse("4.95", "EUR") is 495,
// Parse("1200", "JPY") is 1200. No sign, no thousands separators, at most the
// currency's decimal places, at most MaxAmount.
func Parse(s, currency string) (int64, error) {
	exp, ok := Exponent(currency)
	if !ok {
		return 0, fmt.Errorf("money: %q is not a currency", currency)
	}
	n, err := ParseDecimal(s, exp)
	if err != nil {
		return 0, err
	}
	if n > MaxAmount {
		return 0, fmt.Errorf("money: %s is more than the largest amount", s)
	}
	return n, nil
}

// ParseDecimal reads a non-negative decimal number with at most places decimals as
// an integer scaled by 10^places: ParseDecimal("15.5", 2) is 1550 (a percentage in
// basis points). A comma works as the decimal separator too; spaces around are
// ignored.
func ParseDecimal(s string, places int) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, dot := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if (whole == "" && frac == "") || len(frac) > places || (dot && frac == "" && whole == "") {
		return 0, ErrSyntax
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, ErrSyntax
			}
		}
	}
	digits := strings.TrimLeft(whole+frac+strings.Repeat("0", places-len(frac)), "0")
	if digits == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, ErrSyntax
	}
	return n, nil
}

// FormatDecimal writes n scaled by 10^places as a decimal without trailing zeros:
// FormatDecimal(1550, 2) is "15.5", FormatDecimal(1000, 2) is "10". It is the
// reverse of ParseDecimal, for showing a stored value in a form.
func FormatDecimal(n int64, places int) string {
	neg := n < 0
	mag := uint64(n)
	if neg {
		mag = -mag
	}
	digits := strconv.FormatUint(mag, 10)
	for len(digits) <= places {
		digits = "0" + digits
	}
	whole, frac := digits[:len(digits)-places], strings.TrimRight(digits[len(digits)-places:], "0")
	out := whole
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// Percent writes basis points as a percentage: Percent(1550) is "15.5 %".
func Percent(bps int64) string { return FormatDecimal(bps, 2) + " %" }
