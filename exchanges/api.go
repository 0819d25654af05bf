package exchanges

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// Register adds the exchange operations to api.
func Register(api huma.API, s *Service) {
	all := []auth.Role{auth.RoleIntegration, auth.RoleWarehouse, auth.RoleFinance}
	huma.Register(api, huma.Operation{
		OperationID: "get-exchange",
		Method:      http.MethodGet,
		Path:        "/v1/exchanges/{id}",
		Summary:     "Get an exchange",
		Description: "The replacements of an exchange return, what they cost against the returned items, where they go and how far they got.",
		Tags:        []string{"Exchanges"},
		Security:    auth.StaffOrShopper(all...),
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, s.getExchange)
	huma.Register(api, huma.Operation{
		OperationID: "get-return-exchange",
		Method:      http.MethodGet,
		Path:        "/v1/returns/{id}/exchange",
		Summary:     "Get the exchange of a return",
		Description: "404 when the return is not an exchange. While awaiting_payment, checkout_url is the page where the shopper pays the difference.",
		Tags:        []string{"Exchanges"},
		Security:    auth.StaffOrShopper(all...),
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, s.getReturnExchange)
	huma.Register(api, huma.Operation{
		OperationID: "ship-exchange",
		Method:      http.MethodPost,
		Path:        "/v1/exchanges/{id}/shipment",
		Summary:     "Report the replacement's shipment",
		Description: "After exchange.released the shop ships the replacement and reports it here; the shopper sees the carrier and " +
			"tracking number on the status page, and the units held for the exchange go back (the shop's next stock count " +
			"no longer has them). Reporting the same shipment again answers the exchange as it is; another one, or a " +
			"shipment before the release, answers 409.",
		Tags:     []string{"Exchanges"},
		Security: auth.Staff(auth.RoleIntegration),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, s.ship)
	registerCheckout(api, s)
}

type idPath struct {
	ID string `path:"id" maxLength:"40" example:"exch_6b9e2h5k8n1q4t7w0z3c6f9j2m" doc:"The exchange's ID (exch_…)."`
}

type returnPath struct {
	ID string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
}

type exchangeOutput struct {
	Body *Exchange
}

type shipInput struct {
	ID   string `path:"id" maxLength:"40" example:"exch_6b9e2h5k8n1q4t7w0z3c6f9j2m" doc:"The exchange's ID (exch_…)."`
	Body struct {
		Carrier        string `json:"carrier" minLength:"1" maxLength:"100" example:"DHL" doc:"Who carries the replacement."`
		TrackingNumber string `json:"tracking_number" minLength:"1" maxLength:"100" example:"JD014600003828374657"`
	}
}

// find reads an exchange the caller may see: a shopper only their order's.
func (s *Service) find(ctx context.Context, id string) (*Exchange, error) {
	p := auth.MustFromContext(ctx)
	x, err := ByPublicID(ctx, s.db, p.MerchantID, id)
	if err != nil {
		return nil, err
	}
	if p.Shopper() {
		r, err := s.returns.Get(ctx, p.MerchantID, x.ReturnID)
		if err != nil || r.OrderID != p.OrderID {
			return nil, ErrNotFound
		}
	}
	return x, nil
}

func (s *Service) getExchange(ctx context.Context, in *idPath) (*exchangeOutput, error) {
	x, err := s.find(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &exchangeOutput{Body: x}, nil
}

func (s *Service) getReturnExchange(ctx context.Context, in *returnPath) (*exchangeOutput, error) {
	p := auth.MustFromContext(ctx)
	r, err := s.returns.Find(ctx, p, in.ID)
	if err != nil {
		return nil, err
	}
	x, err := ByReturn(ctx, s.db, p.MerchantID, r.ID)
	if err != nil {
		return nil, err
	}
	return &exchangeOutput{Body: x}, nil
}

func (s *Service) ship(ctx context.Context, in *shipInput) (*exchangeOutput, error) {
	p := auth.MustFromContext(ctx)
	var v validation.Error
	carrier, tracking := strings.TrimSpace(in.Body.Carrier), strings.TrimSpace(in.Body.TrackingNumber)
	if carrier == "" {
		v.Add("carrier", "must not be only spaces")
	}
	if tracking == "" {
		v.Add("tracking_number", "must not be only spaces")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	found, err := ByPublicID(ctx, s.db, p.MerchantID, in.ID)
	if err != nil {
		return nil, err
	}
	x, err := s.Ship(ctx, p.MerchantID, found.ID, Shipment{Carrier: carrier, TrackingNumber: tracking, Actor: p.Actor})
	if err != nil {
		return nil, err
	}
	return &exchangeOutput{Body: x}, nil
}
