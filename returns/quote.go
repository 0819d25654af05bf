package returns

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// Quote prices a return before it exists, as POST /v1/returns/quote shows it to the
// shopper and as the return stores it. It is pure: everything it depends on is in in,
// and it never fails — what cannot be returned is reported as ineligible, line by line
// or, for the resolution, in QuoteResult.Issues. Order and Policy are assumed valid (see
// their Validate methods); QuoteInput.Validate checks the shopper's part.
//
// # Signs
//
// Every amount is a non-negative number of minor units of the order's currency.
// Discounts and fees are shown as positive numbers and subtracted:
//
//	line subtotal = item_amount − discount + tax − restocking_fee
//	items_total   = Σ eligible line subtotals
//	total         = min(items_total − label_fee + shipping_refund, refundable) + store_credit_bonus
//
// # Allocation
//
// The order-level discount is first allocated over all the order's lines by their net
// value (unit_price × quantity − line discount) with money.Allocate. Each line's
// discount (its own plus that share), and its tax, are then allocated over its units,
// equally, the same way (the first units take the odd minor units). Every unit of a line
// has a position 0..quantity−1; a return takes the lowest positions that no other return
// of the order holds (Prior.Units) and gets exactly those units' shares, which it records
// in QuoteLine.Units. So the returns of an order, together, refund exactly the order's
// discounts and taxes, however its units are split between them.
//
// # Fees
//
// The restocking fee is the matching rule's basis points of the line's net amount
// (item_amount − discount, before tax), rounded half up; the label fee is the policy's
// flat fee for the order's currency. The restocking fee is waived on a line with a
// merchant-fault reason; the label fee when any returned line has one, and when the
// return qualifies for keep-it (no label is needed). Fees are limited to the goods amount: a restocking fee never exceeds its line's net amount
// and the label fee never exceeds items_total, so a total is never negative.
//
// # Order-level amounts
//
// When a returned line has a merchant-fault reason, the order's original shipping and
// shipping tax are refunded, less Prior.ShippingRefunded, so at most once per order. The
// refund is capped by what is still refundable on the payment (captured −
// Prior.Refunded), and Capped says so. Keep-it applies when that capped amount, before
// any label fee and bonus, is below the policy's threshold for the currency. With the
// store_credit resolution a bonus of the policy's basis points of the capped amount is
// added; the bonus is the shop's and is not taken from the payment (PaymentAmount).
//
// A quote of items with a value whose total still comes to 0 (the fees, or the cap,
// take it all) is not eligible (IneligibleNothingBack): the shopper would give up the
// items, and the shop pay for a label, for nothing.
func Quote(in QuoteInput) QuoteResult {
	o, p := &in.Order, &in.Policy
	q := QuoteResult{
		Currency:   o.Currency,
		Resolution: in.Resolution,
		Lines:      make([]QuoteLine, 0, len(in.Items)),
	}
	exchange := in.Resolution == ResolutionExchange
	if len(in.Items) == 0 {
		q.Issues = append(q.Issues, QuoteIssue{Path: "items", Code: IneligibleNoItems, Message: "Choose at least one item to return."})
	}
	if !p.Allows(in.Resolution) {
		q.Issues = append(q.Issues, QuoteIssue{Path: "resolution", Code: IneligibleResolutionNotAllowed, Message: resolutionMessage(p, in.Resolution)})
	}

	orderShares := orderDiscountShares(o)
	seen := make(map[string]bool, len(in.Items))
	anyEligible, fault := false, false
	for _, it := range in.Items {
		ql := quoteLine(in, it, seen, orderShares)
		if ql.Eligible {
			anyEligible = true
			fault = fault || ql.MerchantFault
			q.ItemsTotal += ql.Subtotal
		}
		q.Lines = append(q.Lines, ql)
	}
	var ex ExchangeQuote
	if exchange {
		ex.DifferenceAs = in.DifferenceAs
		if ex.DifferenceAs == "" {
			ex.DifferenceAs = ResolutionRefund
		}
		for _, l := range q.Lines {
			if l.Eligible && l.Exchange != nil {
				ex.ReturnedValue += l.Subtotal
				ex.ReplacementValue += l.Exchange.Amount
			}
		}
		ex.Difference = ex.ReturnedValue - ex.ReplacementValue
		if p.Allows(ResolutionExchange) && !slices.ContainsFunc(q.Lines, func(l QuoteLine) bool { return l.Eligible && l.Exchange != nil }) {
			q.Issues = append(q.Issues, QuoteIssue{Path: "items", Code: IneligibleNoReplacement,
				Message: "Choose what you would like instead for at least one item, or choose a refund."})
		}
		if ex.DifferenceAs != ResolutionRefund && !p.Allows(ex.DifferenceAs) {
			q.Issues = append(q.Issues, QuoteIssue{Path: "difference_as", Code: IneligibleResolutionNotAllowed,
				Message: "This shop does not offer store credit. The difference is refunded to your payment."})
		}
	}
	q.Eligible = anyEligible && len(q.Issues) == 0

	if fault {
		q.ShippingRefund = max(0, o.Shipping+o.ShippingTax-max(0, in.Prior.ShippingRefunded))
	}
	q.Refundable = max(0, o.Payment.Captured-max(0, in.Prior.Refunded))

	base := q.ItemsTotal + q.ShippingRefund
	if threshold, ok := p.KeepItThreshold[o.Currency]; ok && q.Eligible && !exchange && min(base, q.Refundable) < threshold {
		q.KeepIt = true
	}
	if !q.KeepIt && !fault {
		q.LabelFee = min(p.LabelFee(o.Currency), q.ItemsTotal)
	}
	base -= q.LabelFee
	if exchange {
		// the returned items pay for the replacements first; what they do not cover
		// the shop absorbs up to its upsell allowance, and the shopper pays the rest
		q.Replacements = min(ex.ReplacementValue, max(base, 0))
		base -= q.Replacements
		due := ex.ReplacementValue - q.Replacements
		ex.UpsellAllowance = p.UpsellAllowance[o.Currency]
		ex.Absorbed = min(due, ex.UpsellAllowance)
		ex.AmountDue = due - ex.Absorbed
	}
	if base > q.Refundable {
		q.Capped = true
		q.CappedBy = base - q.Refundable
		base = q.Refundable
		q.CapMessage = fmt.Sprintf("The refund is limited to %s, the amount still refundable on this order's payment.", money.Format(base, o.Currency))
	}
	if in.Resolution == ResolutionStoreCredit {
		q.StoreCreditBonusBps = p.StoreCreditBonusBps
		q.StoreCreditBonus = money.BasisPoints(base, int64(q.StoreCreditBonusBps))
	}
	q.PaymentAmount = base
	q.Total = base + q.StoreCreditBonus
	if exchange {
		ex.Refund = q.Total
		q.Exchange = &ex
	}
	if q.Eligible && !exchange && q.Total <= 0 && q.ItemsTotal+q.ShippingRefund > 0 {
		// the fees (or what is left on the payment) take everything the items are
		// worth: the shopper would send them back, and the shop issue a label, for
		// nothing (items of no value, such as a free gift, can still go back)
		q.Eligible, q.KeepIt = false, false
		q.Issues = append(q.Issues, QuoteIssue{Path: "items", Code: IneligibleNothingBack, Message: nothingBackMessage(q)})
	}
	return q
}

