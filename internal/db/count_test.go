package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

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

// TestAConnectionIsReplacedWhenItsLifetimeEnds: a pooled connection serves for its
// lifetime and is then replaced by a new one, whose backend plans its statements
// again (a plan made while a table was small is not kept for good).
func TestAConnectionIsReplacedWhenItsLifetimeEnds(t *testing.T) {
	ctx := context.Background()
	_, u := pgtest.NewWithURL(t)
	d, err := db.OpenServing(ctx, u, 1, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	backend := func() int {
		t.Helper()
		var pid int
		if err := d.GetContext(ctx, &pid, `SELECT pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	first := backend()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for backend() == first {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("backend %d still answers 10 s into a 50 ms lifetime", first)
		}
	}
	if closed := d.Stats().MaxLifetimeClosed; closed == 0 {
		t.Errorf("a new backend answers, but no connection was closed for its lifetime (%+v)", d.Stats())
	}
}

// TestOnCommitRunsAfterACommitOnly: a function a statement brings (db.OnCommit) runs
// once its transaction has committed, when what it wrote is visible to others, and
// never for a transaction rolled back, one whose statement failed, or a statement
// outside a transaction; the connection forgets it once its transaction ends.
func TestOnCommitRunsAfterACommitOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	other, u := pgtest.NewWithURL(t)
	if _, err := other.Exec(`CREATE TABLE seen (name text)`); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(ctx, u, 1) // one connection: every transaction below is on it
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var ran []string
	bring := func(q sqlx.ExecerContext, name string) error {
		_, err := q.ExecContext(db.OnCommit(ctx, func() {
			var n int
			if err := other.Get(&n, `SELECT count(*) FROM seen WHERE name = $1`, name); err != nil {
				t.Error(err)
			}
			ran = append(ran, fmt.Sprintf("%s:%d", name, n))
		}), `INSERT INTO seen VALUES ($1)`, name)
		return err
	}

	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bring(tx, "rolled back"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	err = db.Tx(ctx, d, func(tx *sqlx.Tx) error {
		if err := bring(tx, "failed"); err != nil {
			return err
		}
		_, _ = tx.ExecContext(ctx, `SELECT 1 / 0`) // its error ignored: the commit then fails
		return nil
	})
	if err == nil {
		t.Error("a transaction whose statement failed committed without an error")
	}
	if err := bring(d, "alone"); err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, d, func(tx *sqlx.Tx) error {
		if !db.RunsOnCommit(tx) {
			t.Error("a transaction of the pool says it does not run functions at its commit")
		}
		if err := bring(tx, "committed"); err != nil {
			return err
		}
		return bring(tx, "committed too")
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"committed:1", "committed too:1"}; !slices.Equal(ran, want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
	plain := pgtest.Tx(t)
	if db.RunsOnCommit(plain) || db.RunsOnCommit(d) {
		t.Error("another driver's transaction, or the pool itself, says it runs functions at commit")
	}
}
