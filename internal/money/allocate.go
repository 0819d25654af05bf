package money

import (
	"math/big"
	"math/bits"
	"slices"
)

// Allocate splits total into len(weights) parts proportional to weights by the
// largest-remainder method: every part first gets the floor of its exact share
// total×w/Σw, and the units still missing go one each to the parts with the largest
// remainders, the lower index first on ties. The parts always sum exactly to total and
// each part is within one minor unit of its exact share; a part whose weight is zero
// gets zero.
//
// When every weight is zero, total is spread equally (as if all weights were 1). A
// negative total is allocated symmetrically: Allocate(-t, w) is the negation of
// Allocate(t, w). The arithmetic is exact for any int64 total and weights (128-bit
// products, and math/big when the weights' sum overflows 64 bits).
//
// Allocate panics when a weight is negative, or when total is not zero and there are no
// weights: both are programming errors, and no answer would sum to total.
func Allocate(total int64, weights []int64) []int64 {
	n := len(weights)
	parts := make([]int64, n)
	if n == 0 {
		if total != 0 {
			panic("money: Allocate of a non-zero total over no weights")
		}
		return parts
	}

	w := make([]uint64, n)
	var sum uint64
	overflow := false
	for i, x := range weights {
		if x < 0 {
			panic("money: Allocate with a negative weight")
		}
		w[i] = uint64(x)
		var carry uint64
		sum, carry = bits.Add64(sum, w[i], 0)
		if carry != 0 {
			overflow = true
		}
	}
	if sum == 0 && !overflow {
		for i := range w {
			w[i] = 1
		}
		sum = uint64(n)
	}

	mag := uint64(total)
	if total < 0 {
		mag = -mag // two's complement: also right for math.MinInt64
	}

	var floors []uint64
	var order []int // indices, largest remainder first, lower index first on ties
	if overflow {
		floors, order = sharesBig(mag, w)
	} else {
		floors, order = shares128(mag, w, sum)
	}

	left := mag
	for _, f := range floors {
		left -= f
	}
	// left < n: each remainder is below one unit.
	for _, i := range order[:left] {
		floors[i]++
	}
	for i, f := range floors {
		if total < 0 {
			parts[i] = int64(-f) // f ≤ 2^63, so -f wraps to the right negative number
		} else {
			parts[i] = int64(f)
		}
	}
	return parts
}

// shares128 returns floor(mag×w[i]/sum) for every i, and the indices ordered by
// descending remainder, using 128-bit intermediate products.
func shares128(mag uint64, w []uint64, sum uint64) ([]uint64, []int) {
	floors := make([]uint64, len(w))
	rems := make([]uint64, len(w))
	for i, x := range w {
		hi, lo := bits.Mul64(mag, x)
		// x ≤ sum and mag < 2^64, so the quotient fits and hi < sum.
		floors[i], rems[i] = bits.Div64(hi, lo, sum)
	}
	order := indices(len(w))
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rems[a] > rems[b]:
			return -1
		case rems[a] < rems[b]:
			return 1
		}
		return 0
	})
	return floors, order
}

// sharesBig is shares128 for weights whose sum does not fit in 64 bits.
func sharesBig(mag uint64, w []uint64) ([]uint64, []int) {
	sum := new(big.Int)
	for _, x := range w {
		sum.Add(sum, new(big.Int).SetUint64(x))
	}
	m := new(big.Int).SetUint64(mag)
	floors := make([]uint64, len(w))
	rems := make([]*big.Int, len(w))
	for i, x := range w {
		p := new(big.Int).Mul(m, new(big.Int).SetUint64(x))
		q, r := p.QuoRem(p, sum, new(big.Int))
		floors[i] = q.Uint64() // ≤ mag
		rems[i] = r
	}
	order := indices(len(w))
	slices.SortStableFunc(order, func(a, b int) int { return rems[b].Cmp(rems[a]) })
	return floors, order
}

func indices(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
