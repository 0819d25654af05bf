package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/returns"
)

// The policy editor: every setting of returns.Policy in one form, a sample quote of
// one of the shop's orders under the saved and the edited policy side by side (the
// engine's own returns.Quote, nothing saved), and saving as a new version, listed
// with who changed what.

// fieldErr is a wrong form field: ID is the input it points at ("" for none).
type fieldErr struct {
	ID, Label, Message string
}

// blankRules and blankAmounts are the empty rows the form offers for additions.
const (
	blankRules   = 2
	blankAmounts = 1
	versionsPage = 10
	sampleOrders = 20
)

type ruleForm struct {
	N             int
	Kind, Value   string // kind: category, sku or tag
	NotReturnable bool
	WindowDays    string
	Fee           string // percent
}

type amountForm struct {
	N                int
	Currency, Amount string
}

// policyForm is the policy as the form holds it: text as typed.
type policyForm struct {
	Base          int // the version the edit started from
	WindowDays    string
	Rules         []ruleForm
	ShippingMode  string
	LabelFees     []amountForm
	Resolutions   map[string]bool
	Bonus         string
	ManualReview  bool
	Trigger       string
	KeepIt        []amountForm
	LabelValidity string
	SerialOn      bool
	SerialMax     string
	SerialPeriod  string

	SampleOrder      string
	SampleReason     string
	SampleResolution string
}

// formFromPolicy fills the form with p, with blank rows to add to.
func formFromPolicy(p returns.Policy, base int) policyForm {
	f := policyForm{Base: base, WindowDays: strconv.Itoa(p.WindowDays), ShippingMode: string(p.ReturnShipping.Mode),
		Resolutions: map[string]bool{}, Bonus: money.FormatDecimal(int64(p.StoreCreditBonusBps), 2),
		ManualReview: p.ManualReview, Trigger: string(p.RefundTrigger), LabelValidity: strconv.Itoa(p.LabelValidityDays),
		SerialOn: p.SerialReturner.Enabled, SerialMax: strconv.Itoa(p.SerialReturner.MaxReturns),
		SerialPeriod: strconv.Itoa(p.SerialReturner.PeriodDays)}
	for _, r := range p.Rules {
		rf := ruleForm{NotReturnable: r.NotReturnable}
		switch {
		case r.Match.Category != "":
			rf.Kind, rf.Value = "category", r.Match.Category
		case r.Match.SKU != "":
			rf.Kind, rf.Value = "sku", r.Match.SKU
		default:
			rf.Kind, rf.Value = "tag", r.Match.Tag
		}
		if r.WindowDays != nil {
			rf.WindowDays = strconv.Itoa(*r.WindowDays)
		}
		if r.RestockingFeeBps != 0 {
			rf.Fee = money.FormatDecimal(int64(r.RestockingFeeBps), 2)
		}
		f.Rules = append(f.Rules, rf)
	}
	for _, r := range p.Resolutions {
		f.Resolutions[string(r)] = true
	}
	f.LabelFees = amountRows(p.ReturnShipping.LabelFees)
	f.KeepIt = amountRows(p.KeepItThreshold)
	f.pad()
	return f
}

func amountRows(m map[string]int64) []amountForm {
	var rows []amountForm
	for _, c := range slices.Sorted(maps.Keys(m)) {
		rows = append(rows, amountForm{Currency: c, Amount: money.Decimal(m[c], c)})
	}
	return rows
}

// pad adds the blank rows and numbers every row.
func (f *policyForm) pad() {
	for range blankRules {
		f.Rules = append(f.Rules, ruleForm{Kind: "category"})
	}
	for range blankAmounts {
		f.LabelFees = append(f.LabelFees, amountForm{})
		f.KeepIt = append(f.KeepIt, amountForm{})
	}
	for i := range f.Rules {
		f.Rules[i].N = i
	}
	for i := range f.LabelFees {
		f.LabelFees[i].N = i
	}
	for i := range f.KeepIt {
		f.KeepIt[i].N = i
	}
}

// maxFormRows bounds the rows a posted form may claim.
const maxFormRows = returns.MaxRules + blankRules