// nothingBackMessage tells the shopper why a return is worth nothing to them.
func nothingBackMessage(q QuoteResult) string {
	const prefix = "You would get nothing back for these items: "
	f := func(x int64) string { return money.Format(x, q.Currency) }
	var restocking int64
	for _, l := range q.Lines {
		if l.Eligible {
			restocking += l.RestockingFee
		}
	}
	var fees []string
	if restocking > 0 {
		fees = append(fees, "the restocking fee of "+f(restocking))
	}
	if q.LabelFee > 0 {
		fees = append(fees, "the return label fee of "+f(q.LabelFee))
	}
	switch {
	case q.Refundable == 0:
		return prefix + "nothing is left to refund on this order's payment."
	case len(fees) > 0:
		return prefix + strings.Join(fees, " and ") + " would take their whole value, so they cannot be returned."
	}
	return prefix + "they cannot be returned."
}

// QuoteInput is everything a quote depends on.
type QuoteInput struct {
	// Order is the order as the shop sent it.
	Order Order
	// Policy is the merchant's current policy.
	Policy Policy
	// Items are the units the shopper wants to return.
	Items []QuoteItem
	// Resolution is what the shopper wants instead.
	Resolution Resolution
	// Now is the moment of the quote, for the return window.
	Now time.Time
	// Prior is what the order's other returns already hold and were paid.
	Prior Prior
	// Catalogue holds, by SKU, the variants the items ask for in exchange
	// (QuoteItem.ExchangeSKU); a SKU missing from it is not offered.
	Catalogue map[string]StockedVariant
	// DifferenceAs is how an exchange pays back what the replacements cost less than
	// the returned items: refund (the default) or store_credit.
	DifferenceAs Resolution
}

