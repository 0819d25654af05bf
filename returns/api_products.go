package returns

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// The catalogue operations: the shop pushes the products its order lines can be
// exchanged for; staff and shoppers read them with what is in stock.

func registerProducts(api huma.API, a *API) {
	huma.Register(api, huma.Operation{
		OperationID: "put-product",
		Method:      http.MethodPut,
		Path:        "/v1/products/{product_id}",
		Summary:     "Create or replace a product and its variants",
		Description: "The shop sends each product whose order lines may be exchanged (order lines name it with product_id), " +
			"with every variant: SKU, option values such as size and colour, the price per currency and the units available. " +
			"Send it again whenever the stock changes: the shop's count is the truth, and Roundtrip holds units for open " +
			"exchanges on top of it until the shop reports their shipment. Answers 201 for a new product, 200 otherwise.",
		Tags:     []string{"Exchanges"},
		Security: auth.Staff(service...),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, a.putProduct)
	huma.Register(api, huma.Operation{
		OperationID: "get-product",
		Method:      http.MethodGet,
		Path:        "/v1/products/{product_id}",
		Summary:     "Get a product with the stock of its variants",
		Description: "in_stock is what can still be promised to an exchange: available less the units held for open exchanges.",
		Tags:        []string{"Exchanges"},
		Security:    auth.StaffOrShopper(all...),
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, a.getProduct)
}

type productPath struct {
	ProductID string `path:"product_id" minLength:"1" maxLength:"255" example:"tee-classic" doc:"The shop's identifier of the product."`
}

type putProductInput struct {
	ProductID string `path:"product_id" minLength:"1" maxLength:"255" example:"tee-classic" doc:"The shop's identifier of the product."`
	Body      Product
}

type putProductOutput struct {
	Status int
	Body   ProductRecord
}

type productOutput struct {
	Body ProductRecord
}

// Resolve checks the product as the domain does, so that one answer names every wrong field.
func (in *putProductInput) Resolve(huma.Context) []error {
	if reflect.ValueOf(in.Body).IsZero() {
		return nil
	}
	var v *validation.Error
	if err := in.Body.Validate(); errors.As(err, &v) {
		var out validation.Error
		out.Merge("body.", v)
		return []error{&out}
	}
	return nil
}

// putProduct creates or replaces a product the shop pushed.
func (a *API) putProduct(ctx context.Context, in *putProductInput) (*putProductOutput, error) {
	if strings.TrimSpace(in.ProductID) == "" {
		var v validation.Error
		v.AddValue("product_id", in.ProductID, "must not be only spaces")
		return nil, v.In("path.")
	}
	if err := in.Body.Validate(); err != nil {
		return nil, err
	}
	p := auth.MustFromContext(ctx)
	rec, created, err := a.Store.PutProduct(ctx, p.MerchantID, in.ProductID, in.Body)
	if err != nil {
		return nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return &putProductOutput{status, rec}, nil
}

// getProduct answers a product with its variants' stock.
func (a *API) getProduct(ctx context.Context, in *productPath) (*productOutput, error) {
	rec, err := a.Store.Product(ctx, auth.MustFromContext(ctx).MerchantID, in.ProductID)
	if err != nil {
		return nil, err
	}
	return &productOutput{Body: rec}, nil
}
