package merchant

import (
	"context"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// replica is one process's merchant store: its own pool, LISTEN connection and
// cache; forgot reports each time its cache by ID forgets.
func replica(t *testing.T, url string) (*Store, chan struct{}) {
	t.Helper()
	d := pgtest.Open(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	hub := listen.New(url, nil)
	done := make(chan struct{})
	go func() { _ = hub.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s := NewStore(d)
	s.Cache(time.Hour, hub)
	forgot := make(chan struct{}, 100)
	s.byID.OnForget(func() {
		select {
		case forgot <- struct{}{}:
		default:
		}
	})
	return s, forgot
}

// TestAMerchantChangeReachesEveryProcess: two processes cache a merchant (for an
// hour, so only the notification explains what they see); a change saved through
// one is read by the other once the change's notification arrives, by ID and by
// slug, and at once by the process that made it.
func TestAMerchantChangeReachesEveryProcess(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	a, _ := replica(t, url)
	b, bForgot := replica(t, url)
	for listening := false; !listening; { // b hears its channel once its LISTEN is up
		if _, err := d.Exec(`SELECT pg_notify($1, '0')`, Channel); err != nil {
			t.Fatal(err)
		}
		select {
		case <-bForgot:
			listening = true
		case <-time.After(time.Second): // one try; the test's timeout bounds the loop
		}
	}
	m, err := a.Create(ctx, "northwind", "Northwind", Settings{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		if got, err := s.Get(ctx, m.ID); err != nil || got.Name != "Northwind" {
			t.Fatalf("got %+v %v, want Northwind", got, err)
		}
		if got, err := s.BySlug(ctx, "northwind"); err != nil || got.Name != "Northwind" {
			t.Fatalf("by slug: got %+v %v, want Northwind", got, err)
		}
	}
	// b answers from its cache: a row changed with the notification suppressed is
	// not seen
	if _, err := d.Exec(`ALTER TABLE merchants DISABLE TRIGGER merchants_changed`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`UPDATE merchants SET name = 'Hidden' WHERE id = $1`, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`ALTER TABLE merchants ENABLE TRIGGER merchants_changed`); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(ctx, m.ID); got.Name != "Northwind" {
		t.Fatalf("got %q, want the cached Northwind", got.Name)
	}

	if _, _, err := a.Edit(ctx, m.ID, func(m *Merchant) error { m.Name = "Northwind Outfitters"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get(ctx, m.ID); got.Name != "Northwind Outfitters" {
		t.Fatalf("the process that changed it: got %q, want the new name at once", got.Name)
	}
	deadline := time.After(time.Minute) // a bound for a broken notification, not a wait
	for {
		got, err := b.Get(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name == "Northwind Outfitters" {
			break
		}
		select {
		case <-bForgot:
		case <-deadline:
			t.Fatalf("the other process never heard of the change: it still has %q", got.Name)
		}
	}
	if got, _ := b.BySlug(ctx, "northwind"); got.Name != "Northwind Outfitters" {
		t.Fatalf("by slug: got %q, want the new name", got.Name)
	}
}