// QuoteItem is a line of the order that the shopper wants to return.
type QuoteItem struct {
	LineID   string     `json:"line_id" minLength:"1" maxLength:"255" example:"line-1" doc:"Id of the order line."`
	Quantity int        `json:"quantity" minimum:"1" maximum:"1000000" example:"1" doc:"Units to return."`
	Reason   ReasonCode `json:"reason" enum:"too_small,too_large,not_as_described,damaged,wrong_item,changed_mind,arrived_late,other" example:"too_small" doc:"Why the units go back. damaged, wrong_item and not_as_described are the shop's fault: no fees, and the original shipping is refunded."`
	// ExchangeSKU is the variant wanted instead, with resolution exchange.
	ExchangeSKU string `json:"exchange_sku,omitempty" maxLength:"255" example:"TEE-BLK-L" doc:"With resolution exchange: the SKU of the variant of the same product wanted instead (another size or colour), as many units as returned. Items without it are refunded."`
}

// Prior is what the order's other returns already account for. Returns that were
// cancelled, rejected or expired hold nothing and count for nothing.
type Prior struct {
	// Units holds, by line id, the unit positions that other returns hold: the Units of
	// their quotes' lines.
	Units map[string][]UnitRange
	// Refunded is what the order's payment has already given back or committed to other
	// returns: refunds issued or in flight and store credit issued against it (their
	// quotes' PaymentAmount, bonuses excluded).
	Refunded int64
	// ShippingRefunded is the original shipping and shipping tax that other returns
	// refunded (their quotes' ShippingRefund).
	ShippingRefunded int64
}

// UnitRange is Count units of an order line starting at position First (0-based).
type UnitRange struct {
	First int `json:"first" minimum:"0" example:"0" doc:"Position of the first unit within the order line, from 0."`
	Count int `json:"count" minimum:"1" example:"1" doc:"Number of units."`
}

// Ineligibility is the machine code of why something cannot be returned.
type Ineligibility string

// The reasons a line or a whole quote is not eligible.
const (
	// IneligibleOutsideWindow: the return window of the line has ended.
	IneligibleOutsideWindow Ineligibility = "outside_window"
	// IneligibleFinalSale: the line was sold as final sale.
	IneligibleFinalSale Ineligibility = "final_sale"
	// IneligibleNotReturnable: a policy rule makes the line not returnable.
	IneligibleNotReturnable Ineligibility = "not_returnable"
	// IneligibleQuantityExceeded: more units were asked than are left to return.
	IneligibleQuantityExceeded Ineligibility = "quantity_exceeded"
	// IneligibleUnknownLine: the order has no such line.
	IneligibleUnknownLine Ineligibility = "unknown_line"
	// IneligibleDuplicateLine: the line was asked for twice in one return.
	IneligibleDuplicateLine Ineligibility = "duplicate_line"
	// IneligibleInvalidQuantity: the quantity asked is below 1.
	IneligibleInvalidQuantity Ineligibility = "invalid_quantity"
	// IneligibleInvalidReason: the reason is not in the catalogue.
	IneligibleInvalidReason Ineligibility = "invalid_reason"
	// IneligibleResolutionNotAllowed: the policy does not offer the resolution (quote level).
	IneligibleResolutionNotAllowed Ineligibility = "resolution_not_allowed"
	// IneligibleNoItems: the quote asks for no item (quote level).
	IneligibleNoItems Ineligibility = "no_items"
	// IneligibleExchangeUnavailable: the variant asked for in exchange is not offered
	// for this line (unknown, of another product, or not sold in the order's currency).
	IneligibleExchangeUnavailable Ineligibility = "exchange_unavailable"
	// IneligibleNoReplacement: an exchange names no replacement (quote level).
	IneligibleNoReplacement Ineligibility = "no_replacement"
	// IneligibleNothingBack: the return would be worth nothing to the shopper: the
	// fees take the whole value of the items, or nothing is left to refund on the
	// payment (quote level).
	IneligibleNothingBack Ineligibility = "nothing_back"
)

// QuoteIssue is a reason why the quote as a whole is not eligible, for the request field
// at Path.
type QuoteIssue struct {
	Path    string        `json:"path" example:"resolution" doc:"JSON path of the request field at fault."`
	Code    Ineligibility `json:"code" example:"resolution_not_allowed" doc:"Machine code."`
	Message string        `json:"message" example:"This shop does not offer store credit. Choose a refund." doc:"What is wrong, for the shopper."`
}

