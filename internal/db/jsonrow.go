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
	"sync"
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
		p, err := planOf(v.Type().Elem())
		if err != nil {
			return err
		}
		objs, ok := splitRows(raw)
		if !ok {
			var maps []map[string]json.RawMessage
			if err := json.Unmarshal(raw, &maps); err != nil {
				return fmt.Errorf("db: rows: %w", err)
			}
			objs = make([][]column, len(maps))
			for i, m := range maps {
				objs[i] = columnsOf(m)
			}
		}
		out := reflect.MakeSlice(v.Type(), len(objs), len(objs))
		for i, o := range objs {
			if err := p.fill(out.Index(i), o); err != nil {
				return err
			}
		}
		v.Set(out)
		return nil
	}
	p, err := planOf(v.Type())
	if err != nil {
		return err
	}
	o, ok := splitObject(raw, make([]column, 0, rowColumns))
	if !ok {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("db: row: %w", err)
		}
		o = columnsOf(m)
	}
	return p.fill(v, o)
}

// column is one key of a row's JSON object with its value's text, both sliced from
// the row (not copied).
type column struct{ key, val []byte }

// columnsOf is a row that encoding/json read as its columns.
func columnsOf(m map[string]json.RawMessage) []column {
	cols := make([]column, 0, len(m))
	for k, v := range m {
		cols = append(cols, column{[]byte(k), v})
	}
	return cols
}

// rowColumns is room for the columns of a row of most statements, for one allocation
// where a growing slice took several.
const rowColumns = 40

// splitRows is a JSON array of objects as each object's columns (splitObject), all
// in one backing array sized from the first row; ok false for anything else, which
// encoding/json then reads (or refuses).
func splitRows(raw []byte) (rows [][]column, ok bool) {
	var all []column
	var ends []int
	ok = elements(raw, '[', ']', func(rest []byte) ([]byte, bool) {
		n := valueEnd(rest)
		if n <= 0 {
			return nil, false
		}
		if all == nil {
			// room for as many rows as the first one's length fits in the text, each
			// with as many columns: the rows of one statement are alike
			all = make([]column, 0, len(raw)/n*columnCount(rest[:n]))
		}
		var ok bool
		all, ok = splitObject(rest[:n], all)
		ends = append(ends, len(all))
		return rest[n:], ok
	})
	if !ok {
		return nil, false
	}
	rows = make([][]column, len(ends))
	from := 0
	for i, end := range ends {
		rows[i] = all[from:end:end]
		from = end
	}
	return rows, true
}

// columnCount is how many keys the JSON object raw has at its top level, as far as
// it is a plain object (eachColumn).
func columnCount(raw []byte) int {
	n := 0
	eachColumn(raw, func(_, _ []byte) { n++ })
	return n
}

// splitObject appends the columns of a JSON object (a row as row_to_json writes it)
// to cols: each key with its value's text, sliced from raw, not copied and not
// checked beyond its extent (fill decodes each). Anything that is not a plain object
// (eachColumn) answers ok false: encoding/json then reads it (or refuses it). Reading
// the row once and each column once halves what encoding/json did for a row.
func splitObject(raw []byte, cols []column) (_ []column, ok bool) {
	if !eachColumn(raw, func(key, val []byte) { cols = append(cols, column{key, val}) }) {
		return nil, false
	}
	return cols, true
}

