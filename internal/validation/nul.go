package validation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// NUL is the message of a value that holds the NUL character.
const NUL = "must not contain the NUL character (\\u0000)"

// NoNUL records path when s holds the NUL character, which PostgreSQL cannot store in
// text: such input is refused where it enters, naming the field, rather than failing
// deep inside.
func NoNUL(path, s string, v *Error) {
	if strings.IndexByte(s, 0) >= 0 {
		v.Add(path, NUL)
	}
}

// NotUTF8 is the message of a value whose bytes are not UTF-8.
const NotUTF8 = "must be UTF-8 text"

// Storable reports whether PostgreSQL can store s as text: UTF-8, without the NUL
// character.
func Storable(s string) bool { return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) }

// Text records path when s holds the NUL character or bytes that are not UTF-8:
// PostgreSQL stores neither in text, so a path, query or header parameter with them is
// refused where it enters rather than failing the statement that reads it. (A JSON
// body's strings are UTF-8 once decoded: the decoder replaces what is not.)
func Text(path, s string, v *Error) {
	NoNUL(path, s, v)
	if !utf8.ValidString(s) {
		v.Add(path, NotUTF8)
	}
}

// NoNULInJSON records, by its path under prefix ("body.customer.email",
// "body.lines[0].name"), every string and every object key of the JSON document doc
// that holds the NUL character. A document that is not JSON records nothing: its
// decoder says what is wrong with it.
func NoNULInJSON(prefix string, doc []byte, v *Error) {
	// NUL can only be in a JSON string as the escape \u0000 (a raw NUL byte is not
	// JSON): most documents are passed without being decoded twice.
	if !bytes.Contains(doc, []byte(`\u0000`)) {
		return
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return
	}
	walkNUL(prefix, x, v)
}

func walkNUL(path string, x any, v *Error) {
	switch x := x.(type) {
	case string:
		NoNUL(path, x, v)
	case []any:
		for i, e := range x {
			walkNUL(fmt.Sprintf("%s[%d]", path, i), e, v)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if strings.IndexByte(k, 0) >= 0 {
				v.Add(path, "has a field name that contains the NUL character (\\u0000)")
				continue
			}
			walkNUL(path+"."+k, x[k], v)
		}
	}
}