// Amounts is the order-level make-up of a quote, or of part of it (ForAccepted). Every
// amount is in minor units and non-negative; Total = ItemsTotal − LabelFee + ShippingRefund −
// CappedBy + StoreCreditBonus.
type Amounts struct {
	ItemsTotal       int64 `json:"items_total" example:"4750" doc:"Sum of the eligible lines' subtotals."`
	LabelFee         int64 `json:"label_fee" example:"495" doc:"Return label fee, subtracted. 0 with free return shipping, merchant-fault reasons and keep-it; never more than items_total."`
	ShippingRefund   int64 `json:"shipping_refund" example:"0" doc:"Original shipping and its tax, refunded once per order when an item has a merchant-fault reason."`
	CappedBy         int64 `json:"capped_by" example:"0" doc:"Amount removed because the payment has no more to refund."`
	StoreCreditBonus int64 `json:"store_credit_bonus" example:"0" doc:"Bonus added to store credit; not taken from the payment."`
	Replacements     int64 `json:"replacements" example:"0" doc:"Exchange: the part of the replacements' price that the returned items pay for, subtracted."`
	Total            int64 `json:"total" example:"4255" doc:"What the shopper gets back."`
}

// QuoteResult is a priced return: eligibility and amounts line by line, then for the
// whole return. See Quote for the rules.
type QuoteResult struct {
	Eligible   bool         `json:"eligible" doc:"True when the return can be created: at least one line is eligible and there is no issue."`
	Issues     []QuoteIssue `json:"issues,omitempty" doc:"Why the quote as a whole is not eligible."`
	Currency   string       `json:"currency" example:"EUR" doc:"ISO 4217 currency of every amount."`
	Resolution Resolution   `json:"resolution" enum:"refund,store_credit,exchange" example:"refund" doc:"The resolution quoted."`
	Lines      []QuoteLine  `json:"lines" doc:"One entry per requested item, in request order."`
	Amounts
	Refundable          int64          `json:"refundable" example:"5493" doc:"What was still refundable on the order's payment before this return."`
	Capped              bool           `json:"capped" doc:"True when the total was limited to refundable."`
	CapMessage          string         `json:"cap_message,omitempty" doc:"Explains the cap, for the shopper."`
	StoreCreditBonusBps int            `json:"store_credit_bonus_bps" example:"0" doc:"The policy's store-credit bonus in basis points, when the resolution is store_credit."`
	PaymentAmount       int64          `json:"payment_amount" example:"4255" doc:"Part of total taken from the order's payment: total without the store-credit bonus."`
	KeepIt              bool           `json:"keep_it" doc:"True when the shopper keeps the items: the refund is returnless, with no label."`
	Exchange            *ExchangeQuote `json:"exchange,omitempty" doc:"With resolution exchange: what the replacements cost against what the returned items are worth."`
}

// ExchangeQuote is the money side of an exchange. Difference = returned_value −
// replacement_value: when positive it comes back to the shopper (total, as a refund
// or store credit per difference_as); when negative the shop absorbs up to its
// upsell allowance and the shopper pays amount_due through Stripe Checkout before
// the exchange goes ahead.
type ExchangeQuote struct {
	ReturnedValue    int64      `json:"returned_value" example:"2700" doc:"Subtotals of the items exchanged."`
	ReplacementValue int64      `json:"replacement_value" example:"2500" doc:"Price of the replacements."`
	Difference       int64      `json:"difference" example:"200" doc:"returned_value − replacement_value; negative when the replacements cost more."`
	UpsellAllowance  int64      `json:"upsell_allowance" example:"0" doc:"The policy's upsell allowance in this currency: a dearer replacement costs the shopper nothing up to it."`
	Absorbed         int64      `json:"absorbed" example:"0" doc:"Part of a dearer replacement's extra price the shop absorbs."`
	AmountDue        int64      `json:"amount_due" example:"0" doc:"What the shopper pays through Stripe Checkout."`
	Refund           int64      `json:"refund" example:"200" doc:"What comes back to the shopper (the quote's total): the difference, and the value of items returned without a replacement."`
	DifferenceAs     Resolution `json:"difference_as" enum:"refund,store_credit" example:"refund" doc:"How refund is paid back."`
}

