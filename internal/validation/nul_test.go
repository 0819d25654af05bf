package validation_test

import (
	"slices"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

func TestNoNULInJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		doc  string
		want []string
	}{
		{`{"customer": {"email": "ada@example.com"}}`, nil},
		{`{"customer": {"email": "ada\u0000@example.com"}}`, []string{"body.customer.email"}},
		{`{"lines": [{"name": "ok"}, {"name": "a\u0000b", "tags": ["x", "\u0000"]}]}`, []string{"body.lines[1].name", "body.lines[1].tags[1]"}},
		{`{"note": "a backslash then u0000: \\u0000"}`, nil},
		{`{"a\u0000": 1}`, []string{"body"}},
		{`"\u0000"`, []string{"body"}},
		{`{"broken": "\u0000"`, nil}, // not JSON: the decoder says so
	} {
		var v validation.Error
		validation.NoNULInJSON("body", []byte(tt.doc), &v)
		var got []string
		for _, f := range v.Fields {
			got = append(got, f.Path)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("NoNULInJSON(%s): got %v, want %v", tt.doc, got, tt.want)
		}
	}
	var v validation.Error
	validation.NoNUL("path.order_number", "NW-\x001", &v)
	validation.NoNUL("query.rma", "R-1", &v)
	if len(v.Fields) != 1 || v.Fields[0].Path != "path.order_number" || v.Fields[0].Message != validation.NUL {
		t.Errorf("NoNUL: got %+v, want path.order_number alone", v.Fields)
	}
}