// readPolicyForm reads the posted form as typed.
func readPolicyForm(rq *request) policyForm {
	v := func(name string) string { return strings.TrimSpace(rq.PostFormValue(name)) }
	count := func(name string) int {
		n, _ := strconv.Atoi(v(name))
		return min(max(n, 0), maxFormRows)
	}
	f := policyForm{WindowDays: v("window_days"), ShippingMode: v("shipping_mode"), Resolutions: map[string]bool{},
		Bonus: v("bonus"), ManualReview: v("manual_review") != "", Trigger: v("refund_trigger"),
		LabelValidity: v("label_validity_days"), SerialOn: v("serial_enabled") != "", SerialMax: v("serial_max"),
		SerialPeriod: v("serial_period"), SampleOrder: v("sample_order"), SampleReason: v("sample_reason"),
		SampleResolution: v("sample_resolution")}
	f.Base, _ = strconv.Atoi(v("base"))
	for i := range count("rules") {
		p := fmt.Sprintf("rule.%d.", i)
		f.Rules = append(f.Rules, ruleForm{N: i, Kind: v(p + "kind"), Value: v(p + "value"), NotReturnable: v(p+"not_returnable") != "",
			WindowDays: v(p + "window_days"), Fee: v(p + "fee")})
	}
	amounts := func(prefix string) []amountForm {
		var rows []amountForm
		for i := range count(prefix + "s") {
			p := fmt.Sprintf("%s.%d.", prefix, i)
			rows = append(rows, amountForm{N: i, Currency: strings.ToUpper(v(p + "currency")), Amount: v(p + "amount")})
		}
		return rows
	}
	f.LabelFees, f.KeepIt = amounts("fee"), amounts("keepit")
	for _, r := range rq.PostForm["resolution"] {
		f.Resolutions[r] = true
	}
	return f
}

