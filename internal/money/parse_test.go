package money

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, currency string
		want         int64
		err          bool
	}{
		{"4.95", "EUR", 495, false},
		{"4,95", "EUR", 495, false},
		{" 4.9 ", "EUR", 490, false},
		{"4", "EUR", 400, false},
		{".5", "EUR", 50, false},
		{"0", "EUR", 0, false},
		{"0.00", "EUR", 0, false},
		{"1200", "JPY", 1200, false},
		{"1.234", "KWD", 1234, false},
		{"4.955", "EUR", 0, true},
		{"12.5", "JPY", 0, true},
		{"-1", "EUR", 0, true},
		{"+1", "EUR", 0, true},
		{"1,000.00", "EUR", 0, true},
		{"1e3", "EUR", 0, true},
		{"", "EUR", 0, true},
		{".", "EUR", 0, true},
		{"4.95", "eur", 0, true},
		{"10000000000000.01", "EUR", 0, true},
		{"99999999999999999999", "EUR", 0, true},
	} {
		got, err := Parse(tc.in, tc.currency)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Parse(%q, %s): got %d, %v; want %d, error %v", tc.in, tc.currency, got, err, tc.want, tc.err)
		}
	}
	if _, err := ParseDecimal("x", 2); !errors.Is(err, ErrSyntax) {
		t.Errorf("ParseDecimal(x): got %v, want ErrSyntax", err)
	}
}

func TestFormatDecimalRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		n      int64
		places int
		want   string
	}{
		{1550, 2, "15.5"}, {1000, 2, "10"}, {5, 2, "0.05"}, {0, 2, "0"}, {1234, 3, "1.234"}, {1200, 0, "1200"}, {-50, 2, "-0.5"},
	} {
		got := FormatDecimal(tc.n, tc.places)
		if got != tc.want {
			t.Errorf("FormatDecimal(%d, %d): got %q, want %q", tc.n, tc.places, got, tc.want)
		}
		if tc.n >= 0 {
			if back, err := ParseDecimal(got, tc.places); err != nil || back != tc.n {
				t.Errorf("ParseDecimal(%q, %d): got %d, %v; want %d", got, tc.places, back, err, tc.n)
			}
		}
	}
	if got := Percent(1525); got != "15.25 %" {
		t.Errorf("Percent(1525): got %q", got)
	}
}
