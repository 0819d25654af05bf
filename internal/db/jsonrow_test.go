package db

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

type jsonBase struct {
	ID      int64   `db:"id"`
	Name    string  `db:"name"`
	Note    *string `db:"note"`
	Missing *int64  `db:"missing"`
}

type jsonStatus string

// jsonUpper is a type with its own decoding, which must be used.
type jsonUpper string

func (u *jsonUpper) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*u = jsonUpper("<" + s + ">")
	return nil
}

type jsonRow struct {
	jsonBase
	Status  jsonStatus      `db:"status"`
	Upper   jsonUpper       `db:"upper"`
	Count   int             `db:"count"`
	Small   int32           `db:"small"`
	OK      bool            `db:"ok"`
	Ratio   float64         `db:"ratio"`
	At      time.Time       `db:"at"`
	When    *time.Time      `db:"when"`
	Never   *time.Time      `db:"never"`
	Data    []byte          `db:"data"`
	Blob    []byte          `db:"blob"`
	Raw     json.RawMessage `db:"raw"`
	Tags    []string        `db:"tags"`
	Escaped string          `db:"escaped"`
	Unicode string          `db:"unicode"`
	skipped string
}

const jsonRowText = `{"id": 42, "name": "Ada", "note": "a note", "missing": null, "status": "pending",
	"upper": "x", "count": -7, "small": 12, "ok": true, "ratio": 0.25,
	"at": "2026-12-03T08:05:52.719295+00:00", "when": "2026-12-03T09:00:00+01:00", "never": null,
	"data": {"a": [1, 2]}, "blob": "AAEC", "raw": {"b": "c"}, "tags": ["x", "y"],
	"escaped": "line\nbreak \"quoted\" \u00e9", "unicode": "東京 ✓", "skipped": "no", "extra": 1}`

// TestUnmarshalRowsDecodesEveryKindOfColumn: each field gets its column as
// encoding/json would decode it (types with their own decoding included), a json
// column into []byte is its text, a base64 string is a bytea, null leaves a pointer
// nil, and keys without a field are ignored.
func TestUnmarshalRowsDecodesEveryKindOfColumn(t *testing.T) {
	var got jsonRow
	if err := UnmarshalRows([]byte(jsonRowText), &got); err != nil {
		t.Fatal(err)
	}
	note := "a note"
	at, _ := time.Parse(time.RFC3339Nano, "2026-12-03T08:05:52.719295+00:00")
	when, _ := time.Parse(time.RFC3339, "2026-12-03T09:00:00+01:00")
	want := jsonRow{jsonBase: jsonBase{ID: 42, Name: "Ada", Note: &note}, Status: "pending", Upper: "<x>", Count: -7, Small: 12,
		OK: true, Ratio: 0.25, At: at, When: &when, Data: []byte(`{"a": [1, 2]}`), Blob: []byte{0, 1, 2},
		Raw: json.RawMessage(`{"b": "c"}`), Tags: []string{"x", "y"}, Escaped: "line\nbreak \"quoted\" é", Unicode: "東京 ✓"}
	if !reflect.DeepEqual(got, want) || got.skipped != "" {
		t.Errorf("got  %+v\nwant %+v (an unexported field left alone)", got, want)
	}
	var list []jsonRow
	if err := UnmarshalRows([]byte(`[`+jsonRowText+`, {"id": 1, "when": null}]`), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !reflect.DeepEqual(list[0], want) || list[1].ID != 1 || list[1].When != nil {
		t.Errorf("got rows %+v, want the row above and one with ID 1", list)
	}
	for _, bad := range []string{`{"id": "x"}`, `{"ok": 1}`, `{"at": "yesterday"}`, `{"count": 1.5}`, `{"ratio": }`,
		`{"id": 1 2}`, `{"id": 1`, `{"id": 1}x`, `{"name": "open}`, `{"ok": tru}`, `[{"id": 1},]`, `{"id"}`, `nope`} {
		if err := UnmarshalRows([]byte(bad), &jsonRow{}); err == nil {
			t.Errorf("%s: decoded, want an error", bad)
		}
	}
	for _, bad := range []string{`[{"id": 1},]`, `[{"id": 1}`, `[1]`, `{"id": 1}`, `[,]`, `[,{"id": 1}]`, `[:]`} {
		if err := UnmarshalRows([]byte(bad), &[]jsonRow{}); err == nil {
			t.Errorf("%s as rows: decoded, want an error", bad)
		}
	}
	var empty []jsonRow
	if err := UnmarshalRows([]byte(` [ ] `), &empty); err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("no rows: got %v (%v), want an empty list", empty, err)
	}
}

// TestUnmarshalRowsAsEncodingJSONWould: of a key given twice the last counts, a field
// without a column keeps its value, a key with escapes is read by encoding/json (and
// still fills its field), and two types with the same columns each get their own.
func TestUnmarshalRowsAsEncodingJSONWould(t *testing.T) {
	r := jsonRow{Count: 9, Status: "kept"}
	if err := UnmarshalRows([]byte(`{"id": 1, "name": "a", "id": 2}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.ID != 2 || r.Name != "a" || r.Count != 9 || r.Status != "kept" {
		t.Errorf("got %+v, want ID 2 (the last), name a, and count and status as they were", r)
	}
	var escaped []jsonRow
	if err := UnmarshalRows([]byte(`[{"id": 3, "na\u006de": "b"}, {"id": 4}]`), &escaped); err != nil {
		t.Fatal(err)
	}
	if len(escaped) != 2 || escaped[0].ID != 3 || escaped[0].Name != "b" || escaped[1].ID != 4 {
		t.Errorf("got %+v, want rows 3 (name b) and 4", escaped)
	}
	type other struct {
		ID   string `db:"id"`
		Name []byte `db:"name"`
	}
	var o other
	if err := UnmarshalRows([]byte(`{"id": "x", "name": {"n": 1}}`), &o); err != nil {
		t.Fatal(err)
	}
	if o.ID != "x" || string(o.Name) != `{"n": 1}` {
		t.Errorf("got %+v, want the other type's own fields", o)
	}
	if err := UnmarshalRows([]byte(`[]`), &[]int{}); err == nil {
		t.Error("rows into a list of ints: decoded, want an error")
	}
}

func BenchmarkUnmarshalRows(b *testing.B) {
	raw := []byte(jsonRowText)
	b.ReportAllocs()
	for b.Loop() {
		var r jsonRow
		if err := UnmarshalRows(raw, &r); err != nil {
			b.Fatal(err)
		}
	}
}
