package db

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// UnmarshalRows decodes rows that a statement sent as JSON (row_to_json, json_agg of
// rows) into dest, a pointer to a struct or to a slice of structs, by the fields'
// db tags as sqlx scans columns: a statement can then bring rows of several tables in
// one round trip. Keys without a field are ignored; a bytea column must be sent
// base64-encoded (encode(col, 'base64')); a json or jsonb column read into a []byte
// is its JSON text, as when sqlx scans it.
func UnmarshalRows(raw []byte, dest any) error {
	v := reflect.ValueOf(dest)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("db: unmarshal rows into %T: not a pointer", dest)
	}
	v = v.Elem()
	if v.Kind() == reflect.Slice {
		objs, ok := splitRows(raw)
		if !ok {
			if err := json.Unmarshal(raw, &objs); err != nil {
				return fmt.Errorf("db: rows: %w", err)
			}
		}
		out := reflect.MakeSlice(v.Type(), len(objs), len(objs))
		for i, o := range objs {
			if err := fill(out.Index(i), o); err != nil {
				return err
			}
		}
		v.Set(out)
		return nil
	}
	o, ok := splitObject(raw)
	if !ok {
		if err := json.Unmarshal(raw, &o); err != nil {
			return fmt.Errorf("db: row: %w", err)
		}
	}
	return fill(v, o)
}

// splitRows is a JSON array of objects as each object's columns (splitObject); ok
// false for anything else, which encoding/json then reads (or refuses).
func splitRows(raw []byte) (rows []map[string]json.RawMessage, ok bool) {
	rows = []map[string]json.RawMessage{}
	ok = elements(raw, '[', ']', func(rest []byte) ([]byte, bool) {
		n := valueEnd(rest)
		if n < 0 {
			return nil, false
		}
		o, ok := splitObject(rest[:n])
		rows = append(rows, o)
		return rest[n:], ok
	})
	if !ok {
		return nil, false
	}
	return rows, true
}

// splitObject is a JSON object (a row as row_to_json writes it) as its columns: each
// key with its value's text, sliced from raw, not copied and not checked beyond its
// extent (fill decodes each). A key with escapes, or anything that is not a plain
// object, answers ok false: encoding/json then reads it (or refuses it). Reading the
// row once and each column once halves what encoding/json did for a row.
func splitObject(raw []byte) (cols map[string]json.RawMessage, ok bool) {
	cols = map[string]json.RawMessage{}
	ok = elements(raw, '{', '}', func(rest []byte) ([]byte, bool) {
		n := valueEnd(rest)
		if n < 0 {
			return nil, false
		}
		key, plain := plainString(rest[:n])
		if !plain {
			return nil, false
		}
		rest = skipSpace(rest[n:])
		if len(rest) == 0 || rest[0] != ':' {
			return nil, false
		}
		rest = skipSpace(rest[1:])
		if n = valueEnd(rest); n <= 0 {
			return nil, false
		}
		cols[key] = rest[:n:n]
		return rest[n:], true
	})
	if !ok {
		return nil, false
	}
	return cols, true
}

// elements walks the elements of the JSON array or object that raw is (open and
// close its brackets), separated by commas: each reads one from the start of rest and
// answers what follows it, or false. ok is true when the whole of raw was that array
// or object.
func elements(raw []byte, open, close byte, each func(rest []byte) ([]byte, bool)) bool {
	rest := skipSpace(raw)
	if len(rest) == 0 || rest[0] != open {
		return false
	}
	rest = skipSpace(rest[1:])
	if len(rest) > 0 && rest[0] == close {
		return len(skipSpace(rest[1:])) == 0
	}
	for {
		var ok bool
		if rest, ok = each(rest); !ok {
			return false
		}
		rest = skipSpace(rest)
		switch {
		case len(rest) > 0 && rest[0] == ',':
			rest = skipSpace(rest[1:])
		case len(rest) > 0 && rest[0] == close:
			return len(skipSpace(rest[1:])) == 0
		default:
			return false
		}
	}
}

