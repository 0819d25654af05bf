package refunds

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/returns"
)

// ErrNotFound means no such refund for this merchant.
var ErrNotFound = errors.New("refunds: not found")

// Refund is money going back to a shopper's payment for (part of) a return.
type Refund struct {
	PublicID           string     `json:"id" db:"public_id" example:"rf_3m8x1c7v4b9n2z6p0r5t8w1k4q"`
	ReturnPublicID     string     `json:"return_id" db:"return_public_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	RMA                string     `json:"rma" db:"rma" example:"R-7KQ4-M2XD"`
	OrderNumber        string     `json:"order_number" db:"order_number" example:"NW-10023"`
	Amount             int64      `json:"amount" db:"amount" example:"2975" doc:"Minor units of currency."`
	Currency           string     `json:"currency" db:"currency" example:"EUR"`
	Status             Status     `json:"status" db:"status" enum:"queued,pending,requires_action,succeeded,failed,canceled" example:"succeeded" doc:"queued (not yet sent), pending, requires_action, succeeded, failed or canceled."`
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
	ClosedAs           *string    `json:"closed_as,omitempty" db:"closed_as" enum:"store_credit,outside" doc:"Set when finance settled the failed refund another way: store_credit (the shopper got store credit of its amount) or outside (paid back outside Roundtrip)."`
	ClosedNote         string     `json:"closed_note,omitempty" db:"closed_note" doc:"Finance's note on the settlement."`
	ClosedBy           *string    `json:"closed_by,omitempty" db:"closed_by" example:"user:fin"`
	ClosedAt           *time.Time `json:"closed_at,omitempty" db:"closed_at"`
	// ID and ReturnID are internal keys; the API names a refund by PublicID.
	ID         int64 `json:"-" db:"id"`
	ReturnID   int64 `json:"-" db:"return_id"`
	MerchantID int64 `json:"-" db:"merchant_id"`
}

const refundCols = `f.id, f.public_id, f.merchant_id, f.return_id, r.public_id AS return_public_id, r.rma, o.number AS order_number, f.amount, f.currency, f.status,
	f.stripe_refund_id, f.charge_id, f.payment_intent_id, f.balance_transaction, f.failure_reason, f.explanation,
	f.generation, f.created_at, f.updated_at, f.sent_at, f.settled_at, f.closed_as, f.closed_note, f.closed_by, f.closed_at`

const refundFrom = ` FROM refunds f JOIN returns r ON r.id = f.return_id JOIN orders o ON o.id = r.order_id`

func getRefund(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (*Refund, error) {
	return getAs[Refund](ctx, q, refundCols, where, args...)
}

// getAs reads one refund's columns cols into a T; ErrNotFound when there is none.
func getAs[T any](ctx context.Context, q sqlx.QueryerContext, cols, where string, args ...any) (*T, error) {
	var f T
	err := sqlx.GetContext(ctx, q, &f, `SELECT `+cols+refundFrom+` WHERE `+where, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("refunds: get: %w", err)
	}
	return &f, nil
}

// held is a refund read under its row lock, with its transaction's now(): what
// now() writes in the transaction (recordedAs).
type held struct {
	Refund
	Now time.Time `db:"tx_now"`
	// returnRows is the refund's return, locked with it by the statement that locked
	// it (returns.LockedJSON), when that statement did; lockReturn uses it
	returnRows []byte
}

// heldCols are the columns of a held refund.
const heldCols = refundCols + `, now() AS tx_now`

// getHeld reads a refund under its row lock (where ends with FOR UPDATE OF f).
func getHeld(ctx context.Context, tx *sqlx.Tx, where string, args ...any) (*held, error) {
	return getAs[held](ctx, tx, heldCols, where, args...)
}

// lock reads a refund under its row lock.
func lock(ctx context.Context, tx *sqlx.Tx, id int64) (*held, error) {
	return getHeld(ctx, tx, `f.id = $1 FOR UPDATE OF f`, id)
}

// lockedByJob is the send job's claim read (outbox.Worker.HandleReading): the refund
// its payload names, locked, as one JSON row (null when there is none).
// (The job's o is read outside the refund's query, where o is the order.)
const lockedByJob = `SELECT row_to_json(x) FROM (SELECT (o.payload->>'refund_id')::bigint AS refund_id) job,
	LATERAL (SELECT ` + heldCols + refundFrom + ` WHERE f.id = job.refund_id FOR UPDATE OF f) x`

// lockedFor is the refund the job's claim read and locked (lockedByJob), or, for a
// job claimed without that read, the refund with ID id, locked now.
func lockedFor(ctx context.Context, tx *sqlx.Tx, job outbox.Job, id int64) (*held, error) {
	if job.Read == nil {
		return lock(ctx, tx, id)
	}
	var f held
	if err := db.UnmarshalRows(job.Read, &f); err != nil {
		return nil, fmt.Errorf("refunds: refund %d: %w", id, err)
	}
	return &f, nil
}

// ListFilter narrows a listing of refunds. Zero fields do not filter; the time
// ranges are half-open, [From, To).
type ListFilter struct {
	Statuses    []Status
	Currency    string
	ReturnID    string // the return's public ID
	RMA         string
	OrderNumber string
	CreatedFrom time.Time
	CreatedTo   time.Time
	SettledFrom time.Time
	SettledTo   time.Time
	After       string // cursor: the public ID of the refund the page goes on after (older ones)
	Limit       int
	// Open leaves out failed refunds that finance settled another way.
	Open bool
}

// List returns a merchant's refunds, newest first, and whether there are more. A
// cursor (f.After) that is not one of the merchant's refunds is refused with
// cursor.Unknown.
func List(ctx context.Context, d *sqlx.DB, merchantID int64, f ListFilter) ([]Refund, bool, error) {
	where := `f.merchant_id = $1`
	args := []any{merchantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		add("f.status = ANY($%d)", db.Array(statuses))
	}
	if f.Currency != "" {
		add("f.currency = $%d", f.Currency)
	}
	if f.ReturnID != "" {
		add("r.public_id = $%d", f.ReturnID)
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
	if f.After != "" {
		key, err := cursor.Resolve(ctx, d, `SELECT id FROM refunds WHERE merchant_id = $1 AND public_id = $2`, merchantID, f.After)
		if err != nil {
			return nil, false, err
		}
		add("f.id < $%d", key)
	}
	if f.Open {
		where += " AND f.closed_as IS NULL"
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
	list, more := cursor.Trim(list, f.Limit)
	return list, more, nil
}

// ByPublicID returns the refund of a merchant with public ID publicID (rf_…).
func ByPublicID(ctx context.Context, d sqlx.QueryerContext, merchantID int64, publicID string) (*Refund, error) {
	return getRefund(ctx, d, `f.merchant_id = $1 AND f.public_id = $2`, merchantID, publicID)
}

// Get returns one refund of a merchant.
func Get(ctx context.Context, d *sqlx.DB, merchantID, id int64) (*Refund, error) {
	return getRefund(ctx, d, `f.merchant_id = $1 AND f.id = $2`, merchantID, id)
}

// issued is what a return already had issued, what the refunds of all its order's
// returns take from the payment, and the payment.
type issued struct {
	Refunded int64 `db:"refunded"` // refunds that were not canceled
	Credited int64 `db:"credited"` // store credit
	Bonus    int64 `db:"bonus"`    // store-credit bonus
	// Spent is what the refunds of all the order's returns that are not failed or
	// canceled take from its payment.
	Spent   int64 `db:"spent"`
	Payment returns.Payment
	// NextID and NextPublicID are drawn for the refund this may lead to, so that its
	// insert can ride on the statement of the return's change (newRefund); a draw no
	// refund uses leaves a gap in the IDs, as a rolled-back insert does.
	NextID       int64  `db:"next_id"`
	NextPublicID string `db:"next_public_id"`
}

// issuedSQL is issuedFor's statement: $1 the return, $2 its order, $3 its merchant.
const issuedSQL = `SELECT
		(SELECT coalesce(sum(amount), 0) FROM refunds WHERE return_id = $1 AND status <> 'canceled'
			AND closed_as IS DISTINCT FROM 'store_credit') AS refunded,
		(SELECT coalesce(sum(amount), 0) FROM store_credit_entries WHERE return_id = $1 AND kind = 'issued') AS credited,
		(SELECT coalesce(sum(amount), 0) FROM store_credit_entries WHERE return_id = $1 AND kind = 'bonus') AS bonus,
		(SELECT coalesce(sum(f.amount), 0) FROM refunds f JOIN returns x ON x.id = f.return_id
			WHERE x.merchant_id = $3 AND x.order_id = $2 AND f.status NOT IN ('failed', 'canceled')) AS spent,
		(SELECT coalesce(data->'payment', '{}') FROM orders WHERE id = $2) AS payment,
		nextval('refunds_id_seq') AS next_id, new_public_id('rf') AS next_public_id`

// issuedFor reads what r already had issued, with its order's payment and what was
// spent of it, and draws the keys of a refund to come, in one statement. Each part is
// an index look-up (the order's returns by merchant and order, returns_order_id; the
// return's refunds and store-credit entries by return), whatever the tables' size.
func issuedFor(ctx context.Context, q sqlx.QueryerContext, r *returns.Return) (issued, error) {
	var row struct {
		issued
		Payment []byte `db:"payment"`
	}
	err := sqlx.GetContext(ctx, q, &row, issuedSQL, r.ID, r.OrderID, r.MerchantID)
	if err != nil {
		return issued{}, fmt.Errorf("refunds: issued so far: %w", err)
	}
	paid := row.issued
	if err := json.Unmarshal(row.Payment, &paid.Payment); err != nil {
		return issued{}, fmt.Errorf("refunds: payment of order %d: %w", r.OrderID, err)
	}
	return paid, nil
}

// flight counts a return's refunds still under way and failed.
type flight struct {
	InFlight int `db:"in_flight"`
	Failed   int `db:"failed"`
}

// inFlight counts the return's refunds but except (0: none), one that just succeeded
// and whose write is still to come.
func inFlight(ctx context.Context, q sqlx.QueryerContext, returnID, except int64) (flight, error) {
	var st flight
	err := sqlx.GetContext(ctx, q, &st, `SELECT count(*) FILTER (WHERE status IN ('queued', 'pending', 'requires_action')) AS in_flight,
		count(*) FILTER (WHERE status = 'failed' AND closed_as IS NULL) AS failed FROM refunds WHERE return_id = $1 AND id <> $2`, returnID, except)
	if err != nil {
		return flight{}, fmt.Errorf("refunds: in flight: %w", err)
	}
	return st, nil
}

// newRefund is a queued refund of a return, as its insert will store it, and that
// insert as a share of the statement of the return's change (returns.Tx.TransitionIn):
// its keys were drawn beforehand (issued.NextID), its times are the transaction's
// now(), what the column defaults would have written.
func newRefund(t *returns.Tx, paid issued, receiptID, amount int64, explanation string) (*Refund, outbox.Part) {
	r, now := t.Return, t.Now()
	f := &Refund{ID: paid.NextID, PublicID: paid.NextPublicID, MerchantID: r.MerchantID, ReturnID: r.ID,
		ReturnPublicID: r.PublicID, RMA: r.RMA, OrderNumber: r.OrderNumber, Amount: amount, Currency: r.Currency,
		Status: StatusQueued, Explanation: explanation, CreatedAt: now, UpdatedAt: now}
	if id := paid.Payment.PaymentIntentID; id != "" {
		f.PaymentIntentID = &id
	}
	if id := paid.Payment.ChargeID; id != "" {
		f.ChargeID = &id
	}
	return f, outbox.Part{With: `refund_new AS (INSERT INTO refunds (id, public_id, merchant_id, return_id, receipt_id, amount,
		currency, status, payment_intent_id, charge_id, explanation, created_at, updated_at)
		VALUES ($1, $2, $3, $4, nullif($5::bigint, 0), $6, $7, 'queued', $8, $9, $10, $11, $11))`,
		Args: []any{f.ID, f.PublicID, f.MerchantID, f.ReturnID, receiptID, f.Amount, f.Currency,
			f.PaymentIntentID, f.ChargeID, f.Explanation, now}}
}

// markFailed records a permanent refusal.
func markFailed(ctx context.Context, x sqlx.ExecerContext, id int64, reason string) error {
	_, err := x.ExecContext(ctx, `UPDATE refunds SET status = 'failed', failure_reason = $2, updated_at = now(), settled_at = now(),
		poll_at = NULL WHERE id = $1`, id, reason)
	if err != nil {
		return fmt.Errorf("refunds: fail %d: %w", id, err)
	}
	return nil
}

// record is the write of what Stripe says of the refund f, with status as the caller
// decided it, as a part of the caller's statement (outbox.EnqueueParts, or the
// statement of the event it publishes). recordedAs is the refund it leaves.
func record(f *held, status Status, res Result) outbox.Part {
	var failure *string
	if res.FailureReason != "" {
		failure = &res.FailureReason
	}
	// a refund Stripe answers pending gets its first poll PollAfter later (pollDue
	// moves it on from there); one that settles needs none
	return outbox.Part{With: `refund_record AS (UPDATE refunds f SET status = $2, stripe_refund_id = $3, charge_id = coalesce(nullif($4, ''), f.charge_id),
			balance_transaction = coalesce(nullif($5, ''), f.balance_transaction), failure_reason = coalesce($6, f.failure_reason),
			sent_at = coalesce(f.sent_at, now()), updated_at = now(),
			settled_at = CASE WHEN $2 IN ('succeeded', 'failed', 'canceled') THEN coalesce(f.settled_at, now()) ELSE f.settled_at END,
			poll_at = CASE WHEN $2 IN ('pending', 'requires_action') THEN CASE WHEN f.status IN ('pending', 'requires_action')
				THEN coalesce(f.poll_at, now()) ELSE now() + $7 * interval '1 second' END END
			WHERE f.id = $1)`,
		Args: []any{f.ID, string(status), res.StripeID, res.ChargeID, res.BalanceTransaction, failure, PollAfter.Seconds()}}
}

// recordedAs is f as record leaves it: the same columns, with the transaction's
// now() where record writes now(), so that the refund's event can be built before
// the statement that writes it runs.
func recordedAs(f *held, status Status, res Result) Refund {
	out := f.Refund
	out.Status = status
	out.StripeRefundID = &res.StripeID
	if res.ChargeID != "" {
		out.ChargeID = &res.ChargeID
	}
	if res.BalanceTransaction != "" {
		out.BalanceTransaction = &res.BalanceTransaction
	}
	if res.FailureReason != "" {
		out.FailureReason = &res.FailureReason
	}
	now := f.Now
	if out.SentAt == nil {
		out.SentAt = &now
	}
	out.UpdatedAt = now
	if Terminal(status) && out.SettledAt == nil {
		out.SettledAt = &now
	}
	return out
}

// recorded reports whether f already holds all that res says of it with status:
// recording it again would change nothing.
func recorded(f *Refund, status Status, res Result) bool {
	same := func(have *string, got string) bool { return got == "" || (have != nil && *have == got) }
	return f.Status == status && f.SentAt != nil && f.StripeRefundID != nil && *f.StripeRefundID == res.StripeID &&
		same(f.ChargeID, res.ChargeID) && same(f.BalanceTransaction, res.BalanceTransaction) && same(f.FailureReason, res.FailureReason)
}

// requeue makes a failed refund queued again under its next attempt number.
func requeue(ctx context.Context, x sqlx.ExecerContext, id int64) error {
	_, err := x.ExecContext(ctx, `UPDATE refunds SET status = 'queued', generation = generation + 1, stripe_refund_id = NULL,
		failure_reason = NULL, sent_at = NULL, settled_at = NULL, poll_at = NULL, updated_at = now() WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("refunds: requeue %d: %w", id, err)
	}
	return nil
}

