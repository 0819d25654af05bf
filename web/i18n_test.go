package web

import (
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// TestCatalogues: every language has every message of the English catalogue and
// no other, each in its own words (a message equal to the English one is a leftover,
// unless it is the same word in both languages).
func TestCatalogues(t *testing.T) {
	ids := func(code string) map[string]any {
		b, err := fs.ReadFile(localeFS, "locales/"+code+".toml")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := toml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		return m
	}
	en := ids("en")
	if len(en) < 50 {
		t.Fatalf("the English catalogue has %d messages", len(en))
	}
	same := map[string]bool{"faq-h/fr": true, "state-received/de": false}
	for _, l := range langs[1:] {
		m := ids(l.Code)
		for id := range en {
			if _, ok := m[id]; !ok {
				t.Errorf("%s lacks %s", l.Code, id)
				continue
			}
			if !l.has(id) {
				t.Errorf("%s: %s does not resolve in its own catalogue", l.Code, id)
			}
			if s, ok := m[id].(string); ok && s == en[id] && !same[id+"/"+l.Code] {
				t.Errorf("%s: %s is the English text %q", l.Code, id, s)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(m)) {
			if _, ok := en[id]; !ok {
				t.Errorf("%s has %s, which English does not", l.Code, id)
			}
		}
	}
	if got := english().T("pp-window", "Count", 1, "Days", 1); !strings.Contains(got, "1 day ") {
		t.Errorf("one day: got %q", got)
	}
	if got := lookupLang("de").T("pp-window", "Count", 14, "Days", 14); got != "Sie haben 14 Tage Zeit, eine Rücksendung zu starten." {
		t.Errorf("German plural: got %q", got)
	}
}

func TestMatchLang(t *testing.T) {
	for _, tc := range []struct {
		prefs []string
		want  string
		ok    bool
	}{
		{[]string{"de-AT"}, "de", true},
		{[]string{"", "fr-CA,fr;q=0.9,en;q=0.5"}, "fr", true},
		{[]string{"pt-BR", "es-MX"}, "es", true},
		{[]string{"ja-JP"}, "ja", true},
		{[]string{"pt-BR"}, "en", false},
		{[]string{"en-GB"}, "en", true},
		{nil, "en", false},
	} {
		l, ok := matchLang(tc.prefs...)
		if l.Code != tc.want || ok != tc.ok {
			t.Errorf("matchLang(%q): got %s %v, want %s %v", tc.prefs, l.Code, ok, tc.want, tc.ok)
		}
	}
}

func TestLangFormats(t *testing.T) {
	for code, want := range map[string][3]string{
		"en": {"2 December 2026", "12.5%", "€1,234.50"},
		"de": {"2. Dezember 2026", "12,5\u00a0%", "1.234,50\u00a0€"},
		"fr": {"2 décembre 2026", "12,5\u00a0%", "1\u202f234,50\u00a0€"},
		"es": {"2 de diciembre de 2026", "12,5\u00a0%", "1234,50\u00a0€"},
		"ja": {"2026年12月2日", "12.5%", "€1,234.50"},
	} {
		l := lookupLang(code)
		got := [3]string{l.Date(mustTime(t, "2026-12-02T10:00:00Z")), l.Percent(1250), l.Money(123450, "EUR")}
		if got != want {
			t.Errorf("%s: got %q, want %q", code, got, want)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
