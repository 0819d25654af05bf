package reconcile_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
)

// books is a merchant whose refunds disagree with Stripe in every way there is, and a
// second merchant on the same Stripe account.
type books struct {
	env    *apitest.Env
	stripe *fakestripe.Server
	worker *outbox.Worker
	shop   apitest.Tenant
	other  apitest.Tenant
	ids    map[string]int64 // our refund IDs by name
}

const hyperlink = `=HYPERLINK("http://x","y")`

func newBooks(t *testing.T) *books {
	t.Helper()
	b := &books{ids: map[string]int64{}}
	b.stripe = fakestripe.New(fakestripe.Options{Currency: "eur"})
	t.Cleanup(b.stripe.Close)
	b.env = apitest.New(t, func(d *app.Config, url string) {
		// two refunds a page: Stripe's list has many page boundaries
		d.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: b.stripe.URL(), PageSize: 2,
			Timeout: 10 * time.Second})
		b.worker = outbox.NewWorker(d.DB, url, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
		d.Worker = b.worker
	})
	b.shop = b.env.Merchant(t, "northwind")
	b.other = b.env.Merchant(t, "southwind")
	s := seeder{t, b.env.DB}
	m, o := b.shop.Merchant.ID, b.other.Merchant.ID

	order := s.order(m, "NW-1", "pi_nw1", "EUR", "Ada")
	hyperOrder := s.order(m, hyperlink, "pi_hyper", "EUR", "Ada")
	otherOrder := s.order(o, "SW-1", "pi_sw1", "EUR", "Bo")
	r, _ := s.ret(m, order, "EUR")
	ro, _ := s.ret(o, otherOrder, "EUR")
	_ = hyperOrder

	type both struct {
		name           string
		amount         int64
		currency       string
		status         string
		sent           time.Time
		stripeID       string
		stripeAmount   int64
		stripeCurrency string
		stripeStatus   string
		stripeCreated  time.Time
		merchant, ret  int64
	}
	for _, x := range []both{
		{name: "match", amount: 2975, currency: "EUR", status: "succeeded", sent: day(1, 10), stripeID: "re_match"},
		{name: "amount", amount: 2975, currency: "EUR", status: "succeeded", sent: day(1, 11), stripeID: "re_amount", stripeAmount: 2795},
		{name: "currency", amount: 5000, currency: "EUR", status: "succeeded", sent: day(2, 10), stripeID: "re_currency", stripeCurrency: "usd"},
		{name: "status", amount: 1500, currency: "EUR", status: "succeeded", sent: day(2, 11), stripeID: "re_status", stripeStatus: "failed"},
		{name: "ghost", amount: 1200, currency: "EUR", status: "succeeded", sent: day(3, 10)},
		// sent a second after the period began; Stripe created it two seconds earlier
		{name: "edge", amount: 999, currency: "EUR", status: "succeeded", sent: day(1, 0).Add(time.Second), stripeID: "re_edge",
			stripeCreated: day(1, 0).Add(-time.Second)},
		{name: "before", amount: 700, currency: "EUR", status: "succeeded", sent: time.Date(2026, 2, 20, 9, 0, 0, 0, time.UTC), stripeID: "re_before"},
		{name: "theirs", amount: 100, currency: "EUR", status: "succeeded", sent: day(1, 13), stripeID: "re_theirs", merchant: o, ret: ro},
	} {
		if x.merchant == 0 {
			x.merchant, x.ret = m, r
		}
		local := x.stripeID
		if x.name == "ghost" {
			local = "re_ghost" // Stripe never heard of it
		}
		b.ids[x.name] = s.refund(refund{merchant: x.merchant, ret: x.ret, amount: x.amount, currency: x.currency,
			status: x.status, stripeID: local, sent: x.sent})
		if x.stripeID == "" {
			continue
		}
		pi := "pi_nw1"
		if x.merchant == o {
			pi = "pi_sw1"
		}
		sr := fakestripe.Refund{ID: x.stripeID, PaymentIntent: pi, Amount: x.amount, Currency: "eur", Status: "succeeded",
			Created: x.sent, Metadata: map[string]string{"refund_id": strconv.FormatInt(b.ids[x.name], 10)}}
		if x.stripeAmount != 0 {
			sr.Amount = x.stripeAmount
		}
		if x.stripeCurrency != "" {
			sr.Currency = x.stripeCurrency
		}
		if x.stripeStatus != "" {
			sr.Status, sr.FailureReason = x.stripeStatus, "expired_or_canceled_card"
		}
		if !x.stripeCreated.IsZero() {
			sr.Created = x.stripeCreated
		}
		b.stripe.SeedRefund(sr)
	}

	// made in Stripe, but not yet recorded as sent here: found by its refund_id
	// metadata, the refund's public ID
	b.ids["meta"] = s.refund(refund{merchant: m, ret: r, amount: 800, currency: "EUR", status: "queued", sent: day(3, 11)})
	var metaPublic string
	if err := b.env.DB.Get(&metaPublic, `SELECT public_id FROM refunds WHERE id = $1`, b.ids["meta"]); err != nil {
		t.Fatal(err)
	}
	b.stripe.SeedRefund(fakestripe.Refund{ID: "re_meta", PaymentIntent: "pi_nw1", Amount: 800, Created: day(3, 11),
		Metadata: map[string]string{"refund_id": metaPublic}})

	// failed, retried by finance, then succeeded: two Stripe refunds, both accounted for
	retried := s.refund(refund{merchant: m, ret: r, amount: 1000, currency: "EUR", status: "pending", stripeID: "re_old",
		sent: day(1, 12), pi: "pi_nw1"})
	b.ids["retried"] = retried
	for _, q := range []string{
		`UPDATE refunds SET status = 'failed', failure_reason = 'card expired', settled_at = sent_at WHERE id = $1`,
		`UPDATE refunds SET status = 'queued', generation = 1, stripe_refund_id = NULL, sent_at = NULL, settled_at = NULL WHERE id = $1`,
		`UPDATE refunds SET status = 'succeeded', stripe_refund_id = 're_new', sent_at = '2026-03-02T12:00:00Z', settled_at = '2026-03-02T12:00:00Z' WHERE id = $1`,
	} {
		if _, err := b.env.DB.Exec(q, retried); err != nil {
			t.Fatal(err)
		}
	}
	b.stripe.SeedRefund(fakestripe.Refund{ID: "re_old", PaymentIntent: "pi_nw1", Amount: 1000, Status: "failed",
		FailureReason: "expired_or_canceled_card", Created: day(1, 12)})
	b.stripe.SeedRefund(fakestripe.Refund{ID: "re_new", PaymentIntent: "pi_nw1", Amount: 1000, Created: day(2, 12)})

	// made in Stripe's dashboard on one of our orders
	b.stripe.SeedRefund(fakestripe.Refund{ID: "re_dashboard", PaymentIntent: "pi_hyper", Amount: 4200, Created: day(3, 12)})
	// a second Stripe refund that names one of ours, by its internal ID as refunds sent
	// before public IDs went to Stripe do
	b.stripe.SeedRefund(fakestripe.Refund{ID: "re_dup", PaymentIntent: "pi_nw1", Amount: 2975, Created: day(3, 13),
		Metadata: map[string]string{"refund_id": strconv.FormatInt(b.ids["match"], 10)}})
	// the other merchant's, made in the dashboard, and one on a charge nobody knows
	b.stripe.SeedRefund(fakestripe.Refund{ID: "re_sw_dashboard", PaymentIntent: "pi_sw1", Amount: 100, Created: day(2, 13)})
	b.stripe.SeedRefund(fakestripe.Refund{ID: "re_nobody", Charge: "ch_nobody", Amount: 300, Created: day(2, 14)})
	return b
}

