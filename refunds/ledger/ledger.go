// Package ledger owns the finance ledger: the append-only record of every money
// movement of a merchant — refunds queued, sent, succeeded, failed and canceled,
// failed refunds settled as store credit or paid back outside Roundtrip,
// store credit issued, given as a bonus, redeemed, reversed and adjusted, fees retained,
// and exchanges (the returned items' value kept in, the replacements' out, a price
// difference paid) —
// with the return, RMA, order, currency, amount and Stripe ids (refund, charge,
// balance transaction) of each.
//
// The entries are written by PostgreSQL triggers on refunds, store_credit_entries and
// returns (migrations/00005_finance.sql), in the same transaction as the change that
// moved the money, so that no code path can forget one; a trigger refuses UPDATE,
// DELETE and TRUNCATE of ledger_entries. This package reads them: List for
// GET /v1/ledger, SentAttempts for reconciliation, and period.Period, the [from, to) range
// that the finance operations share.
//
// # Signs
//
// Amount is the magnitude of the refund, credit or fee an entry is about, never
// negative. Net is the signed effect on the merchant's money: negative when money or
// store credit leaves the shop for a shopper, positive when it comes back, 0 for a
// step that moves nothing (refund_queued, refund_succeeded, fee_retained). A refund
// takes the money when Stripe creates it (refund_sent: −amount) and gives it back when
// it fails or is canceled after that (+amount), as Stripe's balance transactions do;
// store credit counts when issued (−amount) and when redeemed (+amount). So Σ net per
// currency over a period of the refund and store credit kinds is the merchant's net
// outflow to shoppers; label_purchased adds what return shipping cost the shop
// (written by a trigger on parcels when a bought label is recorded).
package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Kind is what an entry records.
type Kind string

// The kinds of entries.
const (
	// RefundQueued: a refund was created (or queued again by a retry); nothing paid yet.
	RefundQueued Kind = "refund_queued"
	// RefundSent: Stripe created the refund and took its amount from the balance.
	RefundSent Kind = "refund_sent"
	// RefundSucceeded: the refund reached the shopper.
	RefundSucceeded Kind = "refund_succeeded"
	// RefundFailed: the refund failed; money Stripe had taken came back.
	RefundFailed Kind = "refund_failed"
	// RefundCanceled: the refund was canceled; money Stripe had taken came back.
	RefundCanceled Kind = "refund_canceled"
	// RefundToStoreCredit: finance settled a failed refund as store credit (net 0:
	// the credit's store_credit_issued entry takes the amount).
	RefundToStoreCredit Kind = "refund_to_store_credit"
	// RefundOutside: finance recorded a failed refund as paid back outside Roundtrip
	// (−amount; the note says how).
	RefundOutside Kind = "refund_outside"
	// StoreCreditIssued: store credit given for a return.
	StoreCreditIssued Kind = "store_credit_issued"
	// StoreCreditBonus: the shop's bonus on store credit.
	StoreCreditBonus Kind = "store_credit_bonus"
	// StoreCreditRedeemed: the shopper spent store credit.
	StoreCreditRedeemed Kind = "store_credit_redeemed"
	// StoreCreditAdjusted: a manual correction of store credit.
	StoreCreditAdjusted Kind = "store_credit_adjusted"
	// StoreCreditReversed: a redemption given back (the shop's order was cancelled).
	StoreCreditReversed Kind = "store_credit_reversed"
	// FeeRetained: a restocking or label fee kept when a return completed.
	FeeRetained Kind = "fee_retained"
	// ExchangeIn: the value of returned items kept as an exchange instead of refunded
	// (goods, not money: net 0).
	ExchangeIn Kind = "exchange_in"
	// ExchangeOut: the value of the replacements released to the shopper (net 0).
	ExchangeOut Kind = "exchange_out"
	// ExchangePayment: a dearer replacement's difference the shopper paid through
	// Stripe Checkout (+amount).
	ExchangePayment Kind = "exchange_payment"
	// LabelPurchased: a return label was bought from a carrier (through Shippo); net
	// is minus its price, a return shipping cost of the shop.
	LabelPurchased Kind = "label_purchased"
	// LabelVoided: the carrier was asked to refund an unused label; net 0, as the
	// carrier credits the account later on its own terms.
	LabelVoided Kind = "label_voided"
)

