package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// TestScanStationAndFinanceInABrowser is a warehouse shift and a finance check in
// chromium: sign-in (failing first), a keyboard-wedge scan (the code typed into the
// focused field, then Enter), receiving with the keyboard alone, the refund the
// receipt triggered, the distinct feedback of repeated, unknown and wrong-state
// scans, CSRF refusals; then finance sees the refund, retries a failed one and
// reconciles with Stripe.
func TestScanStationAndFinanceInABrowser(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.order(t, "NW-2", "grace@example.com", "Grace")
	r := s.createReturn(t, "NW-1", 2)
	gone := s.createReturn(t, "NW-2", 1)
	s.do(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", gone.ID), auth.RoleIntegration, nil, http.StatusOK)

	b := newTab(t, s.env.URL)
	b.open("/warehouse")
	b.waitVisible("#password")
	if p := b.path(); p != "/signin?next=%2Fwarehouse" {
		t.Errorf("the scan station signed out: got %s, want the sign-in page", p)
	}
	b.page("signin", false)

	// a wrong password
	b.submit("sign in with a wrong password", chromedp.SendKeys(chromedp.ID("shop"), "northwind"), chromedp.SendKeys(chromedp.ID("username"), "ana"),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"+kb.Enter))
	b.waitVisible(`.note.err[role="alert"]`)
	b.page("signin-failed", false)
	b.mustSee("Wrong shop, user name or password.")
	if st := b.status(); st != http.StatusUnauthorized {
		t.Errorf("failed sign-in: got %d, want 401", st)
	}
	if f := b.focused(); f != "password" {
		t.Errorf("after a failed sign-in the focus is on %q, want the password", f)
	}
	b.submit("sign in", chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter))
	b.waitVisible("[data-scan-field]")
	b.page("station", false)
	if f := b.focused(); f != "code" {
		t.Fatalf("the scan field is not focused: %q is", f)
	}

	// a keyboard-wedge scanner types the RMA (as printed, with a symbology prefix) and Enter
	b.submit("scan", chromedp.KeyEvent("]C0"+strings.ToLower(r.RMA)), chromedp.KeyEvent(kb.Enter))
	b.waitVisible(`[data-result="ok"]`)
	b.page("scanned", false)
	b.mustSee("Parcel found", "Parcel 1 of return "+r.RMA+": 2 item(s) expected.", "Organic T-shirt, black, M", "2 expected")
	looks := map[string]string{"ok": look(b)}
	if f := b.focused(); f != "code" {
		t.Errorf("after the scan the focus is on %q, want the scan field", f)
	}

	// receive with the keyboard alone: Tab to the quantity, Tab to the condition,
	// arrow down from "Like new" to "Used", Enter
	b.do(chromedp.KeyEvent(kb.Tab))
	if f := b.focused(); f != "qty-0" {
		t.Fatalf("Tab from the scan field went to %q, want the quantity", f)
	}
	b.do(chromedp.KeyEvent(kb.Tab))
	if f := b.focused(); f != "cond-0" {
		t.Fatalf("the second Tab went to %q, want the condition", f)
	}
	b.do(chromedp.KeyEvent(kb.ArrowDown))
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("cond-0"))); v != "used" {
		t.Errorf("arrow down on the condition chose %q, want used", v)
	}
	b.submit("Enter on the condition", chromedp.KeyEvent(kb.Enter))
	b.waitVisible(`[data-result="received"]`)
	b.page("received", false)
	b.mustSee("Received 2 item(s).", "Refund of 59.50 EUR queued: it goes to Stripe in a moment.")
	if got := b.text("[data-refunds]"); !strings.Contains(got, "59.50 EUR") || !strings.Contains(got, "queued") {
		t.Errorf("the refund shown: got %q, want 59.50 EUR queued", got)
	}
	var cond, disp string
	if err := s.env.DB.QueryRow(`SELECT condition, disposition FROM return_items WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID).Scan(&cond, &disp); err != nil {
		t.Fatal(err)
	}
	if cond != "used" || disp != "restock" {
		t.Errorf("recorded: got %s → %s, want used → restock", cond, disp)
	}
	if f := b.focused(); f != "code" {
		t.Errorf("after the receipt the focus is on %q, want the scan field", f)
	}

	// the same parcel again, an unknown code, a cancelled return: each its own words,
	// colour and icon, and status
	for _, tc := range []struct {
		code, kind string
		status     int
		says       string
	}{
		{r.RMA, "repeat", http.StatusOK, "Already scanned"},
		{"NOPE-12345", "unknown", http.StatusNotFound, `Nothing matches "NOPE-12345"`},
		{gone.RMA, "closed", http.StatusConflict, "Return " + gone.RMA + " was cancelled. Do not receive this parcel"},
	} {
		b.submit("scan "+tc.code, chromedp.KeyEvent(tc.code), chromedp.KeyEvent(kb.Enter))
		b.waitVisible(fmt.Sprintf(`.result[data-result=%q][role="alert"]`, tc.kind))
		b.page("scan-"+tc.kind, false)
		b.mustSee(tc.says)
		if st := b.status(); st != tc.status {
			t.Errorf("scan of %s: got %d, want %d", tc.code, st, tc.status)
		}
		if f := b.focused(); f != "code" {
			t.Errorf("after the %s scan the focus is on %q, want the scan field", tc.kind, f)
		}
		looks[tc.kind] = look(b)
	}
	// ok, repeat, unknown and closed differ in icon and in colour, not only in words
	seen := map[string]string{}
	for kind, look := range looks {
		if other, dup := seen[look]; dup {
			t.Errorf("scan feedback %s looks like %s: %s", kind, other, look)
		}
		seen[look] = kind
	}
	if len(looks) != 4 {
		t.Errorf("scan feedback: got %d kinds, want ok, repeat, unknown and closed", len(looks))
	}

	// POSTs without the session's CSRF token, or with a wrong one, are refused
	for _, body := range []string{"code=" + r.RMA, "code=" + r.RMA + "&csrf=forged"} {
		st := eval[int](b, fmt.Sprintf(`fetch('/warehouse/scan', {method: 'POST', body: new URLSearchParams(%q)}).then(r => r.status)`, body))
		if st != http.StatusForbidden {
			t.Errorf("POST /warehouse/scan %q: got %d, want 403", body, st)
		}
	}

	// the refund goes to Stripe; finance sees it
	s.drain(t)
	fin := newTab(t, s.env.URL)
	fin.open("/signin?next=/finance")
	fin.submit("sign in", chromedp.SendKeys(chromedp.ID("shop"), "northwind"), chromedp.SendKeys(chromedp.ID("username"), "fin"),
		chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter))
	fin.waitVisible("table[data-refunds]")
	fin.page("finance", false)
	row := fin.text("table[data-refunds] tbody tr")
	for _, want := range []string{r.RMA, "NW-1", "59.50 EUR", "succeeded", "re_"} {
		if !strings.Contains(row, want) {
			t.Errorf("finance's refund row %q lacks %q", row, want)
		}
	}
	fin.mustSee("Failed refunds", "None. Every refund went through", "Refunded per day in EUR", "Why items come back")
	if n := eval[int](fin, `document.querySelectorAll('svg.chart rect.bar').length`); n < 2 {
		t.Errorf("charts: got %d bars, want the day's refund and the reason", n)
	}

	// a refund Stripe declines shows up as failed, and Retry sends it again
	s.stripe.Inject(fakestripe.Fault{Kind: fakestripe.Decline, Method: "POST", Path: "/v1/refunds", Times: 1})
	third := s.createReturn(t, "NW-2", 1)
	s.do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", third.ID), auth.RoleWarehouse, map[string]any{"items": []map[string]any{
		{"line_id": "l1", "quantity": 1, "condition": "new", "disposition": "restock"}}}, http.StatusCreated)
	s.drain(t)
	fin.open("/finance")
	fin.waitVisible(`#failed form button`)
	fin.page("finance-failed", false)
	fin.mustSee(third.RMA, "29.75 EUR")
	fin.submit("retry the failed refund", chromedp.Click(chromedp.CSS(`#failed form button`)))
	fin.waitVisible(`.note.ok[role="status"]`)
	fin.mustSee("was queued again")
	s.drain(t)
	var status string
	if err := s.env.DB.Get(&status, `SELECT f.status FROM refunds f WHERE f.return_id = (SELECT id FROM returns WHERE public_id = $1)`, third.ID); err != nil {
		t.Fatal(err)
	}
	if status != "succeeded" {
		t.Errorf("the retried refund is %s, want succeeded", status)
	}

	// a reconciliation of the last days against Stripe, started from the page
	fin.open("/finance")
	fin.submit("start a reconciliation", chromedp.Click(chromedp.CSS(`form[action="/finance/reconciliations"] button`)))
	fin.waitVisible("section[aria-labelledby=tot-h]")
	runPath := fin.path()
	s.drain(t)
	fin.open(runPath)
	fin.waitVisible("table[data-lines]")
	fin.page("reconciliation", false)
	fin.mustSee("succeeded", "Matched", r.RMA, third.RMA)
	fin.open("/finance")
	fin.waitVisible("table[data-runs]")
	if got := fin.text("table[data-runs] tbody tr"); !strings.Contains(got, "succeeded") || !strings.Contains(got, time.Now().UTC().Format("2 January 2006")) {
		t.Errorf("finance's run row: got %q, want a succeeded run up to today", got)
	}
}

// look is how the scan feedback looks: its icon, background and text colours.
func look(b *tab) string {
	return eval[string](b, `(() => { const r = document.querySelector('.result'); const c = getComputedStyle(r);
		return r.querySelector('.icon').textContent + ' ' + c.backgroundColor + ' ' + c.color; })()`)
}
