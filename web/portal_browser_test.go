package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
)

// TestShopperPortalInABrowser walks the whole shopper flow in chromium: find the
// order, choose items (seeing why the others cannot go back), see the exact
// quote, confirm, download the label, open the status page, and come back later
// from another browser.
func TestShopperPortalInABrowser(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	b := newTab(t, s.env.URL)

	b.open("/portal/northwind")
	b.waitVisible("#order_number")
	b.page("lookup", true)
	b.mustSee("Northwind Outfitters", "Return an item")

	b.submit("find the order", chromedp.SendKeys(chromedp.ID("order_number"), "nw-1"), chromedp.SendKeys(chromedp.ID("email"), "Ada@Example.com"+kb.Enter))
	b.waitVisible(`form[action="/portal/northwind/quote"]`)
	b.page("items", true)
	if h := b.text("h1"); h != "Hi Ada!" {
		t.Errorf("greeting: got %q, want Hi Ada!", h)
	}
	b.mustSee("Organic T-shirt, black, M", "Final-sale items cannot be returned.", "Return window ended on "+windowEnd()+".", "Free return label")

	quote := func(res string) int64 {
		var q struct {
			Total int64 `json:"total"`
		}
		s.do(t, "POST", "/v1/returns/quote", auth.RoleIntegration, map[string]any{"order_number": "NW-1", "resolution": res,
			"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "too_small"}}}, http.StatusOK).JSON(t, &q)
		return q.Total
	}
	refund, credit := quote("refund"), quote("store_credit")

	// with JavaScript the quote appears under the items as they are chosen
	b.do(
		chromedp.SetValue(chromedp.ID("qty-0"), "1"),
		chromedp.SetValue(chromedp.ID("reason-0"), "too_small"),
		chromedp.SendKeys(chromedp.ID("comment-0"), "The sleeves are short."),
	)
	eval[bool](b, `document.getElementById('reason-0').dispatchEvent(new Event('change', {bubbles: true}))`)
	b.poll("the live quote of one T-shirt", fmt.Sprintf(`(document.querySelector('#live-quote [data-total="refund"]') || {}).textContent === %q`,
		money.FormatLocale(refund, "EUR", "en")))
	b.page("items-with-quote", true)
	if hidden := eval[bool](b, `document.querySelector('[data-quote-step]').hidden`); !hidden {
		t.Errorf("the separate quote step is still offered with a live quote")
	}
	if shown := eval[bool](b, `!document.querySelector('[data-photos="0"]').hidden`); shown {
		t.Errorf("photos are asked for a T-shirt that is too small")
	}
	b.mustSee("1 × Organic T-shirt, black, M", "€25.00", "Tax you paid", "€4.75", "Item refund", "€29.75",
		"Refund to your original payment: "+money.FormatLocale(refund, "EUR", "en"),
		"Store credit: "+money.FormatLocale(credit, "EUR", "en"), "Includes a bonus of "+money.FormatLocale(credit-refund, "EUR", "en"),
		"The refund is sent when the shop receives your parcel, usually by ")

	if st := b.submit("confirm from the items page", chromedp.Click(chromedp.CSS(`[data-confirm-return]`))); st != http.StatusOK {
		t.Fatalf("confirm: got %d", st)
	}
	b.waitVisible(".qrbox svg")
	b.page("confirmation", true)
	rma := b.text(".note.ok strong.mono")
	b.mustSee("Thank you, Ada.", "Your return label", "Download label (A4 PDF)")
	var stored struct {
		State   string `db:"state"`
		Total   int64  `db:"total"`
		By      string `db:"created_by"`
		Key     string `db:"idempotency_key"`
		Comment string `db:"comment"`
	}
	if err := s.env.DB.Get(&stored, `SELECT r.state, r.total, r.created_by, r.idempotency_key, i.comment
		FROM returns r JOIN return_items i ON i.return_id = r.id WHERE r.rma = $1`, rma); err != nil {
		t.Fatalf("return %q: %v", rma, err)
	}
	if stored.State != "approved" || stored.Total != refund || stored.By != "shopper" || !strings.HasPrefix(stored.Key, "portal:") || stored.Comment != "The sleeves are short." {
		t.Errorf("stored return: got %+v, want approved, %d, by shopper, a portal key and the comment", stored, refund)
	}
	if n := eval[int](b, `document.querySelectorAll('.qrbox svg path').length`); n != 1 {
		t.Errorf("QR code: got %d paths, want one inline SVG path", n)
	}
	if got, want := b.decodeQR(".qrbox svg"), s.env.URL+"/portal/northwind/returns/"+rma; got != want {
		t.Errorf("the QR code on screen reads %q, want %q", got, want)
	}

	// the label, downloaded with the portal cookie from the same origin
	type download struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Head   string `json:"head"`
		Size   int    `json:"size"`
		Name   string `json:"name"`
	}
	for _, sel := range []string{`a.button[download]`, `a[download][href*="format=4x6"]`} {
		d := eval[download](b, fmt.Sprintf(`(async () => {
			const r = await fetch(document.querySelector(%q).href);
			const b = new Uint8Array(await r.arrayBuffer());
			return {status: r.status, type: r.headers.get('content-type'), head: String.fromCharCode(...b.slice(0, 5)),
				size: b.length, name: r.headers.get('content-disposition')};
		})()`, sel))
		if d.Status != http.StatusOK || d.Type != "application/pdf" || d.Head != "%PDF-" || d.Size < 1000 || !strings.Contains(d.Name, rma) {
			t.Errorf("label %s: got %+v, want a PDF of %s", sel, d, rma)
		}
	}

	b.do(chromedp.Click(chromedp.CSS(`a.button[href$="/returns/` + rma + `"]`)))
	b.waitVisible("ol.timeline")
	b.page("status", true)
	b.mustSee("Return "+rma, "Approved: waiting for the parcel", "Return requested", "Approved automatically by the return policy.", "Changed your mind? Cancel this return")
	if step := b.text(`.steps [aria-current="step"]`); step != "Approved" {
		t.Errorf("current step: got %q, want Approved", step)
	}

	// later, in another browser: the status link asks for the order first
	later := newTab(t, s.env.URL)
	later.open("/portal/northwind/returns/" + rma)
	later.waitVisible("#order_number")
	later.page("status-lookup", true)
	later.mustSee("To see this return, enter the number and email address of the order it belongs to.")
	later.do(chromedp.SendKeys(chromedp.ID("order_number"), "NW-1"), chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"+kb.Enter))
	later.waitVisible("ol.timeline")
	if p := later.path(); p != "/portal/northwind/returns/"+rma {
		t.Errorf("after the look-up: got %s, want the return's page", p)
	}

	// a wrong email is said plainly, with 404
	wrong := newTab(t, s.env.URL)
	wrong.open("/portal/northwind")
	wrong.do(chromedp.SendKeys(chromedp.ID("order_number"), "NW-1"), chromedp.SendKeys(chromedp.ID("email"), "eve@example.com"+kb.Enter))
	wrong.waitVisible(`.note.err[role="alert"]`)
	wrong.page("lookup-failed", true)
	wrong.mustSee("We could not find an order with that number and email address.")
	if st := wrong.status(); st != http.StatusNotFound {
		t.Errorf("wrong email: got %d, want 404", st)
	}

	for name, w := range b.Weights {
		t.Logf("%s: %d bytes", name, w)
	}
}
