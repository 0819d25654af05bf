package refunds_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

const whsec = "whsec_test_secret"

// flow is a shop with one delivered order, the API, a fake Stripe and an outbox
// worker that the test drives job by job.
type flow struct {
	env    *apitest.Env
	shop   apitest.Tenant
	stripe *fakestripe.Server
	worker *outbox.Worker
}

// flowConfig is what flowOptions change in newFlow.
type flowConfig struct {
	worker   outbox.Options
	webhooks bool
	timeout  time.Duration // of each request to Stripe
}

type flowOption func(*flowConfig)

// withWebhooks makes the fake Stripe deliver its events to the API's
// POST /v1/webhooks/stripe.
func withWebhooks() flowOption { return func(c *flowConfig) { c.webhooks = true } }

// withWorker replaces the worker's options (by default zero backoff, for tests
// that drive it job by job).
func withWorker(o outbox.Options) flowOption { return func(c *flowConfig) { c.worker = o } }

// withStripeTimeout bounds each request to Stripe by d (default 5 s).
func withStripeTimeout(d time.Duration) flowOption { return func(c *flowConfig) { c.timeout = d } }

func newFlow(t testing.TB, opts fakestripe.Options, fo ...flowOption) *flow {
	t.Helper()
	cfg := flowConfig{worker: outbox.Options{Backoff: func(int) time.Duration { return 0 }}, timeout: 5 * time.Second}
	for _, o := range fo {
		o(&cfg)
	}
	f := &flow{}
	if opts.WebhookSecret == "" {
		opts.WebhookSecret = whsec
	}
	opts.AutoCharges = true
	opts.Currency = "eur"
	// The fake needs the API's URL for its webhooks and the API the fake's URL
	// for its gateway: the fake sends to a relay that forwards to the API once
	// it runs.
	var api atomic.Pointer[http.Handler]
	if cfg.webhooks {
		relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := api.Load()
			if h == nil {
				http.Error(w, "the API is not up yet", http.StatusServiceUnavailable)
				return
			}
			(*h).ServeHTTP(w, r)
		}))
		t.Cleanup(relay.Close)
		opts.WebhookURL = relay.URL + "/v1/webhooks/stripe"
	}
	f.stripe = fakestripe.New(opts)
	t.Cleanup(f.stripe.Close)
	f.env = apitest.New(t, func(d *app.Config, url string) {
		d.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: f.stripe.URL(), Timeout: cfg.timeout})
		d.WebhookSecret = whsec
		f.worker = outbox.NewWorker(d.DB, url, cfg.worker)
		d.Worker = f.worker
	})
	h := f.env.Server.Config.Handler
	api.Store(&h)
	f.shop = f.env.Merchant(t, "northwind")
	f.putOrder(t, "NW-1", "pi_flow1", []map[string]any{
		{"id": "l1", "sku": "TEE", "name": "T-shirt", "quantity": 2, "unit_price": 2500, "tax": 950},
		{"id": "l2", "sku": "CAP", "name": "Cap", "quantity": 1, "unit_price": 1500, "tax": 285},
	}, 0)
	return f
}

// putOrder upserts a delivered order of ada@example.com paid through payment
// intent pi, fully captured.
func (f *flow) putOrder(t testing.TB, number, pi string, lines []map[string]any, discount int64) {
	t.Helper()
	captured := -discount
	for _, l := range lines {
		captured += int64(l["quantity"].(int))*int64(l["unit_price"].(int)) + int64(l["tax"].(int))
	}
	delivered := time.Now().Add(-48 * time.Hour)
	res := f.env.Do(t, "PUT", "/v1/orders/"+number, f.shop.Keys[auth.RoleIntegration], map[string]any{
		"customer": map[string]any{"email": "ada@example.com", "first_name": "Ada",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "country": "GB"}},
		"currency": "EUR", "placed_at": delivered.Add(-72 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines": lines, "discount": discount,
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": pi, "captured": captured},
	})
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		t.Fatalf("put order %s: %d %s", number, res.Status, res.Body)
	}
}

type ret struct {
	ID    string `json:"id"`
	RMA   string `json:"rma"`
	State string `json:"state"`
	Total int64  `json:"total"`
	Quote struct {
		StoreCreditBonus int64 `json:"store_credit_bonus"`
		Lines            []struct {
			LineID   string `json:"line_id"`
			Subtotal int64  `json:"subtotal"`
		} `json:"lines"`
	} `json:"quote"`
}

// line returns the quoted subtotal of a line.
func (r ret) line(t testing.TB, id string) int64 {
	t.Helper()
	for _, l := range r.Quote.Lines {
		if l.LineID == id {
			return l.Subtotal
		}
	}
	t.Fatalf("return %s has no line %s in its quote", r.RMA, id)
	return 0
}

func (f *flow) createReturn(t testing.TB, items ...map[string]any) ret {
	t.Helper()
	return f.createReturnOn(t, "NW-1", "refund", items...)
}

