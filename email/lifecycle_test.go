package email_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
	"github.com/roundtriphq/roundtrip/returns"
)

// hooks is a webhook receiver that keeps every request.
type hooks struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func newHooks(t *testing.T) *hooks {
	h := &hooks{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{header: r.Header.Clone(), body: body})
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

type event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// TestAJourneyReachesTheShopAndTheShopper drives five returns through every turn a
// return can take (approved, on its way, arrived, refund failed then sent, feedback;
// store credit; declined; cancelled; reminded and expired) with the product as it
// runs, a webhook receiver and a real SMTP server. Every event type reaches the shop
// once, in the order of each return's journey, verified by the Standard Webhooks
// reference library; every email parses, names the shopper, carries the shop's
// branding and a status link that works.
func TestAJourneyReachesTheShopAndTheShopper(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *app.Config) { c.Webhooks = notify.Options{AllowHTTP: true, AllowPrivate: true} })
	admin := b.shop.Keys[auth.RoleAdmin]
	rc := newHooks(t)
	res := b.env.Do(t, "POST", "/v1/webhook-endpoints", admin, map[string]any{"url": rc.URL + "/hooks"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", res.Status, res.Body)
	}
	var ep struct {
		Secret string `json:"secret"`
	}
	res.JSON(t, &ep)
	var carrier struct {
		Secret string `json:"secret"`
	}
	b.env.Do(t, "POST", "/v1/carrier-secret", admin, nil).JSON(t, &carrier)
	tracking := func(r returnDoc) string {
		var list struct {
			Data []struct {
				TrackingNumber string `json:"tracking_number"`
			} `json:"data"`
		}
		b.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/parcels", r.ID), admin, nil).JSON(t, &list)
		if len(list.Data) == 0 {
			t.Fatalf("return %s has no parcel", r.RMA)
		}
		return list.Data[0].TrackingNumber
	}
	carrierEvent := func(r returnDoc, status string) {
		res := b.env.Do(t, "POST", "/v1/carrier-events", "", map[string]any{"tracking_number": tracking(r), "status": status,
			"occurred_at": time.Now().Add(-time.Minute).Format(time.RFC3339)}, "X-Carrier-Secret", carrier.Secret)
		if res.Status != http.StatusOK {
			t.Fatalf("carrier %s: %d %s", status, res.Status, res.Body)
		}
	}
	post := func(path, key string, body any, want int) {
		if res := b.env.Do(t, "POST", path, key, body); res.Status != want {
			t.Fatalf("POST %s: got %d, want %d: %s", path, res.Status, want, res.Body)
		}
	}

	// A: a refund that fails once, then goes through; the shopper answers the feedback
	a := b.newReturn(t, "NW-A", nil)
	b.drain(t)
	carrierEvent(a, "in_transit")
	carrierEvent(a, "delivered")
	b.drain(t)
	b.stripe.Inject(fakestripe.Fault{Kind: fakestripe.FailRefund, Method: "POST", Path: "/v1/refunds", Times: 1})
	b.receive(t, a)
	b.drain(t)
	var refundList struct {
		Data []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"data"`
	}
	b.env.Do(t, "GET", fmt.Sprintf("/v1/refunds?return_id=%s", a.ID), b.shop.Keys[auth.RoleFinance], nil).JSON(t, &refundList)
	if len(refundList.Data) != 1 || refundList.Data[0].Status != "failed" {
		t.Fatalf("A's refund: %+v, want one failed", refundList)
	}
	post(fmt.Sprintf("/v1/refunds/%s/retry", refundList.Data[0].ID), b.shop.Keys[auth.RoleFinance], nil, http.StatusOK)
	b.drain(t)

	// B: store credit
	bc := b.newReturnAs(t, "NW-B", "store_credit", nil)
	b.drain(t)
	b.receive(t, bc)
	b.drain(t)

	// C: declined after review; D: cancelled by the shopper's shop
	b.policy(t, map[string]any{"manual_review": true})
	c := b.newReturn(t, "NW-C", nil)
	b.drain(t)
	post(fmt.Sprintf("/v1/returns/%s/reject", c.ID), admin, map[string]any{"reason": "Worn items cannot be returned."}, http.StatusOK)
	b.policy(t, map[string]any{"manual_review": false, "label_validity_days": 1})
	d := b.newReturn(t, "NW-D", nil)
	post(fmt.Sprintf("/v1/returns/%s/cancel", d.ID), admin, nil, http.StatusOK)
	b.drain(t)

	// E: the label runs out: first the reminder, then (its time moved forward) expiry
	e := b.newReturn(t, "NW-E", nil)
	b.drain(t)
	store := returns.NewStore(b.env.DB)
	smtpCfg, _ := email.ParseSMTPURL(b.smtp.URL)
	svc := email.New(b.env.DB, email.Config{Sender: smtpCfg, From: from}, store, labels.NewService(b.env.DB, store, merchant.NewStore(b.env.DB), "", nil), merchant.NewStore(b.env.DB))
	tx := b.env.DB.MustBegin()
	if err := svc.Remind(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	b.drain(t)
	if _, err := b.env.DB.Exec(`UPDATE outbox SET run_at = now() WHERE kind = 'label.expire' AND state = 'pending' AND (payload->>'return_id')::bigint = (SELECT id FROM returns WHERE public_id = $1)`, e.ID); err != nil {
		t.Fatal(err)
	}
	b.drain(t)

	// the feedback, from A's completion email
	var done parsed
	for _, m := range b.received(t) {
		if m.kind() == "return_completed" && m.Header.Get("X-Roundtrip-Return") == a.RMA {
			done = m
		}
	}
	if done.Raw == nil {
		t.Fatalf("no completion email for A; got %v", kinds(b.received(t)))
	}
	fr, err := http.PostForm(done.statusLink(t)+"/feedback", url.Values{"ease": {"4"}, "comment": {"Label printed fine."}})
	if err != nil {
		t.Fatal(err)
	}
	fr.Body.Close()
	if fr.StatusCode != http.StatusOK {
		t.Fatalf("feedback: %d", fr.StatusCode)
	}
	b.drain(t)

	// the shop: every event once, in each return's order, verified by the reference library
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{} // tracking number → RMA
	for _, r := range []returnDoc{a, bc, d, e} {
		owner[tracking(r)] = r.RMA
	}
	byID := map[string]string{a.ID: a.RMA, bc.ID: bc.RMA, c.ID: c.RMA, d.ID: d.RMA, e.ID: e.RMA}
	journeys := map[string][]event{}
	seen := map[string]bool{}
	rc.mu.Lock()
	reqs := slices.Clone(rc.reqs)
	rc.mu.Unlock()
	for _, req := range reqs {
		if err := wh.Verify(req.body, req.header); err != nil {
			t.Fatalf("the reference library refuses a delivery: %v\n%s", err, req.body)
		}
		var ev event
		if err := json.Unmarshal(req.body, &ev); err != nil {
			t.Fatal(err)
		}
		if seen[ev.ID] {
			t.Errorf("event %s (%s) delivered twice", ev.ID, ev.Type)
		}
		seen[ev.ID] = true
		var data struct {
			ID             string `json:"id"`
			RMA            string `json:"rma"`
			ReturnID       string `json:"return_id"`
			TrackingNumber string `json:"tracking_number"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatal(err)
		}
		rma := data.RMA
		switch {
		case data.TrackingNumber != "":
			rma = owner[data.TrackingNumber]
		case data.ReturnID != "":
			rma = byID[data.ReturnID]
		}
		journeys[rma] = append(journeys[rma], ev)
	}
	want := map[string][]string{
		a.RMA: {"return.created", "return.approved", "label.issued", "parcel.in_transit", "parcel.delivered", "return.received",
			"refund.created", "refund.failed", "refund.succeeded", "return.completed", "feedback.received"},
		bc.RMA: {"return.created", "return.approved", "label.issued", "return.received", "store_credit.issued", "return.completed"},
		c.RMA:  {"return.created", "return.rejected"},
		d.RMA:  {"return.created", "return.approved", "label.issued", "return.cancelled"},
		e.RMA:  {"return.created", "return.approved", "label.issued", "return.expired"},
	}
	all := map[string]bool{}
	for rma, w := range want {
		evs := journeys[rma]
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].CreatedAt.Before(evs[j].CreatedAt) })
		var types []string
		for _, ev := range evs {
			types = append(types, ev.Type)
			all[ev.Type] = true
		}
		if !slices.Equal(types, w) {
			t.Errorf("return %s: got events %v, want %v", rma, types, w)
		}
	}
	for _, info := range notify.Catalogue {
		if strings.HasPrefix(string(info.Type), "exchange.") {
			continue // an exchange's journey is its own (exchanges)
		}
		if !all[string(info.Type)] {
			t.Errorf("event type %s never reached the shop", info.Type)
		}
	}

	// the shopper: every email parses, names them, is branded and links to a page that works
	got := b.received(t)
	mails := map[string][]string{}
	for _, m := range got {
		mails[m.Header.Get("X-Roundtrip-Return")] = append(mails[m.Header.Get("X-Roundtrip-Return")], m.kind())
		if !strings.Contains(m.Text, "Hi Abigail,") || !strings.Contains(m.HTML, "Hi Abigail,") {
			t.Errorf("%s: does not name the shopper", m.kind())
		}
		if !strings.Contains(m.HTML, "#7a1f5c") || !strings.Contains(m.HTML, "logo.png") || !strings.Contains(m.Text, "Northwind Outfitters") {
			t.Errorf("%s: not branded", m.kind())
		}
		if status, page := get(t, m.statusLink(t)); status != http.StatusOK || !strings.Contains(page, m.Header.Get("X-Roundtrip-Return")) {
			t.Errorf("%s: its status link answers %d", m.kind(), status)
		}
		for _, at := range m.Attachments {
			if codes := scanPDF(t, at.Data); !slices.Contains(codes, m.Header.Get("X-Roundtrip-Return")) {
				t.Errorf("%s: the label %s scans as %v", m.kind(), at.Name, codes)
			}
		}
	}
	wantMail := map[string][]string{
		a.RMA:  {"return_confirmed", "parcel_in_transit", "parcel_arrived", "refund_delayed", "refund_sent", "return_completed"},
		bc.RMA: {"return_confirmed", "parcel_arrived", "store_credit_issued", "return_completed"},
		c.RMA:  {"review_needed", "return_rejected"},
		d.RMA:  {"return_confirmed"},
		e.RMA:  {"return_confirmed", "label_reminder"},
	}
	for rma, w := range wantMail {
		if !slices.Equal(mails[rma], w) {
			t.Errorf("emails about %s: got %v, want %v", rma, mails[rma], w)
		}
	}
	for _, m := range got {
		if m.kind() == "store_credit_issued" && !strings.Contains(m.Text, "Your balance is now") {
			t.Errorf("store credit email without the balance:\n%s", m.Text)
		}
		if m.kind() == "refund_delayed" && !strings.Contains(m.Text, "you do not need to do anything") {
			t.Errorf("refund delayed email does not reassure:\n%s", m.Text)
		}
	}
}
