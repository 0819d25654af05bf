package cursor

import (
	"testing"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

func TestRoundTripAndRefusal(t *testing.T) {
	var v validation.Error
	if got := Decode("r", Encode("r", 123456), &v); got != 123456 || v.Err() != nil {
		t.Fatalf("got %d (%v), want 123456", got, v.Err())
	}
	if got := Decode("r", "", &v); got != 0 || v.Err() != nil {
		t.Fatalf("empty cursor: got %d (%v), want 0 and no error", got, v.Err())
	}
	for _, bad := range []string{Encode("f", 5), "r!!", "r0", "r-5", "5"} {
		var v validation.Error
		if got := Decode("r", bad, &v); got != 0 || len(v.Fields) != 1 || v.Fields[0].Path != "cursor" {
			t.Errorf("cursor %q: got %d with %v, want 0 and one error at cursor", bad, got, v.Fields)
		}
	}
}
