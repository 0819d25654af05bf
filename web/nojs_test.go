package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	keyRE  = regexp.MustCompile(`name="key" value="([0-9a-f]{32})"`)
	rmaRE  = regexp.MustCompile(`/returns/(R-[0-9A-Z]{4}-[0-9A-Z]{4})/confirmation`)
	hrefRE = regexp.MustCompile(`href="(/portal/northwind/returns/R-[^"]+/label\?[^"]+)"`)
)

// TestPortalAndStationWorkWithoutJavaScript goes through the forms as a browser
// with JavaScript off would: plain posts and redirects. It also sends the
// confirmation and the receipt twice, as a double click without the script would.
func TestPortalAndStationWorkWithoutJavaScript(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	c := s.client(t)
	home := c.lookUp("northwind", "NW-1", "ada@example.com")
	csrf := home.csrf(t)

	// a reason is needed for every item chosen
	p := c.post("/portal/northwind/quote", url.Values{"csrf": {csrf}, "line.0": {"l1"}, "qty.0": {"2"}, "line.1": {"l2"}, "line.2": {"l3"}})
	wantStatus(t, "an item without a reason", p, http.StatusUnprocessableEntity)
	mustContain(t, p, "Choose a reason for returning this item.", `aria-invalid="true"`, `<option value="2" selected>2</option>`)

	review := c.post("/portal/northwind/quote", url.Values{"csrf": {csrf}, "line.0": {"l1"}, "qty.0": {"2"}, "reason.0": {"damaged"},
		"line.1": {"l2"}, "line.2": {"l3"}})
	wantStatus(t, "quote", review, http.StatusOK)
	// damaged: no label fee, and the original shipping comes back
	mustContain(t, review, "Original shipping, refunded", "€5.94", "Refund to your original payment: <span data-total=\"refund\">€65.44</span>")
	key := keyRE.FindStringSubmatch(review.Body)
	if key == nil {
		t.Fatal("the review has no idempotency key")
	}
	confirm := url.Values{"csrf": {csrf}, "key": {key[1]}, "n": {"1"}, "line.0": {"l1"}, "qty.0": {"2"}, "reason.0": {"damaged"}, "resolution": {"store_credit"}}
	first := c.post("/portal/northwind/returns", confirm)
	second := c.post("/portal/northwind/returns", confirm)
	wantStatus(t, "confirm", first, http.StatusSeeOther)
	if second.Location != first.Location {
		t.Errorf("confirming twice: got %s and %s, want one return", first.Location, second.Location)
	}
	m := rmaRE.FindStringSubmatch(first.Location)
	if m == nil {
		t.Fatalf("confirm went to %s", first.Location)
	}
	rma := m[1]
	var n int
	if err := s.env.DB.Get(&n, `SELECT count(*) FROM returns`); err != nil || n != 1 {
		t.Errorf("returns made: %d (%v), want 1", n, err)
	}
	done := c.get(first.Location)
	mustContain(t, done, "Thank you, Ada.", "Store credit: <strong>€71.98</strong>", "<svg class=\"qr\"")
	label := hrefRE.FindStringSubmatch(done.Body)
	if label == nil {
		t.Fatal("the confirmation links no label")
	}
	res, err := c.hc.Get(s.env.URL + strings.ReplaceAll(label[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	pdf := read(t, res)
	if pdf.Status != http.StatusOK || !strings.HasPrefix(pdf.Body, "%PDF-") {
		t.Errorf("label: got %d %.20q", pdf.Status, pdf.Body)
	}

	// the warehouse receives it, with the form sent twice
	var id string
	if err := s.env.DB.Get(&id, `SELECT public_id FROM returns WHERE rma = $1`, rma); err != nil {
		t.Fatal(err)
	}
	wh := s.client(t)
	station := wh.signIn("northwind", "ana")
	scan := wh.post("/warehouse/scan", url.Values{"csrf": {station.csrf(t)}, "code": {rma}})
	wantStatus(t, "scan", scan, http.StatusOK)
	rk := keyRE.FindStringSubmatch(scan.Body)
	if rk == nil {
		t.Fatalf("the scan shows no receipt form:\n%.1000s", scan.Body)
	}
	receipt := url.Values{"csrf": {station.csrf(t)}, "key": {rk[1]}, "n": {"1"}, "line.0": {"l1"}, "qty.0": {"2"}, "cond.0": {"damaged"}, "disp.0": {"refurbish"}, "parcel": {"1"}}
	r1 := wh.post(fmt.Sprintf("/warehouse/returns/%s/receipts", id), receipt)
	r2 := wh.post(fmt.Sprintf("/warehouse/returns/%s/receipts", id), receipt)
	wantStatus(t, "receipt", r1, http.StatusSeeOther)
	if r2.Location != r1.Location {
		t.Errorf("the receipt twice: got %s and %s, want the same receipt", r1.Location, r2.Location)
	}
	var received int
	if err := s.env.DB.Get(&received, `SELECT received FROM return_items WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, id); err != nil || received != 2 {
		t.Errorf("received: %d (%v), want 2", received, err)
	}
	mustContain(t, wh.get(r1.Location), `data-result="received"`, "Received 2 item(s).")

	// too many is refused in words, and nothing is recorded
	more := wh.post(fmt.Sprintf("/warehouse/returns/%s/receipts", id), url.Values{"csrf": {station.csrf(t)}, "key": {strings.Repeat("d", 32)},
		"n": {"1"}, "line.0": {"l1"}, "qty.0": {"1"}, "cond.0": {"new"}, "disp.0": {"restock"}})
	wantStatus(t, "a receipt of more than expected", more, http.StatusConflict)
	mustContain(t, more, "Return "+rma+" is already completed. Set the parcel aside for review.")

	// the shopper's status page now says the store credit was issued
	mustContain(t, c.get("/portal/northwind/returns/"+rma), "Store credit issued", "2 arrived", "Completed", "Store credit of €71.98 is yours")
}
