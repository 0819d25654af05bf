package refunds_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

type scanAnswer struct {
	Repeat  bool   `json:"repeat"`
	Message string `json:"message"`
	Parcel  *struct {
		TrackingNumber string `json:"tracking_number"`
	} `json:"parcel"`
	Expected []struct {
		LineID   string `json:"line_id"`
		Quantity int    `json:"quantity"`
	} `json:"expected"`
	Return ret `json:"return"`
}

type problemDoc struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	State  string `json:"state"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func (f *flow) scan(t *testing.T, code string) (int, []byte) {
	t.Helper()
	res := f.env.Do(t, "POST", "/v1/scans", f.shop.Keys[auth.RoleWarehouse], map[string]any{"code": code})
	return res.Status, res.Body
}

// TestScanNormalisesScannerInput: however the scanner types the RMA or the
// tracking number, the scan finds the return; the first scan records the arrival
// and every later one is a repeat.
func TestScanNormalisesScannerInput(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
	bare := strings.ReplaceAll(r.RMA, "-", "")

	// a parcel with a tracking number (the one the label has, else one of ours)
	var tracking string
	err := f.env.DB.Get(&tracking, `SELECT tracking_number FROM parcels WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) AND status = 'issued' ORDER BY number LIMIT 1`, r.ID)
	if err != nil {
		tracking = "RR123456785GB"
		f.env.DB.MustExec(`INSERT INTO parcels (merchant_id, return_id, number, carrier, service, tracking_number, valid_until)
			VALUES ($1, $2, 1, 'own', 'standard', $3, now() + interval '30 days')`, f.shop.Merchant.ID, r.ID, tracking)
	}
	spaced := strings.ToLower(tracking[:2] + " " + tracking[2:5] + " " + tracking[5:8] + " " + tracking[8:])

	for i, code := range []string{
		r.RMA,                               // as printed
		"  " + r.RMA + "\r\n",               // surrounding spaces and the scanner's Enter
		strings.ToLower(r.RMA),              // lower case
		bare,                                // missing dashes
		"]C0" + r.RMA,                       // Code 128 symbology identifier
		"]c0 " + strings.ToLower(bare),      // all of it at once
		"*" + r.RMA + "*",                   // Code 39 start/stop
		strings.ReplaceAll(r.RMA, "-", "‐"), // Unicode hyphens
		tracking,                            // the parcel's tracking number
		"]C0" + spaced,                      // typed by hand, lower case, in groups
	} {
		status, body := f.scan(t, code)
		if status != http.StatusOK {
			t.Errorf("scan %q: got %d %s, want 200", code, status, body)
			continue
		}
		var got scanAnswer
		if err := jsonUnmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Return.ID != r.ID || got.Repeat != (i > 0) {
			t.Errorf("scan %q: got return %s repeat=%v, want %s repeat=%v", code, got.Return.ID, got.Repeat, r.ID, i > 0)
		}
		if got.Parcel == nil || got.Parcel.TrackingNumber != tracking {
			t.Errorf("scan %q: got parcel %+v, want %s", code, got.Parcel, tracking)
		}
		if len(got.Expected) != 1 || got.Expected[0].LineID != "l1" || got.Expected[0].Quantity != 2 {
			t.Errorf("scan %q: got expected %+v, want 2 × l1", code, got.Expected)
		}
		if i > 0 && !strings.HasPrefix(got.Message, "Already scanned") {
			t.Errorf("scan %q: got message %q, want it to say it was already scanned", code, got.Message)
		}
	}
	var arrivals int
	if err := f.env.DB.Get(&arrivals, `SELECT count(*) FROM parcels WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) AND arrived_at IS NOT NULL`, r.ID); err != nil {
		t.Fatal(err)
	}
	if arrivals != 1 {
		t.Errorf("got %d parcels arrived, want 1", arrivals)
	}

	t.Run("unknown code", func(t *testing.T) {
		for _, code := range []string{"R-0000-0000", "ZZ999999999GB", "R-7KQ4-M2XE", "]C0"} {
			status, body := f.scan(t, code)
			var p problemDoc
			jsonUnmarshal(body, &p)
			if status != http.StatusNotFound || !strings.Contains(p.Detail, fmt.Sprintf("%q", code)) ||
				!strings.Contains(p.Detail, "set the parcel aside") {
				t.Errorf("scan %q: got %d %s, want 404 naming the code and what to do", code, status, body)
			}
		}
	})

	t.Run("cancelled return", func(t *testing.T) {
		c := f.createReturn(t, map[string]any{"line_id": "l2", "quantity": 1, "reason": "changed_mind"})
		if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", c.ID), f.shop.Keys[auth.RoleIntegration], map[string]any{}); res.Status != http.StatusOK {
			t.Fatalf("cancel: %d %s", res.Status, res.Body)
		}
		status, body := f.scan(t, strings.ToLower(c.RMA))
		var p problemDoc
		jsonUnmarshal(body, &p)
		if status != http.StatusConflict || p.State != "cancelled" || !strings.Contains(p.Detail, c.RMA) ||
			!strings.Contains(p.Detail, "cancelled") {
			t.Errorf("got %d %s, want 409 naming the return and its state", status, body)
		}
		if res := f.receive(t, c, map[string]any{"line_id": "l2", "quantity": 1, "condition": "new", "disposition": "restock"}); res.Status != http.StatusConflict {
			t.Errorf("got %d %s for a receipt of a cancelled return, want 409", res.Status, res.Body)
		}
	})
}

// TestPartialReceiptTwoParcels: two parcels, two refunds, that add up to the quote
// to the cent, and the return walks resolving → partially_received → resolving →
// completed.
func TestPartialReceiptTwoParcels(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	// amounts that do not divide evenly: the order discount and the tax are
	// pro-rated over the lines and the units
	f.putOrder(t, "NW-2", "pi_flow2", []map[string]any{
		{"id": "a", "sku": "SOCK", "name": "Socks", "quantity": 3, "unit_price": 999, "tax": 500},
		{"id": "b", "sku": "BELT", "name": "Belt", "quantity": 1, "unit_price": 1999, "tax": 377},
	}, 101)
	r := f.createReturnOn(t, "NW-2", "refund", map[string]any{"line_id": "a", "quantity": 3, "reason": "too_small"},
		map[string]any{"line_id": "b", "quantity": 1, "reason": "changed_mind"})

	f.mustReceive(t, r, map[string]any{"line_id": "a", "quantity": 1, "condition": "new", "disposition": "restock"})
	if got := f.state(t, r); got != "resolving" {
		t.Fatalf("got %s after parcel 1, want resolving", got)
	}
	f.drain(t)
	if got := f.state(t, r); got != "partially_received" {
		t.Fatalf("got %s after refund 1, want partially_received", got)
	}
	f.mustReceive(t, r, map[string]any{"line_id": "a", "quantity": 2, "condition": "like_new", "disposition": "restock"},
		map[string]any{"line_id": "b", "quantity": 1, "condition": "used", "disposition": "resale_hold"})
	if got := f.state(t, r); got != "resolving" {
		t.Fatalf("got %s after parcel 2, want resolving", got)
	}
	f.drain(t)
	if got := f.state(t, r); got != "completed" {
		t.Fatalf("got %s after refund 2, want completed", got)
	}

	list := f.refundsOf(t, r)
	stripe := f.stripe.Refunds()
	if len(list) != 2 || len(stripe) != 2 {
		t.Fatalf("got %d refunds and %d Stripe refunds, want 2 of each", len(list), len(stripe))
	}
	var sum int64
	for i, fr := range list {
		if fr.Status != refunds.StatusSucceeded || stripe[i].Amount != fr.Amount || *fr.StripeRefundID != stripe[i].ID {
			t.Errorf("refund %d: got %+v, Stripe %+v", i+1, fr, stripe[i])
		}
		sum += stripe[i].Amount
	}
	if sum != r.Total || list[0].Amount >= list[1].Amount {
		t.Errorf("got Stripe refunds %d + %d = %d, want %d, the quote", stripe[0].Amount, stripe[1].Amount, sum, r.Total)
	}

	var walk []string
	for _, e := range f.timeline(t, r) {
		if e.From != e.To && (len(walk) > 0 || e.To == "partially_received") {
			walk = append(walk, e.To)
		}
	}
	want := []string{"partially_received", "resolving", "partially_received", "received", "resolving", "completed"}
	if strings.Join(walk, " ") != strings.Join(want, " ") {
		t.Errorf("got states %v, want %v", walk, want)
	}
}

// TestWrongItemLowersRefund: a unit recorded as the wrong item is not refunded, and
// the refund and the timeline say so.
func TestWrongItemLowersRefund(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"},
		map[string]any{"line_id": "l2", "quantity": 1, "reason": "changed_mind"})
	f.mustReceive(t, r, received, map[string]any{"line_id": "l2", "quantity": 1, "condition": "wrong_item", "disposition": "dispose",
		"note": "A scarf, not our cap"})
	f.drain(t)

	want := r.line(t, "l1")
	fr := f.oneRefund(t, r)
	if n := f.stripe.RefundCount(); n != 1 || f.stripe.Refunds()[0].Amount != want || fr.Amount != want || want >= r.Total {
		t.Fatalf("got %d Stripe refunds, refund of %d; want one of %d (the quote of %d less the cap)", n, fr.Amount, want, r.Total)
	}
	if !strings.Contains(fr.Explanation, "Not refunded: 1 × Cap (wrong item)") {
		t.Errorf("got explanation %q, want it to name the cap", fr.Explanation)
	}
	why := 0
	for _, e := range f.timeline(t, r) {
		if strings.Contains(strings.ToLower(e.Note), "not refunded") && strings.Contains(e.Note, "Cap") && strings.Contains(e.Note, "wrong item") {
			why++
		}
	}
	if why == 0 {
		t.Errorf("got timeline %+v, want an entry saying the cap was not refunded as the wrong item", f.timeline(t, r))
	}
	if got := f.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
}

// TestReceiptValidation: what the return does not expect answers 422 naming the
// field, and records nothing.
func TestReceiptValidation(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
	line := func(id string, n int) map[string]any {
		return map[string]any{"line_id": id, "quantity": n, "condition": "new", "disposition": "restock"}
	}
	for _, tc := range []struct {
		name     string
		lines    []map[string]any
		location string
		says     string
	}{
		{"more than requested", []map[string]any{line("l1", 3)}, "body.items[0].quantity", "2 unit(s) still expected"},
		{"unknown line", []map[string]any{line("nope", 1)}, "body.items[0].line_id", "not an item of return"},
		{"a line of the order not in the return", []map[string]any{line("l2", 1)}, "body.items[0].line_id", "record it under unexpected"},
		{"a line twice", []map[string]any{line("l1", 1), line("l1", 1)}, "body.items[1].line_id", "twice"},
		{"nothing", []map[string]any{}, "body.items", "at least one"},
	} {
		res := f.receive(t, r, tc.lines...)
		var p problemDoc
		jsonUnmarshal(res.Body, &p)
		if res.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Location != tc.location ||
			!strings.Contains(p.Errors[0].Message, tc.says) {
			t.Errorf("%s: got %d %s, want 422 on %s saying %q", tc.name, res.Status, res.Body, tc.location, tc.says)
		}
	}
	var receipts int
	f.env.DB.Get(&receipts, `SELECT count(*) FROM receipts`)
	if receipts != 0 || f.state(t, r) != "approved" {
		t.Fatalf("got %d receipts and return %s after refused receipts, want none and approved", receipts, f.state(t, r))
	}

	// one unit arrives with something unexpected; then one more than is left is refused
	res := f.env.Do(t, "POST", "/v1/returns/"+strings.ToLower(r.RMA)+"/receipts", f.shop.Keys[auth.RoleWarehouse], map[string]any{
		"items": []map[string]any{line("l1", 1)}, "unexpected": []map[string]any{{"description": "Blue scarf", "quantity": 1}}})
	if res.Status != http.StatusCreated || !strings.Contains(string(res.Body), "Unexpected: 1 × Blue scarf") {
		t.Fatalf("receipt by RMA: %d %s", res.Status, res.Body)
	}
	res = f.receive(t, r, line("l1", 2))
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "body.items[0].quantity") {
		t.Errorf("got %d %s for 2 more of 1 left, want 422 on body.items[0].quantity", res.Status, res.Body)
	}
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 1 || f.stripe.Refunds()[0].Amount != r.Total/2 {
		t.Errorf("got %d Stripe refunds, want one for the unit that arrived (%d)", n, r.Total/2)
	}
}

// TestStoreCreditResolution: a store-credit return pays nothing through Stripe; the
// shopper's ledger gets the credit and the policy's bonus.
func TestStoreCreditResolution(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	if res := f.env.Do(t, "PUT", "/v1/policy", f.shop.Keys[auth.RoleAdmin], map[string]any{"store_credit_bonus_bps": 1000}); res.Status != http.StatusOK {
		t.Fatalf("put policy: %d %s", res.Status, res.Body)
	}
	r := f.createReturnOn(t, "NW-1", "store_credit", map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
	paid := r.line(t, "l1")
	bonus := paid / 10
	if r.Total != paid+bonus || r.Quote.StoreCreditBonus != bonus {
		t.Fatalf("got a quote of %d with a bonus of %d, want %d + %d", r.Total, r.Quote.StoreCreditBonus, paid, bonus)
	}
	f.mustReceive(t, r, received)
	f.drain(t)
	if got := f.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
	if n := f.stripe.RefundCount(); n != 0 || len(f.refundsOf(t, r)) != 0 {
		t.Errorf("got %d Stripe refunds and %d refund rows, want none", n, len(f.refundsOf(t, r)))
	}
	// the receipt's change rides on the credit's statement: the timeline keeps the
	// journey's order
	var walk []string
	for _, e := range f.timeline(t, r) {
		if e.From != e.To && (len(walk) > 0 || e.To == "received") {
			walk = append(walk, e.To)
		}
	}
	if want := []string{"received", "resolving", "completed"}; strings.Join(walk, " ") != strings.Join(want, " ") {
		t.Errorf("got states %v, want %v", walk, want)
	}

	res := f.env.Do(t, "GET", "/v1/store-credit?email=Ada@Example.com", f.shop.Keys[auth.RoleFinance], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("store credit: %d %s", res.Status, res.Body)
	}
	var c refunds.Credit
	res.JSON(t, &c)
	if len(c.Entries) != 2 || c.Entries[0].Kind != "issued" || c.Entries[0].Amount != paid ||
		c.Entries[1].Kind != "bonus" || c.Entries[1].Amount != bonus {
		t.Errorf("got entries %+v, want issued %d and bonus %d", c.Entries, paid, bonus)
	}
	if len(c.Balances) != 1 || c.Balances[0].Currency != "EUR" || c.Balances[0].Amount != r.Total {
		t.Errorf("got balances %+v, want EUR %d", c.Balances, r.Total)
	}
	if res := f.env.Do(t, "GET", "/v1/store-credit?email=ada@example.com", f.shop.Keys[auth.RoleWarehouse], nil); res.Status != http.StatusForbidden {
		t.Errorf("got %d for the warehouse reading store credit, want 403", res.Status)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestKeepItRefundsWithoutAParcel: a return under the policy's keep-it threshold is
// refunded as soon as it is approved, gets no label, and completes with no receipt.
func TestKeepItRefundsWithoutAParcel(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	res := f.env.Do(t, "PUT", "/v1/policy", f.shop.Keys[auth.RoleAdmin], map[string]any{"keep_it_threshold": map[string]int64{"EUR": 5000}})
	if res.Status != 200 {
		t.Fatalf("put policy: %d %s", res.Status, res.Body)
	}
	r := f.createReturn(t, map[string]any{"line_id": "l2", "quantity": 1, "reason": "changed_mind"})
	if r.State != "resolving" {
		t.Fatalf("got state %s right after creation, want resolving (refund queued on approval)", r.State)
	}
	var parcels int
	f.env.DB.Get(&parcels, `SELECT count(*) FROM parcels WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID)
	if parcels != 0 {
		t.Errorf("got %d parcels for a keep-it return, want none", parcels)
	}
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 1 {
		t.Fatalf("got %d Stripe refunds, want 1", n)
	}
	if got := f.stripe.Refunds()[0].Amount; got != r.Total {
		t.Errorf("got a refund of %d, want the quote's %d", got, r.Total)
	}
	if s := f.state(t, r); s != "completed" {
		t.Fatalf("got state %s, want completed", s)
	}
}