// eachColumn calls f with each key of the JSON object raw (without its quotes) and
// its value's text, and reports whether raw was a plain object: one whose keys have
// no escapes.
func eachColumn(raw []byte, f func(key, val []byte)) bool {
	return elements(raw, '{', '}', func(rest []byte) ([]byte, bool) {
		n := valueEnd(rest)
		if n < 2 || rest[0] != '"' || rest[n-1] != '"' || bytes.IndexByte(rest[1:n-1], '\\') >= 0 {
			return nil, false
		}
		key := rest[1 : n-1]
		rest = skipSpace(rest[n:])
		if len(rest) == 0 || rest[0] != ':' {
			return nil, false
		}
		rest = skipSpace(rest[1:])
		if n = valueEnd(rest); n <= 0 {
			return nil, false
		}
		f(key, rest[:n:n])
		return rest[n:], true
	})
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

// rowPlan is how the rows of one struct type are filled: its fields by their column,
// worked out once per type (reading the tags and asking each field's type how it
// decodes, for every row, was half of filling one).
type rowPlan struct {
	byColumn map[string][]fieldPlan
}

// fieldPlan is one field of a row's struct (of an embedded struct too: index is its
// path).
type fieldPlan struct {
	index  []int
	column string
	typ    reflect.Type
	text   bool // a []byte: a json or jsonb column is its JSON text
	ptr    bool // a pointer: null sets it nil
	scalar bool // setScalar decodes it (a pointer: what it points to); else encoding/json
}

var plans sync.Map // reflect.Type → *rowPlan

// planOf is t's plan; t must be a struct.
func planOf(t reflect.Type) (*rowPlan, error) {
	if p, ok := plans.Load(t); ok {
		return p.(*rowPlan), nil
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("db: unmarshal a row into %s: not a struct", t)
	}
	p := &rowPlan{byColumn: map[string][]fieldPlan{}}
	p.add(t, nil)
	plans.Store(t, p)
	return p, nil
}

// add plans the fields of t, a struct at index within the row's struct; an embedded
// struct's fields are the row's, as sqlx has them.
func (p *rowPlan) add(t reflect.Type, index []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		at := append(slices.Clip(index), i)
		tag, _, _ := strings.Cut(f.Tag.Get("db"), ",")
		if tag == "" && f.Anonymous && f.Type.Kind() == reflect.Struct {
			p.add(f.Type, at)
			continue
		}
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		fp := fieldPlan{index: at, column: tag, typ: f.Type, text: f.Type == bytesType, ptr: f.Type.Kind() == reflect.Pointer}
		if fp.ptr {
			fp.scalar = fast(f.Type.Elem())
		} else {
			fp.scalar = fast(f.Type)
		}
		p.byColumn[tag] = append(p.byColumn[tag], fp)
	}
}

// fill sets the fields of the struct v from the row's columns o (a column without a
// field is left out; of a key given twice, the last counts).
func (p *rowPlan) fill(v reflect.Value, o []column) error {
	for _, c := range o {
		for _, fp := range p.byColumn[string(c.key)] {
			if err := fp.set(v.FieldByIndex(fp.index), c.val); err != nil {
				return err
			}
		}
	}
	return nil
}

// set sets f, this plan's field, from its column's JSON text val, as encoding/json
// would (through it, for what setScalar does not decode).
func (fp *fieldPlan) set(f reflect.Value, val []byte) error {
	null := string(val) == "null"
	switch {
	case fp.text && len(val) > 0 && val[0] != '"':
		// a json or jsonb column is its JSON text, as the driver gives it to a
		// []byte; null is nil
		if !null {
			f.SetBytes(slices.Clone(val))
		}
		return nil
	case fp.ptr && null:
		f.SetZero()
		return nil
	case fp.ptr && fp.scalar:
		e := reflect.New(fp.typ.Elem())
		if setScalar(e.Elem(), val) {
			f.Set(e)
			return nil
		}
	case fp.scalar && null:
		return nil // encoding/json leaves a value that is not a pointer as it is
	case fp.scalar:
		if setScalar(f, val) {
			return nil
		}
	}
	if err := json.Unmarshal(val, f.Addr().Interface()); err != nil {
		return fmt.Errorf("db: column %s: %w", fp.column, err)
	}
	return nil
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// setScalar sets f, of a type fast says it decodes, from val when val is plainly a
// string, a number, a bool or a time, as encoding/json would set it but without its
// machinery: most columns of a row are such, and decoding them through encoding/json
// was a large part of reading a row. It reports false, having set nothing, for
// anything else (an escaped string, a value that does not fit), which encoding/json
// then decodes, errors included.
func setScalar(f reflect.Value, val []byte) bool {
	t := f.Type()
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

// fast reports whether setScalar decodes t: a time, or a string, bool or number type
// without decoding of its own.
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
