package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/web"
)

// TestExchangePagesSpeakEachLanguage walks the exchange in each language — the
// items page with its exchange choices (same price, dearer, out of stock), the
// review of a dearer and of a cheaper replacement, and the status page with the
// exchange to pay, before and while its payment page is prepared — and finds no
// text of the English pages left in the German, French, Spanish and Japanese ones.
func TestExchangePagesSpeakEachLanguage(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{"resolutions": []string{"refund", "store_credit", "exchange"}}, http.StatusOK)
	opt := func(colour, size string) []map[string]string {
		return []map[string]string{{"name": "Colour", "value": colour}, {"name": "Size", "value": size}}
	}
	s.do(t, "PUT", "/v1/products/tee", auth.RoleIntegration, map[string]any{"name": "Organic T-shirt", "variants": []map[string]any{
		{"sku": "TEE-BLK-M", "options": opt("Black", "M"), "prices": map[string]int64{"EUR": 2975}, "available": 3},
		{"sku": "TEE-BLK-L", "options": opt("Black", "L"), "prices": map[string]int64{"EUR": 2975}, "available": 30},
		{"sku": "TEE-GRN-M", "options": opt("Green", "M"), "prices": map[string]int64{"EUR": 3975}, "available": 30},
		{"sku": "TEE-BLK-S", "options": opt("Black", "S"), "prices": map[string]int64{"EUR": 1975}, "available": 30},
		{"sku": "TEE-BLK-XL", "options": opt("Black", "XL"), "prices": map[string]int64{"EUR": 2975}, "available": 0},
	}}, http.StatusCreated)
	delivered := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	data := []string{"Northwind Outfitters", "Organic T-shirt, black, M", "Organic T-shirt", "Black / L", "Black / S", "Black / XL",
		"Green / M", "help@northwind.example", "Grace", "Roundtrip", "ZPL (Zebra)", "PDF", "A4", "QR", "UTC", "English", "Deutsch", "Français", "Español", "日本語"}
	walk := func(lang string) map[string]string {
		pages := map[string]string{}
		number, email := "NW-X"+strings.ToUpper(lang), lang+"@example.com"
		s.do(t, "PUT", "/v1/orders/"+number, auth.RoleIntegration, map[string]any{
			"customer": map[string]any{"email": email, "first_name": "Grace",
				"address": map[string]any{"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}},
			"currency": "EUR", "placed_at": delivered.Add(-48 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
			"lines": []map[string]any{{"id": "l1", "sku": "TEE-BLK-M", "name": "Organic T-shirt, black, M", "quantity": 1,
				"unit_price": 2500, "tax": 475, "product_id": "tee"}},
			"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_x" + lang, "captured": 2975},
		}, http.StatusCreated)
		data = append(data, number, email)
		c := s.client(t)
		c.get("/portal/northwind/lang?to=" + lang)
		home := c.lookUp("northwind", number, email)
		pages["items"] = home.Body
		csrf := home.csrf(t)
		form := url.Values{"csrf": {csrf}, "n": {"1"}, "line.0": {"l1"}, "qty.0": {"1"}, "reason.0": {"too_small"}, "exchange.0": {"TEE-BLK-S"}}
		cheaper := c.post("/portal/northwind/quote", form)
		wantStatus(t, lang+" cheaper", cheaper, http.StatusOK)
		pages["review-cheaper"] = cheaper.Body
		form.Set("exchange.0", "TEE-GRN-M")
		dearer := c.post("/portal/northwind/quote", form)
		wantStatus(t, lang+" dearer", dearer, http.StatusOK)
		pages["review-dearer"] = dearer.Body
		key := itemsKeyRE.FindStringSubmatch(dearer.Body)[1]
		form.Set("key", key)
		form.Set("resolution", "exchange")
		done := c.post("/portal/northwind/returns", form)
		wantStatus(t, lang+" confirm", done, http.StatusSeeOther)
		pages["confirmation"] = c.get(done.Location).Body
		rma := rmaRE.FindStringSubmatch(done.Location)[1]
		data = append(data, rma)
		status := "/portal/northwind/returns/" + rma
		pages["status"] = c.get(status).Body
		pages["status-preparing"] = c.get(status + "?preparing=1").Body
		return pages
	}
	en := walk("en")
	mustContain(t, page{Body: en["items"]}, "Exchange for another size/colour", "same price", "€10.00 more", "out of stock")
	mustContain(t, page{Body: en["review-cheaper"]}, "How would you like the €10.00 back?")
	mustContain(t, page{Body: en["status"]}, "Pay the difference of €10.00 to confirm your exchange.", "Replacement reserved")
	mustContain(t, page{Body: en["status-preparing"]}, "Your payment page is being prepared")
	for _, lang := range web.Languages()[1:] {
		for name, body := range walk(lang) {
			if !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: the page is not marked as %s", lang, name, lang)
			}
			english := map[string]bool{}
			for _, seg := range segments(en[name], data) {
				english[seg] = true
			}
			for _, seg := range segments(body, data) {
				if english[seg] {
					t.Errorf("%s %s: English left: %q", lang, name, seg)
				}
			}
		}
	}
}
