package email_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestReplacementShippedEmail: when the shop reports an exchange's shipment, the
// shopper gets an email with the replacement, the carrier and the tracking number,
// once however often the shipment is reported.
func TestReplacementShippedEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.policy(t, map[string]any{"resolutions": []string{"refund", "store_credit", "exchange"}})
	if res := b.env.Do(t, "PUT", "/v1/products/tee", b.shop.Keys[auth.RoleIntegration], map[string]any{"name": "Black T-shirt",
		"variants": []map[string]any{
			{"sku": "TEE-BLK-M", "prices": map[string]int64{"EUR": 2975}, "available": 3},
			{"sku": "TEE-BLK-L", "options": []map[string]string{{"name": "Size", "value": "L"}}, "prices": map[string]int64{"EUR": 2975}, "available": 3},
		}}); res.Status != http.StatusCreated {
		t.Fatalf("put product: %d %s", res.Status, res.Body)
	}
	r := b.newReturn(t, "NW-1", func(order map[string]any) {
		lines := order["lines"].([]map[string]any)
		lines[0]["product_id"] = "tee"
	})
	// the shopper changes the refund for an exchange: cancel, and exchange instead
	if res := b.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", r.ID), b.shop.Keys[auth.RoleIntegration], map[string]any{}); res.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", res.Status, res.Body)
	}
	res := b.env.Do(t, "POST", "/v1/returns", b.shop.Keys[auth.RoleIntegration], map[string]any{
		"order_number": "NW-1", "resolution": "exchange",
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "too_small", "exchange_sku": "TEE-BLK-L"}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("exchange: %d %s", res.Status, res.Body)
	}
	var x returnDoc
	res.JSON(t, &x)
	b.receive(t, x)
	var ex struct {
		ID string `json:"id"`
	}
	b.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/exchange", x.ID), b.shop.Keys[auth.RoleIntegration], nil).JSON(t, &ex)
	for range 2 {
		if res := b.env.Do(t, "POST", fmt.Sprintf("/v1/exchanges/%s/shipment", ex.ID), b.shop.Keys[auth.RoleIntegration],
			map[string]any{"carrier": "DHL", "tracking_number": "JD014600003828374657"}); res.Status != http.StatusOK {
			t.Fatalf("shipment: %d %s", res.Status, res.Body)
		}
	}
	b.drain(t)
	var shipped []parsed
	for _, p := range b.received(t) {
		if strings.Contains(p.Header.Get("Subject"), "replacement") {
			shipped = append(shipped, p)
		}
	}
	if len(shipped) != 1 {
		t.Fatalf("got %d replacement emails, want 1", len(shipped))
	}
	for _, part := range []string{"1 × Black T-shirt, L", "DHL", "JD014600003828374657", x.RMA} {
		if !strings.Contains(shipped[0].Text, part) {
			t.Errorf("the email lacks %q:\n%s", part, shipped[0].Text)
		}
	}
}

// TestStoreCreditEmailCarriesTheCode: the store credit email gives the credit's code,
// the one that spends it.
func TestStoreCreditEmailCarriesTheCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.newReturn(t, "NW-1", nil)
	if res := b.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", r.ID), b.shop.Keys[auth.RoleIntegration], map[string]any{}); res.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", res.Status, res.Body)
	}
	res := b.env.Do(t, "POST", "/v1/returns", b.shop.Keys[auth.RoleIntegration], map[string]any{"order_number": "NW-1",
		"resolution": "store_credit", "items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "too_small"}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var c returnDoc
	res.JSON(t, &c)
	b.receive(t, c)
	b.drain(t)
	code := ""
	for _, p := range b.received(t) {
		if m := codeRE.FindString(p.Text); m != "" && strings.Contains(p.Header.Get("Subject"), "store credit") {
			code = m
		}
	}
	if code == "" {
		t.Fatal("no store credit email with a code")
	}
	res = b.env.Do(t, "POST", "/v1/store-credit/redemptions", b.shop.Keys[auth.RoleIntegration], map[string]any{
		"code": code, "amount": 100, "currency": "EUR", "order_reference": "NW-2"}, "Idempotency-Key", "mail-1")
	if res.Status != http.StatusCreated {
		t.Errorf("redeem the emailed code: %d %s", res.Status, res.Body)
	}
}

var codeRE = regexp.MustCompile(`SC-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}`)
