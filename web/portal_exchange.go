package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/roundtriphq/roundtrip/exchanges"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/returns"
)

// Exchanges in the portal: a line of a product in the shop's catalogue can be
// exchanged for another size or colour in stock, on the same items page as a
// refund (no extra screen); the review shows what the replacement costs against
// the returned item, and a dearer one is paid on Stripe's page from the status page.

// swapOffer is what one line can be exchanged for.
type swapOffer struct {
	Options []swapOption
	// Picked is the SKU the shopper chose, kept when the form comes back.
	Picked string
	// Field and None are the field's words: its label and the option of no exchange.
	Field, None string
}

// swapOption is one variant: offered when in stock, shown but not offered when not.
type swapOption struct {
	SKU      string
	Label    string // "L", "Black / L"
	Note     string // "same price", "2.00 EUR less", "5.00 EUR more", "out of stock"
	Disabled bool
}

// offers reports whether sku is one of the variants offered (in stock).
func (o *swapOffer) offers(sku string) bool {
	for _, op := range o.Options {
		if op.SKU == sku && !op.Disabled {
			return true
		}
	}
	return false
}

// addSwaps gives the eligible lines of products in the catalogue their exchange
// options, when the policy offers exchanges.
func (s *Server) addSwaps(ctx context.Context, merchantID int64, o returns.OrderRecord, pol returns.Policy, v *itemsView, l *Lang) error {
	if !pol.Allows(returns.ResolutionExchange) {
		return nil
	}
	products := map[string]returns.ProductRecord{}
	for i := range v.Lines {
		lv := &v.Lines[i]
		line, ok := o.Order.Line(lv.ID)
		if !ok || line.ProductID == "" || !lv.Eligible {
			continue
		}
		p, seen := products[line.ProductID]
		if !seen {
			var err error
			p, err = s.returns.Product(ctx, merchantID, line.ProductID)
			if err != nil && !errors.Is(err, returns.ErrNotFound) {
				return err
			}
			products[line.ProductID] = p
		}
		offer := &swapOffer{Field: l.T("ex-field"), None: l.T("ex-none")}
		cur := o.Order.Currency
		for _, vr := range p.Variants {
			price, priced := vr.Prices[cur]
			if vr.SKU == line.SKU || !priced {
				continue
			}
			op := swapOption{SKU: vr.SKU, Label: vr.Label()}
			// the line's own price with its tax, per unit, against the variant's
			paid := line.UnitPrice + line.Tax/int64(max(line.Quantity, 1))
			switch d := price - paid; {
			case vr.InStock < 1:
				op.Note, op.Disabled = l.T("ex-out"), true
			case d == 0:
				op.Note = l.T("ex-same")
			case d < 0:
				op.Note = l.T("ex-less", "Amount", l.Money(-d, cur))
			default:
				op.Note = l.T("ex-more", "Amount", l.Money(d, cur))
			}
			offer.Options = append(offer.Options, op)
		}
		if len(offer.Options) > 0 {
			lv.Swap = offer
		}
	}
	return nil
}

// readSwap reads a line's exchange choice: "" for none, else a variant in stock.
func readSwap(rq *request, lv *lineView, l *Lang) (string, string) {
	sku := strings.TrimSpace(rq.PostFormValue("exchange." + strconv.Itoa(lv.N)))
	if sku == "" || lv.Swap == nil {
		return "", ""
	}
	lv.Swap.Picked = sku
	if !lv.Swap.offers(sku) {
		return "", l.T("ex-gone")
	}
	return sku, ""
}

// exchangeReview is the review of an exchange: the quote, and how a cheaper
// replacement's difference comes back.
type exchangeReview struct {
	*reviewView
	Exchange  returns.ExchangeQuote
	Swaps     []returns.QuoteLine // the lines exchanged
	Refunded  []returns.QuoteLine // lines without a replacement
	CreditOK  bool
	AsCredit  bool
	PayOnline bool
}

// reviewExchange renders the quote of an exchange for the chosen items.
func (s *Server) reviewExchange(rq *request, o returns.OrderRecord, pol returns.Policy, chosen []choice, differenceAs, key string) error {
	items := make([]returns.QuoteItem, len(chosen))
	for i, c := range chosen {
		items[i] = returns.QuoteItem{LineID: c.LineID, Quantity: c.Qty, Reason: returns.ReasonCode(c.Reason), ExchangeSKU: c.ExchangeSKU}
	}
	if key == "" {
		key = newKey()
	}
	v := &exchangeReview{reviewView: &reviewView{FirstName: o.Order.Customer.FirstName, Choices: chosen, Currency: o.Order.Currency,
		Key: key, Manual: pol.ManualReview}, CreditOK: pol.Allows(returns.ResolutionStoreCredit)}
	as := returns.ResolutionRefund
	if differenceAs == string(returns.ResolutionStoreCredit) && v.CreditOK {
		as, v.AsCredit = returns.ResolutionStoreCredit, true
	}
	q, _, err := s.returns.QuoteAsked(rq.ctx(), rq.merchant.ID, o, returns.Ask{Items: items, Resolution: returns.ResolutionExchange, DifferenceAs: as})
	if err != nil {
		return err
	}
	v.Quote = q
	for _, l := range q.Lines {
		switch {
		case !l.Eligible:
			v.Ineligible = append(v.Ineligible, l)
		case l.Exchange != nil:
			v.Swaps = append(v.Swaps, l)
			v.Lines = append(v.Lines, l)
		default:
			v.Refunded = append(v.Refunded, l)
			v.Lines = append(v.Lines, l)
		}
	}
	for _, is := range q.Issues {
		v.Issues = append(v.Issues, is.Message)
	}
	if q.Exchange != nil {
		v.Exchange = *q.Exchange
		v.PayOnline = q.Exchange.AmountDue > 0
	}
	l := s.langOf(rq)
	v.When = exchangeWhen(l, pol.ExchangeRelease)
	return s.render(rq, http.StatusOK, "portal_exchange", l.T("ex-title"), v)
}