// TestSerialReturnerHoldsUntilInspection: a shopper over the policy's limit has the
// refund held, the timeline says why, and the inspection releases exactly the quote.
func TestSerialReturnerHoldsUntilInspection(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	res := f.env.Do(t, "PUT", "/v1/policy", f.shop.Keys[auth.RoleAdmin], map[string]any{
		"serial_returner": map[string]any{"enabled": true, "max_returns": 1, "period_days": 30}})
	if res.Status != 200 {
		t.Fatalf("put policy: %d %s", res.Status, res.Body)
	}
	f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 1, "reason": "too_small"})
	r := f.createReturn(t, map[string]any{"line_id": "l2", "quantity": 1, "reason": "changed_mind"})
	if res := f.receive(t, r, map[string]any{"line_id": "l2", "quantity": 1, "condition": "new", "disposition": "restock"}); res.Status != 201 {
		t.Fatalf("receipt: %d %s", res.Status, res.Body)
	}
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 0 {
		t.Fatalf("got %d Stripe refunds while held, want 0", n)
	}
	if s := f.state(t, r); s != "received" {
		t.Fatalf("got state %s, want received (held)", s)
	}
	ev := f.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/events", r.ID), f.shop.Keys[auth.RoleIntegration], nil)
	if !strings.Contains(string(ev.Body), "held for inspection") || !strings.Contains(string(ev.Body), "started 2 returns") {
		t.Fatalf("the timeline does not say why the refund is held: %s", ev.Body)
	}
	// the receipt's change, waiting for the resolution's statement, is written
	// before the hold's note
	receivedAt, holdAt := -1, -1
	for i, e := range f.timeline(t, r) {
		switch {
		case e.To == "received" && e.From != e.To && receivedAt < 0:
			receivedAt = i
		case e.Event == "hold" && holdAt < 0:
			holdAt = i
		}
	}
	if receivedAt < 0 || holdAt < receivedAt {
		t.Errorf("the timeline has the receipt at %d and the hold at %d, want the receipt first", receivedAt, holdAt)
	}
	if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/inspection", r.RMA), f.shop.Keys[auth.RoleFinance], nil); res.Status != 403 {
		t.Fatalf("finance inspecting: got %d, want 403", res.Status)
	}
	if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/inspection", r.RMA), f.shop.Keys[auth.RoleWarehouse], map[string]any{"note": "unworn"}); res.Status != 200 {
		t.Fatalf("inspection: %d %s", res.Status, res.Body)
	}
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 1 || f.stripe.Refunds()[0].Amount != r.Total {
		t.Fatalf("got %d Stripe refunds, want 1 of %d", n, r.Total)
	}
	if s := f.state(t, r); s != "completed" {
		t.Fatalf("got state %s, want completed", s)
	}
	// a second inspection of a completed return pays nothing more
	if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/inspection", r.ID), f.shop.Keys[auth.RoleWarehouse], nil); res.Status != 409 {
		t.Fatalf("inspecting a completed return: got %d, want 409", res.Status)
	}
}

