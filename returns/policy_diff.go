package returns

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/money"
)

// DiffPolicies says in words what changed from policy a to policy b, one line per
// changed setting in the order of the policy's fields, for the version history and
// the audit trail: "Return window: 30 → 45 days". Rules are told apart by what they
// match: a rule is added, removed or changed; when the same rules only moved, the
// new order is reported, since the first rule that matches a line applies. The
// version numbers are not compared, nor the numbers of a serial-returner rule that
// is off in both. No lines means the policies say the same.
func DiffPolicies(a, b Policy) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	if a.WindowDays != b.WindowDays {
		add("Return window: %d → %d days", a.WindowDays, b.WindowDays)
	}
	out = append(out, diffRules(a.Rules, b.Rules)...)

	if a.ReturnShipping.Mode != b.ReturnShipping.Mode {
		add("Return shipping: %s → %s", shippingWords(a.ReturnShipping.Mode), shippingWords(b.ReturnShipping.Mode))
	}
	out = append(out, diffAmounts("Label fee", a.ReturnShipping.LabelFees, b.ReturnShipping.LabelFees)...)

	if !slices.Equal(a.Resolutions, b.Resolutions) {
		add("Resolutions: %s → %s", resolutionList(a.Resolutions), resolutionList(b.Resolutions))
	}
	if a.StoreCreditBonusBps != b.StoreCreditBonusBps {
		add("Store-credit bonus: %s → %s", money.Percent(int64(a.StoreCreditBonusBps)), money.Percent(int64(b.StoreCreditBonusBps)))
	}
	if a.ManualReview != b.ManualReview {
		add("Manual review of every return: %s → %s", onOff(a.ManualReview), onOff(b.ManualReview))
	}
	if a.RefundTrigger != b.RefundTrigger {
		add("Refund sent: %s → %s", TriggerWords(a.RefundTrigger), TriggerWords(b.RefundTrigger))
	}
	out = append(out, diffAmounts("Keep-it threshold", a.KeepItThreshold, b.KeepItThreshold)...)
	if a.LabelValidityDays != b.LabelValidityDays {
		add("Label validity: %d → %d days", a.LabelValidityDays, b.LabelValidityDays)
	}
	if a.ExchangeRelease != b.ExchangeRelease {
		add("Exchange replacements released: %s → %s", ReleaseWords(a.ExchangeRelease), ReleaseWords(b.ExchangeRelease))
	}
	out = append(out, diffAmounts("Upsell allowance", a.UpsellAllowance, b.UpsellAllowance)...)
	if a.StoreCreditExpiryDays != b.StoreCreditExpiryDays {
		add("Store credit expires: %s → %s", expiryWords(a.StoreCreditExpiryDays), expiryWords(b.StoreCreditExpiryDays))
	}
	// the settings of a rule that is off and stays off change nothing
	if sa, sb := a.SerialReturner, b.SerialReturner; sa != sb && (sa.Enabled || sb.Enabled) {
		add("Serial-returner rule: %s → %s", serialWords(sa), serialWords(sb))
	}
	return out
}

// Words returns what a rule matches, in words: `category "swimwear"`.
func (m Match) Words() string {
	switch {
	case m.Category != "":
		return fmt.Sprintf("category %q", m.Category)
	case m.SKU != "":
		return fmt.Sprintf("SKU %q", m.SKU)
	case m.Tag != "":
		return fmt.Sprintf("tag %q", m.Tag)
	}
	return "nothing"
}

// key identifies a rule by what it matches, as the engine compares it.
func (m Match) key() string {
	switch {
	case m.Category != "":
		return "category:" + strings.ToLower(m.Category)
	case m.SKU != "":
		return "sku:" + m.SKU
	}
	return "tag:" + strings.ToLower(m.Tag)
}

// Words returns what a rule does, in words: "window 14 days, restocking fee 15 %".
func (r Rule) Words() string {
	if r.NotReturnable {
		return "not returnable"
	}
	var parts []string
	if r.WindowDays != nil {
		parts = append(parts, fmt.Sprintf("window %d days", *r.WindowDays))
	}
	if r.RestockingFeeBps != 0 {
		parts = append(parts, "restocking fee "+money.Percent(int64(r.RestockingFeeBps)))
	}
	if len(parts) == 0 {
		return "the policy's defaults"
	}
	return strings.Join(parts, ", ")
}

