package returns

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/money"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// testOrder is an EUR order with odd cents everywhere. Its order discount of 10.01 EUR
// is allocated over the lines' net values (29.00, 50.00, 20.00, 66.65 EUR) as 1.75,
// 3.02, 1.21 and 4.03 EUR. Its total is 176.54 EUR, all of it captured.
func testOrder() Order {
	return Order{
		Customer: Customer{
			Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
			Address: Address{Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4LB", Country: "GB"},
		},
		Currency:    "EUR",
		PlacedAt:    mustTime("2026-01-29T10:00:00Z"),
		FulfilledAt: ptr(mustTime("2026-01-30T09:00:00Z")),
		DeliveredAt: ptr(mustTime("2026-02-01T12:00:00Z")),
		Lines: []Line{
			{ID: "tee", SKU: "TEE-BLK-M", Name: "Black T-shirt", Category: "t-shirts", Tags: []string{"summer"}, Quantity: 3, UnitPrice: 1000, Discount: 100, Tax: 171},
			{ID: "jeans", SKU: "JEANS-32", Name: "Jeans", Category: "denim", Quantity: 1, UnitPrice: 5000, Tax: 950},
			{ID: "sale", SKU: "SWIM-S", Name: "Swimsuit", Category: "swimwear", Quantity: 1, UnitPrice: 2000, Tax: 380, FinalSale: true},
			{ID: "shoes", SKU: "SHOE-42", Name: "Sneakers", Category: "shoes", Quantity: 2, UnitPrice: 3333, Discount: 1},
		},
		Discount:    1001,
		Shipping:    495,
		ShippingTax: 94,
		Payment:     Payment{Provider: "stripe", PaymentIntentID: "pi_123", Captured: 17654},
	}
}

// jpyOrder: three bowls at 1000 JPY with 300 JPY tax, a 100 JPY order discount and
// 500 JPY shipping.
func jpyOrder(o *Order) {
	o.Currency = "JPY"
	o.Lines = []Line{{ID: "bowl", SKU: "BOWL", Name: "Bowl", Quantity: 3, UnitPrice: 1000, Tax: 300}}
	o.Discount, o.Shipping, o.ShippingTax = 100, 500, 0
	o.Payment.Captured = 3700
}

// kwdOrder: two boxes of dates at 1.250 KWD with a 0.001 KWD line discount.
func kwdOrder(o *Order) {
	o.Currency = "KWD"
	o.Lines = []Line{{ID: "dates", SKU: "DATES", Name: "Dates", Quantity: 2, UnitPrice: 1250, Discount: 1}}
	o.Discount, o.Shipping, o.ShippingTax = 0, 750, 0
	o.Payment.Captured = 3249
}

var testNow = mustTime("2026-02-10T00:00:00Z")

// lineWant is the part of a QuoteLine the tests check. Code is empty when eligible.
type lineWant struct {
	Code                                             Ineligibility
	Message                                          string
	Units                                            []UnitRange
	Item, Discount, OrderDiscount, Tax, Restock, Sub int64
}

func lineGot(l QuoteLine) lineWant {
	return lineWant{l.Code, l.Message, l.Units, l.ItemAmount, l.Discount, l.OrderDiscount, l.Tax, l.RestockingFee, l.Subtotal}
}

func eligible(units []UnitRange, item, discount, orderDiscount, tax, restock, sub int64) lineWant {
	return lineWant{"", "", units, item, discount, orderDiscount, tax, restock, sub}
}

func ineligible(code Ineligibility, message string) lineWant {
	return lineWant{Code: code, Message: message}
}

func units(r ...int) []UnitRange {
	var u []UnitRange
	for i := 0; i+1 < len(r); i += 2 {
		u = append(u, UnitRange{r[i], r[i+1]})
	}
	return u
}

func TestQuote(t *testing.T) {
	t.Parallel()
	flat := func(fees map[string]int64) func(*Policy) {
		return func(p *Policy) { p.ReturnShipping = ReturnShipping{Mode: ShippingFlat, LabelFees: fees} }
	}
	tests := []struct {
		name       string
		order      func(*Order)
		policy     func(*Policy)
		items      []QuoteItem
		resolution Resolution
		now        time.Time
		prior      Prior

		wantEligible bool
		wantIssues   []QuoteIssue
		wantLines    []lineWant
		wantAmounts  Amounts
		wantPayment  int64 // PaymentAmount; Total when 0 and there is no bonus
		wantCapped   bool
		wantKeepIt   bool
		wantDeadline time.Time // LastEligibleAt of the first line, when set
	}{
		{
			name:         "full quantity of a line",
			items:        []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 5000, 302, 302, 950, 0, 5648)},
			wantAmounts:  Amounts{ItemsTotal: 5648, Total: 5648},
			wantDeadline: mustTime("2026-03-03T12:00:00Z"),
		},
		{
			name:         "partial quantity takes the first unit and its odd cents",
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 1000, 92, 58, 57, 0, 965)},
			wantAmounts:  Amounts{ItemsTotal: 965, Total: 965},
		},
		{
			name:         "second return takes the next units",
			items:        []QuoteItem{{LineID: "tee", Quantity: 2, Reason: ReasonTooSmall}},
			prior:        Prior{Units: map[string][]UnitRange{"tee": units(0, 1)}, Refunded: 965},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(1, 2), 2000, 183, 117, 114, 0, 1931)},
			wantAmounts:  Amounts{ItemsTotal: 1931, Total: 1931},
		},
		{
			name:         "units freed by a cancelled return are taken first",
			items:        []QuoteItem{{LineID: "tee", Quantity: 2, Reason: ReasonTooSmall}},
			prior:        Prior{Units: map[string][]UnitRange{"tee": units(1, 1)}, Refunded: 965},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1, 2, 1), 2000, 183, 116, 114, 0, 1931)},
			wantAmounts:  Amounts{ItemsTotal: 1931, Total: 1931},
		},
		{
			name: "order discount pro-rated over several lines",
			items: []QuoteItem{
				{LineID: "tee", Quantity: 3, Reason: ReasonTooSmall}, {LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}, {LineID: "shoes", Quantity: 2, Reason: ReasonChangedMind},
			},
			wantEligible: true,
			wantLines: []lineWant{
				eligible(units(0, 3), 3000, 275, 175, 171, 0, 2896),
				eligible(units(0, 1), 5000, 302, 302, 950, 0, 5648),
				eligible(units(0, 2), 6666, 404, 403, 0, 0, 6262),
			},
			wantAmounts: Amounts{ItemsTotal: 14806, Total: 14806},
		},
		{
			name: "restocking fee by category rule, rounded half up",
			policy: func(p *Policy) {
				p.Rules = []Rule{{Match: Match{Category: "T-Shirts"}, RestockingFeeBps: 1250}}
			},
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonChangedMind}},
			wantEligible: true,
			// 12.5 % of 9.08 EUR is 1.135 EUR.
			wantLines:   []lineWant{eligible(units(0, 1), 1000, 92, 58, 57, 114, 851)},
			wantAmounts: Amounts{ItemsTotal: 851, Total: 851},
		},
		{
			name: "first matching rule wins",
			policy: func(p *Policy) {
				p.Rules = []Rule{
					{Match: Match{Tag: "SUMMER"}, RestockingFeeBps: 500},
					{Match: Match{Category: "t-shirts"}, RestockingFeeBps: 1250},
				}
			},
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonChangedMind}},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 1000, 92, 58, 57, 45, 920)},
			wantAmounts:  Amounts{ItemsTotal: 920, Total: 920},
		},
		{
			name:         "flat label fee",
			policy:       flat(map[string]int64{"EUR": 495}),
			items:        []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 5000, 302, 302, 950, 0, 5648)},
			wantAmounts:  Amounts{ItemsTotal: 5648, LabelFee: 495, Total: 5153},
		},
		{
			name:         "no label fee for a currency without one",
			policy:       flat(map[string]int64{"GBP": 395}),
			items:        []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 5000, 302, 302, 950, 0, 5648)},
			wantAmounts:  Amounts{ItemsTotal: 5648, Total: 5648},
		},
		{
			name: "merchant fault: no fees on its line, no label fee, shipping refunded",
			policy: func(p *Policy) {
				flat(map[string]int64{"EUR": 495})(p)
				p.Rules = []Rule{
					{Match: Match{Category: "denim"}, RestockingFeeBps: 1000},
					{Match: Match{Category: "t-shirts"}, RestockingFeeBps: 1250},
				}
			},
			items:        []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonDamaged}, {LineID: "tee", Quantity: 1, Reason: ReasonChangedMind}},
			wantEligible: true,
			wantLines: []lineWant{
				eligible(units(0, 1), 5000, 302, 302, 950, 0, 5648),
				eligible(units(0, 1), 1000, 92, 58, 57, 114, 851),
			},
			wantAmounts: Amounts{ItemsTotal: 6499, ShippingRefund: 589, Total: 7088},
		},
		{
			name:         "original shipping is refunded once per order",
			items:        []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonWrongItem}},
			prior:        Prior{Units: map[string][]UnitRange{"tee": units(0, 1)}, Refunded: 1554, ShippingRefunded: 589},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 5000, 302, 302, 950, 0, 5648)},
			wantAmounts:  Amounts{ItemsTotal: 5648, Total: 5648},
		},
		{
			name:         "store credit bonus",
			policy:       func(p *Policy) { p.StoreCreditBonusBps = 1000 },
			items:        []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}},
			resolution:   ResolutionStoreCredit,
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 5000, 302, 302, 950, 0, 5648)},
			wantAmounts:  Amounts{ItemsTotal: 5648, StoreCreditBonus: 565, Total: 6213},
			wantPayment:  5648,
		},
		{
			name:         "resolution not offered",
			items:        []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}},
			resolution:   ResolutionExchange,
			wantEligible: false,
			wantIssues: []QuoteIssue{{"resolution", IneligibleResolutionNotAllowed,
				"This shop does not offer an exchange. Choose a refund or store credit."}},
			wantLines:   []lineWant{eligible(units(0, 1), 5000, 302, 302, 950, 0, 5648)},
			wantAmounts: Amounts{ItemsTotal: 5648, Total: 5648},
		},
		{
			name:         "second return capped by what is left of a partial capture",
			order:        func(o *Order) { o.Payment.Captured = 8000 },
			items:        []QuoteItem{{LineID: "tee", Quantity: 3, Reason: ReasonTooSmall}},
			prior:        Prior{Units: map[string][]UnitRange{"jeans": units(0, 1)}, Refunded: 5648},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 3), 3000, 275, 175, 171, 0, 2896)},
			wantAmounts:  Amounts{ItemsTotal: 2896, CappedBy: 544, Total: 2352},
			wantCapped:   true,
		},
		{
			name:         "final sale",
			items:        []QuoteItem{{LineID: "sale", Quantity: 1, Reason: ReasonChangedMind}},
			wantEligible: false,
			wantLines:    []lineWant{ineligible(IneligibleFinalSale, "Final-sale items cannot be returned.")},
		},
		{
			name:         "not returnable by rule",
			policy:       func(p *Policy) { p.Rules = []Rule{{Match: Match{SKU: "SHOE-42"}, NotReturnable: true}} },
			items:        []QuoteItem{{LineID: "shoes", Quantity: 1, Reason: ReasonChangedMind}, {LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}},
			wantEligible: true,
			wantLines: []lineWant{
				ineligible(IneligibleNotReturnable, "This item cannot be returned."),
				eligible(units(0, 1), 5000, 302, 302, 950, 0, 5648),
			},
			wantAmounts: Amounts{ItemsTotal: 5648, Total: 5648},
		},
		{
			name:         "outside the window, with its date",
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			now:          mustTime("2026-03-03T12:00:01Z"),
			wantEligible: false,
			wantLines:    []lineWant{ineligible(IneligibleOutsideWindow, "Return window ended on 3 March 2026.")},
			wantDeadline: mustTime("2026-03-03T12:00:00Z"),
		},
		{
			name:         "last moment of the window",
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			now:          mustTime("2026-03-03T12:00:00Z"),
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 1000, 92, 58, 57, 0, 965)},
			wantAmounts:  Amounts{ItemsTotal: 965, Total: 965},
		},
		{
			name:         "window from fulfilment when there is no delivery",
			order:        func(o *Order) { o.DeliveredAt = nil },
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			now:          mustTime("2026-03-02T00:00:00Z"),
			wantEligible: false,
			wantLines:    []lineWant{ineligible(IneligibleOutsideWindow, "Return window ended on 1 March 2026.")},
			wantDeadline: mustTime("2026-03-01T09:00:00Z"),
		},
		{
			name:         "window from the order when not fulfilled",
			order:        func(o *Order) { o.DeliveredAt, o.FulfilledAt = nil, nil },
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			now:          mustTime("2026-03-01T00:00:00Z"),
			wantEligible: false,
			wantLines:    []lineWant{ineligible(IneligibleOutsideWindow, "Return window ended on 28 February 2026.")},
			wantDeadline: mustTime("2026-02-28T10:00:00Z"),
		},
		{
			name:         "a rule's own window",
			policy:       func(p *Policy) { p.Rules = []Rule{{Match: Match{Category: "denim"}, WindowDays: ptr(14)}} },
			items:        []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}, {LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			now:          mustTime("2026-02-16T00:00:00Z"),
			wantEligible: true,
			wantLines: []lineWant{
				ineligible(IneligibleOutsideWindow, "Return window ended on 15 February 2026."),
				eligible(units(0, 1), 1000, 92, 58, 57, 0, 965),
			},
			wantAmounts:  Amounts{ItemsTotal: 965, Total: 965},
			wantDeadline: mustTime("2026-02-15T12:00:00Z"),
		},
		{
			name:         "more units than are left",
			items:        []QuoteItem{{LineID: "tee", Quantity: 2, Reason: ReasonTooSmall}},
			prior:        Prior{Units: map[string][]UnitRange{"tee": units(0, 2)}, Refunded: 1930},
			wantEligible: false,
			wantLines:    []lineWant{ineligible(IneligibleQuantityExceeded, "Only 1 left to return.")},
		},
		{
			name:         "nothing left",
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			prior:        Prior{Units: map[string][]UnitRange{"tee": units(0, 1, 1, 2)}, Refunded: 2896},
			wantEligible: false,
			wantLines:    []lineWant{ineligible(IneligibleQuantityExceeded, "Nothing left to return: all 3 are already in other returns.")},
		},
		{
			name:         "unknown line and a line given twice",
			items:        []QuoteItem{{LineID: "nope", Quantity: 1, Reason: ReasonTooSmall}, {LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}, {LineID: "tee", Quantity: 1, Reason: ReasonTooLarge}},
			wantEligible: true,
			wantLines: []lineWant{
				ineligible(IneligibleUnknownLine, `This order has no line "nope".`),
				eligible(units(0, 1), 1000, 92, 58, 57, 0, 965),
				ineligible(IneligibleDuplicateLine, "This item is listed twice; give it once with the total quantity."),
			},
			wantAmounts: Amounts{ItemsTotal: 965, Total: 965},
		},
		{
			name:         "no items",
			wantEligible: false,
			wantIssues:   []QuoteIssue{{"items", IneligibleNoItems, "Choose at least one item to return."}},
		},
		{
			name: "keep it under the threshold, without label fee",
			policy: func(p *Policy) {
				flat(map[string]int64{"EUR": 495})(p)
				p.KeepItThreshold = map[string]int64{"EUR": 1000}
			},
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 1000, 92, 58, 57, 0, 965)},
			wantAmounts:  Amounts{ItemsTotal: 965, Total: 965},
			wantKeepIt:   true,
		},
		{
			name:         "label fee limited to the goods: total never negative, and nothing back is not eligible",
			policy:       flat(map[string]int64{"EUR": 5000}),
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			wantEligible: false,
			wantIssues: []QuoteIssue{{"items", IneligibleNothingBack,
				"You would get nothing back for these items: the return label fee of 9.65 EUR would take their whole value, so they cannot be returned."}},
			wantLines:   []lineWant{eligible(units(0, 1), 1000, 92, 58, 57, 0, 965)},
			wantAmounts: Amounts{ItemsTotal: 965, LabelFee: 965, Total: 0},
		},
		{
			name: "a 100 % restocking fee and a label fee leave nothing back: not eligible",
			policy: func(p *Policy) {
				flat(map[string]int64{"EUR": 495})(p)
				p.Rules = []Rule{{Match: Match{Category: "t-shirts"}, RestockingFeeBps: 10000}}
			},
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonChangedMind}},
			wantEligible: false,
			wantIssues: []QuoteIssue{{"items", IneligibleNothingBack,
				"You would get nothing back for these items: the restocking fee of 9.08 EUR and the return label fee of 0.57 EUR would take their whole value, so they cannot be returned."}},
			wantLines:   []lineWant{eligible(units(0, 1), 1000, 92, 58, 57, 908, 57)},
			wantAmounts: Amounts{ItemsTotal: 57, LabelFee: 57, Total: 0},
		},
		{
			name:         "nothing left on the payment: nothing back, not eligible",
			items:        []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}},
			prior:        Prior{Refunded: 17654},
			wantEligible: false,
			wantIssues: []QuoteIssue{{"items", IneligibleNothingBack,
				"You would get nothing back for these items: nothing is left to refund on this order's payment."}},
			wantLines:   []lineWant{eligible(units(0, 1), 1000, 92, 58, 57, 0, 965)},
			wantAmounts: Amounts{ItemsTotal: 965, CappedBy: 965, Total: 0},
			wantCapped:  true,
		},
		{
			name:         "zero-decimal currency",
			order:        jpyOrder,
			policy:       flat(map[string]int64{"JPY": 300}),
			items:        []QuoteItem{{LineID: "bowl", Quantity: 1, Reason: ReasonChangedMind}},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 1000, 34, 34, 100, 0, 1066)},
			wantAmounts:  Amounts{ItemsTotal: 1066, LabelFee: 300, Total: 766},
		},
		{
			name:         "three-decimal currency",
			order:        kwdOrder,
			policy:       flat(map[string]int64{"KWD": 500}),
			items:        []QuoteItem{{LineID: "dates", Quantity: 1, Reason: ReasonTooSmall}},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 1), 1250, 1, 0, 0, 0, 1249)},
			wantAmounts:  Amounts{ItemsTotal: 1249, LabelFee: 500, Total: 749},
		},
		{
			name:         "three-decimal currency, merchant fault",
			order:        kwdOrder,
			policy:       flat(map[string]int64{"KWD": 500}),
			items:        []QuoteItem{{LineID: "dates", Quantity: 2, Reason: ReasonDamaged}},
			wantEligible: true,
			wantLines:    []lineWant{eligible(units(0, 2), 2500, 1, 0, 0, 0, 2499)},
			wantAmounts:  Amounts{ItemsTotal: 2499, ShippingRefund: 750, Total: 3249},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := QuoteInput{Order: testOrder(), Policy: DefaultPolicy(), Items: tt.items, Resolution: ResolutionRefund, Now: testNow, Prior: tt.prior}
			if tt.order != nil {
				tt.order(&in.Order)
			}
			if tt.policy != nil {
				tt.policy(&in.Policy)
			}
			if tt.resolution != "" {
				in.Resolution = tt.resolution
			}
			if !tt.now.IsZero() {
				in.Now = tt.now
			}
			if err := in.Order.Validate(); err != nil {
				t.Fatalf("test order: %v", err)
			}
			if err := in.Policy.Validate(); err != nil {
				t.Fatalf("test policy: %v", err)
			}

			q := Quote(in)

			if q.Eligible != tt.wantEligible {
				t.Errorf("eligible = %t, want %t", q.Eligible, tt.wantEligible)
			}
			if !reflect.DeepEqual(q.Issues, tt.wantIssues) {
				t.Errorf("issues = %+v, want %+v", q.Issues, tt.wantIssues)
			}
			var gotLines []lineWant
			for _, l := range q.Lines {
				gotLines = append(gotLines, lineGot(l))
			}
			if !reflect.DeepEqual(gotLines, tt.wantLines) {
				t.Errorf("lines:\n got %+v\nwant %+v", gotLines, tt.wantLines)
			}
			if q.Amounts != tt.wantAmounts {
				t.Errorf("amounts = %+v, want %+v", q.Amounts, tt.wantAmounts)
			}
			wantPayment := tt.wantPayment
			if wantPayment == 0 {
				wantPayment = tt.wantAmounts.Total
			}
			if q.PaymentAmount != wantPayment {
				t.Errorf("payment amount = %d, want %d", q.PaymentAmount, wantPayment)
			}
			if q.Capped != tt.wantCapped {
				t.Errorf("capped = %t, want %t", q.Capped, tt.wantCapped)
			}
			if q.Capped && q.CapMessage == "" {
				t.Errorf("capped without a cap message")
			}
			if q.KeepIt != tt.wantKeepIt {
				t.Errorf("keep it = %t, want %t", q.KeepIt, tt.wantKeepIt)
			}
			if q.Currency != in.Order.Currency {
				t.Errorf("currency = %q, want %q", q.Currency, in.Order.Currency)
			}
			if !tt.wantDeadline.IsZero() {
				if got := q.Lines[0].LastEligibleAt; got == nil || !got.Equal(tt.wantDeadline) {
					t.Errorf("last eligible at = %v, want %v", got, tt.wantDeadline)
				}
			}
			checkQuote(t, in, q)
		})
	}
}