// QuoteLine is the quote for one requested item. Amounts are zero when it is not
// eligible.
type QuoteLine struct {
	LineID         string        `json:"line_id" example:"line-1" doc:"Id of the order line."`
	SKU            string        `json:"sku,omitempty" example:"TEE-BLK-M" doc:"SKU of the order line."`
	Name           string        `json:"name,omitempty" example:"Black T-shirt, M" doc:"Product name."`
	Reason         ReasonCode    `json:"reason" enum:"too_small,too_large,not_as_described,damaged,wrong_item,changed_mind,arrived_late,other" example:"too_small" doc:"Reason given."`
	MerchantFault  bool          `json:"merchant_fault" doc:"True when the reason is the shop's fault."`
	Quantity       int           `json:"quantity" example:"1" doc:"Units requested."`
	Returnable     int           `json:"returnable" example:"2" doc:"Units of the line not held by other returns."`
	Eligible       bool          `json:"eligible" doc:"True when these units can be returned."`
	Code           Ineligibility `json:"code,omitempty" example:"outside_window" doc:"Why the line is not eligible."`
	Message        string        `json:"message,omitempty" example:"Return window ended on 3 March 2026." doc:"Why the line is not eligible, for the shopper."`
	LastEligibleAt *time.Time    `json:"last_eligible_at,omitempty" format:"date-time" doc:"End of the line's return window."`
	Units          []UnitRange   `json:"units,omitempty" doc:"Positions of the units within the order line that this return takes."`
	UnitPrice      int64         `json:"unit_price" example:"2500" doc:"Price of one unit before discounts and tax."`
	ItemAmount     int64         `json:"item_amount" example:"2500" doc:"unit_price × quantity."`
	Discount       int64         `json:"discount" example:"250" doc:"Discount on these units, subtracted: their share of the line discount and of the order discount."`
	OrderDiscount  int64         `json:"order_discount" example:"100" doc:"Part of discount that comes from the order-level discount."`
	Tax            int64         `json:"tax" example:"450" doc:"Tax charged on these units, refunded."`
	RestockingBps  int           `json:"restocking_fee_bps" example:"0" doc:"Restocking fee rate applied, in basis points."`
	RestockingFee  int64         `json:"restocking_fee" example:"0" doc:"Restocking fee, subtracted: restocking_fee_bps of item_amount − discount, rounded half up."`
	Subtotal       int64         `json:"subtotal" example:"2700" doc:"item_amount − discount + tax − restocking_fee."`
	Exchange       *LineExchange `json:"exchange,omitempty" doc:"The replacement asked for this line (resolution exchange)."`
}

// LineExchange is the replacement of one returned line.
type LineExchange struct {
	SKU        string          `json:"sku" example:"TEE-BLK-L"`
	ProductID  string          `json:"product_id" example:"tee-classic"`
	Name       string          `json:"name" example:"Classic T-shirt, black, L"`
	Options    []VariantOption `json:"options"`
	ImageURL   string          `json:"image_url,omitempty"`
	UnitPrice  int64           `json:"unit_price" example:"2500" doc:"The replacement's price per unit in the order's currency."`
	Amount     int64           `json:"amount" example:"2500" doc:"unit_price × quantity."`
	Difference int64           `json:"difference" example:"200" doc:"The line's subtotal − amount: positive comes back to the shopper, negative is to pay."`
	InStock    int             `json:"in_stock" example:"3" doc:"Units that can still be promised when quoted; creating the exchange holds them, or answers 409 when another exchange took the last."`
}

// Validate checks the shopper's part of the input, Items and Resolution, and returns a
// *validation.Error naming every wrong field by its JSON path ("items[2].quantity"), or
// nil. Whether the resolution is offered and the lines are returnable is not a
// validation matter: Quote reports it.
func (in *QuoteInput) Validate() error {
	var v validation.Error
	switch {
	case len(in.Items) == 0:
		v.Add("items", "must have at least one item")
	case len(in.Items) > MaxOrderLines:
		v.Add("items", "must have at most %d items", MaxOrderLines)
	}
	seen := make(map[string]int, len(in.Items))
	for i, it := range in.Items {
		p := fmt.Sprintf("items[%d].", i)
		if strings.TrimSpace(it.LineID) == "" {
			v.Add(p+"line_id", "must not be empty")
		} else if j, dup := seen[it.LineID]; dup {
			v.AddValue(p+"line_id", it.LineID, "duplicates items[%d].line_id: give each line once with its total quantity", j)
		} else {
			seen[it.LineID] = i
		}
		if it.Quantity < 1 || it.Quantity > MaxLineQuantity {
			v.AddValue(p+"quantity", it.Quantity, "must be between 1 and %d", MaxLineQuantity)
		}
		if _, ok := LookupReason(it.Reason); !ok {
			v.AddValue(p+"reason", it.Reason, "must be one of too_small, too_large, not_as_described, damaged, wrong_item, changed_mind, arrived_late, other")
		}
		switch {
		case it.ExchangeSKU == "":
		case in.Resolution != ResolutionExchange:
			v.AddValue(p+"exchange_sku", it.ExchangeSKU, "is only for resolution exchange")
		case strings.TrimSpace(it.ExchangeSKU) == "" || len(it.ExchangeSKU) > 255:
			v.AddValue(p+"exchange_sku", it.ExchangeSKU, "must be 1 to 255 bytes, not only spaces")
		}
	}
	if !in.Resolution.valid() {
		v.AddValue("resolution", in.Resolution, "must be refund, store_credit or exchange")
	}
	switch in.DifferenceAs {
	case "", ResolutionRefund, ResolutionStoreCredit:
		if in.DifferenceAs != "" && in.Resolution != ResolutionExchange {
			v.AddValue("difference_as", in.DifferenceAs, "is only for resolution exchange")
		}
	default:
		v.AddValue("difference_as", in.DifferenceAs, "must be refund or store_credit")
	}
	return v.Err()
}