// policy turns the form into a policy: what cannot be read as typed, and then what
// Policy.Validate refuses, is named field by field.
func (f policyForm) policy() (returns.Policy, []fieldErr) {
	var errs []fieldErr
	bad := func(id, label, msg string) { errs = append(errs, fieldErr{ID: id, Label: label, Message: msg}) }
	num := func(s, id, label string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			bad(id, label, "enter a whole number")
		}
		return n
	}
	percent := func(s, id, label string) int {
		if s == "" {
			return 0
		}
		n, err := money.ParseDecimal(s, 2)
		if err != nil || n > 10000 {
			bad(id, label, "enter a percentage from 0 to 100, like 15 or 12.5")
		}
		return int(n)
	}
	p := returns.Policy{
		WindowDays:          num(f.WindowDays, "window_days", "Return window"),
		Rules:               []returns.Rule{},
		ReturnShipping:      returns.ReturnShipping{Mode: returns.ShippingMode(f.ShippingMode)},
		StoreCreditBonusBps: percent(f.Bonus, "bonus", "Store-credit bonus"),
		ManualReview:        f.ManualReview,
		RefundTrigger:       returns.RefundTrigger(f.Trigger),
		LabelValidityDays:   num(f.LabelValidity, "label_validity_days", "Label validity"),
		SerialReturner:      returns.SerialReturner{Enabled: f.SerialOn},
		ExchangeRelease:     returns.ReleaseOnReceipt,
	}
	// a rule is removed by clearing its value; its row is found again by N
	var ruleRows []int
	for _, r := range f.Rules {
		label := fmt.Sprintf("Rule %d", r.N+1)
		if r.Value == "" {
			if r.WindowDays != "" || r.Fee != "" || r.NotReturnable {
				bad(fmt.Sprintf("rule-%d-value", r.N), label, "say which category, SKU or tag it applies to, or clear the whole row")
			}
			continue
		}
		rule := returns.Rule{NotReturnable: r.NotReturnable, RestockingFeeBps: percent(r.Fee, fmt.Sprintf("rule-%d-fee", r.N), label+" restocking fee")}
		switch r.Kind {
		case "category":
			rule.Match.Category = r.Value
		case "sku":
			rule.Match.SKU = r.Value
		case "tag":
			rule.Match.Tag = r.Value
		default:
			bad(fmt.Sprintf("rule-%d-kind", r.N), label, "choose category, SKU or tag")
		}
		if r.WindowDays != "" {
			d := num(r.WindowDays, fmt.Sprintf("rule-%d-window", r.N), label+" window")
			rule.WindowDays = &d
		}
		p.Rules = append(p.Rules, rule)
		ruleRows = append(ruleRows, r.N)
	}
	amounts := func(rows []amountForm, id, label string) map[string]int64 {
		m := map[string]int64{}
		for _, a := range rows {
			if a.Currency == "" && a.Amount == "" {
				continue
			}
			cid, aid := fmt.Sprintf("%s-%d-currency", id, a.N), fmt.Sprintf("%s-%d-amount", id, a.N)
			if !money.Valid(a.Currency) {
				bad(cid, label, "enter a currency code such as EUR")
				continue
			}
			if _, dup := m[a.Currency]; dup {
				bad(cid, label+" in "+a.Currency, "is given twice")
				continue
			}
			n, err := money.Parse(a.Amount, a.Currency)
			if err != nil {
				bad(aid, label+" in "+a.Currency, "enter an amount such as "+money.Decimal(495, a.Currency))
				continue
			}
			m[a.Currency] = n
		}
		return m
	}
	if fees := amounts(f.LabelFees, "fee", "Label fee"); len(fees) > 0 || p.ReturnShipping.Mode == returns.ShippingFlat {
		if p.ReturnShipping.Mode == returns.ShippingFlat {
			p.ReturnShipping.LabelFees = fees
		} else if len(fees) > 0 {
			bad("shipping-flat", "Label fee", "choose a flat label fee to charge it, or clear the amounts")
		}
	}
	if k := amounts(f.KeepIt, "keepit", "Keep-it threshold"); len(k) > 0 {
		p.KeepItThreshold = k
	}
	for _, r := range []returns.Resolution{returns.ResolutionRefund, returns.ResolutionStoreCredit, returns.ResolutionExchange} {
		if f.Resolutions[string(r)] {
			p.Resolutions = append(p.Resolutions, r)
		}
	}
	if f.SerialMax != "" || f.SerialOn {
		p.SerialReturner.MaxReturns = num(f.SerialMax, "serial_max", "Serial returners: returns allowed")
	}
	if f.SerialPeriod != "" || f.SerialOn {
		p.SerialReturner.PeriodDays = num(f.SerialPeriod, "serial_period", "Serial returners: period")
	}
	// what was typed wrong is named once; Validate names the rest
	flagged := map[string]bool{}
	for _, e := range errs {
		flagged[e.ID] = true
	}
	if err := p.Validate(); err != nil {
		var v *validation.Error
		if !errors.As(err, &v) {
			return p, append(errs, fieldErr{Label: "Policy", Message: err.Error()})
		}
		for _, fe := range v.Fields {
			id, label := policyField(fe.Path, ruleRows)
			if id != "" && flagged[id] {
				continue
			}
			flagged[id] = true
			errs = append(errs, fieldErr{ID: id, Label: label, Message: fe.Message})
		}
	}
	return p, errs
}

var rulePathRE = regexp.MustCompile(`^rules\[(\d+)\]\.?(.*)$`)

// policyField names the form field of a Policy.Validate path: its input's ID and
// its label.
func policyField(path string, ruleRows []int) (id, label string) {
	if m := rulePathRE.FindStringSubmatch(path); m != nil {
		i, _ := strconv.Atoi(m[1])
		n := i
		if i < len(ruleRows) {
			n = ruleRows[i]
		}
		label = fmt.Sprintf("Rule %d", n+1)
		switch {
		case strings.HasPrefix(m[2], "window_days"):
			return fmt.Sprintf("rule-%d-window", n), label + " window"
		case strings.HasPrefix(m[2], "restocking_fee_bps"):
			return fmt.Sprintf("rule-%d-fee", n), label + " restocking fee"
		case strings.HasPrefix(m[2], "not_returnable"):
			return fmt.Sprintf("rule-%d-nr", n), label
		}
		return fmt.Sprintf("rule-%d-value", n), label
	}
	switch {
	case path == "window_days":
		return "window_days", "Return window"
	case path == "rules":
		return "", "Rules"
	case path == "return_shipping.mode":
		return "shipping-free", "Return shipping"
	case strings.HasPrefix(path, "return_shipping"):
		return "fee-0-amount", "Label fee"
	case strings.HasPrefix(path, "resolutions"):
		return "res-refund", "Resolutions"
	case path == "store_credit_bonus_bps":
		return "bonus", "Store-credit bonus"
	case path == "refund_trigger":
		return "trigger-on_receipt", "Refund sent"
	case strings.HasPrefix(path, "keep_it_threshold"):
		return "keepit-0-amount", "Keep-it threshold"
	case path == "label_validity_days":
		return "label_validity_days", "Label validity"
	case path == "serial_returner.max_returns":
		return "serial_max", "Serial returners: returns allowed"
	case path == "serial_returner.period_days":
		return "serial_period", "Serial returners: period"
	}
	return "", path
}

