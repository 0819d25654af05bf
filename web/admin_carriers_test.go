package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestAdminCarrierSettings: an admin switches the shop to Shippo with a token, which
// the page never shows again; a wrong parcel is refused naming the field, nothing
// saved; the webhook URL is shown once; every change is in the audit trail.
func TestAdminCarrierSettings(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	admin := s.client(t)
	admin.signIn("northwind", "boss")
	p := admin.get("/admin/carriers")
	wantStatus(t, "carriers page", p, http.StatusOK)
	mustContain(t, p, "<h1>Carriers</h1>", `value="own" checked`)
	csrf := p.csrf(t)

	form := url.Values{"csrf": {csrf}, "op": {"save"}, "carrier": {"shippo"}, "shippo_token": {"shippo_test_secret0123456789"},
		"preferred_carriers": {"usps, ups"}, "preferred_services": {"usps_priority"}, "length": {"12"}, "width": {"9"},
		"height": {"abc"}, "distance_unit": {"in"}, "weight": {"2"}, "mass_unit": {"lb"}, "own_fallback": {"1"}}
	p = admin.post("/admin/carriers", form)
	wantStatus(t, "bad parcel", p, http.StatusUnprocessableEntity)
	mustContain(t, p, `href="#c-height">Height</a>`)
	if strings.Contains(p.Body, "secret0123456789") {
		t.Error("the page shows the token typed")
	}
	var n int
	s.env.DB.Get(&n, `SELECT count(*) FROM carrier_settings WHERE carrier = 'shippo'`)
	if n != 0 {
		t.Fatal("a refused form saved the settings")
	}

	form.Set("height", "4")
	p = admin.post("/admin/carriers", form)
	wantStatus(t, "save", p, http.StatusSeeOther)
	p = admin.get(p.Location)
	mustContain(t, p, `value="shippo" checked`, "on file: …6789", `value="usps, ups"`, `value="usps_priority"`)
	if strings.Contains(p.Body, "shippo_test_secret") {
		t.Error("the page shows the token on file")
	}
	var cs struct {
		Carrier string   `json:"carrier"`
		Hint    string   `json:"shippo_token_hint"`
		Prefs   []string `json:"preferred_carriers"`
	}
	res := s.do(t, "GET", "/v1/carrier-settings", auth.RoleAdmin, nil, http.StatusOK)
	res.JSON(t, &cs)
	if cs.Carrier != "shippo" || cs.Hint != "…6789" || len(cs.Prefs) != 2 || strings.Contains(string(res.Body), "secret") {
		t.Errorf("got settings %s", res.Body)
	}

	p = admin.post("/admin/carriers", url.Values{"csrf": {csrf}, "op": {"webhook"}})
	wantStatus(t, "webhook URL", p, http.StatusOK)
	mustContain(t, p, "/v1/webhooks/shippo?merchant=northwind&amp;token=rtw_")

	rows := s.auditRows(t, s.tn.Merchant.ID)
	if !hasRow(rows, "user:boss carrier_settings.updated carrier settings") || !hasRow(rows, "user:boss carrier_webhook_token.rotated carrier webhook token") {
		t.Errorf("audit trail lacks the changes: %v", rows)
	}
	var summary string
	s.env.DB.Get(&summary, `SELECT summary FROM audit_log WHERE action = 'carrier_settings.updated'`)
	if !strings.Contains(summary, "Carrier: own → shippo") || !strings.Contains(summary, "Shippo token: replaced") || strings.Contains(summary, "secret") {
		t.Errorf("audit summary %q", summary)
	}
}

// TestAdminCarriersShowsWhatNeedsStaff: parked labels (with a Try again button) and
// carrier problems are listed on the carriers page.
func TestAdminCarriersShowsWhatNeedsStaff(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{"window_days": 30}, http.StatusOK)
	a, b := s.createReturn(t, "NW-1", 1), s.createReturn(t, "NW-1", 1)
	var job int64
	if err := s.env.DB.Get(&job, `INSERT INTO outbox (merchant_id, kind, payload, state, attempts, last_error)
		VALUES ($1, 'label.buy', '{}', 'dead', 10, 'shippo: POST /shipments: 500 down') RETURNING id`, s.tn.Merchant.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.DB.Exec(`UPDATE parcels SET status = 'preparing', tracking_number = NULL, label_job_id = $2 WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, a.ID, job); err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.DB.Exec(`UPDATE parcels SET problem = 'The carrier reports a delivery failure: no access.' WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, b.ID); err != nil {
		t.Fatal(err)
	}
	admin := s.client(t)
	admin.signIn("northwind", "boss")
	p := admin.get("/admin/carriers")
	wantStatus(t, "carriers page", p, http.StatusOK)
	mustContain(t, p, "data-carrier-attention", a.RMA, "label not bought after every retry", "500 down", "Try again",
		b.RMA, "no access.")
	p = admin.post("/admin/carriers", url.Values{"csrf": {p.csrf(t)}, "op": {"retry"}, "return_id": {a.ID}, "parcel": {"1"}})
	wantStatus(t, "try again", p, http.StatusSeeOther)
	var jobs int
	s.env.DB.Get(&jobs, `SELECT count(*) FROM outbox WHERE kind = 'label.buy' AND state = 'pending'`)
	if jobs != 1 {
		t.Errorf("got %d pending purchases after Try again, want 1", jobs)
	}
}
