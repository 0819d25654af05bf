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

	"github.com/roundtriphq/roundtrip/internal/money"
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
	return s.render(rq, status, "portal_lookup", "Start a return", f)
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
	if f.OrderNumber == "" || f.Email == "" {
		f.Error = "Enter both your order number and the email address you ordered with."
		return s.renderLookup(rq, http.StatusUnprocessableEntity, f)
	}
	notFound := "We could not find an order with that number and email address. Check both against your order confirmation email."
	if len(f.OrderNumber) > 100 || len(f.Email) > 254 {
		f.Error = notFound
		return s.renderLookup(rq, http.StatusNotFound, f)
	}
	now := s.now()
	client := reqid.ClientIP(ctx)
	attempts := returns.OrderAttemptBucket(client, m.Slug, f.OrderNumber)
	wait, err := ratelimit.AllowAll(ctx, now,
		ratelimit.Hit{Limiter: s.clientLimit, Bucket: "session:ip:" + client},
		ratelimit.Hit{Limiter: s.orderLimit, Bucket: attempts})
	if err != nil {
		return err
	}
	if wait > 0 {
		secs := ratelimit.Seconds(wait)
		rq.w.Header().Set("Retry-After", strconv.Itoa(secs))
		f.Error = fmt.Sprintf("Too many attempts. Please wait %d seconds and try again.", secs)
		return s.renderLookup(rq, http.StatusTooManyRequests, f)
	}
	o, err := s.returns.FindOrder(ctx, m.ID, f.OrderNumber, f.Email)
	if errors.Is(err, returns.ErrNotFound) {
		f.Error = notFound
		return s.renderLookup(rq, http.StatusNotFound, f)
	}
	if err != nil {
		return err
	}
	if err := s.orderLimit.Reset(ctx, attempts); err != nil { // only failures count
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

func describePolicy(pol returns.Policy, currency string) policyView {
	v := policyView{WindowDays: pol.WindowDays, Offers: offers(pol), ManualReview: pol.ManualReview}
	fee := pol.LabelFee(currency)
	v.FreeLabel = fee == 0
	if fee > 0 {
		v.LabelFee = money.Format(fee, currency)
	}
	if pol.StoreCreditBonusBps > 0 {
		v.CreditBonus = percent(pol.StoreCreditBonusBps)
	}
	return v
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
	v := &itemsView{FirstName: o.Order.Customer.FirstName, OrderNumber: o.Number, PlacedAt: o.Order.PlacedAt,
		Reasons: returns.Reasons(), Policy: describePolicy(pol, o.Order.Currency)}
	for i, l := range o.Order.Lines {
		ql := q.Lines[i]
		lv := lineView{N: i, ID: l.ID, Name: l.Name, SKU: l.SKU, ImageURL: l.ImageURL, UnitPrice: money.Format(l.UnitPrice, o.Order.Currency),
			Ordered: l.Quantity, Returnable: ql.Returnable, Eligible: ql.Eligible, Message: ql.Message, Until: ql.LastEligibleAt}
		if lv.Message == "" && !lv.Eligible {
			lv.Message = "This item cannot be returned."
		}
		if ql.RestockingBps > 0 {
			lv.Fee = percent(ql.RestockingBps)
		}
		v.AnyEligible = v.AnyEligible || lv.Eligible
		v.Lines = append(v.Lines, lv)
	}
	list, _, err := s.returns.List(ctx, m.ID, returns.Filter{OrderID: o.ID, Limit: 20})
	if err != nil {
		return nil, pol, err
	}
	v.Returns = list
	if err := s.addSwaps(ctx, m.ID, o, pol, v); err != nil {
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
	return s.render(rq, http.StatusOK, "portal_items", "Choose what to return", v)
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
func readChoices(rq *request, v *itemsView) []choice {
	var out []choice
	for i := range v.Lines {
		lv := &v.Lines[i]
		n := strconv.Itoa(lv.N)
		if rq.PostFormValue("line."+n) != lv.ID {
			v.Errors = append(v.Errors, "Your order was updated while you were choosing. Please check your choice again.")
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
			lv.Err = "Choose how many to return."
		case qty == 0:
		case !lv.Eligible:
			lv.Err = lv.Message
		case qty > lv.Returnable:
			lv.Err = fmt.Sprintf("You can return at most %d.", lv.Returnable)
		case lv.Reason == "":
			lv.Err = "Choose a reason for returning this item."
		case utf8.RuneCountInString(lv.Comment) > maxComment:
			lv.Err = fmt.Sprintf("Please keep the comment under %d characters.", maxComment)
		default:
			if _, ok := returns.LookupReason(returns.ReasonCode(lv.Reason)); !ok {
				lv.Err = "Choose a reason from the list."
				break
			}
			sku, msg := readSwap(rq, lv)
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
		v.Errors = append(v.Errors, "Choose at least one item to return: set its quantity and a reason.")
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
	Options    []resolutionOption
	Key        string
	Issues     []string
	When       string
	Manual     bool
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
// resolution the shop offers, ready to confirm.
func (s *Server) portalQuote(rq *request) error {
	o, err := s.shopperOrder(rq)
	if err != nil {
		return err
	}
	v, pol, err := s.itemsPage(rq, o)
	if err != nil {
		return err
	}
	chosen := readChoices(rq, v)
	if len(v.Errors) > 0 {
		return s.render(rq, http.StatusUnprocessableEntity, "portal_items", "Choose what to return", v)
	}
	return s.review(rq, o, pol, chosen, rq.PostFormValue("resolution"), "")
}

// review renders the quote page for the chosen items.
func (s *Server) review(rq *request, o returns.OrderRecord, pol returns.Policy, chosen []choice, picked, key string) error {
	ctx := rq.ctx()
	items := make([]returns.QuoteItem, len(chosen))
	for i, c := range chosen {
		items[i] = returns.QuoteItem{LineID: c.LineID, Quantity: c.Qty, Reason: returns.ReasonCode(c.Reason)}
		if c.ExchangeSKU != "" {
			return s.reviewExchange(rq, o, pol, chosen, rq.PostFormValue("difference_as"), key)
		}
	}
	offered := offers(pol)
	if len(offered) == 0 {
		return &pageError{Status: http.StatusConflict, Title: "Exchanges only",
			Message: "This shop offers exchanges only: choose another size or colour for your items, or contact the shop.",
			Link:    portalPath(rq.merchant.Slug), LinkText: "Choose again"}
	}
	if key == "" {
		key = newKey()
	}
	v := &reviewView{FirstName: o.Order.Customer.FirstName, Choices: chosen, Currency: o.Order.Currency, Key: key, Manual: pol.ManualReview}
	if !slices.Contains(offered, returns.Resolution(picked)) {
		picked = string(offered[0])
	}
	for i, res := range offered {
		q, _, err := s.returns.QuoteFor(ctx, rq.merchant.ID, o, items, res)
		if err != nil {
			return err
		}
		if i == 0 {
			v.Quote = q
			for _, l := range q.Lines {
				if l.Eligible {
					v.Lines = append(v.Lines, l)
				} else {
					v.Ineligible = append(v.Ineligible, l)
				}
			}
			for _, is := range q.Issues {
				v.Issues = append(v.Issues, is.Message)
			}
		}
		opt := resolutionOption{Value: res, Total: q.Total, Bonus: q.StoreCreditBonus, Checked: string(res) == picked}
		switch res {
		case returns.ResolutionRefund:
			opt.Label, opt.Help = "Refund to your original payment", "The money goes back to the card or account you paid with."
		case returns.ResolutionStoreCredit:
			opt.Label, opt.Help = "Store credit", "Spend it in the shop with "+o.Order.Customer.Email+"."
			if q.StoreCreditBonus > 0 {
				opt.Help = fmt.Sprintf("Includes a bonus of %s. Spend it in the shop with %s.", money.Format(q.StoreCreditBonus, q.Currency), o.Order.Customer.Email)
			}
		}
		v.Options = append(v.Options, opt)
	}
	if v.Quote.KeepIt {
		v.When = "You can keep the items: there is nothing to send back. The money goes back as soon as the return is approved."
	} else {
		v.When = whenPaid(pol.RefundTrigger)
	}
	return s.render(rq, http.StatusOK, "portal_review", "Check your return", v)
}

func whenPaid(t returns.RefundTrigger) string {
	switch t {
	case returns.TriggerOnInspection:
		return "You get it once the shop has received and checked your items."
	case returns.TriggerOnCarrierScan:
		return "You get it as soon as the carrier scans your parcel."
	}
	return "You get it as soon as the shop receives your parcel."
}

var keyRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// newKey makes the idempotency key a confirmation form carries.
func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// portalCreate creates the return the shopper confirmed. The page's idempotency
// key makes a second click, a retry or a reload find the same return.
func (s *Server) portalCreate(rq *request) error {
	ctx, m := rq.ctx(), rq.merchant
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
		return &pageError{Status: http.StatusBadRequest, Title: "Please start again",
			Message: "The confirmation form was incomplete, so nothing was created.", Link: portalPath(m.Slug), LinkText: "Choose items again"}
	}
	res := returns.Resolution(rq.PostFormValue("resolution"))
	var chosen []choice
	in := returns.CreateInput{Resolution: res, Actor: "shopper", IdempotencyKey: fmt.Sprintf("portal:%d:%s", o.ID, key)}
	if res == returns.ResolutionExchange && rq.PostFormValue("difference_as") == string(returns.ResolutionStoreCredit) {
		in.DifferenceAs = returns.ResolutionStoreCredit
	}
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
		in.Items = append(in.Items, returns.CreateItem{QuoteItem: returns.QuoteItem{LineID: c.LineID, Quantity: c.Qty,
			Reason: returns.ReasonCode(c.Reason), ExchangeSKU: c.ExchangeSKU}, Comment: c.Comment})
	}
	if !slices.Contains(offers(pol), res) && !(res == returns.ResolutionExchange && pol.Allows(res)) {
		return s.review(rq, o, pol, chosen, "", key)
	}
	qi := returns.QuoteInput{Resolution: res, DifferenceAs: in.DifferenceAs}
	for _, it := range in.Items {
		qi.Items = append(qi.Items, it.QuoteItem)
	}
	if err := qi.Validate(); err != nil {
		return &pageError{Status: http.StatusUnprocessableEntity, Title: "Please choose again",
			Message: "Something in your choice was not valid, so nothing was created.", Link: portalPath(m.Slug), LinkText: "Choose items again"}
	}
	r, err := s.returns.Create(ctx, m.ID, o.Number, in)
	var ne *returns.NotEligibleError
	switch {
	case errors.As(err, &ne):
		v, _, err := s.itemsPage(rq, o)
		if err != nil {
			return err
		}
		v.Errors = append(v.Errors, "Something changed since you saw the quote, so nothing was created. Please choose again.")
		for _, is := range ne.Quote.Issues {
			v.Errors = append(v.Errors, is.Message)
		}
		for _, l := range ne.Quote.Lines {
			if !l.Eligible {
				v.Errors = append(v.Errors, l.Name+": "+l.Message)
			}
		}
		return s.render(rq, http.StatusConflict, "portal_items", "Choose what to return", v)
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
		return nil, &needLookup{next: rq.URL.Path, notice: "To see this return, enter the number and email address of the order it belongs to."}
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
	// FeedbackURL asks how the return went, once it is completed.
	FeedbackURL string
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
	v := &statusView{R: r, FirstName: o.Order.Customer.FirstName, When: whenPaid(pol.RefundTrigger),
		StatusURL: s.origin(rq.Request) + portalPath(m.Slug) + "/returns/" + r.RMA, Cancelled: rq.URL.Query().Has("cancelled")}
	switch r.Resolution {
	case returns.ResolutionStoreCredit:
		v.Resolution = "Store credit"
	case returns.ResolutionExchange:
		v.Resolution = "Exchange, back to you"
	default:
		v.Resolution = "Refund"
	}
	v.Steps, v.Ended = steps(r)
	events, err := s.returns.Events(ctx, m.ID, r.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		if e.Event == "email_failed" {
			continue // for staff: the shopper cannot act on it
		}
		v.Timeline = append(v.Timeline, shopperEntry(e, r))
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
	if v.QR, err = qrSVG(v.StatusURL, "QR code: the address of this return's status page"); err != nil {
		return nil, err
	}
	return v, nil
}

// steps is the return's progress for the stepper, or why it ended.
func steps(r *returns.Return) ([]step, string) {
	switch r.State {
	case returns.StateRejected:
		why := "The shop declined this return."
		if r.RejectReason != "" {
			why += " " + r.RejectReason
		}
		return nil, why
	case returns.StateCancelled:
		return nil, "This return was cancelled. Nothing more will happen."
	case returns.StateExpired:
		return nil, "The label expired before the parcel was sent, so this return was closed. You can start a new one if you are still within the return window."
	}
	labels := []string{"Requested", "Approved", "Parcel sent", "Received", "Refunded"}
	if r.Resolution == returns.ResolutionStoreCredit {
		labels[4] = "Credit issued"
	}
	if r.Resolution == returns.ResolutionExchange {
		labels[4] = "Replacement sent"
	}
	// the last step reached; a refund that failed has not reached "Refunded"
	at := map[returns.State]int{
		returns.StateRequested: 0, returns.StateApproved: 1, returns.StateInTransit: 2, returns.StatePartiallyReceived: 2,
		returns.StateReceived: 3, returns.StateResolving: 3, returns.StateRefundFailed: 3, returns.StateCompleted: 4,
	}[r.State]
	if r.KeepIt {
		labels = []string{"Requested", "Approved", labels[4]}
		at = min(at, 1)
		if r.State == returns.StateCompleted {
			at = 2
		}
	}
	out := make([]step, len(labels))
	for i, l := range labels {
		out[i] = step{Label: l, Done: i <= at, Current: i == at}
	}
	return out, ""
}

// shopperEntry words a timeline entry for the shopper.
func shopperEntry(e returns.TimelineEntry, r *returns.Return) timelineEntry {
	t := timelineEntry{At: e.At, Note: e.Note}
	switch returns.Event(e.Event) {
	case "create":
		t.Title, t.Note = "Return requested", ""
	case returns.EventApprove:
		t.Title = "Approved"
	case returns.EventReject:
		t.Title = "Declined"
	case returns.EventCancel:
		t.Title = "Cancelled"
	case returns.EventExpire:
		t.Title = "Expired"
	case returns.EventCarrierScan:
		t.Title = "Parcel on its way"
	case returns.EventReceivePartial:
		t.Title = "Some items arrived"
	case returns.EventReceiveAll:
		t.Title = "Items arrived"
	case returns.EventResolve:
		t.Title = "Refund started"
		if r.Resolution == returns.ResolutionStoreCredit {
			t.Title = "Store credit issued"
		}
	case returns.EventSettlePartial, returns.EventSettleAll:
		t.Title = "Refund done for what arrived"
	case returns.EventComplete:
		t.Title = "Completed"
	case returns.EventRefundFail:
		t.Title = "Refund delayed"
		t.Note = "There was a problem sending your refund. The shop's team has been told and will send it again; you do not need to do anything."
	case returns.EventRetryRefund:
		t.Title = "Refund sent again"
	case "email":
		t.Title = "We emailed you"
		t.Note = strings.TrimPrefix(e.Note, "Email sent: ")
	case "feedback":
		t.Title = "Thank you for your feedback"
		t.Note = ""
	default:
		if title, ok := exchangeEntry(e.Event); ok {
			t.Title = title
			break
		}
		t.Title = stateLabel(e.To)
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
	return s.render(rq, http.StatusOK, "portal_confirmation", "Return "+r.RMA+" created", v)
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
	return s.render(rq, http.StatusOK, "portal_status", "Return "+r.RMA, v)
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
	q := rq.URL.Query()
	n := 1
	if p := q.Get("parcel"); p != "" {
		if n, err = strconv.Atoi(p); err != nil || n < 1 || n > labels.MaxParcels {
			return &pageError{Status: http.StatusNotFound, Title: "No such label", Message: "This return has no parcel with that number."}
		}
	}
	f := labels.Format(q.Get("format"))
	switch f {
	case labels.Format4x6, labels.FormatA4, labels.FormatLetter, labels.FormatZPL, labels.FormatQR:
	default:
		f = labels.FormatA4
	}
	file, err := s.labels.LabelFile(rq.ctx(), r, n, f, s.origin(rq.Request))
	var voided *labels.VoidedError
	var preparing *labels.PreparingError
	switch {
	case errors.Is(err, labels.ErrNoLabels):
		why := "it waits for the shop's review, and the label comes with the approval."
		if r.KeepIt {
			why = "you can keep the items, so there is nothing to send back."
		} else if r.State != returns.StateRequested {
			why = "it was " + strings.ToLower(stateLabel(r.State)) + " before a label was issued."
		}
		return &pageError{Status: http.StatusConflict, Title: "No label for this return", Message: "This return has no label: " + why, Link: back, LinkText: "Back to the return"}
	case errors.As(err, &voided):
		return &pageError{Status: http.StatusGone, Title: "This label can no longer be used",
			Message: "The return ended (" + strings.ToLower(stateLabel(r.State)) + "), so its label was cancelled. Please do not send the parcel with it.",
			Link:    back, LinkText: "Back to the return"}
	case errors.As(err, &preparing):
		return &pageError{Status: http.StatusConflict, Title: "Your label is being prepared",
			Message: "We are buying your label from the carrier. It is ready in a moment: go back and try again shortly.", Link: back, LinkText: "Back to the return"}
	case errors.Is(err, labels.ErrNoParcel):
		return &pageError{Status: http.StatusNotFound, Title: "No such label", Message: "This return has no parcel with that number.", Link: back, LinkText: "Back to the return"}
	case errors.Is(err, labels.ErrNoReturnAddress):
		return &pageError{Status: http.StatusConflict, Title: "The label is not ready yet",
			Message: "The shop has not told us where returns go, so the label cannot be printed yet. Please contact the shop.", Link: back, LinkText: "Back to the return"}
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
		return &pageError{Status: http.StatusConflict, Title: "This return can no longer be cancelled",
			Message: "It is " + strings.ToLower(stateLabel(te.From)) + ". Once a parcel is on its way it has to be received.", Link: back, LinkText: "Back to the return"}
	}
	if err != nil {
		return err
	}
	return redirectTo(back + "?cancelled=1")
}
