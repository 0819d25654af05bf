package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/notify"
)

// The admin console in chromium, at desktop and phone sizes (tab.page checks every
// page for labelled fields and sideways scrolling): the review queue driven with
// the keyboard alone, the policy editor's live sample quote and its versions, and
// users, keys and branding changed from their pages.

// tabWalk presses Tab through the page and fails for every visible control that the
// focus never reached (a radio group counts once: arrow keys move within it).
func (b *tab) tabWalk(name string) {
	b.t.Helper()
	const controls = `[...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')]
		.filter(e => e.offsetParent !== null && e.tabIndex >= 0 && !e.disabled)`
	n := eval[int](b, controls+`.length`)
	eval[bool](b, `(() => { document.querySelectorAll('[data-tabbed]').forEach(e => e.removeAttribute('data-tabbed'));
		if (document.activeElement) document.activeElement.blur(); window.scrollTo(0, 0); return true; })()`)
	for range n + 5 {
		b.do(chromedp.KeyEvent(kb.Tab))
		eval[bool](b, `(() => { const a = document.activeElement; if (a) a.setAttribute('data-tabbed', '1'); return true; })()`)
	}
	missed := eval[[]string](b, controls+`.filter(e => !e.hasAttribute('data-tabbed'))
		.filter(e => !(e.type === 'radio' && [...document.getElementsByName(e.name)].some(r => r.hasAttribute('data-tabbed'))))
		.map(e => e.outerHTML.slice(0, 100))`)
	if len(missed) > 0 {
		b.t.Errorf("%s: Tab never reaches %d of %d controls: %q", name, len(missed), n, missed)
	}
}

// pressKeys types text into whatever has the focus, key by key.
func (b *tab) pressKeys(text string) {
	b.t.Helper()
	b.do(chromedp.KeyEvent(text))
}

func TestReviewQueueWithTheKeyboardAloneInABrowser(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	s.order(t, "NW-2", "ada@example.com", "Ada")
	first := s.createReturn(t, "NW-1", 1)
	second := s.createReturn(t, "NW-2", 2)

	// sign in with the keyboard: the shop field has the focus
	b := newTab(t, s.env.URL)
	b.open("/signin")
	b.waitVisible("#shop")
	if f := b.focused(); f != "shop" {
		t.Fatalf("the sign-in page focuses %q, want the shop", f)
	}
	b.pressKeys("northwind")
	b.do(chromedp.KeyEvent(kb.Tab))
	b.pressKeys("boss")
	b.do(chromedp.KeyEvent(kb.Tab))
	b.pressKeys(password)
	b.submit("sign in with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitVisible("[data-queue]")
	if p := b.path(); p != "/admin" {
		t.Errorf("an admin lands on %s, want /admin", p)
	}
	b.page("admin-queue", false)
	b.mustSee("Review queue", first.RMA, second.RMA, "Their other returns", "Serial-returner rule", "59.50 EUR")
	b.tabWalk("admin-queue")

	// j goes to the oldest return; Tab reaches Approve; Enter approves
	b.do(chromedp.KeyEvent("j"))
	if f := b.focused(); f != fmt.Sprintf("r-%s", first.ID) {
		t.Fatalf("j focused %q, want the oldest return", f)
	}
	b.do(chromedp.KeyEvent("j"))
	b.do(chromedp.KeyEvent("k"))
	if f := b.focused(); f != fmt.Sprintf("r-%s", first.ID) {
		t.Fatalf("j then k focused %q, want the oldest return again", f)
	}
	b.do(chromedp.KeyEvent(kb.Tab))
	if f := b.focused(); f != fmt.Sprintf("approve-%s", first.ID) {
		t.Fatalf("Tab from the return went to %q, want its Approve button", f)
	}
	b.submit("Enter on Approve", chromedp.KeyEvent(kb.Enter))
	b.waitVisible("#notice")
	b.mustSee("Return " + first.RMA + " approved.")
	if st := s.state(t, first.ID); st != "approved" {
		t.Fatalf("the return is %s after Enter on Approve", st)
	}

	// the next one: j, Tab past Approve to the reason, type it (j and k stay in
	// the text), Tab to Reject, Enter
	b.do(chromedp.KeyEvent("j"))
	if f := b.focused(); f != fmt.Sprintf("r-%s", second.ID) {
		t.Fatalf("j focused %q, want the next return", f)
	}
	b.do(chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab))
	if f := b.focused(); f != fmt.Sprintf("reason-%s", second.ID) {
		t.Fatalf("two Tabs went to %q, want the reason", f)
	}
	reason := "Worn, with jam stains, kept for weeks."
	b.pressKeys(reason)
	b.do(chromedp.KeyEvent(kb.Tab))
	if f := b.focused(); f != fmt.Sprintf("reject-%s", second.ID) {
		t.Fatalf("Tab from the reason went to %q, want Reject", f)
	}
	b.submit("Enter on Reject", chromedp.KeyEvent(kb.Enter))
	b.waitVisible("#notice")
	b.page("admin-queue-empty", false)
	b.mustSee("Return "+second.RMA+" rejected.", "Nothing waits for review.")
	var st, why string
	s.env.DB.QueryRow(`SELECT state, reject_reason FROM returns WHERE public_id = $1`, second.ID).Scan(&st, &why)
	if st != "rejected" || why != reason {
		t.Errorf("rejected: got %s %q, want rejected %q", st, why, reason)
	}

	// the decisions are in the audit trail
	b.open("/admin/audit")
	b.waitVisible("table[data-audit]")
	b.page("admin-audit", false)
	b.mustSee("Return approved", "Return rejected", "user:boss", "return "+first.RMA, "Reason: "+reason)
}

