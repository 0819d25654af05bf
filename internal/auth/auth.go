// Package auth decides who is calling: staff and integrations with API keys scoped to
// a merchant and a role (keys.go), shoppers with short-lived tokens scoped to one
// order (shopper.go), and staff users who sign in to the pages with a password
// (users.go). One Huma middleware reads each operation's declared security
// requirements and enforces them, so the OpenAPI document and the enforcement cannot
// drift. The operations on API keys belong to the merchant package.
package auth

import (
	"context"
	"fmt"
	"slices"
)

// Role is what an API key may do.
type Role string

const (
	// RoleAdmin may do everything for its merchant.
	RoleAdmin Role = "admin"
	// RoleIntegration is the shop's systems: orders in, webhooks out.
	RoleIntegration Role = "integration"
	// RoleWarehouse scans parcels and records receipts.
	RoleWarehouse Role = "warehouse"
	// RoleFinance sees refunds, retries failed ones and reconciles.
	RoleFinance Role = "finance"
)

// Roles lists every role.
func Roles() []Role { return []Role{RoleAdmin, RoleIntegration, RoleWarehouse, RoleFinance} }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles(), r) {
		return "", fmt.Errorf("auth: unknown role %q (want admin, integration, warehouse or finance)", s)
	}
	return r, nil
}

// Principal is the authenticated caller.
type Principal struct {
	MerchantID int64
	// Role is set for API keys.
	Role Role
	// KeyID is the API key's ID, 0 for shoppers.
	KeyID int64
	// OrderID is set for shoppers: the one order their token is for.
	OrderID int64
	// Actor names the caller in timelines and logs ("key:key_4h7k…", "shopper", "user:ana").
	Actor string
}

// Shopper reports whether the caller is a shopper (token scoped to one order).
func (p Principal) Shopper() bool { return p.OrderID != 0 && p.Role == "" }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller. ok is false for public operations.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// MustFromContext returns the caller of an operation that declares security; the
// middleware guarantees one is there.
func MustFromContext(ctx context.Context) Principal {
	p, ok := FromContext(ctx)
	if !ok {
		panic("auth: operation declares no security but needs a caller")
	}
	return p
}
