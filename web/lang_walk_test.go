package web_test

import (
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/web"
)

var (
	scriptRE = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>`)
	attrRE   = regexp.MustCompile(`\s(?:alt|aria-label|title|placeholder)="([^"]*)"`)
	textRE   = regexp.MustCompile(`>([^<]+)<`)
)

// segments are the texts a reader meets on a page: each run of text between tags,
// and the labels in alt, aria-label, title and placeholder attributes.
func segments(body string, data []string) []string {
	body = scriptRE.ReplaceAllString(body, "")
	var raw []string
	for _, m := range textRE.FindAllStringSubmatch(body, -1) {
		raw = append(raw, m[1])
	}
	for _, m := range attrRE.FindAllStringSubmatch(body, -1) {
		raw = append(raw, m[1])
	}
	var out []string
	for _, r := range raw {
		s := html.UnescapeString(r)
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

// TestNoEnglishLeftInOtherLanguages walks every page of the portal in each
// language — the look-up and its error, the policy page, the items page with an
// error and with its live quote, the quote step, the confirmation, the status page
// of a cancelled return, an outside-window order, error pages and the label — and
// finds no text of the English page left in the German, French, Spanish and
// Japanese ones. Names, numbers and addresses (the order's data) are left out.
func TestNoEnglishLeftInOtherLanguages(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{"window_days": 30, "store_credit_bonus_bps": 1000,
		"return_shipping":   map[string]any{"mode": "flat", "label_fees": map[string]any{"EUR": 495}},
		"keep_it_threshold": map[string]any{"EUR": 100}, "serial_returner": map[string]any{"enabled": true, "max_returns": 5, "period_days": 90},
		"resolutions": []string{"refund", "store_credit", "exchange"},
		"rules": []map[string]any{{"match": map[string]any{"category": "swimwear"}, "window_days": 1},
			{"match": map[string]any{"tag": "outlet"}, "not_returnable": true},
			{"match": map[string]any{"sku": "TEE-BLK-M"}, "restocking_fee_bps": 1000}},
	}, http.StatusOK)
	delivered := time.Now().AddDate(0, 0, -90).UTC().Truncate(time.Second)
	data := []string{"Northwind Outfitters", "Organic T-shirt, black, M", "Gift card", "Swim shorts, blue, M", "Organic T-shirt", "Gift", "Swim",
		"help@northwind.example", "ada@example.com", "old@example.com", "TEE-BLK-M", "swimwear", "outlet", "Ada", "Olga", "Roundtrip",
		"English", "Deutsch", "Français", "Español", "日本語", "ZPL (Zebra)", "PDF", "JPEG", "PNG", "HEIC", "A4", "QR", "MB", "UTC"}
	type walked map[string]string
	walk := func(lang string) walked {
		pages := walked{}
		c := s.client(t)
		c.get("/portal/northwind/lang?to=" + lang)
		number := "NW-" + strings.ToUpper(lang)
		s.order(t, number, lang+"@example.com", "Ada")
		old := "NW-OLD-" + strings.ToUpper(lang)
		s.do(t, "PUT", "/v1/orders/"+old, auth.RoleIntegration, map[string]any{
			"customer": map[string]any{"email": "old@example.com", "first_name": "Olga",
				"address": map[string]any{"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}},
			"currency": "EUR", "placed_at": delivered.Add(-48 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
			"lines":   []map[string]any{{"id": "o1", "sku": "CAP", "name": "Organic T-shirt, black, M", "quantity": 1, "unit_price": 2500, "tags": []string{"outlet"}}},
			"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_old" + lang, "captured": 2500},
		}, http.StatusCreated)
		data = append(data, number, old, lang+"@example.com")

		pages["lookup"] = c.get("/portal/northwind").Body
		pages["lookup-error"] = c.post("/portal/northwind/session", url.Values{"order_number": {number}, "email": {"eve@example.com"}}).Body
		pages["policy"] = c.get("/portal/northwind/policy").Body
		pages["session-ended"] = c.post("/portal/northwind/quote", url.Values{"csrf": {"x"}}).Body
		pages["outside-window"] = c.lookUp("northwind", old, "old@example.com").Body
		home := c.lookUp("northwind", number, lang+"@example.com")
		pages["items"] = home.Body
		csrf := home.csrf(t)
		form := url.Values{"csrf": {csrf}, "n": {"3"}, "line.0": {"l1"}, "qty.0": {"1"}, "line.1": {"l2"}, "line.2": {"l3"}}
		pages["items-error"] = c.post("/portal/northwind/quote", form).Body
		form.Set("reason.0", "too_small")
		form.Set("live", "1")
		pages["live-quote"] = c.post("/portal/northwind/quote", form).Body
		form.Del("live")
		review := c.post("/portal/northwind/quote", form)
		wantStatus(t, lang+" quote", review, http.StatusOK)
		pages["review"] = review.Body
		key := itemsKeyRE.FindStringSubmatch(review.Body)[1]
		done := c.post("/portal/northwind/returns", url.Values{"csrf": {csrf}, "key": {key}, "n": {"1"}, "line.0": {"l1"}, "qty.0": {"1"},
			"reason.0": {"too_small"}, "resolution": {"store_credit"}})
		wantStatus(t, lang+" confirm", done, http.StatusSeeOther)
		conf := c.get(done.Location)
		pages["confirmation"] = conf.Body
		rma := rmaRE.FindStringSubmatch(done.Location)[1]
		data = append(data, rma)
		data = append(data, regexp.MustCompile(`[A-Z]{2}\d{9}[A-Z]{2}`).FindAllString(conf.Body, -1)...)
		status := "/portal/northwind/returns/" + rma
		pages["status"] = c.get(status).Body
		label := c.get(status + "/label?format=a4")
		if label.Status != http.StatusOK {
			t.Fatalf("%s label: %d", lang, label.Status)
		}
		pages["label"] = pdfText(t, label.Body)
		wantStatus(t, lang+" cancel", c.post(status+"/cancel", url.Values{"csrf": {csrf}}), http.StatusSeeOther)
		pages["status-cancelled"] = c.get(status + "?cancelled=1").Body
		pages["cancel-again"] = c.post(status+"/cancel", url.Values{"csrf": {csrf}}).Body
		pages["label-void"] = c.get(status + "/label?parcel=1").Body
		pages["no-parcel"] = c.get(status + "/label?parcel=9").Body
		return pages
	}
	// words that are the same in both languages
	sameWord := map[string]bool{"fr:Questions": true}
	en := walk("en")
	for _, lang := range web.Languages()[1:] {
		got := walk(lang)
		for name, body := range got {
			if name != "label" && !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: the page is not marked as %s", lang, name, lang)
			}
			english := map[string]bool{}
			for _, seg := range segments(en[name], data) {
				english[seg] = true
			}
			if name == "label" && lang == "ja" {
				continue // the label fonts have no Japanese glyphs: a Japanese reader's label is in English
			}
			for _, seg := range segments(body, data) {
				if name == "label" && len(strings.Fields(seg)) < 5 {
					continue // the carrier's captions (FROM, TO, TRACKING NUMBER) stay in English; the shopper's sentences may not
				}
				if english[seg] && !sameWord[lang+":"+seg] {
					t.Errorf("%s %s: English left: %q", lang, name, seg)
				}
			}
		}
	}
}

// pdfText is the text of a PDF, with spaces squeezed.
func pdfText(t *testing.T, pdf string) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "label.pdf")
	if err := os.WriteFile(in, []byte(pdf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils, which make test installs): %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, ">"+l+"<")
		}
	}
	return strings.Join(lines, "")
}