func diffRules(a, b []Rule) []string {
	var out []string
	index := func(rs []Rule) map[string]Rule {
		m := make(map[string]Rule, len(rs))
		for _, r := range rs {
			if _, dup := m[r.Match.key()]; !dup { // a later duplicate never applies
				m[r.Match.key()] = r
			}
		}
		return m
	}
	ia, ib := index(a), index(b)
	for _, r := range b {
		old, ok := ia[r.Match.key()]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("Rule for %s added: %s", r.Match.Words(), r.Words()))
		case old.Words() != r.Words():
			out = append(out, fmt.Sprintf("Rule for %s: %s → %s", r.Match.Words(), old.Words(), r.Words()))
		}
		delete(ia, r.Match.key())
	}
	for _, r := range a {
		if _, gone := ia[r.Match.key()]; gone {
			out = append(out, fmt.Sprintf("Rule for %s removed (was: %s)", r.Match.Words(), r.Words()))
			delete(ia, r.Match.key())
		}
	}
	// the same rules in another order match lines differently: say so
	var ka, kb []string
	for _, r := range a {
		if _, ok := ib[r.Match.key()]; ok {
			ka = append(ka, r.Match.key())
		}
	}
	for _, r := range b {
		if slices.Contains(ka, r.Match.key()) {
			kb = append(kb, r.Match.key())
		}
	}
	if !slices.Equal(ka, kb) {
		words := make([]string, 0, len(b))
		for _, r := range b {
			words = append(words, r.Match.Words())
		}
		out = append(out, "Rules reordered: "+strings.Join(words, ", "))
	}
	return out
}

func diffAmounts(what string, a, b map[string]int64) []string {
	var out []string
	codes := slices.Sorted(maps.Keys(a))
	for c := range maps.Keys(b) {
		if _, ok := a[c]; !ok {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	for _, c := range codes {
		va, oka := a[c]
		vb, okb := b[c]
		switch {
		case oka && !okb:
			out = append(out, fmt.Sprintf("%s in %s removed (was %s)", what, c, money.Format(va, c)))
		case !oka && okb:
			out = append(out, fmt.Sprintf("%s in %s: %s", what, c, money.Format(vb, c)))
		case va != vb:
			out = append(out, fmt.Sprintf("%s in %s: %s → %s", what, c, money.Format(va, c), money.Format(vb, c)))
		}
	}
	return out
}

func shippingWords(m ShippingMode) string {
	if m == ShippingFlat {
		return "a flat label fee"
	}
	return "free"
}

// ResolutionWords names a resolution for people: "store credit".
func ResolutionWords(r Resolution) string {
	return strings.ReplaceAll(string(r), "_", " ")
}

func resolutionList(rs []Resolution) string {
	if len(rs) == 0 {
		return "(none)"
	}
	words := make([]string, len(rs))
	for i, r := range rs {
		words[i] = ResolutionWords(r)
	}
	return strings.Join(words, ", ")
}

// TriggerWords says when a refund trigger sends the refund: "when the warehouse
// receives the items".
func TriggerWords(t RefundTrigger) string {
	switch t {
	case TriggerOnReceipt:
		return "when the warehouse receives the items"
	case TriggerOnInspection:
		return "when the received items have been inspected"
	case TriggerOnCarrierScan:
		return "when the carrier first scans the parcel"
	}
	return string(t)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func serialWords(s SerialReturner) string {
	if !s.Enabled {
		return "off"
	}
	return fmt.Sprintf("hold refunds after more than %d returns in %d days", s.MaxReturns, s.PeriodDays)
}

// ReleaseWords says when an exchange's replacement is released, in words.
func ReleaseWords(r ExchangeRelease) string {
	switch r {
	case ReleaseInstant:
		return "at once on approval (instant)"
	case ReleaseOnCarrierScan:
		return "when the carrier first scans the parcel"
	}
	return "when the warehouse receives the items"
}

func expiryWords(days int) string {
	if days <= 0 {
		return "never"
	}
	return fmt.Sprintf("after %d days", days)
}
