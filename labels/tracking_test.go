package labels

import (
	"fmt"
	"testing"
)

// Known-valid S10 identifiers: the example of Annex A of UPU S10-12
// (EE876543216CA), the check-digit example of the standard (serial 47312482,
// check digit 9), further examples from S10-12, and a Deutsche Post
// registered letter number seen in the wild.
var validS10 = []string{
	"EE876543216CA",
	"AA473124829GB",
	"EE123456785KR",
	"VA456789015KG",
	"CP654321092GM",
	"CV010000155UA",
	"RR012808877PH",
	"RR072705659PL",
	"RT011231107HK",
	"RT395449360DE",
}

func TestValidS10(t *testing.T) {
	for _, s := range validS10 {
		if !ValidS10(s) {
			t.Errorf("ValidS10(%q) = false, want true", s)
		}
	}
	invalid := []string{
		"",
		"EE876543217CA",     // wrong check digit
		"EE876543215CA",     // wrong check digit
		"EE786543216CA",     // transposed digits
		"ee876543216ca",     // lower case: normalize first
		"EE 876 543 216 CA", // spaces: normalize first
		"EE87654321CA",      // 12 characters
		"EE8765432166CA",    // 14 characters
		"E1876543216CA",     // digit in the service indicator
		"EE87654321XCA",     // letter for the check digit
		"EE8765A3216CA",     // letter in the serial
		"EE876543216C1",     // digit in the country code
		"ÉE876543216CA",     // non-ASCII
	}
	for _, s := range invalid {
		if ValidS10(s) {
			t.Errorf("ValidS10(%q) = true, want false", s)
		}
	}
}

func TestS10(t *testing.T) {
	tests := []struct {
		prefix  string
		serial  int
		country string
		want    string
	}{
		{"EE", 87654321, "CA", "EE876543216CA"},
		{"RR", 12345678, "GB", "RR123456785GB"},
		{"AA", 47312482, "GB", "AA473124829GB"}, // S = 200, 11 - 200 mod 11 = 9
		{"RR", 0, "GB", "RR000000005GB"},        // S mod 11 = 0: C = 11 becomes 5
		{"RR", 8, "GB", "RR000000080GB"},        // S = 56, S mod 11 = 1: C = 10 becomes 0
		{"zz", 99999999, "de", "ZZ999999995DE"}, // S = 396 = 36*11: 5; letters upper-cased
	}
	for _, tc := range tests {
		got, err := S10(tc.prefix, tc.serial, tc.country)
		if err != nil || got != tc.want {
			t.Errorf("S10(%q, %d, %q) = %q, %v; want %q", tc.prefix, tc.serial, tc.country, got, err, tc.want)
		}
		if err == nil && !ValidS10(got) {
			t.Errorf("ValidS10(%q) = false for a number S10 made", got)
		}
	}
	for _, s := range validS10 {
		var serial int
		fmt.Sscanf(s[2:10], "%d", &serial)
		if got, _ := S10(s[:2], serial, s[11:]); got != s {
			t.Errorf("S10 for %s gives %s", s, got)
		}
	}
	bad := []struct {
		prefix  string
		serial  int
		country string
	}{
		{"R", 1, "GB"}, {"RRR", 1, "GB"}, {"R1", 1, "GB"}, {"RR", -1, "GB"},
		{"RR", MaxS10Serial + 1, "GB"}, {"RR", 1, "G"}, {"RR", 1, "GBR"}, {"RR", 1, "Ü1"},
	}
	for _, tc := range bad {
		if got, err := S10(tc.prefix, tc.serial, tc.country); err == nil {
			t.Errorf("S10(%q, %d, %q) = %q, want an error", tc.prefix, tc.serial, tc.country, got)
		}
	}
}

// TestS10CheckDigitEveryRemainder walks serials until every remainder of
// the weighted sum has been seen, checking the rule for each.
func TestS10CheckDigitEveryRemainder(t *testing.T) {
	seen := map[int]bool{}
	for serial := 0; len(seen) < 11; serial++ {
		digits := fmt.Sprintf("%08d", serial)
		sum := 0
		for i, w := range []int{8, 6, 4, 2, 3, 5, 9, 7} {
			sum += int(digits[i]-'0') * w
		}
		want := map[int]int{0: 5, 1: 0}[sum%11]
		if sum%11 > 1 {
			want = 11 - sum%11
		}
		if got := s10Check(digits); got != want {
			t.Fatalf("check digit of %s = %d, want %d", digits, got, want)
		}
		seen[sum%11] = true
	}
}

func TestNormalizeTracking(t *testing.T) {
	tests := []struct{ in, want string }{
		{"RR123456785GB", "RR123456785GB"},
		{" rr 123 456 785 gb ", "RR123456785GB"},
		{"RR-123-456-785-GB", "RR123456785GB"},
		{"rr\t123\u00a0456–785\ngb", "RR123456785GB"},
		{"1z 999 aa1 0123 4567 84", "1Z999AA10123456784"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := NormalizeTracking(tc.in); got != tc.want {
			t.Errorf("NormalizeTracking(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHumanTracking(t *testing.T) {
	for in, want := range map[string]string{
		"EE876543216CA":      "EE 876 543 216 CA", // S10 Annex A human-readable form
		"EE876543217CA":      "EE876543217CA",     // not a valid S10: as it is
		"1Z999AA10123456784": "1Z999AA10123456784",
	} {
		if got := humanTracking(in); got != want {
			t.Errorf("humanTracking(%q) = %q, want %q", in, got, want)
		}
	}
}
