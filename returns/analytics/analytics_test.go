package analytics_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/returns"
	"github.com/roundtriphq/roundtrip/returns/analytics"
)

type line struct {
	id, sku, category string
	quantity          int
}

type item struct {
	line   string
	sku    string
	qty    int
	reason returns.ReasonCode
}

type shop struct {
	t  *testing.T
	db *sqlx.DB
	m  int64
	n  int
}

func (s *shop) order(number string, placed time.Time, lines ...line) int64 {
	s.t.Helper()
	var ls []map[string]any
	for _, l := range lines {
		ls = append(ls, map[string]any{"id": l.id, "sku": l.sku, "name": l.sku, "category": l.category, "quantity": l.quantity, "unit_price": 1000})
	}
	data, _ := json.Marshal(map[string]any{"currency": "EUR", "placed_at": placed.Format(time.RFC3339), "lines": ls,
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_" + number, "captured": 100000}})
	var id int64
	if err := s.db.Get(&id, `INSERT INTO orders (merchant_id, number, email, currency, data) VALUES ($1, $2, 'ada@example.com', 'EUR', $3)
		RETURNING id`, s.m, number, string(data)); err != nil {
		s.t.Fatal(err)
	}
	return id
}

func (s *shop) ret(order int64, state string, created time.Time, items ...item) int64 {
	s.t.Helper()
	s.n++
	var id int64
	if err := s.db.Get(&id, `INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version, currency, quote,
		total, customer_email, created_by, created_at) VALUES ($1, $2, $3, $4, 'refund', 1, 'EUR', '{}', 0, 'ada@example.com', 'test', $5)
		RETURNING id`, s.m, order, "R-A"+string(rune('A'+s.n)), state, created); err != nil {
		s.t.Fatal(err)
	}
	for _, it := range items {
		if _, err := s.db.Exec(`INSERT INTO return_items (merchant_id, return_id, line_id, sku, name, quantity, first_unit, reason, amount)
			VALUES ($1, $2, $3, $4, $4, $5, 0, $6, 0)`, s.m, id, it.line, it.sku, it.qty, it.reason); err != nil {
			s.t.Fatal(err)
		}
	}
	return id
}

func (s *shop) refund(ret, amount int64, status string, created time.Time, settled *time.Time) {
	s.t.Helper()
	if _, err := s.db.Exec(`INSERT INTO refunds (merchant_id, return_id, amount, currency, status, created_at, settled_at)
		VALUES ($1, $2, $3, 'EUR', $4, $5, $6)`, s.m, ret, amount, status, created, settled); err != nil {
		s.t.Fatal(err)
	}
}

func at(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, time.UTC) }

func ptr[T any](v T) *T { return &v }

func TestSummary(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	tenant := env.Merchant(t, "northwind")
	s := &shop{t: t, db: env.DB, m: tenant.Merchant.ID}

	o1 := s.order("NW-1", at(3, 2, 9), line{"l1", "TEE", "t-shirts", 4}, line{"l2", "CAP", "hats", 2})
	o2 := s.order("NW-2", at(3, 5, 9), line{"l1", "TEE", "t-shirts", 6})
	o3 := s.order("NW-3", at(2, 20, 9), line{"l1", "MUG", "kitchen", 1})
	r1 := s.ret(o1, "completed", at(3, 3, 10), item{"l1", "TEE", 2, returns.ReasonTooSmall}, item{"l2", "CAP", 1, returns.ReasonDamaged})
	s.refund(r1, 5000, "succeeded", at(3, 3, 11), ptr(at(3, 4, 10)))
	r2 := s.ret(o2, "completed", at(3, 6, 0), item{"l1", "TEE", 1, returns.ReasonWrongItem})
	s.refund(r2, 2000, "succeeded", at(3, 6, 1), ptr(at(3, 6, 12)))
	s.refund(r2, 1000, "succeeded", at(3, 6, 2), ptr(at(3, 8, 12)))
	s.refund(r2, 700, "failed", at(3, 6, 3), ptr(at(3, 6, 4)))
	r3 := s.ret(o3, "resolving", at(3, 10, 0), item{"l1", "MUG", 1, returns.ReasonChangedMind})
	s.refund(r3, 900, "queued", at(3, 10, 1), nil)
	s.ret(o2, "cancelled", at(3, 7, 0), item{"l1", "TEE", 2, returns.ReasonTooLarge})
	s.ret(o1, "completed", at(4, 2, 0), item{"l1", "TEE", 1, returns.ReasonTooSmall}) // after the period
	if _, err := env.DB.Exec(`INSERT INTO store_credit_entries (merchant_id, email, currency, amount, kind, created_at) VALUES
		($1, 'a@x', 'EUR', 3000, 'issued', '2026-03-05'), ($1, 'a@x', 'EUR', 300, 'bonus', '2026-03-05'),
		($1, 'a@x', 'EUR', -1000, 'redeemed', '2026-03-20'), ($1, 'a@x', 'EUR', 9999, 'issued', '2026-02-05')`, s.m); err != nil {
		t.Fatal(err)
	}
	// another merchant's return in the period counts for nothing here
	other := &shop{t: t, db: env.DB, m: env.Merchant(t, "southwind").Merchant.ID, n: 100}
	oo := other.order("SW-1", at(3, 2, 9), line{"l1", "TEE", "t-shirts", 50})
	other.refund(other.ret(oo, "completed", at(3, 3, 0), item{"l1", "TEE", 50, returns.ReasonDamaged}), 99, "failed", at(3, 3, 1), nil)

	p := period.Period{From: at(3, 1, 0), To: at(4, 1, 0)}
	got, err := analytics.Summarize(t.Context(), env.DB, s.m, p, 50)
	if err != nil {
		t.Fatal(err)
	}
	if got.Returns != 4 || got.Items != 5 || got.Units != 7 {
		t.Errorf("got %d returns, %d items, %d units; want 4, 5, 7", got.Returns, got.Items, got.Units)
	}
	if got.MerchantFaultShare != 0.2857 {
		t.Errorf("got merchant-fault share %v, want 0.2857 (2 of 7 units)", got.MerchantFaultShare)
	}
	reasons := map[returns.ReasonCode][3]int64{}
	for _, r := range got.ByReason {
		reasons[r.Reason] = [3]int64{r.Returns, r.Items, r.Units}
	}
	wantReasons := map[returns.ReasonCode][3]int64{
		returns.ReasonTooSmall: {1, 1, 2}, returns.ReasonDamaged: {1, 1, 1}, returns.ReasonWrongItem: {1, 1, 1},
		returns.ReasonChangedMind: {1, 1, 1}, returns.ReasonTooLarge: {1, 1, 2}, returns.ReasonNotAsDescribed: {},
		returns.ReasonArrivedLate: {}, returns.ReasonOther: {},
	}
	if !reflect.DeepEqual(reasons, wantReasons) || len(got.ByReason) != len(returns.Reasons()) {
		t.Errorf("by reason: got %v, want %v", reasons, wantReasons)
	}
	wantSKU := []analytics.SKUStat{
		// of the 10 TEEs ordered in March, 4 went back: 2 + 1 in March, 1 in April; the cancelled return counts for nothing
		{SKU: "TEE", Name: "TEE", Category: "t-shirts", Items: 3, Units: 5, UnitsOrdered: ptr[int64](10), UnitsReturned: ptr[int64](4), ReturnRate: ptr(0.4)},
		{SKU: "CAP", Name: "CAP", Category: "hats", Items: 1, Units: 1, UnitsOrdered: ptr[int64](2), UnitsReturned: ptr[int64](1), ReturnRate: ptr(0.5)},
		{SKU: "MUG", Name: "MUG", Category: "kitchen", Items: 1, Units: 1},
	}
	if !reflect.DeepEqual(got.BySKU, wantSKU) {
		b, _ := json.Marshal(got.BySKU)
		t.Errorf("by SKU: got %s", b)
	}
	wantCat := []analytics.CategoryStat{{"t-shirts", 3, 5}, {"hats", 1, 1}, {"kitchen", 1, 1}}
	if !reflect.DeepEqual(got.ByCategory, wantCat) {
		t.Errorf("by category: got %+v, want %+v", got.ByCategory, wantCat)
	}
	wantRefunds := []analytics.CurrencyRefunds{{Currency: "EUR", Count: 5, Amount: 9600, Succeeded: 3, SucceededAmount: 8000,
		InFlight: 1, InFlightAmount: 900, Failed: 1, FailedAmount: 700}}
	if !reflect.DeepEqual(got.Refunds, wantRefunds) || got.RefundsFailed != 1 {
		t.Errorf("refunds: got %+v and %d failed, want %+v and 1", got.Refunds, got.RefundsFailed, wantRefunds)
	}
	if want := []analytics.CurrencyStoreCredit{{Currency: "EUR", Issued: 3000, Bonus: 300, Redeemed: 1000}}; !reflect.DeepEqual(got.StoreCredit, want) {
		t.Errorf("store credit: got %+v, want %+v", got.StoreCredit, want)
	}
	// R1 waited 24 h, R2 12 h (its first refund that succeeded)
	tt := got.TimeToRefund
	if tt.Returns != 2 || tt.P50Seconds == nil || *tt.P50Seconds != 64800 || *tt.P95Seconds != 84240 {
		t.Errorf("time to refund: got %d returns, p50 %v, p95 %v; want 2, 64800, 84240", tt.Returns, deref(tt.P50Seconds), deref(tt.P95Seconds))
	}

	empty, err := analytics.Summarize(t.Context(), env.DB, s.m, period.Period{From: at(1, 1, 0), To: at(1, 2, 0)}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if empty.Returns != 0 || empty.MerchantFaultShare != 0 || empty.TimeToRefund.P50Seconds != nil || len(empty.BySKU) != 0 {
		t.Errorf("an empty period: got %+v", empty)
	}

	for _, c := range []struct {
		role   auth.Role
		query  string
		status int
	}{
		{auth.RoleFinance, "from=2026-03-01&to=2026-04-01", http.StatusOK},
		{auth.RoleAdmin, "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&top=1", http.StatusOK},
		{auth.RoleWarehouse, "from=2026-03-01&to=2026-04-01", http.StatusForbidden},
		{auth.RoleFinance, "from=2026-04-01&to=2026-03-01", http.StatusUnprocessableEntity},
		{auth.RoleFinance, "to=2026-03-01", http.StatusUnprocessableEntity},
	} {
		res := env.Do(t, "GET", "/v1/analytics/summary?"+c.query, tenant.Keys[c.role], nil)
		if res.Status != c.status {
			t.Errorf("%s ?%s: got %d %s, want %d", c.role, c.query, res.Status, res.Body, c.status)
		}
		if c.role == auth.RoleAdmin {
			var body analytics.Summary
			res.JSON(t, &body)
			if len(body.BySKU) != 1 || body.Returns != 4 {
				t.Errorf("top=1: got %d SKUs and %d returns", len(body.BySKU), body.Returns)
			}
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestReturnRateOfASKUNeverReturned(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	s := &shop{t: t, db: env.DB, m: env.Merchant(t, "northwind").Merchant.ID}
	o := s.order("NW-1", at(3, 2, 9), line{"l1", "TEE", "t-shirts", 4}, line{"l2", "SOCK", "socks", 3})
	s.ret(o, "completed", at(3, 3, 10), item{"l1", "TEE", 1, returns.ReasonTooSmall})

	got, err := analytics.Summarize(t.Context(), env.DB, s.m, period.Period{From: at(3, 1, 0), To: at(4, 1, 0)}, 50)
	if err != nil {
		t.Fatal(err)
	}
	want := []analytics.SKUStat{
		{SKU: "TEE", Name: "TEE", Category: "t-shirts", Items: 1, Units: 1, UnitsOrdered: ptr[int64](4), UnitsReturned: ptr[int64](1), ReturnRate: ptr(0.25)},
		{SKU: "SOCK", Name: "SOCK", Category: "socks", UnitsOrdered: ptr[int64](3), UnitsReturned: ptr[int64](0), ReturnRate: ptr(0.0)},
	}
	if !reflect.DeepEqual(got.BySKU, want) {
		b, _ := json.Marshal(got.BySKU)
		t.Errorf("by SKU: got %s, want SOCK with 0 of 3 returned and return_rate 0", b)
	}
}
