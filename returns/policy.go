package returns

import (
	"fmt"
	"slices"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// Resolution is what the shopper gets for a return.
type Resolution string

// The resolutions a policy can offer.
const (
	// ResolutionRefund pays the money back to the order's payment.
	ResolutionRefund Resolution = "refund"
	// ResolutionStoreCredit issues store credit, with the policy's bonus on top.
	ResolutionStoreCredit Resolution = "store_credit"
	// ResolutionExchange sends a replacement instead of paying anything back.
	ResolutionExchange Resolution = "exchange"
)

// valid reports whether r is one of the resolutions above.
func (r Resolution) valid() bool {
	return r == ResolutionRefund || r == ResolutionStoreCredit || r == ResolutionExchange
}

// RefundTrigger says which event issues the refund of a return.
type RefundTrigger string

// The refund triggers.
const (
	// TriggerOnReceipt refunds when the warehouse records the items as received.
	TriggerOnReceipt RefundTrigger = "on_receipt"
	// TriggerOnInspection refunds when the received items have been inspected.
	TriggerOnInspection RefundTrigger = "on_inspection"
	// TriggerOnCarrierScan refunds as soon as the carrier reports the parcel moving.
	TriggerOnCarrierScan RefundTrigger = "on_carrier_scan"
)

// ShippingMode says who pays the return label.
type ShippingMode string

// The return shipping modes.
const (
	// ShippingFree: the shop pays the label.
	ShippingFree ShippingMode = "free"
	// ShippingFlat: the shopper pays a flat label fee, deducted from the refund.
	ShippingFlat ShippingMode = "flat"
)

// Limits of a policy.
const (
	// MaxWindowDays is the longest return window a policy or rule may set.
	MaxWindowDays = 365
	// MaxRules is the most rules a policy may have.
	MaxRules = 500
	// MaxStoreCreditBonusBps is the largest store-credit bonus (50 %).
	MaxStoreCreditBonusBps = 5000
)

// Policy is a merchant's return policy, read and replaced with GET and PUT /v1/policy.
// DefaultPolicy is the policy of a merchant who never set one. Fields left out of a PUT
// take the defaults documented on them.
type Policy struct {
	Version               int              `json:"version" readOnly:"true" example:"3" doc:"Set by the server: increases by one on every change. Returns record the version their quote was made with."`
	WindowDays            int              `json:"window_days" required:"false" default:"30" minimum:"1" maximum:"365" example:"30" doc:"Days a shopper has to start a return, counted from delivery, else from fulfilment, else from the order."`
	Rules                 []Rule           `json:"rules" required:"false" maxItems:"500" doc:"Exceptions by category, SKU or tag. The first rule that matches a line applies to it; lines no rule matches follow the policy's defaults."`
	ReturnShipping        ReturnShipping   `json:"return_shipping" required:"false" doc:"Who pays the return label."`
	Resolutions           []Resolution     `json:"resolutions" required:"false" minItems:"1" uniqueItems:"true" enum:"refund,store_credit,exchange" example:"[\"refund\",\"store_credit\"]" doc:"Resolutions the shopper may choose, at least one. Default: refund and store_credit."`
	StoreCreditBonusBps   int              `json:"store_credit_bonus_bps" required:"false" minimum:"0" maximum:"5000" example:"1000" doc:"Bonus added to store credit, in basis points of the credited amount (1000 = 10 %)."`
	ManualReview          bool             `json:"manual_review" required:"false" doc:"When true, every return waits for staff to approve or reject it. By default (false) returns the policy accepts are approved at once and get their label."`
	RefundTrigger         RefundTrigger    `json:"refund_trigger" required:"false" default:"on_receipt" enum:"on_receipt,on_inspection,on_carrier_scan" doc:"What issues the refund: the warehouse receiving the items, their inspection, or the first carrier scan."`
	KeepItThreshold       map[string]int64 `json:"keep_it_threshold,omitempty" example:"{\"EUR\":1000}" doc:"Per currency, in minor units: a return whose refund is below it is refunded without sending the items back. A currency not listed never qualifies."`
	LabelValidityDays     int              `json:"label_validity_days" required:"false" default:"30" minimum:"1" maximum:"365" example:"30" doc:"Days a return label stays valid; a return whose parcel has not moved by then expires."`
	SerialReturner        SerialReturner   `json:"serial_returner" required:"false" doc:"Hold refunds for inspection when a shopper returns too often."`
	ExchangeRelease       ExchangeRelease  `json:"exchange_release" required:"false" default:"on_receipt" enum:"on_receipt,instant,on_carrier_scan" doc:"When the replacement of an exchange is released to the shop to ship: when the warehouse receives the returned items, at once on approval (instant; only for shoppers the serial-returner rule does not hold, others wait for receipt), or when the carrier first scans the return parcel."`
	UpsellAllowance       map[string]int64 `json:"upsell_allowance,omitempty" example:"{\"EUR\":500}" doc:"Per currency, in minor units: when a replacement costs more than the returned item, the shop absorbs the difference up to this amount; the shopper pays the rest."`
	StoreCreditExpiryDays int              `json:"store_credit_expiry_days" required:"false" minimum:"0" maximum:"3650" example:"365" doc:"Days issued store credit can be spent; 0: it never expires."`
}

// ExchangeRelease says when the replacement of an exchange is released to the shop.
type ExchangeRelease string

// The exchange release settings.
const (
	// ReleaseOnReceipt releases when the warehouse receives the returned items.
	ReleaseOnReceipt ExchangeRelease = "on_receipt"
	// ReleaseInstant releases on approval, for shoppers the serial-returner rule does
	// not hold; others wait for the receipt.
	ReleaseInstant ExchangeRelease = "instant"
	// ReleaseOnCarrierScan releases when the carrier first scans the return parcel.
	ReleaseOnCarrierScan ExchangeRelease = "on_carrier_scan"
)

// Rule is an exception to the policy for the lines it matches.
type Rule struct {
	Match            Match `json:"match" doc:"What the rule applies to: exactly one of category, sku and tag."`
	NotReturnable    bool  `json:"not_returnable" required:"false" doc:"Matching lines cannot be returned."`
	WindowDays       *int  `json:"window_days,omitempty" minimum:"1" maximum:"365" example:"14" doc:"Return window for matching lines, in days, instead of the policy's."`
	RestockingFeeBps int   `json:"restocking_fee_bps" required:"false" minimum:"0" maximum:"10000" example:"1500" doc:"Restocking fee in basis points of the returned items' value after discounts (1500 = 15 %). Waived for merchant-fault reasons."`
}

// Match selects order lines. Exactly one field is set. Category and tag compare
// case-insensitively, SKU exactly.
type Match struct {
	Category string `json:"category,omitempty" maxLength:"255" example:"swimwear" doc:"Lines of this category."`
	SKU      string `json:"sku,omitempty" maxLength:"255" example:"GIFT-CARD" doc:"Lines with this SKU."`
	Tag      string `json:"tag,omitempty" maxLength:"255" example:"clearance" doc:"Lines carrying this tag."`
}

// ReturnShipping says who pays the return label.
type ReturnShipping struct {
	Mode      ShippingMode     `json:"mode" required:"false" default:"free" enum:"free,flat" doc:"free: the shop pays the label; flat: the label fee for the order's currency is deducted from the refund."`
	LabelFees map[string]int64 `json:"label_fees,omitempty" example:"{\"EUR\":495,\"GBP\":395}" doc:"With mode flat: the label fee per currency in minor units. A currency not listed gets a free label."`
}

// SerialReturner configures the rule that holds refunds for inspection when a shopper
// starts more than MaxReturns returns within PeriodDays. The rule is applied when a
// return is created; the policy only carries its settings.
type SerialReturner struct {
	Enabled    bool `json:"enabled" required:"false" doc:"Apply the rule."`
	MaxReturns int  `json:"max_returns" required:"false" minimum:"0" example:"5" doc:"Returns a shopper may start within period_days before refunds wait for inspection. At least 1 when enabled."`
	PeriodDays int  `json:"period_days" required:"false" minimum:"0" maximum:"365" example:"90" doc:"Length of the period in days, 1 to 365 when enabled."`
}

// DefaultPolicy returns the policy of a merchant who has not set one: a 30-day window,
// free return labels, refund or store credit without bonus, approval without review, refunds on
// receipt, labels valid 30 days, no rules, no keep-it threshold and no serial-returner
// rule.
func DefaultPolicy() Policy {
	return Policy{
		WindowDays:        30,
		Rules:             []Rule{},
		ReturnShipping:    ReturnShipping{Mode: ShippingFree},
		Resolutions:       []Resolution{ResolutionRefund, ResolutionStoreCredit},
		RefundTrigger:     TriggerOnReceipt,
		LabelValidityDays: 30,
		SerialReturner:    SerialReturner{MaxReturns: 5, PeriodDays: 90},
		ExchangeRelease:   ReleaseOnReceipt,
	}
}

// Validate checks the policy and returns a *validation.Error naming every wrong field
// by its JSON path (e.g. "rules[1].match"), or nil. Version is not checked: the store
// sets it.
func (p *Policy) Validate() error {
	var v validation.Error
	if p.WindowDays < 1 || p.WindowDays > MaxWindowDays {
		v.AddValue("window_days", p.WindowDays, "must be between 1 and %d", MaxWindowDays)
	}

	if len(p.Rules) > MaxRules {
		v.Add("rules", "must have at most %d rules", MaxRules)
	}
	for i, r := range p.Rules {
		path := fmt.Sprintf("rules[%d].", i)
		set := 0
		for _, f := range []struct{ name, value string }{
			{"category", r.Match.Category}, {"sku", r.Match.SKU}, {"tag", r.Match.Tag},
		} {
			switch {
			case f.value == "":
			case strings.TrimSpace(f.value) == "" || len(f.value) > 255:
				v.AddValue(path+"match."+f.name, f.value, "must be 1 to 255 bytes, not only spaces")
				set++
			default:
				set++
			}
		}
		if set != 1 {
			v.Add(path+"match", "must set exactly one of category, sku and tag")
		}
		if r.WindowDays != nil && (*r.WindowDays < 1 || *r.WindowDays > MaxWindowDays) {
			v.AddValue(path+"window_days", *r.WindowDays, "must be between 1 and %d", MaxWindowDays)
		}
		if r.RestockingFeeBps < 0 || r.RestockingFeeBps > 10000 {
			v.AddValue(path+"restocking_fee_bps", r.RestockingFeeBps, "must be between 0 and 10000 (100 %%)")
		}
		if r.NotReturnable && (r.WindowDays != nil || r.RestockingFeeBps != 0) {
			v.Add(path+"not_returnable", "a not-returnable rule cannot also set window_days or restocking_fee_bps")
		}
	}

	switch p.ReturnShipping.Mode {
	case ShippingFree:
		if len(p.ReturnShipping.LabelFees) > 0 {
			v.Add("return_shipping.label_fees", `must be empty when mode is "free"`)
		}
	case ShippingFlat:
		if len(p.ReturnShipping.LabelFees) == 0 {
			v.Add("return_shipping.label_fees", `must give a fee for at least one currency when mode is "flat"`)
		}
	default:
		v.AddValue("return_shipping.mode", p.ReturnShipping.Mode, `must be "free" or "flat"`)
	}
	perCurrency(&v, "return_shipping.label_fees", p.ReturnShipping.LabelFees)

	if len(p.Resolutions) == 0 {
		v.Add("resolutions", "must offer at least one of refund, store_credit and exchange")
	}
	for i, r := range p.Resolutions {
		path := fmt.Sprintf("resolutions[%d]", i)
		switch {
		case !r.valid():
			v.AddValue(path, r, "must be refund, store_credit or exchange")
		case slices.Index(p.Resolutions, r) < i:
			v.AddValue(path, r, "is listed twice")
		}
	}
	if p.StoreCreditBonusBps < 0 || p.StoreCreditBonusBps > MaxStoreCreditBonusBps {
		v.AddValue("store_credit_bonus_bps", p.StoreCreditBonusBps, "must be between 0 and %d (50 %%)", MaxStoreCreditBonusBps)
	}

	switch p.RefundTrigger {
	case TriggerOnReceipt, TriggerOnInspection, TriggerOnCarrierScan:
	default:
		v.AddValue("refund_trigger", p.RefundTrigger, "must be on_receipt, on_inspection or on_carrier_scan")
	}
	perCurrency(&v, "keep_it_threshold", p.KeepItThreshold)

	if p.LabelValidityDays < 1 || p.LabelValidityDays > 365 {
		v.AddValue("label_validity_days", p.LabelValidityDays, "must be between 1 and 365")
	}

	switch p.ExchangeRelease {
	case "", ReleaseOnReceipt, ReleaseInstant, ReleaseOnCarrierScan: // "": a version saved before the setting, on_receipt
	default:
		v.AddValue("exchange_release", p.ExchangeRelease, "must be on_receipt, instant or on_carrier_scan")
	}
	perCurrency(&v, "upsell_allowance", p.UpsellAllowance)
	if p.StoreCreditExpiryDays < 0 || p.StoreCreditExpiryDays > 3650 {
		v.AddValue("store_credit_expiry_days", p.StoreCreditExpiryDays, "must be between 0 and 3650")
	}

	s := p.SerialReturner
	if s.Enabled && s.MaxReturns < 1 {
		v.AddValue("serial_returner.max_returns", s.MaxReturns, "must be at least 1 when the rule is enabled")
	} else if s.MaxReturns < 0 {
		v.AddValue("serial_returner.max_returns", s.MaxReturns, "must not be negative")
	}
	if s.Enabled && (s.PeriodDays < 1 || s.PeriodDays > 365) {
		v.AddValue("serial_returner.period_days", s.PeriodDays, "must be between 1 and 365 when the rule is enabled")
	} else if s.PeriodDays < 0 || s.PeriodDays > 365 {
		v.AddValue("serial_returner.period_days", s.PeriodDays, "must be between 0 and 365")
	}
	return v.Err()
}

// perCurrency checks a map of amounts by currency code.
func perCurrency(v *validation.Error, path string, m map[string]int64) {
	codes := make([]string, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	slices.Sort(codes) // report in a stable order
	for _, c := range codes {
		switch amount := m[c]; {
		case !money.Valid(c):
			v.AddValue(path+"."+c, c, "must be keyed by ISO 4217 currency codes in upper case, such as EUR")
		case amount < 0 || amount > money.MaxAmount:
			v.AddValue(path+"."+c, amount, "must be between 0 and %d minor units", money.MaxAmount)
		}
	}
}

// RuleFor returns the first rule whose match applies to line, and false when none does.
// Category and tag compare case-insensitively, SKU exactly.
func (p *Policy) RuleFor(line Line) (Rule, bool) {
	for _, r := range p.Rules {
		m := r.Match
		switch {
		case m.Category != "" && strings.EqualFold(m.Category, line.Category),
			m.SKU != "" && m.SKU == line.SKU,
			m.Tag != "" && slices.ContainsFunc(line.Tags, func(t string) bool { return strings.EqualFold(m.Tag, t) }):
			return r, true
		}
	}
	return Rule{}, false
}

// Allows reports whether the policy offers resolution r.
func (p *Policy) Allows(r Resolution) bool {
	return r.valid() && slices.Contains(p.Resolutions, r)
}

// LabelFee returns the return label fee for an order in currency, in minor units: 0
// when return shipping is free or the currency has no fee.
func (p *Policy) LabelFee(currency string) int64 {
	if p.ReturnShipping.Mode != ShippingFlat {
		return 0
	}
	return p.ReturnShipping.LabelFees[currency]
}

// windowDays returns the return window for a line matched by rule (ok false: no rule).
func (p *Policy) windowDays(rule Rule, ok bool) int {
	if ok && rule.WindowDays != nil {
		return *rule.WindowDays
	}
	return p.WindowDays
}

// KeepExchangeSettings copies from p0 the settings that only the API edits (when
// exchanges are released, the upsell allowance and the expiry of store credit), so
// that a form that does not show them keeps them as they are.
func (p *Policy) KeepExchangeSettings(p0 Policy) {
	p.ExchangeRelease, p.UpsellAllowance, p.StoreCreditExpiryDays = p0.ExchangeRelease, p0.UpsellAllowance, p0.StoreCreditExpiryDays
}

// settingsAdded gives a stored version the defaults of settings added after it was
// saved.
func (p *Policy) settingsAdded() {
	if p.ExchangeRelease == "" {
		p.ExchangeRelease = ReleaseOnReceipt
	}
}

// fillDefaults gives the fields a PUT left out, and that have no schema default, the
// values of DefaultPolicy.
func (p *Policy) fillDefaults() {
	d := DefaultPolicy()
	if p.Rules == nil {
		p.Rules = d.Rules
	}
	if len(p.Resolutions) == 0 {
		p.Resolutions = d.Resolutions
	}
	if p.ReturnShipping.Mode == "" {
		p.ReturnShipping.Mode = d.ReturnShipping.Mode
	}
	if p.RefundTrigger == "" {
		p.RefundTrigger = d.RefundTrigger
	}
	if p.SerialReturner == (SerialReturner{}) {
		p.SerialReturner = d.SerialReturner
	}
	if p.ExchangeRelease == "" {
		p.ExchangeRelease = d.ExchangeRelease
	}
}