// ---- the page

type editorView struct {
	Nav            adminNav
	Notice         string
	Warning        string
	Errors         []fieldErr
	Bad            map[string]bool // input IDs with an error
	Form           policyForm
	Current        returns.Policy
	CurrentVersion *returns.PolicyVersion
	Preview        *policyPreview
	Versions       []versionView
	Older          string
	Orders         []returns.OrderRecord
	Reasons        []returns.Reason
	Triggers       []option
	Resolves       []option
	RuleKinds      []option
}

// versionView is a saved version with what it changed from the one before.
type versionView struct {
	returns.PolicyVersion
	Changes []string
}

// policyPreview is the sample quote under the saved and the edited policy, and
// what the edit changes.
type policyPreview struct {
	Changes []string
	// Page is the policy page the edit makes, in English.
	Page []policySection
	// Invalid is set while the form has errors: no quote can be made.
	Invalid bool
	// Order is the sample order; Missing names an order number that was not found.
	Order            *returns.OrderRecord
	Missing          string
	Reason           returns.ReasonCode
	Resolution       returns.Resolution
	Before, After    returns.QuoteResult
	Lines            []previewLine
	Rows             []previewRow
	Currency         string
	KeepItB, KeepItA bool
}

type previewLine struct {
	Name, SKU     string
	Quantity      int
	Before, After string
	Changed       bool
}

type previewRow struct {
	Label         string
	Before, After string
	Changed       bool
	Total         bool
}

var (
	triggerOptions = []option{
		{string(returns.TriggerOnReceipt), "When the warehouse receives the items"},
		{string(returns.TriggerOnInspection), "When the received items have been inspected"},
		{string(returns.TriggerOnCarrierScan), "When the carrier first scans the parcel"},
	}
	resolutionOptions = []option{
		{string(returns.ResolutionRefund), "Refund to the original payment"},
		{string(returns.ResolutionStoreCredit), "Store credit"},
		{string(returns.ResolutionExchange), "Exchange for another variant"},
	}
	ruleKinds = []option{{"category", "Category"}, {"sku", "SKU"}, {"tag", "Tag"}}
)

func (s *Server) adminPolicy(rq *request) error {
	ctx := rq.ctx()
	cur, err := s.returns.Policy(ctx, rq.p.MerchantID)
	if err != nil {
		return err
	}
	q := rq.URL.Query()
	v := &editorView{Form: formFromPolicy(cur, cur.Version)}
	if n, err := strconv.Atoi(q.Get("version")); err == nil && n > 0 && n != cur.Version {
		old, err := s.returns.PolicyAt(ctx, rq.p.MerchantID, n)
		if err != nil {
			return &pageError{Status: http.StatusNotFound, Title: "No such version",
				Message: fmt.Sprintf("The policy has no version %d.", n), Link: "/admin/policy", LinkText: "Back to the policy"}
		}
		v.Form = formFromPolicy(old, cur.Version)
		v.Warning = fmt.Sprintf("You are editing a copy of version %d. Nothing changes until you save it; it then becomes version %d.", n, cur.Version+1)
	}
	if n, err := strconv.Atoi(q.Get("saved")); err == nil && n > 0 {
		v.Notice = fmt.Sprintf("Saved as version %d. New returns are judged by it; returns already made keep the version they were judged by.", n)
	}
	if q.Get("unchanged") != "" {
		v.Notice = "Nothing was changed, so no new version was saved."
	}
	v.Form.SampleOrder = q.Get("order")
	return s.policyPage(rq, http.StatusOK, v, cur, true)
}