// ForAccepted returns what the subset of the quoted units in accepted (units by line id)
// is worth, by the quote's own rules, so that a return received in several parcels, or
// partly rejected at inspection, is refunded consistently:
//
//   - each line's discount and tax are allocated over its quoted units as in Quote, and
//     the restocking fee is recomputed on the accepted units;
//   - the label fee is charged once, in full, limited to the accepted items' amount;
//   - the shipping refund comes with the first accepted unit of a merchant-fault line;
//   - the cap and the bonus apply as in the quote.
//
// With every quoted unit accepted it returns the quote's Amounts exactly, and it never
// decreases when units are added. So the refund of a receipt is
// ForAccepted(accepted after).Total − ForAccepted(accepted before).Total, and the
// receipts of a return add up exactly to its quote. Lines not in the quote, ineligible
// lines and quantities beyond the quoted ones are ignored. It does not know what the
// payment has refunded since the quote: the caller still limits the refund to that.
func (q QuoteResult) ForAccepted(accepted map[string]int) Amounts {
	var a Amounts
	units, fault := false, false
	var replacements int64
	for _, l := range q.Lines {
		n := min(max(accepted[l.LineID], 0), l.Quantity)
		if !l.Eligible || n == 0 {
			continue
		}
		units = true
		if l.Exchange != nil {
			replacements += l.Exchange.UnitPrice * int64(n)
		}
		fault = fault || l.MerchantFault
		item := l.UnitPrice * int64(n)
		discount := unitShares(l.Discount, l.Quantity, UnitRange{0, n})
		tax := unitShares(l.Tax, l.Quantity, UnitRange{0, n})
		a.ItemsTotal += item - discount + tax - restockingFee(item-discount, l.RestockingBps)
	}
	if !units {
		return Amounts{}
	}
	a.LabelFee = min(q.LabelFee, a.ItemsTotal)
	if fault {
		a.ShippingRefund = q.ShippingRefund
	}
	base := a.ItemsTotal - a.LabelFee + a.ShippingRefund
	a.Replacements = min(replacements, max(base, 0))
	base -= a.Replacements
	if base > q.PaymentAmount {
		a.CappedBy = base - q.PaymentAmount
		base = q.PaymentAmount
	}
	a.StoreCreditBonus = money.BasisPoints(base, int64(q.StoreCreditBonusBps))
	a.Total = base + a.StoreCreditBonus
	return a
}

// Summary renders the quote as plain text, one line per item and per order-level
// amount, for emails, the timeline and logs.
func (q QuoteResult) Summary() string {
	var b strings.Builder
	f := func(x int64) string { return money.Format(x, q.Currency) }
	for _, l := range q.Lines {
		if l.Name != "" {
			fmt.Fprintf(&b, "%d × %s (%s): ", l.Quantity, l.Name, l.LineID)
		} else {
			fmt.Fprintf(&b, "%d × %s: ", l.Quantity, l.LineID)
		}
		if !l.Eligible {
			fmt.Fprintf(&b, "not eligible: %s\n", l.Message)
			continue
		}
		fmt.Fprintf(&b, "%s", f(l.ItemAmount))
		if l.Discount != 0 {
			fmt.Fprintf(&b, " − %s discount", f(l.Discount))
		}
		if l.Tax != 0 {
			fmt.Fprintf(&b, " + %s tax", f(l.Tax))
		}
		if l.RestockingFee != 0 {
			fmt.Fprintf(&b, " − %s restocking fee", f(l.RestockingFee))
		}
		fmt.Fprintf(&b, " = %s\n", f(l.Subtotal))
		if x := l.Exchange; x != nil {
			fmt.Fprintf(&b, "  exchanged for %d × %s (%s): %s\n", l.Quantity, x.Name, x.SKU, f(x.Amount))
		}
	}
	if q.LabelFee != 0 {
		fmt.Fprintf(&b, "Return label: −%s\n", f(q.LabelFee))
	}
	if q.ShippingRefund != 0 {
		fmt.Fprintf(&b, "Original shipping refunded: %s\n", f(q.ShippingRefund))
	}
	if q.Capped {
		fmt.Fprintf(&b, "%s\n", q.CapMessage)
	}
	if q.StoreCreditBonus != 0 {
		fmt.Fprintf(&b, "Store credit bonus: %s\n", f(q.StoreCreditBonus))
	}
	switch q.Resolution {
	case ResolutionStoreCredit:
		fmt.Fprintf(&b, "Store credit: %s\n", f(q.Total))
	case ResolutionExchange:
		if x := q.Exchange; x != nil {
			if x.Absorbed > 0 {
				fmt.Fprintf(&b, "Paid by the shop: %s\n", f(x.Absorbed))
			}
			if x.AmountDue > 0 {
				fmt.Fprintf(&b, "To pay for the exchange: %s\n", f(x.AmountDue))
			}
			if x.DifferenceAs == ResolutionStoreCredit {
				fmt.Fprintf(&b, "Store credit: %s\n", f(q.Total))
			} else {
				fmt.Fprintf(&b, "Refund: %s\n", f(q.Total))
			}
		} else {
			fmt.Fprintf(&b, "Exchange value: %s\n", f(q.Total))
		}
	default:
		fmt.Fprintf(&b, "Refund: %s\n", f(q.Total))
	}
	if q.KeepIt {
		b.WriteString("Keep the items: no need to send them back.\n")
	}
	for _, is := range q.Issues {
		fmt.Fprintf(&b, "Not eligible: %s\n", is.Message)
	}
	return b.String()
}

