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
	Filter        financeFilter
	Statuses      []string
	FilterErrors  []string
	Refunds       []refunds.Refund
	Older         string
	Failed        []refunds.Refund
	Flash         string
	From, To      string // CSV period, as dates
	RunKey        string // idempotency key of the start-a-run form
	Runs          []runView
	Reasons       template.HTML
	ReasonRows    []bar
	Days          template.HTML
	DayRows       []bar
	Feedback      feedbackSummary
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
	Class         string
	Mismatch      bool
	RMA           string
	Ours, Stripes string // amount and status, or ""
	Note          string
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
	if after, err := strconv.ParseInt(q.Get("after"), 10, 64); err == nil && after > 0 {
		f.After = after
	}
	if !none {
		list, more, err := refunds.List(ctx, s.db, mid, f)
		if err != nil {
			return err
		}
		v.Refunds = list
		if more && len(list) > 0 {
			older := v.Filter.query()
			older.Set("after", strconv.FormatInt(list[len(list)-1].ID, 10))
			v.Older = "/finance?" + older.Encode()
		}
	}
	failed, _, err := refunds.List(ctx, s.db, mid, refunds.ListFilter{Statuses: []refunds.Status{refunds.StatusFailed}, Limit: 100})
	if err != nil {
		return err
	}
	v.Failed = failed
	if id := q.Get("retried"); id != "" {
		v.Flash = "Refund " + id + " was queued again; it goes to Stripe in a moment."
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	v.From, v.To = today.AddDate(0, 0, -30).Format(time.DateOnly), today.AddDate(0, 0, 1).Format(time.DateOnly)
	v.RunKey = newKey()
	runs, _, err := s.reconcile.List(ctx, mid, 0, 10)
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
	if err := s.charts(ctx, mid, v); err != nil {
		return err
	}
	status := http.StatusOK
	if len(v.FilterErrors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return s.render(rq, status, "finance", "Finance", v)
}

// charts draws the return reasons of the last 90 days and the refunds of each of
// the last 30 days.
func (s *Server) charts(ctx context.Context, mid int64, v *financeView) error {
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
		label := fmt.Sprintf("%d · %s", d.Ease, easeLabels[d.Ease-1])
		v.Feedback.Rows = append(v.Feedback.Rows, bar{Label: label, Value: d.Count, Title: fmt.Sprintf("%s: %d answer(s)", label, d.Count)})
	}
	v.Feedback.Chart = hbarChart("How easy shoppers found their return, last 90 days", v.Feedback.Rows)
	for _, g := range fb.ByReason {
		v.Feedback.Comments = append(v.Feedback.Comments, reasonComments{Reason: reasonLabel(g.Reason), Count: g.Count, Comments: g.Comments})
	}

	const days = 30
	start := now.Truncate(24*time.Hour).AddDate(0, 0, -(days - 1))
	rows, err := analytics.RefundsByDay(ctx, s.db, mid, start)
	if err != nil {
		return fmt.Errorf("web: refunds chart: %w", err)
	}
	for d := range days {
		day := start.AddDate(0, 0, d)
		b := bar{Label: day.Format("2 Jan")}
		var sums []string
		for _, r := range rows {
			if r.Day.UTC().Equal(day) {
				b.Value += r.Count
				sums = append(sums, money.Format(r.Amount, r.Currency))
			}
		}
		b.Title = fmt.Sprintf("%s: %d refund(s)", day.Format("2 January"), b.Value)
		if len(sums) > 0 {
			b.Title += ", " + strings.Join(sums, " + ")
		}
		v.DayRows = append(v.DayRows, b)
	}
	v.Days = vbarChart("Refunds per day, last 30 days", v.DayRows, 7)
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
	after, _ := strconv.ParseInt(rq.URL.Query().Get("after"), 10, 64)
	lines, more, err := s.reconcile.Lines(ctx, mid, r.ID, reconcile.Class(v.Class), max(after, 0), 200)
	if err != nil {
		return err
	}
	for _, l := range lines {
		lv := runLineView{Class: string(l.Class), Mismatch: l.Class != reconcile.Matched, Note: l.Note,
			Ours: side(l.Amount, l.Currency, l.Status), Stripes: side(l.StripeAmount, l.StripeCurrency, l.StripeStatus)}
		if l.RMA != nil {
			lv.RMA = *l.RMA
		}
		v.Lines = append(v.Lines, lv)
	}
	base := "/finance/reconciliations/" + r.PublicID
	if more && len(lines) > 0 {
		q := url.Values{"after": {strconv.FormatInt(lines[len(lines)-1].ID, 10)}}
		if v.Class != "" {
			q.Set("class", v.Class)
		}
		v.Next = base + "?" + q.Encode()
	}
	v.CSV = base + "/lines.csv"
	if v.Class != "" {
		v.CSV += "?class=" + url.QueryEscape(v.Class)
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
