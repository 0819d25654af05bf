package money

import "testing"

func TestFormatLocale(t *testing.T) {
	const nb, nnb = "\u00a0", "\u202f"
	for _, tc := range []struct {
		minor    int64
		currency string
		lang     string
		want     string
	}{
		{19074, "EUR", "en", "€190.74"},
		{19074, "USD", "en-US", "$190.74"},
		{10055, "JPY", "en", "¥10,055"},
		{10055, "JPY", "ja-JP", "￥10,055"},
		{19074, "EUR", "ja", "€190.74"},
		{19074, "EUR", "de", "190,74" + nb + "€"},
		{123456, "EUR", "de-AT", "1.234,56" + nb + "€"},
		{19074, "EUR", "fr", "190,74" + nb + "€"},
		{123456789, "EUR", "fr-FR", "1" + nnb + "234" + nnb + "567,89" + nb + "€"},
		{123456, "EUR", "es", "1234,56" + nb + "€"},
		{1234567, "EUR", "es", "12.345,67" + nb + "€"},
		{5, "GBP", "en-GB", "£0.05"},
		{-495, "EUR", "de", "-4,95" + nb + "€"},
		{-495, "EUR", "en", "-€4.95"},
		{1250, "CHF", "en", "CHF" + nb + "12.50"},
		{1250, "CHF", "de-CH", "12,50" + nb + "CHF"},
		{1234, "KWD", "fr", "1,234" + nb + "KWD"},
		{100000, "JPY", "de", "100.000" + nb + "¥"},
		{19074, "EUR", "pt-BR", "€190.74"}, // a language without a style reads as English
		{19074, "EUR", "", "€190.74"},
	} {
		if got := FormatLocale(tc.minor, tc.currency, tc.lang); got != tc.want {
			t.Errorf("FormatLocale(%d, %s, %q): got %q, want %q", tc.minor, tc.currency, tc.lang, got, tc.want)
		}
	}
}
