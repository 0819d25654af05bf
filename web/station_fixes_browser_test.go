package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
)

// The scan station's fixes, walked in chromium at desktop and phone sizes: the
// receipt's defaults follow the shopper's reason, Enter on an empty scan field keeps
// the parcel, every scan result has its own sound (and a switch mutes them, also
// after the next page), notes and unexpected items are recorded, the refund's status
// changes on the page without a reload, and a completed return scanned again shows
// its refund and timeline.

// createReturnFor creates a refund return of qty T-shirts of order for reason.
func (s *shop) createReturnFor(t testing.TB, order string, qty int, reason string) created {
	t.Helper()
	res := s.do(t, "POST", "/v1/returns", auth.RoleIntegration, map[string]any{"order_number": order, "resolution": "refund",
		"items": []map[string]any{{"line_id": "l1", "quantity": qty, "reason": reason}}}, http.StatusCreated)
	var r created
	res.JSON(t, &r)
	return r
}

// recordTones makes every page of the tab note the oscillators it starts
// (wave:frequency) in window.tones, so a test hears what the page played.
func (b *tab) recordTones() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `(() => {
		window.tones = [];
		const AC = window.AudioContext;
		if (!AC) return;
		const make = AC.prototype.createOscillator;
		AC.prototype.createOscillator = function () {
			const o = make.call(this), start = o.start.bind(o);
			o.start = (when) => { window.tones.push(o.type + ':' + o.frequency.value); return start(when); };
			return o;
		};
	})()`})
	if err != nil {
		b.t.Fatalf("record the page's tones: %v", err)
	}
}

// scanCode types a code into the focused scan field and presses Enter, waiting for
// the page the scan loads.
func (b *tab) scanCode(code string) int {
	b.t.Helper()
	return b.submit("scan "+code, chromedp.KeyEvent(code), chromedp.KeyEvent(kb.Enter))
}

// heard is what the page played: the result's sound name and its tones.
func (b *tab) heard() (string, string) {
	b.t.Helper()
	b.poll("the scan result says what it played", `!!document.querySelector('[data-result][data-sound]')`)
	name := eval[string](b, `document.querySelector('[data-result]').getAttribute('data-sound')`)
	return name, strings.Join(eval[[]string](b, `window.tones || []`), " ")
}

// mark sets a flag on the page's window, which a new page would not have.
func (b *tab) mark() { eval[bool](b, `(window.samePage = true)`) }

func (b *tab) samePage() bool { return eval[bool](b, `window.samePage === true`) }

