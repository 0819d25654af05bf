package returns_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	mathrand "math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/returns"
)

const rmaTestAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var rmaShape = regexp.MustCompile(`^R-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)

func TestNewRMA(t *testing.T) {
	t.Parallel()

	seen := make(map[string]bool)
	for range 1000 {
		got, err := returns.NewRMA(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !rmaShape.MatchString(got) {
			t.Fatalf("NewRMA() = %q, not of the form R-XXXX-XXXX", got)
		}
		if canon, ok := returns.ParseRMA(got); canon != got || !ok {
			t.Fatalf("ParseRMA(%q) = %q, %v; want it back, true", got, canon, ok)
		}
		if seen[got] {
			t.Fatalf("NewRMA() returned %q twice in 1000 draws", got)
		}
		seen[got] = true
	}
}

func TestNewRMAFixedBytes(t *testing.T) {
	t.Parallel()

	// 0..6 map to themselves; 32+10 is A, 255 is Z (only the low five bits count).
	got, err := returns.NewRMA(bytes.NewReader([]byte{0, 1, 2, 3, 42, 255, 6}))
	if err != nil {
		t.Fatal(err)
	}
	if got[:10] != "R-0123-AZ6" {
		t.Errorf("got %q, want the random part R-0123-AZ6 before the check symbol", got)
	}
	if _, ok := returns.ParseRMA(got); !ok {
		t.Errorf("ParseRMA(%q) rejects its check symbol", got)
	}
}

func TestNewRMAShortReader(t *testing.T) {
	t.Parallel()

	_, err := returns.NewRMA(bytes.NewReader([]byte{1, 2, 3}))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %v, want an error wrapping io.ErrUnexpectedEOF", err)
	}
}

// TestRMACheckCatchesErrors enumerates, for many numbers, every single-symbol
// substitution and every transposition of two different symbols (adjacent or
// not), and expects the check symbol to reject each one.
func TestRMACheckCatchesErrors(t *testing.T) {
	t.Parallel()

	numbers := []string{"R-0000-0000"} // all zero is a valid number
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	for range 300 {
		b := make([]byte, 7)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		n, err := returns.NewRMA(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, n)
	}

	var substitutions, adjacent, other int
	for _, n := range numbers {
		if _, ok := returns.ParseRMA(n); !ok {
			t.Fatalf("ParseRMA(%q) rejects a valid number", n)
		}
		syms := []byte(n[2:6] + n[7:11])

		for i := range syms {
			for _, c := range []byte(rmaTestAlphabet) {
				if c == syms[i] {
					continue
				}
				s := bytes.Clone(syms)
				s[i] = c
				substitutions++
				if m := "R-" + string(s[:4]) + "-" + string(s[4:]); rmaAccepted(m) {
					t.Errorf("%s: substitution at %d gives %s, which passes the check", n, i, m)
				}
			}
		}
		for i := range syms {
			for j := i + 1; j < len(syms); j++ {
				if syms[i] == syms[j] {
					continue
				}
				s := bytes.Clone(syms)
				s[i], s[j] = s[j], s[i]
				if j == i+1 {
					adjacent++
				} else {
					other++
				}
				if m := "R-" + string(s[:4]) + "-" + string(s[4:]); rmaAccepted(m) {
					t.Errorf("%s: swapping %d and %d gives %s, which passes the check", n, i, j, m)
				}
			}
		}
	}
	t.Logf("%d numbers: %d substitutions, %d adjacent and %d other transpositions, all rejected",
		len(numbers), substitutions, adjacent, other)
}

func rmaAccepted(s string) bool {
	_, ok := returns.ParseRMA(s)
	return ok
}

func TestParseRMA(t *testing.T) {
	t.Parallel()

	valid := "R-0000-0000"
	n, err := returns.NewRMA(bytes.NewReader([]byte{27, 4, 30, 19, 9, 14, 1})) // V4YK9E1
	if err != nil {
		t.Fatal(err)
	}
	// n is R-V4YK-9E1?, with its check symbol last.
	check := n[10:]
	bad := n[:10] + string(rmaTestAlphabet[(strings.Index(rmaTestAlphabet, check)+1)%32])

	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{valid, valid, true},
		{n, n, true},
		{"  " + n + "\r\n", n, true},
		{"\t" + n, n, true},
		{"r-v4yk-9e1" + strings.ToLower(check), n, true},
		{"RV4YK9E1" + check, n, true},
		{"R V4YK 9E1" + check, n, true},
		{"R - V4YK - 9E1" + check, n, true},
		{"R–V4YK—9E1" + check, n, true}, // en and em dashes from a phone keyboard
		{"R--V4YK-9E-1" + check, n, true},
		{"]C0" + n, n, true}, // Code 128
		{"]A0" + n, n, true}, // Code 39
		{"]Q1" + n, n, true}, // QR code
		{"]d2" + n, n, true}, // Data Matrix
		{" ]C0" + n + "\n", n, true},
		{"*" + n + "*", n, true}, // Code 39 start/stop sent by the scanner
		{"]A0*" + n + "*", n, true},
		{"R-OOOO-OOOO", valid, true}, // O reads as 0
		{"r-oooo-oooo", valid, true},
		{"R-V4YK-9EI" + check, n, true}, // I reads as 1
		{"R-V4YK-9EL" + check, n, true}, // L reads as 1
		{"R-V4YK-9El" + check, n, true},
		{bad, bad, false},                                   // well formed, wrong check symbol
		{"R-V4YK-E91" + check, "R-V4YK-E91" + check, false}, // transposed
		{"", "", false},
		{"R", "", false},
		{"R-0000-000", "", false},   // too short
		{"R-0000-00000", "", false}, // too long
		{"0000-0000", "", false},    // no R
		{"X-0000-0000", "", false},
		{"R-0000-000U", "", false}, // U is not in the alphabet
		{"R-0000-000!", "", false},
		{"R-0000-000é", "", false},
		{"1Z999AA10123456784", "", false}, // a UPS tracking number
		{"]C0", "", false},
	}
	for _, tt := range tests {
		got, ok := returns.ParseRMA(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRMA(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
