package refunds

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/returns"
)

// Case is a return staff must look at because money already went out for items the
// warehouse did not accept: a refund issued on the carrier's scan (on_carrier_scan),
// then a receipt that found items missing or wrong. Nothing is taken back
// automatically; staff decide.
type Case struct {
	ID        string     `json:"id" db:"public_id" example:"case_8f1j4m7p0s3v6y9b2e5h8k1n4q"`
	ReturnID  string     `json:"return_id" db:"return_public_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	RMA       string     `json:"rma" db:"rma" example:"R-7KQ4-M2XD"`
	ReceiptID *string    `json:"receipt_id,omitempty" db:"receipt_public_id" example:"rcpt_6t9w2z5c8f1h4k7n0q3s6v9y2b" doc:"The receipt that found it."`
	Kind      string     `json:"kind" db:"kind" enum:"overpaid" example:"overpaid" doc:"overpaid: the shopper was paid more than the accepted items are worth."`
	Paid      int64      `json:"paid" db:"paid" example:"6950" doc:"What was refunded or credited, in minor units."`
	Owed      int64      `json:"owed" db:"owed" example:"4650" doc:"What the accepted items are worth, in minor units."`
	Currency  string     `json:"currency" db:"currency" example:"EUR"`
	Note      string     `json:"note" db:"note"`
	CreatedAt time.Time  `json:"created_at" db:"created_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty" db:"closed_at"`
}

// openCase records that r was paid paid and its accepted units are worth owed (less),
// with a timeline note, in t; once per receipt.
func openCase(ctx context.Context, t *returns.Tx, receiptID, paid, owed int64) error {
	r := t.Return
	note := fmt.Sprintf("The receipt accepted items worth %s, but %s was already paid on the carrier's scan. A case is open for staff; nothing was taken back.",
		money.Format(max(owed, 0), r.Currency), money.Format(paid, r.Currency))
	// with the change's next write, which the note makes first: the receipt the case
	// names is written with the change's writes too. A receipt is new when it is
	// resolved (one posted again is answered, not resolved again): it has no case yet.
	t.Defer(outbox.Part{With: `return_case AS (INSERT INTO return_cases (merchant_id, return_id, receipt_id, kind, paid, owed, currency, note)
		VALUES ($1, $2, $3, 'overpaid', $4, $5, $6, $7) ON CONFLICT (return_id, receipt_id) DO NOTHING)`,
		Args: []any{r.MerchantID, r.ID, receiptID, paid, max(owed, 0), r.Currency, note}})
	return t.Note(ctx, "system", "case_opened", note)
}

// OpenCases lists the merchant's open cases, newest first.
func OpenCases(ctx context.Context, q sqlx.QueryerContext, merchantID int64) ([]Case, error) {
	list := []Case{}
	err := sqlx.SelectContext(ctx, q, &list, `SELECT c.public_id, r.public_id AS return_public_id, r.rma, rc.public_id AS receipt_public_id, c.kind,
		c.paid, c.owed, c.currency, c.note, c.created_at, c.closed_at
		FROM return_cases c JOIN returns r ON r.id = c.return_id LEFT JOIN receipts rc ON rc.id = c.receipt_id
		WHERE c.merchant_id = $1 AND c.closed_at IS NULL ORDER BY c.id DESC LIMIT 500`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("refunds: open cases: %w", err)
	}
	return list, nil
}

type casesOutput struct {
	Body struct {
		Data []Case `json:"data"`
	}
}

func registerCases(api huma.API, s *Service) {
	huma.Register(api, huma.Operation{
		OperationID: "list-return-cases",
		Method:      http.MethodGet,
		Path:        "/v1/return-cases",
		Summary:     "List open return cases",
		Description: "Returns where money already went out for items the warehouse did not accept (a refund on the carrier's " +
			"scan, then a receipt that found items missing or wrong). Nothing is taken back automatically.",
		Tags:     []string{"Finance"},
		Security: auth.Staff(auth.RoleFinance),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, _ *struct{}) (*casesOutput, error) {
		list, err := OpenCases(ctx, s.db, auth.MustFromContext(ctx).MerchantID)
		if err != nil {
			return nil, err
		}
		out := &casesOutput{}
		out.Body.Data = list
		return out, nil
	})
}
