package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/period"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/returns/analytics"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
	"github.com/roundtriphq/roundtrip/returns"
)

// The finance pages: refunds with filters, failed refunds to retry, CSV exports,
// reconciliation runs with their mismatches, and charts drawn on the server.

// refundStatuses are the statuses of the filter's choice, as the page shows them.
var refundStatuses = func() []string {
	var out []string
	for _, st := range refunds.Statuses() {
		out = append(out, string(st))
	}
	return out
}()

type financeFilter struct {
	Status   string
	Currency string
	RMA      string
}

// query is the filter as URL parameters, for links that keep it.
func (f financeFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "currency": f.Currency, "rma": f.RMA} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

type financeView struct {
	// ExchangesKept says per currency what exchanges kept in the last 90 days.
	ExchangesKept []string
	Feedback      feedbackSummary
	Filter        financeFilter
	Statuses      []string
	FilterErrors  []string
	Refunds       []refundView
	Older         string
	Failed        []refundView
	Flash         string
	From, To      string // the period (totals, chart, CSV), as dates; To is not included
	Period        string // the period in words
	Totals        []refunds.Total
	RunKey        string // idempotency key of the start-a-run form
	Runs          []runView
	Reasons       template.HTML
	ReasonRows    []bar
	Days          []dayChart
}

// dayChart is the refunds of each day of the period in one currency, as money.
type dayChart struct {
	Currency string
	Total    int64
	Chart    template.HTML
	Rows     []bar // the days with refunds, for the table beside the chart
}

// feedbackSummary is the shoppers' feedback of the last 90 days, copied from the
// analytics for the page.
type feedbackSummary struct {
	Count    int64
	Average  string
	Chart    template.HTML
	Rows     []bar
	Comments []reasonComments
}

type reasonComments struct {
	Reason   string
	Count    int64
	Comments []analytics.FeedbackComment
}

// runView is a reconciliation as the pages show it. The fields are copied in Go,
// not read by the templates from reconcile's types, so that a change there fails
// the build rather than a page.
type runView struct {
	ID         string // the public ID
	From, To   time.Time
	Status     string
	Percent    int
	Error      string
	FinishedAt *time.Time
	NotOurs    int64
	Matched    int64
	Mismatches int64
}

func viewRun(r *reconcile.Reconciliation, totals []reconcile.ReconciliationTotal) runView {
	v := runView{ID: r.PublicID, From: r.From, To: r.To, Status: r.Status, Percent: r.Progress.Percent, Error: r.Error,
		FinishedAt: r.FinishedAt, NotOurs: r.NotOurs}
	for _, t := range totals {
		if t.Class == reconcile.Matched {
			v.Matched += t.Count
		} else {
			v.Mismatches += t.Count
		}
	}
	return v
}

type totalView struct {
	Class                    string
	Count                    int64
	Amount, StripeAmount     int64
	Currency, StripeCurrency string
}

