package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// Security scheme names, as declared in the OpenAPI document.
const (
	// SchemeAPIKey is an API key; Staff names the roles allowed (admin is always
	// allowed).
	SchemeAPIKey = "apiKey"
	// SchemeShopper is a shopper token for one order.
	SchemeShopper = "shopperToken"
)

// Staff declares an operation for API keys with the admin role or one of roles. The
// roles are written as the requirement's scopes; MoveRoles takes them out of there
// when the operation is added to the document.
func Staff(roles ...Role) []map[string][]string {
	scopes := []string{string(RoleAdmin)}
	for _, r := range roles {
		if r != RoleAdmin {
			scopes = append(scopes, string(r))
		}
	}
	return []map[string][]string{{SchemeAPIKey: scopes}}
}

// StaffOrShopper declares an operation open to API keys with one of roles and to
// shoppers (who see only their own order's data).
func StaffOrShopper(roles ...Role) []map[string][]string {
	return append(Staff(roles...), map[string][]string{SchemeShopper: {}})
}

// rolesKey is the operation metadata that holds the roles an operation accepts.
const rolesKey = "roles"

// MoveRoles is a huma.AddOpFunc: it moves the roles Staff wrote as the API key
// requirement's scopes into the operation's metadata (which Middleware enforces) and
// its x-roles extension (which documents them), and leaves the requirement's scopes
// empty. OpenAPI gives scopes a meaning for OAuth2 only: generators and linters expect
// a bearer requirement to list none.
func MoveRoles(_ *huma.OpenAPI, op *huma.Operation) {
	// Registrations share one requirement among operations (a package's finance :=
	// Staff(RoleFinance)): the operation gets requirements of its own.
	reqs := make([]map[string][]string, len(op.Security))
	for i, req := range op.Security {
		reqs[i] = map[string][]string{}
		for scheme, scopes := range req {
			reqs[i][scheme] = []string{}
			if scheme != SchemeAPIKey || len(scopes) == 0 {
				continue
			}
			if op.Metadata == nil {
				op.Metadata = map[string]any{}
			}
			if op.Extensions == nil {
				op.Extensions = map[string]any{}
			}
			roles := slices.Clone(scopes)
			op.Metadata[rolesKey] = roles
			op.Extensions["x-roles"] = roles
		}
	}
	op.Security = reqs
}

// OperationRoles are the API key roles op accepts: those MoveRoles recorded, or, for
// an operation whose roles were not moved, its requirement's scopes.
func OperationRoles(op *huma.Operation) []string {
	if roles, ok := op.Metadata[rolesKey].([]string); ok {
		return roles
	}
	var roles []string
	for _, req := range op.Security {
		roles = append(roles, req[SchemeAPIKey]...)
	}
	return roles
}

// Schemes are the security schemes to put in the OpenAPI components.
func Schemes() map[string]*huma.SecurityScheme {
	return map[string]*huma.SecurityScheme{
		SchemeAPIKey: {
			Type: "http", Scheme: "bearer", BearerFormat: "rtk_…",
			Description: "An API key (`Authorization: Bearer rtk_…`) scoped to one merchant and one role: " +
				"admin, integration, warehouse or finance. An operation's x-roles lists the roles " +
				"it accepts; admin is accepted everywhere.",
		},
		SchemeShopper: {
			Type: "http", Scheme: "bearer", BearerFormat: "rts_…",
			Description: "A shopper token from POST /v1/portal/sessions, valid for one order for a short time.",
		},
	}
}

// ShopperTokens authenticates shopper tokens; the returns package provides it.
type ShopperTokens interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// Authenticator checks bearer credentials of both kinds.
type Authenticator struct {
	Keys     *Keys
	Shoppers ShopperTokens
}

func (a *Authenticator) authenticate(ctx context.Context, secret string) (Principal, error) {
	switch {
	case strings.HasPrefix(secret, keyPrefix):
		return a.Keys.Authenticate(ctx, secret)
	case strings.HasPrefix(secret, ShopperTokenPrefix) && a.Shoppers != nil:
		return a.Shoppers.Authenticate(ctx, secret)
	}
	return Principal{}, ErrUnauthenticated
}

// ShopperTokenPrefix starts every shopper token.
const ShopperTokenPrefix = "rts_"

// Middleware enforces each operation's declared security: no requirement means
// public; otherwise a valid bearer credential that satisfies one requirement. It
// answers 401 without valid credentials and 403 when the role does not fit.
func (a *Authenticator) Middleware(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		reqs := ctx.Operation().Security
		if len(reqs) == 0 {
			next(ctx)
			return
		}
		h := ctx.Header("Authorization")
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || secret == "" {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="roundtrip"`)
			huma.WriteErr(api, ctx, http.StatusUnauthorized, "Send an API key or shopper token as 'Authorization: Bearer <key>'.")
			return
		}
		p, err := a.authenticate(ctx.Context(), strings.TrimSpace(secret))
		if errors.Is(err, ErrUnauthenticated) {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="roundtrip", error="invalid_token"`)
			huma.WriteErr(api, ctx, http.StatusUnauthorized, "The key or token is unknown, revoked or expired.")
			return
		}
		if err != nil {
			huma.WriteErr(api, ctx, http.StatusInternalServerError, "authentication failed", err)
			return
		}
		if !allowed(p, reqs, OperationRoles(ctx.Operation())) {
			huma.WriteErr(api, ctx, http.StatusForbidden, denial(p, OperationRoles(ctx.Operation())))
			return
		}
		next(huma.WithContext(ctx, WithPrincipal(ctx.Context(), p)))
	}
}

func allowed(p Principal, reqs []map[string][]string, roles []string) bool {
	for _, req := range reqs {
		if _, ok := req[SchemeAPIKey]; ok && p.Role != "" {
			if slices.Contains(roles, string(p.Role)) {
				return true
			}
		}
		if _, ok := req[SchemeShopper]; ok && p.Shopper() {
			return true
		}
	}
	return false
}

func denial(p Principal, roles []string) string {
	if p.Shopper() {
		return "A shopper token cannot do this."
	}
	return fmt.Sprintf("A %s key cannot do this; it needs a key with one of these roles: %s.", p.Role, strings.Join(roles, ", "))
}
