package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
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

// withThings is a test database with a table to look things up in: 1 one, 2 two.
func withThings(t *testing.T) *sqlx.DB {
	t.Helper()
	d := pgtest.New(t)
	if _, err := d.Exec(`CREATE TABLE things (id int PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO things VALUES (1, 'one'), (2, 'two')`); err != nil {
		t.Fatal(err)
	}
	return d
}

// hitsOn is the count of bucket, over all its windows.
func hitsOn(t *testing.T, d *sqlx.DB, bucket string) (n int) {
	t.Helper()
	if err := d.Get(&n, `SELECT coalesce(sum(hits), 0) FROM rate_limits WHERE bucket = $1`, bucket); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCountMissCountsOnlyMissesInOneStatement: the caller's look-up rides on the
// attempt: its row comes back (nil when there is none), with its own parameters; an
// attempt that finds its row writes nothing, a miss counts as Allow's hits do, and at
// the limit a found row is refused like a miss.
func TestCountMissCountsOnlyMissesInOneStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := withThings(t)
	hits := func() int { return hitsOn(t, d, "b") }
	l := ratelimit.New(d, 3, time.Minute)
	now := time.Date(2026, 12, 3, 10, 0, 30, 0, time.UTC)
	read := `SELECT id, name FROM things WHERE id = $1 AND name = $2`
	res, err := l.CountMiss(ctx, now, ratelimit.Hit{}, "b", read, 2, "two")
	if err != nil || !res.OK || string(res.Row) != `{"id":2,"name":"two"}` || res.Earlier {
		t.Fatalf("got %+v (%v), want allowed with thing 2 and nothing earlier", res, err)
	}
	if n := hits(); n != 0 {
		t.Fatalf("a found row counted %d hits, want none", n)
	}
	if res, err := l.CountMiss(ctx, now, ratelimit.Hit{}, "b", read, 2, "deux"); err != nil || !res.OK || res.Row != nil || res.Earlier {
		t.Fatalf("no such row: got %+v (%v), want allowed with no row and nothing earlier", res, err)
	}
	if ok, _, err := l.Allow(ctx, "b", now); err != nil || !ok {
		t.Fatalf("second hit: got %v (%v), want allowed", ok, err)
	}
	if res, err := l.CountMiss(ctx, now, ratelimit.Hit{}, "b", read, 1, "one"); err != nil || !res.OK || !res.Earlier || res.Row == nil {
		t.Fatalf("a find after two misses: got %+v (%v), want allowed, with earlier misses", res, err)
	}
	if res, err := l.CountMiss(ctx, now, ratelimit.Hit{}, "b", read, 1, "uno"); err != nil || !res.OK {
		t.Fatalf("third miss: got %+v (%v), want allowed", res, err)
	}
	if n := hits(); n != 3 {
		t.Fatalf("got %d hits, want the 3 misses", n)
	}
	if res, err := l.CountMiss(ctx, now, ratelimit.Hit{}, "b", read, 1, "one"); err != nil || res.OK || res.RetryAfter != 30*time.Second {
		t.Errorf("a find at the limit: got %+v (%v), want refused until the window ends in 30s", res, err)
	}
	if res, err := l.CountMiss(ctx, now, ratelimit.Hit{}, "b", read, 1, "uno"); err != nil || res.OK {
		t.Errorf("a miss at the limit: got %+v (%v), want refused", res, err)
	}
	if n := hits(); n != 4 {
		t.Errorf("got %d hits, want the 4 misses (a refused find is not counted)", n)
	}
}

// TestCountMissCountsTheClientFirst: the client's hit rides on the same statement and
// counts whatever the look-up finds; over the client's limit the attempt is refused
// with the client's wait, and the order's bucket is not counted.
func TestCountMissCountsTheClientFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := withThings(t)
	hits := func(bucket string) int { return hitsOn(t, d, bucket) }
	orders := ratelimit.New(d, 10, time.Minute)
	client := ratelimit.Hit{Limiter: ratelimit.New(d, 2, time.Hour), Bucket: "ip"}
	now := time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)
	read := `SELECT id, name FROM things WHERE id = $1`
	if res, err := orders.CountMiss(ctx, now, client, "order", read, 1); err != nil || !res.OK || res.Row == nil {
		t.Fatalf("a find: got %+v (%v), want allowed with the row", res, err)
	}
	if res, err := orders.CountMiss(ctx, now, client, "order", read, 3); err != nil || !res.OK || res.Row != nil {
		t.Fatalf("a miss: got %+v (%v), want allowed without a row", res, err)
	}
	if c, o := hits("ip"), hits("order"); c != 2 || o != 1 {
		t.Fatalf("got %d client and %d order hits, want 2 and 1", c, o)
	}
	res, err := orders.CountMiss(ctx, now, client, "order", read, 3)
	if err != nil || res.OK || res.RetryAfter != 45*time.Minute {
		t.Fatalf("over the client's limit: got %+v (%v), want refused until the client's window ends in 45m", res, err)
	}
	if c, o := hits("ip"), hits("order"); c != 3 || o != 1 {
		t.Errorf("got %d client and %d order hits, want 3 and the order's not counted", c, o)
	}
}
