package refunds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/returns"
)

// Outbox job kinds.
const (
	// JobSend sends a queued refund to Stripe.
	JobSend = "refund.send"
	// JobPoll asks Stripe about a refund that is still pending (a missed webhook).
	JobPoll = "refund.poll"
)

// PollAfter is how long a pending refund waits before Stripe is asked about it.
const PollAfter = 30 * time.Second

// Service issues refunds and store credit for returns and keeps them in step with
// Stripe.
type Service struct {
	db            *sqlx.DB
	returns       *returns.Store
	gateway       Gateway
	webhookSecret string
	log           *slog.Logger
	now           func() time.Time
}

// NewService returns the refunds service. gateway may be nil when no Stripe key is
// configured: refunds are then queued and wait.
func NewService(d *sqlx.DB, store *returns.Store, gateway Gateway, webhookSecret string, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: d, returns: store, gateway: gateway, webhookSecret: webhookSecret, log: log, now: time.Now}
}

type jobPayload struct {
	RefundID int64 `json:"refund_id"`
}

// Jobs registers the refund jobs with an outbox worker.
func (s *Service) Jobs(w *outbox.Worker) {
	if s.gateway == nil {
		return // without Stripe, queued refunds wait for a replica that has it
	}
	w.Handle(JobSend, s.send)
	w.Handle(JobPoll, s.poll)
}

// AfterReceipt issues what the newly accepted units are worth, per the return's
// policy (its refund trigger) and resolution. It implements receiving.Resolver and
// runs in the receipt's transaction, so a receipt and its refund commit together.
func (s *Service) AfterReceipt(ctx context.Context, tx *sqlx.Tx, r *returns.Return, receiptID int64, before, after map[string]int, actor string) error {
	pol, err := returns.PolicyAt(ctx, tx, r.MerchantID, r.PolicyVersion)
	if err != nil {
		return err
	}
	if pol.RefundTrigger == returns.TriggerOnInspection && !r.KeepIt {
		return s.returns.NoteTx(ctx, tx, r, "system", "hold",
			"The refund waits for the items to be inspected (the shop's policy refunds on inspection).")
	}
	if held, why, err := serialReturner(ctx, tx, r, pol); err != nil {
		return err
	} else if held {
		return s.returns.NoteTx(ctx, tx, r, "system", "hold", why)
	}
	return s.issue(ctx, tx, r, receiptID, after, actor)
}

// serialReturner applies the policy's rule: a shopper who started more than
// MaxReturns returns within PeriodDays has refunds held for inspection.
func serialReturner(ctx context.Context, tx *sqlx.Tx, r *returns.Return, pol returns.Policy) (bool, string, error) {
	rule := pol.SerialReturner
	if !rule.Enabled || rule.MaxReturns <= 0 || rule.PeriodDays <= 0 || r.KeepIt {
		return false, "", nil
	}
	var n int
	err := tx.GetContext(ctx, &n, `SELECT count(*) FROM returns WHERE merchant_id = $1 AND customer_email = $2
		AND state NOT IN ('cancelled', 'rejected') AND created_at > now() - $3 * interval '1 day'`,
		r.MerchantID, r.CustomerEmail, rule.PeriodDays)
	if err != nil {
		return false, "", fmt.Errorf("refunds: serial returner: %w", err)
	}
	if n <= rule.MaxReturns {
		return false, "", nil
	}
	return true, fmt.Sprintf("The refund is held for inspection: this shopper started %d returns in the last %d days, more than the policy's %d.",
		n, rule.PeriodDays, rule.MaxReturns), nil
}

// Inspect records that the received items were inspected and issues what the
// accepted units are owed and was held back (the on_inspection trigger, or the
// serial-returner rule).
func (s *Service) Inspect(ctx context.Context, merchantID, returnID int64, note, actor string) (*returns.Return, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, err := s.returns.LockTx(ctx, tx, merchantID, returnID)
	if err != nil {
		return nil, err
	}
	if r.State != returns.StateReceived && r.State != returns.StatePartiallyReceived {
		return nil, &returns.TransitionError{From: r.State, Event: returns.EventResolve}
	}
	accepted := map[string]int{}
	for _, it := range r.Items {
		accepted[it.LineID] = it.Accepted
	}
	if err := s.returns.NoteTx(ctx, tx, r, actor, "inspect", strings.TrimSpace("Items inspected. "+note)); err != nil {
		return nil, err
	}
	if err := s.issue(ctx, tx, r, 0, accepted, actor); err != nil {
		return nil, err
	}
	r, err = s.returns.LockTx(ctx, tx, merchantID, returnID)
	if err != nil {
		return nil, err
	}
	return r, tx.Commit()
}

