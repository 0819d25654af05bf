package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/returns"
)

// The admin console (/admin, admin role): the review queue (this file), the return
// policy with a sample quote and its versions (admin_policy.go), staff users and API
// keys (admin_access.go), branding (admin_branding.go), webhook endpoints and their
// deliveries (admin_webhooks.go) and the audit trail (admin_audit.go). Every change
// records itself in the audit trail, in the change's transaction, where it is made.

// adminNav is the console's own navigation, on every admin page.
type adminNav struct {
	// Section is the page shown: queue, policy, users, keys, branding, carriers, webhooks, audit.
	Section string
	// Waiting is how many returns wait for review.
	Waiting int
}

// nav builds the console's navigation for section.
func (s *Server) nav(rq *request, section string) (adminNav, error) {
	n, err := s.returns.Count(rq.ctx(), rq.p.MerchantID, returns.StateRequested)
	if err != nil {
		return adminNav{}, err
	}
	return adminNav{Section: section, Waiting: n}, nil
}

// pageAfter is the public ID in the page's query parameter name, which names the
// last row of the page before (next and previous links carry public IDs, never
// internal ones); "" when there is none or it is not a public ID.
func pageAfter(rq *request, name string) string {
	if id := rq.URL.Query().Get(name); cursor.Valid(id) {
		return id
	}
	return ""
}

// parseID reads a positive ID; 0 when s is not one.
func parseID(s string) int64 {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// ---- review queue

// queuePage is how many returns the queue shows at once.
const queuePage = 20

// historyShown is how many of a shopper's other returns the queue lists.
const historyShown = 10

// MaxRejectReason is the longest reason a rejection may give, as in the API.
const MaxRejectReason = 1000

type queueView struct {
	Nav    adminNav
	Notice string
	Items  []queueItem
	// Next is the link to the next returns of the queue, when there are more.
	Next string
	// First is true on the first page of the queue.
	First bool
}

// queueItem is a return waiting for review with what the reviewer needs to decide.
type queueItem struct {
	R        *returns.Return
	Customer string
	Waiting  string // how long it has waited, in words
	// History are the shopper's other returns with the shop, newest first.
	History     []*returns.Return
	HistoryMore bool
	Serial      serialView
	// Reason and Error are a rejection that was refused (no reason given).
	Reason string
	Error  string
	// Photos are the shopper's photo evidence.
	Photos []photoLink
}

// photoLink is a photo of a return for staff.
type photoLink struct {
	URL, Line     string
	Width, Height int
}

// serialView is what the serial-returner rule makes of the shopper.
type serialView struct {
	Enabled            bool
	Count, Max, Period int
	Holds              bool
}

func (s *Server) adminQueue(rq *request) error {
	return s.queue(rq, http.StatusOK, s.queueNotice(rq), nil)
}

// queueNotice says what the last decision did (after its redirect).
func (s *Server) queueNotice(rq *request) string {
	q := rq.URL.Query()
	if rma, ok := returns.ParseRMA(q.Get("approved")); ok {
		return "Return " + rma + " approved. The shopper can now send it back."
	}
	if rma, ok := returns.ParseRMA(q.Get("rejected")); ok {
		return "Return " + rma + " rejected. The shopper sees your reason."
	}
	return ""
}

// queue renders the review queue; failed is a rejection to show again with its
// error.
func (s *Server) queue(rq *request, status int, notice string, failed *queueItem) error {
	ctx := rq.ctx()
	m := rq.p.MerchantID
	nav, err := s.nav(rq, "queue")
	if err != nil {
		return err
	}
	// after is the public ID of the last return of the page before; one that is not
	// the merchant's (a mistyped or foreign link) shows the queue from its start
	f := returns.Filter{States: []returns.State{returns.StateRequested}, OldestFirst: true,
		After: pageAfter(rq, "after"), Limit: queuePage}
	list, more, err := s.returns.List(ctx, m, f)
	if cursor.IsUnknown(err) {
		f.After = ""
		list, more, err = s.returns.List(ctx, m, f)
	}
	if err != nil {
		return err
	}
	v := &queueView{Nav: nav, Notice: notice, First: f.After == ""}
	if more {
		v.Next = "/admin?after=" + url.QueryEscape(list[len(list)-1].PublicID)
	}
	policies := map[int]returns.Policy{}
	now := s.now()
	for _, r := range list {
		it, err := s.queueItem(ctx, r, policies, now)
		if err != nil {
			return err
		}
		if failed != nil && failed.R.ID == r.ID {
			it.Reason, it.Error = failed.Reason, failed.Error
		}
		v.Items = append(v.Items, it)
	}
	return s.render(rq, status, "admin_queue", "Review queue", v)
}

func (s *Server) queueItem(ctx context.Context, r *returns.Return, policies map[int]returns.Policy, now time.Time) (queueItem, error) {
	it := queueItem{R: r, Waiting: since(r.CreatedAt, now)}
	photos, err := s.returns.Photos(ctx, r.MerchantID, r.ID)
	if err != nil {
		return queueItem{}, err
	}
	names := map[string]string{}
	for _, i := range r.Items {
		names[i.LineID] = i.Name
	}
	for _, p := range photos {
		it.Photos = append(it.Photos, photoLink{URL: photoURL(r.PublicID, p.PublicID), Line: names[p.LineID], Width: p.Width, Height: p.Height})
	}
	if o, err := s.returns.OrderByID(ctx, r.MerchantID, r.OrderID); err == nil {
		it.Customer = strings.TrimSpace(o.Order.Customer.FirstName + " " + o.Order.Customer.LastName)
	} else if !errors.Is(err, returns.ErrNotFound) {
		return queueItem{}, err
	}
	hist, more, err := s.returns.List(ctx, r.MerchantID, returns.Filter{CustomerEmail: r.CustomerEmail, ExceptID: r.ID, Limit: historyShown})
	if err != nil {
		return queueItem{}, err
	}
	it.History, it.HistoryMore = hist, more
	// the rule is applied with the policy the return was judged by
	pol, ok := policies[r.PolicyVersion]
	if !ok {
		if pol, err = s.returns.PolicyAt(ctx, r.MerchantID, r.PolicyVersion); err != nil {
			return queueItem{}, err
		}
		policies[r.PolicyVersion] = pol
	}
	if rule := pol.SerialReturner; rule.Applies() {
		n, err := returns.RecentReturns(ctx, s.db, r.MerchantID, r.CustomerEmail, rule.PeriodDays)
		if err != nil {
			return queueItem{}, err
		}
		it.Serial = serialView{Enabled: true, Count: n, Max: rule.MaxReturns, Period: rule.PeriodDays, Holds: rule.Holds(n)}
	}
	return it, nil
}

// since says how long ago t was, roughly: "3 days", "5 hours", "12 minutes".
func since(t, now time.Time) string {
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 48*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	}
	return "less than a minute"
}

