package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// shopperProcess is one replica's view of shopper tokens: its own pool, LISTEN
// connection and cache; forgot reports each time its cache forgets.
func shopperProcess(t *testing.T, url string) (*Shoppers, chan struct{}) {
	t.Helper()
	d := pgtest.Open(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	hub := listen.New(url, nil)
	done := make(chan struct{})
	go func() { _ = hub.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s := NewShoppers(d)
	s.Cache(time.Hour, hub)
	forgot := make(chan struct{}, 100)
	s.cache.OnForget(func() {
		select {
		case forgot <- struct{}{}:
		default:
		}
	})
	return s, forgot
}

// TestAnEndedShopperSessionStopsWorkingOnEveryProcess: a token cached by two
// processes (for an hour) stops working on both once its session row is deleted.
func TestAnEndedShopperSessionStopsWorkingOnEveryProcess(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	var mid, oid int64
	if err := d.Get(&mid, `INSERT INTO merchants (slug, name, settings) VALUES ('northwind', 'Northwind', '{}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := d.Get(&oid, `INSERT INTO orders (merchant_id, number, email, currency, data)
		VALUES ($1, 'NW-1', 'ada@example.com', 'EUR', '{}') RETURNING id`, mid); err != nil {
		t.Fatal(err)
	}
	a, _ := shopperProcess(t, url)
	b, bForgot := shopperProcess(t, url)
	for listening := false; !listening; { // b hears its channel once its LISTEN is up
		if _, err := d.Exec(`SELECT pg_notify($1, '')`, sessionChannel); err != nil {
			t.Fatal(err)
		}
		select {
		case <-bForgot:
			listening = true
		case <-time.After(time.Second): // one try; the test's timeout bounds the loop
		}
	}
	token, _, err := a.Issue(ctx, mid, oid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Shoppers{a, b} {
		if p, err := s.Authenticate(ctx, token); err != nil || p.OrderID != oid || p.MerchantID != mid {
			t.Fatalf("got %+v %v, want the order's shopper", p, err)
		}
	}
	if _, err := d.Exec(`DELETE FROM shopper_sessions`); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(time.Minute) // a bound for a broken notification, not a wait
	for {
		if _, err := b.Authenticate(ctx, token); errors.Is(err, ErrUnauthenticated) {
			break
		}
		select {
		case <-bForgot:
		case <-deadline:
			t.Fatal("the other process never heard that the session ended")
		}
	}
}

// TestACachedShopperTokenStillExpires: the cache never outlives the token.
func TestACachedShopperTokenStillExpires(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	var mid, oid int64
	if err := d.Get(&mid, `INSERT INTO merchants (slug, name, settings) VALUES ('northwind', 'Northwind', '{}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := d.Get(&oid, `INSERT INTO orders (merchant_id, number, email, currency, data)
		VALUES ($1, 'NW-1', 'ada@example.com', 'EUR', '{}') RETURNING id`, mid); err != nil {
		t.Fatal(err)
	}
	s, _ := shopperProcess(t, url)
	token, _, err := s.Issue(ctx, mid, oid, time.Now().Add(-ShopperTTL-time.Second)) // issued and cached, already expired
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("got %v, want ErrUnauthenticated for an expired token", err)
	}
}