func TestPolicyEditorInABrowser(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	b := newTab(t, s.env.URL)
	b.open("/signin?next=/admin/policy")
	b.submit("sign in", chromedp.SendKeys(chromedp.ID("shop"), "northwind"), chromedp.SendKeys(chromedp.ID("username"), "boss"),
		chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter))
	b.waitVisible("table[data-sample]")
	b.page("admin-policy", false)
	b.tabWalk("admin-policy")
	if got := b.text("table[data-sample]"); !strings.Contains(got, "Swim shorts, blue, M") || !strings.Contains(got, "Not returnable") {
		t.Fatalf("the sample quote of NW-1: %q", got)
	}
	b.mustSee("Nothing yet: it says what the current version says.")

	// the swim shorts' rule gets a 14-day window and the label a fee: the sample
	// quote changes as it is typed, nothing is saved
	b.do(chromedp.Clear(chromedp.ID("rule-0-window")), chromedp.SendKeys(chromedp.ID("rule-0-window"), "14"))
	b.do(chromedp.Click(chromedp.ID("shipping-flat")))
	b.do(chromedp.SendKeys(chromedp.ID("fee-0-currency"), "EUR"), chromedp.SendKeys(chromedp.ID("fee-0-amount"), "4.95"))
	b.poll("the live preview follows the edit", `(() => {
		const c = document.querySelector('[data-changes]'), q = document.querySelector('table[data-sample]');
		return !!c && !!q && c.innerText.includes('window 14 days') && c.innerText.includes('Label fee in EUR') && q.innerText.includes('−4.95 EUR');
	})()`)
	row := eval[string](b, `[...document.querySelectorAll('table[data-sample] tr.changed')].map(r => r.innerText).join(' | ')`)
	if !strings.Contains(row, "Swim shorts") {
		t.Errorf("the swim shorts' line is not marked changed: %q", row)
	}
	var n int
	s.env.DB.Get(&n, `SELECT count(*) FROM policies WHERE merchant_id = $1`, s.tn.Merchant.ID)
	if n != 2 {
		t.Fatalf("the preview saved: %d versions", n)
	}
	b.page("admin-policy-edited", false)

	// saved as version 3, listed with who changed what
	b.submit("save the policy", chromedp.Click(chromedp.ID("save-button")))
	b.waitVisible("#notice")
	b.mustSee("Saved as version 3.")
	v3 := b.text(`[data-version="3"]`)
	for _, want := range []string{"Version 3", "current", "by user:boss", `Rule for category "swimwear": window 1 days → window 14 days`, "Return shipping: free → a flat label fee", "Label fee in EUR: 4.95 EUR"} {
		if !strings.Contains(v3, want) {
			t.Errorf("version 3 in the list lacks %q: %q", want, v3)
		}
	}
	if v2 := b.text(`[data-version="2"]`); !strings.Contains(v2, "Manual review of every return: off → on") || !strings.Contains(v2, "Edit a copy") {
		t.Errorf("version 2 in the list: %q", v2)
	}
	b.page("admin-policy-saved", false)
	// the engine quotes with the saved version
	q := s.do(t, "POST", "/v1/returns/quote", auth.RoleIntegration, map[string]any{"order_number": "NW-1", "resolution": "refund",
		"items": []map[string]any{{"line_id": "l3", "quantity": 1, "reason": "too_small"}}}, http.StatusOK)
	if !strings.Contains(string(q.Body), `"eligible":true`) || !strings.Contains(string(q.Body), `"label_fee":495`) {
		t.Errorf("the API's quote under version 3: %s", q.Body)
	}
}

