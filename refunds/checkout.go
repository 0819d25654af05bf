package refunds

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76"
)

// Stripe Checkout: a shopper pays the difference of an exchange for a dearer
// replacement on Stripe's hosted page. The session is made by the exchanges'
// outbox job through CheckoutGateway; its checkout.session.completed and
// checkout.session.expired webhooks arrive here with the refunds' (one endpoint, one
// signing secret, each event applied once) and go to the CheckoutHandler.

// CheckoutRequest is one Checkout Session to make: a one-line payment of Amount.
type CheckoutRequest struct {
	// IdempotencyKey makes a repeated request answer the session made first.
	IdempotencyKey string
	Amount         int64
	Currency       string
	// Name is the line the shopper sees on the page ("Exchange R-7KQ4-M2XD").
	Name       string
	Email      string
	SuccessURL string
	CancelURL  string
	Metadata   map[string]string
}

// CheckoutSession is a Checkout Session as Stripe holds it.
type CheckoutSession struct {
	ID            string
	URL           string
	ExpiresAt     int64
	Status        string // open, complete, expired
	PaymentStatus string // paid, unpaid, no_payment_required
	AmountTotal   int64
	Currency      string // lower case
	PaymentIntent string
	Metadata      map[string]string
}

// CheckoutGateway makes Checkout Sessions (Stripe).
type CheckoutGateway interface {
	CreateCheckoutSession(ctx context.Context, req CheckoutRequest) (CheckoutSession, error)
	// ExpireCheckoutSession closes an open session so that it can no longer be paid.
	ExpireCheckoutSession(ctx context.Context, id string) (CheckoutSession, error)
}

// CheckoutHandler applies a verified checkout.session.* event (the exchanges
// package), in the transaction that records the event as processed.
type CheckoutHandler interface {
	CheckoutEvent(ctx context.Context, tx *sqlx.Tx, typ string, cs CheckoutSession) error
}

var _ CheckoutGateway = (*Stripe)(nil)

// CreateCheckoutSession makes a payment-mode Checkout Session with one line of
// req.Amount in req.Currency, under req.IdempotencyKey.
func (s *Stripe) CreateCheckoutSession(ctx context.Context, req CheckoutRequest) (CheckoutSession, error) {
	switch {
	case req.Amount <= 0:
		return CheckoutSession{}, fmt.Errorf("refunds: checkout: amount %d is not positive", req.Amount)
	case req.IdempotencyKey == "":
		return CheckoutSession{}, fmt.Errorf("refunds: checkout: no idempotency key")
	}
	params := &stripe.CheckoutSessionParams{
		Mode:       stripe.String(string(stripe.CheckoutSessionModePayment)),
		SuccessURL: stripe.String(req.SuccessURL),
		CancelURL:  stripe.String(req.CancelURL),
		LineItems: []*stripe.CheckoutSessionLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionLineItemPriceDataParams{
				Currency:    stripe.String(strings.ToLower(req.Currency)),
				UnitAmount:  stripe.Int64(req.Amount),
				ProductData: &stripe.CheckoutSessionLineItemPriceDataProductDataParams{Name: stripe.String(req.Name)},
			},
		}},
		PaymentIntentData: &stripe.CheckoutSessionPaymentIntentDataParams{Metadata: req.Metadata},
	}
	if req.Email != "" {
		params.CustomerEmail = stripe.String(req.Email)
	}
	params.Context = ctx
	params.SetIdempotencyKey(req.IdempotencyKey)
	for k, v := range req.Metadata {
		params.AddMetadata(k, v)
	}
	cs, err := s.api.CheckoutSessions.New(params)
	if err != nil {
		return CheckoutSession{}, stripeError(err)
	}
	return sessionOf(cs), nil
}

// ExpireCheckoutSession closes the open session id: it can no longer be paid.
// Stripe refuses it (a Permanent error) for a session that is complete or expired.
func (s *Stripe) ExpireCheckoutSession(ctx context.Context, id string) (CheckoutSession, error) {
	params := &stripe.CheckoutSessionExpireParams{}
	params.Context = ctx
	cs, err := s.api.CheckoutSessions.Expire(id, params)
	if err != nil {
		return CheckoutSession{}, stripeError(err)
	}
	return sessionOf(cs), nil
}

func sessionOf(cs *stripe.CheckoutSession) CheckoutSession {
	out := CheckoutSession{ID: cs.ID, URL: cs.URL, ExpiresAt: cs.ExpiresAt, Status: string(cs.Status),
		PaymentStatus: string(cs.PaymentStatus), AmountTotal: cs.AmountTotal, Currency: string(cs.Currency), Metadata: cs.Metadata}
	if cs.PaymentIntent != nil {
		out.PaymentIntent = cs.PaymentIntent.ID
	}
	return out
}

// parseCheckout reads the session of a checkout.session.* event.
func parseCheckout(raw json.RawMessage) (CheckoutSession, error) {
	var cs stripe.CheckoutSession
	if err := json.Unmarshal(raw, &cs); err != nil {
		return CheckoutSession{}, err
	}
	return sessionOf(&cs), nil
}