// quoteLine prices one requested item. seen tracks the line ids already quoted.
func quoteLine(in QuoteInput, it QuoteItem, seen map[string]bool, orderShares map[string]int64) QuoteLine {
	ql := QuoteLine{LineID: it.LineID, Reason: it.Reason, Quantity: it.Quantity}
	reason, reasonOK := LookupReason(it.Reason)
	ql.MerchantFault = reason.MerchantFault
	line, lineOK := in.Order.Line(it.LineID)
	if lineOK {
		ql.SKU, ql.Name, ql.UnitPrice = line.SKU, line.Name, line.UnitPrice
	}
	ineligible := func(code Ineligibility, format string, args ...any) QuoteLine {
		ql.Code, ql.Message = code, fmt.Sprintf(format, args...)
		return ql
	}
	switch {
	case !lineOK:
		return ineligible(IneligibleUnknownLine, "This order has no line %q.", it.LineID)
	case seen[it.LineID]:
		return ineligible(IneligibleDuplicateLine, "This item is listed twice; give it once with the total quantity.")
	}
	seen[it.LineID] = true

	taken, held := holdings(in.Prior.Units[line.ID], line.Quantity)
	ql.Returnable = line.Quantity - held
	switch {
	case it.Quantity < 1:
		return ineligible(IneligibleInvalidQuantity, "Choose at least 1 unit.")
	case !reasonOK:
		return ineligible(IneligibleInvalidReason, "Choose a reason from the list.")
	case line.FinalSale:
		return ineligible(IneligibleFinalSale, "Final-sale items cannot be returned.")
	}
	rule, ruled := in.Policy.RuleFor(line)
	if ruled && rule.NotReturnable {
		return ineligible(IneligibleNotReturnable, "This item cannot be returned.")
	}
	deadline := in.Order.WindowStart().AddDate(0, 0, in.Policy.windowDays(rule, ruled))
	ql.LastEligibleAt = &deadline
	switch {
	case in.Now.After(deadline):
		return ineligible(IneligibleOutsideWindow, "Return window ended on %s.", deadline.Format("2 January 2006"))
	case ql.Returnable == 0:
		return ineligible(IneligibleQuantityExceeded, "Nothing left to return: all %d are already in other returns.", line.Quantity)
	case it.Quantity > ql.Returnable:
		return ineligible(IneligibleQuantityExceeded, "Only %d left to return.", ql.Returnable)
	}

	if it.ExchangeSKU != "" && in.Resolution == ResolutionExchange {
		v, ok := in.Catalogue[it.ExchangeSKU]
		price, priced := v.Prices[in.Order.Currency]
		switch {
		case !ok || line.ProductID == "" || v.ProductID != line.ProductID:
			return ineligible(IneligibleExchangeUnavailable, "%s cannot be exchanged for %q: it is not another size or colour of it.", line.Name, it.ExchangeSKU)
		case !priced:
			return ineligible(IneligibleExchangeUnavailable, "%s is not sold in %s.", v.Name, in.Order.Currency)
		}
		ql.Exchange = &LineExchange{SKU: v.SKU, ProductID: v.ProductID, Name: v.Name, Options: v.Options, ImageURL: v.ImageURL,
			UnitPrice: price, Amount: price * int64(it.Quantity), InStock: v.InStock}
	}
	ql.Eligible = true
	ql.Units = freeUnits(taken, it.Quantity)
	discount := line.Discount + orderShares[line.ID]
	for _, r := range ql.Units {
		ql.Discount += unitShares(discount, line.Quantity, r)
		ql.OrderDiscount += unitShares(discount, line.Quantity, r) - unitShares(line.Discount, line.Quantity, r)
		ql.Tax += unitShares(line.Tax, line.Quantity, r)
	}
	ql.ItemAmount = line.UnitPrice * int64(it.Quantity)
	if ruled && !ql.MerchantFault {
		ql.RestockingBps = rule.RestockingFeeBps
	}
	ql.RestockingFee = restockingFee(ql.ItemAmount-ql.Discount, ql.RestockingBps)
	ql.Subtotal = ql.ItemAmount - ql.Discount + ql.Tax - ql.RestockingFee
	if x := ql.Exchange; x != nil {
		x.Difference = ql.Subtotal - x.Amount
	}
	return ql
}

