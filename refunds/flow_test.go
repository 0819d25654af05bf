package refunds_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/openapi"
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

func newFlow(t *testing.T, opts fakestripe.Options) *flow {
	t.Helper()
	f := &flow{}
	if opts.WebhookSecret == "" {
		opts.WebhookSecret = whsec
	}
	opts.AutoCharges = true
	opts.Currency = "eur"
	f.stripe = fakestripe.New(opts)
	t.Cleanup(f.stripe.Close)
	f.env = apitest.New(t, func(d *openapi.Deps, url string) {
		d.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: f.stripe.URL(), Timeout: 5 * time.Second})
		d.WebhookSecret = whsec
		f.worker = outbox.NewWorker(d.DB, url, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
		d.Worker = f.worker
	})
	f.shop = f.env.Merchant(t, "northwind")
	delivered := time.Now().Add(-48 * time.Hour)
	res := f.env.Do(t, "PUT", "/v1/orders/NW-1", f.shop.Keys[auth.RoleIntegration], map[string]any{
		"customer": map[string]any{"email": "ada@example.com", "first_name": "Ada",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "country": "GB"}},
		"currency": "EUR", "placed_at": delivered.Add(-72 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines": []map[string]any{
			{"id": "l1", "sku": "TEE", "name": "T-shirt", "quantity": 2, "unit_price": 2500, "tax": 950},
			{"id": "l2", "sku": "CAP", "name": "Cap", "quantity": 1, "unit_price": 1500, "tax": 285},
		},
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_flow1", "captured": 2500*2 + 950 + 1500 + 285},
	})
	if res.Status != http.StatusCreated {
		t.Fatalf("put order: %d %s", res.Status, res.Body)
	}
	return f
}

type ret struct {
	ID    int64  `json:"id"`
	RMA   string `json:"rma"`
	State string `json:"state"`
	Total int64  `json:"total"`
}

func (f *flow) createReturn(t *testing.T, items ...map[string]any) ret {
	t.Helper()
	res := f.env.Do(t, "POST", "/v1/returns", f.shop.Keys[auth.RoleIntegration], map[string]any{
		"order_number": "NW-1", "resolution": "refund", "items": items})
	if res.Status != http.StatusCreated {
		t.Fatalf("create return: %d %s", res.Status, res.Body)
	}
	var r ret
	res.JSON(t, &r)
	return r
}

func (f *flow) receive(t *testing.T, r ret, lines ...map[string]any) apitest.Response {
	t.Helper()
	return f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%d/receipts", r.ID), f.shop.Keys[auth.RoleWarehouse], map[string]any{"items": lines})
}

// drain runs due jobs until none is left.
func (f *flow) drain(t *testing.T) {
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

func (f *flow) state(t *testing.T, r ret) string {
	t.Helper()
	var s string
	if err := f.env.DB.Get(&s, `SELECT state FROM returns WHERE id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	return s
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