// valueEnd is the length of the JSON value that raw starts with (a string, an object
// or array with everything in it, or a literal up to the next delimiter), or -1 when
// raw ends first.
func valueEnd(raw []byte) int {
	if len(raw) == 0 {
		return -1
	}
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '"':
			i++
			for i < len(raw) && raw[i] != '"' {
				if raw[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(raw) {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of a literal, and of the object or array around it
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	if depth != 0 {
		return -1
	}
	return len(raw)
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

var bytesType = reflect.TypeFor[[]byte]()

// fill sets the fields of the struct v from the columns o.
func fill(v reflect.Value, o map[string]json.RawMessage) error {
	t := v.Type()
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("db: unmarshal a row into %s: not a struct", t)
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("db"), ",")
		if tag == "" && f.Anonymous && f.Type.Kind() == reflect.Struct {
			// an embedded struct's fields are the row's, as sqlx has them
			if err := fill(v.Field(i), o); err != nil {
				return err
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		val, ok := o[tag]
		if tag == "" || tag == "-" || !ok {
			continue
		}
		if f.Type == bytesType && len(val) > 0 && val[0] != '"' {
			// a json or jsonb column is its JSON text, as the driver gives it to a
			// []byte; null is nil
			if string(val) != "null" {
				v.Field(i).SetBytes(slices.Clone(val))
			}
			continue
		}
		if scalar(v.Field(i), val) {
			continue
		}
		if err := json.Unmarshal(val, v.Field(i).Addr().Interface()); err != nil {
			return fmt.Errorf("db: column %s: %w", tag, err)
		}
	}
	return nil
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// scalar sets f from val when f is a string, a number, a bool or a time (or a pointer
// to one) and val is plainly one of those, as encoding/json would set it but without
// its machinery: most columns of a row are such, and decoding them through
// encoding/json was a large part of reading a row. It reports false, having set
// nothing, for anything else (a type with its own decoding, an escaped string, a
// value that does not fit), which encoding/json then decodes, errors included.
func scalar(f reflect.Value, val []byte) bool {
	t := f.Type()
	if t.Kind() == reflect.Pointer {
		if string(val) == "null" {
			f.SetZero()
			return true
		}
		e := reflect.New(t.Elem())
		if !scalar(e.Elem(), val) {
			return false
		}
		f.Set(e)
		return true
	}
	if string(val) == "null" {
		return fast(t) // encoding/json leaves a value that is not a pointer as it is
	}
	if t == timeType {
		str, ok := plainString(val)
		if !ok {
			return false
		}
		at, err := time.Parse(time.RFC3339, str)
		if err != nil {
			return false
		}
		f.Set(reflect.ValueOf(at))
		return true
	}
	if !fast(t) {
		return false
	}
	switch t.Kind() {
	case reflect.String:
		str, ok := plainString(val)
		if ok {
			f.SetString(str)
		}
		return ok
	case reflect.Bool:
		switch string(val) {
		case "true":
			f.SetBool(true)
		case "false":
			f.SetBool(false)
		default:
			return false
		}
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(string(val), 10, t.Bits())
		if err != nil {
			return false
		}
		f.SetInt(n)
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(string(val), 10, t.Bits())
		if err != nil {
			return false
		}
		f.SetUint(n)
		return true
	case reflect.Float32, reflect.Float64:
		if val[0] == '"' {
			return false
		}
		x, err := strconv.ParseFloat(string(val), t.Bits())
		if err != nil {
			return false
		}
		f.SetFloat(x)
		return true
	}
	return false
}

// fast reports whether scalar decodes t itself: a time, or a string, bool or number
// type without decoding of its own.
func fast(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		p := reflect.PointerTo(t)
		return !p.Implements(jsonUnmarshaler) && !p.Implements(textUnmarshaler)
	}
	return false
}

// plainString is the JSON string val without its quotes, when it has no escapes.
func plainString(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' || bytes.IndexByte(val, '\\') >= 0 {
		return "", false
	}
	return string(val[1 : len(val)-1]), true
}
