package returns

import (
	"slices"
	"testing"
)

func TestDiffPoliciesSaysWhatChanged(t *testing.T) {
	days := func(n int) *int { return &n }
	base := DefaultPolicy()
	base.Rules = []Rule{
		{Match: Match{Category: "swimwear"}, WindowDays: days(14)},
		{Match: Match{SKU: "GIFT-CARD"}, NotReturnable: true},
	}
	for _, tc := range []struct {
		name   string
		change func(p *Policy)
		want   []string
	}{
		{"nothing", func(p *Policy) { p.Version = 9 }, nil},
		{"an idle rule's numbers", func(p *Policy) { p.SerialReturner = SerialReturner{} }, nil},
		{"window", func(p *Policy) { p.WindowDays = 45 }, []string{"Return window: 30 → 45 days"}},
		{"rule added", func(p *Policy) {
			p.Rules = append(p.Rules, Rule{Match: Match{Tag: "clearance"}, RestockingFeeBps: 1550})
		}, []string{`Rule for tag "clearance" added: restocking fee 15.5 %`}},
		{"rule changed", func(p *Policy) {
			p.Rules = []Rule{{Match: Match{Category: "SWIMWEAR"}, WindowDays: days(7), RestockingFeeBps: 1000}, base.Rules[1]}
		}, []string{`Rule for category "SWIMWEAR": window 14 days → window 7 days, restocking fee 10 %`}},
		{"rule removed", func(p *Policy) { p.Rules = p.Rules[:1] },
			[]string{`Rule for SKU "GIFT-CARD" removed (was: not returnable)`}},
		{"rules reordered", func(p *Policy) { p.Rules = []Rule{base.Rules[1], base.Rules[0]} },
			[]string{`Rules reordered: SKU "GIFT-CARD", category "swimwear"`}},
		{"label fee", func(p *Policy) {
			p.ReturnShipping = ReturnShipping{Mode: ShippingFlat, LabelFees: map[string]int64{"EUR": 495, "JPY": 800}}
		}, []string{"Return shipping: free → a flat label fee", "Label fee in EUR: 4.95 EUR", "Label fee in JPY: 800 JPY"}},
		{"resolutions and bonus", func(p *Policy) {
			p.Resolutions = []Resolution{ResolutionRefund, ResolutionStoreCredit, ResolutionExchange}
			p.StoreCreditBonusBps = 1000
		}, []string{"Resolutions: refund, store credit → refund, store credit, exchange", "Store-credit bonus: 0 % → 10 %"}},
		{"review and trigger", func(p *Policy) {
			p.ManualReview = true
			p.RefundTrigger = TriggerOnInspection
		}, []string{"Manual review of every return: off → on",
			"Refund sent: when the warehouse receives the items → when the received items have been inspected"}},
		{"keep-it, validity, serial returner", func(p *Policy) {
			p.KeepItThreshold = map[string]int64{"EUR": 1000}
			p.LabelValidityDays = 14
			p.SerialReturner = SerialReturner{Enabled: true, MaxReturns: 3, PeriodDays: 60}
		}, []string{"Keep-it threshold in EUR: 10.00 EUR", "Label validity: 30 → 14 days",
			"Serial-returner rule: off → hold refunds after more than 3 returns in 60 days"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := clonePolicy(base)
			tc.change(&b)
			if got := DiffPolicies(base, b); !slices.Equal(got, tc.want) {
				t.Errorf("got %q,\nwant %q", got, tc.want)
			}
		})
	}
	// a removed amount and a changed one
	a, b := clonePolicy(base), clonePolicy(base)
	a.KeepItThreshold = map[string]int64{"EUR": 1000, "GBP": 800}
	b.KeepItThreshold = map[string]int64{"EUR": 1500}
	want := []string{"Keep-it threshold in EUR: 10.00 EUR → 15.00 EUR", "Keep-it threshold in GBP removed (was 8.00 GBP)"}
	if got := DiffPolicies(a, b); !slices.Equal(got, want) {
		t.Errorf("amounts: got %q, want %q", got, want)
	}
}

func clonePolicy(p Policy) Policy {
	p.Rules = slices.Clone(p.Rules)
	p.Resolutions = slices.Clone(p.Resolutions)
	return p
}