// adminPolicyPost previews (op=preview, the default) or saves (op=save) the form.
func (s *Server) adminPolicyPost(rq *request) error {
	ctx := rq.ctx()
	m := rq.p.MerchantID
	f := readPolicyForm(rq)
	pol, errs := f.policy()
	cur, err := s.returns.Policy(ctx, m)
	if err != nil {
		return err
	}
	pol.KeepExchangeSettings(cur)
	v := &editorView{Form: f, Errors: errs}
	if rq.PostFormValue("op") != "save" {
		v.Form.pad()
		status := http.StatusOK
		if len(errs) > 0 {
			status = http.StatusUnprocessableEntity
		}
		return s.policyPage(rq, status, v, cur, len(errs) == 0)
	}
	if len(errs) > 0 {
		v.Form.pad()
		return s.policyPage(rq, http.StatusUnprocessableEntity, v, cur, false)
	}
	if f.Base != cur.Version {
		// someone saved meanwhile: show the edit against what is saved now
		v.Form.Base = cur.Version
		v.Form.pad()
		v.Warning = fmt.Sprintf("Version %d was saved while you were editing. Your changes are shown against it below: check them and save again.", cur.Version)
		return s.policyPage(rq, http.StatusConflict, v, cur, true)
	}
	if len(returns.DiffPolicies(cur, pol)) == 0 {
		return redirectTo("/admin/policy?unchanged=1")
	}
	var saved returns.Policy
	err = s.audit.Change(ctx, m, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		if saved, err = returns.PutPolicyIn(ctx, tx, m, pol, rq.p.Actor); err != nil {
			return audit.Entry{}, err
		}
		changes, err := returns.PolicyChanges(ctx, tx, m, saved)
		return audit.Entry{Action: audit.PolicyUpdated, Target: fmt.Sprintf("policy v%d", saved.Version), Summary: audit.Lines(changes)}, err
	})
	if err != nil {
		return err
	}
	return redirectTo(fmt.Sprintf("/admin/policy?saved=%d#versions", saved.Version))
}

// policyPage renders the editor with its sample quote (when quote is set and the
// form is valid) and the version history.
func (s *Server) policyPage(rq *request, status int, v *editorView, cur returns.Policy, quote bool) error {
	ctx := rq.ctx()
	m := rq.p.MerchantID
	var err error
	if v.Nav, err = s.nav(rq, "policy"); err != nil {
		return err
	}
	v.Current = cur
	v.Reasons, v.Triggers, v.Resolves, v.RuleKinds = returns.Reasons(), triggerOptions, resolutionOptions, ruleKinds
	v.Bad = map[string]bool{}
	for _, e := range v.Errors {
		v.Bad[e.ID] = true
	}
	if v.Orders, err = s.returns.RecentOrders(ctx, m, sampleOrders); err != nil {
		return err
	}
	if v.Form.SampleReason == "" {
		v.Form.SampleReason = string(returns.ReasonTooSmall)
	}
	if v.Form.SampleOrder == "" && len(v.Orders) > 0 {
		v.Form.SampleOrder = v.Orders[0].Number
	}
	if v.Preview, err = s.preview(rq, v, cur, quote && len(v.Errors) == 0); err != nil {
		return err
	}
	before, _ := strconv.Atoi(rq.URL.Query().Get("versions_before"))
	versions, more, err := s.returns.PolicyVersions(ctx, m, max(before, 0), versionsPage)
	if err != nil {
		return err
	}
	for i, pv := range versions {
		var prev returns.Policy
		if i+1 < len(versions) && versions[i+1].Policy.Version == pv.Policy.Version-1 {
			prev = versions[i+1].Policy
		} else if prev, err = s.returns.PolicyAt(ctx, m, pv.Policy.Version-1); err != nil {
			return err
		}
		vv := versionView{PolicyVersion: pv, Changes: returns.DiffPolicies(prev, pv.Policy)}
		if pv.Policy.Version == cur.Version {
			v.CurrentVersion = &vv.PolicyVersion
		}
		v.Versions = append(v.Versions, vv)
	}
	if more {
		v.Older = fmt.Sprintf("/admin/policy?versions_before=%d#versions", versions[len(versions)-1].Policy.Version)
	}
	return s.render(rq, status, "admin_policy", "Return policy", v)
}

