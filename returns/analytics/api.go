package analytics

import (
	"context"
	"net/http"

	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

type summaryInput struct {
	From string `query:"from" required:"true" maxLength:"40" example:"2026-03-01" doc:"Start of the period (inclusive): a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 date-time."`
	To   string `query:"to" required:"true" maxLength:"40" example:"2026-04-01" doc:"End of the period (exclusive): to=2026-04-01 covers March."`
	Top  int    `query:"top" minimum:"1" maximum:"500" default:"50" doc:"How many SKUs by_sku lists."`
}

type summaryOutput struct {
	Body *Summary
}

// Register adds GET /v1/analytics/summary to api.
func Register(api huma.API, d *sqlx.DB) {
	huma.Register(api, huma.Operation{
		OperationID: "get-analytics-summary",
		Method:      http.MethodGet,
		Path:        "/v1/analytics/summary",
		Summary:     "Summarize returns and refunds",
		Description: "For [from, to): returns, items and units by reason, SKU and category; the return rate per SKU of the " +
			"orders placed in the period (units returned / units ordered); refunds per currency by status; store credit " +
			"issued; the share of merchant-fault reasons; the time from a return's creation to its refund " +
			"succeeding (p50, p95); and the shoppers' feedback (how easy the return was: count, average, " +
			"distribution, comments per reason).",
		Tags:     []string{"Analytics"},
		Security: auth.Staff(auth.RoleFinance),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *summaryInput) (*summaryOutput, error) {
		var v validation.Error
		p := period.Parse(in.From, in.To, true, "", &v)
		if v.Err() != nil {
			return nil, v.In("query.")
		}
		s, err := Summarize(ctx, d, auth.MustFromContext(ctx).MerchantID, p, in.Top)
		if err != nil {
			return nil, err
		}
		return &summaryOutput{Body: s}, nil
	})
}