// issue pays what the accepted units are worth less what the return already had
// issued (refunds that were not canceled, or store credit), so held amounts, several
// parcels and an inspection all add up to the quote, never more.
func (s *Service) issue(ctx context.Context, tx *sqlx.Tx, r *returns.Return, receiptID int64, accepted map[string]int, actor string) error {
	now := r.Quote.ForAccepted(accepted)
	payment, bonus := now.Total-now.StoreCreditBonus, now.StoreCreditBonus
	var paid struct {
		Refunded int64 `db:"refunded"`
		Credited int64 `db:"credited"`
		Bonus    int64 `db:"bonus"`
	}
	err := tx.GetContext(ctx, &paid, `SELECT
		(SELECT coalesce(sum(amount), 0) FROM refunds WHERE return_id = $1 AND status <> 'canceled') AS refunded,
		(SELECT coalesce(sum(amount), 0) FROM store_credit_entries WHERE return_id = $1 AND kind = 'issued') AS credited,
		(SELECT coalesce(sum(amount), 0) FROM store_credit_entries WHERE return_id = $1 AND kind = 'bonus') AS bonus`, r.ID)
	if err != nil {
		return fmt.Errorf("refunds: issued so far: %w", err)
	}
	payment -= paid.Refunded + paid.Credited
	bonus -= paid.Bonus
	explain := explanation(r, accepted)
	if payment > 0 {
		left, err := refundable(ctx, tx, r)
		if err != nil {
			return err
		}
		if payment > left {
			explain = strings.TrimSpace(explain + fmt.Sprintf(" Limited to %s, what is left to refund on the payment.", money.Format(left, r.Currency)))
			payment = left
		}
	}
	switch {
	case payment <= 0 && bonus <= 0:
		return s.settle(ctx, tx, r, actor)
	case r.Resolution == returns.ResolutionStoreCredit:
		if err := credit(ctx, tx, r, max(payment, 0), max(bonus, 0)); err != nil {
			return err
		}
		note := fmt.Sprintf("Store credit of %s issued to %s.", money.Format(max(payment, 0)+max(bonus, 0), r.Currency), r.CustomerEmail)
		if err := s.returns.TransitionTx(ctx, tx, r, returns.EventResolve, actor, strings.TrimSpace(note+" "+explain)); err != nil {
			return err
		}
		return s.settle(ctx, tx, r, "system")
	case payment <= 0:
		return s.settle(ctx, tx, r, actor)
	}
	order, err := s.returns.OrderByIDTx(ctx, tx, r.MerchantID, r.OrderID)
	if err != nil {
		return err
	}
	var id int64
	err = tx.GetContext(ctx, &id, `INSERT INTO refunds (merchant_id, return_id, receipt_id, amount, currency,
		payment_intent_id, charge_id, explanation) VALUES ($1, $2, nullif($3::bigint, 0), $4, $5, nullif($6, ''), nullif($7, ''), $8) RETURNING id`,
		r.MerchantID, r.ID, receiptID, payment, r.Currency, order.Order.Payment.PaymentIntentID, order.Order.Payment.ChargeID, explain)
	if err != nil {
		return fmt.Errorf("refunds: insert: %w", err)
	}
	if _, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: r.MerchantID, Kind: JobSend, Payload: jobPayload{id}, MaxAttempts: 25}); err != nil {
		return err
	}
	note := fmt.Sprintf("Refund of %s queued to the original payment.", money.Format(payment, r.Currency))
	return s.returns.TransitionTx(ctx, tx, r, returns.EventResolve, actor, strings.TrimSpace(note+" "+explain))
}

// OnTransition is the returns store hook for returnless (keep-it) returns: when one
// is approved, its whole quote is refunded (or credited) at once, in the approval's
// transaction, since no parcel will ever be received.
func (s *Service) OnTransition(ctx context.Context, tx *sqlx.Tx, r *returns.Return, ev returns.Event) error {
	if ev != returns.EventApprove || !r.KeepIt {
		return nil
	}
	all := map[string]int{}
	for _, l := range r.Quote.Lines {
		if l.Eligible {
			all[l.LineID] = l.Quantity
		}
	}
	return s.AfterReceipt(ctx, tx, r, 0, map[string]int{}, all, "system")
}

