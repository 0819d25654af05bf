package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

func TestChangeRecordsWithTheChangeOrNotAtAll(t *testing.T) {
	t.Parallel()
	d := pgtest.New(t)
	ctx := context.Background()
	var m, other int64
	d.Get(&m, `INSERT INTO merchants (slug, name) VALUES ('shop', 'Shop') RETURNING id`)
	d.Get(&other, `INSERT INTO merchants (slug, name) VALUES ('other', 'Other') RETURNING id`)
	log := audit.NewLog(d)

	// the change and its entry commit together
	err := log.Change(ctx, m, "user:ana", func(tx *sqlx.Tx) (audit.Entry, error) {
		_, err := tx.Exec(`UPDATE merchants SET name = 'Shop Two' WHERE id = $1`, m)
		return audit.Entry{Action: audit.MerchantUpdated, Target: "shop shop", Summary: audit.Lines([]string{"Shop name: Shop → Shop Two"})}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	// a failing change keeps neither
	boom := errors.New("boom")
	err = log.Change(ctx, m, "user:ana", func(tx *sqlx.Tx) (audit.Entry, error) {
		tx.Exec(`UPDATE merchants SET name = 'Lost' WHERE id = $1`, m)
		return audit.Entry{Action: audit.MerchantUpdated}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the change's error", err)
	}
	var name string
	d.Get(&name, `SELECT name FROM merchants WHERE id = $1`, m)
	if name != "Shop Two" {
		t.Errorf("the failed change was kept: %s", name)
	}
	// an entry without an action is refused, and so is its change
	if err := log.Change(ctx, m, "user:ana", func(*sqlx.Tx) (audit.Entry, error) { return audit.Entry{}, nil }); err == nil {
		t.Errorf("an entry without an action was recorded")
	}
	long := strings.Repeat("é", audit.MaxSummary)
	if err := log.Change(ctx, m, "cli", func(*sqlx.Tx) (audit.Entry, error) {
		return audit.Entry{Actor: "key:7", Action: audit.KeyCreated, Target: "API key 7", Summary: long}, nil
	}); err != nil {
		t.Fatal(err)
	}
	audit.Record(ctx, d, other, audit.Entry{Actor: "user:zed", Action: audit.KeyRevoked})

	list, more, err := log.List(ctx, m, "", 1)
	if err != nil || !more || len(list) != 1 {
		t.Fatalf("first page: %v %v %v", list, more, err)
	}
	if e := list[0]; e.Actor != "key:7" || e.Action != audit.KeyCreated || len(e.Summary) > audit.MaxSummary || !strings.HasSuffix(e.Summary, "…") {
		t.Errorf("newest entry: %+v (summary %d bytes)", e.Actor, len(e.Summary))
	}
	list, more, _ = log.List(ctx, m, list[0].ID, 10)
	if more || len(list) != 1 || list[0].Actor != "user:ana" || list[0].Summary != "Shop name: Shop → Shop Two" || list[0].At.IsZero() {
		t.Errorf("second page: %+v, more %v", list, more)
	}
	// the other shop's entry is no cursor of this shop's trail
	theirs, _, err := log.List(ctx, other, "", 1)
	if err != nil || len(theirs) != 1 {
		t.Fatalf("other shop's trail: %v %v", theirs, err)
	}
	if _, _, err := log.List(ctx, m, theirs[0].ID, 10); !cursor.IsUnknown(err) {
		t.Errorf("another shop's entry as the cursor: got %v, want the cursor refused", err)
	}
	// entries cannot be changed or removed
	if _, err := d.Exec(`UPDATE audit_log SET summary = '' WHERE merchant_id = $1`, m); err == nil {
		t.Errorf("an entry was changed")
	}
	if _, err := d.Exec(`DELETE FROM audit_log WHERE merchant_id = $1`, m); err == nil {
		t.Errorf("an entry was removed")
	}
}
