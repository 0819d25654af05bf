package returns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// The returns operations: quote, create, list, read, approve, cancel and reject.

func registerReturns(api huma.API, a *API) {
	huma.Register(api, huma.Operation{
		OperationID: "quote-return",
		Method:      http.MethodPost,
		Path:        "/v1/returns/quote",
		Summary:     "Quote a return before creating it",
		Description: "Line by line: eligibility (with the reason when not eligible), item amount, discount, tax, restocking fee; " +
			"then label fee, original-shipping refund, store-credit bonus and the total. Nothing is created. " +
			"A quote that is not eligible still answers 200 and says why.",
		Tags:     []string{"Returns"},
		Security: auth.StaffOrShopper(service...),
		Errors:   []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, a.quoteReturn)
	huma.Register(api, huma.Operation{
		OperationID: "create-return",
		Method:      http.MethodPost,
		Path:        "/v1/returns",
		Summary:     "Create a return",
		Description: "Quotes the return again and stores that quote with it (it equals the quote the shopper saw unless the order or " +
			"policy changed meanwhile). Returns that the policy approves automatically come back approved, with their label. " +
			"Send an Idempotency-Key: a retry then answers the same return.",
		Tags:          []string{"Returns"},
		Security:      auth.StaffOrShopper(service...),
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, a.createReturn)
	huma.Register(api, huma.Operation{
		OperationID: "list-returns",
		Method:      http.MethodGet,
		Path:        "/v1/returns",
		Summary:     "List returns",
		Description: "Newest first, with cursor pagination. A shopper token lists its order's returns.",
		Tags:        []string{"Returns"},
		Security:    auth.StaffOrShopper(all...),
		Errors:      []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, a.listReturns)
	huma.Register(api, huma.Operation{
		OperationID: "get-return",
		Method:      http.MethodGet,
		Path:        "/v1/returns/{id}",
		Summary:     "Get a return",
		Description: "The return with its items, state, quote, the tracking numbers of its parcels and the shopper's feedback. " +
			"A shopper token sees only the returns of its own order; another merchant's return answers 404.",
		Tags:     []string{"Returns"},
		Security: auth.StaffOrShopper(all...),
		Errors:   []int{http.StatusUnauthorized, http.StatusNotFound},
	}, a.getReturn)
	transition := func(id, summary, desc string, ev Event, sec []map[string][]string) {
		huma.Register(api, huma.Operation{
			OperationID: id,
			Method:      http.MethodPost,
			Path:        "/v1/returns/{id}/" + string(ev),
			Summary:     summary,
			Description: desc + " A return in a state that does not allow it answers 409 naming the state.",
			Tags:        []string{"Returns"},
			Security:    sec,
			Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		}, func(ctx context.Context, in *noteInput) (*returnOutput, error) {
			return a.transition(ctx, in.ID, ev, in.note())
		})
	}
	transition("approve-return", "Approve a return", "Accepts a requested return and issues its label.", EventApprove, auth.Staff(service...))
	transition("cancel-return", "Cancel a return", "Withdraws the return before anything was sent; its labels are voided.", EventCancel, auth.StaffOrShopper(service...))
	huma.Register(api, huma.Operation{
		OperationID: "reject-return",
		Method:      http.MethodPost,
		Path:        "/v1/returns/{id}/reject",
		Summary:     "Reject a return",
		Description: "Declines a requested return; the reason is shown to the shopper. A return in a state that does not allow it answers 409.",
		Tags:        []string{"Returns"},
		Security:    auth.Staff(service...),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, a.rejectReturn)
}

type quoteBody struct {
	OrderNumber  string      `json:"order_number,omitempty" maxLength:"100" example:"NW-10023" doc:"The order to return from. Required with an API key; a shopper token already names its order."`
	Items        []QuoteItem `json:"items" minItems:"1" maxItems:"1000" doc:"Lines and quantities to return, each with a reason."`
	Resolution   Resolution  `json:"resolution" enum:"refund,store_credit,exchange" example:"refund" doc:"What the shopper wants instead."`
	DifferenceAs Resolution  `json:"difference_as,omitempty" enum:"refund,store_credit" example:"refund" doc:"With resolution exchange: how a cheaper replacement's difference comes back, refund (default) or store_credit."`
}

type quoteInput struct {
	Body quoteBody
}

type quoteOutput struct {
	Body QuoteResult
}

// CreateItemBody is one line of a new return.
type CreateItemBody struct {
	QuoteItem
	Comment string `json:"comment,omitempty" maxLength:"1000" example:"The sleeves are too short." doc:"Anything the shopper wants the shop to know."`
}

type createInput struct {
	idempotency.Header
	Body struct {
		OrderNumber  string           `json:"order_number,omitempty" maxLength:"100" example:"NW-10023" doc:"Required with an API key; a shopper token already names its order."`
		Items        []CreateItemBody `json:"items" minItems:"1" maxItems:"1000"`
		Resolution   Resolution       `json:"resolution" enum:"refund,store_credit,exchange" example:"refund" doc:"refund, store_credit or exchange. An exchange names the replacement of each exchanged item in exchange_sku; its units are held at once (409 out_of_stock when another exchange took the last), and a dearer replacement is paid through Stripe Checkout (GET /v1/returns/{id}/exchange has the link)."`
		DifferenceAs Resolution       `json:"difference_as,omitempty" enum:"refund,store_credit" example:"refund" doc:"With resolution exchange: how a cheaper replacement's difference comes back, refund (default) or store_credit."`
	}
}

type returnOutput struct {
	Body *Return
}

type returnPath struct {
	ID string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
}

type rejectInput struct {
	ID   string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"1000" example:"The items were bought more than a year ago." doc:"Why, in words the shopper will read."`
	}
}

type noteInput struct {
	ID   string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
	Body *struct {
		Note string `json:"note,omitempty" maxLength:"1000" example:"Shopper asked by phone." doc:"Recorded in the timeline."`
	} `required:"false"`
}

func (in noteInput) note() string {
	if in.Body == nil {
		return ""
	}
	return in.Body.Note
}

type listInput struct {
	State         []string  `query:"state" explode:"false" example:"approved,in_transit" doc:"Only returns in these states (comma-separated)."`
	OrderNumber   string    `query:"order_number" maxLength:"100" doc:"Only returns of this order."`
	RMA           string    `query:"rma" maxLength:"20" doc:"Only the return with this RMA number."`
	CreatedAfter  time.Time `query:"created_after" doc:"Only returns created at or after this time (RFC 3339)."`
	CreatedBefore time.Time `query:"created_before" doc:"Only returns created before this time (RFC 3339)."`
	Limit         int       `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor        string    `query:"cursor" maxLength:"40" doc:"next_cursor of the previous page."`
}

type listOutput struct {
	Body struct {
		Data       []*Return `json:"data"`
		NextCursor string    `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

// quoteReturn prices a return before it is made.
func (a *API) quoteReturn(ctx context.Context, in *quoteInput) (*quoteOutput, error) {
	qi := QuoteInput{Items: in.Body.Items, Resolution: in.Body.Resolution, DifferenceAs: in.Body.DifferenceAs}
	if err := qi.Validate(); err != nil {
		return nil, err
	}
	ask := Ask{Items: in.Body.Items, Resolution: in.Body.Resolution, DifferenceAs: in.Body.DifferenceAs}
	if p := auth.MustFromContext(ctx); p.Shopper() {
		// the shopper's order, the policy and the order's other returns in one statement
		o, q, _, err := a.Store.QuoteOrder(ctx, p.MerchantID, p.OrderID, ask)
		if err != nil {
			return nil, err
		}
		if number := in.Body.OrderNumber; number != "" && !strings.EqualFold(strings.TrimSpace(number), o.Number) {
			return nil, ErrNotFound
		}
		return &quoteOutput{Body: q}, nil
	}
	o, err := a.orderFor(ctx, in.Body.OrderNumber)
	if err != nil {
		return nil, err
	}
	q, _, err := a.Store.QuoteAsked(ctx, auth.MustFromContext(ctx).MerchantID, o, ask)
	if err != nil {
		return nil, err
	}
	return &quoteOutput{Body: q}, nil
}

// createReturn makes a return.
func (a *API) createReturn(ctx context.Context, in *createInput) (*returnOutput, error) {
	p := auth.MustFromContext(ctx)
	ci := CreateInput{Resolution: in.Body.Resolution, DifferenceAs: in.Body.DifferenceAs, Actor: p.Actor, IdempotencyKey: idempotency.FromContext(ctx)}
	qi := QuoteInput{Resolution: in.Body.Resolution, DifferenceAs: in.Body.DifferenceAs}
	for _, it := range in.Body.Items {
		ci.Items = append(ci.Items, CreateItem{QuoteItem: it.QuoteItem, Comment: strings.TrimSpace(it.Comment)})
		qi.Items = append(qi.Items, it.QuoteItem)
	}
	if err := qi.Validate(); err != nil {
		return nil, err
	}
	// the order is found (a shopper's by their token) and locked by Create
	if p.Shopper() {
		ci.OrderID = p.OrderID
	} else if in.Body.OrderNumber == "" {
		var v validation.Error
		v.Add("order_number", "is required with an API key")
		return nil, &v
	}
	r, err := a.Store.Create(ctx, p.MerchantID, in.Body.OrderNumber, ci)
	if err != nil {
		return nil, err
	}
	return &returnOutput{Body: r}, nil
}

// listReturns lists the merchant's returns.
func (a *API) listReturns(ctx context.Context, in *listInput) (*listOutput, error) {
	p := auth.MustFromContext(ctx)
	var v validation.Error
	f := Filter{Limit: in.Limit}
	for i, st := range in.State {
		for _, part := range strings.Split(st, ",") {
			s, err := ParseState(strings.TrimSpace(part))
			if err != nil {
				v.AddValue(fmt.Sprintf("state[%d]", i), part, "is not a return state")
				continue
			}
			f.States = append(f.States, s)
		}
	}
	f.After = cursor.Decode("r", in.Cursor, &v)
	if in.RMA != "" {
		rma, ok := ParseRMA(in.RMA)
		if !ok {
			v.AddValue("rma", in.RMA, "is not an RMA number like R-7KQ4-M2XD")
		}
		f.RMA = rma
	}
	if err := v.Err(); err != nil {
		return nil, v.In("query.")
	}
	if !in.CreatedAfter.IsZero() {
		f.CreatedAfter = &in.CreatedAfter
	}
	if !in.CreatedBefore.IsZero() {
		f.CreatedBefore = &in.CreatedBefore
	}
	if p.Shopper() {
		f.OrderID = p.OrderID
	} else if in.OrderNumber != "" {
		o, err := a.Store.Order(ctx, p.MerchantID, in.OrderNumber)
		if errors.Is(err, ErrNotFound) {
			return &listOutput{Body: struct {
				Data       []*Return `json:"data"`
				NextCursor string    `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
			}{Data: []*Return{}}}, nil
		}
		if err != nil {
			return nil, err
		}
		f.OrderID = o.ID
	}
	list, more, err := a.Store.List(ctx, p.MerchantID, f)
	if err != nil {
		return nil, err
	}
	if err := a.Store.WithParcels(ctx, list...); err != nil {
		return nil, err
	}
	out := &listOutput{}
	out.Body.Data = list
	out.Body.NextCursor = cursor.Next("r", list, more, func(r *Return) string { return r.PublicID })
	return out, nil
}

// getReturn answers one return.
func (a *API) getReturn(ctx context.Context, in *returnPath) (*returnOutput, error) {
	r, err := a.Store.Find(ctx, auth.MustFromContext(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	if err := a.Store.WithParcels(ctx, r); err != nil {
		return nil, err
	}
	return &returnOutput{Body: r}, nil
}

// rejectReturn declines a requested return with a reason for the shopper.
func (a *API) rejectReturn(ctx context.Context, in *rejectInput) (*returnOutput, error) {
	r, err := a.Store.Find(ctx, auth.MustFromContext(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	p := auth.MustFromContext(ctx)
	r, err = a.Store.Transition(ctx, p.MerchantID, r.ID, EventReject, p.Actor, strings.TrimSpace(in.Body.Reason), nil)
	if err != nil {
		return nil, err
	}
	return &returnOutput{Body: r}, nil
}

// transition applies ev (approve, cancel) to the return with ID or RMA idOrRMA.
func (a *API) transition(ctx context.Context, idOrRMA string, ev Event, note string) (*returnOutput, error) {
	p := auth.MustFromContext(ctx)
	r, err := a.Store.Find(ctx, p, idOrRMA)
	if err != nil {
		return nil, err
	}
	r, err = a.Store.Transition(ctx, p.MerchantID, r.ID, ev, p.Actor, note, nil)
	if err != nil {
		return nil, err
	}
	return &returnOutput{Body: r}, nil
}