func TestQuoteCapMessage(t *testing.T) {
	t.Parallel()
	in := QuoteInput{
		Order: testOrder(), Policy: DefaultPolicy(), Resolution: ResolutionRefund, Now: testNow,
		Items: []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}},
		Prior: Prior{Units: map[string][]UnitRange{"tee": units(0, 3), "shoes": units(0, 2)}, Refunded: 17000},
	}
	q := Quote(in)
	want := "The refund is limited to 6.54 EUR, the amount still refundable on this order's payment."
	if q.CapMessage != want || q.Total != 654 || q.Refundable != 654 {
		t.Errorf("got total %d, refundable %d, message %q; want 654, 654, %q", q.Total, q.Refundable, q.CapMessage, want)
	}
}

func TestForAccepted(t *testing.T) {
	t.Parallel()
	in := QuoteInput{
		Order: testOrder(), Policy: DefaultPolicy(), Resolution: ResolutionStoreCredit, Now: testNow,
		Items: []QuoteItem{{LineID: "tee", Quantity: 3, Reason: ReasonTooSmall}, {LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}},
	}
	in.Policy.ReturnShipping = ReturnShipping{Mode: ShippingFlat, LabelFees: map[string]int64{"EUR": 495}}
	in.Policy.StoreCreditBonusBps = 1000
	q := Quote(in)
	if want := (Amounts{ItemsTotal: 8544, LabelFee: 495, StoreCreditBonus: 805, Total: 8854}); q.Amounts != want {
		t.Fatalf("quote amounts = %+v, want %+v", q.Amounts, want)
	}

	fault := in
	fault.Items = []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}, {LineID: "jeans", Quantity: 1, Reason: ReasonDamaged}}
	fault.Resolution = ResolutionRefund
	qf := Quote(fault)

	capped := in
	capped.Items = []QuoteItem{{LineID: "jeans", Quantity: 1, Reason: ReasonTooLarge}}
	capped.Resolution = ResolutionRefund
	capped.Prior = Prior{Refunded: 17000}
	qc := Quote(capped)

	tests := []struct {
		name     string
		q        QuoteResult
		accepted map[string]int
		want     Amounts
	}{
		{"nothing", q, nil, Amounts{}},
		{"everything", q, map[string]int{"tee": 3, "jeans": 1}, q.Amounts},
		{"more than quoted counts as everything", q, map[string]int{"tee": 7, "jeans": 2, "other": 1}, q.Amounts},
		// 1 of 3 tees: 10.00 − 0.92 + 0.57 = 9.65, label fee charged once.
		{"first parcel", q, map[string]int{"tee": 1}, Amounts{ItemsTotal: 965, LabelFee: 495, StoreCreditBonus: 47, Total: 517}},
		{"one unit rejected", q, map[string]int{"tee": 2}, Amounts{ItemsTotal: 1930, LabelFee: 495, StoreCreditBonus: 144, Total: 1579}},
		{"label fee limited to the accepted goods", q, map[string]int{"tee": 0, "jeans": 0}, Amounts{}},
		{"no shipping refund without a merchant-fault unit", qf, map[string]int{"tee": 1}, Amounts{ItemsTotal: 965, Total: 965}},
		{"shipping refund with the merchant-fault unit", qf, map[string]int{"jeans": 1}, Amounts{ItemsTotal: 5648, ShippingRefund: 589, Total: 6237}},
		{"capped as the quote", qc, map[string]int{"jeans": 1}, Amounts{ItemsTotal: 5648, LabelFee: 495, CappedBy: 4499, Total: 654}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.q.ForAccepted(tt.accepted); got != tt.want {
				t.Errorf("ForAccepted(%v) = %+v, want %+v", tt.accepted, got, tt.want)
			}
		})
	}

	// Two parcels add up to the quote.
	first := q.ForAccepted(map[string]int{"tee": 1}).Total
	second := q.ForAccepted(map[string]int{"tee": 3, "jeans": 1}).Total - first
	if first+second != q.Total {
		t.Errorf("parcels %d + %d = %d, want the quote total %d", first, second, first+second, q.Total)
	}
}

func TestQuoteInputValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    QuoteInput
		paths []string
	}{
		{"valid", QuoteInput{Items: []QuoteItem{{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall}}, Resolution: ResolutionRefund}, nil},
		{"no items, no resolution", QuoteInput{}, []string{"items", "resolution"}},
		{"every wrong field", QuoteInput{
			Items: []QuoteItem{
				{LineID: "tee", Quantity: 0, Reason: "bored"},
				{LineID: "", Quantity: 1, Reason: ReasonTooSmall},
				{LineID: "tee", Quantity: 1, Reason: ReasonTooSmall},
				{LineID: "jeans", Quantity: MaxLineQuantity + 1, Reason: ReasonDamaged},
			},
			Resolution: "cash",
		}, []string{"items[0].quantity", "items[0].reason", "items[1].line_id", "items[2].line_id", "items[3].quantity", "resolution"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkPaths(t, tt.in.Validate(), tt.paths)
		})
	}
}

// TestUnitSharesMatchesAllocate checks the closed form Quote uses against
// money.Allocate over equal weights.
func TestUnitSharesMatchesAllocate(t *testing.T) {
	t.Parallel()
	for _, total := range []int64{0, 1, 2, 7, 100, 275, 1001, 999_999_937} {
		for units := 1; units <= 9; units++ {
			shares := money.Allocate(total, slices.Repeat([]int64{1}, units))
			for first := 0; first < units; first++ {
				for count := 1; first+count <= units; count++ {
					var want int64
					for _, s := range shares[first : first+count] {
						want += s
					}
					if got := unitShares(total, units, UnitRange{first, count}); got != want {
						t.Fatalf("unitShares(%d, %d, %d+%d) = %d, want %d", total, units, first, count, got, want)
					}
				}
			}
		}
	}
}

