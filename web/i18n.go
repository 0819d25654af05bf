package web

import (
	"embed"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/returns"
)

// The shopper's pages speak the shopper's language: English, German, French, Spanish
// or Japanese, from message catalogues in locales/*.toml (one file per language, the
// same message IDs in each). The language is the one the shopper picked with the
// switcher (a cookie), else the order's locale, else the browser's Accept-Language,
// else English. Staff pages are in English.

//go:embed locales/*.toml
var localeFS embed.FS

// langCookie keeps the language a shopper picked.
const langCookie = "rt_lang"

// Lang is one language of the shopper's pages: its messages, dates, percentages and
// money.
type Lang struct {
	Code string // en, de, fr, es, ja
	Name string // the language's own name, for the switcher
	loc  *i18n.Localizer
	tag  language.Tag
}

var (
	bundle    = i18n.NewBundle(language.English)
	langs     []*Lang
	langByTag = map[string]*Lang{}
	matcher   language.Matcher
)

func init() {
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	var tags []language.Tag
	for _, l := range []struct{ code, name string }{
		{"en", "English"}, {"de", "Deutsch"}, {"fr", "Français"}, {"es", "Español"}, {"ja", "日本語"},
	} {
		if _, err := bundle.LoadMessageFileFS(localeFS, path.Join("locales", l.code+".toml")); err != nil {
			panic(err)
		}
		tag := language.MustParse(l.code)
		lg := &Lang{Code: l.code, Name: l.name, loc: i18n.NewLocalizer(bundle, l.code), tag: tag}
		langs = append(langs, lg)
		langByTag[l.code] = lg
		tags = append(tags, tag)
	}
	matcher = language.NewMatcher(tags)
}

// english is the language of staff pages and the fallback.
func english() *Lang { return langByTag["en"] }

// lookupLang returns the language of a code the switcher sends, or nil.
func lookupLang(code string) *Lang { return langByTag[strings.ToLower(code)] }

// matchLang picks the language that best serves the preferences (BCP 47 tags or an
// Accept-Language header), and false when none of them is one the pages speak.
func matchLang(prefs ...string) (*Lang, bool) {
	var tags []language.Tag
	for _, p := range prefs {
		if p == "" {
			continue
		}
		t, _, err := language.ParseAcceptLanguage(p)
		if err == nil {
			tags = append(tags, t...)
		}
	}
	if len(tags) == 0 {
		return english(), false
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return english(), false
	}
	return langs[i], true
}

// T translates the message id. kv are pairs of a template field and its value
// ("Days", 30); a "Count" pair also chooses the plural form. A message missing from
// the catalogues shows its ID (and fails the catalogue test).
func (l *Lang) T(id string, kv ...any) string {
	data := map[string]any{}
	var count any
	for i := 0; i+1 < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		data[k] = kv[i+1]
		if k == "Count" {
			count = kv[i+1]
		}
	}
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil && count != nil {
		// a message with one form for every number
		s, err = l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	}
	if err != nil {
		return id
	}
	return s
}

// has reports whether the language's own catalogue has the message id.
func (l *Lang) has(id string) bool {
	_, tag, err := l.loc.LocalizeWithTag(&i18n.LocalizeConfig{MessageID: id, PluralCount: 2, TemplateData: map[string]any{}})
	return err == nil && tag == l.tag
}

// Money formats an amount as the language writes it ("190,74 €").
func (l *Lang) Money(minor int64, currency string) string {
	return money.FormatLocale(minor, currency, l.Code)
}

// Minus formats an amount taken off.
func (l *Lang) Minus(minor int64, currency string) string { return "−" + l.Money(minor, currency) }

var monthNames = map[string][12]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
}

