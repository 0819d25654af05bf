package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// TestAReturnsJourneyReachesTheShop drives a return from creation to its refund with
// the product as it runs (fake Stripe, the outbox worker) and checks that the shop's
// endpoint gets every event of the journey exactly once, in the journey's order,
// each verified by the Standard Webhooks reference library and carrying the resource.
func TestAReturnsJourneyReachesTheShop(t *testing.T) {
	t.Parallel()
	stripe := fakestripe.New(fakestripe.Options{AutoCharges: true, Currency: "eur"})
	t.Cleanup(stripe.Close)
	var worker *outbox.Worker
	env := apitest.New(t, func(c *app.Config, url string) {
		c.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: stripe.URL(), Timeout: 5 * time.Second})
		c.Webhooks = local
		worker = outbox.NewWorker(c.DB, url, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
		c.Worker = worker
	})
	shop := env.Merchant(t, "northwind")
	rc := newReceiver(t, ok)
	res := env.Do(t, "POST", "/v1/webhook-endpoints", shop.Keys[auth.RoleAdmin], map[string]any{"url": rc.URL + "/hooks"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", res.Status, res.Body)
	}
	var ep endpointDoc
	res.JSON(t, &ep)
	drain := func() {
		t.Helper()
		for {
			did, err := worker.RunOne(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !did {
				return
			}
		}
	}

	order := apitest.Order("ada@example.com", time.Now().Add(-48*time.Hour))
	if res := env.Do(t, "PUT", "/v1/orders/NW-1", shop.Keys[auth.RoleIntegration], order); res.Status != http.StatusCreated {
		t.Fatalf("put order: %d %s", res.Status, res.Body)
	}
	res = env.Do(t, "POST", "/v1/returns", shop.Keys[auth.RoleIntegration], map[string]any{
		"order_number": "NW-1", "resolution": "refund",
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "too_small"}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create return: %d %s", res.Status, res.Body)
	}
	var r struct {
		ID  string `json:"id"`
		RMA string `json:"rma"`
	}
	res.JSON(t, &r)
	// the creation, its approval and its label are one statement: one job delivers
	// the three events
	var deliverJobs []string
	if err := env.DB.Select(&deliverJobs, `SELECT payload::text FROM outbox WHERE kind = $1`, notify.JobDeliver); err != nil {
		t.Fatal(err)
	}
	if len(deliverJobs) != 1 || strings.Count(deliverJobs[0], `"wd_`) != 3 {
		t.Fatalf("after the creation, delivery jobs %q: want one naming three deliveries", deliverJobs)
	}
	if res := env.Do(t, "POST", "/v1/scans", shop.Keys[auth.RoleWarehouse], map[string]any{"code": r.RMA}); res.Status != http.StatusOK {
		t.Fatalf("scan: %d %s", res.Status, res.Body)
	}
	res = env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), shop.Keys[auth.RoleWarehouse], map[string]any{
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "condition": "like_new", "disposition": "restock"}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("receipt: %d %s", res.Status, res.Body)
	}
	// the receipt's change rides on the refund's statement: its timeline entry and
	// the move to resolving are one command, and one job delivers return.received
	// and refund.created
	var cmds []string
	if err := env.DB.Select(&cmds, `SELECT e.to_state || '@' || e.cmin::text FROM return_events e JOIN returns r ON r.id = e.return_id
		WHERE r.public_id = $1 AND e.to_state IN ('received', 'resolving') ORDER BY e.id`, r.ID); err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 || cmds[0] != "received@"+strings.TrimPrefix(cmds[1], "resolving@") {
		t.Errorf("the receipt's timeline entries %q: want received and resolving by one command", cmds)
	}
	deliverJobs = nil
	if err := env.DB.Select(&deliverJobs, `SELECT payload::text FROM outbox WHERE kind = $1 ORDER BY id`, notify.JobDeliver); err != nil {
		t.Fatal(err)
	}
	if len(deliverJobs) != 2 || strings.Count(deliverJobs[1], `"wd_`) != 2 {
		t.Fatalf("after the receipt, delivery jobs %q: want the creation's and one naming two deliveries", deliverJobs)
	}
	drain() // sends the refund to Stripe and delivers the webhooks
	drain()

	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		CreatedAt time.Time       `json:"created_at"`
		Data      json.RawMessage `json:"data"`
	}
	var events []event
	ids := map[string]bool{}
	for _, req := range rc.requests() {
		if err := wh.Verify(req.body, req.header); err != nil {
			t.Fatalf("the reference library refuses a delivery: %v\n%s", err, req.body)
		}
		var e event
		if err := json.Unmarshal(req.body, &e); err != nil {
			t.Fatal(err)
		}
		if ids[e.ID] {
			t.Errorf("event %s (%s) delivered twice", e.ID, e.Type)
		}
		ids[e.ID] = true
		events = append(events, e)
	}
	// Delivery order is not promised; the journey's order is the events' created_at.
	sort.SliceStable(events, func(i, j int) bool { return events[i].CreatedAt.Before(events[j].CreatedAt) })
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	want := []string{"return.created", "return.approved", "label.issued", "return.received", "refund.created", "refund.succeeded", "return.completed"}
	if strings.Join(types, " ") != strings.Join(want, " ") {
		t.Fatalf("got events %v, want %v", types, want)
	}
	for _, e := range events {
		var data struct {
			ID             string    `json:"id"`
			RMA            string    `json:"rma"`
			State          string    `json:"state"`
			Status         string    `json:"status"`
			ReturnID       string    `json:"return_id"`
			TrackingNumber string    `json:"tracking_number"`
			UpdatedAt      time.Time `json:"updated_at"`
			Items          []struct {
				Received    int    `json:"received"`
				Condition   string `json:"condition"`
				Disposition string `json:"disposition"`
			} `json:"items"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case "return.created":
			if data.RMA != r.RMA || data.State != "requested" {
				t.Errorf("%s: got %s %s, want %s requested", e.Type, data.RMA, data.State, r.RMA)
			}
		case "return.approved", "return.completed":
			if data.RMA != r.RMA || data.State != strings.TrimPrefix(e.Type, "return.") {
				t.Errorf("%s: got %s %s", e.Type, data.RMA, data.State)
			}
			if e.Type == "return.completed" {
				// the event carries the return as the change wrote it, its last update included
				res := env.Do(t, "GET", "/v1/returns/"+r.ID, shop.Keys[auth.RoleIntegration], nil)
				var now struct {
					State     string    `json:"state"`
					UpdatedAt time.Time `json:"updated_at"`
				}
				res.JSON(t, &now)
				if !data.UpdatedAt.Equal(now.UpdatedAt) || now.State != "completed" {
					t.Errorf("%s: the event says updated at %s, the return says %s %s", e.Type, data.UpdatedAt, now.State, now.UpdatedAt)
				}
			}
		case "return.received":
			if data.State != "received" {
				t.Errorf("%s: got state %s, want the return as the receipt left it", e.Type, data.State)
			}
			if len(data.Items) != 1 || data.Items[0].Received != 1 || data.Items[0].Condition != "like_new" || data.Items[0].Disposition != "restock" {
				t.Errorf("%s: got items %+v, want the unit received like new, to restock", e.Type, data.Items)
			}
		case "label.issued":
			if data.TrackingNumber == "" {
				t.Errorf("%s: no tracking number in %s", e.Type, e.Data)
			}
		case "refund.created", "refund.succeeded":
			if data.ReturnID != r.ID || data.Status != map[string]string{"refund.created": "queued", "refund.succeeded": "succeeded"}[e.Type] {
				t.Errorf("%s: got refund of return %s in %s", e.Type, data.ReturnID, data.Status)
			}
			// the event is the refund as its change wrote it, every stamp included:
			// refund.succeeded is what GET answers now that nothing changes it any
			// more; refund.created is what its insert stored, what GET answers but for
			// what sending and settling changed since (the charge is recorded from
			// Stripe's answer when the order named only its payment intent)
			later := []string{"$schema"}
			if e.Type == "refund.created" {
				later = append(later, "status", "updated_at", "sent_at", "settled_at", "stripe_refund_id", "balance_transaction", "charge_id")
			}
			res := env.Do(t, "GET", "/v1/refunds/"+data.ID, shop.Keys[auth.RoleFinance], nil)
			var got, want map[string]any
			res.JSON(t, &want)
			if err := json.Unmarshal(e.Data, &got); err != nil {
				t.Fatal(err)
			}
			for _, k := range later {
				delete(want, k)
				delete(got, k)
			}
			if got["created_at"] == nil || got["payment_intent_id"] == nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: the event says\n%s\nGET answers\n%s", e.Type, e.Data, res.Body)
			}
		}
	}
}
