package returns

import (
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// TestAnOrdersReturnsAreReadByOrderWithoutStatistics: the look-ups of an order's
// other returns (the portal quote's, with the order as a parameter, and the create's,
// with the order's row) take the index by merchant, order and ID even on a table never
// analyzed, where the planner cannot tell the merchant's indexes apart by cost: the
// generic plan that each connection keeps until the next ANALYZE must not walk every
// return of the shop.
func TestAnOrdersReturnsAreReadByOrderWithoutStatistics(t *testing.T) {
	for _, c := range []struct{ name, order string }{{"quote", `$2`}, {"create", `o.id`}} {
		plan := pgtest.Plan(t, []string{"plan_cache_mode = force_generic_plan"},
			`PREPARE prior(bigint, bigint) AS SELECT `+priorReturnsJSONOf(c.order)+` FROM orders o WHERE o.merchant_id = $1 AND o.id = $2`,
			`EXECUTE prior(1, 1)`)
		if !strings.Contains(plan, "using returns_order_id on returns x") || !strings.Contains(plan, "order_id = ") {
			t.Errorf("%s: the order's returns are not read by merchant and order:\n%s", c.name, plan)
		}
	}
}
