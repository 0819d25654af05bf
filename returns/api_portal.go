package returns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/merchant"
)

// The portal session operation: order number and email give a shopper token.

func registerPortal(api huma.API, a *API) {
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
	}, a.createPortalSession)
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
	Token       string    `json:"token" example:"rts_AQAAAAAAAAAHAAAAAAAABBIAAAAAaxFc4Dvo7gcVtMZ7KJVg6ouU5aM" doc:"Send as 'Authorization: Bearer <token>'."`
	ExpiresAt   time.Time `json:"expires_at"`
	OrderNumber string    `json:"order_number" example:"NW-10023"`
	FirstName   string    `json:"first_name,omitempty" example:"Ada" doc:"For a personal greeting."`
}

type sessionOutput struct {
	Body Session
}

// createPortalSession signs a shopper in to the portal for one order.
func (a *API) createPortalSession(ctx context.Context, in *sessionInput) (*sessionOutput, error) {
	now := time.Now()
	slug := strings.ToLower(strings.TrimSpace(in.Body.Merchant))
	client := reqid.ClientIP(ctx)
	attempts := OrderAttemptBucket(client, slug, in.Body.OrderNumber)
	tooMany := func(wait time.Duration) error {
		secs := ratelimit.Seconds(wait)
		return problem.TooManyRequests(fmt.Sprintf("Too many attempts. Try again in %d seconds.", secs), secs)
	}
	clientHit := ratelimit.Hit{Limiter: a.ClientLimit, Bucket: "session:ip:" + client}
	notFound := problem.NotFound("We could not find an order with that number and email. Check both against your order confirmation.")
	m, err := a.Merchants.BySlug(ctx, slug)
	if errors.Is(err, merchant.ErrNotFound) {
		// a shop that does not exist is an attempt all the same
		if wait, err := ratelimit.AllowAll(ctx, now, clientHit, ratelimit.Hit{Limiter: a.OrderLimit, Bucket: attempts}); err != nil {
			return nil, err
		} else if wait > 0 {
			return nil, tooMany(wait)
		}
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	// the client's attempts and the order's are counted by the look-up's statement
	o, wait, err := a.Store.FindOrderCounted(ctx, m.ID, in.Body.OrderNumber, in.Body.Email, a.OrderLimit, attempts, clientHit, now)
	if err == nil && wait > 0 {
		return nil, tooMany(wait)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	token, exp, err := a.Shoppers.Issue(ctx, m.ID, o.ID, now)
	if err != nil {
		return nil, err
	}
	return &sessionOutput{Body: Session{Token: token, ExpiresAt: exp, OrderNumber: o.Number, FirstName: o.Order.Customer.FirstName}}, nil
}
