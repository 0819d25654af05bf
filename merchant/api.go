package merchant

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/validation"
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

// Register adds the merchant operations to api.
func Register(api huma.API, s *Store) {
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
		Tags:        []string{"Merchant"},
		Security:    auth.Staff(),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *updateInput) (*merchantOutput, error) {
		if err := in.Body.Settings.Validate(); err != nil {
			var v *validation.Error
			if errors.As(err, &v) {
				return nil, v.In("body.settings.")
			}
			return nil, err
		}
		m, err := s.Update(ctx, auth.MustFromContext(ctx).MerchantID, in.Body.Name, in.Body.Settings)
		if err != nil {
			return nil, err
		}
		return &merchantOutput{Body: m}, nil
	})
}
