package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
	"github.com/roundtriphq/roundtrip/refunds/ledger"
	"github.com/roundtriphq/roundtrip/returns"
)

// fixture is a merchant with one order and one return, written straight into a
// fresh database.
type fixture struct {
	db       *sqlx.DB
	merchant int64
	order    int64
	ret      int64
	rma      string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	d := pgtest.New(t)
	m, err := merchant.NewStore(d).Create(context.Background(), "northwind", "Northwind", merchant.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{db: d, merchant: m.ID, rma: "R-TEST-0001"}
	must(t, d.Get(&f.order, `INSERT INTO orders (merchant_id, number, email, currency, data)
		VALUES ($1, 'NW-1', 'ada@example.com', 'EUR', '{}') RETURNING id`, m.ID))
	must(t, d.Get(&f.ret, `INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version, currency, quote,
		total, customer_email, created_by) VALUES ($1, $2, $3, 'resolving', 'refund', 1, 'EUR', '{}', 0, 'ada@example.com', 'test')
		RETURNING id`, m.ID, f.order, f.rma))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// entries returns every entry of the merchant, oldest first.
func (f fixture) entries(t *testing.T) []ledger.Entry {
	t.Helper()
	list, _, err := ledger.List(context.Background(), f.db, f.merchant, ledger.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(list)
	return list
}

type step struct {
	kind   ledger.Kind
	net    int64
	stripe string
}

func TestRefundChangesWriteTheLedger(t *testing.T) {
	t.Parallel()
	const a = 2975
	tests := []struct {
		name  string
		stmts []string // $1 is the return in the first statement, the refund in the others
		want  []step
	}{
		{
			name: "queued, pending, requires_action, succeeded",
			stmts: []string{
				`INSERT INTO refunds (merchant_id, return_id, amount, currency) SELECT merchant_id, id, 2975, 'EUR' FROM returns WHERE id = $1 RETURNING id`,
				`UPDATE refunds SET status = 'pending', stripe_refund_id = 're_1', balance_transaction = 'txn_1' WHERE id = $1`,
				`UPDATE refunds SET status = 'requires_action' WHERE id = $1`,
				`UPDATE refunds SET status = 'succeeded', updated_at = now() WHERE id = $1`,
				`UPDATE refunds SET updated_at = now() WHERE id = $1`,
			},
			want: []step{{ledger.RefundQueued, 0, ""}, {ledger.RefundSent, -a, "re_1"}, {ledger.RefundSucceeded, 0, "re_1"}},
		},
		{
			name: "refused when sent: nothing left the shop",
			stmts: []string{
				`INSERT INTO refunds (merchant_id, return_id, amount, currency) SELECT merchant_id, id, 2975, 'EUR' FROM returns WHERE id = $1 RETURNING id`,
				`UPDATE refunds SET status = 'failed', failure_reason = 'charge disputed' WHERE id = $1`,
			},
			want: []step{{ledger.RefundQueued, 0, ""}, {ledger.RefundFailed, 0, ""}},
		},
		{
			name: "failed after sending, retried, succeeded",
			stmts: []string{
				`INSERT INTO refunds (merchant_id, return_id, amount, currency) SELECT merchant_id, id, 2975, 'EUR' FROM returns WHERE id = $1 RETURNING id`,
				`UPDATE refunds SET status = 'pending', stripe_refund_id = 're_1' WHERE id = $1`,
				`UPDATE refunds SET status = 'failed' WHERE id = $1`,
				`UPDATE refunds SET status = 'queued', generation = 1, stripe_refund_id = NULL WHERE id = $1`,
				`UPDATE refunds SET status = 'succeeded', stripe_refund_id = 're_2' WHERE id = $1`,
			},
			want: []step{{ledger.RefundQueued, 0, ""}, {ledger.RefundSent, -a, "re_1"}, {ledger.RefundFailed, a, "re_1"},
				{ledger.RefundQueued, 0, ""}, {ledger.RefundSent, -a, "re_2"}, {ledger.RefundSucceeded, 0, "re_2"}},
		},
		{
			name: "succeeded, then failed at the bank",
			stmts: []string{
				`INSERT INTO refunds (merchant_id, return_id, amount, currency) SELECT merchant_id, id, 2975, 'EUR' FROM returns WHERE id = $1 RETURNING id`,
				`UPDATE refunds SET status = 'succeeded', stripe_refund_id = 're_1' WHERE id = $1`,
				`UPDATE refunds SET status = 'failed' WHERE id = $1`,
			},
			want: []step{{ledger.RefundQueued, 0, ""}, {ledger.RefundSent, -a, "re_1"}, {ledger.RefundSucceeded, 0, "re_1"},
				{ledger.RefundFailed, a, "re_1"}},
		},
		{
			name: "canceled while pending",
			stmts: []string{
				`INSERT INTO refunds (merchant_id, return_id, amount, currency) SELECT merchant_id, id, 2975, 'EUR' FROM returns WHERE id = $1 RETURNING id`,
				`UPDATE refunds SET status = 'pending', stripe_refund_id = 're_1' WHERE id = $1`,
				`UPDATE refunds SET status = 'canceled' WHERE id = $1`,
			},
			want: []step{{ledger.RefundQueued, 0, ""}, {ledger.RefundSent, -a, "re_1"}, {ledger.RefundCanceled, a, "re_1"}},
		},
		{
			name: "inserted already succeeded (an import)",
			stmts: []string{
				`INSERT INTO refunds (merchant_id, return_id, amount, currency, status, stripe_refund_id)
					SELECT merchant_id, id, 2975, 'EUR', 'succeeded', 're_9' FROM returns WHERE id = $1 RETURNING id`,
			},
			want: []step{{ledger.RefundQueued, 0, ""}, {ledger.RefundSent, -a, "re_9"}, {ledger.RefundSucceeded, 0, "re_9"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			var id int64
			must(t, f.db.Get(&id, tt.stmts[0], f.ret))
			for _, q := range tt.stmts[1:] {
				if _, err := f.db.Exec(q, id); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			got := f.entries(t)
			var steps []step
			var sum int64
			for _, e := range got {
				s := step{kind: e.Kind, net: e.Net}
				if e.StripeRefundID != nil {
					s.stripe = *e.StripeRefundID
				}
				steps = append(steps, s)
				sum += e.Net
				if e.Amount != a || e.Currency != "EUR" || *e.RefundID != id || *e.RMA != f.rma || *e.OrderNumber != "NW-1" || *e.ReturnID != f.ret {
					t.Errorf("entry %d (%s): got amount %d %s, refund %d, %s/%s", e.ID, e.Kind, e.Amount, e.Currency, *e.RefundID, *e.RMA, *e.OrderNumber)
				}
			}
			if !slices.Equal(steps, tt.want) {
				t.Errorf("got entries\n%v\nwant\n%v", steps, tt.want)
			}
			var want int64
			for _, s := range tt.want {
				want += s.net
			}
			if sum != want {
				t.Errorf("got Σ net %d, want %d", sum, want)
			}
		})
	}
}

func TestBulkRefundChangesWriteOneEntryEach(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.db.Exec(`INSERT INTO refunds (merchant_id, return_id, amount, currency)
		SELECT merchant_id, id, g * 100, 'EUR' FROM returns, generate_series(1, 3) g WHERE id = $1`, f.ret)
	must(t, err)
	_, err = f.db.Exec(`UPDATE refunds SET status = 'succeeded', stripe_refund_id = 're_' || id WHERE return_id = $1`, f.ret)
	must(t, err)
	got := f.entries(t)
	if len(got) != 9 {
		t.Fatalf("got %d entries, want 9: three refunds queued, sent and succeeded", len(got))
	}
	for i, e := range got[3:] {
		want := []ledger.Kind{ledger.RefundSent, ledger.RefundSucceeded}[i%2]
		if e.Kind != want || (i > 0 && i%2 == 1 && *e.RefundID != *got[3+i-1].RefundID) {
			t.Errorf("entry %d: got %s of refund %d, want %s, each refund's entries together", i+3, e.Kind, *e.RefundID, want)
		}
	}
}

func TestStoreCreditWritesTheLedger(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.db.Exec(`INSERT INTO store_credit_entries (merchant_id, email, currency, amount, kind, return_id, note) VALUES
		($1, 'ada@example.com', 'EUR', 3000, 'issued', $2, 'Return R'), ($1, 'ada@example.com', 'EUR', 300, 'bonus', $2, 'Bonus'),
		($1, 'ada@example.com', 'EUR', -1000, 'redeemed', NULL, 'Order NW-2')`, f.merchant, f.ret)
	must(t, err)
	got := f.entries(t)
	want := []struct {
		kind        ledger.Kind
		amount, net int64
		rma         bool
	}{{ledger.StoreCreditIssued, 3000, -3000, true}, {ledger.StoreCreditBonus, 300, -300, true}, {ledger.StoreCreditRedeemed, 1000, 1000, false}}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		e := got[i]
		if e.Kind != w.kind || e.Amount != w.amount || e.Net != w.net || (e.RMA != nil) != w.rma || e.StoreCreditEntryID == nil {
			t.Errorf("entry %d: got %s %d net %d rma %v, want %s %d net %d", i, e.Kind, e.Amount, e.Net, e.RMA, w.kind, w.amount, w.net)
		}
	}
}

func TestFeesRetainedWhenAReturnCompletes(t *testing.T) {
	t.Parallel()
	// two lines with odd discount and tax shares and a restocking fee, and a label fee
	quote := returns.QuoteResult{Eligible: true, Currency: "EUR", Lines: []returns.QuoteLine{
		{LineID: "l1", SKU: "TEE", Quantity: 3, Eligible: true, UnitPrice: 2500, ItemAmount: 7500, Discount: 301, Tax: 1427,
			RestockingBps: 1500},
		{LineID: "l2", SKU: "CAP", Quantity: 2, Eligible: true, UnitPrice: 1999, ItemAmount: 3998, Discount: 0, Tax: 759,
			RestockingBps: 0},
		{LineID: "l3", SKU: "SOCK", Quantity: 1, Eligible: false},
	}, Amounts: returns.Amounts{LabelFee: 495}}
	noRestock := quote
	noRestock.Lines = slices.Clone(quote.Lines)
	for i := range noRestock.Lines {
		noRestock.Lines[i].RestockingBps = 0
	}
	tests := []struct {
		name     string
		accepted map[string]int
	}{
		{"everything accepted", map[string]int{"l1": 3, "l2": 2}},
		{"part accepted", map[string]int{"l1": 2, "l2": 0}},
		{"one unit", map[string]int{"l1": 1}},
		{"nothing accepted", map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			q, err := json.Marshal(quote)
			must(t, err)
			_, err = f.db.Exec(`UPDATE returns SET quote = $2 WHERE id = $1`, f.ret, string(q))
			must(t, err)
			for _, l := range quote.Lines[:2] {
				_, err := f.db.Exec(`INSERT INTO return_items (merchant_id, return_id, line_id, sku, name, quantity, first_unit,
					received, accepted, reason, amount) VALUES ($1, $2, $3, $4, $4, $5, 0, $6, $6, 'too_small', 0)`,
					f.merchant, f.ret, l.LineID, l.SKU, l.Quantity, tt.accepted[l.LineID])
				must(t, err)
			}
			_, err = f.db.Exec(`UPDATE returns SET state = 'completed' WHERE id = $1`, f.ret)
			must(t, err)
			_, err = f.db.Exec(`UPDATE returns SET state = 'completed', updated_at = now() WHERE id = $1`, f.ret)
			must(t, err)

			a := quote.ForAccepted(tt.accepted)
			wantRestock := noRestock.ForAccepted(tt.accepted).ItemsTotal - a.ItemsTotal
			var gotRestock, gotLabel int64
			for _, e := range f.entries(t) {
				if e.Kind != ledger.FeeRetained || e.Net != 0 || *e.RMA != f.rma {
					t.Errorf("got %s net %d for %v, want fee_retained net 0 for %s", e.Kind, e.Net, e.RMA, f.rma)
					continue
				}
				switch e.Note {
				case "restocking fee":
					gotRestock += e.Amount
				case "label fee":
					gotLabel += e.Amount
				}
			}
			if gotRestock != wantRestock || gotLabel != a.LabelFee {
				t.Errorf("got restocking %d and label %d retained, want %d and %d (as ForAccepted)", gotRestock, gotLabel, wantRestock, a.LabelFee)
			}
		})
	}
}

func TestLedgerIsAppendOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.db.Exec(`INSERT INTO refunds (merchant_id, return_id, amount, currency) VALUES ($1, $2, 100, 'EUR')`, f.merchant, f.ret)
	must(t, err)
	for _, q := range []string{
		`UPDATE ledger_entries SET amount = 1`,
		`UPDATE ledger_entries SET note = 'fixed'`,
		`DELETE FROM ledger_entries`,
		`TRUNCATE ledger_entries`,
	} {
		_, err := f.db.Exec(q)
		var pe *pq.Error
		if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "append-only") {
			t.Errorf("%s: got %v, want an append-only refusal (42501)", q, err)
		}
	}
	if got := f.entries(t); len(got) != 1 || got[0].Amount != 100 {
		t.Errorf("got %+v, want the one entry unchanged", got)
	}
}

// TestLedgerOfARefundThroughStripe follows a refund from a receipt through the fake
// Stripe (pending first, succeeded when polled) and reads its entries from the API.
func TestLedgerOfARefundThroughStripe(t *testing.T) {
	t.Parallel()
	stripe := fakestripe.New(fakestripe.Options{AutoCharges: true, Currency: "eur", RefundStatus: fakestripe.StatusPending})
	t.Cleanup(stripe.Close)
	var worker *outbox.Worker
	env := apitest.New(t, func(d *app.Config, url string) {
		d.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: stripe.URL(), Timeout: 5 * time.Second})
		worker = outbox.NewWorker(d.DB, url, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
		d.Worker = worker
	})
	shop := env.Merchant(t, "northwind")
	other := env.Merchant(t, "southwind")
	delivered := time.Now().Add(-48 * time.Hour)
	res := env.Do(t, "PUT", "/v1/orders/NW-1", shop.Keys[auth.RoleIntegration], map[string]any{
		"customer": map[string]any{"email": "ada@example.com", "first_name": "Ada",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "country": "GB"}},
		"currency": "EUR", "placed_at": delivered.Add(-72 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines":   []map[string]any{{"id": "l1", "sku": "TEE", "name": "T-shirt", "quantity": 2, "unit_price": 2500, "tax": 950}},
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_ledger", "captured": 5950},
	})
	if res.Status != http.StatusCreated {
		t.Fatalf("put order: %d %s", res.Status, res.Body)
	}
	res = env.Do(t, "POST", "/v1/returns", shop.Keys[auth.RoleIntegration], map[string]any{"order_number": "NW-1", "resolution": "refund",
		"items": []map[string]any{{"line_id": "l1", "quantity": 2, "reason": "too_small"}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create return: %d %s", res.Status, res.Body)
	}
	var ret struct {
		ID    string `json:"id"`
		RMA   string `json:"rma"`
		Total int64  `json:"total"`
	}
	res.JSON(t, &ret)
	res = env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", ret.ID), shop.Keys[auth.RoleWarehouse], map[string]any{
		"items": []map[string]any{{"line_id": "l1", "quantity": 2, "condition": "like_new", "disposition": "restock"}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("receipt: %d %s", res.Status, res.Body)
	}
	drain(t, worker) // sent: pending at Stripe
	sr := stripe.Refunds()
	if len(sr) != 1 {
		t.Fatalf("got %d Stripe refunds, want 1", len(sr))
	}
	must(t, stripe.SetRefundStatus(sr[0].ID, fakestripe.StatusSucceeded, ""))
	_, err := env.DB.Exec(`UPDATE refunds SET poll_at = now() WHERE poll_at IS NOT NULL`)
	must(t, err)
	_, err = outbox.Enqueue(context.Background(), env.DB, outbox.Message{Kind: refunds.JobPollDue})
	must(t, err)
	drain(t, worker) // polled: succeeded

	var page struct {
		Data       []ledger.Entry `json:"data"`
		NextCursor string         `json:"next_cursor"`
	}
	res = env.Do(t, "GET", "/v1/ledger?rma="+ret.RMA, shop.Keys[auth.RoleFinance], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("ledger: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &page)
	var kinds []ledger.Kind
	for _, e := range page.Data {
		kinds = append(kinds, e.Kind)
		if e.Amount != ret.Total || e.Currency != "EUR" || *e.OrderNumber != "NW-1" {
			t.Errorf("%s: got %d %s of order %s, want %d EUR of NW-1", e.Kind, e.Amount, e.Currency, *e.OrderNumber, ret.Total)
		}
	}
	if want := []ledger.Kind{ledger.RefundSucceeded, ledger.RefundSent, ledger.RefundQueued}; !slices.Equal(kinds, want) {
		t.Fatalf("got entries %v (newest first), want %v", kinds, want)
	}
	sent := page.Data[1]
	if sent.Net != -ret.Total || *sent.StripeRefundID != sr[0].ID || sent.BalanceTransaction == nil || *sent.PaymentIntentID != "pi_ledger" {
		t.Errorf("sent entry: got net %d, Stripe %v, balance transaction %v", sent.Net, sent.StripeRefundID, sent.BalanceTransaction)
	}

	// filters, pages, and nobody else's entries; a period covers at most 366 days
	since := time.Now().UTC().AddDate(0, 0, -180).Format(time.DateOnly)
	until := time.Now().UTC().AddDate(0, 0, 180).Format(time.DateOnly)
	for q, n := range map[string]int{
		"kind=refund_sent,refund_succeeded": 2,
		"kind=fee_retained":                 0,
		"currency=eur":                      3,
		"currency=USD":                      0,
		"order=NW-1":                        3,
		"order=NW-2":                        0,
		"from=" + since + "&to=" + until:    3,
		"to=2000-01-01":                     0,
		"refund_id=" + *sent.RefundPublicID: 3,
	} {
		res := env.Do(t, "GET", "/v1/ledger?"+q, shop.Keys[auth.RoleFinance], nil)
		var p struct {
			Data []ledger.Entry `json:"data"`
		}
		res.JSON(t, &p)
		if res.Status != http.StatusOK || len(p.Data) != n {
			t.Errorf("?%s: got %d with %d entries, want 200 with %d", q, res.Status, len(p.Data), n)
		}
	}
	res = env.Do(t, "GET", "/v1/ledger?limit=2", shop.Keys[auth.RoleFinance], nil)
	res.JSON(t, &page)
	next := env.Do(t, "GET", "/v1/ledger?limit=2&cursor="+page.NextCursor, shop.Keys[auth.RoleFinance], nil)
	var page2 struct {
		Data       []ledger.Entry `json:"data"`
		NextCursor string         `json:"next_cursor"`
	}
	next.JSON(t, &page2)
	if len(page.Data) != 2 || page.NextCursor == "" || len(page2.Data) != 1 || page2.NextCursor != "" || page2.Data[0].Kind != ledger.RefundQueued {
		t.Errorf("pages: got %d (next %q) then %d (next %q)", len(page.Data), page.NextCursor, len(page2.Data), page2.NextCursor)
	}
	for _, c := range []struct {
		key, query string
		status     int
	}{
		{other.Keys[auth.RoleFinance], "", http.StatusOK},
		{shop.Keys[auth.RoleWarehouse], "", http.StatusForbidden},
		{shop.Keys[auth.RoleFinance], "?kind=refund_paid", http.StatusUnprocessableEntity},
		{shop.Keys[auth.RoleFinance], "?from=yesterday", http.StatusUnprocessableEntity},
		{shop.Keys[auth.RoleFinance], "?cursor=zz", http.StatusUnprocessableEntity},
		// a cursor names an entry of the shop's own ledger: another shop's is refused
		{other.Keys[auth.RoleFinance], "?cursor=" + page.NextCursor, http.StatusUnprocessableEntity},
	} {
		res := env.Do(t, "GET", "/v1/ledger"+c.query, c.key, nil)
		if res.Status != c.status {
			t.Errorf("%s: got %d %s, want %d", c.query, res.Status, res.Body, c.status)
		}
		if c.key == other.Keys[auth.RoleFinance] && strings.Contains(string(res.Body), ret.RMA) {
			t.Errorf("another merchant sees the entries: %s", res.Body)
		}
	}
}

func drain(t *testing.T, w *outbox.Worker) {
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