// explanation says why the accepted units are worth less than the quote, when some
// were rejected.
func explanation(r *returns.Return, accepted map[string]int) string {
	var parts []string
	for _, it := range r.Items {
		if it.Rejected > 0 {
			cond := ""
			if it.Condition != nil {
				cond = " (" + strings.ReplaceAll(*it.Condition, "_", " ") + ")"
			}
			parts = append(parts, fmt.Sprintf("%d × %s%s", it.Rejected, it.Name, cond))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "Not refunded: " + strings.Join(parts, ", ") + "."
}

// refundable is what is left on the order's payment: captured less the refunds of
// all its returns that are not failed or canceled.
func refundable(ctx context.Context, tx *sqlx.Tx, r *returns.Return) (int64, error) {
	var captured, spent int64
	err := tx.GetContext(ctx, &captured, `SELECT (data->'payment'->>'captured')::bigint FROM orders WHERE id = $1`, r.OrderID)
	if err != nil {
		return 0, fmt.Errorf("refunds: captured: %w", err)
	}
	err = tx.GetContext(ctx, &spent, `SELECT coalesce(sum(f.amount), 0) FROM refunds f JOIN returns x ON x.id = f.return_id
		WHERE x.order_id = $1 AND f.status NOT IN ('failed', 'canceled')`, r.OrderID)
	if err != nil {
		return 0, fmt.Errorf("refunds: spent: %w", err)
	}
	return max(captured-spent, 0), nil
}

// settle moves a return on once nothing is in flight: failed refunds make it
// refund_failed; otherwise it completes when every item is accounted for, and waits
// for the rest of its parcels when not.
func (s *Service) settle(ctx context.Context, tx *sqlx.Tx, r *returns.Return, actor string) error {
	var st struct {
		InFlight int `db:"in_flight"`
		Failed   int `db:"failed"`
	}
	err := tx.GetContext(ctx, &st, `SELECT count(*) FILTER (WHERE status IN ('queued', 'pending', 'requires_action')) AS in_flight,
		count(*) FILTER (WHERE status = 'failed') AS failed FROM refunds WHERE return_id = $1`, r.ID)
	if err != nil {
		return fmt.Errorf("refunds: settle: %w", err)
	}
	if st.InFlight > 0 {
		return nil
	}
	var outstanding int
	if err := tx.GetContext(ctx, &outstanding, `SELECT count(*) FROM return_items WHERE return_id = $1 AND received < quantity`, r.ID); err != nil {
		return err
	}
	var ev returns.Event
	var note string
	switch {
	case st.Failed > 0:
		if r.State == returns.StateRefundFailed {
			return nil
		}
		ev, note = returns.EventRefundFail, "A refund failed; finance can retry it."
	case r.State == returns.StateResolving && r.KeepIt:
		ev, note = returns.EventComplete, "Refunded without a return shipment: the shopper keeps the items."
	case r.State == returns.StateResolving && outstanding > 0:
		ev, note = returns.EventSettlePartial, "Refunded what arrived; waiting for the rest."
	case (r.State == returns.StateResolving || r.State == returns.StateReceived) && outstanding == 0:
		ev, note = returns.EventComplete, "Every item is accounted for and resolved."
	default:
		return nil
	}
	if _, err := returns.Next(r.State, ev); err != nil {
		return nil // the return is already further on
	}
	return s.returns.TransitionTx(ctx, tx, r, ev, actor, note)
}

// credit appends store credit entries for a return.
func credit(ctx context.Context, tx *sqlx.Tx, r *returns.Return, amount, bonus int64) error {
	for _, e := range []struct {
		kind string
		amt  int64
		note string
	}{{"issued", amount, "Return " + r.RMA}, {"bonus", bonus, "Store-credit bonus for return " + r.RMA}} {
		if e.amt <= 0 {
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO store_credit_entries (merchant_id, email, currency, amount, kind, return_id, note)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.MerchantID, r.CustomerEmail, r.Currency, e.amt, e.kind, r.ID, e.note)
		if err != nil {
			return fmt.Errorf("refunds: store credit: %w", err)
		}
	}
	return nil
}

// send is the JobSend handler: it sends a queued refund under its row lock and
// records Stripe's answer in the same transaction as the job being done. A crash
// before the commit sends it again with the same Idempotency-Key: Stripe answers the
// refund it already made.
func (s *Service) send(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
	var p jobPayload
	if err := job.Decode(&p); err != nil {
		return err
	}
	f, err := lock(ctx, tx, p.RefundID)
	if err != nil {
		return outbox.Permanent(err)
	}
	if f.Status != StatusQueued {
		return nil // already sent: a duplicate job
	}
	req := Request{RefundID: f.ID, Attempt: f.Attempt, Amount: f.Amount, Currency: f.Currency, Reason: "requested_by_customer",
		Metadata: map[string]string{"return_id": fmt.Sprint(f.ReturnID), "refund_id": fmt.Sprint(f.ID), "rma": f.RMA}}
	if f.PaymentIntentID != nil {
		req.PaymentIntentID = *f.PaymentIntentID
	}
	if f.ChargeID != nil {
		req.ChargeID = *f.ChargeID
	}
	res, err := s.gateway.Refund(ctx, req)
	switch {
	case errors.Is(err, ErrCurrencyMismatch):
		// the refund exists: record it, and say loudly that the amounts need a look
		s.log.Error("stripe refunded in another currency", slog.Int64("refund_id", f.ID),
			slog.String("want", f.Currency), slog.String("got", res.Currency), slog.String("stripe_refund_id", res.StripeID))
		return s.apply(ctx, tx, f, res)
	case err != nil && IsTemporary(err):
		return err // the outbox retries with backoff, under the same key
	case err != nil:
		reason := err.Error()
		var se *Error
		if errors.As(err, &se) && se.Message != "" {
			reason = se.Message
		}
		return s.fail(ctx, tx, f, reason)
	}
	return s.apply(ctx, tx, f, res)
}

// fail records a permanent refusal.
func (s *Service) fail(ctx context.Context, tx *sqlx.Tx, f *Refund, reason string) error {
	_, err := tx.ExecContext(ctx, `UPDATE refunds SET status = 'failed', failure_reason = $2, updated_at = now(), settled_at = now()
		WHERE id = $1`, f.ID, reason)
	if err != nil {
		return err
	}
	r, err := s.returns.LockTx(ctx, tx, f.MerchantID, f.ReturnID)
	if err != nil {
		return err
	}
	if _, err := returns.Next(r.State, returns.EventRefundFail); err != nil {
		return nil
	}
	return s.returns.TransitionTx(ctx, tx, r, returns.EventRefundFail, "stripe",
		fmt.Sprintf("Refund of %s failed: %s", money.Format(f.Amount, f.Currency), reason))
}

// apply records what Stripe says of a refund, never moving it backwards, and moves the
// return on when the refund settled.
func (s *Service) apply(ctx context.Context, tx *sqlx.Tx, f *Refund, res Result) error {
	if f.StripeRefundID != nil && *f.StripeRefundID != res.StripeID {
		return outbox.Permanent(fmt.Errorf("refunds: refund %d is %s in Stripe, not %s", f.ID, *f.StripeRefundID, res.StripeID))
	}
	status := f.Status
	if f.Status == StatusQueued || Advance(f.Status, res.Status) {
		status = res.Status
	}
	var failure *string
	if res.FailureReason != "" {
		failure = &res.FailureReason
	}
	_, err := tx.ExecContext(ctx, `UPDATE refunds SET status = $2, stripe_refund_id = $3, charge_id = coalesce(nullif($4, ''), charge_id),
		balance_transaction = coalesce(nullif($5, ''), balance_transaction), failure_reason = coalesce($6, failure_reason),
		sent_at = coalesce(sent_at, now()), updated_at = now(),
		settled_at = CASE WHEN $2 IN ('succeeded', 'failed', 'canceled') THEN coalesce(settled_at, now()) ELSE settled_at END
		WHERE id = $1`, f.ID, status, res.StripeID, res.ChargeID, res.BalanceTransaction, failure)
	if err != nil {
		return fmt.Errorf("refunds: record %d: %w", f.ID, err)
	}
	changed := status != f.Status
	wasSucceeded := f.Status == StatusSucceeded
	f.Status = status
	if !Terminal(status) {
		if f.SentAt == nil {
			_, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: f.MerchantID, Kind: JobPoll, Payload: jobPayload{f.ID},
				RunAt: s.now().Add(PollAfter), MaxAttempts: 100})
			return err
		}
		return nil
	}
	if !changed {
		return nil
	}
	r, err := s.returns.LockTx(ctx, tx, f.MerchantID, f.ReturnID)
	if err != nil {
		return err
	}
	if status == StatusFailed {
		if _, err := returns.Next(r.State, returns.EventRefundFail); err != nil {
			return nil
		}
		note := fmt.Sprintf("Refund of %s failed: %s", money.Format(f.Amount, f.Currency), res.FailureReason)
		if wasSucceeded {
			note = fmt.Sprintf("Refund of %s failed after it had succeeded: %s. The money went back to the shop; finance can send it again.",
				money.Format(f.Amount, f.Currency), failureText(res.FailureReason))
		}
		return s.returns.TransitionTx(ctx, tx, r, returns.EventRefundFail, "stripe", note)
	}
	return s.settle(ctx, tx, r, "stripe")
}

