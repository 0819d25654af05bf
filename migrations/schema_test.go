package migrations_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/lib/pq"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// Public IDs are the prefix and 28 characters of the alphabet, every character of the
// alphabet turns up at every position (no position is stuck on part of it), and no two
// are alike.
func TestPublicIDsUseTheWholeAlphabetAtEveryPosition(t *testing.T) {
	d := pgtest.New(t)
	const n = 20000
	var ids []string
	if err := d.Select(&ids, `SELECT new_public_id('ret') FROM generate_series(1, $1)`, n); err != nil {
		t.Fatal(err)
	}
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	form := regexp.MustCompile(`^ret_[` + alphabet + `]{28}$`)
	seen := make(map[string]bool, n)
	var at [28]map[rune]int
	for i := range at {
		at[i] = map[rune]int{}
	}
	for _, id := range ids {
		if !form.MatchString(id) {
			t.Fatalf("%q is not a public ID", id)
		}
		if seen[id] {
			t.Fatalf("%q made twice", id)
		}
		seen[id] = true
		for i, c := range strings.TrimPrefix(id, "ret_") {
			at[i][c]++
		}
	}
	// 20,000 draws over 32 characters: about 625 of each; a character drawn fewer
	// than 400 times at a position means the position is not uniform.
	for i, counts := range at {
		for _, c := range alphabet {
			if counts[c] < 400 {
				t.Errorf("position %d: %q drawn %d times of %d", i, c, counts[c], n)
			}
		}
	}
}

// new_public_id is inlined into the statement that calls it, so that an insert's
// cached plan holds the expression instead of planning a query for every ID.
func TestNewPublicIDIsInlined(t *testing.T) {
	d := pgtest.New(t)
	var plan []string
	if err := d.Select(&plan, `EXPLAIN (VERBOSE) SELECT new_public_id('ret')`); err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(plan, "\n"); !strings.Contains(all, "gen_random_uuid()") {
		t.Fatalf("new_public_id is called, not inlined:\n%s", all)
	}
}

// A row that belongs to a return names the return's merchant: the foreign key on
// (merchant_id, return_id) refuses a timeline entry, email or parcel of one shop that
// points at another shop's return.
func TestReturnRowsBelongToTheReturnsMerchant(t *testing.T) {
	d := pgtest.New(t)
	var a, b, ret int64
	err := d.Get(&a, `INSERT INTO merchants (slug, name) VALUES ('fk-a', 'A') RETURNING id`)
	if err == nil {
		err = d.Get(&b, `INSERT INTO merchants (slug, name) VALUES ('fk-b', 'B') RETURNING id`)
	}
	if err == nil {
		err = d.Get(&ret, `WITH o AS (INSERT INTO orders (merchant_id, number, email, currency, data)
				VALUES ($1, '1001', 'a@example.com', 'EUR', '{}') RETURNING id)
			INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version, currency, quote, total,
				customer_email, created_by)
			SELECT $1, o.id, 'RMA-1', 'requested', 'refund', 1, 'EUR', '{}', 0, 'a@example.com', 'shopper' FROM o
			RETURNING id`, a)
	}
	if err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO return_events (merchant_id, return_id, actor, event, to_state) VALUES ($1, $2, 'shopper', 'created', 'requested')`
	if _, err := d.Exec(insert, a, ret); err != nil {
		t.Fatalf("the return's own merchant: %v", err)
	}
	_, err = d.Exec(insert, b, ret)
	var pgErr *pq.Error
	if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.Constraint != "return_events_return_fkey" {
		t.Fatalf("another merchant's return: %v, want a foreign-key violation", err)
	}
	for _, q := range []string{
		`INSERT INTO email_messages (merchant_id, return_id, kind, ref, data) VALUES ($1, $2, 'return_confirmed', '', '{}')`,
		`INSERT INTO parcels (merchant_id, return_id, number, carrier, service, valid_until) VALUES ($1, $2, 1, 'x', 'y', now())`,
	} {
		if _, err := d.Exec(q, b, ret); !errors.As(err, &pgErr) || pgErr.Code != "23503" {
			t.Errorf("%s: %v, want a foreign-key violation", q, err)
		}
	}
}

// The ledger's parcel trigger runs its function only for an update that changes a
// label's money (the purchase, the void): a tracking poll's or an arrival's update
// neither writes an entry nor calls the function, which read the return and its order
// each time.
func TestTheParcelLedgerRunsOnlyWhenALabelsMoneyChanges(t *testing.T) {
	d := pgtest.New(t)
	tx, err := d.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var parcel int64
	err = tx.Get(&parcel, `WITH m AS (INSERT INTO merchants (slug, name) VALUES ('pl', 'P') RETURNING id),
		o AS (INSERT INTO orders (merchant_id, number, email, currency, data)
			SELECT id, '1001', 'a@example.com', 'EUR', '{}' FROM m RETURNING id, merchant_id),
		r AS (INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version, currency, quote, total,
				customer_email, created_by)
			SELECT merchant_id, id, 'RMA-1', 'approved', 'refund', 1, 'EUR', '{}', 0, 'a@example.com', 'shopper' FROM o
			RETURNING id, merchant_id)
		INSERT INTO parcels (merchant_id, return_id, number, carrier, service, tracking_number, valid_until)
		SELECT merchant_id, id, 1, 'usps', 'ground', '9400100000000000000001', now() + interval '30 days' FROM r
		RETURNING id`)
	if err == nil {
		_, err = tx.Exec(`SET LOCAL track_functions = 'pl'`)
	}
	if err != nil {
		t.Fatal(err)
	}
	step := func(update string, wantCalls int, wantKinds ...string) {
		t.Helper()
		if _, err := tx.Exec(`UPDATE parcels SET `+update+` WHERE id = $1`, parcel); err != nil {
			t.Fatalf("%s: %v", update, err)
		}
		var calls int
		if err := tx.Get(&calls, `SELECT coalesce((SELECT calls FROM pg_stat_xact_user_functions
			WHERE funcname = 'ledger_parcels'), 0)`); err != nil {
			t.Fatal(err)
		}
		var kinds []string
		if err := tx.Select(&kinds, `SELECT kind FROM ledger_entries ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		if calls != wantCalls || strings.Join(kinds, ",") != strings.Join(wantKinds, ",") {
			t.Fatalf("after %s: ledger_parcels called %d times, entries %v; want %d and %v", update, calls, kinds, wantCalls, wantKinds)
		}
	}
	step(`polled_at = now()`, 0)
	step(`label_amount = 745, label_currency = 'USD'`, 1, "label_purchased")
	step(`polled_at = now()`, 1, "label_purchased")
	step(`arrived_at = now()`, 1, "label_purchased")
	step(`voided_at_carrier = now(), void_ref = 'v1'`, 2, "label_purchased", "label_voided")
	step(`polled_at = now()`, 2, "label_purchased", "label_voided")
}