// preview makes the sample quote of the form's order under the saved policy and the
// edited one.
func (s *Server) preview(rq *request, v *editorView, cur returns.Policy, valid bool) (*policyPreview, error) {
	ctx := rq.ctx()
	m := rq.p.MerchantID
	pv := &policyPreview{Invalid: !valid}
	if !valid {
		return pv, nil
	}
	edited, _ := v.Form.policy()
	edited.KeepExchangeSettings(cur)
	pv.Changes = returns.DiffPolicies(cur, edited)
	// the policy page as shoppers will read it, in the shop's latest order's currency
	currency := "EUR"
	if recent, err := s.returns.RecentOrders(ctx, m, 1); err != nil {
		return nil, err
	} else if len(recent) > 0 {
		currency = recent[0].Order.Currency
	}
	if o, err := s.returns.Order(ctx, m, v.Form.SampleOrder); err == nil {
		currency = o.Order.Currency
	}
	pv.Page, _ = describePolicyPage(edited, currency, rq.merchant.Settings.SupportEmail, english())
	if v.Form.SampleOrder == "" {
		return pv, nil
	}
	o, err := s.returns.Order(ctx, m, v.Form.SampleOrder)
	if errors.Is(err, returns.ErrNotFound) {
		pv.Missing = v.Form.SampleOrder
		return pv, nil
	}
	if err != nil {
		return nil, err
	}
	pv.Order, pv.Currency = &o, o.Order.Currency
	reason := returns.ReasonCode(v.Form.SampleReason)
	if _, ok := returns.LookupReason(reason); !ok {
		reason = returns.ReasonTooSmall
	}
	pv.Reason = reason
	// every unit no other return holds, all for the same reason
	held, err := s.returns.Holdings(ctx, m, o.ID)
	if err != nil {
		return nil, err
	}
	var items []returns.QuoteItem
	for _, l := range o.Order.Lines {
		if n := l.Quantity - held.Open[l.ID] - held.Returned[l.ID]; n > 0 {
			items = append(items, returns.QuoteItem{LineID: l.ID, Quantity: n, Reason: reason})
		}
	}
	res := returns.Resolution(v.Form.SampleResolution)
	if !edited.Allows(res) {
		res = edited.Resolutions[0]
	}
	pv.Resolution = res
	if pv.Before, err = s.returns.QuoteWith(ctx, m, cur, o, items, res); err != nil {
		return nil, err
	}
	if pv.After, err = s.returns.QuoteWith(ctx, m, edited, o, items, res); err != nil {
		return nil, err
	}
	pv.compare()
	return pv, nil
}

// compare lays the two quotes side by side.
func (pv *policyPreview) compare() {
	c := pv.Currency
	line := func(l returns.QuoteLine) string {
		if !l.Eligible {
			return "Not returnable: " + l.Message
		}
		s := money.Format(l.Subtotal, c)
		if l.RestockingFee > 0 {
			s += " (restocking fee " + money.Format(l.RestockingFee, c) + ")"
		}
		return s
	}
	for i, b := range pv.Before.Lines {
		a := pv.After.Lines[i]
		pl := previewLine{Name: b.Name, SKU: b.SKU, Quantity: b.Quantity, Before: line(b), After: line(a)}
		pl.Changed = pl.Before != pl.After
		pv.Lines = append(pv.Lines, pl)
	}
	row := func(label string, b, a int64, neg, total bool) {
		if b == 0 && a == 0 && !total {
			return
		}
		f := func(x int64) string {
			if neg && x != 0 {
				return "−" + money.Format(x, c)
			}
			return money.Format(x, c)
		}
		pv.Rows = append(pv.Rows, previewRow{Label: label, Before: f(b), After: f(a), Changed: b != a, Total: total})
	}
	b, a := pv.Before, pv.After
	row("Return label fee", b.LabelFee, a.LabelFee, true, false)
	row("Original shipping, refunded", b.ShippingRefund, a.ShippingRefund, false, false)
	row("Limit of the payment", b.CappedBy, a.CappedBy, true, false)
	row("Store-credit bonus", b.StoreCreditBonus, a.StoreCreditBonus, false, false)
	row("Total", b.Total, a.Total, false, true)
	pv.KeepItB, pv.KeepItA = b.KeepIt, a.KeepIt
}