func (s *Server) adminApprove(rq *request) error {
	return s.decide(rq, returns.EventApprove, "")
}

func (s *Server) adminReject(rq *request) error {
	reason := strings.TrimSpace(rq.PostFormValue("reason"))
	why := ""
	switch {
	case reason == "":
		why = "Say why the return is rejected: the shopper reads it."
	case utf8.RuneCountInString(reason) > MaxRejectReason:
		why = fmt.Sprintf("Keep the reason under %d characters.", MaxRejectReason)
	}
	if why != "" {
		r, err := s.returns.ByPublicID(rq.ctx(), rq.p.MerchantID, rq.PathValue("id"))
		if errors.Is(err, returns.ErrNotFound) {
			return noSuchReturn
		}
		if err != nil {
			return err
		}
		return s.queue(rq, http.StatusUnprocessableEntity, "", &queueItem{R: r, Reason: reason, Error: why})
	}
	return s.decide(rq, returns.EventReject, reason)
}

var noSuchReturn = &pageError{Status: http.StatusNotFound, Title: "No such return",
	Message: "This shop has no return with that number.", Link: "/admin", LinkText: "Back to the review queue"}

// decide approves or rejects a return waiting for review, as the API does (the
// change sets off what it sets off there: a label, or voided labels), and records
// the decision in the audit trail in the same transaction.
func (s *Server) decide(rq *request, ev returns.Event, note string) error {
	ctx := rq.ctx()
	found, err := s.returns.ByPublicID(ctx, rq.p.MerchantID, rq.PathValue("id"))
	if errors.Is(err, returns.ErrNotFound) {
		return noSuchReturn
	}
	if err != nil {
		return err
	}
	id := found.ID
	actor := rq.p.Actor
	r, err := s.returns.Update(ctx, rq.p.MerchantID, id, func(ctx context.Context, t *returns.Tx) error {
		if err := t.Transition(ctx, ev, actor, note); err != nil {
			return err
		}
		e := audit.Entry{Actor: actor, Action: audit.ReturnApproved, Target: "return " + t.Return.RMA,
			Summary: fmt.Sprintf("Order %s, %s of %s", t.Return.OrderNumber, returns.ResolutionWords(t.Return.Resolution), money.Format(t.Return.Total, t.Return.Currency))}
		if ev == returns.EventReject {
			e.Action, e.Summary = audit.ReturnRejected, e.Summary+". Reason: "+note
		}
		return audit.Record(ctx, t.Tx, t.Return.MerchantID, e)
	})
	var te *returns.TransitionError
	switch {
	case errors.Is(err, returns.ErrNotFound):
		return noSuchReturn
	case errors.As(err, &te):
		cur, gerr := s.returns.Get(ctx, rq.p.MerchantID, id)
		if gerr != nil {
			return gerr
		}
		return &pageError{Status: http.StatusConflict, Title: "Already decided",
			Message: fmt.Sprintf("Return %s no longer waits for review: it is %s. Someone may have decided it a moment ago.", cur.RMA, strings.ToLower(stateLabel(cur.State))),
			Link:    "/admin", LinkText: "Back to the review queue"}
	case err != nil:
		return err
	}
	done := "approved"
	if ev == returns.EventReject {
		done = "rejected"
	}
	return redirectTo("/admin?" + done + "=" + r.RMA)
}