func (f *flow) createReturnOn(t testing.TB, order, resolution string, items ...map[string]any) ret {
	t.Helper()
	res := f.env.Do(t, "POST", "/v1/returns", f.shop.Keys[auth.RoleIntegration], map[string]any{
		"order_number": order, "resolution": resolution, "items": items})
	if res.Status != http.StatusCreated {
		t.Fatalf("create return: %d %s", res.Status, res.Body)
	}
	var r ret
	res.JSON(t, &r)
	return r
}

func (f *flow) receive(t testing.TB, r ret, lines ...map[string]any) apitest.Response {
	t.Helper()
	return f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), f.shop.Keys[auth.RoleWarehouse], map[string]any{"items": lines})
}

// mustReceive posts a receipt that must be recorded.
func (f *flow) mustReceive(t testing.TB, r ret, lines ...map[string]any) {
	t.Helper()
	if res := f.receive(t, r, lines...); res.Status != http.StatusCreated {
		t.Fatalf("receipt for %s: %d %s", r.RMA, res.Status, res.Body)
	}
}

// drain runs due jobs until none is left.
func (f *flow) drain(t testing.TB) {
	t.Helper()
	for {
		did, err := f.worker.RunOne(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return
		}
	}
}

func (f *flow) state(t testing.TB, r ret) string {
	t.Helper()
	var s string
	if err := f.env.DB.Get(&s, `SELECT state FROM returns WHERE public_id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	return s
}

// refundsOf lists a return's refunds through GET /v1/refunds, oldest first.
func (f *flow) refundsOf(t testing.TB, r ret) []refunds.Refund {
	t.Helper()
	res := f.env.Do(t, "GET", fmt.Sprintf("/v1/refunds?return_id=%s", r.ID), f.shop.Keys[auth.RoleFinance], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("list refunds: %d %s", res.Status, res.Body)
	}
	var out struct {
		Data []refunds.Refund `json:"data"`
	}
	res.JSON(t, &out)
	// the API shows public IDs only; tests also check what was sent under the internal ones
	for i := range out.Data {
		fr := &out.Data[i]
		if err := f.env.DB.QueryRow(`SELECT id, return_id FROM refunds WHERE public_id = $1`, fr.PublicID).Scan(&fr.ID, &fr.ReturnID); err != nil {
			t.Fatal(err)
		}
	}
	for i, j := 0, len(out.Data)-1; i < j; i, j = i+1, j-1 {
		out.Data[i], out.Data[j] = out.Data[j], out.Data[i]
	}
	return out.Data
}

// oneRefund returns the return's only refund.
func (f *flow) oneRefund(t testing.TB, r ret) refunds.Refund {
	t.Helper()
	list := f.refundsOf(t, r)
	if len(list) != 1 {
		t.Fatalf("got %d refunds of %s, want 1: %+v", len(list), r.RMA, list)
	}
	return list[0]
}

// timeline returns the return's events through GET /v1/returns/{id}/events.
func (f *flow) timeline(t testing.TB, r ret) []timelineEntry {
	t.Helper()
	res := f.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/events", r.ID), f.shop.Keys[auth.RoleWarehouse], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("timeline: %d %s", res.Status, res.Body)
	}
	var out struct {
		Data []timelineEntry `json:"data"`
	}
	res.JSON(t, &out)
	return out.Data
}

type timelineEntry struct {
	Event string `json:"event"`
	From  string `json:"from"`
	To    string `json:"to"`
	Note  string `json:"note"`
}

// postRefunds returns the POST /v1/refunds requests the fake Stripe received.
func (f *flow) postRefunds() []fakestripe.Request {
	var out []fakestripe.Request
	for _, r := range f.stripe.RequestLog() {
		if r.Route == "POST /v1/refunds" {
			out = append(out, r)
		}
	}
	return out
}

func TestReceiptToRefundToCompleted(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
	scan := f.env.Do(t, "POST", "/v1/scans", f.shop.Keys[auth.RoleWarehouse], map[string]any{"code": "]C0" + r.RMA})
	if scan.Status != 200 {
		t.Fatalf("scan: %d %s", scan.Status, scan.Body)
	}
	res := f.receive(t, r, map[string]any{"line_id": "l1", "quantity": 2, "condition": "like_new", "disposition": "restock"})
	if res.Status != http.StatusCreated {
		t.Fatalf("receipt: %d %s", res.Status, res.Body)
	}
	if got := f.state(t, r); got != "resolving" {
		t.Fatalf("got state %s after the receipt, want resolving", got)
	}
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 1 {
		t.Fatalf("got %d Stripe refunds, want 1", n)
	}
	got := f.stripe.Refunds()[0]
	if got.Amount != r.Total || got.Metadata["rma"] != r.RMA {
		t.Errorf("got Stripe refund %d with metadata %v, want %d for %s", got.Amount, got.Metadata, r.Total, r.RMA)
	}
	if s := f.state(t, r); s != "completed" {
		t.Fatalf("got state %s, want completed", s)
	}
}