// Date words a day: "2 December 2026", "2. Dezember 2026", "2 décembre 2026",
// "2 de diciembre de 2026", "2026年12月2日" (in UTC, as the API's dates are).
func (l *Lang) Date(t time.Time) string {
	t = t.UTC()
	d, m, y := t.Day(), t.Month(), t.Year()
	switch l.Code {
	case "de":
		return fmt.Sprintf("%d. %s %d", d, monthNames["de"][m-1], y)
	case "fr":
		return fmt.Sprintf("%d %s %d", d, monthNames["fr"][m-1], y)
	case "es":
		return fmt.Sprintf("%d de %s de %d", d, monthNames["es"][m-1], y)
	case "ja":
		return fmt.Sprintf("%d年%d月%d日", y, m, d)
	}
	return t.Format("2 January 2006")
}

// DateTime words a moment, for the timeline (the script shows it in the reader's
// own time zone).
func (l *Lang) DateTime(t time.Time) string {
	return l.Date(t) + " " + t.UTC().Format("15:04") + " UTC"
}

// Percent words basis points: "10%", "12.5%"; "10 %" and "12,5 %" in German,
// French and Spanish.
func (l *Lang) Percent(bps int) string {
	p := percent(bps)
	switch l.Code {
	case "de", "fr", "es":
		return strings.Replace(strings.TrimSuffix(p, "%"), ".", ",", 1) + "\u00a0%"
	}
	return p
}

// State says where a return stands.
func (l *Lang) State(st returns.State) string { return l.T("state-" + string(st)) }

// Reason is a return reason's label.
func (l *Lang) Reason(c returns.ReasonCode) string {
	if _, ok := returns.LookupReason(c); !ok {
		return string(c)
	}
	return l.T("reason-" + string(c))
}

// langOf chooses the language of a shopper's page and remembers it for the request:
// ?lang= (a link that names one), the switcher's cookie, the order's locale, the
// browser's Accept-Language, English.
func (s *Server) langOf(rq *request) *Lang {
	if rq.lang != nil {
		return rq.lang
	}
	rq.lang = english()
	if l := lookupLang(rq.URL.Query().Get("lang")); l != nil {
		rq.lang = l
		return l
	}
	if c, err := rq.Cookie(langCookie); err == nil {
		if l := lookupLang(c.Value); l != nil {
			rq.lang = l
			return l
		}
	}
	if rq.p.OrderID != 0 && rq.merchant != nil {
		if o, err := s.returns.OrderByID(rq.ctx(), rq.merchant.ID, rq.p.OrderID); err == nil && o.Order.Locale != "" {
			if l, ok := matchLang(o.Order.Locale); ok {
				rq.lang = l
				return l
			}
		}
	}
	if l, ok := matchLang(rq.Header.Get("Accept-Language")); ok {
		rq.lang = l
	}
	return rq.lang
}

// portalLang is the switcher: it keeps the language picked for a year and goes
// back to the page the shopper was on.
func (s *Server) portalLang(rq *request) error {
	l := lookupLang(rq.URL.Query().Get("to"))
	back := safeNext(rq.URL.Query().Get("next"), rq.merchant.Slug)
	if back == "" {
		back = portalPath(rq.merchant.Slug)
	}
	if l != nil {
		c := s.cookie(rq.Request, langCookie, l.Code, portalPath(rq.merchant.Slug), s.now().AddDate(1, 0, 0))
		http.SetCookie(rq.w, c)
	}
	return redirectTo(back)
}

// switchLink is one entry of the language switcher.
type switchLink struct {
	Code, Name, URL string
	Current         bool
}

// switcher lists the languages with links that keep the shopper on the page.
func switcher(rq *request, cur *Lang) []switchLink {
	next := rq.URL.Path
	if rq.Method != http.MethodGet {
		next = portalPath(rq.merchant.Slug)
	}
	var out []switchLink
	for _, l := range langs {
		out = append(out, switchLink{Code: l.Code, Name: l.Name, Current: l == cur,
			URL: portalPath(rq.merchant.Slug) + "/lang?to=" + l.Code + "&next=" + url.QueryEscape(next)})
	}
	return out
}
