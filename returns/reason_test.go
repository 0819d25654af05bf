package returns

import "testing"

func TestReasons(t *testing.T) {
	t.Parallel()
	faults := map[ReasonCode]bool{ReasonDamaged: true, ReasonWrongItem: true, ReasonNotAsDescribed: true}
	rs := Reasons()
	if len(rs) != 8 {
		t.Errorf("got %d reasons, want 8", len(rs))
	}
	seen := map[ReasonCode]bool{}
	for _, r := range rs {
		if seen[r.Code] {
			t.Errorf("%s listed twice", r.Code)
		}
		seen[r.Code] = true
		if r.Label == "" {
			t.Errorf("%s has no label", r.Code)
		}
		if r.MerchantFault != faults[r.Code] {
			t.Errorf("%s merchant fault = %t, want %t", r.Code, r.MerchantFault, faults[r.Code])
		}
		if got, ok := LookupReason(r.Code); !ok || got != r {
			t.Errorf("LookupReason(%q) = %+v, %t; want %+v, true", r.Code, got, ok, r)
		}
	}
	rs[0].Label = "changed"
	if Reasons()[0].Label == "changed" {
		t.Errorf("Reasons shares its slice between calls")
	}
	for _, code := range []ReasonCode{"", "Too_Small", "bored"} {
		if _, ok := LookupReason(code); ok {
			t.Errorf("LookupReason(%q) found a reason, want none", code)
		}
	}
}
