package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// seeder writes orders, returns and refunds straight into the database, with the
// times a test needs.
type seeder struct {
	t  testing.TB
	db *sqlx.DB
}

var seq atomic.Int64

// order inserts an order paid by the payment intent pi and returns its ID.
func (s seeder) order(merchantID int64, number, pi, currency, firstName string) int64 {
	s.t.Helper()
	data, _ := json.Marshal(map[string]any{
		"customer": map[string]any{"email": "ada@example.com", "first_name": firstName, "last_name": "Lovelace",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "country": "GB"}},
		"currency": currency, "placed_at": "2026-02-20T10:00:00Z",
		"lines":   []map[string]any{{"id": "l1", "sku": "TEE", "name": "T-shirt", "quantity": 10, "unit_price": 2500}},
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": pi, "captured": 1_000_000},
	})
	var id int64
	err := s.db.Get(&id, `INSERT INTO orders (merchant_id, number, email, currency, data) VALUES ($1, $2, 'ada@example.com', $3, $4)
		RETURNING id`, merchantID, number, currency, string(data))
	if err != nil {
		s.t.Fatalf("seed order: %v", err)
	}
	return id
}

// ret inserts a return of an order and returns its ID and RMA.
func (s seeder) ret(merchantID, orderID int64, currency string) (int64, string) {
	s.t.Helper()
	rma := fmt.Sprintf("R-T%07d", seq.Add(1))
	var id int64
	err := s.db.Get(&id, `INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version, currency, quote,
		total, customer_email, created_by) VALUES ($1, $2, $3, 'resolving', 'refund', 1, $4, '{}', 0, 'ada@example.com', 'test')
		RETURNING id`, merchantID, orderID, rma, currency)
	if err != nil {
		s.t.Fatalf("seed return: %v", err)
	}
	return id, rma
}

// refund is a refund row to seed.
type refund struct {
	merchant, ret int64
	amount        int64
	currency      string
	status        string
	stripeID      string // empty: not sent
	sent          time.Time
	pi            string
}

func (s seeder) refund(r refund) int64 {
	s.t.Helper()
	var stripeID, pi *string
	var sent, settled *time.Time
	if r.stripeID != "" {
		stripeID, sent = &r.stripeID, &r.sent
		if r.status == "succeeded" || r.status == "failed" || r.status == "canceled" {
			settled = &r.sent
		}
	}
	if r.pi != "" {
		pi = &r.pi
	}
	created := r.sent.Add(-time.Minute)
	var id int64
	err := s.db.Get(&id, `INSERT INTO refunds (merchant_id, return_id, amount, currency, status, stripe_refund_id, payment_intent_id,
		created_at, updated_at, sent_at, settled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10) RETURNING id`,
		r.merchant, r.ret, r.amount, r.currency, r.status, stripeID, pi, created, sent, settled)
	if err != nil {
		s.t.Fatalf("seed refund: %v", err)
	}
	return id
}

// drain runs due outbox jobs until none is left.
func drain(t testing.TB, w *outbox.Worker) {
	t.Helper()
	for {
		did, err := w.RunOne(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return
		}
	}
}

func day(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }

func periodOf(t testing.TB, from, to string) period.Period {
	t.Helper()
	f, err := period.ParseTime(from)
	if err != nil {
		t.Fatal(err)
	}
	u, err := period.ParseTime(to)
	if err != nil {
		t.Fatal(err)
	}
	return period.Period{From: f, To: u}
}

// bulk seeds n succeeded refunds of merchantID in EUR, sent evenly over [from,
// from+spread), perOrder refunds to an order (and its return), with Stripe IDs
// re_bulk_<i> and payment intents pi_bulk_<order>, in one transaction. The refunds
// are inserted with the ledger trigger switched off in that transaction: three
// ledger entries per refund would triple the seeding time, and what the callers
// measure (exports, reconciliation of refunds matched by Stripe ID) never reads them.
func (s seeder) bulk(merchantID int64, n, perOrder int, from time.Time, spread time.Duration) {
	s.t.Helper()
	tx, err := s.db.Beginx()
	if err != nil {
		s.t.Fatal(err)
	}
	defer tx.Rollback()
	orders := (n + perOrder - 1) / perOrder
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orders (merchant_id, number, email, currency, data)
			SELECT $1, 'BULK-' || g, 'bulk' || g || '@example.com', 'EUR', jsonb_build_object(
				'customer', jsonb_build_object('first_name', 'Bulk', 'last_name', 'Shopper ' || g, 'email', 'bulk' || g || '@example.com'),
				'currency', 'EUR', 'placed_at', '2026-02-20T10:00:00Z',
				'lines', jsonb_build_array(jsonb_build_object('id', 'l1', 'sku', 'BULK', 'name', 'Bulk', 'quantity', 100, 'unit_price', 10000)),
				'payment', jsonb_build_object('provider', 'stripe', 'payment_intent_id', 'pi_bulk_' || g, 'captured', 1000000))
			FROM generate_series(1, $2) g`, []any{merchantID, orders}},
		{`INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version, currency, quote, total,
				customer_email, created_by)
			SELECT $1, o.id, 'R-BULK-' || o.id, 'completed', 'refund', 1, 'EUR', '{}', 0, o.email, 'test'
			FROM orders o WHERE o.merchant_id = $1 AND o.number LIKE 'BULK-%'`, []any{merchantID}},
		{`ALTER TABLE refunds DISABLE TRIGGER refunds_ledger_insert`, nil},
		{`INSERT INTO refunds (merchant_id, return_id, amount, currency, status, stripe_refund_id, payment_intent_id,
				created_at, updated_at, sent_at, settled_at)
			SELECT $1, r.id, 1000 + g % 5000, 'EUR', 'succeeded', 're_bulk_' || g, 'pi_bulk_' || ((g - 1) / $3 + 1), t, t, t, t
			FROM generate_series(1, $2) g
			CROSS JOIN LATERAL (SELECT $4::timestamptz + (g - 1) * $5::bigint * interval '1 microsecond' AS t) x
			JOIN orders o ON o.merchant_id = $1 AND o.number = 'BULK-' || ((g - 1) / $3 + 1)
			JOIN returns r ON r.order_id = o.id`, []any{merchantID, n, perOrder, from, (spread / time.Duration(n)).Microseconds()}},
		{`ALTER TABLE refunds ENABLE TRIGGER refunds_ledger_insert`, nil},
	} {
		if _, err := tx.Exec(q.sql, q.args...); err != nil {
			s.t.Fatalf("bulk seed: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		s.t.Fatal(err)
	}
}
