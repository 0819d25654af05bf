package labels_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/labels/fakeshippo"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// shipFlow is the whole product with a fake Shippo (its tracking webhooks relayed to
// the API), a fake Stripe and an outbox worker the test drives.
type shipFlow struct {
	env    *apitest.Env
	shop   apitest.Tenant
	shippo *fakeshippo.Server
	stripe *fakestripe.Server
	worker *outbox.Worker
	relay  string // the API's URL as the fake Shippo reaches it
	// webhookPath is the path and query of the shop's Shippo webhook URL.
	webhookPath string
}

type shipOptions struct {
	carrier  string // own or shippo (default)
	fallback bool
	services []string
	timeout  time.Duration
}

func newShipFlow(t *testing.T, o shipOptions) *shipFlow {
	t.Helper()
	if o.carrier == "" {
		o.carrier = "shippo"
	}
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	f := &shipFlow{stripe: fakestripe.New(fakestripe.Options{AutoCharges: true, Currency: "usd"})}
	t.Cleanup(f.stripe.Close)
	var api atomic.Pointer[http.Handler]
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := api.Load()
		if h == nil {
			http.Error(w, "the API is not up yet", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	t.Cleanup(relay.Close)
	f.relay = relay.URL
	f.shippo = fakeshippo.New(fakeshippo.Options{})
	t.Cleanup(f.shippo.Close)
	f.env = apitest.New(t, func(d *app.Config, dbURL string) {
		d.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: f.stripe.URL(), Timeout: 5 * time.Second})
		f.worker = outbox.NewWorker(d.DB, dbURL, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
		d.Worker = f.worker
		d.Shippo = labels.ShippoOptions{APIBase: f.shippo.URL(), Timeout: o.timeout, MaxRetries: 1,
			Backoff: func(int) time.Duration { return time.Millisecond }}
	})
	h := f.env.Server.Config.Handler
	api.Store(&h)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", f.env.Logs())
		}
	})
	f.shop = f.env.Merchant(t, "northwind")
	_, err := merchant.NewStore(f.env.DB).Update(context.Background(), f.shop.Merchant.ID, "Northwind", merchant.Settings{
		Warehouse: merchant.WarehouseAddress{Name: "Northwind Returns", Line1: "965 Mission St", City: "San Francisco",
			Region: "CA", PostalCode: "94103", Country: "US"},
	})
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]any{"carrier": o.carrier, "own_fallback": o.fallback, "preferred_services": o.services}
	if o.carrier == "shippo" {
		settings["shippo_token"] = "shippo_test_0123456789abcdef"
	}
	f.do(t, "PUT", "/v1/carrier-settings", auth.RoleAdmin, settings, http.StatusOK)
	var tok labels.WebhookToken
	f.do(t, "POST", "/v1/carrier-settings/webhook-token", auth.RoleAdmin, nil, http.StatusOK).JSON(t, &tok)
	u, err := url.Parse(tok.WebhookURL)
	if err != nil || u.Query().Get("token") != tok.Token || u.Path != "/v1/webhooks/shippo" {
		t.Fatalf("got webhook URL %q for token %q", tok.WebhookURL, tok.Token)
	}
	f.webhookPath = u.RequestURI()
	f.shippo.SetWebhookURL(relay.URL + u.RequestURI())
	delivered := time.Now().Add(-48 * time.Hour)
	f.do(t, "PUT", "/v1/orders/NW-1", auth.RoleIntegration, map[string]any{
		"customer": map[string]any{"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
			"address": map[string]any{"line1": "1092 Indian Summer Ct", "city": "San Jose", "region": "CA", "postal_code": "95122", "country": "US"}},
		"currency": "USD", "placed_at": delivered.Add(-72 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines": []map[string]any{
			{"id": "l1", "sku": "TEE", "name": "T-shirt", "quantity": 2, "unit_price": 2500, "tax": 400},
			{"id": "l2", "sku": "CAP", "name": "Cap", "quantity": 1, "unit_price": 1500, "tax": 120},
		},
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_ship1", "captured": 2*2500 + 400 + 1500 + 120},
	}, http.StatusCreated)
	return f
}

