// Package money holds amounts of money as integer minor units (int64) with an ISO 4217
// currency code: the currency table with each code's exponent, formatting with that
// exponent, basis-point fees rounded half up, and pro-rating by the largest-remainder
// method so that parts always sum exactly to the whole. There are no floats here.
package money

import (
	"math/big"
	"strconv"
)

// MaxAmount is the largest amount, in minor units, that Roundtrip accepts for an order
// total or any part of it (10^15, ten trillion euros in cents). Keeping amounts below it
// leaves sums of thousands of amounts far from int64 overflow.
const MaxAmount int64 = 1_000_000_000_000_000

// Format renders minor units in currency with the currency's ISO exponent and the
// code after the number: "12.34 EUR", "1200 JPY", "1.234 KWD", "-0.05 USD". There is no
// thousands separator. A code that is not a known currency is formatted with two
// decimals.
func Format(minor int64, currency string) string {
	return Decimal(minor, currency) + " " + currency
}

// Decimal renders minor units in currency as a plain decimal number with the currency's
// ISO exponent, as used in CSV exports: "12.34", "1200" for JPY, "-0.05". A code that is
// not a known currency is formatted with two decimals.
func Decimal(minor int64, currency string) string {
	exp, ok := Exponent(currency)
	if !ok {
		exp = 2
	}
	mag := uint64(minor)
	if minor < 0 {
		mag = -mag // two's complement: also right for math.MinInt64
	}
	digits := strconv.FormatUint(mag, 10)
	if exp > 0 {
		for len(digits) <= exp {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	if minor < 0 {
		return "-" + digits
	}
	return digits
}

// BasisPoints returns amount × bps / 10 000 rounded half away from zero (half up for
// the non-negative amounts of fees and bonuses): 1 % of 150 cents is 2 cents. It does
// not overflow for any int64 amount and any bps in 0..10 000; larger results saturate
// at the int64 limits.
func BasisPoints(amount, bps int64) int64 {
	n := new(big.Int).Mul(big.NewInt(amount), big.NewInt(bps))
	neg := n.Sign() < 0
	n.Abs(n)
	n.Add(n, big.NewInt(5_000))
	n.Quo(n, big.NewInt(10_000))
	if neg {
		n.Neg(n)
	}
	if !n.IsInt64() {
		if neg {
			return -1 << 63
		}
		return 1<<63 - 1
	}
	return n.Int64()
}
