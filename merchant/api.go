package merchant

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

type merchantOutput struct {
	Body Merchant
}

type updateInput struct {
	Body struct {
		Name     string   `json:"name" minLength:"1" maxLength:"200" doc:"Shop name shown to shoppers." example:"Northwind Outfitters"`
		Settings Settings `json:"settings"`
	}
}

// Register adds the merchant operations to api; changes are recorded in the audit
// trail a.
func Register(api huma.API, s *Store, a *audit.Log) {
	huma.Register(api, huma.Operation{
		OperationID: "get-merchant",
		Method:      http.MethodGet,
		Path:        "/v1/merchant",
		Summary:     "Get the merchant of the calling key",
		Description: "The shop the API key belongs to: slug, name, branding and returns warehouse.",
		Tags:        []string{"Merchant"},
		Security:    auth.Staff(auth.RoleIntegration, auth.RoleWarehouse, auth.RoleFinance),
		Errors:      []int{http.StatusUnauthorized},
	}, func(ctx context.Context, _ *struct{}) (*merchantOutput, error) {
		m, err := s.Get(ctx, auth.MustFromContext(ctx).MerchantID)
		if err != nil {
			return nil, err
		}
		return &merchantOutput{Body: m}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "update-merchant",
		Method:      http.MethodPut,
		Path:        "/v1/merchant",
		Summary:     "Update the merchant's name, branding and warehouse",
		Description: "Replaces the name and settings. The change is recorded in the audit trail.",
		Tags:        []string{"Merchant"},
		Security:    auth.Staff(),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *updateInput) (*merchantOutput, error) {
		p := auth.MustFromContext(ctx)
		var m Merchant
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			before, after, err := s.WithTx(tx).Edit(ctx, p.MerchantID, func(m *Merchant) error {
				m.Name, m.Settings = in.Body.Name, in.Body.Settings
				return nil
			})
			m = after
			return audit.Entry{Action: audit.MerchantUpdated, Target: "shop " + after.Slug, Summary: audit.Lines(Changes(before, after))}, err
		})
		if err != nil {
			return nil, err
		}
		return &merchantOutput{Body: m}, nil
	})
}
