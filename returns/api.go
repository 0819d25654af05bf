package returns

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
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
	// ClientLimit and OrderLimit limit portal sign-in attempts per client address
	// and per order; nil means no limit.
	ClientLimit, OrderLimit *ratelimit.Limiter
}

var (
	all     = []auth.Role{auth.RoleIntegration, auth.RoleWarehouse, auth.RoleFinance}
	service = []auth.Role{auth.RoleIntegration}
)

// Register adds the orders, policy, portal session, returns and timeline operations
// to api, one file each (api_orders.go, api_policy.go, api_portal.go, api_returns.go,
// api_events.go).
func Register(api huma.API, a *API) {
	registerOrders(api, a)
	registerPolicy(api, a)
	registerPortal(api, a)
	registerReturns(api, a)
	registerEvents(api, a)
}
