package email

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

var tagRE = regexp.MustCompile(`<[^>]+>`)

// sentences are the lines a reader meets in a message's text and HTML parts and its
// subject, with the message's data (names, numbers, links) taken out.
func sentences(m rendered, data []string) []string {
	html, text, err := m.parts()
	if err != nil {
		panic(err)
	}
	var raw []string
	raw = append(raw, m.Subject, m.Preheader)
	raw = append(raw, strings.Split(text, "\n")...)
	raw = append(raw, strings.Split(tagRE.ReplaceAllString(html, "\n"), "\n")...)
	var out []string
	for _, s := range raw {
		for _, d := range data {
			s = strings.ReplaceAll(s, d, " ")
		}
		s = strings.Join(strings.Fields(s), " ")
		letters := 0
		for _, c := range s {
			if unicode.IsLetter(c) {
				letters++
			}
		}
		if letters >= 2 {
			out = append(out, s)
		}
	}
	return out
}

// renderAll renders every kind of message in lang, in each variant its words
// depend on (label attached or kept items, inspection or not, with and without a
// bonus and code).
func renderAll(t *testing.T, lang string) map[string]rendered {
	t.Helper()
	c := catalogues[lang].Common
	out := map[string]rendered{}
	for _, kind := range Kinds {
		for _, v := range []struct {
			name     string
			keep     bool
			trigger  string
			attached bool
		}{{"label", false, "on_inspection", true}, {"keep", true, "on_receipt", false}} {
			res, err := fill(c["resolution_store_credit"], nil)
			if err != nil {
				t.Fatal(err)
			}
			items, err := itemList(c, []itemLine{{1, "Black T-shirt, M"}, {2, "Socks"}})
			if err != nil {
				t.Fatal(err)
			}
			valid := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
			first := "Abigail"
			if v.keep {
				first = "" // the greeting without a name
			}
			f := facts{FirstName: first, Email: "abigail@example.com", Shop: "Northwind Outfitters", Support: "help@northwind.example",
				RMA: "RMA-7K2Q9", OrderNumber: "NW-1", Items: items, Total: amount(19074, "EUR", lang), Resolution: res, KeepIt: v.keep,
				ValidUntil: date(valid, lang), Carrier: "DHL", Tracking: "JD0146", Reason: "Worn", Trigger: v.trigger,
				Amount: amount(19074, "EUR", lang), Bonus: amount(1000, "EUR", lang), Balance: amount(123456, "EUR", lang), Code: "RC-ABCD"}
			var feedback func(int) string
			if kind == KindCompleted {
				feedback = func(n int) string { return "https://r.test/t/x/feedback?ease=" + string(rune('0'+n)) }
			}
			m, err := compose(lang, kind, f, brand{Shop: f.Shop, Color: DefaultColor, OnColor: "#ffffff"},
				"https://r.test/t/x", "https://r.test/t/x/unsubscribe", feedback, v.attached)
			if err != nil {
				t.Fatalf("%s %s: %v", lang, kind, err)
			}
			out[string(kind)+"/"+v.name] = m
		}
	}
	return out
}

// TestEveryEmailIsTranslated renders every kind of message to the shopper, in
// each of its variants, in German, French, Spanish and Japanese, and finds no
// sentence of the English rendering left in it (the shop's name, the items, the
// numbers and the links taken out); the catalogues have the same messages and
// keys, and the amounts and dates are written as each language writes them.
func TestEveryEmailIsTranslated(t *testing.T) {
	data := []string{"Northwind Outfitters", "Black T-shirt, M", "Socks", "Abigail", "abigail@example.com", "help@northwind.example",
		"RMA-7K2Q9", "NW-1", "DHL", "JD0146", "Worn", "RC-ABCD", "https://r.test/t/x/unsubscribe", "https://r.test/t/x"}
	en := renderAll(t, "en")
	english := map[string]map[string]bool{}
	for name, m := range en {
		english[name] = map[string]bool{}
		for _, s := range sentences(m, data) {
			english[name][s] = true
		}
	}
	for _, lang := range Languages[1:] {
		cat := catalogues[lang]
		if !slices.Equal(slices.Sorted(maps.Keys(cat.Common)), slices.Sorted(maps.Keys(English.Common))) {
			t.Errorf("%s: common keys %v, want those of English", lang, slices.Sorted(maps.Keys(cat.Common)))
		}
		for _, kind := range Kinds {
			k, e := cat.Kinds[kind], English.Kinds[kind]
			if len(k.Body) != len(e.Body) || len(k.Steps) != len(e.Steps) || k.Subject == "" || k.Heading == "" || k.Action == "" || k.Preheader == "" {
				t.Errorf("%s %s: incomplete: %+v", lang, kind, k)
			}
		}
		for name, m := range renderAll(t, lang) {
			if m.Lang != lang {
				t.Errorf("%s %s: marked as %q", lang, name, m.Lang)
			}
			html, _, _ := m.parts()
			if !strings.Contains(html, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: the HTML part is not marked as %s", lang, name, lang)
			}
			for _, s := range sentences(m, data) {
				if english[name][s] {
					t.Errorf("%s %s: English left: %q", lang, name, s)
				}
			}
		}
	}
	// amounts and dates in the reader's way of writing them
	for lang, want := range map[string][]string{
		"en": {"€190.74", "Monday 7 December 2026"},
		"de": {"190,74\u00a0€", "Montag, 7. Dezember 2026"},
		"fr": {"190,74\u00a0€", "lundi 7 décembre 2026"},
		"es": {"190,74\u00a0€", "lunes, 7 de diciembre de 2026"},
		"ja": {"€190.74", "2026年12月7日（月）"},
	} {
		m := renderAll(t, lang)["return_confirmed/label"]
		_, text, _ := m.parts()
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: the confirmation lacks %q:\n%s", lang, w, text)
			}
		}
	}
}

func TestLanguageOfAnOrder(t *testing.T) {
	for locale, want := range map[string]string{"": "en", "de": "de", "de-AT": "de", "fr-CA": "fr", "es-MX": "es", "ja-JP": "ja",
		"ja": "ja", "en-GB": "en", "pt-BR": "en", "zh": "en", "not a tag!": "en"} {
		if got := langFor(locale); got != want {
			t.Errorf("langFor(%q) = %q, want %q", locale, got, want)
		}
	}
}
