package refunds_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

func TestListRefundFilters(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	shop := env.Merchant(t, "northwind")
	for _, q := range []string{
		`INSERT INTO orders (merchant_id, number, email, currency, data) VALUES ($1, 'NW-1', 'a@x', 'EUR', '{}'), ($1, 'NW-2', 'a@x', 'EUR', '{}')`,
		`INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version, currency, quote, total, customer_email, created_by)
			SELECT $1, id, 'R-' || number, 'resolving', 'refund', 1, 'EUR', '{}', 0, 'a@x', 't' FROM orders WHERE merchant_id = $1`,
		`INSERT INTO refunds (merchant_id, return_id, amount, currency, status, created_at, settled_at)
			SELECT $1, r.id, 100, 'EUR', 'succeeded', ('2026-03-0' || g || 'T10:00:00Z')::timestamptz, ('2026-03-0' || (g + 1) || 'T10:00:00Z')::timestamptz
			FROM returns r, generate_series(1, 3) g WHERE r.merchant_id = $1`,
	} {
		if _, err := env.DB.Exec(q, shop.Merchant.ID); err != nil {
			t.Fatal(err)
		}
	}
	for q, n := range map[string]int{
		"": 6, "rma=R-NW-1": 3, "order=NW-2": 3, "order=NW-3": 0,
		"created_from=2026-03-02": 4, "created_from=2026-03-02&created_to=2026-03-03": 2,
		"settled_to=2026-03-03": 2, "settled_from=2026-03-04T10:00:00Z&order=NW-1": 1,
	} {
		res := env.Do(t, "GET", "/v1/refunds?"+q, shop.Keys[auth.RoleFinance], nil)
		var body struct {
			Data []any `json:"data"`
		}
		res.JSON(t, &body)
		if res.Status != http.StatusOK || len(body.Data) != n {
			t.Errorf("?%s: got %d with %d refunds, want 200 with %d", q, res.Status, len(body.Data), n)
		}
	}
	if res := env.Do(t, "GET", "/v1/refunds?created_from=soon", shop.Keys[auth.RoleFinance], nil); res.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(res.Body), "query.created_from") {
		t.Errorf("bad date: got %d %s, want 422 naming query.created_from", res.Status, res.Body)
	}
}
