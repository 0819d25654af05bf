package money

import (
	"math"
	"testing"
)

func TestExponent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   string
		want   int
		wantOK bool
	}{
		{"EUR", 2, true},
		{"USD", 2, true},
		{"GBP", 2, true},
		{"JPY", 0, true},
		{"KRW", 0, true},
		{"VND", 0, true},
		{"CLP", 0, true},
		{"ISK", 0, true},
		{"UGX", 0, true},
		{"XAF", 0, true},
		{"XOF", 0, true},
		{"XPF", 0, true},
		{"KWD", 3, true},
		{"BHD", 3, true},
		{"OMR", 3, true},
		{"JOD", 3, true},
		{"TND", 3, true},
		{"IQD", 3, true},
		{"LYD", 3, true},
		{"CLF", 4, true},
		{"XCG", 2, true},
		{"eur", 0, false},
		{"", 0, false},
		{"EURO", 0, false},
		{"XAU", 0, false},
		{"XXX", 0, false},
		{"HRK", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			got, ok := Exponent(tt.code)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Exponent(%q) = %d, %t; want %d, %t", tt.code, got, ok, tt.want, tt.wantOK)
			}
			if Valid(tt.code) != tt.wantOK {
				t.Errorf("Valid(%q) = %t, want %t", tt.code, Valid(tt.code), tt.wantOK)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{1234, "EUR", "12.34 EUR"},
		{1200, "JPY", "1200 JPY"},
		{1234, "KWD", "1.234 KWD"},
		{-5, "USD", "-0.05 USD"},
		{0, "USD", "0.00 USD"},
		{0, "JPY", "0 JPY"},
		{5, "KWD", "0.005 KWD"},
		{-1200, "JPY", "-1200 JPY"},
		{100, "EUR", "1.00 EUR"},
		{123456789, "CLF", "12345.6789 CLF"},
		{1234, "ABC", "12.34 ABC"},
		{math.MinInt64, "USD", "-92233720368547758.08 USD"},
		{math.MaxInt64, "JPY", "9223372036854775807 JPY"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := Format(tt.minor, tt.currency); got != tt.want {
				t.Errorf("Format(%d, %q) = %q, want %q", tt.minor, tt.currency, got, tt.want)
			}
		})
	}
}

func TestDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{1234, "EUR", "12.34"},
		{-5, "USD", "-0.05"},
		{1200, "JPY", "1200"},
		{1234, "BHD", "1.234"},
		{-1, "BHD", "-0.001"},
	}
	for _, tt := range tests {
		if got := Decimal(tt.minor, tt.currency); got != tt.want {
			t.Errorf("Decimal(%d, %q) = %q, want %q", tt.minor, tt.currency, got, tt.want)
		}
	}
}

func TestBasisPoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		amount, bps, want int64
	}{
		{10000, 1000, 1000},
		{150, 100, 2},   // 1.5 rounds half up
		{149, 100, 1},   // 1.49
		{50, 100, 1},    // 0.5 rounds half up
		{49, 100, 0},    // 0.49
		{-150, 100, -2}, // half away from zero
		{0, 10000, 0},
		{12345, 0, 0},
		{12345, 10000, 12345},
		{math.MaxInt64, 10000, math.MaxInt64},
		{math.MaxInt64, 5000, 4611686018427387904},
		{math.MinInt64, 10000, math.MinInt64},
		{math.MaxInt64, 20000, math.MaxInt64}, // saturates
	}
	for _, tt := range tests {
		if got := BasisPoints(tt.amount, tt.bps); got != tt.want {
			t.Errorf("BasisPoints(%d, %d) = %d, want %d", tt.amount, tt.bps, got, tt.want)
		}
	}
}
