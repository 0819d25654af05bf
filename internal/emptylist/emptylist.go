// Package emptylist makes the nil slices of a value empty before it is encoded as
// JSON, so that a list in an answer or a webhook is [] when empty, never null: the
// OpenAPI document says a list is an array, and a generated client trusts it. A plan
// per type says where its slices are, so a value without any costs one map look-up.
package emptylist

import (
	"reflect"
	"strings"
	"sync"
)

// Fill returns v with every nil slice inside it empty, except those of omitempty
// fields (they leave the JSON anyway). A pointer is filled in place; any other value
// is copied first.
func Fill(v any) any {
	if v == nil {
		return v
	}
	rv := reflect.ValueOf(v)
	if !planFor(rv.Type()).lists {
		return v
	}
	if rv.Kind() == reflect.Pointer {
		if !rv.IsNil() {
			fill(rv.Elem())
		}
		return v
	}
	// a value is not addressable: fill a copy
	cp := reflect.New(rv.Type()).Elem()
	cp.Set(rv)
	fill(cp)
	return cp.Interface()
}

// plan says whether values of a type can hold a slice anywhere inside.
type plan struct{ lists bool }

var plans sync.Map // reflect.Type → *plan

func planFor(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := &plan{lists: holdsLists(t, map[reflect.Type]bool{})}
	plans.Store(t, p)
	return p
}

func holdsLists(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 // []byte is a string in JSON
	case reflect.Pointer, reflect.Array:
		return holdsLists(t.Elem(), seen)
	case reflect.Map:
		return holdsLists(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && holdsLists(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// fill makes the nil slices in v (addressable) empty, except omitempty fields,
// which leave the answer anyway.
func fill(v reflect.Value) {
	if !planFor(v.Type()).lists {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			fill(v.Elem())
		}
	case reflect.Slice:
		if v.IsNil() {
			if v.CanSet() {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return
		}
		for i := range v.Len() {
			fill(v.Index(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i))
		}
	case reflect.Map:
		// map values are not addressable: fill copies and put them back
		iter := v.MapRange()
		for iter.Next() {
			e := iter.Value()
			if !planFor(e.Type()).lists {
				continue
			}
			cp := reflect.New(e.Type()).Elem()
			cp.Set(e)
			fill(cp)
			v.SetMapIndex(iter.Key(), cp)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Slice && fv.IsNil() && omitsEmpty(f) {
				continue
			}
			fill(fv)
		}
	}
}

func omitsEmpty(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	return strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") || f.Tag.Get("json") == "-"
}