// exchangeWhen says when the replacement goes out.
func exchangeWhen(l *Lang, r returns.ExchangeRelease) string {
	switch r {
	case returns.ReleaseInstant:
		return l.T("ex-when-approved")
	case returns.ReleaseOnCarrierScan:
		return l.T("ex-when-scan")
	}
	return l.T("ex-when-received")
}

// exchangeCreateFailed turns a replacement that went out of stock meanwhile into
// the items page with the reason; ok is false for other errors.
func (s *Server) exchangeCreateFailed(rq *request, o returns.OrderRecord, err error) (bool, error) {
	var oos *returns.OutOfStockError
	if !errors.As(err, &oos) {
		return false, nil
	}
	v, _, err := s.itemsPage(rq, o)
	if err != nil {
		return true, err
	}
	l := s.langOf(rq)
	v.Errors = append(v.Errors, l.T("ex-taken", "Name", oos.Name))
	return true, s.render(rq, http.StatusConflict, "portal_items", l.T("it-title"), v)
}

// exchangeStatus is the exchange on the return's status page.
type exchangeStatus struct {
	*exchanges.Exchange
	Words     string
	PayURL    string
	Preparing bool
}

// creditStatus is the shopper's store credit on the status page.
type creditStatus struct {
	Credit refunds.Credit
	// Codes are the codes of credits never shown before, by credit ID: shown once.
	Codes map[string]string // by credit ID
}

// exchangeFor reads the return's exchange for its pages (nil: none).
func (s *Server) exchangeFor(rq *request, r *returns.Return) (*exchangeStatus, error) {
	if r.Resolution != returns.ResolutionExchange {
		return nil, nil
	}
	m := rq.merchant
	x, err := exchanges.ByReturn(rq.ctx(), s.db, m.ID, r.ID)
	if errors.Is(err, exchanges.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	xs := &exchangeStatus{Exchange: x, Preparing: rq.URL.Query().Has("preparing")}
	l := s.langOf(rq)
	switch x.Status {
	case exchanges.StatusAwaitingPayment:
		xs.Words = l.T("ex-pay-words", "Amount", l.Money(x.AmountDue, x.Currency))
		xs.PayURL = portalPath(m.Slug) + "/returns/" + r.RMA + "/pay"
	case exchanges.StatusReserved:
		xs.Words = l.T("ex-reserved")
	case exchanges.StatusReleased:
		xs.Words = l.T("ex-released")
	case exchanges.StatusShipped:
		xs.Words = l.T("ex-shipped")
	case exchanges.StatusCancelled:
		xs.Words = l.T("ex-cancelled")
	}
	return xs, nil
}

// creditFor reads the shopper's store credit for the status page, with the codes
// never shown before (each is shown once; nil: no credit).
func (s *Server) creditFor(rq *request, r *returns.Return) (*creditStatus, error) {
	ctx, m := rq.ctx(), rq.merchant
	c, err := refunds.StoreCredit(ctx, s.db, m.ID, r.CustomerEmail)
	if err != nil || len(c.Credits) == 0 {
		return nil, err
	}
	codes, err := refunds.RevealCodes(ctx, s.db, m.ID, r.CustomerEmail)
	if err != nil {
		return nil, err
	}
	slices.Reverse(c.Entries) // newest first
	return &creditStatus{Credit: c, Codes: codes}, nil
}

// exchangeEntry words an exchange's timeline entry for the shopper.
func exchangeEntry(l *Lang, event string) (string, bool) {
	switch event {
	case "exchange", "exchange_paid", "exchange_payment", "exchange_held", "exchange_released",
		"exchange_shipped", "exchange_cancelled", "exchange_unreturned":
		return l.T("tl-" + strings.ReplaceAll(event, "_", "-")), true
	}
	return "", false
}

// portalPay sends the shopper to the exchange's payment page, or asks for a new
// one when the last expired.
func (s *Server) portalPay(rq *request) error {
	r, err := s.shopperReturn(rq)
	if err != nil {
		return err
	}
	back := portalPath(rq.merchant.Slug) + "/returns/" + r.RMA
	x, err := exchanges.ByReturn(rq.ctx(), s.db, rq.merchant.ID, r.ID)
	if errors.Is(err, exchanges.ErrNotFound) {
		return redirectTo(back)
	}
	if err != nil {
		return err
	}
	switch {
	case x.Status != exchanges.StatusAwaitingPayment:
		return redirectTo(back)
	case x.CheckoutURL != "":
		return redirectTo(x.CheckoutURL)
	case x.SessionID == "" && s.cfg.Exchanges != nil:
		if _, err := s.cfg.Exchanges.NewCheckout(rq.ctx(), rq.merchant.ID, x.ID); err != nil {
			return err
		}
	}
	return redirectTo(back + "?preparing=1")
}
