package money

import "strings"

// numberStyle is how a language writes amounts of money.
type numberStyle struct {
	decimal, group string
	// minGroup is the fewest integer digits that get a group separator plus one:
	// Spanish writes 1234 but 12.345 (minGroup 5); the others group from 1000 (4).
	minGroup int
	// after puts the symbol after the number, with a no-break space.
	after bool
}

var styles = map[string]numberStyle{
	"en": {decimal: ".", group: ",", minGroup: 4},
	"ja": {decimal: ".", group: ",", minGroup: 4},
	"de": {decimal: ",", group: ".", minGroup: 4, after: true},
	"es": {decimal: ",", group: ".", minGroup: 5, after: true},
	"fr": {decimal: ",", group: "\u202f", minGroup: 4, after: true},
}

// symbols are the currency signs used in place of the ISO code; a currency not
// listed is written with its code.
var symbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}

// FormatLocale renders minor units in currency as a shopper reading lang expects:
// "€190.74", "$190.74", "¥10,055" in English, "190,74 €" and "1.234,56 €" in German
// and Spanish, "1 234,56 €" in French (a narrow no-break space between groups),
// "￥10,055" in Japanese. The space before a trailing symbol is a no-break space. A
// currency without a well-known symbol is written with its ISO code ("CHF 12.50",
// "12,50 CHF"). lang is a BCP 47 tag; only its language counts, and a language other
// than en, de, fr, es and ja is written as English. The digits follow the currency's
// ISO exponent, as Format's do.
func FormatLocale(minor int64, currency, lang string) string {
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	st, ok := styles[base]
	if !ok {
		base, st = "en", styles["en"]
	}
	dec := Decimal(minor, currency)
	neg := strings.HasPrefix(dec, "-")
	dec = strings.TrimPrefix(dec, "-")
	intPart, frac, hasFrac := strings.Cut(dec, ".")
	if len(intPart) >= st.minGroup {
		var b strings.Builder
		for i, d := range intPart {
			if i > 0 && (len(intPart)-i)%3 == 0 {
				b.WriteString(st.group)
			}
			b.WriteRune(d)
		}
		intPart = b.String()
	}
	num := intPart
	if hasFrac {
		num += st.decimal + frac
	}
	sym, known := symbols[currency]
	if base == "ja" && currency == "JPY" {
		sym = "￥"
	}
	var out string
	switch {
	case st.after:
		if !known {
			sym = currency
		}
		out = num + "\u00a0" + sym
	case known:
		out = sym + num
	default:
		out = currency + "\u00a0" + num
	}
	if neg {
		return "-" + out
	}
	return out
}
