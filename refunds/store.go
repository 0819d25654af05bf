package refunds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ErrNotFound means no such refund for this merchant.
var ErrNotFound = errors.New("refunds: not found")

// Refund is money going back to a shopper's payment for (part of) a return.
type Refund struct {
	ID                 int64      `json:"id" db:"id" example:"501"`
	ReturnID           int64      `json:"return_id" db:"return_id" example:"1042"`
	RMA                string     `json:"rma" db:"rma" example:"R-7KQ4-M2XD"`
	OrderNumber        string     `json:"order_number" db:"order_number" example:"NW-10023"`
	Amount             int64      `json:"amount" db:"amount" example:"2975" doc:"Minor units of currency."`
	Currency           string     `json:"currency" db:"currency" example:"EUR"`
	Status             string     `json:"status" db:"status" example:"succeeded" doc:"queued (not yet sent), pending, requires_action, succeeded, failed or canceled."`
	StripeRefundID     *string    `json:"stripe_refund_id,omitempty" db:"stripe_refund_id" example:"re_3OxYz2LkdIwHu7ix1a2b3c4d"`
	ChargeID           *string    `json:"charge_id,omitempty" db:"charge_id"`
	PaymentIntentID    *string    `json:"payment_intent_id,omitempty" db:"payment_intent_id"`
	BalanceTransaction *string    `json:"balance_transaction,omitempty" db:"balance_transaction"`
	FailureReason      *string    `json:"failure_reason,omitempty" db:"failure_reason" doc:"Stripe's reason or message when the refund failed."`
	Explanation        string     `json:"explanation,omitempty" db:"explanation" doc:"How the amount was reached when it differs from the quote."`
	Attempt            int        `json:"attempt" db:"generation" doc:"0 for the first sending; each retry by finance adds one."`
	CreatedAt          time.Time  `json:"created_at" db:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at" db:"updated_at"`
	SentAt             *time.Time `json:"sent_at,omitempty" db:"sent_at"`
	SettledAt          *time.Time `json:"settled_at,omitempty" db:"settled_at"`
	MerchantID         int64      `json:"-" db:"merchant_id"`
}

// Terminal reports whether a refund status is final for our purposes (a succeeded
// refund can still turn failed; see Advance).
func Terminal(status string) bool { return StatusRank(status) == 2 }

const refundCols = `f.id, f.merchant_id, f.return_id, r.rma, o.number AS order_number, f.amount, f.currency, f.status,
	f.stripe_refund_id, f.charge_id, f.payment_intent_id, f.balance_transaction, f.failure_reason, f.explanation,
	f.generation, f.created_at, f.updated_at, f.sent_at, f.settled_at`

const refundFrom = ` FROM refunds f JOIN returns r ON r.id = f.return_id JOIN orders o ON o.id = r.order_id`

func getRefund(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (*Refund, error) {
	var f Refund
	err := sqlx.GetContext(ctx, q, &f, `SELECT `+refundCols+refundFrom+` WHERE `+where, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("refunds: get: %w", err)
	}
	return &f, nil
}

// lock reads a refund under its row lock.
func lock(ctx context.Context, tx *sqlx.Tx, id int64) (*Refund, error) {
	return getRefund(ctx, tx, `f.id = $1 FOR UPDATE OF f`, id)
}

// ListFilter narrows a listing of refunds. Zero fields do not filter; the time
// ranges are half-open, [From, To).
type ListFilter struct {
	Statuses    []string
	Currency    string
	ReturnID    int64
	RMA         string
	OrderNumber string
	CreatedFrom time.Time
	CreatedTo   time.Time
	SettledFrom time.Time
	SettledTo   time.Time
	After       int64 // cursor: refunds with a smaller ID
	Limit       int
}

// List returns a merchant's refunds, newest first, and whether there are more.
func List(ctx context.Context, d *sqlx.DB, merchantID int64, f ListFilter) ([]Refund, bool, error) {
	where := `f.merchant_id = $1`
	args := []any{merchantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if len(f.Statuses) > 0 {
		add("f.status = ANY($%d)", pq.Array(f.Statuses))
	}
	if f.Currency != "" {
		add("f.currency = $%d", f.Currency)
	}
	if f.ReturnID != 0 {
		add("f.return_id = $%d", f.ReturnID)
	}
	if f.RMA != "" {
		add("r.rma = $%d", f.RMA)
	}
	if f.OrderNumber != "" {
		add("o.number = $%d", f.OrderNumber)
	}
	for _, b := range []struct {
		cond string
		t    time.Time
	}{
		{"f.created_at >= $%d", f.CreatedFrom}, {"f.created_at < $%d", f.CreatedTo},
		{"f.settled_at >= $%d", f.SettledFrom}, {"f.settled_at < $%d", f.SettledTo},
	} {
		if !b.t.IsZero() {
			add(b.cond, b.t)
		}
	}
	if f.After > 0 {
		add("f.id < $%d", f.After)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	list := []Refund{}
	err := d.SelectContext(ctx, &list, `SELECT `+refundCols+refundFrom+` WHERE `+where+
		fmt.Sprintf(` ORDER BY f.id DESC LIMIT %d`, f.Limit+1), args...)
	if err != nil {
		return nil, false, fmt.Errorf("refunds: list: %w", err)
	}
	more := len(list) > f.Limit
	if more {
		list = list[:f.Limit]
	}
	return list, more, nil
}

// Get returns one refund of a merchant.
func Get(ctx context.Context, d *sqlx.DB, merchantID, id int64) (*Refund, error) {
	return getRefund(ctx, d, `f.merchant_id = $1 AND f.id = $2`, merchantID, id)
}