func TestHoldings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		held      []UnitRange
		quantity  int
		want      []UnitRange
		wantCount int
		wantFree  []UnitRange // freeUnits(want, 2)
	}{
		{"none", nil, 3, nil, 0, units(0, 2)},
		{"sorted and merged", units(2, 1, 0, 1, 1, 1), 5, units(0, 3), 3, units(3, 2)},
		{"overlapping", units(0, 2, 1, 2), 5, units(0, 3), 3, units(3, 2)},
		{"hole first", units(1, 2), 5, units(1, 2), 2, units(0, 1, 3, 1)},
		{"clamped to the line", units(-1, 2, 4, 100, 9, 1, 0, 0, 1, -3), 5, units(0, 1, 4, 1), 2, units(1, 2)},
		{"huge count", []UnitRange{{2, int(^uint(0) >> 1)}}, 5, units(2, 3), 3, units(0, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, n := holdings(tt.held, tt.quantity)
			if !reflect.DeepEqual(got, tt.want) || n != tt.wantCount {
				t.Errorf("holdings(%v, %d) = %v, %d; want %v, %d", tt.held, tt.quantity, got, n, tt.want, tt.wantCount)
			}
			if free := freeUnits(got, 2); !reflect.DeepEqual(free, tt.wantFree) {
				t.Errorf("freeUnits(%v, 2) = %v, want %v", got, free, tt.wantFree)
			}
		})
	}
}

