package merchant

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// replica is one process's merchant store: its own pool, LISTEN connection and
// cache; forgot reports each time its cache by ID forgets, heard every payload its
// LISTEN connection delivered on Channel (after the cache's own handlers, in order).
func replica(t *testing.T, url string) (*Store, chan struct{}, chan string) {
	t.Helper()
	d := pgtest.Open(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	hub := listen.New(url, nil)
	done := make(chan struct{})
	go func() { _ = hub.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s := NewStore(d)
	s.Cache(time.Hour, hub)
	heard := make(chan string, 100)
	hub.Subscribe(Channel, func(payload string, _ bool) {
		select {
		case heard <- payload:
		default:
		}
	})
	forgot := make(chan struct{}, 100)
	s.byID.OnForget(func() {
		select {
		case forgot <- struct{}{}:
		default:
		}
	})
	return s, forgot, heard
}

// barrier returns once the replica that heard has dispatched a notification sent
// now, and so every notification committed before it (one connection delivers them
// in order). The payload is an ID no merchant has, so the caches lose nothing by it;
// it is sent again each second until the replica's LISTEN is up.
func barrier(t *testing.T, d interface {
	Exec(string, ...any) (sql.Result, error)
}, heard chan string, n *int) {
	t.Helper()
	for {
		*n--
		mark := strconv.Itoa(*n)
		if _, err := d.Exec(`SELECT pg_notify($1, $2)`, Channel, mark); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(time.Second) // one try; the test's timeout bounds the loop
		for {
			select {
			case p := <-heard:
				if p == mark {
					return
				}
				continue
			case <-timeout:
			}
			break
		}
	}
}

// TestAMerchantChangeReachesEveryProcess: two processes cache a merchant (for an
// hour, so only the notification explains what they see); a change saved through
// one is read by the other once the change's notification arrives, by ID and by
// slug, and at once by the process that made it.
func TestAMerchantChangeReachesEveryProcess(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	a, _, _ := replica(t, url)
	b, bForgot, bHeard := replica(t, url)
	marks := 0
	barrier(t, d, bHeard, &marks) // b's LISTEN is up
	m, err := a.Create(ctx, "northwind", "Northwind", Settings{})
	if err != nil {
		t.Fatal(err)
	}
	// b has heard the creation's own notification before it caches the merchant, so
	// that notification cannot arrive late and empty the cache the check below reads
	barrier(t, d, bHeard, &marks)
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
