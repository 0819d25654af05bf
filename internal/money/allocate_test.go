package money

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"
)

func TestAllocate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		total   int64
		weights []int64
		want    []int64
	}{
		{"even", 100, []int64{1, 1}, []int64{50, 50}},
		{"thirds, lower index first", 100, []int64{1, 1, 1}, []int64{34, 33, 33}},
		{"negative thirds", -100, []int64{1, 1, 1}, []int64{-34, -33, -33}},
		{"largest remainder wins", 10, []int64{1, 2, 4}, []int64{1, 3, 6}}, // 1.43, 2.86, 5.71
		{"proportional", 1000, []int64{2500, 7500}, []int64{250, 750}},
		{"order discount over lines", 1001, []int64{3000, 2000, 1000}, []int64{500, 334, 167}},
		{"zero weight gets nothing", 7, []int64{0, 1, 0, 1}, []int64{0, 4, 0, 3}},
		{"all zero weights spread equally", 5, []int64{0, 0, 0}, []int64{2, 2, 1}},
		{"zero total", 0, []int64{3, 4}, []int64{0, 0}},
		{"single", 999, []int64{42}, []int64{999}},
		{"fewer units than parts", 2, []int64{1, 1, 1, 1}, []int64{1, 1, 0, 0}},
		{"no weights, zero total", 0, nil, []int64{}},
		{"large total and weights", 1e15, []int64{1e12, 1e12, 1e12}, []int64{333333333333334, 333333333333333, 333333333333333}},
		{"max int64", math.MaxInt64, []int64{1, 1}, []int64{4611686018427387904, 4611686018427387903}},
		{"min int64", math.MinInt64, []int64{1, 1}, []int64{-4611686018427387904, -4611686018427387904}},
		{"weights overflow 64 bits", 10, []int64{math.MaxInt64, math.MaxInt64, math.MaxInt64}, []int64{4, 3, 3}},
		{"weights overflow 64 bits, uneven", 100, []int64{math.MaxInt64, math.MaxInt64, 1}, []int64{50, 50, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Allocate(tt.total, tt.weights)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Allocate(%d, %v) = %v, want %v", tt.total, tt.weights, got, tt.want)
			}
		})
	}
}

func TestAllocatePanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		total   int64
		weights []int64
	}{
		{"negative weight", 10, []int64{1, -1}},
		{"no weights", 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Errorf("Allocate(%d, %v) did not panic", tt.total, tt.weights)
				}
			}()
			Allocate(tt.total, tt.weights)
		})
	}
}

// FuzzAllocate checks that the parts always sum to the total and that each part is
// within one minor unit of its exact share total×w/Σw.
func FuzzAllocate(f *testing.F) {
	f.Add(int64(100), []byte{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0}, false)
	f.Add(int64(-1001), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 3}, false)
	f.Add(int64(1e15), []byte{0xe8, 0xd4, 0xa5, 0x10, 0x00}, false)
	f.Add(int64(math.MinInt64), []byte{1, 2, 3, 4, 5, 6, 7, 8}, true)
	f.Add(int64(7), []byte{}, false)
	f.Fuzz(func(t *testing.T, total int64, raw []byte, huge bool) {
		// Weights of 5 bytes (up to ~1.1e12) or, with huge, 8 bytes masked to 63 bits.
		size := 5
		if huge {
			size = 8
		}
		var weights []int64
		for len(raw) >= size && len(weights) < 64 {
			var buf [8]byte
			copy(buf[:], raw[:size])
			weights = append(weights, int64(binary.LittleEndian.Uint64(buf[:])&math.MaxInt64))
			raw = raw[size:]
		}
		if len(weights) == 0 {
			weights = []int64{0}
		}
		parts := Allocate(total, weights)
		if len(parts) != len(weights) {
			t.Fatalf("got %d parts, want %d", len(parts), len(weights))
		}

		sum := new(big.Int)
		wsum := new(big.Int)
		for i := range parts {
			sum.Add(sum, big.NewInt(parts[i]))
			wsum.Add(wsum, big.NewInt(weights[i]))
		}
		if sum.Cmp(big.NewInt(total)) != 0 {
			t.Fatalf("Allocate(%d, %v): parts %v sum to %s, want %d", total, weights, parts, sum, total)
		}
		ws := slices.Clone(weights)
		if wsum.Sign() == 0 {
			for i := range ws {
				ws[i] = 1
			}
			wsum.SetInt64(int64(len(ws)))
		}
		for i, p := range parts {
			// |p − total×w/W| < 1  ⇔  |p×W − total×w| < W
			diff := new(big.Int).Mul(big.NewInt(p), wsum)
			diff.Sub(diff, new(big.Int).Mul(big.NewInt(total), big.NewInt(ws[i])))
			if diff.Abs(diff).Cmp(wsum) >= 0 {
				t.Fatalf("Allocate(%d, %v)[%d] = %d, more than 1 from its exact share %s",
					total, weights, i, p, new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(total), big.NewInt(ws[i])), wsum).FloatString(3))
			}
			if ws[i] == 0 && p != 0 {
				t.Fatalf("Allocate(%d, %v)[%d] = %d for a zero weight, want 0", total, weights, i, p)
			}
		}
		neg := Allocate(-total, weights)
		if total != math.MinInt64 {
			for i := range parts {
				if neg[i] != -parts[i] {
					t.Fatalf("Allocate(%d, %v) = %v is not the negation of Allocate(%d, …) = %v", -total, weights, neg, total, parts)
				}
			}
		}
	})
}

func ExampleAllocate() {
	// An order discount of 10.01 EUR over three lines worth 30, 20 and 10 EUR.
	parts := Allocate(1001, []int64{3000, 2000, 1000})
	for _, p := range parts {
		fmt.Println(Format(p, "EUR"))
	}
	// Output:
	// 5.00 EUR
	// 3.34 EUR
	// 1.67 EUR
}

func ExampleFormat() {
	fmt.Println(Format(1234, "EUR"))
	fmt.Println(Format(1200, "JPY"))
	fmt.Println(Format(1234, "KWD"))
	fmt.Println(Format(-5, "USD"))
	// Output:
	// 12.34 EUR
	// 1200 JPY
	// 1.234 KWD
	// -0.05 USD
}