type detail struct {
	reconcile.Reconciliation
	Totals     []reconcile.ReconciliationTotal `json:"totals"`
	Lines      []reconcile.ReconciliationLine  `json:"lines"`
	NextCursor string                          `json:"next_cursor"`
}

func (b *books) get(t *testing.T, path string) detail {
	t.Helper()
	res := b.env.Do(t, "GET", path, b.shop.Keys[auth.RoleFinance], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s: got %d %s", path, res.Status, res.Body)
	}
	var d detail
	res.JSON(t, &d)
	return d
}

func TestReconciliationClassifiesEveryDiscrepancy(t *testing.T) {
	t.Parallel()
	b := newBooks(t)
	key := b.shop.Keys[auth.RoleFinance]
	body := map[string]any{"from": "2026-03-01", "to": "2026-03-04"}

	res := b.env.Do(t, "POST", "/v1/reconciliations", key, body, "Idempotency-Key", "march-1")
	if res.Status != http.StatusAccepted {
		t.Fatalf("create: got %d %s, want 202", res.Status, res.Body)
	}
	var run reconcile.Reconciliation
	res.JSON(t, &run)
	if run.Status != "queued" || run.Progress.Percent != 0 {
		t.Errorf("got a new run %s at %d%%, want queued at 0%%", run.Status, run.Progress.Percent)
	}
	again := b.env.Do(t, "POST", "/v1/reconciliations", key, body, "Idempotency-Key", "march-1")
	var run2 reconcile.Reconciliation
	again.JSON(t, &run2)
	if again.Header.Get("Idempotent-Replayed") != "true" || run2.PublicID != run.PublicID {
		t.Errorf("replay: got run %s (replayed %q), want run %s replayed", run2.PublicID, again.Header.Get("Idempotent-Replayed"), run.PublicID)
	}

	drain(t, b.worker)

	d := b.get(t, fmt.Sprintf("/v1/reconciliations/%s?limit=1000", run.PublicID))
	if d.Status != "succeeded" || d.Progress.Phase != "done" || d.Progress.Percent != 100 || d.Error != "" {
		t.Fatalf("got run %s/%s at %d%% (%q), want succeeded/done at 100%%", d.Status, d.Progress.Phase, d.Progress.Percent, d.Error)
	}
	// Stripe lists 12 refunds created in the period: 9 ours, 2 of the other merchant, 1 of nobody known
	if d.Progress.StripeListed != 12 || d.NotOurs != 3 {
		t.Errorf("got %d Stripe refunds listed, %d not ours; want 12 and 3", d.Progress.StripeListed, d.NotOurs)
	}
	if d.Progress.LocalExpected != 7 || d.Progress.LocalSeen != 7 {
		t.Errorf("got %d/%d of ours accounted for, want 7/7", d.Progress.LocalSeen, d.Progress.LocalExpected)
	}

	type want struct {
		class     reconcile.Class
		matchedBy string
		source    string
		refund    string
	}
	wants := map[string]want{
		"re_match":     {reconcile.Matched, "stripe_id", "stripe_list", "match"},
		"re_amount":    {reconcile.AmountMismatch, "stripe_id", "stripe_list", "amount"},
		"re_currency":  {reconcile.CurrencyMismatch, "stripe_id", "stripe_list", "currency"},
		"re_status":    {reconcile.StatusMismatch, "stripe_id", "stripe_list", "status"},
		"re_ghost":     {reconcile.MissingInStripe, "", "local", "ghost"},
		"re_edge":      {reconcile.Matched, "stripe_id", "local", "edge"},
		"re_meta":      {reconcile.StatusMismatch, "metadata", "stripe_list", "meta"},
		"re_old":       {reconcile.Matched, "earlier_attempt", "stripe_list", "retried"},
		"re_new":       {reconcile.Matched, "stripe_id", "stripe_list", "retried"},
		"re_dashboard": {reconcile.MissingLocally, "order_payment", "stripe_list", ""},
		"re_dup":       {reconcile.MissingLocally, "metadata", "stripe_list", "match"},
	}
	if len(d.Lines) != len(wants) || d.Progress.Lines != int64(len(wants)) {
		t.Errorf("got %d lines (counter %d), want %d", len(d.Lines), d.Progress.Lines, len(wants))
	}
	for _, l := range d.Lines {
		id := *l.StripeRefundID
		w, ok := wants[id]
		if !ok {
			t.Errorf("unexpected line for %s: %+v", id, l)
			continue
		}
		delete(wants, id)
		var refundID, want string
		if l.RefundPublicID != nil {
			refundID = *l.RefundPublicID
		}
		if w.refund != "" {
			if err := b.env.DB.Get(&want, `SELECT public_id FROM refunds WHERE id = $1`, b.ids[w.refund]); err != nil {
				t.Fatal(err)
			}
		}
		if l.Class != w.class || l.MatchedBy != w.matchedBy || l.Source != w.source || refundID != want {
			t.Errorf("%s: got %s by %q from %s for refund %q (%s), want %s by %q from %s for refund %q",
				id, l.Class, l.MatchedBy, l.Source, refundID, l.Note, w.class, w.matchedBy, w.source, want)
		}
	}
	for id := range wants {
		t.Errorf("no line for %s", id)
	}
	line := func(id string) reconcile.ReconciliationLine {
		for _, l := range d.Lines {
			if *l.StripeRefundID == id {
				return l
			}
		}
		return reconcile.ReconciliationLine{}
	}
	if l := line("re_dashboard"); l.OrderNumber == nil || *l.OrderNumber != hyperlink || l.Amount != nil {
		t.Errorf("dashboard refund: got order %v and our amount %v, want the order %s and no amount of ours", l.OrderNumber, l.Amount, hyperlink)
	}
	if l := line("re_currency"); *l.StripeCurrency != "USD" || *l.Currency != "EUR" {
		t.Errorf("currency mismatch: got ours %s, Stripe's %s", *l.Currency, *l.StripeCurrency)
	}
	if l := line("re_status"); *l.Status != "succeeded" || *l.StripeStatus != "failed" || l.Note == "" {
		t.Errorf("status mismatch: got ours %s, Stripe's %s (%q)", *l.Status, *l.StripeStatus, l.Note)
	}
	if l := line("re_old"); *l.Status != "failed" || *l.Attempt != 0 {
		t.Errorf("earlier attempt: got status %s attempt %d, want failed attempt 0", *l.Status, *l.Attempt)
	}

	gotTotals := d.Totals
	wantTotals := []reconcile.ReconciliationTotal{
		{Class: reconcile.Matched, Currency: "EUR", StripeCurrency: "EUR", Count: 4, Amount: 2975 + 999 + 1000 + 1000, StripeAmount: 2975 + 999 + 1000 + 1000},
		{Class: reconcile.MissingInStripe, Currency: "EUR", StripeCurrency: "EUR", Count: 1, Amount: 1200},
		{Class: reconcile.MissingLocally, Currency: "EUR", StripeCurrency: "EUR", Count: 2, StripeAmount: 4200 + 2975},
		{Class: reconcile.AmountMismatch, Currency: "EUR", StripeCurrency: "EUR", Count: 1, Amount: 2975, StripeAmount: 2795},
		{Class: reconcile.CurrencyMismatch, Currency: "EUR", StripeCurrency: "USD", Count: 1, Amount: 5000, StripeAmount: 5000},
		{Class: reconcile.StatusMismatch, Currency: "EUR", StripeCurrency: "EUR", Count: 2, Amount: 1500 + 800, StripeAmount: 1500 + 800},
	}
	if !slices.Equal(gotTotals, wantTotals) {
		t.Errorf("got totals\n%+v\nwant\n%+v", gotTotals, wantTotals)
	}

	// one class, paged
	p1 := b.get(t, fmt.Sprintf("/v1/reconciliations/%s?class=matched&limit=3", run.PublicID))
	p2 := b.get(t, fmt.Sprintf("/v1/reconciliations/%s?class=matched&limit=3&cursor=%s", run.PublicID, p1.NextCursor))
	if len(p1.Lines) != 3 || p1.NextCursor == "" || len(p2.Lines) != 1 || p2.NextCursor != "" {
		t.Errorf("got pages of %d (next %q) and %d (next %q) matched lines, want 3 and 1", len(p1.Lines), p1.NextCursor, len(p2.Lines), p2.NextCursor)
	}

	// nobody else sees it
	if res := b.env.Do(t, "GET", fmt.Sprintf("/v1/reconciliations/%s", run.PublicID), b.other.Keys[auth.RoleFinance], nil); res.Status != http.StatusNotFound {
		t.Errorf("other merchant: got %d, want 404", res.Status)
	}
	if res := b.env.Do(t, "GET", fmt.Sprintf("/v1/reconciliations/%s", run.PublicID), b.shop.Keys[auth.RoleWarehouse], nil); res.Status != http.StatusForbidden {
		t.Errorf("warehouse: got %d, want 403", res.Status)
	}
	list := b.env.Do(t, "GET", "/v1/reconciliations", key, nil)
	if list.Status != http.StatusOK || !bytes.Contains(list.Body, []byte(`"succeeded"`)) {
		t.Errorf("list: got %d %s", list.Status, list.Body)
	}

	// the lines as CSV, parsed back
	res = b.env.Do(t, "GET", fmt.Sprintf("/v1/reconciliations/%s/lines.csv", run.PublicID), key, nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("lines.csv: got %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatalf("lines.csv does not parse: %v", err)
	}
	if !slices.Equal(rows[0], reconcile.LinesColumns) || len(rows) != 1+11 {
		t.Fatalf("lines.csv: got header %v and %d rows, want %v and 11", rows[0], len(rows)-1, reconcile.LinesColumns)
	}
	col := func(name string) int { return slices.Index(reconcile.LinesColumns, name) }
	for _, r := range rows[1:] {
		switch r[col("stripe_refund_id")] {
		case "re_dashboard":
			if got := r[col("order_number")]; got != "'"+hyperlink {
				t.Errorf("order_number cell: got %q, want it neutralised", got)
			}
		case "re_amount":
			if r[col("amount_minor")] != "2975" || r[col("amount")] != "29.75" || r[col("stripe_amount")] != "27.95" || r[col("class")] != "amount_mismatch" {
				t.Errorf("re_amount row: got %v", r)
			}
		}
	}
}

// TestReconciliationResumesAfterAFailure makes Stripe fail while the second day is
// listed: the retry lists only from the second day on, and the result is the same as
// a run that never failed.
func TestReconciliationResumesAfterAFailure(t *testing.T) {
	t.Parallel()
	b := newBooks(t)
	gateway := refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: b.stripe.URL(), PageSize: 2, Timeout: 10 * time.Second})
	svc := reconcile.New(b.env.DB, gateway, nil)
	svc.BatchSize = 3 // several batches a window
	p := periodOf(t, "2026-03-01", "2026-03-04")
	m := b.shop.Merchant.ID
	day2 := strconv.FormatInt(day(2, 0).Unix(), 10)
	b.stripe.Inject(fakestripe.Fault{Kind: fakestripe.Status500, Method: "GET", Path: "/v1/refunds", Times: 1,
		Match: func(r fakestripe.Request) bool { return r.Form.Get("created[gte]") == day2 }})

	run, _, err := svc.Create(t.Context(), m, p, "test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	var seen []reconcile.ReconciliationProgress
	if _, err := svc.Execute(t.Context(), run.ID, func(p reconcile.ReconciliationProgress) { seen = append(seen, p) }); err == nil {
		t.Fatal("got no error from a run whose Stripe failed")
	}
	if len(seen) < 2 {
		t.Errorf("got %d progress reports before the failure, want some", len(seen))
	}
	svc.Fail(t.Context(), run.ID, fmt.Errorf("stripe went away"))
	failed, err := svc.Get(t.Context(), m, run.ID)
	if err != nil || failed.Status != "failed" || failed.Error == "" {
		t.Fatalf("after the failure: got %+v, %v; want failed with an error", failed, err)
	}
	day1 := strconv.FormatInt(day(1, 0).Unix(), 10)
	listed := func(gte string) int {
		n := 0
		for _, r := range b.stripe.RequestLog() {
			if r.Route == "GET /v1/refunds" && r.Form.Get("created[gte]") == gte {
				n++
			}
		}
		return n
	}
	firstDay := listed(day1)

	done, err := svc.Execute(t.Context(), run.ID, nil)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if done.Status != "succeeded" || done.Attempt != 2 {
		t.Errorf("got %s after attempt %d, want succeeded after attempt 2", done.Status, done.Attempt)
	}
	if again := listed(day1); again != firstDay {
		t.Errorf("the first day was listed again on resume: %d requests, want %d", again, firstDay)
	}

	fresh, _, err := svc.Create(t.Context(), m, p, "test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Execute(t.Context(), fresh.ID, nil); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Totals(t.Context(), m, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, err := svc.Totals(t.Context(), m, fresh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("resumed run totals\n%+v\ndiffer from a fresh run's\n%+v", got, want)
	}
	g, _ := svc.Get(t.Context(), m, run.ID)
	f, _ := svc.Get(t.Context(), m, fresh.ID)
	if g.Progress != f.Progress || g.NotOurs != f.NotOurs {
		t.Errorf("resumed run counters %+v differ from a fresh run's %+v", g.Progress, f.Progress)
	}
	// a succeeded run is not run again
	if again, err := svc.Execute(t.Context(), run.ID, nil); err != nil || again.Attempt != 2 {
		t.Errorf("executing a succeeded run: got attempt %d, %v; want it untouched", again.Attempt, err)
	}
}

func TestCreateReconciliationValidatesThePeriod(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	shop := env.Merchant(t, "northwind")
	for _, body := range []map[string]any{
		{"from": "2026-03-04", "to": "2026-03-01"},
		{"from": "March", "to": "2026-03-01"},
		{"from": "2026-03-01"},
		{"from": "0001-01-01", "to": "9999-12-31"},
		{"from": "2025-01-01", "to": "2026-01-03"},
	} {
		res := env.Do(t, "POST", "/v1/reconciliations", shop.Keys[auth.RoleFinance], body)
		if res.Status != http.StatusUnprocessableEntity {
			t.Errorf("%v: got %d %s, want 422", body, res.Status, res.Body)
		}
	}
	// a period longer than 366 days names both dates
	res := env.Do(t, "POST", "/v1/reconciliations", shop.Keys[auth.RoleFinance], map[string]any{"from": "0001-01-01", "to": "9999-12-31"})
	var p struct {
		Errors []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	res.JSON(t, &p)
	if len(p.Errors) != 2 || p.Errors[0].Location != "body.from" || p.Errors[1].Location != "body.to" {
		t.Errorf("year 1 to 9999: got %s, want errors at body.from and body.to", res.Body)
	}
}
