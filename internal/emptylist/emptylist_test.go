package emptylist_test

import (
	"encoding/json"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/emptylist"
)

type line struct {
	Tags []string `json:"tags"`
}

type page struct {
	Data    []line          `json:"data"`
	Skipped []string        `json:"skipped,omitempty"`
	Raw     []byte          `json:"raw"`
	Next    *line           `json:"next"`
	ByKey   map[string]line `json:"by_key"`
	hidden  []string
}

func TestNilListsBecomeEmpty(t *testing.T) {
	v := page{Data: []line{{}}, Next: &line{}, ByKey: map[string]line{"a": {}}}
	for _, in := range []any{v, &v} {
		b, err := json.Marshal(emptylist.Fill(in))
		if err != nil {
			t.Fatal(err)
		}
		want := `{"data":[{"tags":[]}],"raw":null,"next":{"tags":[]},"by_key":{"a":{"tags":[]}}}`
		if string(b) != want {
			t.Errorf("%T: got %s, want %s", in, b, want)
		}
	}
	if b, _ := json.Marshal(emptylist.Fill(page{})); string(b) != `{"data":[],"raw":null,"next":null,"by_key":null}` {
		t.Errorf("zero page: got %s", b)
	}
	if got := emptylist.Fill(42); got != 42 {
		t.Errorf("a value without lists changed: %v", got)
	}
	_ = v.hidden
}