// orderDiscountShares allocates the order-level discount over the order's lines by
// their net value, by line id.
func orderDiscountShares(o *Order) map[string]int64 {
	weights := make([]int64, len(o.Lines))
	for i, l := range o.Lines {
		weights[i] = max(0, l.net())
	}
	shares := make(map[string]int64, len(o.Lines))
	if len(o.Lines) == 0 {
		return shares
	}
	for i, s := range money.Allocate(o.Discount, weights) {
		if _, dup := shares[o.Lines[i].ID]; !dup { // Order.Line finds the first too
			shares[o.Lines[i].ID] = s
		}
	}
	return shares
}

// unitShares returns the sum of the shares of the units in r when total is allocated
// equally over units units with money.Allocate: every unit gets total/units and the
// first total%units units one more. total must not be negative.
func unitShares(total int64, units int, r UnitRange) int64 {
	if units <= 0 {
		return 0
	}
	cum := func(n int) int64 { // shares of units 0..n-1
		n = min(max(n, 0), units)
		return int64(n)*(total/int64(units)) + min(int64(n), total%int64(units))
	}
	return cum(r.First+r.Count) - cum(r.First)
}

// restockingFee is bps of net, rounded half up, at most net.
func restockingFee(net int64, bps int) int64 {
	if net <= 0 || bps <= 0 {
		return 0
	}
	return min(money.BasisPoints(net, int64(bps)), net)
}

// holdings merges the unit ranges other returns hold on a line of quantity units,
// clamped to the line, and returns them sorted with the number of units they cover.
func holdings(held []UnitRange, quantity int) ([]UnitRange, int) {
	var rs []UnitRange
	for _, r := range held {
		if r.Count <= 0 || r.First >= quantity {
			continue
		}
		end := quantity
		if r.First < 0 || r.Count < quantity-r.First { // no overflow either way
			end = min(quantity, r.First+r.Count)
		}
		if first := max(r.First, 0); end > first {
			rs = append(rs, UnitRange{first, end - first})
		}
	}
	slices.SortFunc(rs, func(a, b UnitRange) int { return a.First - b.First })
	var merged []UnitRange
	n := 0
	for _, r := range rs {
		if k := len(merged) - 1; k >= 0 && r.First <= merged[k].First+merged[k].Count {
			end := max(merged[k].First+merged[k].Count, r.First+r.Count)
			n += end - (merged[k].First + merged[k].Count)
			merged[k].Count = end - merged[k].First
			continue
		}
		merged = append(merged, r)
		n += r.Count
	}
	return merged, n
}

// freeUnits returns the lowest count positions not in taken (sorted, merged), as ranges.
func freeUnits(taken []UnitRange, count int) []UnitRange {
	var free []UnitRange
	pos := 0
	for _, t := range taken {
		if count == 0 {
			break
		}
		if gap := t.First - pos; gap > 0 {
			n := min(gap, count)
			free = append(free, UnitRange{pos, n})
			count -= n
		}
		pos = t.First + t.Count
	}
	if count > 0 {
		free = append(free, UnitRange{pos, count})
	}
	return free
}

// resolutionMessage explains to the shopper that the policy does not offer r.
func resolutionMessage(p *Policy, r Resolution) string {
	names := map[Resolution]string{
		ResolutionRefund:      "a refund",
		ResolutionStoreCredit: "store credit",
		ResolutionExchange:    "an exchange",
	}
	var offered []string
	for _, a := range p.Resolutions {
		if n, ok := names[a]; ok {
			offered = append(offered, n)
		}
	}
	what := "this resolution"
	if n, ok := names[r]; ok {
		what = n
	}
	if len(offered) == 0 {
		return fmt.Sprintf("This shop does not offer %s.", what)
	}
	return fmt.Sprintf("This shop does not offer %s. Choose %s.", what, strings.Join(offered, " or "))
}

// EligibleUnits is every unit of the quote's eligible lines, per line: what a
// returnless (keep-it) return is refunded for.
func (q QuoteResult) EligibleUnits() map[string]int {
	all := map[string]int{}
	for _, l := range q.Lines {
		if l.Eligible {
			all[l.LineID] = l.Quantity
		}
	}
	return all
}
