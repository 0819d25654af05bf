package notify

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// replica is one process's webhooks service: its own pool, its own LISTEN connection
// and its own cache of endpoints. forgot reports each time its cache forgets.
func replica(t *testing.T, url string, ttl time.Duration) (s *Service, forgot chan struct{}) {
	t.Helper()
	d := pgtest.Open(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	hub := listen.New(url, nil)
	done := make(chan struct{})
	go func() { _ = hub.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s = New(d, Options{AllowHTTP: true, AllowPrivate: true})
	s.CacheEndpoints(ttl, hub)
	forgot = make(chan struct{}, 100)
	s.endpoints.OnForget(func() {
		select {
		case forgot <- struct{}{}:
		default:
		}
	})
	return s, forgot
}

// deliveriesAfter publishes an event through s in a transaction of its own and
// returns how many deliveries it made.
func deliveriesAfter(t *testing.T, s *Service, d *sqlx.DB, merchantID int64) int {
	t.Helper()
	ctx := context.Background()
	var before, after int
	if err := d.Get(&before, `SELECT count(*) FROM webhook_deliveries`); err != nil {
		t.Fatal(err)
	}
	tx, err := s.db.(*sqlx.DB).BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := s.Publish(ctx, tx, merchantID, ReturnCreated, map[string]int{"id": 1}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := d.Get(&after, `SELECT count(*) FROM webhook_deliveries`); err != nil {
		t.Fatal(err)
	}
	return after - before
}

// sees waits until s's cached list of endpoints for merchantID has want entries,
// checking again each time its cache forgets; the deadline bounds a broken
// notification, it is not a wait for time to pass.
func sees(t *testing.T, s *Service, forgot chan struct{}, merchantID int64, want int, what string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		ids, err := s.subscribers(context.Background(), s.db, merchantID, ReturnCreated)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == want {
			return
		}
		select {
		case <-forgot:
		case <-deadline:
			t.Fatalf("the other process never heard that %s: its cache has %d endpoints, want %d", what, len(ids), want)
		}
	}
}

// TestAnEndpointChangeReachesEveryProcess: two processes cache a merchant's endpoints
// (for an hour, so only the notification can explain what they see); an endpoint
// created, disabled or deleted through one of them is used or left alone by the
// other as soon as the change's notification arrives.
func TestAnEndpointChangeReachesEveryProcess(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	var mid int64
	if err := d.Get(&mid, `INSERT INTO merchants (slug, name, settings) VALUES ('northwind', 'Northwind', '{}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	a, _ := replica(t, url, time.Hour)
	b, bForgot := replica(t, url, time.Hour)
	// b listens once a notification of its own channel reaches it
	for listening := false; !listening; {
		if _, err := d.Exec(`SELECT pg_notify($1, '0')`, EndpointChannel); err != nil {
			t.Fatal(err)
		}
		select {
		case <-bForgot:
			listening = true
		case <-time.After(time.Second): // one try; the test's own timeout bounds the loop
		}
	}

	if n := deliveriesAfter(t, b, d, mid); n != 0 {
		t.Fatalf("no endpoint: got %d deliveries, want 0", n)
	}
	// b's cache holds "no endpoints" now: a row written with the notifications
	// suppressed (a trigger-less copy of the change) is not seen
	if _, err := d.Exec(`ALTER TABLE webhook_endpoints DISABLE TRIGGER webhook_endpoints_changed`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO webhook_endpoints (merchant_id, id, url, secret, created_at, updated_at)
		VALUES ($1, 'we_hidden', 'http://127.0.0.1:9/hidden', 'whsec_x', now(), now())`, mid); err != nil {
		t.Fatal(err)
	}
	if ids, err := b.subscribers(ctx, b.db, mid, ReturnCreated); err != nil || len(ids) != 0 {
		t.Fatalf("got %v %v, want the cached empty list", ids, err)
	}
	if _, err := d.Exec(`DELETE FROM webhook_endpoints WHERE id = 'we_hidden'`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`ALTER TABLE webhook_endpoints ENABLE TRIGGER webhook_endpoints_changed`); err != nil {
		t.Fatal(err)
	}
	e, _, err := a.CreateEndpoint(ctx, mid, EndpointInput{URL: "http://127.0.0.1:9/hook", Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	sees(t, b, bForgot, mid, 1, "an endpoint was created")
	if n := deliveriesAfter(t, b, d, mid); n != 1 {
		t.Fatalf("after the endpoint was created: got %d deliveries, want 1", n)
	}

	off := false
	if _, err := a.UpdateEndpoint(ctx, mid, e.ID, EndpointPatch{Enabled: &off}, "test"); err != nil {
		t.Fatal(err)
	}
	sees(t, b, bForgot, mid, 0, "the endpoint was disabled")
	if n := deliveriesAfter(t, b, d, mid); n != 0 {
		t.Fatalf("after the endpoint was disabled: got %d deliveries, want 0", n)
	}

	on := true
	if _, err := a.UpdateEndpoint(ctx, mid, e.ID, EndpointPatch{Enabled: &on}, "test"); err != nil {
		t.Fatal(err)
	}
	sees(t, b, bForgot, mid, 1, "the endpoint was enabled again")
	if n := deliveriesAfter(t, b, d, mid); n != 1 {
		t.Fatalf("after the endpoint was enabled again: got %d deliveries, want 1", n)
	}
	if err := a.DeleteEndpoint(ctx, mid, e.ID); err != nil {
		t.Fatal(err)
	}
	sees(t, b, bForgot, mid, 0, "the endpoint was deleted")
	if n := deliveriesAfter(t, b, d, mid); n != 0 {
		t.Fatalf("after the endpoint was deleted: got %d deliveries, want 0", n)
	}
}

// TestAStaleEndpointListMakesNoDelivery: a process whose cached list still names an
// endpoint that was disabled (its notification not yet arrived) makes no delivery to
// it, and the publish still succeeds.
func TestAStaleEndpointListMakesNoDelivery(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	var mid int64
	if err := d.Get(&mid, `INSERT INTO merchants (slug, name, settings) VALUES ('northwind', 'Northwind', '{}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	s := New(pgtest.Open(t, url), Options{AllowHTTP: true, AllowPrivate: true})
	s.CacheEndpoints(time.Hour, nil) // no LISTEN: nothing tells it
	e, _, err := s.CreateEndpoint(ctx, mid, EndpointInput{URL: "http://127.0.0.1:9/hook", Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := deliveriesAfter(t, s, d, mid); n != 1 {
		t.Fatalf("got %d deliveries, want 1", n)
	}
	if _, err := d.Exec(`UPDATE webhook_endpoints SET enabled = false WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	if n := deliveriesAfter(t, s, d, mid); n != 0 {
		t.Fatalf("stale list naming a disabled endpoint: got %d deliveries, want 0", n)
	}
}