// TestRefundOnInspectionTrigger: with the on_inspection trigger the receipt issues
// nothing; the inspection does.
func TestRefundOnInspectionTrigger(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	if res := f.env.Do(t, "PUT", "/v1/policy", f.shop.Keys[auth.RoleAdmin], map[string]any{"refund_trigger": "on_inspection"}); res.Status != 200 {
		t.Fatalf("put policy: %d %s", res.Status, res.Body)
	}
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_large"})
	f.receive(t, r, map[string]any{"line_id": "l1", "quantity": 2, "condition": "like_new", "disposition": "restock"})
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 0 {
		t.Fatalf("got %d refunds before inspection, want 0", n)
	}
	if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/inspection", r.ID), f.shop.Keys[auth.RoleWarehouse], nil); res.Status != 200 {
		t.Fatalf("inspection: %d %s", res.Status, res.Body)
	}
	f.drain(t)
	if n := f.stripe.RefundCount(); n != 1 || f.stripe.Refunds()[0].Amount != r.Total {
		t.Fatalf("got %d refunds, want 1 of %d", n, r.Total)
	}
	if s := f.state(t, r); s != "completed" {
		t.Fatalf("got state %s, want completed", s)
	}
}

// TestAReceiptPostedAgainWithItsKeyIsRecordedOnce: a receipt is recorded once per
// Idempotency-Key, whichever way its second posting comes. After a crash lost the
// first answer (the request's stored answer gone), the receipt recorded with the key
// is answered. While another transaction holding the return records one with the key,
// the posting waits for the lock and then answers that receipt: when the items are
// taken by then (the refusal looks again), and when they are not (the receipt's
// insert meets the key).
func TestAReceiptPostedAgainWithItsKeyIsRecordedOnce(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	line := map[string]any{"line_id": "l1", "quantity": 1, "condition": "new", "disposition": "restock"}
	orders := 0
	newReturn := func(t *testing.T) ret {
		orders++
		number := fmt.Sprintf("NW-K%d", orders)
		f.putOrder(t, number, fmt.Sprintf("pi_key%d", orders), []map[string]any{{"id": "l1", "sku": "CAP", "name": "Cap", "quantity": 1, "unit_price": 2500, "tax": 0}}, 0)
		return f.createReturnOn(t, number, "refund", map[string]any{"line_id": "l1", "quantity": 1, "reason": "too_small"})
	}
	post := func(t *testing.T, r ret, key string) (int, receiptDoc) {
		res := f.env.Do(t, "POST", "/v1/returns/"+r.ID+"/receipts", f.shop.Keys[auth.RoleWarehouse],
			map[string]any{"items": []map[string]any{line}}, "Idempotency-Key", key)
		var doc receiptDoc
		if res.Status == http.StatusCreated {
			if err := json.Unmarshal(res.Body, &doc); err != nil {
				t.Errorf("receipt answer: %v", err)
			}
		}
		return res.Status, doc
	}
	// what a return has after its receipts: receipts, refunds, units received
	counts := func(t *testing.T, r ret) (receipts, refunds, received int) {
		t.Helper()
		err := f.env.DB.QueryRow(`SELECT (SELECT count(*) FROM receipts WHERE return_id = x.id), (SELECT count(*) FROM refunds WHERE return_id = x.id),
			(SELECT sum(received) FROM return_items WHERE return_id = x.id) FROM returns x WHERE x.public_id = $1`, r.ID).Scan(&receipts, &refunds, &received)
		if err != nil {
			t.Fatal(err)
		}
		return receipts, refunds, received
	}

	t.Run("after a lost answer", func(t *testing.T) {
		r := newReturn(t)
		status, first := post(t, r, "rk-lost")
		if status != http.StatusCreated {
			t.Fatalf("first receipt: %d", status)
		}
		// the request's answer is stored after it is sent: wait for it, then lose it
		for stored := false; !stored; {
			if err := f.env.DB.Get(&stored, `SELECT EXISTS (SELECT 1 FROM idempotency_keys WHERE key = 'rk-lost' AND status <> 0)`); err != nil {
				t.Fatal(err)
			}
		}
		f.env.DB.MustExec(`DELETE FROM idempotency_keys WHERE key = 'rk-lost'`)
		status, again := post(t, r, "rk-lost")
		if status != http.StatusCreated || again.ID != first.ID || again.Message != "This receipt was already recorded." {
			t.Fatalf("posted again: %d %+v, want receipt %s already recorded", status, again, first.ID)
		}
		if rc, rf, n := counts(t, r); rc != 1 || rf != 1 || n != 1 {
			t.Errorf("got %d receipts, %d refunds, %d units received; want 1, 1, 1", rc, rf, n)
		}
	})

	// whileHeld posts the receipt with key while another transaction holds the
	// return's lock; once the posting waits for it, record runs in that transaction,
	// which then commits. It answers what the posting did.
	whileHeld := func(t *testing.T, r ret, key string, record func(tx *sqlx.Tx, returnID int64)) (int, receiptDoc) {
		other := f.env.DB.MustBegin()
		defer other.Rollback()
		var id int64
		if err := other.Get(&id, `SELECT id FROM returns WHERE public_id = $1 FOR UPDATE`, r.ID); err != nil {
			t.Fatal(err)
		}
		type answer struct {
			status int
			doc    receiptDoc
		}
		done := make(chan answer, 1)
		go func() {
			s, d := post(t, r, key)
			done <- answer{s, d}
		}()
		pgtest.AwaitLockWait(t, f.env.DB, "AS lock_read")
		record(other, id)
		if err := other.Commit(); err != nil {
			t.Fatal(err)
		}
		a := <-done
		return a.status, a.doc
	}
	for _, c := range []struct {
		name  string
		items bool // the other transaction's receipt took the unit
	}{{"the items taken meanwhile", true}, {"the key taken meanwhile", false}} {
		t.Run(c.name, func(t *testing.T) {
			r := newReturn(t)
			key := "rk-" + strings.ReplaceAll(c.name, " ", "-")
			var theirs string
			status, doc := whileHeld(t, r, key, func(tx *sqlx.Tx, returnID int64) {
				if err := tx.Get(&theirs, `INSERT INTO receipts (merchant_id, return_id, actor, data, idempotency_key)
					VALUES ($1, $2, 'user:other', '{}', $3) RETURNING public_id`, f.shop.Merchant.ID, returnID, key); err != nil {
					t.Fatal(err)
				}
				if c.items {
					tx.MustExec(`UPDATE return_items SET received = quantity, accepted = quantity WHERE return_id = $1`, returnID)
				}
			})
			if status != http.StatusCreated || doc.ID != theirs || doc.Message != "This receipt was already recorded." {
				t.Fatalf("posted while held: %d %+v, want receipt %s already recorded", status, doc, theirs)
			}
			want := 0
			if c.items {
				want = 1
			}
			if rc, rf, n := counts(t, r); rc != 1 || rf != 0 || n != want {
				t.Errorf("got %d receipts, %d refunds, %d units received; want 1, 0, %d (the other transaction's alone)", rc, rf, n, want)
			}
		})
	}
}

// receiptDoc is a receipt's answer.
type receiptDoc struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}
