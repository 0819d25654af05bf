package returns

import (
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
	"github.com/roundtriphq/roundtrip/merchant"
)

// API holds what the returns operations need.
type API struct {
	Store     *Store
	Merchants *merchant.Store
	Shoppers  *auth.Shoppers
	// Audit records changes to the policy.
	Audit *audit.Log
	// ClientLimit limits portal sign-in attempts per client address, and OrderLimit
	// failed ones per client address and order (OrderAttemptBucket); nil means no
	// limit.
	ClientLimit, OrderLimit *ratelimit.Limiter
}

// OrderAttemptBucket is the rate-limit bucket of one client's attempts to open the
// portal of one order (the API's and the web portal's look-ups count in it). It is per
// client, so that someone who knows an order number and guesses emails locks out only
// themselves, never the shopper; a successful attempt empties it.
func OrderAttemptBucket(client, merchantSlug, orderNumber string) string {
	return "session:order:" + client + ":" + strings.ToLower(strings.TrimSpace(merchantSlug)) + ":" +
		strings.ToLower(strings.TrimSpace(orderNumber))
}

var (
	all     = []auth.Role{auth.RoleIntegration, auth.RoleWarehouse, auth.RoleFinance}
	service = []auth.Role{auth.RoleIntegration}
)

// Register adds the orders, policy, portal session, returns and timeline operations
// to api, one file each (api_orders.go, api_policy.go, api_portal.go, api_returns.go,
// api_events.go).
func Register(api huma.API, a *API) {
	// the schema's anyOf (Customer.TransformSchema) answers as the domain check does
	problem.ExplainAnyOf(".customer", "last_name", "at least one of first_name and last_name is required")
	registerOrders(api, a)
	registerPolicy(api, a)
	registerPortal(api, a)
	registerReturns(api, a)
	registerEvents(api, a)
	registerFeedback(api, a)
	registerProducts(api, a)
}
