package db_test

import (
	"context"
	"slices"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// TestUnnestKeepsItsGenericPlan runs a batch update joined by key eight times, one
// row each time, on one connection of a pool db.Open made (which prepares its
// statements), and reads how that connection planned it: with db.Unnest it keeps a
// generic plan after its five custom ones; with unnest itself, as PostgreSQL plans
// it, every run is planned again (the reason for db.Unnest: if a PostgreSQL release
// stops doing that, this says so).
func TestUnnestKeepsItsGenericPlan(t *testing.T) {
	ctx := context.Background()
	_, u := pgtest.NewWithURL(t)
	d, err := db.Open(ctx, u, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.MustExecContext(ctx, `CREATE TABLE batch_rows (shop bigint NOT NULL, id bigint PRIMARY KEY, note text NOT NULL DEFAULT '',
		UNIQUE (shop, note, id))`)
	d.MustExecContext(ctx, `INSERT INTO batch_rows (shop, id) SELECT 1, i FROM generate_series(1, 20) i`)

	plans := func(t *testing.T, from string) (custom, generic int) {
		t.Helper()
		q := `UPDATE batch_rows b SET note = x.note FROM ` + from + ` AS x(shop, id, note) WHERE b.shop = x.shop AND b.id = x.id`
		for i := range 8 {
			res, err := d.ExecContext(ctx, q, db.Array([]int64{1}), db.Array([]int64{int64(i + 1)}), db.Array([]string{"run"}))
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("run %d updated %d rows, want 1", i, n)
			}
		}
		if err := d.QueryRowContext(ctx, `SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE statement = $1`, q).
			Scan(&custom, &generic); err != nil {
			t.Fatalf("the connection has not prepared %q: %v", q, err)
		}
		return custom, generic
	}
	// PostgreSQL makes custom plans for a statement's first five runs, then compares
	if custom, generic := plans(t, db.Unnest("$1::bigint[]", "$2::bigint[]", "$3::text[]")); generic == 0 || custom > 5 {
		t.Errorf("db.Unnest: %d custom and %d generic plans in 8 runs, want the generic plan kept after five custom ones", custom, generic)
	}
	if custom, generic := plans(t, `unnest($1::bigint[], $2::bigint[], $3::text[])`); generic != 0 || custom != 8 {
		t.Errorf("unnest: %d custom and %d generic plans in 8 runs, want 8 and 0 (does db.Unnest still matter?)", custom, generic)
	}
}

// TestUnnestRows checks that db.Unnest gives the rows unnest gives: every row of the
// longest array (the others' padded with NULLs), none for empty arrays.
func TestUnnestRows(t *testing.T) {
	d := pgtest.New(t)
	for _, c := range []struct {
		ids   []int64
		notes []string
	}{
		{[]int64{1, 2, 3}, []string{"a", "b", "c"}},
		{[]int64{1}, []string{"a", "b", "c"}},
		{[]int64{1, 2, 3}, []string{"a"}},
		{[]int64{}, []string{}},
	} {
		type row struct {
			ID   *int64  `db:"id"`
			Note *string `db:"note"`
		}
		var got, want []row
		if err := d.Select(&got, `SELECT * FROM `+db.Unnest("$1::bigint[]", "$2::text[]")+` AS x(id, note)`,
			db.Array(c.ids), db.Array(c.notes)); err != nil {
			t.Fatal(err)
		}
		if err := d.Select(&want, `SELECT * FROM unnest($1::bigint[], $2::text[]) AS x(id, note)`,
			db.Array(c.ids), db.Array(c.notes)); err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, func(a, b row) bool {
			return (a.ID == nil) == (b.ID == nil) && (a.ID == nil || *a.ID == *b.ID) &&
				(a.Note == nil) == (b.Note == nil) && (a.Note == nil || *a.Note == *b.Note)
		}) || len(want) != max(len(c.ids), len(c.notes)) {
			t.Errorf("ids %v, notes %v: %d rows, unnest gives %d", c.ids, c.notes, len(got), len(want))
		}
	}
}
