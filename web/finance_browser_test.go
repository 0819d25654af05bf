package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// Finance's fixes, walked in chromium at desktop and phone sizes: the period's
// totals, refunds per day as money, rows that link to the return and to Stripe's
// dashboard, failed refunds settled as store credit and as paid outside Roundtrip
// (each completing its return and written to the ledger), a reconciliation that
// follows its progress without a reload, and a mismatch acknowledged with a note.

// receivedReturn creates a return of one T-shirt of order, receives it and sends
// its refund (declined by Stripe when decline is set).
func (s *shop) receivedReturn(t *testing.T, order string, decline bool) created {
	t.Helper()
	if decline {
		s.stripe.Inject(fakestripe.Fault{Kind: fakestripe.Decline, Method: "POST", Path: "/v1/refunds", Times: 1})
	}
	r := s.createReturn(t, order, 1)
	s.do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), auth.RoleWarehouse, map[string]any{"items": []map[string]any{
		{"line_id": "l1", "quantity": 1, "condition": "new", "disposition": "restock"}}}, http.StatusCreated)
	s.drain(t)
	return r
}

func TestFinanceTotalsSettlementsAndLiveReconciliationInABrowser(t *testing.T) {
	t.Parallel()
	const dashboard = "https://dashboard.stripe.com/test"
	s := newShop(t, func(c *app.Config, _ string) { c.StripeDashboard = dashboard })
	s.order(t, "NW-2", "grace@example.com", "Grace")
	s.order(t, "NW-3", "alan@example.com", "Alan")
	paid := s.receivedReturn(t, "NW-1", false)
	credit := s.receivedReturn(t, "NW-2", true)
	outside := s.receivedReturn(t, "NW-3", true)
	eur := func(v int64) string { return money.Format(v, "EUR") }
	state := func(id string) string {
		var st string
		s.env.DB.Get(&st, `SELECT state FROM returns WHERE public_id = $1`, id)
		return st
	}
	if state(credit.ID) != "refund_failed" || state(outside.ID) != "refund_failed" || state(paid.ID) != "completed" {
		t.Fatalf("set-up: %s %s %s", state(paid.ID), state(credit.ID), state(outside.ID))
	}

	b := newTab(t, s.env.URL)
	b.open("/signin?next=/finance")
	b.submit("sign in", chromedp.SendKeys(chromedp.ID("shop"), "northwind"), chromedp.SendKeys(chromedp.ID("username"), "fin"),
		chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter))
	b.waitVisible("table[data-totals]")
	b.page("finance-totals", false)

	// the period's totals: what was refunded, what failed and waits for a decision
	row := func(kind string) string { return b.text(`tr[data-currency="EUR"] [data-total="` + kind + `"]`) }
	if got := row("refunded"); got != eur(paid.Total)+" (1)" {
		t.Errorf("refunded: %q, want %s (1)", got, eur(paid.Total))
	}
	if got := row("failed"); got != eur(credit.Total+outside.Total)+" (2)" {
		t.Errorf("failed: %q, want %s (2)", got, eur(credit.Total+outside.Total))
	}
	// refunds per day as money: the axis, the caption and the table say amounts
	caption := b.text(`figure[data-days="EUR"] figcaption`)
	if !strings.Contains(caption, ": "+eur(paid.Total)+" ") {
		t.Errorf("the chart's caption: %q, want the money refunded (the failed refunds are not)", caption)
	}
	if axis := eval[string](b, `document.querySelector('figure[data-days="EUR"] svg').textContent`); !strings.Contains(axis, " EUR") {
		t.Errorf("the chart's axis is not in money: %q", axis)
	}
	// rows link to the return and to Stripe's dashboard
	links := eval[[]string](b, `[...document.querySelectorAll('table[data-refunds] tr[data-refund] a')].map(a => a.getAttribute('href'))`)
	joined := strings.Join(links, " ")
	for _, want := range []string{fmt.Sprintf("/finance/returns/%s", paid.ID), dashboard + "/refunds/re_", dashboard + "/payments/pi_nw1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the refund rows' links lack %s: %q", want, links)
		}
	}

	// a failed refund becomes store credit: the return completes, the ledger says so
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#failed tr:has(a[href="/finance/returns/%s"]) details.settle summary`, credit.ID))))
	creditRefund := eval[string](b, fmt.Sprintf(`document.querySelector('#failed tr:has(a[href="/finance/returns/%s"])').dataset.refund`, credit.ID))
	b.submit("settle as store credit", chromedp.Click(chromedp.ID("settle-"+creditRefund)))
	b.waitVisible(`.note.ok[role="status"]`)
	b.mustSee("Refund " + creditRefund + " is settled")
	if st := state(credit.ID); st != "completed" {
		t.Errorf("the return whose refund became store credit is %s, want completed", st)
	}
	var kinds string
	s.env.DB.Get(&kinds, `SELECT string_agg(kind, ' ' ORDER BY id) FROM ledger_entries WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) AND kind IN ('refund_to_store_credit', 'store_credit_issued')`, credit.ID)
	if kinds != "store_credit_issued refund_to_store_credit" {
		t.Errorf("the ledger of the store credit: %q", kinds)
	}
	if n := eval[int](b, `document.querySelectorAll('#failed tr[data-refund]').length`); n != 1 {
		t.Errorf("%d failed refunds listed after one was settled, want 1", n)
	}

	// the other from its return's page: refunded outside Roundtrip needs a note
	b.submit("open the return", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#failed a[href="/finance/returns/%s"]`, outside.ID))))
	b.waitVisible("table[data-refunds]")
	b.page("finance-return", false)
	b.mustSee("Return "+outside.RMA, "Refund fail by stripe") // the timeline
	outsideRefund := eval[string](b, `document.querySelector('table[data-refunds] tr[data-refund]').dataset.refund`)
	b.do(chromedp.Click(chromedp.CSS("details.settle summary")), chromedp.Click(chromedp.ID("as-outside-"+outsideRefund)))
	if st := b.submit("settle outside without a note", chromedp.Click(chromedp.ID("settle-"+outsideRefund))); st != http.StatusUnprocessableEntity {
		t.Errorf("settling outside without a note: got %d, want 422", st)
	}
	b.mustSee("Nothing was settled", "Say in the note how the money was paid back")
	if st := state(outside.ID); st != "refund_failed" {
		t.Fatalf("a refused settlement moved the return to %s", st)
	}
	b.open(fmt.Sprintf("/finance/returns/%s", outside.ID))
	b.do(chromedp.Click(chromedp.CSS("details.settle summary")), chromedp.Click(chromedp.ID("as-outside-"+outsideRefund)),
		chromedp.SendKeys(chromedp.ID("note-"+outsideRefund), "Bank transfer, reference 2026-1142."))
	b.submit("settle outside", chromedp.Click(chromedp.ID("settle-"+outsideRefund)))
	b.waitVisible(`[data-closed]`)
	b.mustSee("Settled as refunded outside Roundtrip", "Bank transfer, reference 2026-1142.", "Completed")
	var net int64
	var note string
	s.env.DB.QueryRow(`SELECT net, note FROM ledger_entries WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) AND kind = 'refund_outside'`, outside.ID).Scan(&net, &note)
	if net != -outside.Total || note != "Bank transfer, reference 2026-1142." {
		t.Errorf("the ledger's refund_outside: net %d %q, want %d with the note", net, note, -outside.Total)
	}
	b.open("/finance")
	b.waitVisible("table[data-totals]")
	if got := row("outside"); got != eur(outside.Total)+" (1)" {
		t.Errorf("refunded outside: %q", got)
	}
	if got := row("failed"); got != eur(0)+" (0)" {
		t.Errorf("failed after both were settled: %q", got)
	}
	if got := row("credit"); !strings.HasPrefix(got, eur(credit.Total)) {
		t.Errorf("store credit issued: %q, want %s", got, eur(credit.Total))
	}
	b.mustSee("None. Every refund went through or is on its way.")

	// a reconciliation follows its progress on the same page; our record of the paid
	// refund is made to differ from Stripe's, and the mismatch is acknowledged
	s.order(t, "NW-4", "edsger@example.com", "Edsger")
	s.receivedReturn(t, "NW-4", false) // a refund Stripe and we agree on
	if _, err := s.env.DB.Exec(`UPDATE refunds SET amount = amount + 100 WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, paid.ID); err != nil {
		t.Fatal(err)
	}
	b.submit("start a reconciliation", chromedp.Click(chromedp.CSS(`form[action="/finance/reconciliations"] button`)))
	b.waitVisible("[data-run-status]")
	if st := b.text("[data-run-status]"); st != "queued" {
		t.Fatalf("the new run is %q", st)
	}
	b.page("finance-run-queued", false)
	b.mark()
	s.drain(t)
	b.poll("the run's page follows it to the end", `(() => { const st = document.querySelector('[data-run-status]');
		return !!st && st.dataset.runStatus === 'succeeded' && !!document.querySelector('table[data-lines] tr.mismatch'); })()`)
	if !b.samePage() {
		t.Error("the run's progress came with a new page, want the same page updated")
	}
	b.page("finance-run-done", false)
	line := eval[string](b, `document.querySelector('table[data-lines] tr.mismatch').dataset.line`)
	b.do(chromedp.SendKeys(chromedp.ID("ack-"+line), "Test correction of our record; Stripe is right."))
	b.submit("acknowledge the mismatch", chromedp.Click(chromedp.ID("ack-button-"+line)))
	b.waitVisible("[data-acked]")
	b.mustSee("The mismatch is acknowledged.", "Acknowledged by user:fin", "Test correction of our record; Stripe is right.")
	var acked string
	s.env.DB.Get(&acked, `SELECT acked_note FROM reconciliation_lines WHERE public_id = $1`, line)
	if acked != "Test correction of our record; Stripe is right." {
		t.Errorf("the line's note in the database: %q", acked)
	}

	// the same through the API: a note is required, a matched line has nothing to acknowledge
	run := strings.TrimPrefix(strings.SplitN(b.path(), "?", 2)[0], "/finance/reconciliations/")
	var matched string
	s.env.DB.Get(&matched, `SELECT l.public_id FROM reconciliation_lines l JOIN reconciliations c ON c.id = l.reconciliation_id
		WHERE c.public_id = $1 AND l.class = 'matched' LIMIT 1`, run)
	for _, tc := range []struct {
		line, note string
		want       int
		says       string
	}{
		{line, "", http.StatusUnprocessableEntity, "body.note"},
		{matched, "fine", http.StatusConflict, "not_a_mismatch"},
		{"999999", "fine", http.StatusNotFound, "no such line"},
		{line, "Checked again with the bank.", http.StatusOK, `"acknowledged_note":"Checked again with the bank."`},
	} {
		res := s.env.Do(t, "POST", "/v1/reconciliations/"+run+"/lines/"+tc.line+"/acknowledge", s.tn.Keys[auth.RoleFinance], map[string]any{"note": tc.note})
		if res.Status != tc.want || !strings.Contains(string(res.Body), tc.says) {
			t.Errorf("acknowledge line %s with %q: %d %s, want %d with %s", tc.line, tc.note, res.Status, res.Body, tc.want, tc.says)
		}
	}
	if res := s.do(t, "GET", "/v1/reconciliations/"+run, auth.RoleFinance, nil, http.StatusOK); !strings.Contains(string(res.Body), `"acknowledged_by":"key:`) {
		t.Errorf("the run's lines do not say who acknowledged: %.600s", res.Body)
	}
}
