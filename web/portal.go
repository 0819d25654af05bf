package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roundtriphq/roundtrip/internal/ratelimit"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/returns"
)

// The shopper's portal: find the order, choose items, see the exact quote,
// confirm, print the label, follow the return.

// ---- finding the order

type lookupForm struct {
	Next        string
	OrderNumber string
	Email       string
	Error       string
	Notice      string
}

func (s *Server) renderLookup(rq *request, status int, f lookupForm) error {
	return s.render(rq, status, "portal_lookup", s.langOf(rq).T("lk-title"), f)
}

// safeNext keeps a post-look-up destination only when it is a page of this
// merchant's portal.
func safeNext(next, slug string) string {
	base := portalPath(slug)
	u, err := url.Parse(next)
	if next == "" || err != nil || u.Scheme != "" || u.Host != "" || strings.Contains(next, "//") || strings.Contains(next, `\`) {
		return ""
	}
	// decoded and cleaned before the check: /portal/x/../../%2f%2fevil.example is not
	// a page of the portal
	p := path.Clean(u.Path)
	if !strings.HasPrefix(p, base+"/") {
		return ""
	}
	return (&url.URL{Path: p}).EscapedPath()
}

// portalLookup opens a shopper session from an order number and email, counted
// in the same rate-limit buckets as POST /v1/portal/sessions.
func (s *Server) portalLookup(rq *request) error {
	ctx, m := rq.ctx(), rq.merchant
	f := lookupForm{
		Next:        safeNext(rq.PostFormValue("next"), m.Slug),
		OrderNumber: strings.TrimSpace(rq.PostFormValue("order_number")),
		Email:       strings.TrimSpace(rq.PostFormValue("email")),
	}
	l := s.langOf(rq)
	if f.OrderNumber == "" || f.Email == "" {
		f.Error = l.T("lk-err-both")
		return s.renderLookup(rq, http.StatusUnprocessableEntity, f)
	}
	notFound := l.T("lk-err-notfound")
	if len(f.OrderNumber) > 100 || len(f.Email) > 254 {
		f.Error = notFound
		return s.renderLookup(rq, http.StatusNotFound, f)
	}
	now := s.now()
	client := reqid.ClientIP(ctx)
	attempts := returns.OrderAttemptBucket(client, m.Slug, f.OrderNumber)
	tooMany := func(wait time.Duration) error {
		secs := ratelimit.Seconds(wait)
		rq.w.Header().Set("Retry-After", strconv.Itoa(secs))
		f.Error = l.T("lk-err-wait", "Count", secs, "Seconds", secs)
		return s.renderLookup(rq, http.StatusTooManyRequests, f)
	}
	// the client's attempts and the order's are counted by the look-up's statement
	o, wait, err := s.returns.FindOrderCounted(ctx, m.ID, f.OrderNumber, f.Email, s.orderLimit, attempts,
		ratelimit.Hit{Limiter: s.clientLimit, Bucket: "session:ip:" + client}, now)
	if err == nil && wait > 0 {
		return tooMany(wait)
	}
	if errors.Is(err, returns.ErrNotFound) {
		f.Error = notFound
		return s.renderLookup(rq, http.StatusNotFound, f)
	}
	if err != nil {
		return err
	}
	token, exp, err := s.shoppers.Issue(ctx, m.ID, o.ID, now)
	if err != nil {
		return err
	}
	http.SetCookie(rq.w, s.cookie(rq.Request, portalCookie, token, portalPath(m.Slug), exp))
	if f.Next != "" {
		return redirectTo(f.Next)
	}
	return redirectTo(portalPath(m.Slug))
}

func (s *Server) portalSignOut(rq *request) error {
	http.SetCookie(rq.w, s.cookie(rq.Request, portalCookie, "", portalPath(rq.merchant.Slug), time.Time{}))
	return redirectTo(portalPath(rq.merchant.Slug))
}

// ---- choosing items

type itemsView struct {
	FirstName   string
	OrderNumber string
	PlacedAt    time.Time
	Lines       []lineView
	Reasons     []returns.Reason
	Returns     []*returns.Return
	Policy      policyView
	Errors      []string
	AnyEligible bool
	Key         string // the idempotency key of the return, which also groups its photos
	langField
}

type lineView struct {
	N          int
	ID         string
	Name       string
	SKU        string
	ImageURL   string
	UnitPrice  string
	Ordered    int
	Returnable int
	Eligible   bool
	Message    string
	Until      *time.Time
	Fee        string // the restocking fee, "10%", or ""
	// the shopper's choice, kept when the form comes back with an error
	Qty     int
	Reason  string
	Comment string
	Err     string
	Photos  int // photos already uploaded for the line
	// Swap is what the line can be exchanged for (portal_exchange.go); nil: nothing.
	Swap *swapOffer
}

type policyView struct {
	WindowDays   int
	FreeLabel    bool
	LabelFee     string
	CreditBonus  string // "10 %", or "" without a bonus
	Offers       []returns.Resolution
	ManualReview bool
}

// shopperOrder reads the session's order.
func (s *Server) shopperOrder(rq *request) (returns.OrderRecord, error) {
	return s.returns.OrderByID(rq.ctx(), rq.merchant.ID, rq.p.OrderID)
}

// offers are the resolutions the portal can create: the policy's, less exchange,
// which the returns API does not create yet.
func offers(pol returns.Policy) []returns.Resolution {
	var out []returns.Resolution
	for _, r := range []returns.Resolution{returns.ResolutionRefund, returns.ResolutionStoreCredit} {
		if pol.Allows(r) {
			out = append(out, r)
		}
	}
	return out
}

func describePolicy(pol returns.Policy, currency string, l *Lang) policyView {
	v := policyView{WindowDays: pol.WindowDays, Offers: offers(pol), ManualReview: pol.ManualReview}
	fee := pol.LabelFee(currency)
	v.FreeLabel = fee == 0
	if fee > 0 {
		v.LabelFee = l.Money(fee, currency)
	}
	if pol.StoreCreditBonusBps > 0 {
		v.CreditBonus = l.Percent(pol.StoreCreditBonusBps)
	}
	return v
}

// lineMessage says, in l, why a quoted line cannot be returned.
func lineMessage(l *Lang, ql returns.QuoteLine) string {
	switch ql.Code {
	case returns.IneligibleFinalSale:
		return l.T("q-final-sale")
	case returns.IneligibleNotReturnable:
		return l.T("q-not-returnable")
	case returns.IneligibleOutsideWindow:
		if ql.LastEligibleAt != nil {
			return l.T("q-window-ended", "Date", l.Date(*ql.LastEligibleAt))
		}
	case returns.IneligibleQuantityExceeded:
		if ql.Returnable == 0 {
			return l.T("q-none-left")
		}
		return l.T("q-only-left", "Count", ql.Returnable)
	}
	return l.T("q-cannot")
}

// issueMessage says, in l, why a quote as a whole cannot be returned.
func issueMessage(l *Lang, is returns.QuoteIssue) string {
	switch is.Code {
	case returns.IneligibleNothingBack:
		return l.T("q-nothing-back")
	case returns.IneligibleResolutionNotAllowed:
		return l.T("q-resolution")
	}
	return l.T("err-choose-one")
}

// percent words basis points: 1000 is 10%, 1250 is 12.5%.
func percent(bps int) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%d.%02d", bps/100, bps%100), "0"), ".") + "%"
}

// itemsPage builds the items form for the order: every line with what can still
// be returned of it, or why it cannot. One quote of a unit of every line tells
// both, and brings the merchant's current policy.
func (s *Server) itemsPage(rq *request, o returns.OrderRecord) (*itemsView, returns.Policy, error) {
	ctx, m := rq.ctx(), rq.merchant
	probe := make([]returns.QuoteItem, len(o.Order.Lines))
	for i, l := range o.Order.Lines {
		probe[i] = returns.QuoteItem{LineID: l.ID, Quantity: 1, Reason: returns.ReasonOther}
	}
	q, pol, err := s.returns.QuoteFor(ctx, m.ID, o, probe, returns.ResolutionRefund)
	if err != nil {
		return nil, pol, err
	}
	lang := s.langOf(rq)
	v := &itemsView{FirstName: o.Order.Customer.FirstName, OrderNumber: o.Number, PlacedAt: o.Order.PlacedAt,
		Reasons: returns.Reasons(), Policy: describePolicy(pol, o.Order.Currency, lang), Key: newKey()}
	if k := rq.PostFormValue("key"); keyRE.MatchString(k) {
		v.Key = k
	}
	for i, l := range o.Order.Lines {
		ql := q.Lines[i]
		lv := lineView{N: i, ID: l.ID, Name: l.Name, SKU: l.SKU, ImageURL: l.ImageURL, UnitPrice: lang.Money(l.UnitPrice, o.Order.Currency),
			Ordered: l.Quantity, Returnable: ql.Returnable, Eligible: ql.Eligible, Until: ql.LastEligibleAt}
		if !lv.Eligible {
			lv.Message = lineMessage(lang, ql)
		}
		if ql.RestockingBps > 0 {
			lv.Fee = lang.Percent(ql.RestockingBps)
		}
		v.AnyEligible = v.AnyEligible || lv.Eligible
		v.Lines = append(v.Lines, lv)
	}
	list, _, err := s.returns.List(ctx, m.ID, returns.Filter{OrderID: o.ID, Limit: 20})
	if err != nil {
		return nil, pol, err
	}
	v.Returns = list
	if err := s.addSwaps(ctx, m.ID, o, pol, v, lang); err != nil {
		return nil, pol, err
	}
	return v, pol, nil
}

func (s *Server) portalHome(rq *request) error {
	o, err := s.shopperOrder(rq)
	if err != nil {
		return err
	}
	v, _, err := s.itemsPage(rq, o)
	if err != nil {
		return err
	}
	return s.render(rq, http.StatusOK, "portal_items", s.langOf(rq).T("it-title"), v)
}

// choice is one line the shopper chose, as the forms carry it.
type choice struct {
	N       int
	LineID  string
	Qty     int
	Reason  string
	Comment string
	// ExchangeSKU is the variant wanted instead, when the shopper chose an exchange.
	ExchangeSKU string
}

const maxComment = 1000

// readChoices reads the items form against the order's lines; it returns the
// chosen lines and puts the field errors on v's lines.
func readChoices(rq *request, v *itemsView, l *Lang) []choice {
	var out []choice
	for i := range v.Lines {
		lv := &v.Lines[i]
		n := strconv.Itoa(lv.N)
		if rq.PostFormValue("line."+n) != lv.ID {
			v.Errors = append(v.Errors, l.T("err-order-changed"))
			return nil
		}
		lv.Reason = rq.PostFormValue("reason." + n)
		lv.Comment = strings.TrimSpace(rq.PostFormValue("comment." + n))
		qty, err := strconv.Atoi(strings.TrimSpace(rq.PostFormValue("qty." + n)))
		if rq.PostFormValue("qty."+n) == "" {
			qty, err = 0, nil
		}
		switch {
		case err != nil || qty < 0:
			lv.Err = l.T("err-qty")
		case qty == 0:
		case !lv.Eligible:
			lv.Err = lv.Message
		case qty > lv.Returnable:
			lv.Err = l.T("err-at-most", "Count", lv.Returnable)
		case lv.Reason == "":
			lv.Err = l.T("err-reason")
		case utf8.RuneCountInString(lv.Comment) > maxComment:
			lv.Err = l.T("err-comment", "Count", maxComment)
		default:
			if _, ok := returns.LookupReason(returns.ReasonCode(lv.Reason)); !ok {
				lv.Err = l.T("err-reason-list")
				break
			}
			sku, msg := readSwap(rq, lv, l)
			if msg != "" {
				lv.Err = msg
				break
			}
			out = append(out, choice{N: lv.N, LineID: lv.ID, Qty: qty, Reason: lv.Reason, Comment: lv.Comment, ExchangeSKU: sku})
		}
		lv.Qty = max(qty, 0)
		if lv.Err != "" {
			v.Errors = append(v.Errors, lv.Name+": "+lv.Err)
		}
	}
	if len(v.Errors) == 0 && len(out) == 0 {
		v.Errors = append(v.Errors, l.T("err-choose-one"))
	}
	return out
}

type reviewView struct {
	FirstName  string
	Choices    []choice
	Lines      []returns.QuoteLine
	Ineligible []returns.QuoteLine
	Currency   string
	Quote      returns.QuoteResult
	CapMessage string
	Options    []resolutionOption
	Key        string
	Issues     []string
	Expected   string // when the money is expected
	When       string
	Manual     bool
	Photos     int    // photos uploaded with the return so far
	Hint       string // the live quote's word while nothing is chosen
	KeepStep   bool   // the live quote cannot confirm: the quote step stays
	langField
}

type resolutionOption struct {
	Value   returns.Resolution
	Label   string
	Help    string
	Total   int64
	Bonus   int64
	Checked bool
}

// portalQuote checks the chosen items and shows the exact quote of each
// resolution the shop offers, ready to confirm: as its own page (the step without
// JavaScript), or, with live=1, as the items page's live quote.
func (s *Server) portalQuote(rq *request) error {
	o, err := s.shopperOrder(rq)
	if err != nil {
		return err
	}
	v, pol, err := s.itemsPage(rq, o)
	if err != nil {
		return err
	}
	l := s.langOf(rq)
	chosen := readChoices(rq, v, l)
	if rq.PostFormValue("live") != "" {
		if len(v.Errors) > 0 {
			hint := l.T("live-hint")
			if len(chosen) > 0 || anyQty(v) {
				hint = strings.Join(v.Errors, " ")
			}
			return s.render(rq, http.StatusOK, "portal_live", l.T("rv-title"), &reviewView{Hint: hint})
		}
		for _, c := range chosen {
			if c.ExchangeSKU != "" { // an exchange is reviewed on its own page
				return s.render(rq, http.StatusOK, "portal_live", l.T("rv-title"), &reviewView{Hint: l.T("live-exchange"), KeepStep: true})
			}
		}
		return s.review(rq, o, pol, chosen, rq.PostFormValue("resolution"), v.Key, "portal_live")
	}
	if len(v.Errors) == 0 {
		if err := s.keepPhotos(rq, o, v, chosen); err != nil {
			return err
		}
	}
	if len(v.Errors) > 0 {
		return s.render(rq, http.StatusUnprocessableEntity, "portal_items", l.T("it-title"), v)
	}
	return s.review(rq, o, pol, chosen, rq.PostFormValue("resolution"), v.Key, "portal_review")
}

// anyQty reports whether the shopper set a quantity on any line.
func anyQty(v *itemsView) bool {
	for _, lv := range v.Lines {
		if lv.Qty > 0 {
			return true
		}
	}
	return false
}

// review renders the quote of the chosen items, as page (portal_review or
// portal_live).
func (s *Server) review(rq *request, o returns.OrderRecord, pol returns.Policy, chosen []choice, picked, key, page string) error {
	ctx := rq.ctx()
	l := s.langOf(rq)
	items := make([]returns.QuoteItem, len(chosen))
	for i, c := range chosen {
		items[i] = returns.QuoteItem{LineID: c.LineID, Quantity: c.Qty, Reason: returns.ReasonCode(c.Reason)}
		if c.ExchangeSKU != "" {
			return s.reviewExchange(rq, o, pol, chosen, rq.PostFormValue("difference_as"), key)
		}
	}
	offered := offers(pol)
	if len(offered) == 0 {
		return &pageError{Status: http.StatusConflict, Title: l.T("err-exchange-only-h"), Message: l.T("err-exchange-only"),
			Link: portalPath(rq.merchant.Slug), LinkText: l.T("err-choose-again")}
	}
	if key == "" {
		key = newKey()
	}
	v := &reviewView{FirstName: o.Order.Customer.FirstName, Choices: chosen, Currency: o.Order.Currency, Key: key, Manual: pol.ManualReview}
	if !slices.Contains(offered, returns.Resolution(picked)) {
		picked = string(offered[0])
	}
	photos, err := s.returns.PendingPhotos(ctx, rq.merchant.ID, o.ID, key)
	if err != nil {
		return err
	}
	v.Photos = len(photos)
	for i, res := range offered {
		q, _, err := s.returns.QuoteFor(ctx, rq.merchant.ID, o, items, res)
		if err != nil {
			return err
		}
		if i == 0 {
			v.Quote = q
			for _, ql := range q.Lines {
				if ql.Eligible {
					v.Lines = append(v.Lines, ql)
				} else {
					ql.Message = lineMessage(l, ql)
					v.Ineligible = append(v.Ineligible, ql)
				}
			}
			for _, is := range q.Issues {
				v.Issues = append(v.Issues, issueMessage(l, is))
			}
			if q.Capped {
				v.CapMessage = l.T("q-capped", "Amount", l.Money(q.PaymentAmount, q.Currency))
			}
		}
		opt := resolutionOption{Value: res, Total: q.Total, Bonus: q.StoreCreditBonus, Checked: string(res) == picked}
		switch res {
		case returns.ResolutionRefund:
			opt.Label, opt.Help = l.T("rv-refund"), l.T("rv-refund-help")
		case returns.ResolutionStoreCredit:
			opt.Label, opt.Help = l.T("rv-credit"), l.T("rv-credit-help", "Email", o.Order.Customer.Email)
			if q.StoreCreditBonus > 0 {
				opt.Help = l.T("rv-credit-bonus-help", "Bonus", l.Money(q.StoreCreditBonus, q.Currency), "Email", o.Order.Customer.Email)
			}
		}
		v.Options = append(v.Options, opt)
	}
	v.Expected = expectation(l, s.now(), pol, v.Quote.KeepIt)
	return s.render(rq, http.StatusOK, page, l.T("rv-title"), v)
}

// whenPaid says what sends the refund.
func whenPaid(l *Lang, t returns.RefundTrigger) string { return l.T(whenSentKey(t)) }

var keyRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// newKey makes the idempotency key a confirmation form carries.
func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// portalCreate creates the return the shopper confirmed: from the quote page (its
// hidden fields), or straight from the items page with its live quote (from=items),
// with the photos of either. The page's idempotency key makes a second click, a
// retry or a reload find the same return.
func (s *Server) portalCreate(rq *request) error {
	ctx, m := rq.ctx(), rq.merchant
	l := s.langOf(rq)
	o, err := s.shopperOrder(rq)
	if err != nil {
		return err
	}
	pol, err := s.returns.Policy(ctx, m.ID)
	if err != nil {
		return err
	}
	key := rq.PostFormValue("key")
	if !keyRE.MatchString(key) {
		return &pageError{Status: http.StatusBadRequest, Title: l.T("err-again-h"),
			Message: l.T("err-incomplete"), Link: portalPath(m.Slug), LinkText: l.T("err-choose-again")}
	}
	res := returns.Resolution(rq.PostFormValue("resolution"))
	var chosen []choice
	if rq.PostFormValue("from") == "items" {
		v, _, err := s.itemsPage(rq, o)
		if err != nil {
			return err
		}
		chosen = readChoices(rq, v, l)
		if len(v.Errors) == 0 {
			if err := s.keepPhotos(rq, o, v, chosen); err != nil {
				return err
			}
		}
		if len(v.Errors) > 0 {
			return s.render(rq, http.StatusUnprocessableEntity, "portal_items", l.T("it-title"), v)
		}
		for _, c := range chosen {
			if c.ExchangeSKU != "" { // an exchange is reviewed on its own page
				return s.review(rq, o, pol, chosen, "", key, "portal_review")
			}
		}
	} else {
		n, _ := strconv.Atoi(rq.PostFormValue("n"))
		for i := range min(max(n, 0), returns.MaxOrderLines) {
			p := strconv.Itoa(i)
			qty, _ := strconv.Atoi(rq.PostFormValue("qty." + p))
			c := choice{N: i, LineID: rq.PostFormValue("line." + p), Qty: qty, Reason: rq.PostFormValue("reason." + p),
				Comment: strings.TrimSpace(rq.PostFormValue("comment." + p))}
			if res == returns.ResolutionExchange {
				c.ExchangeSKU = rq.PostFormValue("exchange." + p)
			}
			if utf8.RuneCountInString(c.Comment) > maxComment {
				c.Comment = string([]rune(c.Comment)[:maxComment])
			}
			chosen = append(chosen, c)
		}
	}
	in := returns.CreateInput{Resolution: res, Actor: "shopper", IdempotencyKey: fmt.Sprintf("portal:%d:%s", o.ID, key), PhotoKey: key}
	if res == returns.ResolutionExchange && rq.PostFormValue("difference_as") == string(returns.ResolutionStoreCredit) {
		in.DifferenceAs = returns.ResolutionStoreCredit
	}
	for _, c := range chosen {
		in.Items = append(in.Items, returns.CreateItem{QuoteItem: returns.QuoteItem{LineID: c.LineID, Quantity: c.Qty,
			Reason: returns.ReasonCode(c.Reason), ExchangeSKU: c.ExchangeSKU}, Comment: c.Comment})
	}
	if !slices.Contains(offers(pol), res) && !(res == returns.ResolutionExchange && pol.Allows(res)) {
		return s.review(rq, o, pol, chosen, "", key, "portal_review")
	}
	qi := returns.QuoteInput{Resolution: res, DifferenceAs: in.DifferenceAs}
	for _, it := range in.Items {
		qi.Items = append(qi.Items, it.QuoteItem)
	}
	if err := qi.Validate(); err != nil {
		return &pageError{Status: http.StatusUnprocessableEntity, Title: l.T("err-again-h"),
			Message: l.T("err-invalid"), Link: portalPath(m.Slug), LinkText: l.T("err-choose-again")}
	}
	r, err := s.returns.Create(ctx, m.ID, o.Number, in)
	var ne *returns.NotEligibleError
	switch {
	case errors.As(err, &ne):
		v, _, err := s.itemsPage(rq, o)
		if err != nil {
			return err
		}
		v.Errors = append(v.Errors, l.T("err-changed"))
		for _, is := range ne.Quote.Issues {
			v.Errors = append(v.Errors, issueMessage(l, is))
		}
		for _, ql := range ne.Quote.Lines {
			if !ql.Eligible {
				v.Errors = append(v.Errors, ql.Name+": "+lineMessage(l, ql))
			}
		}
		return s.render(rq, http.StatusConflict, "portal_items", l.T("it-title"), v)
	case err != nil:
		if handled, err := s.exchangeCreateFailed(rq, o, err); handled {
			return err
		}
		return err
	}
	if r.OrderID != o.ID {
		return fmt.Errorf("web: idempotency key of order %d answered a return of order %d", o.ID, r.OrderID)
	}
	return redirectTo(portalPath(m.Slug) + "/returns/" + r.RMA + "/confirmation")
}

// ---- the return: confirmation, status, label, cancel

// shopperReturn finds the return of the path for the signed-in shopper. A return
// of another order, or none, asks for that order (without saying which it is).
func (s *Server) shopperReturn(rq *request) (*returns.Return, error) {
	rma, ok := returns.ParseRMA(rq.PathValue("rma"))
	var r *returns.Return
	var err error
	if ok {
		r, err = s.returns.ByRMA(rq.ctx(), rq.merchant.ID, rma)
	}
	if !ok || errors.Is(err, returns.ErrNotFound) || (err == nil && r.OrderID != rq.p.OrderID) {
		return nil, &needLookup{next: rq.URL.Path, notice: s.langOf(rq).T("lk-notice-return")}
	}
	return r, err
}

type step struct {
	Label         string
	Done, Current bool
}

type timelineEntry struct {
	At    time.Time
	Title string
	Note  string
	Actor string
}

type labelLink struct {
	Parcel     int
	Tracking   string
	ValidUntil time.Time
	Page       string // A4 or letter page, for home printers
	Thermal    string // 4x6, for label printers
	ZPL        string // ZPL, for Zebra printers
	PageName   string
	Carrier    string // who carries it, when the label was bought from a carrier
	Service    string
	QR         string // the drop-off QR code (PNG)
	CarrierQR  bool   // the QR code is the carrier's own, shown at its counters
	DropOff    string // the carrier's drop-off locator
	Tracker    string // the carrier's tracking page
}

type statusView struct {
	R          *returns.Return
	FirstName  string
	Steps      []step
	Ended      string
	Timeline   []timelineEntry
	Labels     []labelLink
	Preparing  []int // parcels whose label is being bought from the carrier
	Refunds    []refunds.Refund
	Credit     int64 // store credit issued for the return
	CanCancel  bool
	When       string
	StatusURL  string
	QR         template.HTML
	NoAddress  bool
	Cancelled  bool
	Resolution string
	Slug       string
	langField
	// FeedbackURL asks how the return went, once it is completed.
	FeedbackURL string
	// Linked: opened from the link in an email, which shows this return only.
	Linked bool
	// Exchange is the return's exchange, and StoreCredit the shopper's credit
	// (portal_exchange.go); nil: none.
	Exchange    *exchangeStatus
	StoreCredit *creditStatus
}

func (s *Server) statusData(rq *request, r *returns.Return) (*statusView, error) {
	ctx, m := rq.ctx(), rq.merchant
	o, err := s.returns.OrderByID(ctx, m.ID, r.OrderID)
	if err != nil {
		return nil, err
	}
	pol, err := s.returns.PolicyAt(ctx, m.ID, r.PolicyVersion)
	if err != nil {
		return nil, err
	}
	l := s.langOf(rq)
	v := &statusView{R: r, FirstName: o.Order.Customer.FirstName, When: whenPaid(l, pol.RefundTrigger), Slug: m.Slug,
		StatusURL: s.origin(rq.Request) + portalPath(m.Slug) + "/returns/" + r.RMA, Cancelled: rq.URL.Query().Has("cancelled")}
	if r.KeepIt {
		v.When = l.T("cf-keepit-when")
	}
	switch r.Resolution {
	case returns.ResolutionStoreCredit:
		v.Resolution = l.T("rv-credit")
	case returns.ResolutionExchange:
		v.Resolution = l.T("ss-exchange")
	default:
		v.Resolution = l.T("ss-refund")
	}
	v.Steps, v.Ended = steps(r, l)
	events, err := s.returns.Events(ctx, m.ID, r.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		if e.Event == "email_failed" {
			continue // for staff: the shopper cannot act on it
		}
		v.Timeline = append(v.Timeline, shopperEntry(e, r, l))
	}
	slices.Reverse(v.Timeline)
	parcels, err := s.labels.Parcels(ctx, r)
	if err != nil {
		return nil, err
	}
	open := r.State == returns.StateApproved || r.State == returns.StateInTransit || r.State == returns.StatePartiallyReceived
	page, pageName := labels.FormatA4, "A4"
	if c := o.Order.Customer.Address.Country; c == "US" || c == "CA" {
		page, pageName = labels.FormatLetter, "Letter"
	}
	for _, p := range parcels {
		if open && p.Status == labels.ParcelPreparing {
			v.Preparing = append(v.Preparing, p.Number)
		}
		if !open || p.Status != labels.ParcelIssued || p.ArrivedAt != nil {
			continue
		}
		base := fmt.Sprintf("%s/returns/%s/label?parcel=%d&format=", portalPath(m.Slug), r.RMA, p.Number)
		v.Labels = append(v.Labels, labelLink{Parcel: p.Number, Tracking: p.TrackingNumber, ValidUntil: p.ValidUntil,
			Page: base + string(page), Thermal: base + string(labels.Format4x6), ZPL: base + string(labels.FormatZPL),
			PageName: pageName, Carrier: p.CarrierName, Service: p.Service, QR: base + string(labels.FormatQR),
			CarrierQR: p.HasQRCode, DropOff: p.DropOffURL, Tracker: p.TrackingURL})
	}
	if len(v.Labels) > 0 && m.Settings.Warehouse.Line1 == "" {
		v.NoAddress = true
	}
	list, _, err := refunds.List(ctx, s.db, m.ID, refunds.ListFilter{ReturnID: r.PublicID})
	if err != nil {
		return nil, err
	}
	v.Refunds = list
	if r.Resolution == returns.ResolutionStoreCredit {
		c, err := refunds.StoreCredit(ctx, s.db, m.ID, r.CustomerEmail)
		if err != nil {
			return nil, err
		}
		for _, e := range c.Entries {
			if e.ReturnID != nil && *e.ReturnID == r.PublicID && e.Currency == r.Currency {
				v.Credit += e.Amount
			}
		}
	}
	_, cancelErr := returns.Next(r.State, returns.EventCancel)
	v.CanCancel = cancelErr == nil
	if r.State == returns.StateCompleted {
		v.FeedbackURL = portalPath(m.Slug) + "/returns/" + r.RMA + "/feedback"
	}
	if v.QR, err = qrSVG(v.StatusURL, l.T("qr-alt")); err != nil {
		return nil, err
	}
	return v, nil
}

// steps is the return's progress for the stepper, or why it ended.
func steps(r *returns.Return, l *Lang) ([]step, string) {
	switch r.State {
	case returns.StateRejected:
		why := l.T("st-rejected")
		if r.RejectReason != "" {
			why += " " + r.RejectReason
		}
		return nil, why
	case returns.StateCancelled:
		return nil, l.T("st-cancelled")
	case returns.StateExpired:
		return nil, l.T("st-expired")
	}
	labels := []string{l.T("st-requested"), l.T("st-approved"), l.T("st-sent"), l.T("st-received"), l.T("st-refunded")}
	if r.Resolution == returns.ResolutionStoreCredit {
		labels[4] = l.T("st-credited")
	}
	if r.Resolution == returns.ResolutionExchange {
		labels[4] = l.T("st-replaced")
	}
	// the last step reached; a refund that failed has not reached "Refunded"
	at := map[returns.State]int{
		returns.StateRequested: 0, returns.StateApproved: 1, returns.StateInTransit: 2, returns.StatePartiallyReceived: 2,
		returns.StateReceived: 3, returns.StateResolving: 3, returns.StateRefundFailed: 3, returns.StateCompleted: 4,
	}[r.State]
	if r.KeepIt {
		labels = []string{labels[0], labels[1], labels[4]}
		at = min(at, 1)
		if r.State == returns.StateCompleted {
			at = 2
		}
	}
	out := make([]step, len(labels))
	for i, lb := range labels {
		out[i] = step{Label: lb, Done: i <= at, Current: i == at}
	}
	return out, ""
}

// shopperEntry words a timeline entry for the shopper. Notes the system wrote are
// said in the shopper's language; notes staff wrote are shown as they wrote them.
func shopperEntry(e returns.TimelineEntry, r *returns.Return, l *Lang) timelineEntry {
	t := timelineEntry{At: e.At, Note: e.Note}
	if e.Actor == "system" || e.Actor == "shopper" {
		t.Note = ""
	}
	switch returns.Event(e.Event) {
	case "create":
		t.Title, t.Note = l.T("tl-create"), ""
	case returns.EventApprove:
		t.Title = l.T("tl-approve")
		if e.Actor == "system" {
			t.Note = l.T("tl-approve-auto")
			if r.KeepIt {
				t.Note = l.T("tl-approve-keepit")
			}
		}
	case returns.EventReject:
		t.Title = l.T("tl-reject")
	case returns.EventCancel:
		t.Title = l.T("tl-cancel")
	case returns.EventExpire:
		t.Title = l.T("tl-expire")
	case returns.EventCarrierScan:
		t.Title = l.T("tl-scan")
	case returns.EventReceivePartial:
		t.Title = l.T("tl-partial")
	case returns.EventReceiveAll:
		t.Title = l.T("tl-received")
	case returns.EventResolve:
		t.Title = l.T("tl-resolve")
		if r.Resolution == returns.ResolutionStoreCredit {
			t.Title = l.T("tl-credit")
		}
	case returns.EventSettlePartial, returns.EventSettleAll:
		t.Title = l.T("tl-settle")
	case returns.EventComplete:
		t.Title = l.T("tl-complete")
	case returns.EventRefundFail:
		t.Title = l.T("tl-fail")
		t.Note = l.T("tl-fail-note")
	case returns.EventRetryRefund:
		t.Title = l.T("tl-retry")
	case "email":
		t.Title = l.T("tl-email")
		t.Note = strings.TrimPrefix(e.Note, "Email sent: ")
	case "feedback":
		t.Title = l.T("tl-feedback")
		t.Note = ""
	default:
		if title, ok := exchangeEntry(l, e.Event); ok {
			t.Title = title
			break
		}
		t.Title = l.State(e.To)
	}
	return t
}

func (s *Server) portalConfirmation(rq *request) error {
	r, err := s.shopperReturn(rq)
	if err != nil {
		return err
	}
	v, err := s.statusData(rq, r)
	if err != nil {
		return err
	}
	if v.Exchange, err = s.exchangeFor(rq, r); err != nil {
		return err
	}
	return s.render(rq, http.StatusOK, "portal_confirmation", s.langOf(rq).T("cf-title", "RMA", r.RMA), v)
}

func (s *Server) portalStatus(rq *request) error {
	r, err := s.shopperReturn(rq)
	if err != nil {
		return err
	}
	v, err := s.statusData(rq, r)
	if err != nil {
		return err
	}
	if v.Exchange, err = s.exchangeFor(rq, r); err != nil {
		return err
	}
	if v.StoreCredit, err = s.creditFor(rq, r); err != nil {
		return err
	}
	return s.render(rq, http.StatusOK, "portal_status", s.langOf(rq).T("ss-title", "RMA", r.RMA), v)
}

// portalLabel serves a parcel's label PDF with the portal cookie, so the browser
// can download it from the same origin (GET /v1/returns/{id}/label wants a bearer
// token).
func (s *Server) portalLabel(rq *request) error {
	r, err := s.shopperReturn(rq)
	if err != nil {
		return err
	}
	return s.serveLabel(rq, r, portalPath(rq.merchant.Slug)+"/returns/"+r.RMA)
}

// serveLabel answers the label PDF of r that the query asks for; back is the page of
// the return.
func (s *Server) serveLabel(rq *request, r *returns.Return, back string) error {
	var err error
	l := s.langOf(rq)
	q := rq.URL.Query()
	n := 1
	noParcel := &pageError{Status: http.StatusNotFound, Title: l.T("lbe-none-h"), Message: l.T("lbe-none")}
	if p := q.Get("parcel"); p != "" {
		if n, err = strconv.Atoi(p); err != nil || n < 1 || n > labels.MaxParcels {
			return noParcel
		}
	}
	f := labels.Format(q.Get("format"))
	switch f {
	case labels.Format4x6, labels.FormatA4, labels.FormatLetter, labels.FormatZPL, labels.FormatQR:
	default:
		f = labels.FormatA4
	}
	file, err := s.labels.LabelFileWith(rq.ctx(), r, n, f, s.origin(rq.Request), func(lb *labels.Label) { s.labelText(rq, lb) })
	var voided *labels.VoidedError
	var preparing *labels.PreparingError
	switch {
	case errors.Is(err, labels.ErrNoLabels):
		why := l.T("lbe-why-review")
		if r.KeepIt {
			why = l.T("lbe-why-keepit")
		} else if r.State != returns.StateRequested {
			why = l.T("lbe-why-ended", "State", l.State(r.State))
		}
		return &pageError{Status: http.StatusConflict, Title: l.T("lbe-nolabel-h"), Message: why, Link: back, LinkText: l.T("lbe-back")}
	case errors.As(err, &voided):
		return &pageError{Status: http.StatusGone, Title: l.T("lbe-void-h"),
			Message: l.T("lbe-void", "State", l.State(r.State)), Link: back, LinkText: l.T("lbe-back")}
	case errors.As(err, &preparing):
		return &pageError{Status: http.StatusConflict, Title: l.T("lb-prep-h"), Message: l.T("lbe-prep"), Link: back, LinkText: l.T("lbe-back")}
	case errors.Is(err, labels.ErrNoParcel):
		noParcel.Link, noParcel.LinkText = back, l.T("lbe-back")
		return noParcel
	case errors.Is(err, labels.ErrNoReturnAddress):
		return &pageError{Status: http.StatusConflict, Title: l.T("lbe-noaddr-h"), Message: l.T("lbe-noaddr"), Link: back, LinkText: l.T("lbe-back")}
	case err != nil:
		return err
	}
	disp := "inline"
	if q.Get("download") != "" {
		disp = "attachment"
	}
	h := rq.w.Header()
	h.Set("Content-Type", file.ContentType)
	h.Set("Content-Disposition", fmt.Sprintf(`%s; filename="%s"`, disp, file.Name))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(file.Body)))
	rq.w.Write(file.Body)
	return nil
}

func (s *Server) portalCancel(rq *request) error {
	r, err := s.shopperReturn(rq)
	if err != nil {
		return err
	}
	back := portalPath(rq.merchant.Slug) + "/returns/" + r.RMA
	_, err = s.returns.Transition(rq.ctx(), rq.merchant.ID, r.ID, returns.EventCancel, "shopper", "Cancelled by the shopper in the returns portal.", nil)
	var te *returns.TransitionError
	if errors.As(err, &te) {
		l := s.langOf(rq)
		return &pageError{Status: http.StatusConflict, Title: l.T("ce-h"),
			Message: l.T("ce-msg", "State", l.State(te.From)), Link: back, LinkText: l.T("lbe-back")}
	}
	if err != nil {
		return err
	}
	return redirectTo(back + "?cancelled=1")
}
