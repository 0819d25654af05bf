package returns

import (
	"testing"
)

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Policy)
		paths  []string
	}{
		{"default", func(*Policy) {}, nil},
		{"full", func(p *Policy) {
			p.Rules = []Rule{
				{Match: Match{Category: "swimwear"}, NotReturnable: true},
				{Match: Match{SKU: "TEE"}, WindowDays: ptr(14), RestockingFeeBps: 10000},
				{Match: Match{Tag: "clearance"}},
			}
			p.ReturnShipping = ReturnShipping{Mode: ShippingFlat, LabelFees: map[string]int64{"EUR": 495, "JPY": 0}}
			p.Resolutions = []Resolution{ResolutionExchange}
			p.StoreCreditBonusBps = 5000
			p.RefundTrigger = TriggerOnCarrierScan
			p.KeepItThreshold = map[string]int64{"EUR": 1000}
			p.LabelValidityDays = 365
			p.SerialReturner = SerialReturner{Enabled: true, MaxReturns: 1, PeriodDays: 365}
		}, nil},
		{"zero policy", func(p *Policy) { *p = Policy{} }, []string{
			"window_days", "return_shipping.mode", "resolutions", "refund_trigger", "label_validity_days",
		}},
		{"every wrong field", func(p *Policy) {
			p.WindowDays = 366
			p.Rules = []Rule{
				{Match: Match{}},
				{Match: Match{Category: "a", Tag: "b"}},
				{Match: Match{SKU: " "}, WindowDays: ptr(0), RestockingFeeBps: 10001},
				{Match: Match{Tag: "x"}, NotReturnable: true, RestockingFeeBps: 100},
			}
			p.ReturnShipping = ReturnShipping{Mode: ShippingFlat, LabelFees: map[string]int64{"eur": 1, "USD": -1}}
			p.Resolutions = []Resolution{ResolutionRefund, "cash", ResolutionRefund}
			p.StoreCreditBonusBps = 5001
			p.RefundTrigger = "later"
			p.KeepItThreshold = map[string]int64{"XXX": 1}
			p.LabelValidityDays = 0
			p.SerialReturner = SerialReturner{Enabled: true}
		}, []string{
			"window_days",
			"rules[0].match",
			"rules[1].match",
			"rules[2].match.sku", "rules[2].window_days", "rules[2].restocking_fee_bps",
			"rules[3].not_returnable",
			"return_shipping.label_fees.USD", "return_shipping.label_fees.eur",
			"resolutions[1]", "resolutions[2]",
			"store_credit_bonus_bps",
			"refund_trigger",
			"keep_it_threshold.XXX",
			"label_validity_days",
			"serial_returner.max_returns", "serial_returner.period_days",
		}},
		{"free shipping with fees", func(p *Policy) { p.ReturnShipping.LabelFees = map[string]int64{"EUR": 1} }, []string{"return_shipping.label_fees"}},
		{"flat shipping without fees", func(p *Policy) { p.ReturnShipping.Mode = ShippingFlat }, []string{"return_shipping.label_fees"}},
		{"disabled serial-returner rule", func(p *Policy) { p.SerialReturner = SerialReturner{MaxReturns: -1, PeriodDays: 400} }, []string{"serial_returner.max_returns", "serial_returner.period_days"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := DefaultPolicy()
			tt.change(&p)
			checkPaths(t, p.Validate(), tt.paths)
		})
	}
}

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	if p.WindowDays != 30 || p.ManualReview || p.RefundTrigger != TriggerOnReceipt || p.LabelValidityDays != 30 ||
		p.ReturnShipping.Mode != ShippingFree || !p.Allows(ResolutionRefund) || p.Allows(ResolutionExchange) || p.Allows("cash") {
		t.Errorf("DefaultPolicy() = %+v", p)
	}
	if fee := p.LabelFee("EUR"); fee != 0 {
		t.Errorf("LabelFee(EUR) = %d, want 0", fee)
	}
}

func TestRuleFor(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.Rules = []Rule{
		{Match: Match{SKU: "TEE-BLK-M"}, RestockingFeeBps: 1},
		{Match: Match{Category: "DENIM"}, RestockingFeeBps: 2},
		{Match: Match{Tag: "Summer"}, RestockingFeeBps: 3},
		{Match: Match{Category: "t-shirts"}, RestockingFeeBps: 4},
	}
	tests := []struct {
		name    string
		line    Line
		wantBps int
		wantOK  bool
	}{
		{"sku first", Line{SKU: "TEE-BLK-M", Category: "t-shirts", Tags: []string{"summer"}}, 1, true},
		{"sku is exact", Line{SKU: "tee-blk-m", Category: "denim"}, 2, true},
		{"category ignores case", Line{SKU: "J", Category: "Denim"}, 2, true},
		{"any tag, ignoring case", Line{SKU: "S", Tags: []string{"beach", "SUMMER"}}, 3, true},
		{"later rule", Line{SKU: "T", Category: "T-Shirts"}, 4, true},
		{"no rule", Line{SKU: "X", Category: "hats"}, 0, false},
		{"empty category matches no category rule", Line{SKU: "X"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, ok := p.RuleFor(tt.line)
			if r.RestockingFeeBps != tt.wantBps || ok != tt.wantOK {
				t.Errorf("RuleFor(%+v) = %+v, %t; want bps %d, %t", tt.line, r, ok, tt.wantBps, tt.wantOK)
			}
		})
	}
}
