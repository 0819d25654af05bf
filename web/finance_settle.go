package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
	"github.com/roundtriphq/roundtrip/returns"
)

// Finance's ways out of a failed refund (store credit, or paid back outside
// Roundtrip), a return as finance sees it, links to Stripe's dashboard, and the
// acknowledgement of a reconciliation's mismatch.

// stripeLink is the dashboard page of a Stripe object (re_… or pi_…), or "" when no
// dashboard is configured or the ID is not one.
func (s *Server) stripeLink(id *string) string {
	base := strings.TrimRight(s.cfg.StripeDashboard, "/")
	if base == "" || id == nil {
		return ""
	}
	switch {
	case strings.HasPrefix(*id, "re_"):
		return base + "/refunds/" + *id
	case strings.HasPrefix(*id, "pi_"), strings.HasPrefix(*id, "ch_"):
		return base + "/payments/" + *id
	}
	return ""
}

// refundView is a refund as finance's tables show it.
type refundView struct {
	refunds.Refund
	StripeURL  string // the refund in Stripe's dashboard
	PaymentURL string // the payment it refunds
}

func (s *Server) viewRefunds(list []refunds.Refund) []refundView {
	out := make([]refundView, len(list))
	for i, f := range list {
		pay := f.PaymentIntentID
		if pay == nil {
			pay = f.ChargeID
		}
		out[i] = refundView{Refund: f, StripeURL: s.stripeLink(f.StripeRefundID), PaymentURL: s.stripeLink(pay)}
	}
	return out
}

var noSuchRefund = &pageError{Status: http.StatusNotFound, Title: "No such refund", Message: "This shop has no refund with that ID.", Link: "/finance", LinkText: "Back to finance"}

// financeSettle settles a failed refund as store credit or as paid back outside
// Roundtrip, then goes back where the form was.
func (s *Server) financeSettle(rq *request) error {
	id := rq.PathValue("id")
	back := "/finance"
	if b := rq.PostFormValue("back"); strings.HasPrefix(b, "/finance/returns/") && !strings.ContainsAny(b, "?#\\") {
		back = b
	}
	as := refunds.SettleAs(rq.PostFormValue("as"))
	f, err := refunds.ByPublicID(rq.ctx(), s.db, rq.p.MerchantID, id)
	if err == nil {
		_, err = s.refunds.Settle(rq.ctx(), rq.p.MerchantID, f.ID, as, rq.PostFormValue("note"), rq.p.Actor)
	}
	var ve *validation.Error
	var ns *refunds.NotSettleableError
	switch {
	case errors.Is(err, refunds.ErrNotFound):
		return noSuchRefund
	case errors.As(err, &ve):
		var msgs []string
		for _, f := range ve.Fields {
			switch f.Path {
			case "note":
				msgs = append(msgs, "Say in the note how the money was paid back (a bank transfer and its reference, say).")
			case "as":
				msgs = append(msgs, "Choose store credit or refunded outside Roundtrip.")
			default:
				msgs = append(msgs, f.Message)
			}
		}
		return &pageError{Status: http.StatusUnprocessableEntity, Title: "Nothing was settled", Message: strings.Join(msgs, " "), Link: back, LinkText: "Back"}
	case errors.As(err, &ns):
		msg := fmt.Sprintf("Refund %s is %s: only failed refunds can be settled another way.", id, ns.Status)
		if ns.ClosedAs != "" {
			msg = fmt.Sprintf("Refund %s was already settled as %s. Someone may have done it a moment ago.", id, settleWords(string(ns.ClosedAs)))
		}
		return &pageError{Status: http.StatusConflict, Title: "Nothing to settle", Message: msg, Link: back, LinkText: "Back"}
	case err != nil:
		return err
	}
	return redirectTo(back + "?settled=" + url.QueryEscape(id) + "#failed")
}

// settleWords names a settlement for people.
func settleWords(as string) string {
	if as == string(refunds.SettleOutside) {
		return "refunded outside Roundtrip"
	}
	return "store credit"
}

// financeReturnView is a return as finance sees it.
type financeReturnView struct {
	Return   *returns.Return
	Refunds  []refundView
	Timeline []returns.TimelineEntry
	Flash    string
}

// financeReturn shows a return with its refunds (Stripe links, and the ways out of
// a failed one) and its timeline.
func (s *Server) financeReturn(rq *request) error {
	notFound := &pageError{Status: http.StatusNotFound, Title: "No such return", Message: "This shop has no return with that ID.", Link: "/finance", LinkText: "Back to finance"}
	ctx, mid := rq.ctx(), rq.p.MerchantID
	r, err := s.returns.ByPublicID(ctx, mid, rq.PathValue("id"))
	if errors.Is(err, returns.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	list, _, err := refunds.List(ctx, s.db, mid, refunds.ListFilter{ReturnID: r.PublicID, Limit: 100})
	if err != nil {
		return err
	}
	ev, err := s.returns.Events(ctx, mid, r.ID)
	if err != nil {
		return err
	}
	slices.Reverse(ev)
	v := &financeReturnView{Return: r, Refunds: s.viewRefunds(list), Timeline: ev}
	if q := rq.URL.Query(); q.Get("settled") != "" {
		v.Flash = "Refund " + q.Get("settled") + " is settled; the return moved on."
	} else if q.Get("retried") != "" {
		v.Flash = "Refund " + q.Get("retried") + " was queued again; it goes to Stripe in a moment."
	}
	return s.render(rq, http.StatusOK, "finance_return", "Return "+r.RMA, v)
}

// financeAcknowledge records why a reconciliation's mismatch needs nothing more.
func (s *Server) financeAcknowledge(rq *request) error {
	run, err := s.runID(rq)
	if err != nil {
		return err
	}
	back := "/finance/reconciliations/" + run.PublicID
	line := rq.PathValue("line")
	_, err = s.reconcile.Acknowledge(rq.ctx(), rq.p.MerchantID, run.ID, line, rq.PostFormValue("note"), rq.p.Actor)
	var ve *validation.Error
	var nm *reconcile.NotMismatchError
	switch {
	case errors.Is(err, reconcile.ErrLineNotFound):
		return &pageError{Status: http.StatusNotFound, Title: "No such line", Message: "This reconciliation has no such line.", Link: back, LinkText: "Back"}
	case errors.As(err, &ve):
		return &pageError{Status: http.StatusUnprocessableEntity, Title: "Nothing was acknowledged",
			Message: "Write in the note why the mismatch needs nothing more (1000 characters at most).", Link: back + "#line-" + line, LinkText: "Back"}
	case errors.As(err, &nm):
		return &pageError{Status: http.StatusConflict, Title: "Nothing to acknowledge", Message: "This line matched Stripe.", Link: back, LinkText: "Back"}
	case err != nil:
		return err
	}
	return redirectTo(back + "?acknowledged=" + url.QueryEscape(line) + "#line-" + url.QueryEscape(line))
}