// failureText is Stripe's failure reason for a note, or a plain word when there is none.
func failureText(reason string) string {
	if reason == "" {
		return "no reason given"
	}
	return strings.ReplaceAll(reason, "_", " ")
}

// poll is the JobPoll handler: it asks Stripe about a refund that stayed pending.
func (s *Service) poll(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
	var p jobPayload
	if err := job.Decode(&p); err != nil {
		return err
	}
	f, err := lock(ctx, tx, p.RefundID)
	if err != nil {
		return outbox.Permanent(err)
	}
	if Terminal(f.Status) || f.StripeRefundID == nil {
		return nil
	}
	res, err := s.gateway.Get(ctx, *f.StripeRefundID)
	if err != nil {
		return err
	}
	if err := s.apply(ctx, tx, f, res); err != nil {
		return err
	}
	if !Terminal(f.Status) {
		return &outbox.Retry{After: PollAfter, Reason: "still " + f.Status}
	}
	return nil
}

// Retry queues a failed refund again (finance). It is sent under a new attempt
// number: Stripe keeps a refused request's answer for its Idempotency-Key for a day,
// so the same key would only replay the refusal. A refund that failed was never
// paid, so a new attempt cannot pay twice.
func (s *Service) Retry(ctx context.Context, merchantID, id int64, actor string) (*Refund, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	f, err := lock(ctx, tx, id)
	if err != nil || f.MerchantID != merchantID {
		return nil, ErrNotFound
	}
	if f.Status != StatusFailed {
		return nil, &NotRetryableError{Status: f.Status}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE refunds SET status = 'queued', generation = generation + 1, stripe_refund_id = NULL,
		failure_reason = NULL, sent_at = NULL, settled_at = NULL, updated_at = now() WHERE id = $1`, f.ID); err != nil {
		return nil, err
	}
	if _, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: merchantID, Kind: JobSend, Payload: jobPayload{f.ID}, MaxAttempts: 25}); err != nil {
		return nil, err
	}
	r, err := s.returns.LockTx(ctx, tx, merchantID, f.ReturnID)
	if err != nil {
		return nil, err
	}
	if _, err := returns.Next(r.State, returns.EventRetryRefund); err == nil {
		if err := s.returns.TransitionTx(ctx, tx, r, returns.EventRetryRefund, actor,
			fmt.Sprintf("Refund of %s sent again.", money.Format(f.Amount, f.Currency))); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return Get(ctx, s.db, merchantID, id)
}

// NotRetryableError is a retry of a refund that did not fail.
type NotRetryableError struct{ Status string }

func (e *NotRetryableError) Error() string {
	return "refunds: only failed refunds can be retried; this one is " + e.Status
}

// HandleEvent applies a verified Stripe event once: a repeated event ID is ignored.
func (s *Service) HandleEvent(ctx context.Context, ev Event) (duplicate bool, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO stripe_events (id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING`, ev.ID, ev.Type)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return true, nil
	}
	results := ev.Refunds
	if len(results) == 0 && ev.ChargeID != "" {
		// charge.refunded on API 2023-10-16 carries no refunds: poll ours for that charge
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, `SELECT id FROM refunds WHERE charge_id = $1 AND status IN ('pending', 'requires_action')`, ev.ChargeID); err != nil {
			return false, err
		}
		for _, id := range ids {
			if _, err := outbox.Enqueue(ctx, tx, outbox.Message{Kind: JobPoll, Payload: jobPayload{id}, MaxAttempts: 100}); err != nil {
				return false, err
			}
		}
	}
	for _, rr := range results {
		// Our refunds carry their row's ID in the metadata; look that up first, since
		// the send job may not have committed the Stripe ID yet (then lock waits for it).
		var id int64
		err := sql.ErrNoRows
		if mid, perr := strconv.ParseInt(rr.Metadata["refund_id"], 10, 64); perr == nil {
			err = tx.GetContext(ctx, &id, `SELECT id FROM refunds WHERE id = $1`, mid)
		}
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.GetContext(ctx, &id, `SELECT id FROM refunds WHERE stripe_refund_id = $1`, rr.StripeID)
		}
		if errors.Is(err, sql.ErrNoRows) {
			continue // a refund made outside Roundtrip: reconciliation reports it
		}
		if err != nil {
			return false, err
		}
		f, err := lock(ctx, tx, id)
		if err != nil {
			return false, err
		}
		if f.Status == StatusQueued || (f.StripeRefundID != nil && *f.StripeRefundID != rr.StripeID) {
			// not sent yet (the send job records Stripe's answer, which this event
			// agrees with), or an event of an earlier attempt of a retried refund
			continue
		}
		if err := s.apply(ctx, tx, f, rr); err != nil {
			return false, err
		}
	}
	return false, tx.Commit()
}
