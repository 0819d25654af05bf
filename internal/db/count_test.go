package db_test

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// TestStatementsAndCommitsAreCounted checks the counts the load driver reports: every
// statement through a pool db.Open made, and every committed transaction (a rolled
// back one is not a commit).
func TestStatementsAndCommitsAreCounted(t *testing.T) {
	ctx := context.Background()
	_, u := pgtest.NewWithURL(t)
	d, err := db.Open(ctx, u, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s0, c0 := db.Counted.Statements.Load(), db.Counted.Commits.Load()
	var n int
	if err := d.GetContext(ctx, &n, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, d, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE t (x int)`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES ($1)`, 1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if got := db.Counted.Statements.Load() - s0; got != 4 {
		t.Errorf("got %d statements, want 4", got)
	}
	if got := db.Counted.Commits.Load() - c0; got != 1 {
		t.Errorf("got %d commits, want 1", got)
	}
}