// checkQuote checks the invariants every quote holds.
func checkQuote(t *testing.T, in QuoteInput, q QuoteResult) {
	t.Helper()
	var sum int64
	for i, l := range q.Lines {
		for _, x := range []int64{l.ItemAmount, l.Discount, l.OrderDiscount, l.Tax, l.RestockingFee, l.Subtotal} {
			if x < 0 {
				t.Fatalf("lines[%d] has a negative amount: %+v", i, l)
			}
		}
		if l.Discount > l.ItemAmount || l.OrderDiscount > l.Discount || l.RestockingFee > l.ItemAmount-l.Discount {
			t.Fatalf("lines[%d] has a discount or fee above its amount: %+v", i, l)
		}
		if got := l.ItemAmount - l.Discount + l.Tax - l.RestockingFee; got != l.Subtotal {
			t.Fatalf("lines[%d] subtotal = %d, want %d", i, l.Subtotal, got)
		}
		if !l.Eligible && (l.Subtotal != 0 || l.Units != nil || l.Code == "" || l.Message == "") {
			t.Fatalf("ineligible lines[%d] = %+v, want no amount and a code and message", i, l)
		}
		if l.Eligible {
			sum += l.Subtotal
			n := 0
			for _, u := range l.Units {
				n += u.Count
			}
			if n != l.Quantity {
				t.Fatalf("lines[%d] units %v cover %d units, want %d", i, l.Units, n, l.Quantity)
			}
		}
	}
	a := q.Amounts
	if sum != a.ItemsTotal {
		t.Fatalf("items total = %d, want Σ subtotals %d", a.ItemsTotal, sum)
	}
	for _, x := range []int64{a.ItemsTotal, a.LabelFee, a.ShippingRefund, a.CappedBy, a.StoreCreditBonus, a.Total, q.PaymentAmount} {
		if x < 0 {
			t.Fatalf("negative amount in %+v (payment %d)", a, q.PaymentAmount)
		}
	}
	if got := a.ItemsTotal - a.LabelFee + a.ShippingRefund - a.CappedBy + a.StoreCreditBonus; got != a.Total {
		t.Fatalf("total = %d, want %d from %+v", a.Total, got, a)
	}
	if q.PaymentAmount != a.Total-a.StoreCreditBonus || q.PaymentAmount > q.Refundable {
		t.Fatalf("payment amount %d, total %d, bonus %d, refundable %d", q.PaymentAmount, a.Total, a.StoreCreditBonus, q.Refundable)
	}
	if q.Capped != (a.CappedBy > 0) {
		t.Fatalf("capped = %t with capped_by %d", q.Capped, a.CappedBy)
	}
	if a.LabelFee > a.ItemsTotal {
		t.Fatalf("label fee %d above the goods %d", a.LabelFee, a.ItemsTotal)
	}
	if full := q.ForAccepted(acceptAll(q)); full != a {
		t.Fatalf("ForAccepted(everything) = %+v, want the quote's %+v", full, a)
	}
}