type runLineView struct {
	ID            string // the public ID (rl_…)
	Class         string
	Mismatch      bool
	RMA           string
	Ours, Stripes string // amount and status, or ""
	Note          string
	Acked         bool
	AckedNote     string
	AckedBy       string
	AckedAt       time.Time
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

func (s *Server) financePage(rq *request) error {
	ctx, mid := rq.ctx(), rq.p.MerchantID
	q := rq.URL.Query()
	v := &financeView{Statuses: refundStatuses}
	v.Filter = financeFilter{Status: q.Get("status"), Currency: strings.ToUpper(strings.TrimSpace(q.Get("currency"))), RMA: strings.TrimSpace(q.Get("rma"))}
	f := refunds.ListFilter{Limit: 50}
	if v.Filter.Status != "" {
		if !slices.Contains(refundStatuses, v.Filter.Status) {
			v.FilterErrors = append(v.FilterErrors, "Choose a status from the list.")
			v.Filter.Status = ""
		} else {
			f.Statuses = []refunds.Status{refunds.Status(v.Filter.Status)}
		}
	}
	if v.Filter.Currency != "" {
		if !currencyRE.MatchString(v.Filter.Currency) {
			v.FilterErrors = append(v.FilterErrors, "A currency is a three-letter code such as EUR.")
		} else {
			f.Currency = v.Filter.Currency
		}
	}
	none := false
	if v.Filter.RMA != "" {
		rma, ok := returns.ParseRMA(v.Filter.RMA)
		if !ok {
			v.FilterErrors = append(v.FilterErrors, "A return number looks like R-7KQ4-M2XD.")
		} else if r, err := s.returns.ByRMA(ctx, mid, rma); errors.Is(err, returns.ErrNotFound) {
			none = true
		} else if err != nil {
			return err
		} else {
			f.ReturnID = r.PublicID
		}
	}
	f.After = pageAfter(rq, "after")
	if !none {
		list, more, err := refunds.List(ctx, s.db, mid, f)
		if cursor.IsUnknown(err) {
			f.After = ""
			list, more, err = refunds.List(ctx, s.db, mid, f)
		}
		if err != nil {
			return err
		}
		v.Refunds = s.viewRefunds(list)
		if more && len(list) > 0 {
			older := v.Filter.query()
			older.Set("after", list[len(list)-1].PublicID)
			v.Older = "/finance?" + older.Encode()
		}
	}
	failed, _, err := refunds.List(ctx, s.db, mid, refunds.ListFilter{Statuses: []refunds.Status{refunds.StatusFailed}, Open: true, Limit: 100})
	if err != nil {
		return err
	}
	v.Failed = s.viewRefunds(failed)
	if id := q.Get("retried"); id != "" {
		v.Flash = "Refund " + id + " was queued again; it goes to Stripe in a moment."
	}
	if id := q.Get("settled"); id != "" {
		v.Flash = "Refund " + id + " is settled; its return moved on."
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	p := period.Period{From: today.AddDate(0, 0, -29), To: today.AddDate(0, 0, 1)}
	if q.Get("from") != "" || q.Get("to") != "" {
		if pp, err := parsePeriod(q.Get("from"), q.Get("to")); err != nil {
			v.FilterErrors = append(v.FilterErrors, "Give the period as two dates, the end after the start and at most 366 days later.")
		} else {
			p = pp
		}
	}
	v.From, v.To = p.From.Format(time.DateOnly), p.To.Format(time.DateOnly)
	v.Period = p.From.Format("2 January 2006") + " – " + p.To.Add(-time.Nanosecond).Format("2 January 2006")
	if v.Totals, err = refunds.Totals(ctx, s.db, mid, p.From, p.To); err != nil {
		return err
	}
	v.RunKey = newKey()
	runs, _, err := s.reconcile.List(ctx, mid, "", 10)
	if err != nil {
		return err
	}
	for _, r := range runs {
		totals, err := s.reconcile.Totals(ctx, mid, r.ID)
		if err != nil {
			return err
		}
		v.Runs = append(v.Runs, viewRun(&r, totals))
	}
	if err := s.charts(ctx, mid, p, v); err != nil {
		return err
	}
	status := http.StatusOK
	if len(v.FilterErrors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return s.render(rq, status, "finance", "Finance", v)
}

// charts draws the return reasons of the last 90 days and, per currency, the money
// refunded on each day of the period.
func (s *Server) charts(ctx context.Context, mid int64, p period.Period, v *financeView) error {
	now := s.now().UTC()
	reasons, err := analytics.Reasons(ctx, s.db, mid, period.Period{From: now.AddDate(0, 0, -90)})
	if err != nil {
		return fmt.Errorf("web: reason chart: %w", err)
	}
	slices.SortStableFunc(reasons, func(a, b analytics.ReasonStat) int { return cmp.Compare(b.Units, a.Units) })
	for _, r := range reasons {
		if r.Units == 0 {
			continue
		}
		label := reasonLabel(r.Reason)
		v.ReasonRows = append(v.ReasonRows, bar{Label: label, Value: r.Units, Title: fmt.Sprintf("%s: %d item(s)", label, r.Units)})
	}
	v.Reasons = hbarChart("Return reasons, items returned in the last 90 days", v.ReasonRows)
	kept, err := analytics.Exchanges(ctx, s.db, mid, period.Period{From: now.AddDate(0, 0, -90)})
	if err != nil {
		return fmt.Errorf("web: exchanges: %w", err)
	}
	for _, x := range kept {
		v.ExchangesKept = append(v.ExchangesKept, x.Summary)
	}

	fb, err := analytics.Feedback(ctx, s.db, mid, period.Period{From: now.AddDate(0, 0, -90)})
	if err != nil {
		return fmt.Errorf("web: feedback: %w", err)
	}
	v.Feedback.Count = fb.Count
	if fb.Average != nil {
		v.Feedback.Average = fmt.Sprintf("%.2f", *fb.Average)
	}
	for i := len(fb.Distribution) - 1; i >= 0; i-- {
		d := fb.Distribution[i]
		label := fmt.Sprintf("%d · %s", d.Ease, english().T("fb-ease-"+strconv.Itoa(d.Ease)))
		v.Feedback.Rows = append(v.Feedback.Rows, bar{Label: label, Value: d.Count, Title: fmt.Sprintf("%s: %d answer(s)", label, d.Count)})
	}
	v.Feedback.Chart = hbarChart("How easy shoppers found their return, last 90 days", v.Feedback.Rows)
	for _, g := range fb.ByReason {
		v.Feedback.Comments = append(v.Feedback.Comments, reasonComments{Reason: reasonLabel(g.Reason), Count: g.Count, Comments: g.Comments})
	}

	start := p.From.UTC().Truncate(24 * time.Hour)
	days := max(int(p.To.Sub(start).Hours()/24+0.5), 1)
	rows, err := refunds.RefundedByDay(ctx, s.db, mid, start, p.To)
	if err != nil {
		return fmt.Errorf("web: refunds chart: %w", err)
	}
	var currencies []string
	for _, r := range rows {
		if !slices.Contains(currencies, r.Currency) {
			currencies = append(currencies, r.Currency)
		}
	}
	slices.Sort(currencies)
	for _, cur := range currencies {
		c := dayChart{Currency: cur}
		var bars []bar
		for d := range days {
			day := start.AddDate(0, 0, d)
			b := bar{Label: day.Format("2 Jan")}
			var n int64
			for _, r := range rows {
				if r.Currency == cur && r.Day.UTC().Equal(day) {
					b.Value += r.Amount
					n += r.Count
				}
			}
			b.Title = fmt.Sprintf("%s: %s refunded (%d refund(s))", day.Format("2 January"), money.Format(b.Value, cur), n)
			if b.Value > 0 {
				c.Rows = append(c.Rows, bar{Label: day.Format("2 January 2006"), Value: b.Value, Title: fmt.Sprint(n)})
			}
			c.Total += b.Value
			bars = append(bars, b)
		}
		c.Chart = vbarChartFmt(fmt.Sprintf("Refunds per day in %s", cur), bars, max(days/5, 1),
			func(v int64) string { return money.Format(v, cur) })
		v.Days = append(v.Days, c)
	}
	return nil
}

// financeRetry sends a failed refund again.
func (s *Server) financeRetry(rq *request) error {
	id := rq.PathValue("id")
	notFound := &pageError{Status: http.StatusNotFound, Title: "No such refund", Message: "This shop has no refund with that ID.", Link: "/finance", LinkText: "Back to finance"}
	f, err := refunds.ByPublicID(rq.ctx(), s.db, rq.p.MerchantID, id)
	if err == nil {
		_, err = s.refunds.Retry(rq.ctx(), rq.p.MerchantID, f.ID, rq.p.Actor)
	}
	var nr *refunds.NotRetryableError
	switch {
	case errors.Is(err, refunds.ErrNotFound):
		return notFound
	case errors.As(err, &nr):
		return &pageError{Status: http.StatusConflict, Title: "Nothing to retry",
			Message: fmt.Sprintf("Refund %s is %s: only failed refunds can be sent again. Someone may have retried it already.", id, nr.Status),
			Link:    "/finance", LinkText: "Back to finance"}
	case err != nil:
		return err
	}
	return redirectTo("/finance?retried=" + url.QueryEscape(id) + "#failed")
}

// parsePeriod reads from and to (dates or RFC 3339, both required, at most 366 days
// apart) for an export or a run, with the API's parser.
func parsePeriod(from, to string) (period.Period, error) {
	var v validation.Error
	p := period.Parse(from, to, true, "", &v)
	return p, v.Err()
}

var badPeriod = &pageError{Status: http.StatusUnprocessableEntity, Title: "Check the dates",
	Message: "Give a start and an end date (2026-03-01), the end after the start and at most 366 days later. The end is not included: to 2026-04-01 covers March.",
	Link:    "/finance", LinkText: "Back to finance"}

// financeCSV streams the refunds export of reconcile (the same file as GET
// /v1/reports/refunds.csv) for the signed-in user, who has a cookie, not a key.
func (s *Server) financeCSV(rq *request) error {
	p, err := parsePeriod(rq.URL.Query().Get("from"), rq.URL.Query().Get("to"))
	if err != nil {
		return badPeriod
	}
	name := fmt.Sprintf("refunds-%s-%s.csv", p.From.Format("20060102"), p.To.Format("20060102"))
	return s.streamCSV(rq, name, func(w http.ResponseWriter, done func()) error {
		return reconcile.WriteRefunds(rq.ctx(), s.db, w, rq.p.MerchantID, p, done)
	})
}

// streamCSV answers a CSV download, flushing after each batch. An error after the
// answer started aborts the connection, so a truncated file is not taken for whole.
func (s *Server) streamCSV(rq *request, filename string, write func(http.ResponseWriter, func()) error) error {
	h := rq.w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(rq.w)
	done := func() {
		rc.SetWriteDeadline(time.Now().Add(time.Minute))
		rc.Flush()
	}
	if err := write(rq.w, done); err != nil {
		s.log.ErrorContext(rq.ctx(), "web csv export failed", "error", err.Error())
		panic(http.ErrAbortHandler)
	}
	return nil
}

type runPage struct {
	Flash  string
	Live   string // where the page asks for its progress while the run works
	Run    runView
	Totals []totalView
	Lines  []runLineView
	Class  string
	Next   string
	CSV    string
}

// side words one side of a line: "29.75 EUR (succeeded)", or "" when absent.
func side(amount *int64, currency, status *string) string {
	if amount == nil || currency == nil {
		return ""
	}
	out := money.Format(*amount, *currency)
	if status != nil && *status != "" {
		out += " (" + *status + ")"
	}
	return out
}

func (s *Server) runID(rq *request) (*reconcile.Reconciliation, error) {
	notFound := &pageError{Status: http.StatusNotFound, Title: "No such reconciliation", Message: "This shop has no reconciliation with that ID.", Link: "/finance", LinkText: "Back to finance"}
	r, err := s.reconcile.ByPublicID(rq.ctx(), rq.p.MerchantID, rq.PathValue("id"))
	if errors.Is(err, reconcile.ErrNotFound) {
		return nil, notFound
	}
	return r, err
}

// financeRun shows a reconciliation: its totals by class and its lines,
// mismatches included, one class at a time when asked.
func (s *Server) financeRun(rq *request) error {
	r, err := s.runID(rq)
	if err != nil {
		return err
	}
	ctx, mid := rq.ctx(), rq.p.MerchantID
	v := &runPage{Class: rq.URL.Query().Get("class")}
	if v.Class != "" && !reconcile.Class(v.Class).Valid() {
		v.Class = ""
	}
	totals, err := s.reconcile.Totals(ctx, mid, r.ID)
	if err != nil {
		return err
	}
	v.Run = viewRun(r, totals)
	for _, t := range totals {
		v.Totals = append(v.Totals, totalView{Class: string(t.Class), Count: t.Count, Amount: t.Amount, StripeAmount: t.StripeAmount,
			Currency: t.Currency, StripeCurrency: t.StripeCurrency})
	}
	after := pageAfter(rq, "after")
	lines, more, err := s.reconcile.Lines(ctx, mid, r.ID, reconcile.Class(v.Class), after, 200)
	if cursor.IsUnknown(err) {
		lines, more, err = s.reconcile.Lines(ctx, mid, r.ID, reconcile.Class(v.Class), "", 200)
	}
	if err != nil {
		return err
	}
	for _, l := range lines {
		lv := runLineView{ID: l.PublicID, Class: string(l.Class), Mismatch: l.Class != reconcile.Matched, Note: l.Note, AckedNote: l.AckedNote,
			Ours: side(l.Amount, l.Currency, l.Status), Stripes: side(l.StripeAmount, l.StripeCurrency, l.StripeStatus)}
		if l.RMA != nil {
			lv.RMA = *l.RMA
		}
		if l.AckedAt != nil {
			lv.Acked, lv.AckedAt = true, *l.AckedAt
			if l.AckedBy != nil {
				lv.AckedBy = *l.AckedBy
			}
		}
		v.Lines = append(v.Lines, lv)
	}
	base := "/finance/reconciliations/" + r.PublicID
	if more && len(lines) > 0 {
		q := url.Values{"after": {lines[len(lines)-1].PublicID}}
		if v.Class != "" {
			q.Set("class", v.Class)
		}
		v.Next = base + "?" + q.Encode()
	}
	if id := rq.URL.Query().Get("acknowledged"); id != "" {
		v.Flash = "The mismatch is acknowledged."
	}
	v.CSV = base + "/lines.csv"
	if v.Class != "" {
		v.CSV += "?class=" + url.QueryEscape(v.Class)
	}
	v.Live = base
	if v.Class != "" {
		v.Live += "?class=" + url.QueryEscape(v.Class)
	}
	return s.render(rq, http.StatusOK, "finance_run", "Reconciliation "+r.PublicID, v)
}

func (s *Server) financeRunCSV(rq *request) error {
	r, err := s.runID(rq)
	if err != nil {
		return err
	}
	class := reconcile.Class(rq.URL.Query().Get("class"))
	if class != "" && !class.Valid() {
		class = ""
	}
	return s.streamCSV(rq, "reconciliation-"+r.PublicID+"-lines.csv", func(w http.ResponseWriter, done func()) error {
		return s.reconcile.WriteLines(rq.ctx(), w, rq.p.MerchantID, r.ID, class, done)
	})
}

// financeStartRun queues a reconciliation of a period; a worker with Stripe runs it.
func (s *Server) financeStartRun(rq *request) error {
	p, err := parsePeriod(rq.PostFormValue("from"), rq.PostFormValue("to"))
	if err != nil {
		return badPeriod
	}
	key := rq.PostFormValue("key")
	if !keyRE.MatchString(key) {
		key = ""
	}
	r, _, err := s.reconcile.Create(rq.ctx(), rq.p.MerchantID, p, rq.p.Actor, key, true)
	if err != nil {
		return err
	}
	return redirectTo("/finance/reconciliations/" + r.PublicID)
}
