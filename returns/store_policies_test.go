package returns_test

import (
	"context"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/returns"
)

// TestPolicyVersionsAreReadOnce: a saved policy version never changes, so a store
// reads each version once and answers it from memory after, each caller with a copy
// of its own.
func TestPolicyVersionsAreReadOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := pgtest.New(t)
	m, err := merchant.NewStore(d).Create(ctx, "northwind", "Northwind", merchant.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	store := returns.NewStore(d)
	pol := returns.DefaultPolicy()
	pol.WindowDays = 45
	saved, err := store.PutPolicy(ctx, m.ID, pol, "test")
	if err != nil {
		t.Fatal(err)
	}
	first, err := store.PolicyAt(ctx, m.ID, saved.Version)
	if err != nil {
		t.Fatal(err)
	}
	if first.WindowDays != 45 || first.Version != saved.Version {
		t.Fatalf("got version %d with a %d-day window, want version %d with 45", first.Version, first.WindowDays, saved.Version)
	}
	first.Resolutions[0] = "tampered"
	// the row changes behind the store's back: a process that read the version keeps it
	if _, err := d.Exec(`UPDATE policies SET data = jsonb_set(data, '{window_days}', '7') WHERE merchant_id = $1 AND version = $2`,
		m.ID, saved.Version); err != nil {
		t.Fatal(err)
	}
	tx, err := d.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	again, err := store.PolicyIn(ctx, tx, m.ID, saved.Version)
	if err != nil {
		t.Fatal(err)
	}
	if again.WindowDays != 45 || again.Resolutions[0] == "tampered" {
		t.Errorf("got a %d-day window and resolutions %v, want the version as first read (45 days, untouched)", again.WindowDays, again.Resolutions)
	}
	if fresh, err := returns.NewStore(d).PolicyAt(ctx, m.ID, saved.Version); err != nil || fresh.WindowDays != 7 {
		t.Errorf("another store: got a %d-day window (%v), want it read from the database (7)", fresh.WindowDays, err)
	}
}
