package receiving_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/returns"
	"github.com/roundtriphq/roundtrip/returns/receiving"
)

func TestNormalizeCode(t *testing.T) {
	t.Parallel()
	const rma, tracking = "R7KQ4M2XD", "RR123456785GB"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"as printed", "R-7KQ4-M2XD", rma},
		{"surrounding spaces", "  R-7KQ4-M2XD  ", rma},
		{"the scanner's Enter", "R-7KQ4-M2XD\r\n", rma},
		{"tab first", "\tR-7KQ4-M2XD", rma},
		{"lower case", "r-7kq4-m2xd", rma},
		{"missing dashes", "R7KQ4M2XD", rma},
		{"spaces for dashes", "R 7KQ4 M2XD", rma},
		{"Unicode dashes", "R‐7KQ4–M2XD", rma},
		{"Code 128 identifier", "]C0R-7KQ4-M2XD", rma},
		{"QR identifier", "]Q1R-7KQ4-M2XD", rma},
		{"identifier, lower case, no dashes", "]c0r7kq4m2xd", rma},
		{"identifier then spaces", "]C0  R-7KQ4-M2XD ", rma},
		{"Code 39 asterisks", "*R-7KQ4-M2XD*", rma},
		{"tracking number", tracking, tracking},
		{"tracking number typed in groups", "rr 123 456 785 gb", tracking},
		{"tracking number with identifier", "]C0rr123456785gb\n", tracking},
		{"empty", "", ""},
		{"only spaces", " \t\r\n", ""},
		{"only an identifier", "]C0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := receiving.NormalizeCode(tc.in); got != tc.want {
				t.Errorf("NormalizeCode(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// Whatever NormalizeCode makes of an RMA as scanned, ParseRMA reads the same return.
func TestNormalizeCodeKeepsRMA(t *testing.T) {
	t.Parallel()
	canonical, err := returns.NewRMA(strings.NewReader("roundtrip"))
	if err != nil {
		t.Fatal(err)
	}
	bare := strings.ReplaceAll(canonical, "-", "")
	for _, in := range []string{
		canonical,
		" " + strings.ToLower(canonical) + " ",
		"]C0" + bare,
		"*" + strings.ReplaceAll(canonical, "-", " ") + "*",
		"]c0 " + strings.ToLower(strings.ReplaceAll(canonical, "-", "‐")) + "\r\n",
	} {
		got, ok := returns.ParseRMA(receiving.NormalizeCode(in))
		if got != canonical || !ok {
			t.Errorf("ParseRMA(NormalizeCode(%q)) = %q, %v; want %s, true", in, got, ok, canonical)
		}
	}
}

func ExampleNormalizeCode() {
	fmt.Println(receiving.NormalizeCode("]C0r-7kq4-m2xd\r\n"))
	fmt.Println(receiving.NormalizeCode(" rr 123 456 785 gb "))
	// Output:
	// R7KQ4M2XD
	// RR123456785GB
}
