package web_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

var creditCodeRE = regexp.MustCompile(`SC-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}`)

// TestStatusPageStoreCredit: the status page shows the shopper's store credit
// balance and history, and the credit's code once.
func TestStatusPageStoreCredit(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	var r created
	s.do(t, "POST", "/v1/returns", auth.RoleIntegration, map[string]any{"order_number": "NW-1", "resolution": "store_credit",
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "changed_mind"}}}, http.StatusCreated).JSON(t, &r)
	s.do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), auth.RoleWarehouse, map[string]any{"items": []map[string]any{
		{"line_id": "l1", "quantity": 1, "condition": "new", "disposition": "restock"}}}, http.StatusCreated)
	s.drain(t)

	c := s.client(t)
	c.lookUp("northwind", "NW-1", "ada@example.com")
	first := c.get("/portal/northwind/returns/" + r.RMA)
	wantStatus(t, "status page", first, http.StatusOK)
	mustContain(t, first, "Your store credit", "Balance:", "shown only this once")
	code := creditCodeRE.FindString(first.Body)
	if code == "" {
		t.Fatalf("no code on the first visit:\n%.1500s", first.Body)
	}
	again := c.get("/portal/northwind/returns/" + r.RMA)
	mustContain(t, again, "Your store credit", "Balance:", "Added")
	if creditCodeRE.MatchString(again.Body) {
		t.Errorf("the code is shown again on the second visit")
	}
	// the code shown is the one that spends the credit
	res := s.env.Do(t, "POST", "/v1/store-credit/redemptions", s.tn.Keys[auth.RoleIntegration], map[string]any{
		"code": code, "amount": 100, "currency": "EUR", "order_reference": "NW-99"}, "Idempotency-Key", "web-1")
	if res.Status != http.StatusCreated {
		t.Fatalf("redeem the code shown: %d %s", res.Status, res.Body)
	}
	mustContain(t, c.get("/portal/northwind/returns/"+r.RMA), "Spent", "Spent on order NW-99")
}

// TestStatusPagePayLink: a dearer exchange's status page links to Stripe's payment
// page, and shows the shipment once the shop reports it.
func TestStatusPagePayLink(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{"resolutions": []string{"refund", "exchange"}}, http.StatusOK)
	s.do(t, "PUT", "/v1/products/tee", auth.RoleIntegration, map[string]any{"name": "Organic T-shirt", "variants": []map[string]any{
		{"sku": "TEE-BLK-M", "prices": map[string]int64{"EUR": 2975}, "available": 3},
		{"sku": "TEE-GRN-M", "options": []map[string]string{{"name": "Colour", "value": "Green"}}, "prices": map[string]int64{"EUR": 3975}, "available": 3},
	}}, http.StatusCreated)
	delivered := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	s.do(t, "PUT", "/v1/orders/NW-8", auth.RoleIntegration, map[string]any{
		"customer": map[string]any{"email": "grace@example.com", "first_name": "Grace",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}},
		"currency": "EUR", "placed_at": delivered.Add(-48 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines": []map[string]any{{"id": "l1", "sku": "TEE-BLK-M", "name": "Organic T-shirt, black, M", "quantity": 1,
			"unit_price": 2500, "tax": 475, "product_id": "tee"}},
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_nw8", "captured": 2975},
	}, http.StatusCreated)
	var r created
	s.do(t, "POST", "/v1/returns", auth.RoleIntegration, map[string]any{"order_number": "NW-8", "resolution": "exchange",
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "other", "exchange_sku": "TEE-GRN-M"}}}, http.StatusCreated).JSON(t, &r)

	c := s.client(t)
	c.lookUp("northwind", "NW-8", "grace@example.com")
	st := c.get("/portal/northwind/returns/" + r.RMA)
	mustContain(t, st, "Your exchange", "Pay the difference of €10.00", "/returns/"+r.RMA+"/pay")
	pay := c.get("/portal/northwind/returns/" + r.RMA + "/pay")
	if pay.Status != http.StatusSeeOther || !strings.HasSuffix(pay.Location, "?preparing=1") {
		t.Errorf("pay before the page exists: got %d to %q, want back to the status page, preparing", pay.Status, pay.Location)
	}
	s.drain(t)
	sessions := s.stripe.CheckoutSessions()
	if len(sessions) != 1 {
		t.Fatalf("got %d Checkout Sessions, want 1", len(sessions))
	}
	pay = c.get("/portal/northwind/returns/" + r.RMA + "/pay")
	if pay.Status != http.StatusSeeOther || pay.Location != sessions[0].URL {
		t.Errorf("pay: got %d to %q, want Stripe's page %q", pay.Status, pay.Location, sessions[0].URL)
	}
}
