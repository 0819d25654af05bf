package web

import (
	"net/http"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/returns"
)

// The policy page (/portal/{shop}/policy): the shop's return policy in plain words,
// written from the policy version the quote engine applies, so that the page cannot
// promise what the portal refuses. Every sentence comes from one of the policy's
// fields; every example amount is computed with the money functions the quote uses.

// policySection is one part of the policy page. Its ID anchors the part (#fees).
type policySection struct {
	ID, Title string
	Lead      string
	Items     []string
	After     []string
}

type faqEntry struct{ ID, Q, A string }

type policyPageView struct {
	Shop      string
	Version   int
	Currency  string
	Support   string
	Sections  []policySection
	FAQ       []faqEntry
	SignedIn  bool
	langField // set by render
}

// exampleAmount is the round amount the page's examples use: 50 units of the
// currency (€50.00, ¥50 would be too small: 5,000 for currencies without decimals).
func exampleAmount(currency string) int64 {
	exp, ok := money.Exponent(currency)
	if !ok {
		exp = 2
	}
	if exp == 0 {
		return 5000
	}
	a := int64(50)
	for range exp {
		a *= 10
	}
	return a
}

// ruleKey names the message variant of a rule's match: category, sku or tag.
func ruleKey(m returns.Match) (kind, name string) {
	switch {
	case m.Category != "":
		return "category", m.Category
	case m.SKU != "":
		return "sku", m.SKU
	}
	return "tag", m.Tag
}

// whenSentKey is the message that says what sends the refund.
func whenSentKey(t returns.RefundTrigger) string {
	switch t {
	case returns.TriggerOnInspection:
		return "pp-when-inspection"
	case returns.TriggerOnCarrierScan:
		return "pp-when-scan"
	}
	return "pp-when-receipt"
}