// firstDelivery records a Stripe event's ID in tx and reports whether it is new.
func firstDelivery(ctx context.Context, tx *sqlx.Tx, ev Event) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO stripe_events (id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING`, ev.ID, ev.Type)
	if err != nil {
		return false, fmt.Errorf("refunds: stripe event %s: %w", ev.ID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// metadataKey is how a refund's metadata names it (see lockForStripe): the column
// and its value, the public ID or (for refunds sent before public IDs) the internal
// ID in decimal; col is "" when it names none.
func metadataKey(metadataID string) (col string, key any) {
	if n, err := strconv.ParseInt(metadataID, 10, 64); err == nil && n > 0 {
		return `f.id`, n
	}
	if strings.HasPrefix(metadataID, "rf_") {
		return `f.public_id`, metadataID
	}
	return "", nil
}

// noteAndLock is firstDelivery and lockForStripe's look-up by metadata in one
// statement, for the usual event: one refund, named by its metadata. first is false
// for an event noted before. locked is the refund the metadata names, under its row
// lock, or nil when it names none (or, a public ID, two merchants' refunds): the
// caller then looks the refund up by its Stripe ID. The refund is locked whether the
// event is new or not; a repeat only holds the lock until its transaction ends.
//
// The statement locks the refund's return after the refund too (the order every
// change of a refund takes them in), so that the event that settles the refund
// needs no statement of its own for it (lockReturn); an event that changes nothing
// holds it until its transaction ends, a few milliseconds.
func noteAndLock(ctx context.Context, tx *sqlx.Tx, ev Event, col string, key any) (first bool, locked *held, err error) {
	var row struct {
		First   bool   `db:"first"`
		Refunds []byte `db:"refunds"`
		Return  []byte `db:"ret"`
	}
	err = tx.GetContext(ctx, &row, `WITH note AS (INSERT INTO stripe_events (id, type) VALUES ($1, $2)
			ON CONFLICT DO NOTHING RETURNING 1)
		SELECT (SELECT count(*) FROM note) = 1 AS first,
			(SELECT coalesce(json_agg(x), '[]') FROM (SELECT `+heldCols+refundFrom+` WHERE `+col+` = $3
				LIMIT 2 FOR UPDATE OF f) x) AS refunds,
			`+returns.LockedJSON(`(SELECT min(f.return_id) FROM refunds f WHERE `+col+` = $3 HAVING count(*) = 1)`)+` AS ret`,
		ev.ID, ev.Type, key)
	if err != nil {
		return false, nil, fmt.Errorf("refunds: stripe event %s: %w", ev.ID, err)
	}
	var list []held
	if err := db.UnmarshalRows(row.Refunds, &list); err != nil {
		return false, nil, fmt.Errorf("refunds: stripe event %s: %w", ev.ID, err)
	}
	if len(list) == 1 {
		locked = &list[0]
		locked.returnRows = row.Return
	}
	return row.First, locked, nil
}

// lockByStripeID locks the refund with a Stripe ID; ErrNotFound: not ours.
func lockByStripeID(ctx context.Context, tx *sqlx.Tx, stripeID string) (*held, error) {
	return getHeld(ctx, tx, `f.stripe_refund_id = $1 FOR UPDATE OF f`, stripeID)
}

// lockForStripe locks the refund a Stripe refund belongs to: by the refund ID in its
// metadata first, since the send job may not have committed the Stripe ID yet (the
// lock then waits for it), else by the Stripe ID. ErrNotFound: not ours.
//
// Refunds are sent with their public ID (rf_…), looked up across merchants since a
// Stripe event names no merchant; a public ID that two merchants happen to share
// names none, and the Stripe ID decides. Refunds sent before public IDs went to
// Stripe carry the internal ID in decimal, and Stripe keeps a refund's metadata as it
// was sent: the events of those refunds (one that settles or fails days later) still
// name them that way, so a number is still taken as the internal ID.
func lockForStripe(ctx context.Context, tx *sqlx.Tx, metadataID, stripeID string) (*held, error) {
	if col, key := metadataKey(metadataID); col != "" {
		// found and locked in one statement
		var list []held
		if err := sqlx.SelectContext(ctx, tx, &list, `SELECT `+heldCols+refundFrom+` WHERE `+col+` = $1
			LIMIT 2 FOR UPDATE OF f`, key); err != nil {
			return nil, fmt.Errorf("refunds: refund of metadata %q: %w", metadataID, err)
		}
		if len(list) == 1 {
			return &list[0], nil
		}
	}
	return lockByStripeID(ctx, tx, stripeID)
}
