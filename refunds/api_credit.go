package refunds

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/returns"
)

// The store credit operations: the shop's checkout spends a shopper's credit and
// gives it back when its order is cancelled.

type redeemInput struct {
	idempotency.Header
	Body struct {
		Code           string `json:"code,omitempty" maxLength:"40" example:"SC-7KQ4-M2XD-9PRT-HV3C" doc:"The credit's code, as the shopper typed it (case, spaces and dashes do not matter). Give code or email, not both."`
		Email          string `json:"email,omitempty" maxLength:"254" example:"ada@example.com" doc:"Spend the shopper's credits in this currency, those expiring first first. Give code or email, not both."`
		Amount         int64  `json:"amount" minimum:"1" example:"1500" doc:"To spend, in minor units."`
		Currency       string `json:"currency" minLength:"3" maxLength:"3" example:"EUR"`
		OrderReference string `json:"order_reference" minLength:"1" maxLength:"255" example:"NW-10410" doc:"The shop's order the credit pays for."`
	}
}

type redemptionOutput struct {
	Body *Redemption
}

type reverseInput struct {
	ID string `path:"id" maxLength:"40" example:"red_9k2n5q8t1w4z7c0f3j6m9p2s5v" doc:"The redemption's ID (red_…)."`
}

func registerCredit(api huma.API, s *Service) {
	huma.Register(api, huma.Operation{
		OperationID: "create-store-credit-redemption",
		Method:      http.MethodPost,
		Path:        "/v1/store-credit/redemptions",
		Summary:     "Spend store credit",
		Description: "The shop's checkout spends a shopper's store credit, by code or by email, for one of its orders. " +
			"The balance never goes below zero, however many redemptions run at once: one that asks for more than is left " +
			"answers 409 insufficient_store_credit with the balance. An Idempotency-Key is required: a retry with it answers " +
			"the first redemption. Every redemption is an entry in the ledger (store_credit_redeemed).",
		Tags:          []string{"Store credit"},
		Security:      auth.Staff(auth.RoleIntegration),
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, s.redeem)
	huma.Register(api, huma.Operation{
		OperationID: "reverse-store-credit-redemption",
		Method:      http.MethodPost,
		Path:        "/v1/store-credit/redemptions/{id}/reverse",
		Summary:     "Give a redemption back",
		Description: "When the shop's order is cancelled, the credit it spent goes back to the credits it came from (even expired " +
			"ones, which stay unspendable). Once only: a second reversal answers 409 already_reversed.",
		Tags:     []string{"Store credit"},
		Security: auth.Staff(auth.RoleIntegration),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, s.reverse)
}

func (s *Service) redeem(ctx context.Context, in *redeemInput) (*redemptionOutput, error) {
	p := auth.MustFromContext(ctx)
	b := in.Body
	var v validation.Error
	key := idempotency.FromContext(ctx)
	if key == "" {
		v.Add("header.Idempotency-Key", "is required: send a new key for each redemption, the same key when retrying one")
	}
	ri := RedeemInput{Amount: b.Amount, Currency: b.Currency, OrderReference: strings.TrimSpace(b.OrderReference),
		IdempotencyKey: key, Actor: p.Actor}
	switch {
	case (b.Code == "") == (b.Email == ""):
		v.Add("body.code", "give either code or email")
	case b.Code != "":
		code, ok := ParseCreditCode(b.Code)
		if !ok {
			v.AddValue("body.code", b.Code, "is not a store credit code (SC- and 16 symbols): check it for typos")
		}
		ri.Code = code
	default:
		ri.Email = returns.NormalizeEmail(b.Email)
	}
	if !money.Valid(b.Currency) {
		v.AddValue("body.currency", b.Currency, "must be an ISO 4217 currency code in upper case, such as EUR")
	}
	if b.Amount < 1 || b.Amount > money.MaxAmount {
		v.AddValue("body.amount", b.Amount, "must be between 1 and %d minor units", money.MaxAmount)
	}
	if ri.OrderReference == "" {
		v.Add("body.order_reference", "must not be empty")
	}
	if err := v.Err(); err != nil {
		return nil, v.In("")
	}
	r, err := Redeem(ctx, s.db, p.MerchantID, ri)
	if err != nil {
		return nil, err
	}
	return &redemptionOutput{Body: r}, nil
}

func (s *Service) reverse(ctx context.Context, in *reverseInput) (*redemptionOutput, error) {
	p := auth.MustFromContext(ctx)
	r, err := Reverse(ctx, s.db, p.MerchantID, in.ID, p.Actor)
	if err != nil {
		return nil, err
	}
	return &redemptionOutput{Body: r}, nil
}