func acceptAll(q QuoteResult) map[string]int {
	m := map[string]int{}
	for _, l := range q.Lines {
		if l.Eligible {
			m[l.LineID] = l.Quantity
		}
	}
	return m
}

func ExampleQuote() {
	policy := DefaultPolicy()
	policy.ReturnShipping = ReturnShipping{Mode: ShippingFlat, LabelFees: map[string]int64{"EUR": 495}}
	q := Quote(QuoteInput{
		Order:  testOrder(),
		Policy: policy,
		Items: []QuoteItem{
			{LineID: "tee", Quantity: 2, Reason: ReasonTooSmall},
			{LineID: "sale", Quantity: 1, Reason: ReasonChangedMind},
		},
		Resolution: ResolutionRefund,
		Now:        mustTime("2026-02-10T00:00:00Z"),
	})
	fmt.Print(q.Summary())
	fmt.Println(q.Lines[0].Units, money.Decimal(q.Total, q.Currency))
	// Output:
	// 2 × Black T-shirt (tee): 20.00 EUR − 1.84 EUR discount + 1.14 EUR tax = 19.30 EUR
	// 1 × Swimsuit (sale): not eligible: Final-sale items cannot be returned.
	// Return label: −4.95 EUR
	// Refund: 14.35 EUR
	// [{0 2}] 14.35
}