func (f *shipFlow) do(t *testing.T, method, path string, role auth.Role, body any, want int) apitest.Response {
	t.Helper()
	res := f.env.Do(t, method, path, f.shop.Keys[role], body)
	if res.Status != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, res.Status, res.Body, want)
	}
	return res
}

func (f *shipFlow) drain(t *testing.T) {
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

type shipParcel struct {
	Number         int     `json:"number"`
	Carrier        string  `json:"carrier"`
	CarrierName    string  `json:"carrier_name"`
	Service        string  `json:"service"`
	TrackingNumber string  `json:"tracking_number"`
	TrackingURL    string  `json:"tracking_url"`
	Status         string  `json:"status"`
	LabelAmount    *int64  `json:"label_amount"`
	LabelCurrency  *string `json:"label_currency"`
	HasQRCode      bool    `json:"has_qr_code"`
	VoidStatus     *string `json:"void_status"`
	Problem        *string `json:"problem"`
	LabelError     *string `json:"label_error"`
	LabelParked    bool    `json:"label_parked"`
	CarrierStatus  *string `json:"carrier_status"`
	DropOffURL     string  `json:"drop_off_url"`
}

func (f *shipFlow) parcels(t *testing.T, id string) []shipParcel {
	t.Helper()
	var out struct {
		Data []shipParcel `json:"data"`
	}
	f.do(t, "GET", fmt.Sprintf("/v1/returns/%s/parcels", id), auth.RoleAdmin, nil, http.StatusOK).JSON(t, &out)
	return out.Data
}

// create makes an approved return of the whole order (3 units, 6500 + 520 tax).
func (f *shipFlow) create(t *testing.T) returnDoc {
	t.Helper()
	var r returnDoc
	f.do(t, "POST", "/v1/returns", auth.RoleIntegration, map[string]any{"order_number": "NW-1", "resolution": "refund",
		"items": []map[string]any{{"line_id": "l1", "quantity": 2, "reason": "too_small"}, {"line_id": "l2", "quantity": 1, "reason": "changed_mind"}},
	}, http.StatusCreated).JSON(t, &r)
	if r.State != "approved" {
		t.Fatalf("got return %s %s, want approved", r.RMA, r.State)
	}
	return r
}

func (f *shipFlow) state(t *testing.T, id string) string {
	t.Helper()
	var s string
	if err := f.env.DB.Get(&s, `SELECT state FROM returns WHERE public_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return s
}

// download fetches a file the fake Shippo serves.
func download(t *testing.T, u string) []byte {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, res.StatusCode, err)
	}
	return b
}

// TestShippoApprovalBuysLabelOnce: approval leaves the label "being prepared"; the
// outbox buys it once at Shippo (a return shipment asking for a QR code, the
// cheapest rate, a 4x6 PDF) and stores the label, QR code, tracking, carrier,
// service and price with the parcel; PDF, ZPL and QR are served and the portal shows
// the carrier's QR code with its drop-off locator.
func TestShippoApprovalBuysLabelOnce(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{})
	r := f.create(t)
	ps := f.parcels(t, r.ID)
	if len(ps) != 1 || ps[0].Status != "preparing" || ps[0].TrackingNumber != "" || ps[0].Carrier != "shippo" {
		t.Fatalf("after approval got parcels %+v, want one preparing Shippo parcel without tracking number", ps)
	}
	res := f.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/label", r.ID), f.shop.Keys[auth.RoleAdmin], nil)
	if p := problemOf(t, res); res.Status != http.StatusConflict || p.Code != "label_being_prepared" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("label while preparing: got %d %s, want 409 label_being_prepared with Retry-After", res.Status, res.Body)
	}
	if n := len(f.shippo.Purchases()); n != 0 {
		t.Fatalf("got %d purchases before the outbox ran: the request must not buy", n)
	}

	f.drain(t)
	f.drain(t)
	buys := f.shippo.Purchases()
	if len(buys) != 1 {
		t.Fatalf("got %d purchases, want 1", len(buys))
	}
	b := buys[0]
	if b.Service != "Ground Advantage" || b.LabelFileType != "PDF_4x6" || !b.QRCode || !strings.HasPrefix(b.Metadata, "roundtrip-parcel-") {
		t.Errorf("got purchase %+v, want the cheapest rate as PDF_4x6 with a QR code and our metadata", b)
	}
	ps = f.parcels(t, r.ID)
	p := ps[0]
	if p.Status != "issued" || p.TrackingNumber != b.TrackingNumber || p.CarrierName != "USPS" || p.Service != "Ground Advantage" ||
		p.LabelAmount == nil || *p.LabelAmount != 550 || p.LabelCurrency == nil || *p.LabelCurrency != "USD" || !p.HasQRCode ||
		p.TrackingURL == "" || p.DropOffURL == "" {
		t.Fatalf("got parcel %+v, want issued with the purchase's tracking, USPS Ground Advantage, 5.50 USD, a QR code", p)
	}

	base := fmt.Sprintf("/v1/returns/%s/label", r.ID)
	res = f.do(t, "GET", base, auth.RoleAdmin, nil, http.StatusOK)
	if want := download(t, f.shippo.URL()+"/files/"+b.ID+".pdf"); res.Header.Get("Content-Type") != "application/pdf" || !bytes.Equal(res.Body, want) {
		t.Errorf("label PDF: got %s, %d bytes; want the carrier's 4x6 PDF (%d bytes)", res.Header.Get("Content-Type"), len(res.Body), len(want))
	}
	res = f.do(t, "GET", base+"?format=zpl", auth.RoleAdmin, nil, http.StatusOK)
	if zpl := string(res.Body); res.Header.Get("Content-Type") != "application/zpl" || !strings.HasPrefix(zpl, "^XA") ||
		!strings.Contains(zpl, "^FD"+b.TrackingNumber+"^FS") || !strings.Contains(zpl, "USPS") || !strings.HasSuffix(strings.TrimSpace(zpl), "^XZ") {
		t.Errorf("label ZPL: got %s:\n%s", res.Header.Get("Content-Type"), zpl)
	}
	res = f.do(t, "GET", base+"?format=qr", auth.RoleAdmin, nil, http.StatusOK)
	if want := download(t, f.shippo.URL()+"/files/"+b.ID+".png"); res.Header.Get("Content-Type") != "image/png" || !bytes.Equal(res.Body, want) {
		t.Errorf("QR: got %s, %d bytes; want the carrier's QR code", res.Header.Get("Content-Type"), len(res.Body))
	}
	if got := scanPNG(t, res.Body); got != b.TrackingNumber {
		t.Errorf("the carrier's QR code reads %q, want %q", got, b.TrackingNumber)
	}

	// the portal shows the carrier's QR code and its drop-off locator
	page := portalPage(t, f.env.URL, "northwind", "NW-1", "ada@example.com", r.RMA)
	for _, want := range []string{"data-dropoff-qr", "format=qr", "Show this code at any USPS counter", "https://tools.usps.com/find-location.htm", b.TrackingNumber} {
		if !strings.Contains(page, want) {
			t.Errorf("portal page lacks %q", want)
		}
	}
	if strings.Contains(page, "data-label-preparing") {
		t.Error("portal page still says the label is being prepared")
	}

	// the price is a cost in the ledger and in the analytics
	var ledger []struct {
		Kind     string `db:"kind"`
		Amount   int64  `db:"amount"`
		Net      int64  `db:"net"`
		Currency string `db:"currency"`
	}
	if err := f.env.DB.Select(&ledger, `SELECT kind, amount, net, currency FROM ledger_entries WHERE kind LIKE 'label_%'`); err != nil {
		t.Fatal(err)
	}
	if len(ledger) != 1 || ledger[0].Kind != "label_purchased" || ledger[0].Amount != 550 || ledger[0].Net != -550 || ledger[0].Currency != "USD" {
		t.Errorf("got label ledger entries %+v, want one label_purchased of -5.50 USD", ledger)
	}
	var sum struct {
		ShippingCost []struct {
			Currency  string `json:"currency"`
			Returns   int64  `json:"returns"`
			PerReturn int64  `json:"per_return"`
		} `json:"shipping_cost"`
	}
	day := time.Now().UTC()
	f.do(t, "GET", "/v1/analytics/summary?from="+day.Format("2006-01-02")+"&to="+day.AddDate(0, 0, 1).Format("2006-01-02"),
		auth.RoleFinance, nil, http.StatusOK).JSON(t, &sum)
	if len(sum.ShippingCost) != 1 || sum.ShippingCost[0].Currency != "USD" || sum.ShippingCost[0].Returns != 1 || sum.ShippingCost[0].PerReturn != 550 {
		t.Errorf("got shipping cost %+v, want 5.50 USD per return", sum.ShippingCost)
	}

	// more work changes nothing: one purchase
	f.drain(t)
	if n := len(f.shippo.Purchases()); n != 1 {
		t.Errorf("got %d purchases after draining again, want 1", n)
	}
}

// scanPNG returns what zbarimg reads in a PNG image.
func scanPNG(t *testing.T, png []byte) string {
	t.Helper()
	requireTools(t, "zbarimg")
	in := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(in, png, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zbarimg", "--raw", "-q", in).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// portalPage signs in to the portal as the shopper and returns the return's page.
func portalPage(t *testing.T, base, slug, order, email, rma string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	res, err := hc.PostForm(base+"/portal/"+slug+"/session", url.Values{"order_number": {order}, "email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = hc.Get(base + "/portal/" + slug + "/returns/" + rma)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("portal page: got %d\n%.500s", res.StatusCode, b)
	}
	return string(b)
}

// TestShippoPreferredService: the merchant's preferred service wins over the
// cheapest rate, and its price is what the parcel records.
func TestShippoPreferredService(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{services: []string{"fedex_ground", "usps_priority"}})
	r := f.create(t)
	f.drain(t)
	p := f.parcels(t, r.ID)[0]
	if p.Service != "Priority Mail" || p.LabelAmount == nil || *p.LabelAmount != 870 {
		t.Fatalf("got parcel %+v, want usps_priority at 8.70", p)
	}
}

// TestShippoLostResponseBuysOnce: Shippo sells the label and the answer is lost (the
// client times out); the retry finds the purchase by its metadata instead of buying
// a second label.
func TestShippoLostResponseBuysOnce(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{timeout: 500 * time.Millisecond})
	f.shippo.Inject(fakeshippo.Fault{Kind: fakeshippo.LostResponse, Method: "POST", Path: "/transactions"})
	f.shippo.Inject(fakeshippo.Fault{Kind: fakeshippo.Status429, Method: "GET", Path: "/transactions"})
	r := f.create(t)
	f.drain(t)
	buys := f.shippo.Purchases()
	if len(buys) != 1 {
		t.Fatalf("got %d purchases, want 1 (the lost answer's purchase found again)", len(buys))
	}
	p := f.parcels(t, r.ID)[0]
	if p.Status != "issued" || p.TrackingNumber != buys[0].TrackingNumber {
		t.Fatalf("got parcel %+v, want issued with the tracking number of purchase %s", p, buys[0].TrackingNumber)
	}
	var posts, faults int
	for _, q := range f.shippo.Requests() {
		if q.Method == "POST" && q.Path == "/transactions" {
			posts++
		}
		if q.Fault != nil {
			faults++
		}
	}
	if posts != 1 || faults != 2 {
		t.Errorf("got %d purchase requests and %d faults, want 1 and 2", posts, faults)
	}
}

// TestShippoOutageParksForStaff: Shippo answers 500 to everything; the purchase is
// retried and then parked, with the error on the parcel for staff; with own labels
// as fallback an own label stands in instead.
func TestShippoOutageParksForStaff(t *testing.T) {
	t.Parallel()
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback=%v", fallback), func(t *testing.T) {
			t.Parallel()
			f := newShipFlow(t, shipOptions{fallback: fallback})
			f.shippo.Inject(fakeshippo.Fault{Kind: fakeshippo.Status500, Path: "/", Times: 1000})
			r := f.create(t)
			f.drain(t)
			var attempts int
			var state string
			// a job that ran has no row: "ran"
			if err := f.env.DB.QueryRow(`SELECT coalesce(max(attempts), 0), coalesce(max(state), 'ran') FROM outbox WHERE kind = $1`,
				labels.KindBuy).Scan(&attempts, &state); err != nil {
				t.Fatal(err)
			}
			p := f.parcels(t, r.ID)[0]
			if len(f.shippo.Purchases()) != 0 {
				t.Fatal("a label was bought during the outage")
			}
			if !fallback {
				if state != "dead" || attempts != labels.BuyAttempts || p.Status != "preparing" || !p.LabelParked ||
					p.LabelError == nil || !strings.Contains(*p.LabelError, "500") {
					t.Fatalf("got job %s after %d attempts, parcel %+v; want parked after %d attempts with the error shown", state, attempts, p, labels.BuyAttempts)
				}
				if f.state(t, r.ID) != "approved" {
					t.Errorf("got return %s, want still approved (never lost)", f.state(t, r.ID))
				}
				// Shippo is back: staff try again, and the label is bought once
				f.shippo.ClearFaults()
				retry := fmt.Sprintf("/v1/returns/%s/parcels/1/label-retry", r.ID)
				f.do(t, "POST", retry, auth.RoleAdmin, nil, http.StatusOK)
				f.drain(t)
				if p := f.parcels(t, r.ID)[0]; p.Status != "issued" || len(f.shippo.Purchases()) != 1 {
					t.Fatalf("after the retry got parcel %+v and %d purchases, want issued once", p, len(f.shippo.Purchases()))
				}
				res := f.env.Do(t, "POST", retry, f.shop.Keys[auth.RoleAdmin], nil)
				if p := problemOf(t, res); res.Status != http.StatusConflict || p.Code != "label_not_parked" {
					t.Errorf("retrying a bought label: got %d %s, want 409 label_not_parked", res.Status, res.Body)
				}
				return
			}
			if state != "ran" || p.Status != "issued" || p.Carrier != "own" || !labels.ValidS10(p.TrackingNumber) ||
				p.Problem == nil || !strings.Contains(*p.Problem, "Shippo") {
				t.Fatalf("got job %s, parcel %+v; want an own label standing in, with the reason", state, p)
			}
			f.do(t, "GET", fmt.Sprintf("/v1/returns/%s/label", r.ID), auth.RoleAdmin, nil, http.StatusOK)
		})
	}
}

// TestShippoTransitRefundsOnce: under on_carrier_scan, Shippo's TRANSIT webhook
// refunds the return once (repeats do nothing); DELIVERED is noted as arriving at
// the warehouse dock; the receipt records condition and pays nothing more.
func TestShippoTransitRefundsOnce(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{})
	f.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{"refund_trigger": "on_carrier_scan"}, http.StatusOK)
	r := f.create(t)
	f.drain(t)
	tn := f.parcels(t, r.ID)[0].TrackingNumber
	ctx := t.Context()
	if err := f.shippo.SetTracking(ctx, tn, "PRE_TRANSIT", "Label created"); err != nil {
		t.Fatal(err)
	}
	if s := f.state(t, r.ID); s != "approved" {
		t.Fatalf("after PRE_TRANSIT got %s, want approved", s)
	}
	for range 2 {
		if err := f.shippo.SetTracking(ctx, tn, "TRANSIT", "Accepted at USPS origin facility"); err != nil {
			t.Fatal(err)
		}
	}
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 1 {
		t.Fatalf("got %d Stripe refunds after TRANSIT twice, want 1", n)
	}
	if err := f.shippo.SetTracking(ctx, tn, "DELIVERED", "Delivered"); err != nil {
		t.Fatal(err)
	}
	if !hasNote(t, f, r.ID, "arrived at the warehouse dock") {
		t.Error("the timeline does not say the parcel arrived at the warehouse dock")
	}
	f.do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), auth.RoleWarehouse, map[string]any{"items": []map[string]any{
		{"line_id": "l1", "quantity": 2, "condition": "new", "disposition": "restock"},
		{"line_id": "l2", "quantity": 1, "condition": "like_new", "disposition": "restock"}}}, http.StatusCreated)
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 1 {
		t.Errorf("got %d Stripe refunds after the receipt, want still 1", n)
	}
	var rows int
	f.env.DB.Get(&rows, `SELECT count(*) FROM refunds WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID)
	if rows != 1 {
		t.Errorf("got %d refund rows, want 1", rows)
	}
	if s := f.state(t, r.ID); s != "completed" {
		t.Errorf("got return %s, want completed", s)
	}
	var cond string
	f.env.DB.Get(&cond, `SELECT condition FROM return_items WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) AND line_id = 'l2'`, r.ID)
	if cond != "like_new" {
		t.Errorf("got condition %q, want like_new recorded", cond)
	}
}

func hasNote(t *testing.T, f *shipFlow, id string, text string) bool {
	t.Helper()
	var n int
	if err := f.env.DB.Get(&n, `SELECT count(*) FROM return_events WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) AND note LIKE '%' || $2 || '%'`, id, text); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestOwnCarrierScanRefundsOnce: the same with own labels and carrier events: the
// first scan refunds once; a receipt that finds an item missing pays nothing more
// and opens a case for staff, nothing clawed back.
func TestOwnCarrierScanRefundsOnce(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{carrier: "own"})
	f.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{"refund_trigger": "on_carrier_scan"}, http.StatusOK)
	r := f.create(t)
	p := f.parcels(t, r.ID)[0]
	if p.Status != "issued" || p.Carrier != "own" {
		t.Fatalf("got parcel %+v, want an own label at once", p)
	}
	// no carrier QR code: ours, of the tracking number, in the portal too
	res := f.do(t, "GET", fmt.Sprintf("/v1/returns/%s/label?format=qr", r.ID), auth.RoleAdmin, nil, http.StatusOK)
	if got := scanPNG(t, res.Body); res.Header.Get("Content-Type") != "image/png" || got != p.TrackingNumber {
		t.Errorf("own drop-off QR code: %s reading %q, want the tracking number %s", res.Header.Get("Content-Type"), got, p.TrackingNumber)
	}
	page := portalPage(t, f.env.URL, "northwind", "NW-1", "ada@example.com", r.RMA)
	for _, want := range []string{"data-dropoff-qr", "format=qr", "it carries the tracking number"} {
		if !strings.Contains(page, want) {
			t.Errorf("portal page lacks %q", want)
		}
	}
	zpl := f.do(t, "GET", fmt.Sprintf("/v1/returns/%s/label?format=zpl", r.ID), auth.RoleAdmin, nil, http.StatusOK)
	if !strings.Contains(string(zpl.Body), "^FD"+p.TrackingNumber+"^FS") {
		t.Errorf("own ZPL label lacks the tracking number:\n%s", zpl.Body)
	}
	var secret labels.CarrierSecret
	f.do(t, "POST", "/v1/carrier-secret", auth.RoleAdmin, nil, http.StatusOK).JSON(t, &secret)
	for range 2 {
		res := f.env.Do(t, "POST", "/v1/carrier-events", "", map[string]any{"tracking_number": p.TrackingNumber, "status": "in_transit"},
			"X-Carrier-Secret", secret.Secret)
		if res.Status != http.StatusOK {
			t.Fatalf("carrier event: %d %s", res.Status, res.Body)
		}
	}
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 1 {
		t.Fatalf("got %d Stripe refunds after two scans, want 1", n)
	}
	var paid int64
	f.env.DB.Get(&paid, `SELECT amount FROM refunds WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID)
	f.do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), auth.RoleWarehouse, map[string]any{"items": []map[string]any{
		{"line_id": "l1", "quantity": 2, "condition": "new", "disposition": "restock"},
		{"line_id": "l2", "quantity": 1, "condition": "missing", "disposition": "dispose"}}}, http.StatusCreated)
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 1 {
		t.Errorf("got %d Stripe refunds after the receipt, want still 1", n)
	}
	var cases []refunds.Case
	var out struct {
		Data []refunds.Case `json:"data"`
	}
	f.do(t, "GET", "/v1/return-cases", auth.RoleFinance, nil, http.StatusOK).JSON(t, &out)
	cases = out.Data
	if len(cases) != 1 || cases[0].ReturnID != r.ID || cases[0].Paid != paid || cases[0].Owed >= paid || cases[0].Kind != "overpaid" {
		t.Fatalf("got cases %+v, want one overpaid case for %s (paid %d)", cases, r.RMA, paid)
	}
	if !hasNote(t, f, r.ID, "nothing was taken back") {
		t.Error("the timeline does not show the case")
	}
}

// TestShippoCancelVoidsOnce: cancelling after the purchase asks Shippo to refund the
// unused label once, recorded on the parcel; a lost answer of that refund is found
// again instead of asked twice.
func TestShippoCancelVoidsOnce(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{timeout: 500 * time.Millisecond})
	r := f.create(t)
	f.drain(t)
	buys := f.shippo.Purchases()
	if len(buys) != 1 {
		t.Fatalf("got %d purchases, want 1", len(buys))
	}
	f.shippo.Inject(fakeshippo.Fault{Kind: fakeshippo.LostResponse, Method: "POST", Path: "/refunds"})
	f.do(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", r.ID), auth.RoleAdmin, map[string]any{}, http.StatusOK)
	f.drain(t)
	f.drain(t)
	if got := f.shippo.Refunds(); len(got) != 1 || got[0] != buys[0].ID {
		t.Fatalf("got label refunds %v, want one of %s", got, buys[0].ID)
	}
	p := f.parcels(t, r.ID)[0]
	if p.Status != "voided" || p.VoidStatus == nil {
		t.Fatalf("got parcel %+v, want voided with the void recorded", p)
	}
	res := f.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/label", r.ID), f.shop.Keys[auth.RoleAdmin], nil)
	if res.Status != http.StatusGone {
		t.Errorf("voided label: got %d, want 410", res.Status)
	}
	var voids int
	f.env.DB.Get(&voids, `SELECT count(*) FROM ledger_entries WHERE kind = 'label_voided' AND return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID)
	if voids != 1 {
		t.Errorf("got %d label_voided ledger entries, want 1", voids)
	}
}

