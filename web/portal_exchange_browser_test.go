package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestExchangeInABrowser walks an exchange at phone size: the T-shirt is too small,
// the next size is in stock (the one after is shown but not offered), the review
// shows the replacement against the returned item, and confirming gives the label:
// the same screens as a refund (items, review, confirmation).
func TestExchangeInABrowser(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{"window_days": 30,
		"resolutions": []string{"refund", "store_credit", "exchange"}}, http.StatusOK)
	variant := func(size string, available int) map[string]any {
		return map[string]any{"sku": "TEE-BLK-" + size, "options": []map[string]string{{"name": "Colour", "value": "Black"}, {"name": "Size", "value": size}},
			"prices": map[string]int64{"EUR": 2975}, "available": available}
	}
	s.do(t, "PUT", "/v1/products/tee", auth.RoleIntegration, map[string]any{"name": "Organic T-shirt",
		"variants": []map[string]any{variant("M", 3), variant("L", 2), variant("XL", 0)}}, http.StatusCreated)
	delivered := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	s.do(t, "PUT", "/v1/orders/NW-7", auth.RoleIntegration, map[string]any{
		"customer": map[string]any{"email": "grace@example.com", "first_name": "Grace",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}},
		"currency": "EUR", "placed_at": delivered.Add(-48 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines": []map[string]any{{"id": "l1", "sku": "TEE-BLK-M", "name": "Organic T-shirt, black, M", "quantity": 1,
			"unit_price": 2500, "tax": 475, "product_id": "tee"}},
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_nw7", "captured": 2975},
	}, http.StatusCreated)

	b := newTab(t, s.env.URL)
	phone := func() { b.do(chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateMobile)) }
	phone()
	b.open("/portal/northwind")
	b.waitVisible("#order_number")
	b.do(chromedp.SendKeys(chromedp.ID("order_number"), "NW-7"), chromedp.SendKeys(chromedp.ID("email"), "grace@example.com"+kb.Enter))

	screens := 0
	b.waitVisible("#exchange-0")
	screens++
	b.page("exchange-items", true)
	phone()
	b.mustSee("Exchange for another size/colour")
	type opt struct {
		Value    string `json:"value"`
		Text     string `json:"text"`
		Disabled bool   `json:"disabled"`
	}
	opts := eval[[]opt](b, `[...document.querySelectorAll('#exchange-0 option')].map(o => ({value: o.value, text: o.textContent, disabled: o.disabled}))`)
	if len(opts) != 3 || opts[1].Value != "TEE-BLK-L" || opts[1].Disabled || !strings.Contains(opts[1].Text, "same price") ||
		opts[2].Value != "TEE-BLK-XL" || !opts[2].Disabled || !strings.Contains(opts[2].Text, "out of stock") {
		t.Errorf("exchange options: got %+v, want L in stock at the same price and XL shown but not offered", opts)
	}
	b.do(
		chromedp.SetValue(chromedp.ID("qty-0"), "1"),
		chromedp.SetValue(chromedp.ID("reason-0"), "too_small"),
		chromedp.SetValue(chromedp.ID("exchange-0"), "TEE-BLK-L"),
		chromedp.Click(chromedp.CSS(`form[action$="/quote"] button[type=submit]`)),
	)
	b.waitVisible("table.quote")
	screens++
	b.page("exchange-review", true)
	phone()
	b.mustSee("Check your exchange", "1 × Organic T-shirt, black, M", "New: Organic T-shirt, Black / L", "You get back", "€0.00", "Confirm exchange")

	b.do(chromedp.Click(chromedp.CSS(`form[action$="/returns"] button[type=submit]`)))
	b.waitVisible(".qrbox svg")
	screens++
	b.page("exchange-confirmation", true)
	b.mustSee("Your return label", "Download label", "Your exchange", "Organic T-shirt, Black / L")
	if screens != 3 {
		t.Errorf("got %d screens after signing in, want 3 as for a refund", screens)
	}
	rma := b.text(".note.ok strong.mono")

	var got struct {
		Resolution string `db:"resolution"`
		State      string `db:"state"`
		Status     string `db:"status"`
		Reserved   int    `db:"reserved"`
	}
	if err := s.env.DB.Get(&got, `SELECT r.resolution, r.state, x.status,
		(SELECT reserved FROM product_variants WHERE sku = 'TEE-BLK-L') AS reserved
		FROM returns r JOIN exchanges x ON x.return_id = r.id WHERE r.rma = $1`, rma); err != nil {
		t.Fatalf("return %s: %v", rma, err)
	}
	if got.Resolution != "exchange" || got.State != "approved" || got.Status != "reserved" || got.Reserved != 1 {
		t.Errorf("got %+v, want an approved exchange with one L held", got)
	}
}
