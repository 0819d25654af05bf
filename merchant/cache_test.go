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

// TestACarrierSettingsChangeReachesEveryProcess: two processes cache a merchant's
// carrier settings (for an hour); a change saved in one process's transaction is
// read by the other once the change's notification arrives, and so is a new
// tracking webhook token. (Changes are committed from a third connection: the
// notification, not the process, carries them.)
func TestACarrierSettingsChangeReachesEveryProcess(t *testing.T) {
	ctx := context.Background()
	d, url := pgtest.NewWithURL(t)
	a, _, _ := replica(t, url)
	b, _, bHeard := replica(t, url)
	carriersForgot := make(chan struct{}, 100)
	b.carriers.OnForget(func() {
		select {
		case carriersForgot <- struct{}{}:
		default:
		}
	})
	marks := 0
	barrier(t, d, bHeard, &marks)
	m, err := a.Create(ctx, "northwind", "Northwind", Settings{})
	if err != nil {
		t.Fatal(err)
	}
	barrier(t, d, bHeard, &marks)
	if got, err := b.CarrierIn(ctx, d, m.ID); err != nil || got.Carrier != CarrierOwn {
		t.Fatalf("got %+v %v, want own labels (never set)", got, err)
	}
	// b answers from its cache: a row written with the notification suppressed is
	// not seen
	for _, q := range []string{`ALTER TABLE carrier_settings DISABLE TRIGGER carrier_settings_changed`,
		`INSERT INTO carrier_settings (merchant_id, carrier, shippo_token) VALUES (` + strconv.FormatInt(m.ID, 10) + `, 'shippo', 'hidden')`,
		`ALTER TABLE carrier_settings ENABLE TRIGGER carrier_settings_changed`} {
		if _, err := d.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := b.CarrierIn(ctx, d, m.ID); got.Carrier != CarrierOwn {
		t.Fatalf("got %q, want the cached own labels", got.Carrier)
	}

	token := "shippo_test_new"
	tx, err := d.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := SetCarrierSettings(ctx, tx, m.ID, CarrierSettingsInput{Carrier: CarrierShippo, ShippoToken: &token}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func(CarrierSettings) bool) {
		t.Helper()
		deadline := time.After(time.Minute) // a bound for a broken notification, not a wait
		for {
			got, err := b.CarrierIn(ctx, d, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if ok(got) {
				return
			}
			select {
			case <-carriersForgot:
			case <-deadline:
				t.Fatalf("the other process never heard of %s: it still has %+v", what, got)
			}
		}
	}
	waitFor("the new Shippo token", func(c CarrierSettings) bool { return c.Carrier == CarrierShippo && c.ShippoToken == token })

	tx, err = d.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RotateWebhookToken(ctx, tx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitFor("the new webhook token", func(c CarrierSettings) bool { return c.WebhookTokenSet })
}
