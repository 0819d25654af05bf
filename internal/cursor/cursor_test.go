package cursor

import (
	"testing"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

func TestRoundTripAndRefusal(t *testing.T) {
	t.Parallel()
	const id = "ret_5kq2m9x4c8v1b7n3z6p0r4t2wd"
	var v validation.Error
	c := Encode("r", id)
	if c != "r."+id {
		t.Fatalf("got cursor %q, want the list prefix and the public ID only", c)
	}
	if got := Decode("r", c, &v); got != id || v.Err() != nil {
		t.Fatalf("got %q (%v), want %q", got, v.Err(), id)
	}
	if got := Decode("r", "", &v); got != "" || v.Err() != nil {
		t.Fatalf("empty cursor: got %q (%v), want \"\" and no error", got, v.Err())
	}
	// another list's cursor, the base-36 internal IDs of old, and what is not a public ID
	for _, bad := range []string{Encode("f", "rf_3m8x1c7v4b9n2z6p0r5t8w1k4q"), "r2bx", "r.", "r.ret_", "r._abc",
		"r.RET_ABC", "r.ret_abc'--", "r.ret_a\x00b", "ret_5kq2m9x4c8v1b7n3z6p0r4t2wd", "r.ret_" + string(make([]byte, 60))} {
		var v validation.Error
		if got := Decode("r", bad, &v); got != "" || len(v.Fields) != 1 || v.Fields[0].Path != "cursor" {
			t.Errorf("cursor %q: got %q with %v, want \"\" and one error at cursor", bad, got, v.Fields)
		}
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	page := []string{"ret_a", "ret_b"}
	self := func(s string) string { return s }
	if got := Next("r", page, true, self); got != "r.ret_b" {
		t.Errorf("more rows: got %q, want r.ret_b", got)
	}
	if got := Next("r", page, false, self); got != "" {
		t.Errorf("last page: got %q, want none", got)
	}
	if got := Next("r", nil, true, self); got != "" {
		t.Errorf("empty page: got %q, want none", got)
	}
}

func TestUnknownIsAQueryFieldError(t *testing.T) {
	t.Parallel()
	err := Unknown()
	if !IsUnknown(err) {
		t.Fatalf("IsUnknown(%v) = false", err)
	}
	// placed in the query: the HTTP layer must not move it into the body
	if got := err.(*validation.Error).In("body.").Fields[0].Path; got != "query.cursor" {
		t.Errorf("got path %q, want query.cursor", got)
	}
	if IsUnknown((&validation.Error{Fields: []validation.Field{{Path: "query.limit"}}}).In("")) {
		t.Error("another field's error was taken for a refused cursor")
	}
}