// Kinds lists every kind.
func Kinds() []Kind {
	return []Kind{RefundQueued, RefundSent, RefundSucceeded, RefundFailed, RefundCanceled, RefundToStoreCredit, RefundOutside,
		StoreCreditIssued, StoreCreditBonus, StoreCreditRedeemed, StoreCreditAdjusted, StoreCreditReversed, FeeRetained,
		ExchangeIn, ExchangeOut, ExchangePayment, LabelPurchased, LabelVoided}
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

// Entry is one ledger entry. It is never changed once written.
type Entry struct {
	PublicID            string    `json:"id" db:"public_id" example:"le_9x2c5v8b1n4z7p0r3t6w9k2q5m"`
	At                  time.Time `json:"at" db:"at" doc:"When the movement was recorded (its transaction's time)."`
	Kind                Kind      `json:"kind" db:"kind" enum:"refund_queued,refund_sent,refund_succeeded,refund_failed,refund_canceled,refund_to_store_credit,refund_outside,store_credit_issued,store_credit_bonus,store_credit_redeemed,store_credit_adjusted,store_credit_reversed,fee_retained,exchange_in,exchange_out,exchange_payment,label_purchased,label_voided" example:"refund_succeeded"`
	Currency            string    `json:"currency" db:"currency" example:"EUR"`
	Amount              int64     `json:"amount" db:"amount" example:"2975" doc:"Minor units of currency: the refund, credit or fee the entry is about; never negative."`
	Net                 int64     `json:"net" db:"net" example:"0" doc:"Signed effect on the merchant's money in minor units: negative when money or store credit leaves the shop, positive when it comes back, 0 for steps that move nothing (refund_queued, refund_succeeded, fee_retained)."`
	RefundPublicID      *string   `json:"refund_id,omitempty" db:"refund_public_id" example:"rf_3m8x1c7v4b9n2z6p0r5t8w1k4q" doc:"The refund's ID."`
	Attempt             *int      `json:"attempt,omitempty" db:"attempt" doc:"For refunds: 0 for the first sending, one more per retry."`
	Status              *string   `json:"status,omitempty" db:"status" example:"succeeded" doc:"For refunds: the refund's status after the change."`
	StoreCreditPublicID *string   `json:"store_credit_entry_id,omitempty" db:"store_credit_public_id" example:"sc_7b2n5z8p1r4t6w9k3q0m2x5c8v" doc:"The store credit entry's ID."`
	ExchangePublicID    *string   `json:"exchange_id,omitempty" db:"exchange_public_id" example:"exch_6b9e2h5k8n1q4t7w0z3c6f9j2m" doc:"The exchange's ID."`
	ReturnPublicID      *string   `json:"return_id,omitempty" db:"return_public_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	RMA                 *string   `json:"rma,omitempty" db:"rma" example:"R-7KQ4-M2XD"`
	OrderNumber         *string   `json:"order_number,omitempty" db:"order_number" example:"NW-10023"`
	StripeRefundID      *string   `json:"stripe_refund_id,omitempty" db:"stripe_refund_id" example:"re_3OxYz2LkdIwHu7ix1a2b3c4d"`
	ChargeID            *string   `json:"charge_id,omitempty" db:"charge_id"`
	PaymentIntentID     *string   `json:"payment_intent_id,omitempty" db:"payment_intent_id"`
	BalanceTransaction  *string   `json:"balance_transaction,omitempty" db:"balance_transaction" doc:"Stripe's balance transaction of the refund."`
	Note                string    `json:"note,omitempty" db:"note" example:"restocking fee"`
	// Internal keys; the API shows the public IDs above.
	ID                 int64  `json:"-" db:"id"`
	RefundID           *int64 `json:"-" db:"refund_id"`
	StoreCreditEntryID *int64 `json:"-" db:"store_credit_entry_id"`
	ExchangeID         *int64 `json:"-" db:"exchange_id"`
	ReturnID           *int64 `json:"-" db:"return_id"`
	MerchantID         int64  `json:"-" db:"merchant_id"`
}

// Filter narrows a listing of entries. Zero fields do not filter.
type Filter struct {
	Kinds       []Kind
	Currency    string
	Period      period.Period // on At
	RMA         string
	OrderNumber string
	ReturnID    string // public ID
	RefundID    string // public ID
	Before      string // cursor: the public ID of the entry the page goes on after (older ones)
	Limit       int    // default 50
}

const entryCols = `e.id, e.public_id, e.merchant_id, e.at, e.kind, e.currency, e.amount, e.net, e.refund_id,
	f.public_id AS refund_public_id, e.attempt, e.status, e.store_credit_entry_id, c.public_id AS store_credit_public_id,
	e.exchange_id, x.public_id AS exchange_public_id,
	e.return_id, r.public_id AS return_public_id, e.rma, e.order_number, e.stripe_refund_id, e.charge_id,
	e.payment_intent_id, e.balance_transaction, e.note`

const entryFrom = ` FROM ledger_entries e LEFT JOIN refunds f ON f.id = e.refund_id
	LEFT JOIN store_credit_entries c ON c.id = e.store_credit_entry_id LEFT JOIN returns r ON r.id = e.return_id
	LEFT JOIN exchanges x ON x.id = e.exchange_id`

// List returns a merchant's entries, newest first, and whether there are more. A
// cursor (f.Before) that is not one of the merchant's entries is refused with
// cursor.Unknown.
func List(ctx context.Context, q sqlx.QueryerContext, merchantID int64, f Filter) ([]Entry, bool, error) {
	where := `e.merchant_id = $1`
	args := []any{merchantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		add("e.kind = ANY($%d)", pq.Array(kinds))
	}
	if f.Currency != "" {
		add("e.currency = $%d", f.Currency)
	}
	if !f.Period.From.IsZero() {
		add("e.at >= $%d", f.Period.From)
	}
	if !f.Period.To.IsZero() {
		add("e.at < $%d", f.Period.To)
	}
	if f.RMA != "" {
		add("e.rma = $%d", f.RMA)
	}
	if f.OrderNumber != "" {
		add("e.order_number = $%d", f.OrderNumber)
	}
	if f.ReturnID != "" {
		add("r.public_id = $%d", f.ReturnID)
	}
	if f.RefundID != "" {
		add("f.public_id = $%d", f.RefundID)
	}
	if f.Before != "" {
		key, err := cursor.Resolve(ctx, q, `SELECT id FROM ledger_entries WHERE merchant_id = $1 AND public_id = $2`, merchantID, f.Before)
		if err != nil {
			return nil, false, err
		}
		add("e.id < $%d", key)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	list := []Entry{}
	err := sqlx.SelectContext(ctx, q, &list, `SELECT `+entryCols+entryFrom+` WHERE `+where+
		fmt.Sprintf(` ORDER BY e.id DESC LIMIT %d`, f.Limit+1), args...)
	if err != nil {
		return nil, false, fmt.Errorf("ledger: list: %w", err)
	}
	list, more := cursor.Trim(list, f.Limit)
	return list, more, nil
}

// Attempt is one sending of a refund to Stripe, as the ledger remembers it after a
// retry has replaced the refund's Stripe ID.
type Attempt struct {
	MerchantID     int64
	RefundID       int64
	Attempt        int
	StripeRefundID string
	// Status is the last status the ledger recorded for this attempt: succeeded,
	// failed or canceled, else the status it was sent with.
	Status string
}

// SentAttempts returns, by Stripe refund ID, the attempts of a merchant's refunds
// that sent the refunds stripeIDs: reconciliation uses it to recognise the Stripe
// refund of a failed attempt that finance retried.
func SentAttempts(ctx context.Context, q sqlx.QueryerContext, merchantID int64, stripeIDs []string) (map[string]Attempt, error) {
	out := make(map[string]Attempt)
	if len(stripeIDs) == 0 {
		return out, nil
	}
	rows, err := q.QueryxContext(ctx, `SELECT s.merchant_id, s.refund_id, s.attempt, s.stripe_refund_id,
		coalesce((SELECT e.status FROM ledger_entries e WHERE e.refund_id = s.refund_id AND e.attempt = s.attempt
			AND e.kind IN ('refund_succeeded', 'refund_failed', 'refund_canceled') ORDER BY e.id DESC LIMIT 1), s.status, 'pending')
		FROM ledger_entries s WHERE s.merchant_id = $1 AND s.stripe_refund_id = ANY($2) AND s.kind = 'refund_sent'`,
		merchantID, pq.Array(stripeIDs))
	if err != nil {
		return nil, fmt.Errorf("ledger: sent attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Attempt
		if err := rows.Scan(&a.MerchantID, &a.RefundID, &a.Attempt, &a.StripeRefundID, &a.Status); err != nil {
			return nil, fmt.Errorf("ledger: sent attempts: %w", err)
		}
		out[a.StripeRefundID] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: sent attempts: %w", err)
	}
	return out, nil
}