// fuzzBytes turns fuzz input into choices; it answers 0 once the input is used up.
type fuzzBytes struct{ b []byte }

// intn returns a number in [0, n).
func (f *fuzzBytes) intn(n int) int {
	if n <= 1 {
		return 0
	}
	var x uint64
	for size := n; size > 0 && len(f.b) > 0; size >>= 8 {
		x = x<<8 | uint64(f.b[0])
		f.b = f.b[1:]
	}
	return int(x % uint64(n))
}

// fuzzOrder makes a valid order from the input. With exact, everything is captured.
func fuzzOrder(t *testing.T, r *fuzzBytes, exact bool) Order {
	o := testOrder()
	o.Currency = []string{"EUR", "JPY", "KWD"}[r.intn(3)]
	o.Lines = nil
	var net int64
	for i := range 1 + r.intn(5) {
		l := Line{
			ID: fmt.Sprintf("l%d", i), SKU: fmt.Sprintf("SKU%d", i), Name: "Item",
			Category: []string{"a", "b", "c"}[r.intn(3)],
			Quantity: 1 + r.intn(6),
		}
		if r.intn(3) == 0 {
			l.UnitPrice = int64(r.intn(11)) // a few minor units: odd cents everywhere
		} else {
			l.UnitPrice = int64(r.intn(100_001))
		}
		l.Discount = int64(r.intn(int(l.value()) + 1))
		l.Tax = int64(r.intn(20_001))
		net += l.net()
		o.Lines = append(o.Lines, l)
	}
	o.Discount = int64(r.intn(int(net) + 1))
	o.Shipping, o.ShippingTax = int64(r.intn(2_000)), int64(r.intn(400))
	total := o.Total()
	o.Payment.Captured = total
	if !exact && total > 0 && r.intn(2) == 0 {
		o.Payment.Captured = 1 + int64(r.intn(int(total)))
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("fuzz order: %v", err)
	}
	return o
}

