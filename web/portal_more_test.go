package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestOutsideTheWindowSaysWhatIsLeft: an order whose window has ended gets a page
// that says why and how to reach the shop, not an empty chooser.
func TestOutsideTheWindowSaysWhatIsLeft(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	delivered := time.Now().AddDate(0, 0, -90).UTC().Truncate(time.Second)
	s.do(t, "PUT", "/v1/orders/NW-OLD", auth.RoleIntegration, map[string]any{
		"customer": map[string]any{"email": "old@example.com", "first_name": "Olga",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}},
		"currency": "EUR", "placed_at": delivered.Add(-48 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines":   []map[string]any{{"id": "o1", "sku": "TEE-BLK-M", "name": "Organic T-shirt, black, M", "quantity": 1, "unit_price": 2500}},
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_old", "captured": 2500},
	}, http.StatusCreated)
	c := s.client(t)
	p := c.lookUp("northwind", "NW-OLD", "old@example.com")
	wantStatus(t, "items page", p, http.StatusOK)
	mustContain(t, p, `id="no-returns"`, "Nothing in this order can be returned any more", "What you can still do",
		`href="mailto:help@northwind.example?subject=NW-OLD"`, "Return window ended on", `href="/portal/northwind/policy"`)
	for _, gone := range []string{"Choose what you would like to send back", `action="/portal/northwind/quote"`} {
		if strings.Contains(p.Body, gone) {
			t.Errorf("the page still says %q", gone)
		}
	}
}

// TestPolicyPageIsLinkedAndPublic: the policy page needs no order, and the first
// screen links to it.
func TestPolicyPageIsLinkedAndPublic(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	c := s.client(t)
	first := c.get("/portal/northwind")
	mustContain(t, first, `href="/portal/northwind/policy"`)
	p := c.get("/portal/northwind/policy")
	wantStatus(t, "policy page", p, http.StatusOK)
	mustContain(t, p, "Return policy", "You have 30 days to start a return.", "Items in the category “swimwear”: 1 day.",
		`id="faq-printer"`, `id="faq-lost-label"`, `id="faq-damaged"`, `id="faq-how-long"`, `id="faq-refund-failed"`, "help@northwind.example")
	de := s.client(t)
	req, _ := http.NewRequest("GET", s.env.URL+"/portal/northwind/policy", nil)
	req.Header.Set("Accept-Language", "de-CH, en;q=0.5")
	res, err := de.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dp := read(t, res)
	mustContain(t, dp, `<html lang="de">`, "Rückgaberichtlinie", "Sie haben 30 Tage Zeit")
	// the switcher keeps the choice in a cookie, over the browser's language
	sw := de.get("/portal/northwind/lang?to=fr&next=/portal/northwind/policy")
	wantStatus(t, "switcher", sw, http.StatusSeeOther)
	if sw.Location != "/portal/northwind/policy" {
		t.Errorf("switcher: got to %q, want back to the policy page", sw.Location)
	}
	res, err = de.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, read(t, res), `<html lang="fr">`, "Politique de retour")
	// a switcher link elsewhere never leaves the portal
	if out := de.get("/portal/northwind/lang?to=es&next=https://evil.example/"); out.Location != "/portal/northwind" {
		t.Errorf("switcher to another site: got %q", out.Location)
	}
}

// TestOrderLocale: an order's locale is checked and kept, and chooses the portal's
// language over the browser's.
func TestOrderLocale(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	body := func(locale string) map[string]any {
		return map[string]any{
			"customer": map[string]any{"email": "lena@example.com", "first_name": "Lena",
				"address": map[string]any{"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}},
			"currency": "EUR", "placed_at": time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339), "locale": locale,
			"lines":   []map[string]any{{"id": "d1", "sku": "TEE-BLK-M", "name": "Bio-T-Shirt, schwarz, M", "quantity": 1, "unit_price": 2500}},
			"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_de", "captured": 2500},
		}
	}
	res := s.do(t, "PUT", "/v1/orders/NW-DE", auth.RoleIntegration, body("not a tag!"), http.StatusUnprocessableEntity)
	if !strings.Contains(string(res.Body), `locale`) || !strings.Contains(string(res.Body), `BCP 47`) {
		t.Errorf("a wrong locale: got %s, want an error naming locale", res.Body)
	}
	s.do(t, "PUT", "/v1/orders/NW-DE", auth.RoleIntegration, body("de-AT"), http.StatusCreated)
	var got struct {
		Locale string `json:"locale"`
	}
	s.do(t, "GET", "/v1/orders/NW-DE", auth.RoleIntegration, nil, http.StatusOK).JSON(t, &got)
	if got.Locale != "de-AT" {
		t.Errorf("stored locale: got %q, want de-AT", got.Locale)
	}
	c := s.client(t)
	p := c.post("/portal/northwind/session", map[string][]string{"order_number": {"NW-DE"}, "email": {"lena@example.com"}})
	wantStatus(t, "look-up", p, http.StatusSeeOther)
	policy := c.get("/portal/northwind/policy")
	mustContain(t, policy, `<html lang="de">`, "Rückgaberichtlinie")
}
