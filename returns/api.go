package returns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/merchant"
	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// API holds what the returns operations need.
type API struct {
	Store     *Store
	Merchants *merchant.Store
	Shoppers  *auth.Shoppers
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

// toProblem is the one mapping from this package's errors to HTTP problems.
func toProblem(err error) error {
	var te *TransitionError
	var ne *NotEligibleError
	var ve *validation.Error
	switch {
	case errors.Is(err, ErrNotFound):
		return problem.NotFound("No such order or return.")
	case errors.As(err, &te):
		p := problem.Conflict("invalid_transition", fmt.Sprintf("The return is %s; it cannot be %s now.", te.From, pastTense(te.Event)))
		p.State, p.Event = string(te.From), string(te.Event)
		return p
	case errors.As(err, &ne):
		p := problem.Unprocessable("not_eligible", "The return cannot be created as asked: see errors, or ask for a quote first.")
		for _, is := range ne.Quote.Issues {
			p.Errors = append(p.Errors, &huma.ErrorDetail{Location: "body." + is.Path, Message: is.Message})
		}
		for i, l := range ne.Quote.Lines {
			if !l.Eligible {
				p.Errors = append(p.Errors, &huma.ErrorDetail{Location: fmt.Sprintf("body.items[%d]", i), Message: l.Message, Value: l.Code})
			}
		}
		return p
	case errors.As(err, &ve):
		return problem.Invalid("body.", ve)
	}
	return err
}

func pastTense(ev Event) string {
	switch ev {
	case EventApprove:
		return "approved"
	case EventReject:
		return "rejected"
	case EventCancel:
		return "cancelled"
	case EventExpire:
		return "expired"
	}
	return "moved by " + string(ev)
}

// ---- operation types

type orderNumberPath struct {
	OrderNumber string `path:"order_number" minLength:"1" maxLength:"100" example:"NW-10023" doc:"The shop's order number."`
}

type putOrderInput struct {
	OrderNumber string `path:"order_number" minLength:"1" maxLength:"100" example:"NW-10023" doc:"The shop's order number."`
	Body        Order
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

type orderOutput struct {
	Body OrderView
}

type policyOutput struct {
	Body Policy
}

type putPolicyInput struct {
	Body Policy
}

type sessionInput struct {
	Body struct {
		Merchant    string `json:"merchant" minLength:"1" maxLength:"63" example:"northwind" doc:"The shop's slug, as in the portal address."`
		OrderNumber string `json:"order_number" minLength:"1" maxLength:"100" example:"NW-10023" doc:"The order number from the confirmation email (any case)."`
		Email       string `json:"email" minLength:"3" maxLength:"254" example:"ada@example.com" doc:"The email the order was placed with (any case)."`
	}
}

// Session is a shopper token for one order.
type Session struct {
	Token       string    `json:"token" example:"rts_0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8" doc:"Send as 'Authorization: Bearer <token>'."`
	ExpiresAt   time.Time `json:"expires_at"`
	OrderNumber string    `json:"order_number" example:"NW-10023"`
	FirstName   string    `json:"first_name,omitempty" example:"Ada" doc:"For a personal greeting."`
}

type sessionOutput struct {
	Body Session
}

type quoteBody struct {
	OrderNumber string      `json:"order_number,omitempty" maxLength:"100" example:"NW-10023" doc:"The order to return from. Required with an API key; a shopper token already names its order."`
	Items       []QuoteItem `json:"items" minItems:"1" maxItems:"1000" doc:"Lines and quantities to return, each with a reason."`
	Resolution  Resolution  `json:"resolution" enum:"refund,store_credit,exchange" example:"refund" doc:"What the shopper wants instead."`
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
		OrderNumber string           `json:"order_number,omitempty" maxLength:"100" example:"NW-10023" doc:"Required with an API key; a shopper token already names its order."`
		Items       []CreateItemBody `json:"items" minItems:"1" maxItems:"1000"`
		Resolution  Resolution       `json:"resolution" enum:"refund,store_credit" example:"refund" doc:"refund or store_credit."`
	}
}

type returnOutput struct {
	Body *Return
}

type returnPath struct {
	ID string `path:"id" maxLength:"20" example:"1042" doc:"The return's ID, or its RMA number (R-7KQ4-M2XD)."`
}

type rejectInput struct {
	ID   string `path:"id" maxLength:"20" example:"1042" doc:"The return's ID, or its RMA number (R-7KQ4-M2XD)."`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"1000" example:"The items were bought more than a year ago." doc:"Why, in words the shopper will read."`
	}
}

type noteInput struct {
	ID   string `path:"id" maxLength:"20" example:"1042" doc:"The return's ID, or its RMA number (R-7KQ4-M2XD)."`
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

type eventsOutput struct {
	Body struct {
		Data []TimelineEntry `json:"data"`
	}
}

// ---- access

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

// returnFor finds a return by ID or RMA; shoppers only their order's.
func (a *API) returnFor(ctx context.Context, idOrRMA string) (*Return, error) {
	p := auth.MustFromContext(ctx)
	var r *Return
	var err error
	if id, perr := strconv.ParseInt(idOrRMA, 10, 64); perr == nil {
		r, err = a.Store.Get(ctx, p.MerchantID, id)
	} else if rma, ok := ParseRMA(idOrRMA); ok {
		r, err = a.Store.ByRMA(ctx, p.MerchantID, rma)
	} else {
		err = ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if p.Shopper() && r.OrderID != p.OrderID {
		return nil, ErrNotFound
	}
	return r, nil
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

var (
	all     = []auth.Role{auth.RoleIntegration, auth.RoleWarehouse, auth.RoleFinance}
	service = []auth.Role{auth.RoleIntegration}
)

// Register adds the orders, policy, portal session and returns operations to api.
func Register(api huma.API, a *API) {
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
	}, func(ctx context.Context, in *putOrderInput) (*struct {
		Status int
		Body   OrderView
	}, error) {
		if err := in.Body.Validate(); err != nil {
			return nil, toProblem(err)
		}
		p := auth.MustFromContext(ctx)
		rec, created, err := a.Store.PutOrder(ctx, p.MerchantID, in.OrderNumber, in.Body)
		if err != nil {
			return nil, toProblem(err)
		}
		v, err := a.view(ctx, p.MerchantID, rec)
		if err != nil {
			return nil, err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return &struct {
			Status int
			Body   OrderView
		}{status, v}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-order",
		Method:      http.MethodGet,
		Path:        "/v1/orders/{order_number}",
		Summary:     "Get an order with its returnable quantities",
		Tags:        []string{"Orders"},
		Security:    auth.StaffOrShopper(all...),
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *orderNumberPath) (*orderOutput, error) {
		o, err := a.orderFor(ctx, in.OrderNumber)
		if err != nil {
			return nil, toProblem(err)
		}
		v, err := a.view(ctx, auth.MustFromContext(ctx).MerchantID, o)
		if err != nil {
			return nil, err
		}
		return &orderOutput{Body: v}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-policy",
		Method:      http.MethodGet,
		Path:        "/v1/policy",
		Summary:     "Get the return policy",
		Description: "The current policy; version 0 is the default policy of a merchant who never set one.",
		Tags:        []string{"Policy"},
		Security:    auth.Staff(),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, _ *struct{}) (*policyOutput, error) {
		pol, err := a.Store.Policy(ctx, auth.MustFromContext(ctx).MerchantID)
		if err != nil {
			return nil, err
		}
		return &policyOutput{Body: pol}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "put-policy",
		Method:      http.MethodPut,
		Path:        "/v1/policy",
		Summary:     "Replace the return policy",
		Description: "Stores a new version of the policy; fields left out take their defaults. Returns keep the version they were judged by.",
		Tags:        []string{"Policy"},
		Security:    auth.Staff(),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *putPolicyInput) (*policyOutput, error) {
		in.Body.fillDefaults()
		if err := in.Body.Validate(); err != nil {
			return nil, toProblem(err)
		}
		p := auth.MustFromContext(ctx)
		pol, err := a.Store.PutPolicy(ctx, p.MerchantID, in.Body, p.Actor)
		if err != nil {
			return nil, err
		}
		return &policyOutput{Body: pol}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "create-portal-session",
		Method:      http.MethodPost,
		Path:        "/v1/portal/sessions",
		Summary:     "Open the returns portal for one order",
		Description: "Order number and email (any case, spaces ignored) give a short-lived shopper token for that order. " +
			"A wrong combination answers 404 without saying which part was wrong. Limited to 10 failed attempts a minute per order from one client " +
			"address, and 60 attempts a minute per client address.",
		Tags:          []string{"Portal"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusNotFound, http.StatusTooManyRequests, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *sessionInput) (*sessionOutput, error) {
		now := time.Now()
		slug := strings.ToLower(strings.TrimSpace(in.Body.Merchant))
		client := reqid.ClientIP(ctx)
		attempts := OrderAttemptBucket(client, slug, in.Body.OrderNumber)
		for _, l := range []struct {
			limiter *ratelimit.Limiter
			bucket  string
		}{
			{a.ClientLimit, "session:ip:" + client},
			{a.OrderLimit, attempts},
		} {
			if l.limiter == nil {
				continue
			}
			ok, wait, err := l.limiter.Allow(ctx, l.bucket, now)
			if err != nil {
				return nil, err
			}
			if !ok {
				secs := int(wait.Seconds()) + 1
				return nil, problem.TooManyRequests(fmt.Sprintf("Too many attempts. Try again in %d seconds.", secs), secs)
			}
		}
		notFound := problem.NotFound("We could not find an order with that number and email. Check both against your order confirmation.")
		m, err := a.Merchants.BySlug(ctx, slug)
		if errors.Is(err, merchant.ErrNotFound) {
			return nil, notFound
		}
		if err != nil {
			return nil, err
		}
		o, err := a.Store.FindOrder(ctx, m.ID, in.Body.OrderNumber, in.Body.Email)
		if errors.Is(err, ErrNotFound) {
			return nil, notFound
		}
		if err != nil {
			return nil, err
		}
		if a.OrderLimit != nil { // only failed attempts count against the client
			if err := a.OrderLimit.Reset(ctx, attempts); err != nil {
				return nil, err
			}
		}
		token, exp, err := a.Shoppers.Issue(ctx, m.ID, o.ID, now)
		if err != nil {
			return nil, err
		}
		return &sessionOutput{Body: Session{Token: token, ExpiresAt: exp, OrderNumber: o.Number, FirstName: o.Order.Customer.FirstName}}, nil
	})

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
	}, func(ctx context.Context, in *quoteInput) (*quoteOutput, error) {
		qi := QuoteInput{Items: in.Body.Items, Resolution: in.Body.Resolution}
		if err := qi.Validate(); err != nil {
			return nil, toProblem(err)
		}
		o, err := a.orderFor(ctx, in.Body.OrderNumber)
		if err != nil {
			return nil, toProblem(err)
		}
		q, _, err := a.Store.QuoteFor(ctx, auth.MustFromContext(ctx).MerchantID, o, in.Body.Items, in.Body.Resolution)
		if err != nil {
			return nil, err
		}
		return &quoteOutput{Body: q}, nil
	})

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
	}, func(ctx context.Context, in *createInput) (*returnOutput, error) {
		p := auth.MustFromContext(ctx)
		ci := CreateInput{Resolution: in.Body.Resolution, Actor: p.Actor, IdempotencyKey: idempotency.FromContext(ctx)}
		qi := QuoteInput{Resolution: in.Body.Resolution}
		for _, it := range in.Body.Items {
			ci.Items = append(ci.Items, CreateItem{QuoteItem: it.QuoteItem, Comment: strings.TrimSpace(it.Comment)})
			qi.Items = append(qi.Items, it.QuoteItem)
		}
		if err := qi.Validate(); err != nil {
			return nil, toProblem(err)
		}
		o, err := a.orderFor(ctx, in.Body.OrderNumber)
		if err != nil {
			return nil, toProblem(err)
		}
		r, err := a.Store.Create(ctx, p.MerchantID, o.Number, ci)
		if err != nil {
			return nil, toProblem(err)
		}
		return &returnOutput{Body: r}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-returns",
		Method:      http.MethodGet,
		Path:        "/v1/returns",
		Summary:     "List returns",
		Description: "Newest first, with cursor pagination. A shopper token lists its order's returns.",
		Tags:        []string{"Returns"},
		Security:    auth.StaffOrShopper(all...),
		Errors:      []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listInput) (*listOutput, error) {
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
			return nil, problem.Invalid("query.", &v)
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
		out := &listOutput{}
		out.Body.Data = list
		if more && len(list) > 0 {
			out.Body.NextCursor = cursor.Encode("r", list[len(list)-1].ID)
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-return",
		Method:      http.MethodGet,
		Path:        "/v1/returns/{id}",
		Summary:     "Get a return",
		Tags:        []string{"Returns"},
		Security:    auth.StaffOrShopper(all...),
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *returnPath) (*returnOutput, error) {
		r, err := a.returnFor(ctx, in.ID)
		if err != nil {
			return nil, toProblem(err)
		}
		return &returnOutput{Body: r}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-return-events",
		Method:      http.MethodGet,
		Path:        "/v1/returns/{id}/events",
		Summary:     "Get a return's timeline",
		Description: "Every step, oldest first: who, when, from which state to which, and why.",
		Tags:        []string{"Returns"},
		Security:    auth.StaffOrShopper(all...),
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *returnPath) (*eventsOutput, error) {
		r, err := a.returnFor(ctx, in.ID)
		if err != nil {
			return nil, toProblem(err)
		}
		ev, err := a.Store.Events(ctx, r.MerchantID, r.ID)
		if err != nil {
			return nil, err
		}
		out := &eventsOutput{}
		out.Body.Data = ev
		return out, nil
	})

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
			r, err := a.returnFor(ctx, in.ID)
			if err != nil {
				return nil, toProblem(err)
			}
			p := auth.MustFromContext(ctx)
			r, err = a.Store.Transition(ctx, p.MerchantID, r.ID, ev, p.Actor, in.note(), nil)
			if err != nil {
				return nil, toProblem(err)
			}
			return &returnOutput{Body: r}, nil
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
	}, func(ctx context.Context, in *rejectInput) (*returnOutput, error) {
		r, err := a.returnFor(ctx, in.ID)
		if err != nil {
			return nil, toProblem(err)
		}
		p := auth.MustFromContext(ctx)
		r, err = a.Store.Transition(ctx, p.MerchantID, r.ID, EventReject, p.Actor, strings.TrimSpace(in.Body.Reason), nil)
		if err != nil {
			return nil, toProblem(err)
		}
		return &returnOutput{Body: r}, nil
	})
}