// FuzzQuote splits an order's units into successive returns, cancelling some on the
// way, and checks that every quote holds its invariants (checkQuote), that receipts in
// two parcels add up to each quote, that the returns together never take more than the
// captured amount and, without fees, that they refund exactly the order's total.
func FuzzQuote(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte("an order with several lines and returns, some cancelled, in every currency"))
	f.Add([]byte{0, 1, 4, 2, 5, 0, 3, 7, 1, 1, 1, 9, 200, 100, 3, 4, 0, 250, 1, 2, 2, 2, 2, 2, 0, 0, 1, 3, 3, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzBytes{data}
		exact := r.intn(2) == 0 // no fees, everything captured
		o := fuzzOrder(t, r, exact)
		p := DefaultPolicy()
		p.StoreCreditBonusBps = r.intn(MaxStoreCreditBonusBps + 1)
		if !exact {
			for _, c := range []string{"a", "b"} {
				p.Rules = append(p.Rules, Rule{Match: Match{Category: c}, RestockingFeeBps: r.intn(10_001)})
			}
			if fee := int64(r.intn(3_000)); fee > 0 {
				p.ReturnShipping = ReturnShipping{Mode: ShippingFlat, LabelFees: map[string]int64{o.Currency: fee}}
			}
			if r.intn(2) == 0 {
				p.KeepItThreshold = map[string]int64{o.Currency: int64(r.intn(5_000))}
			}
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("fuzz policy: %v", err)
		}
		reasons := Reasons()

		var actives []QuoteResult
		prior := func() Prior {
			pr := Prior{Units: map[string][]UnitRange{}}
			for _, q := range actives {
				for _, l := range q.Lines {
					if l.Eligible {
						pr.Units[l.LineID] = append(pr.Units[l.LineID], l.Units...)
					}
				}
				pr.Refunded += q.PaymentAmount
				pr.ShippingRefunded += q.ShippingRefund
			}
			return pr
		}
		left := func(pr Prior) []int {
			ls := make([]int, len(o.Lines))
			for i, l := range o.Lines {
				_, held := holdings(pr.Units[l.ID], l.Quantity)
				ls[i] = l.Quantity - held
			}
			return ls
		}
		quote := func(items []QuoteItem, pr Prior) {
			in := QuoteInput{Order: o, Policy: p, Items: items, Now: o.PlacedAt, Prior: pr,
				Resolution: []Resolution{ResolutionRefund, ResolutionStoreCredit}[r.intn(2)]}
			q := Quote(in)
			if !q.Eligible {
				// with fees, or a partial capture, a return can be worth nothing to the
				// shopper: then it is not made, and for no other reason
				if exact || len(q.Issues) != 1 || q.Issues[0].Code != IneligibleNothingBack || q.Total != 0 {
					t.Fatalf("quote of %+v with %+v not eligible: %+v", items, pr, q)
				}
				checkQuote(t, in, q)
				return
			}
			checkQuote(t, in, q)

			// Two parcels: part of the units, then all of them.
			part := map[string]int{}
			for _, it := range items {
				part[it.LineID] = r.intn(it.Quantity + 1)
			}
			first := q.ForAccepted(part)
			if first.Total < 0 || first.Total > q.Total {
				t.Fatalf("first parcel %v: %+v, outside [0, %d]", part, first, q.Total)
			}
			if second := q.ForAccepted(acceptAll(q)).Total - first.Total; second < 0 || first.Total+second != q.Total {
				t.Fatalf("parcels %d + %d, want non-negative parts of %d", first.Total, second, q.Total)
			}
			actives = append(actives, q)

			var paid int64
			for _, a := range actives {
				paid += a.PaymentAmount
			}
			if paid > o.Payment.Captured {
				t.Fatalf("returns take %d from a payment that captured %d", paid, o.Payment.Captured)
			}
		}

		for range r.intn(6) {
			if len(actives) > 0 && r.intn(4) == 0 {
				i := r.intn(len(actives)) // cancelled: its units and amounts are free again
				actives = slices.Delete(actives, i, i+1)
				continue
			}
			pr := prior()
			ls := left(pr)
			remaining := 0
			for _, n := range ls {
				remaining += n
			}
			var items []QuoteItem
			for i, l := range o.Lines {
				k := r.intn(ls[i] + 1)
				if exact && k == remaining { // leave a unit for the final return
					k--
				}
				if k > 0 {
					items = append(items, QuoteItem{LineID: l.ID, Quantity: k, Reason: reasons[r.intn(len(reasons))].Code})
					remaining -= k
				}
			}
			if len(items) > 0 {
				quote(items, pr)
			}
		}
		if !exact {
			return
		}

		// The final return takes every unit left, one of them for a merchant fault.
		pr := prior()
		var items []QuoteItem
		for i, n := range left(pr) {
			if n > 0 {
				reason := reasons[r.intn(len(reasons))].Code
				if len(items) == 0 {
					reason = ReasonDamaged
				}
				items = append(items, QuoteItem{LineID: o.Lines[i].ID, Quantity: n, Reason: reason})
			}
		}
		quote(items, pr)
		var paid int64
		for _, a := range actives {
			paid += a.PaymentAmount
		}
		if total := o.Total(); paid != total {
			t.Fatalf("returns of every unit refund %d, want the order total %d (%d returns)", paid, total, len(actives))
		}
	})
}
