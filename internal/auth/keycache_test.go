package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// process is one replica's view of the keys: its own pool, its own LISTEN connection
// and its own cache.
func process(t *testing.T, url string, ttl time.Duration) (*Keys, chan struct{}) {
	t.Helper()
	d := pgtest.Open(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	hub := listen.New(url, nil)
	done := make(chan struct{})
	go func() { _ = hub.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	k := NewKeys(d)
	k.Cache(ttl, hub)
	forgotten := make(chan struct{}, 10)
	k.cache.forgotten = func() { forgotten <- struct{}{} }
	return k, forgotten
}

// TestRevokedKeyStopsWorkingOnEveryProcess: a key cached by two processes stops
// working on both as soon as one of them revokes it.
func TestRevokedKeyStopsWorkingOnEveryProcess(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	var mid int64
	if err := d.Get(&mid, `INSERT INTO merchants (slug, name, settings) VALUES ('northwind', 'Northwind', '{}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	a, _ := process(t, url, time.Hour)
	b, bForgot := process(t, url, time.Hour)
	listening(t, d, bForgot)
	key, secret, err := a.Create(ctx, mid, RoleIntegration, "shop")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*Keys{a, b} {
		if _, err := k.Authenticate(ctx, secret); err != nil {
			t.Fatalf("authenticate a live key: %v", err)
		}
	}
	// b answers from its cache now: the row alone no longer decides
	if _, err := d.Exec(`UPDATE api_keys SET role = 'finance' WHERE id = $1`, key.ID); err != nil {
		t.Fatal(err)
	}
	if p, err := b.Authenticate(ctx, secret); err != nil || p.Role != RoleIntegration {
		t.Fatalf("got %+v %v, want the cached integration key", p, err)
	}
	if _, err := a.Revoke(ctx, mid, key.PublicID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("revoking process: got %v, want ErrUnauthenticated at once", err)
	}
	// b answers from its cache until the notification reaches it, then reads the row
	deadline := time.After(time.Minute) // a bound for a broken notification, not a wait
	for {
		if _, err := b.Authenticate(ctx, secret); errors.Is(err, ErrUnauthenticated) {
			break
		}
		select {
		case <-bForgot:
		case <-deadline:
			t.Fatal("the other process never heard of the revocation")
		}
	}
}

// TestCachedKeyLastsNoLongerThanItsTTL: a process that missed every notification
// still stops accepting a revoked key once the cache's ttl has passed.
func TestCachedKeyLastsNoLongerThanItsTTL(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	var mid int64
	if err := d.Get(&mid, `INSERT INTO merchants (slug, name, settings) VALUES ('northwind', 'Northwind', '{}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	k, _ := process(t, url, 30*time.Second)
	now := time.Now()
	k.cache.now = func() time.Time { return now }
	key, secret, err := k.Create(ctx, mid, RoleWarehouse, "station")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// revoked behind the cache's back: no notification
	if _, err := d.Exec(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(ctx, secret); err != nil {
		t.Fatalf("within the ttl: got %v, want the cached key", err)
	}
	now = now.Add(30 * time.Second)
	if _, err := k.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after the ttl: got %v, want ErrUnauthenticated", err)
	}
}

// listening waits until the process whose cache reports on forgot hears notifications:
// its LISTEN connection comes up on its own goroutine, and a revocation announced
// before that is missed (the cache's ttl bounds that case). A notification for a key
// nobody has is sent until one arrives.
func listening(t *testing.T, d *sqlx.DB, forgot chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := d.Exec(`SELECT pg_notify($1, '00')`, revokedChannel); err != nil {
			t.Fatal(err)
		}
		select {
		case <-forgot:
			return
		case <-time.After(time.Second): // bounds one try; the loop ends at the deadline
		}
		if time.Now().After(deadline) {
			t.Fatal("the process never started listening")
		}
	}
}
