package returns

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// The orders operations: the shop pushes its orders; staff and shoppers read them with what can still be returned.

func registerOrders(api huma.API, a *API) {
	huma.Register(api, huma.Operation{
		OperationID: "put-order",
		Method:      http.MethodPut,
		Path:        "/v1/orders/{order_number}",
		Summary:     "Create or replace an order",
		Description: "The shop sends each order once it is paid, and again whenever it changes (fulfilment, delivery). " +
			"Returns already made keep the lines and amounts they were quoted with. Answers 201 for a new order, 200 otherwise.",
		Tags:     []string{"Orders"},
		Security: auth.Staff(service...),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
		// 200 is Huma's from the output; a new order's 201 carries the same body
		Responses: map[string]*huma.Response{"201": {Description: "The order was new.", Content: map[string]*huma.MediaType{
			"application/json": {Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[OrderView](), true, "")}}}},
	}, a.putOrder)
	huma.Register(api, huma.Operation{
		OperationID: "get-order",
		Method:      http.MethodGet,
		Path:        "/v1/orders/{order_number}",
		Summary:     "Get an order with its returnable quantities",
		Description: "The order as the shop pushed it, each line with how many units can still be returned " +
			"(bought, less what earlier returns hold or took back). A shopper token sees only its own order.",
		Tags:     []string{"Orders"},
		Security: auth.StaffOrShopper(all...),
		Errors:   []int{http.StatusUnauthorized, http.StatusNotFound},
	}, a.getOrder)
}

type orderNumberPath struct {
	OrderNumber string `path:"order_number" minLength:"1" maxLength:"100" example:"NW-10023" doc:"The shop's order number."`
}

type putOrderInput struct {
	OrderNumber string `path:"order_number" minLength:"1" maxLength:"100" example:"NW-10023" doc:"The shop's order number."`
	Body        Order
}

// LineAvailability says how much of an order line can still be returned.
type LineAvailability struct {
	LineID     string `json:"line_id" example:"line-1"`
	Ordered    int    `json:"ordered" example:"2" doc:"Units ordered."`
	InReturns  int    `json:"in_open_returns" example:"1" doc:"Units in returns still under way."`
	Returned   int    `json:"returned" example:"0" doc:"Units in completed returns."`
	Returnable int    `json:"returnable" example:"1" doc:"Units that can still go into a return (the policy may still refuse them: ask for a quote)."`
}

// OrderView is an order with what can still be returned of it.
type OrderView struct {
	OrderNumber  string             `json:"order_number" example:"NW-10023"`
	Revision     int                `json:"revision" example:"1" doc:"Increases each time the shop changes the order."`
	Availability []LineAvailability `json:"availability" doc:"Per line: ordered, in open returns, returned, and still returnable."`
	Order
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type putOrderOutput struct {
	Status int
	Body   OrderView
}

type orderOutput struct {
	Body OrderView
}

// orderFor finds the order an operation is about: by number for staff, the token's
// order for shoppers (another number answers 404).
func (a *API) orderFor(ctx context.Context, number string) (OrderRecord, error) {
	p := auth.MustFromContext(ctx)
	if p.Shopper() {
		o, err := a.Store.OrderByID(ctx, p.MerchantID, p.OrderID)
		if err != nil {
			return OrderRecord{}, err
		}
		if number != "" && !strings.EqualFold(strings.TrimSpace(number), o.Number) {
			return OrderRecord{}, ErrNotFound
		}
		return o, nil
	}
	if number == "" {
		var v validation.Error
		v.Add("order_number", "is required with an API key")
		return OrderRecord{}, &v
	}
	return a.Store.Order(ctx, p.MerchantID, number)
}

func (a *API) view(ctx context.Context, merchantID int64, o OrderRecord) (OrderView, error) {
	h, err := a.Store.Holdings(ctx, merchantID, o.ID)
	if err != nil {
		return OrderView{}, err
	}
	v := OrderView{OrderNumber: o.Number, Revision: o.Revision, Order: o.Order, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	for _, l := range o.Order.Lines {
		av := LineAvailability{LineID: l.ID, Ordered: l.Quantity, InReturns: h.Open[l.ID], Returned: h.Returned[l.ID]}
		av.Returnable = max(l.Quantity-av.InReturns-av.Returned, 0)
		v.Availability = append(v.Availability, av)
	}
	return v, nil
}

// putOrder creates or replaces an order the shop pushed.
func (a *API) putOrder(ctx context.Context, in *putOrderInput) (*putOrderOutput, error) {
	if err := in.Body.Validate(); err != nil {
		return nil, err
	}
	p := auth.MustFromContext(ctx)
	rec, created, err := a.Store.PutOrder(ctx, p.MerchantID, in.OrderNumber, in.Body)
	if err != nil {
		return nil, err
	}
	v, err := a.view(ctx, p.MerchantID, rec)
	if err != nil {
		return nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return &putOrderOutput{status, v}, nil
}

// getOrder answers an order with what can still be returned of it.
func (a *API) getOrder(ctx context.Context, in *orderNumberPath) (*orderOutput, error) {
	o, err := a.orderFor(ctx, in.OrderNumber)
	if err != nil {
		return nil, err
	}
	v, err := a.view(ctx, auth.MustFromContext(ctx).MerchantID, o)
	if err != nil {
		return nil, err
	}
	return &orderOutput{Body: v}, nil
}

// Resolve checks the order as the domain does (Order.Validate). Huma runs it after
// its schema check, even when that failed, so that one answer names every wrong
// field: a shop that derives the captured amount from its lines sends a negative one
// when a line's discount exceeds the line's value, and the schema's complaint about
// payment.captured alone would hide the discount that caused it. A field both checks
// refuse is named once (the problem mapping keeps the first entry per location).
func (in *putOrderInput) Resolve(huma.Context) []error {
	if reflect.ValueOf(in.Body).IsZero() {
		return nil // the body was not JSON at all: Huma says so
	}
	var v *validation.Error
	if err := in.Body.Validate(); errors.As(err, &v) {
		var out validation.Error
		out.Merge("body.", v)
		return []error{&out}
	}
	return nil
}