func TestStationReceiptsSoundsAndLiveRefundsInABrowser(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.order(t, "NW-2", "grace@example.com", "Grace")
	damaged := s.createReturnFor(t, "NW-1", 1, "damaged")
	wrong := s.createReturnFor(t, "NW-2", 1, "wrong_item")

	b := newTab(t, s.env.URL)
	b.recordTones()
	b.open("/signin?next=/warehouse")
	b.submit("sign in", chromedp.SendKeys(chromedp.ID("shop"), "northwind"), chromedp.SendKeys(chromedp.ID("username"), "ana"),
		chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter))
	b.waitVisible("[data-scan-field]")
	b.waitVisible("[data-sound-toggle]")
	if got := b.text("[data-sound-toggle]"); got != "Sound on" {
		t.Errorf("the sound switch says %q, want Sound on", got)
	}

	// a return the shopper says arrived damaged: damaged → refurbish, with a warning
	b.scanCode(damaged.RMA)
	b.waitVisible(`[data-result="ok"]`)
	b.page("station-damaged", false)
	if cond, disp := run(b, "condition", chromedp.Value(chromedp.ID("cond-0"))), run(b, "disposition", chromedp.Value(chromedp.ID("disp-0"))); cond != "damaged" || disp != "refurbish" {
		t.Errorf("a damaged item's receipt defaults to %s → %s, want damaged → refurbish", cond, disp)
	}
	b.mustSee("The shopper says it arrived damaged")
	found, foundTones := b.heard()
	if found != "found" || foundTones == "" {
		t.Errorf("a found parcel played %q (%s), want the found sound", found, foundTones)
	}

	// Enter on the empty scan field keeps the parcel, and what was typed into its form
	b.do(chromedp.SendKeys(chromedp.ID("note-0"), "Seam split at the left shoulder."))
	b.do(chromedp.Focus(chromedp.ID("code")))
	b.mark()
	b.do(chromedp.KeyEvent(kb.Enter))
	if !b.samePage() {
		t.Fatal("Enter on the empty scan field left the page")
	}
	if note := run(b, "the note", chromedp.Value(chromedp.ID("note-0"))); note != "Seam split at the left shoulder." {
		t.Errorf("after Enter on the empty scan field the note is %q", note)
	}
	b.mustSee("Return "+damaged.RMA, "Record what is in the parcel")
	// without the script, the same Enter shows the same return again
	c := s.client(t)
	st := c.signIn("northwind", "ana")
	p := c.post("/warehouse/scan", url.Values{"csrf": {st.csrf(t)}, "code": {""}, "current": {damaged.ID}, "current_parcel": {"1"}})
	wantStatus(t, "empty scan with a parcel shown", p, http.StatusOK)
	mustContain(t, p, "Return <span class=\"mono\">"+damaged.RMA, "Record what is in the parcel")

	// an unexpected item and a note on the parcel, recorded with the receipt
	b.do(chromedp.SendKeys(chromedp.ID("ux-desc-0"), "Blue scarf, not from this order"), chromedp.SendKeys(chromedp.ID("pnote"), "Box crushed on one corner."))
	b.submit("record the receipt", chromedp.Click(chromedp.CSS(`form.receive button[type=submit]`)))
	b.waitVisible(`[data-result="received"]`)
	b.page("station-received-notes", false)
	b.mustSee("Refund of "+money.Format(damaged.Total, "EUR")+" queued", "Organic T-shirt, black, M: Seam split at the left shoulder.",
		"Unexpected: 1 × Blue scarf, not from this order", "Parcel 1: Box crushed on one corner.")
	var cond, disp string
	if err := s.env.DB.QueryRow(`SELECT condition, disposition FROM return_items WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, damaged.ID).Scan(&cond, &disp); err != nil {
		t.Fatal(err)
	}
	if cond != "damaged" || disp != "refurbish" {
		t.Errorf("recorded %s → %s, want damaged → refurbish", cond, disp)
	}
	res := s.do(t, "GET", fmt.Sprintf("/v1/returns/%s/receipts", damaged.ID), auth.RoleWarehouse, nil, http.StatusOK)
	for _, want := range []string{`"note":"Seam split at the left shoulder."`, `"description":"Blue scarf, not from this order"`, `"note":"Box crushed on one corner."`, `"parcel":1`} {
		if !strings.Contains(string(res.Body), want) {
			t.Errorf("GET receipts lacks %s: %s", want, res.Body)
		}
	}

	// the refund goes through: the page says so without a reload
	if got := b.text("#refunds"); !strings.Contains(got, "queued") {
		t.Fatalf("the refund before Stripe: %q", got)
	}
	b.mark()
	s.drain(t)
	b.poll("the refund's status changes on the page", `(() => { const r = document.getElementById('refunds');
		return !!r && r.innerText.includes('succeeded') && !r.hasAttribute('data-live-pending'); })()`)
	if !b.samePage() {
		t.Error("the refund's status came with a new page, want the same page updated")
	}
	b.poll("the return's state follows", `document.querySelector('[data-state]').getAttribute('data-state') === 'completed'`)

	// the completed return scanned again: do not receive, with its refund and timeline
	b.scanCode(damaged.RMA)
	b.waitVisible(`[data-result="closed"]`)
	b.page("station-completed-again", false)
	b.mustSee("Do not receive", "Return "+damaged.RMA+" is already completed", money.Format(damaged.Total, "EUR"), "succeeded", "Complete", "Receive all")
	if got := b.text("#refunds"); strings.Contains(got, "None yet") || !strings.Contains(got, "succeeded") {
		t.Errorf("a completed return's refunds at the station: %q", got)
	}
	stop, stopTones := b.heard()

	// wrong item: no condition is chosen for the person, and nothing goes back on the shelf unchecked
	b.scanCode(wrong.RMA)
	b.waitVisible(`[data-result="ok"]`)
	if cond, disp := run(b, "condition", chromedp.Value(chromedp.ID("cond-0"))), run(b, "disposition", chromedp.Value(chromedp.ID("disp-0"))); cond != "" || disp != "resale_hold" {
		t.Errorf("a wrong item's receipt defaults to %q → %s, want no condition → resale_hold", cond, disp)
	}
	b.mustSee("The shopper says the shop sent the wrong item")
	b.mark()
	b.do(chromedp.Focus(chromedp.ID("cond-0")), chromedp.KeyEvent(kb.Enter))
	if !b.samePage() {
		t.Error("a receipt without a chosen condition was sent")
	}
	var receipts int
	s.env.DB.Get(&receipts, `SELECT count(*) FROM receipts WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, wrong.ID)
	if receipts != 0 {
		t.Errorf("%d receipts recorded without a condition", receipts)
	}

	// the same parcel again, and an unknown code: each its own sound
	b.do(chromedp.Focus(chromedp.ID("code")))
	b.scanCode(wrong.RMA)
	b.waitVisible(`[data-result="repeat"]`)
	repeat, repeatTones := b.heard()
	b.scanCode("NOPE-12345")
	b.waitVisible(`[data-result="unknown"]`)
	unknown, unknownTones := b.heard()
	names := map[string]string{"found": found, "repeat": repeat, "unknown": unknown, "stop": stop}
	tones := map[string]string{}
	for want, got := range names {
		if got != want {
			t.Errorf("the %s scan played %q", want, got)
		}
	}
	for kind, tn := range map[string]string{"found": foundTones, "repeat": repeatTones, "unknown": unknownTones, "do not receive": stopTones} {
		if tn == "" {
			t.Errorf("the %s scan played no tone", kind)
		}
		if other, dup := tones[tn]; dup {
			t.Errorf("the %s and %s scans sound the same: %s", kind, other, tn)
		}
		tones[tn] = kind
	}

	// muted: the switch says so, the next scan plays nothing, and it stays muted
	b.do(chromedp.Click(chromedp.ID("sound-toggle")))
	if got := b.text("#sound-toggle"); got != "Sound off" {
		t.Errorf("the switch after a click says %q", got)
	}
	if f := b.focused(); f != "code" {
		t.Errorf("after the switch the focus is on %q, want the scan field", f)
	}
	b.scanCode(wrong.RMA)
	b.waitVisible(`[data-result="repeat"]`)
	if name, tn := b.heard(); name != "muted" || tn != "" {
		t.Errorf("muted, the scan played %q (%s)", name, tn)
	}
	if got, pressed := b.text("#sound-toggle"), eval[string](b, `document.getElementById('sound-toggle').getAttribute('aria-pressed')`); got != "Sound off" || pressed != "false" {
		t.Errorf("on the next page the switch says %q (pressed %s), want Sound off", got, pressed)
	}
	b.page("station-muted", false)
}
