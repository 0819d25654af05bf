package ledger

import (
	"context"
	"net/http"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

type ledgerListInput struct {
	Kind     []string `query:"kind" explode:"false" example:"refund_succeeded,refund_failed" doc:"Only these kinds (comma-separated): refund_queued, refund_sent, refund_succeeded, refund_failed, refund_canceled, refund_to_store_credit, refund_outside, store_credit_issued, store_credit_bonus, store_credit_redeemed, store_credit_adjusted, store_credit_reversed, fee_retained, exchange_in, exchange_out, exchange_payment, label_purchased, label_voided."`
	Currency string   `query:"currency" maxLength:"3" example:"EUR"`
	From     string   `query:"from" maxLength:"40" example:"2026-03-01" doc:"Entries recorded at or after. A date (YYYY-MM-DD, midnight UTC) or an RFC 3339 date-time."`
	To       string   `query:"to" maxLength:"40" example:"2026-04-01" doc:"Entries recorded before (exclusive). A date (YYYY-MM-DD, midnight UTC) or an RFC 3339 date-time."`
	RMA      string   `query:"rma" maxLength:"40" example:"R-7KQ4-M2XD" doc:"Only entries of this return."`
	Order    string   `query:"order" maxLength:"100" example:"NW-10023" doc:"Only entries of this order number."`
	ReturnID string   `query:"return_id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"Only entries of this return (its ID)."`
	RefundID string   `query:"refund_id" maxLength:"40" example:"rf_3m8x1c7v4b9n2z6p0r5t8w1k4q" doc:"Only entries of this refund (its ID)."`
	Limit    int      `query:"limit" minimum:"1" maximum:"500" default:"50"`
	Cursor   string   `query:"cursor" maxLength:"40" doc:"next_cursor of the previous page."`
}

type ledgerListOutput struct {
	Body struct {
		Data       []Entry `json:"data"`
		NextCursor string  `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

// Register adds GET /v1/ledger to api.
func Register(api huma.API, d *sqlx.DB) {
	huma.Register(api, huma.Operation{
		OperationID: "list-ledger-entries",
		Method:      http.MethodGet,
		Path:        "/v1/ledger",
		Summary:     "List ledger entries",
		Description: "Every money movement, newest first, with cursor pagination: refunds queued, sent, succeeded, " +
			"failed and canceled; store credit issued, bonus, redeemed and adjusted; fees retained when a return " +
			"completed. Entries are never changed; a correction is a new entry. `amount` is the magnitude; `net` " +
			"is the signed effect on the shop's money (negative when money or credit leaves the shop).",
		Tags:     []string{"Ledger"},
		Security: auth.Staff(auth.RoleFinance),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *ledgerListInput) (*ledgerListOutput, error) {
		var v validation.Error
		f := Filter{Currency: strings.ToUpper(strings.TrimSpace(in.Currency)), RMA: strings.TrimSpace(in.RMA),
			OrderNumber: strings.TrimSpace(in.Order), ReturnID: strings.TrimSpace(in.ReturnID), RefundID: strings.TrimSpace(in.RefundID), Limit: in.Limit}
		for _, raw := range in.Kind {
			for _, part := range strings.Split(raw, ",") {
				if part = strings.TrimSpace(part); part == "" {
					continue
				}
				if !Kind(part).Valid() {
					v.AddValue("kind", part, "is not a ledger entry kind")
				}
				f.Kinds = append(f.Kinds, Kind(part))
			}
		}
		f.Period = period.Parse(in.From, in.To, false, "", &v)
		f.Before = cursor.Decode("l", in.Cursor, &v)
		if v.Err() != nil {
			return nil, v.In("query.")
		}
		list, more, err := List(ctx, d, auth.MustFromContext(ctx).MerchantID, f)
		if err != nil {
			return nil, err
		}
		out := &ledgerListOutput{}
		out.Body.Data = list
		out.Body.NextCursor = cursor.Next("l", list, more, func(e Entry) string { return e.PublicID })
		return out, nil
	})
}
