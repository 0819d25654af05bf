package refunds

import (
	"context"
	"net/http"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/returns"
)

type refundListInput struct {
	Status      []string `query:"status" explode:"false" example:"failed" doc:"Only refunds in these statuses (comma-separated): queued, pending, requires_action, succeeded, failed, canceled."`
	Currency    string   `query:"currency" maxLength:"3" example:"EUR"`
	ReturnID    string   `query:"return_id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"Only refunds of this return (its ID)."`
	RMA         string   `query:"rma" maxLength:"40" example:"R-7KQ4-M2XD" doc:"Only refunds of the return with this RMA."`
	Order       string   `query:"order" maxLength:"100" example:"NW-10023" doc:"Only refunds of returns of this order number."`
	CreatedFrom string   `query:"created_from" maxLength:"40" example:"2026-03-01" doc:"Only refunds created at or after: a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 date-time."`
	CreatedTo   string   `query:"created_to" maxLength:"40" example:"2026-04-01" doc:"Only refunds created before (exclusive)."`
	SettledFrom string   `query:"settled_from" maxLength:"40" example:"2026-03-01" doc:"Only refunds that settled (succeeded, failed or canceled) at or after."`
	SettledTo   string   `query:"settled_to" maxLength:"40" example:"2026-04-01" doc:"Only refunds that settled before (exclusive)."`
	Limit       int      `query:"limit" minimum:"1" maximum:"500" default:"50"`
	Cursor      string   `query:"cursor" maxLength:"40" doc:"next_cursor of the previous page."`
}

type refundListOutput struct {
	Body struct {
		Data       []Refund `json:"data"`
		NextCursor string   `json:"next_cursor,omitempty"`
	}
}

type refundIDInput struct {
	ID string `path:"id" maxLength:"40" example:"rf_3m8x1c7v4b9n2z6p0r5t8w1k4q" doc:"The refund's ID (rf_…)."`
}

type refundOutput struct {
	Body *Refund
}

type settleInput struct {
	ID   string `path:"id" maxLength:"40" example:"rf_3m8x1c7v4b9n2z6p0r5t8w1k4q" doc:"The refund's ID (rf_…)."`
	Body struct {
		As   string `json:"as" enum:"store_credit,outside" example:"store_credit" doc:"store_credit: the shopper gets store credit of the refund's amount; outside: the shop paid it back outside Roundtrip."`
		Note string `json:"note,omitempty" maxLength:"1000" example:"Paid by bank transfer, reference 2026-1142." doc:"Finance's note, kept with the refund and in the ledger; required for outside."`
	}
}

// MaxWebhookBytes is the largest Stripe event body read: Stripe's events are a few
// kilobytes, and the body is read whole before its signature can be checked.
const MaxWebhookBytes = 1 << 20

type webhookInput struct {
	Signature string `header:"Stripe-Signature" doc:"Stripe's signature of the payload."`
	RawBody   []byte
}

type webhookOutput struct {
	Body struct {
		Received  bool `json:"received"`
		Duplicate bool `json:"duplicate,omitempty" doc:"True when this event was applied before and changed nothing again. An event that changes nothing here (charge.refunded without refunds) writes nothing and is never marked."`
	}
}

type inspectInput struct {
	ID   string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
	Body *struct {
		Note string `json:"note,omitempty" maxLength:"1000" example:"Tags on, unworn." doc:"Recorded in the timeline."`
	} `required:"false"`
}

type inspectOutput struct {
	Body *returns.Return
}

type creditInput struct {
	Email string `query:"email" required:"true" minLength:"3" maxLength:"254" example:"ada@example.com"`
}

type creditOutput struct {
	Body Credit
}

