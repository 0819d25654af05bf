package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
)

// TestLimitHoldsAcrossAWindowsEnd: a client that used its limit just before a
// window ended is not let in again at once when the next one starts, and gets in
// again once the previous window's hits have aged out.
func TestLimitHoldsAcrossAWindowsEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ratelimit.New(pgtest.New(t), 10, time.Minute)
	end := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for i := range 10 {
		if ok, _, err := l.Allow(ctx, "b", end.Add(-time.Second)); err != nil || !ok {
			t.Fatalf("hit %d: got %v %v, want allowed", i+1, ok, err)
		}
	}
	if ok, wait, err := l.Allow(ctx, "b", end.Add(time.Second)); err != nil || ok || wait <= 0 {
		t.Fatalf("just after the window's end: got %v wait %s (%v), want refused", ok, wait, err)
	}
	if ok, _, err := l.Allow(ctx, "b", end.Add(time.Minute+time.Second)); err != nil || !ok {
		t.Errorf("a window later: got %v (%v), want allowed", ok, err)
	}
	if ok, _, err := l.Allow(ctx, "other", end.Add(time.Second)); err != nil || !ok {
		t.Errorf("another bucket: got %v (%v), want allowed", ok, err)
	}
}

// TestAllowAlongCountsAndReadsInOneStatement: the caller's look-up rides on the hit:
// its row comes back (nil when there is none), with its own parameters, and the hit
// counts against the limit as Allow's do.
func TestAllowAlongCountsAndReadsInOneStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := pgtest.New(t)
	if _, err := d.Exec(`CREATE TABLE things (id int PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO things VALUES (1, 'one'), (2, 'two')`); err != nil {
		t.Fatal(err)
	}
	l := ratelimit.New(d, 3, time.Minute)
	now := time.Date(2026, 12, 3, 10, 0, 30, 0, time.UTC)
	read := `SELECT id, name FROM things WHERE id = $1 AND name = $2`
	ok, _, row, err := l.AllowAlong(ctx, "b", now, read, 2, "two")
	if err != nil || !ok || string(row) != `{"id":2,"name":"two"}` {
		t.Fatalf("got %v %s (%v), want allowed with thing 2", ok, row, err)
	}
	if ok, _, row, err := l.AllowAlong(ctx, "b", now, read, 2, "deux"); err != nil || !ok || row != nil {
		t.Fatalf("no such row: got %v %s (%v), want allowed with no row", ok, row, err)
	}
	if ok, _, err := l.Allow(ctx, "b", now); err != nil || !ok {
		t.Fatalf("third hit: got %v (%v), want allowed", ok, err)
	}
	if ok, wait, _, err := l.AllowAlong(ctx, "b", now, read, 1, "one"); err != nil || ok || wait != 30*time.Second {
		t.Errorf("fourth hit: got %v wait %s (%v), want refused until the window ends in 30s", ok, wait, err)
	}
}