// describePolicyPage writes the policy in l for an order in currency.
func describePolicyPage(pol returns.Policy, currency, support string, l *Lang) ([]policySection, []faqEntry) {
	m := func(x int64) string { return l.Money(x, currency) }
	ex := exampleAmount(currency)
	if support == "" {
		support = l.T("pp-the-shop")
	}
	var out []policySection

	// how long
	win := policySection{ID: "window", Title: l.T("pp-window-h"),
		Lead: l.T("pp-window", "Count", pol.WindowDays, "Days", pol.WindowDays)}
	win.After = append(win.After, l.T("pp-window-from"))
	for _, r := range pol.Rules {
		if r.NotReturnable || r.WindowDays == nil {
			continue
		}
		kind, name := ruleKey(r.Match)
		win.Items = append(win.Items, l.T("pp-rule-window-"+kind, "Name", name, "Count", *r.WindowDays, "Days", *r.WindowDays))
	}
	if len(win.Items) > 0 {
		win.After = append([]string{l.T("pp-window-rules-note")}, win.After...)
	}
	out = append(out, win)

	// what cannot go back
	ex1 := policySection{ID: "not-returnable", Title: l.T("pp-excluded-h"), Lead: l.T("pp-excluded-lead")}
	ex1.Items = append(ex1.Items, l.T("pp-final-sale"))
	for _, r := range pol.Rules {
		if r.NotReturnable {
			kind, name := ruleKey(r.Match)
			ex1.Items = append(ex1.Items, l.T("pp-excl-"+kind, "Name", name))
		}
	}
	ex1.After = append(ex1.After, l.T("pp-excl-portal"))
	out = append(out, ex1)

	// return shipping
	ship := policySection{ID: "shipping", Title: l.T("pp-shipping-h")}
	if fee := pol.LabelFee(currency); fee > 0 {
		ship.Lead = l.T("pp-ship-flat", "Fee", m(fee), "Example", m(ex), "Back", m(ex-min(fee, ex)))
	} else {
		ship.Lead = l.T("pp-ship-free")
	}
	out = append(out, ship)

	// restocking fees
	fees := policySection{ID: "fees", Title: l.T("pp-fees-h")}
	for _, r := range pol.Rules {
		if r.NotReturnable || r.RestockingFeeBps == 0 {
			continue
		}
		kind, name := ruleKey(r.Match)
		fee := money.BasisPoints(ex, int64(r.RestockingFeeBps))
		fees.Items = append(fees.Items, l.T("pp-fee-"+kind, "Name", name, "Rate", l.Percent(r.RestockingFeeBps),
			"Example", m(ex), "Fee", m(fee), "Back", m(ex-fee)))
	}
	if len(fees.Items) == 0 {
		fees.Lead = l.T("pp-fees-none")
	} else {
		fees.Lead = l.T("pp-fees-lead")
	}
	out = append(out, fees)

	// the shop's fault
	out = append(out, policySection{ID: "merchant-fault", Title: l.T("pp-fault-h"), Lead: l.T("pp-fault"),
		After: []string{l.T("pp-fault-photos")}})

	// what you get back
	res := policySection{ID: "resolutions", Title: l.T("pp-res-h"), Lead: l.T("pp-res-lead")}
	if pol.Allows(returns.ResolutionRefund) {
		res.Items = append(res.Items, l.T("pp-res-refund"))
	}
	if pol.Allows(returns.ResolutionStoreCredit) {
		if pol.StoreCreditBonusBps > 0 {
			res.Items = append(res.Items, l.T("pp-res-credit-bonus", "Rate", l.Percent(pol.StoreCreditBonusBps),
				"Example", m(ex), "Credit", m(ex+money.BasisPoints(ex, int64(pol.StoreCreditBonusBps)))))
		} else {
			res.Items = append(res.Items, l.T("pp-res-credit"))
		}
	}
	if pol.Allows(returns.ResolutionExchange) {
		res.Items = append(res.Items, l.T("pp-res-exchange", "Support", support))
	} else {
		res.After = append(res.After, l.T("pp-res-no-exchange"))
	}
	res.After = append(res.After, l.T("pp-res-amount"))
	out = append(out, res)

	// keep it
	if t, ok := pol.KeepItThreshold[currency]; ok && t > 0 {
		out = append(out, policySection{ID: "keep-it", Title: l.T("pp-keepit-h"), Lead: l.T("pp-keepit", "Amount", m(t))})
	}

	// approval and the label
	ap := policySection{ID: "approval", Title: l.T("pp-review-h")}
	if pol.ManualReview {
		ap.Lead = l.T("pp-review-manual")
	} else {
		ap.Lead = l.T("pp-review-auto")
	}
	ap.After = append(ap.After, l.T("pp-label-valid", "Count", pol.LabelValidityDays, "Days", pol.LabelValidityDays))
	if sr := pol.SerialReturner; sr.Enabled {
		ap.After = append(ap.After, l.T("pp-serial", "Max", sr.MaxReturns, "Count", sr.PeriodDays, "Days", sr.PeriodDays))
	}
	out = append(out, ap)

	// when the money comes
	when := l.T(whenSentKey(pol.RefundTrigger))
	out = append(out, policySection{ID: "refund-timing", Title: l.T("pp-when-h"), Lead: when,
		After: []string{l.T("pp-when-bank"), l.T("pp-when-credit")}})

	faq := []faqEntry{
		{ID: "faq-printer", Q: l.T("faq-printer-q"), A: l.T("faq-printer-a")},
		{ID: "faq-lost-label", Q: l.T("faq-lost-q"), A: l.T("faq-lost-a", "Days", pol.LabelValidityDays, "Count", pol.LabelValidityDays)},
		{ID: "faq-damaged", Q: l.T("faq-damaged-q"), A: l.T("faq-damaged-a")},
		{ID: "faq-how-long", Q: l.T("faq-howlong-q"), A: when + " " + l.T("pp-when-bank")},
		{ID: "faq-refund-failed", Q: l.T("faq-failed-q"), A: l.T("faq-failed-a")},
		{ID: "faq-contact", Q: l.T("faq-contact-q"), A: l.T("faq-contact-a", "Support", support)},
	}
	return out, faq
}

// shopCurrency is the currency the policy page's amounts are in: the signed-in
// shopper's order's, else that of the shop's latest order, else the first the policy
// names a fee in, else EUR.
func (s *Server) shopCurrency(rq *request, pol returns.Policy) (string, error) {
	ctx, m := rq.ctx(), rq.merchant
	if rq.p.OrderID != 0 {
		o, err := s.shopperOrder(rq)
		if err == nil {
			return o.Order.Currency, nil
		}
	}
	recent, err := s.returns.RecentOrders(ctx, m.ID, 1)
	if err != nil {
		return "", err
	}
	if len(recent) > 0 {
		return recent[0].Order.Currency, nil
	}
	for c := range pol.ReturnShipping.LabelFees {
		return c, nil
	}
	return "EUR", nil
}

// portalPolicy shows the policy page, to anyone: a shopper reads it before finding
// their order.
func (s *Server) portalPolicy(rq *request) error {
	s.optionalShopper(rq)
	pol, err := s.returns.Policy(rq.ctx(), rq.merchant.ID)
	if err != nil {
		return err
	}
	cur, err := s.shopCurrency(rq, pol)
	if err != nil {
		return err
	}
	l := s.langOf(rq)
	v := &policyPageView{Shop: rq.merchant.Name, Version: pol.Version, Currency: cur, Support: rq.merchant.Settings.SupportEmail,
		SignedIn: rq.signedIn()}
	v.Sections, v.FAQ = describePolicyPage(pol, cur, v.Support, l)
	return s.render(rq, http.StatusOK, "portal_policy", l.T("pp-title"), v)
}
