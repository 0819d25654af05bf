package email

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/roundtriphq/roundtrip/internal/money"
)

// An email speaks the order's language (its locale, a BCP 47 tag) when it is one
// of these, as the returns portal does; any other order gets English.
var catalogues = map[string]*catalogue{
	"en": &English, "de": &German, "fr": &French, "es": &Spanish, "ja": &Japanese,
}

// Languages lists the codes of the languages the emails are written in.
var Languages = []string{"en", "de", "fr", "es", "ja"}

// langFor picks the language of an order's emails from its locale ("de-AT" is German).
func langFor(locale string) string {
	if locale == "" {
		return "en"
	}
	tag, err := language.Parse(locale)
	if err != nil {
		return "en"
	}
	base, _ := tag.Base()
	if _, ok := catalogues[base.String()]; ok {
		return base.String()
	}
	return "en"
}

// amount formats minor units as a reader of lang writes them ("190,74 €").
func amount(minor int64, currency, lang string) string {
	return money.FormatLocale(minor, currency, lang)
}

var (
	months = map[string][12]string{
		"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	}
	weekdays = map[string][7]string{
		"de": {"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"},
		"fr": {"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
		"es": {"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"},
		"ja": {"日", "月", "火", "水", "木", "金", "土"},
	}
)

// date words a day as lang writes it, in UTC: "Monday 2 January 2006",
// "Montag, 2. Januar 2006", "lundi 2 janvier 2006", "lunes, 2 de enero de 2006",
// "2006年1月2日（月）".
func date(t time.Time, lang string) string {
	t = t.UTC()
	d, m, y, wd := t.Day(), t.Month(), t.Year(), t.Weekday()
	switch lang {
	case "de":
		return fmt.Sprintf("%s, %d. %s %d", weekdays["de"][wd], d, months["de"][m-1], y)
	case "fr":
		return fmt.Sprintf("%s %d %s %d", weekdays["fr"][wd], d, months["fr"][m-1], y)
	case "es":
		return fmt.Sprintf("%s, %d de %s de %d", weekdays["es"][wd], d, months["es"][m-1], y)
	case "ja":
		return fmt.Sprintf("%d年%d月%d日（%s）", y, m, d, weekdays["ja"][wd])
	}
	return t.Format("Monday 2 January 2006")
}

// itemLine is one line of a replacement's shipment, as its message keeps it.
type itemLine struct {
	Quantity int    `json:"quantity"`
	Name     string `json:"name"`
}

// itemList words items (each with Quantity and Name) with the catalogue's "item"
// and joins them with its "item_join".
func itemList[T any](c map[string]string, items []T) (string, error) {
	var out []string
	for _, it := range items {
		line, err := fill(c["item"], it)
		if err != nil {
			return "", err
		}
		out = append(out, line)
	}
	return strings.Join(out, c["item_join"]), nil
}