// Register adds the refund, webhook and store-credit operations to api.
func Register(api huma.API, s *Service) {
	registerCases(api, s)
	finance := auth.Staff(auth.RoleFinance)
	huma.Register(api, huma.Operation{
		OperationID: "list-refunds",
		Method:      http.MethodGet,
		Path:        "/v1/refunds",
		Summary:     "List refunds",
		Description: "Newest first, with cursor pagination.",
		Tags:        []string{"Refunds"},
		Security:    finance,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *refundListInput) (*refundListOutput, error) {
		var v validation.Error
		f := ListFilter{Currency: strings.ToUpper(in.Currency), ReturnID: strings.TrimSpace(in.ReturnID), Limit: in.Limit,
			RMA: strings.TrimSpace(in.RMA), OrderNumber: strings.TrimSpace(in.Order)}
		created := period.Parse(in.CreatedFrom, in.CreatedTo, false, "created_", &v)
		settled := period.Parse(in.SettledFrom, in.SettledTo, false, "settled_", &v)
		f.CreatedFrom, f.CreatedTo, f.SettledFrom, f.SettledTo = created.From, created.To, settled.From, settled.To
		for _, st := range in.Status {
			for _, part := range strings.Split(st, ",") {
				if StatusRank(Status(part)) < 0 {
					v.AddValue("status", part, "is not a refund status")
				}
				f.Statuses = append(f.Statuses, Status(part))
			}
		}
		f.After = cursor.Decode("f", in.Cursor, &v)
		if v.Err() != nil {
			return nil, v.In("query.")
		}
		list, more, err := List(ctx, s.db, auth.MustFromContext(ctx).MerchantID, f)
		if err != nil {
			return nil, err
		}
		out := &refundListOutput{}
		out.Body.Data = list
		out.Body.NextCursor = cursor.Next("f", list, more, func(f Refund) string { return f.PublicID })
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-refund",
		Method:      http.MethodGet,
		Path:        "/v1/refunds/{id}",
		Summary:     "Get a refund",
		Description: "One refund: amount, currency, status (pending, succeeded or failed), Stripe's refund ID once sent, " +
			"the failure reason of a failed one and how finance settled it.",
		Tags:     []string{"Refunds"},
		Security: finance,
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, func(ctx context.Context, in *refundIDInput) (*refundOutput, error) {
		f, err := ByPublicID(ctx, s.db, auth.MustFromContext(ctx).MerchantID, in.ID)
		if err != nil {
			return nil, err
		}
		return &refundOutput{Body: f}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "retry-refund",
		Method:      http.MethodPost,
		Path:        "/v1/refunds/{id}/retry",
		Summary:     "Send a failed refund again",
		Description: "Queues a failed refund to be sent again; the return goes back to resolving. Other statuses answer 409.",
		Tags:        []string{"Refunds"},
		Security:    finance,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *refundIDInput) (*refundOutput, error) {
		p := auth.MustFromContext(ctx)
		f, err := ByPublicID(ctx, s.db, p.MerchantID, in.ID)
		if err != nil {
			return nil, err
		}
		f, err = s.Retry(ctx, p.MerchantID, f.ID, p.Actor)
		if err != nil {
			return nil, err
		}
		return &refundOutput{Body: f}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "settle-refund",
		Method:      http.MethodPost,
		Path:        "/v1/refunds/{id}/settle",
		Summary:     "Settle a failed refund another way",
		Description: "So that a refund Stripe refused is never a dead end: `store_credit` gives the shopper store credit of " +
			"the refund's amount instead; `outside` records that the shop paid it back outside Roundtrip (the note, " +
			"required then, says how). The refund keeps its Stripe status (failed) and gets closed_as; the ledger records " +
			"the settlement (refund_to_store_credit with the credit's store_credit_issued, or refund_outside) and the return " +
			"moves on, completing when nothing else is failed or under way. A refund that is not failed, or was settled " +
			"already, answers 409.",
		Tags:     []string{"Refunds"},
		Security: finance,
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *settleInput) (*refundOutput, error) {
		p := auth.MustFromContext(ctx)
		f, err := ByPublicID(ctx, s.db, p.MerchantID, in.ID)
		if err != nil {
			return nil, err
		}
		f, err = s.Settle(ctx, p.MerchantID, f.ID, SettleAs(in.Body.As), in.Body.Note, p.Actor)
		if err != nil {
			return nil, err
		}
		return &refundOutput{Body: f}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "receive-stripe-webhook",
		Method:      http.MethodPost,
		Path:        "/v1/webhooks/stripe",
		Summary:     "Receive a Stripe event",
		Description: "Stripe calls this with refund events (charge.refunded, charge.refund.updated, refund.*), signed with " +
			"STRIPE_WEBHOOK_SECRET. Each event is applied once; a refund never moves backwards.",
		Tags:             []string{"Webhooks"},
		SkipValidateBody: true,
		// A RawBody input gets no default limit: without one, anybody could make the
		// server read any amount before the signature is checked.
		MaxBodyBytes: MaxWebhookBytes,
		Errors:       []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge},
	}, func(ctx context.Context, in *webhookInput) (*webhookOutput, error) {
		if s.webhookSecret == "" {
			return nil, problem.New(http.StatusServiceUnavailable, "webhooks_not_configured", "STRIPE_WEBHOOK_SECRET is not set on this server.")
		}
		ev, err := ParseWebhook(in.RawBody, in.Signature, s.webhookSecret, s.now())
		if err != nil {
			return nil, problem.New(http.StatusBadRequest, "bad_signature", "The Stripe-Signature does not match the payload.")
		}
		dup, err := s.HandleEvent(ctx, ev)
		if err != nil {
			return nil, err
		}
		out := &webhookOutput{}
		out.Body.Received, out.Body.Duplicate = true, dup
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "inspect-return",
		Method:      http.MethodPost,
		Path:        "/v1/returns/{id}/inspection",
		Summary:     "Record an inspection and release the refund",
		Description: "Records that the received items were inspected and issues the refund (or store credit) that waited " +
			"for it: under the on_inspection refund trigger, or when the serial-returner rule held it. Only received or " +
			"partially received returns can be inspected; others answer 409.",
		Tags:     []string{"Warehouse"},
		Security: auth.Staff(auth.RoleWarehouse),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *inspectInput) (*inspectOutput, error) {
		p := auth.MustFromContext(ctx)
		r, err := s.returns.Find(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		note := ""
		if in.Body != nil {
			note = in.Body.Note
		}
		r, err = s.Inspect(ctx, p.MerchantID, r.ID, note, p.Actor)
		if err != nil {
			return nil, err
		}
		return &inspectOutput{Body: r}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-store-credit",
		Method:      http.MethodGet,
		Path:        "/v1/store-credit",
		Summary:     "Get a shopper's store credit",
		Description: "Balance per currency (of the credits that have not expired), every credit with the last symbols of its code, and every entry, oldest first.",
		Tags:        []string{"Store credit"},
		Security:    auth.Staff(auth.RoleFinance, auth.RoleIntegration),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, in *creditInput) (*creditOutput, error) {
		c, err := StoreCredit(ctx, s.db, auth.MustFromContext(ctx).MerchantID, returns.NormalizeEmail(in.Email))
		if err != nil {
			return nil, err
		}
		return &creditOutput{Body: c}, nil
	})
	registerCredit(api, s)
}