func TestUsersKeysBrandingAndWebhooksInABrowser(t *testing.T) {
	t.Parallel()
	s := newShop(t, func(c *app.Config, _ string) { c.Webhooks = notify.Options{AllowHTTP: true, AllowPrivate: true} })
	s.reviewed(t)
	b := newTab(t, s.env.URL)
	b.open("/signin?next=/admin/users")
	b.submit("sign in", chromedp.SendKeys(chromedp.ID("shop"), "northwind"), chromedp.SendKeys(chromedp.ID("username"), "boss"),
		chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter))
	b.waitVisible("table[data-users]")
	b.page("admin-users", false)
	b.tabWalk("admin-users")

	// a user with a generated password, who signs in with it
	b.do(chromedp.SendKeys(chromedp.ID("new-username"), "lee"), chromedp.SetValue(chromedp.ID("new-role"), "finance"))
	b.submit("add the user", chromedp.Click(chromedp.CSS(`form[action="/admin/users"] button`)))
	b.waitVisible("#secret-value")
	b.page("admin-user-created", false)
	pw := run(b, "read the generated password", chromedp.Value(chromedp.ID("secret-value")))
	if len(pw) < 10 {
		t.Fatalf("the generated password: %q", pw)
	}
	lee := newTab(t, s.env.URL)
	lee.open("/signin")
	lee.waitVisible("#password")
	// the sign-in page has a heading too: wait for the page the sign-in loads, not for an element
	lee.submit("sign in as lee", chromedp.SendKeys(chromedp.ID("shop"), "northwind"), chromedp.SendKeys(chromedp.ID("username"), "lee"),
		chromedp.SendKeys(chromedp.ID("password"), pw+kb.Enter))
	if p := lee.path(); p != "/finance" {
		t.Errorf("lee signed in to %s, want /finance", p)
	}
	// disabled from the console, lee's next page is the sign-in
	b.open("/admin/users")
	b.submit("disable lee", chromedp.Click(chromedp.CSS(`tr[data-user="lee"] button[aria-label="Disable lee"]`)))
	b.waitVisible("#notice")
	b.mustSee("lee is disabled")
	lee.open("/finance")
	lee.waitVisible("#password")

	// an API key, shown once, that works until it is revoked
	b.open("/admin/keys")
	b.waitVisible(`form[action="/admin/keys"]`)
	b.page("admin-keys", false)
	b.tabWalk("admin-keys")
	b.do(chromedp.SendKeys(chromedp.ID("key-name"), "Leeds station"), chromedp.SetValue(chromedp.ID("key-role"), "warehouse"))
	b.submit("create the key", chromedp.Click(chromedp.CSS(`form[action="/admin/keys"] button`)))
	b.waitVisible("#secret-value")
	key := run(b, "read the new key", chromedp.Value(chromedp.ID("secret-value")))
	if res := s.env.Do(t, "GET", "/v1/merchant", key, nil); res.Status != http.StatusOK {
		t.Fatalf("the key from the console: got %d", res.Status)
	}
	// the page still shows the notice of the key's creation: waiting for "#notice"
	// would be satisfied by the page being left, so wait for the page the revocation loads
	id := eval[string](b, `[...document.querySelectorAll('tr[data-key]')].find(r => r.innerText.includes('Leeds station')).dataset.key`)
	b.submit("revoke key "+id, chromedp.Click(chromedp.CSS(`tr[data-key="`+id+`"] button[aria-label^="Revoke key"]`)))
	if asked := b.dialogs(); len(asked) != 1 || !strings.HasPrefix(asked[0], "Revoke this key?") {
		t.Errorf("the revocation asked %q, want one confirmation", asked)
	}
	b.mustSee("Key " + id + " is revoked")
	if res := s.env.Do(t, "GET", "/v1/merchant", key, nil); res.Status != http.StatusUnauthorized {
		t.Errorf("the revoked key: got %d", res.Status)
	}

	// a light brand colour: the contrast check says what the portal does with it
	b.open("/admin/branding")
	b.waitVisible("#b-color")
	b.page("admin-branding", false)
	b.tabWalk("admin-branding")
	b.do(chromedp.Clear(chromedp.ID("b-color")), chromedp.SendKeys(chromedp.ID("b-color"), "#ffe14d"))
	b.do(chromedp.Clear(chromedp.ID("b-sender")), chromedp.SendKeys(chromedp.ID("b-sender"), "Northwind Returns"))
	b.poll("the contrast check follows the colour", `(() => { const c = document.querySelector('[data-contrast]');
		return !!c && c.innerText.includes('#ffe14d') && c.innerText.includes('Text on it is black'); })()`)
	if bg := eval[string](b, `getComputedStyle(document.querySelector('.swatch')).backgroundColor`); bg != "rgb(255, 225, 77)" {
		t.Errorf("the swatch is %s, want the new colour", bg)
	}
	b.mustSee("so links and focus rings use the darker")
	b.submit("save the branding", chromedp.Click(chromedp.ID("save-branding")))
	b.waitVisible("#notice")
	portal := newTab(t, s.env.URL)
	portal.open("/portal/northwind")
	portal.waitVisible(".top")
	if bg := eval[string](portal, `getComputedStyle(document.querySelector('.top')).backgroundColor`); bg != "rgb(255, 225, 77)" {
		t.Errorf("the portal's header is %s, want the saved colour", bg)
	}

	// webhook endpoints: the list, an endpoint with its deliveries, a delivery that
	// failed and is sent again
	var received atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if received.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(receiver.Close)
	s.do(t, "POST", "/v1/webhook-endpoints", auth.RoleAdmin, map[string]any{"url": receiver.URL + "/roundtrip", "description": "Order system"}, http.StatusCreated)
	s.createReturn(t, "NW-1", 1)
	s.drain(t)
	b.open("/admin/webhooks")
	b.waitVisible("table[data-endpoints]")
	b.page("admin-webhooks", false)
	b.tabWalk("admin-webhooks")
	b.submit("open the endpoint", chromedp.Click(chromedp.CSS(`table[data-endpoints] a`)))
	b.waitVisible("table[data-deliveries]")
	b.page("admin-webhook", false)
	if row := b.text("table[data-deliveries] tbody tr"); !strings.Contains(row, "return.created") || !strings.Contains(row, "HTTP 503") {
		t.Errorf("the delivery log: %q", row)
	}
	b.submit("open the delivery", chromedp.Click(chromedp.CSS(`table[data-deliveries] a`)))
	b.waitVisible("table[data-attempts]")
	b.page("admin-delivery", false)
	b.submit("send the delivery again", chromedp.Click(chromedp.CSS(`form[action$="/retry"] button`)))
	b.waitVisible("#notice")
	s.drain(t)
	b.open(b.path())
	b.waitVisible("table[data-attempts]")
	if got := b.text("h2#d-h"); !strings.Contains(got, "succeeded") {
		t.Errorf("after sending it again the delivery is %q", got)
	}
	if n := received.Load(); n != 2 {
		t.Errorf("the receiver got %d requests, want 2", n)
	}

	b.open("/admin/audit")
	b.waitVisible("table[data-audit]")
	b.mustSee("User added", "User disabled", "API key created", "API key revoked", "Shop settings changed",
		"Brand colour: #1f6f5c → #ffe14d", "Sender name: (none) → Northwind Returns", "Webhook endpoint added", "Webhook sent again")
	b.page("admin-audit-all", false)
}
