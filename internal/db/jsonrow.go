package db

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
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
		var objs []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &objs); err != nil {
			return fmt.Errorf("db: rows: %w", err)
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
	var o map[string]json.RawMessage
	if err := json.Unmarshal(raw, &o); err != nil {
		return fmt.Errorf("db: row: %w", err)
	}
	return fill(v, o)
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
		if err := json.Unmarshal(val, v.Field(i).Addr().Interface()); err != nil {
			return fmt.Errorf("db: column %s: %w", tag, err)
		}
	}
	return nil
}
