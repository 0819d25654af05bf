package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

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

// shopperOrder makes a merchant and an order and returns their IDs.
func shopperOrder(t *testing.T, d *sqlx.DB) (mid, oid int64) {
	t.Helper()
	if err := d.Get(&mid, `INSERT INTO merchants (slug, name, settings) VALUES ('northwind', 'Northwind', '{}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := d.Get(&oid, `INSERT INTO orders (merchant_id, number, email, currency, data)
		VALUES ($1, 'NW-1', 'ada@example.com', 'EUR', '{}') RETURNING id`, mid); err != nil {
		t.Fatal(err)
	}
	return mid, oid
}

// storedToken is a token as issued before signed tokens: a random secret whose hash
// is kept in shopper_sessions until expires.
func storedToken(t *testing.T, d *sqlx.DB, mid, oid int64, expires time.Time) string {
	t.Helper()
	token := newSecret(ShopperTokenPrefix, 37)
	if _, err := d.Exec(`INSERT INTO shopper_sessions (token_hash, merchant_id, order_id, expires_at) VALUES ($1, $2, $3, $4)`,
		hash(token), mid, oid, expires); err != nil {
		t.Fatal(err)
	}
	return token
}

// TestASignedShopperTokenWorksOnEveryProcessAndWritesNothing: a token issued by one
// process works on another (which shares the key through the database), for its order
// only; issuing it stored no session.
func TestASignedShopperTokenWorksOnEveryProcessAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	mid, oid := shopperOrder(t, d)
	a, b := NewShoppers(pgtest.Open(t, url)), NewShoppers(pgtest.Open(t, url))
	token, exp, err := a.Issue(ctx, mid, oid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(exp); left > ShopperTTL || left < ShopperTTL-time.Minute {
		t.Errorf("expires in %s, want %s", left, ShopperTTL)
	}
	for name, s := range map[string]*Shoppers{"the issuer": a, "another process": b} {
		if p, err := s.Authenticate(ctx, token); err != nil || p.OrderID != oid || p.MerchantID != mid || p.Actor != "shopper" {
			t.Errorf("%s: got %+v %v, want the order's shopper", name, p, err)
		}
	}
	var rows, keys int
	if err := d.Get(&rows, `SELECT count(*) FROM shopper_sessions`); err != nil {
		t.Fatal(err)
	}
	if err := d.Get(&keys, `SELECT count(*) FROM signing_keys`); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || keys != 1 {
		t.Errorf("got %d stored sessions and %d keys, want none and one", rows, keys)
	}
}

// TestAShopperTokenThatWasChangedOrSignedElsewhereIsRefused: any byte changed
// (another order, another merchant, a later expiry), a token signed with another
// database's key, and things that are not tokens are refused.
func TestAShopperTokenThatWasChangedOrSignedElsewhereIsRefused(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	mid, oid := shopperOrder(t, d)
	s := NewShoppers(d)
	token, _, err := s.Issue(ctx, mid, oid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, ShopperTokenPrefix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		changed := bytes.Clone(raw)
		changed[i] ^= 1
		forged := ShopperTokenPrefix + base64.RawURLEncoding.EncodeToString(changed)
		if p, err := s.Authenticate(ctx, forged); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("byte %d changed: got %+v %v, want ErrUnauthenticated", i, p, err)
		}
	}
	elsewhere := pgtest.New(t)
	mid2, oid2 := shopperOrder(t, elsewhere)
	other, _, err := NewShoppers(elsewhere).Issue(ctx, mid2, oid2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"signed with another key": other,
		"not base64":              ShopperTokenPrefix + strings.Repeat("*", len(token)-len(ShopperTokenPrefix)),
		"empty":                   "",
		"the prefix alone":        ShopperTokenPrefix,
		"one character short":     token[:len(token)-1],
	} {
		if p, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: got %+v %v, want ErrUnauthenticated", name, p, err)
		}
	}
}

// TestProcessesThatMakeTheKeyAtOnceShareOne: processes starting together on a new
// database each try to make the key; all end up with the same one.
func TestProcessesThatMakeTheKeyAtOnceShareOne(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	mid, oid := shopperOrder(t, d)
	procs := make([]*Shoppers, 6)
	tokens := make([]string, len(procs))
	errs := make(chan error, len(procs))
	for i := range procs {
		procs[i] = NewShoppers(pgtest.Open(t, url))
		go func() {
			var err error
			tokens[i], _, err = procs[i].Issue(ctx, mid, oid, time.Now())
			errs <- err
		}()
	}
	for range procs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, tok := range tokens {
		for j, s := range procs {
			if _, err := s.Authenticate(ctx, tok); err != nil {
				t.Errorf("token of process %d on process %d: %v", i, j, err)
			}
		}
	}
}

// TestAnEndedStoredShopperSessionStopsWorkingOnEveryProcess: a token issued before
// signed tokens, cached by two processes (for an hour), stops working on both once
// its session row is deleted.
func TestAnEndedStoredShopperSessionStopsWorkingOnEveryProcess(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	mid, oid := shopperOrder(t, d)
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
	token := storedToken(t, d, mid, oid, time.Now().Add(time.Hour))
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

// TestAnExpiredShopperTokenIsRefused: signed or stored, a token stops working when
// it expires.
func TestAnExpiredShopperTokenIsRefused(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	mid, oid := shopperOrder(t, d)
	s, _ := shopperProcess(t, url)
	signed, _, err := s.Issue(ctx, mid, oid, time.Now().Add(-ShopperTTL-time.Second)) // issued already expired
	if err != nil {
		t.Fatal(err)
	}
	stored := storedToken(t, d, mid, oid, time.Now().Add(-time.Second))
	for name, tok := range map[string]string{"signed": signed, "stored": stored} {
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: got %v, want ErrUnauthenticated for an expired token", name, err)
		}
	}
}