// TestShippoExpiryVoidsOnce: a label that expires unused is voided at Shippo once.
func TestShippoExpiryVoidsOnce(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{})
	r := f.create(t)
	f.drain(t)
	buys := f.shippo.Purchases()
	if len(buys) != 1 {
		t.Fatalf("got %d purchases, want 1", len(buys))
	}
	if _, err := f.env.DB.Exec(`UPDATE parcels SET valid_until = now() - interval '1 minute' WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.DB.Exec(`UPDATE outbox SET run_at = now() WHERE kind = $1`, labels.KindExpire); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	f.drain(t)
	if s := f.state(t, r.ID); s != "expired" {
		t.Fatalf("got return %s, want expired", s)
	}
	if got := f.shippo.Refunds(); len(got) != 1 || got[0] != buys[0].ID {
		t.Fatalf("got label refunds %v, want one of %s", got, buys[0].ID)
	}
}

// TestShippoCancelBeforePurchase: a return cancelled while its label is being
// prepared buys nothing.
func TestShippoCancelBeforePurchase(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{})
	r := f.create(t)
	f.do(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", r.ID), auth.RoleAdmin, map[string]any{}, http.StatusOK)
	f.drain(t)
	if n := len(f.shippo.Purchases()); n != 0 {
		t.Fatalf("got %d purchases for a return cancelled before the purchase, want 0", n)
	}
	if p := f.parcels(t, r.ID)[0]; p.Status != "voided" {
		t.Fatalf("got parcel %+v, want voided", p)
	}
}

// TestShippoWebhookAuthAndPoll: a webhook with a wrong token is refused; unknown
// parcels and UNKNOWN statuses are ignored; a parcel whose webhook was lost is
// found by the poller after a quiet day.
func TestShippoWebhookAuthAndPoll(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{})
	body := `{"event":"track_updated","test":true,"data":{"carrier":"usps","tracking_number":"9205000000000000000000","tracking_history":[],"messages":[],"tracking_status":{"object_created":"2026-01-01T00:00:00Z","object_updated":"2026-01-01T00:00:00Z","object_id":"x","status":"TRANSIT","status_details":"x"}}}`
	res := f.env.Do(t, "POST", "/v1/webhooks/shippo?merchant=northwind&token=rtw_wrong", "", body)
	if res.Status != http.StatusUnauthorized {
		t.Errorf("wrong token: got %d %s, want 401", res.Status, res.Body)
	}
	r := f.create(t)
	f.drain(t)
	tn := f.parcels(t, r.ID)[0].TrackingNumber
	f.shippo.SetTrackingQuietly(tn, "TRANSIT")
	if _, err := f.env.DB.Exec(`UPDATE parcels SET issued_at = now() - interval '2 days' WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.worker.Schedule(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if s := f.state(t, r.ID); s != "in_transit" {
		t.Fatalf("after the poll got %s, want in_transit", s)
	}
	if p := f.parcels(t, r.ID)[0]; p.CarrierStatus == nil || *p.CarrierStatus != "in_transit" {
		t.Fatalf("got parcel %+v, want carrier status in_transit", p)
	}

	// the carrier sends it back: staff see it on the parcel and the timeline
	if err := f.shippo.SetTracking(t.Context(), tn, "RETURNED", "Return to sender: refused"); err != nil {
		t.Fatal(err)
	}
	if p := f.parcels(t, r.ID)[0]; p.Problem == nil || !strings.Contains(*p.Problem, "returning the parcel") || !strings.Contains(*p.Problem, "refused") {
		t.Fatalf("got parcel %+v, want the problem shown", p)
	}
	if !hasNote(t, f, r.ID, "returning the parcel to the shopper") {
		t.Error("the timeline does not show the carrier problem")
	}
	// a test event, an unknown parcel and UNKNOWN change nothing
	for _, body := range []string{`{"event":"transaction_created","test":true,"data":{}}`,
		strings.Replace(body, "9205000000000000000000", "9205000000000000000999", 1),
		strings.Replace(strings.Replace(body, "9205000000000000000000", tn, 1), `"TRANSIT"`, `"UNKNOWN"`, 1)} {
		res := f.env.Do(t, "POST", f.webhookPath, "", body)
		var out struct {
			Result string `json:"result"`
		}
		res.JSON(t, &out)
		if res.Status != http.StatusOK || out.Result != "ignored" {
			t.Errorf("got %d %s, want 200 ignored", res.Status, res.Body)
		}
	}
}
