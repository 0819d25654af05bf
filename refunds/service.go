package refunds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/returns"
)

// Outbox job kinds.
const (
	// JobSend sends a queued refund to Stripe.
	JobSend = "refund.send"
	// JobPollDue is the periodic job (every PollEvery, in one replica at a time) that
	// finds the pending refunds whose poll is due and enqueues a JobPoll for each.
	JobPollDue = "refund.poll_due"
	// JobPoll asks Stripe about one refund still pending (a missed webhook).
	JobPoll = "refund.poll"
)

// A refund that Stripe answers pending is asked about again in case no webhook settles
// it (a missed webhook): PollAfter after it was sent, then a quarter of its age later
// each time (a refund pending for a day is asked every six hours), never sooner than
// PollAfter nor later than PollAtMost. JobPollDue runs every PollEvery, so a poll
// comes up to that much after it is due, and takes up to PollBatch refunds a run.
const (
	PollAfter  = 30 * time.Second
	PollAtMost = 6 * time.Hour
	PollEvery  = 30 * time.Second
	PollBatch  = 1000
)

// Service issues refunds and store credit for returns and keeps them in step with
// Stripe.
type Service struct {
	// Publisher, when set, tells the shop's systems about refunds and store credit
	// (refund.created, refund.succeeded, refund.failed, store_credit.issued) in the
	// transaction that changed them.
	Publisher Publisher
	// Checkouts, when set, applies the checkout.session.* events that arrive with
	// Stripe's webhooks (the exchanges' payments).
	Checkouts CheckoutHandler

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
	// the send job's claim reads and locks its refund: one statement fewer per refund
	w.HandleReading(JobSend, lockedByJob, s.send)
	w.Every(JobPollDue, PollEvery, pollDue)
	w.Handle(JobPoll, s.poll)
}

// Resolve issues what the accepted units are worth, per the return's policy (its
// refund trigger and serial-returner rule) and resolution. It is the returns store's
// Resolver (returns.Effects): it runs in the transaction of the receipt, the keep-it
// approval or the inspection that accepted the units, so they commit together.
func (s *Service) Resolve(ctx context.Context, t *returns.Tx, receiptID int64, accepted map[string]int, actor string) error {
	r := t.Return
	pol, err := t.Policy(ctx)
	if err != nil {
		return err
	}
	if pol.RefundTrigger == returns.TriggerOnInspection && !r.KeepIt {
		return t.Note(ctx, "system", "hold",
			"The refund waits for the items to be inspected (the shop's policy refunds on inspection).")
	}
	if held, why, err := serialReturner(ctx, t.Tx, r, pol); err != nil {
		return err
	} else if held {
		return t.Note(ctx, "system", "hold", why)
	}
	return s.issue(ctx, t, receiptID, accepted, actor)
}

// serialReturner applies the policy's rule: a shopper who started more than
// MaxReturns returns within PeriodDays has refunds held for inspection.
func serialReturner(ctx context.Context, tx *sqlx.Tx, r *returns.Return, pol returns.Policy) (bool, string, error) {
	rule := pol.SerialReturner
	if !rule.Applies() || r.KeepIt {
		return false, "", nil
	}
	n, err := returns.RecentReturns(ctx, tx, r.MerchantID, r.CustomerEmail, rule.PeriodDays)
	if err != nil {
		return false, "", fmt.Errorf("refunds: serial returner: %w", err)
	}
	if !rule.Holds(n) {
		return false, "", nil
	}
	return true, fmt.Sprintf("The refund is held for inspection: this shopper started %d returns in the last %d days, more than the policy's %d.",
		n, rule.PeriodDays, rule.MaxReturns), nil
}

// Inspect records that the received items were inspected and issues what the
// accepted units are owed and was held back (the on_inspection trigger, or the
// serial-returner rule).
func (s *Service) Inspect(ctx context.Context, merchantID, returnID int64, note, actor string) (*returns.Return, error) {
	return s.returns.Update(ctx, merchantID, returnID, func(ctx context.Context, t *returns.Tx) error {
		r := t.Return
		if r.State != returns.StateReceived && r.State != returns.StatePartiallyReceived {
			return &returns.TransitionError{From: r.State, Event: returns.EventInspect}
		}
		accepted := map[string]int{}
		for _, it := range r.Items {
			accepted[it.LineID] = it.Accepted
		}
		if err := t.Note(ctx, actor, "inspect", strings.TrimSpace("Items inspected. "+note)); err != nil {
			return err
		}
		if err := s.issue(ctx, t, 0, accepted, actor); err != nil {
			return err
		}
		return t.Reload(ctx)
	})
}

// issue pays what the accepted units are worth less what the return already had
// issued (refunds that were not canceled, or store credit), so held amounts, several
// parcels and an inspection all add up to the quote, never more.
func (s *Service) issue(ctx context.Context, t *returns.Tx, receiptID int64, accepted map[string]int, actor string) error {
	r := t.Return
	now := r.Quote.ForAccepted(accepted)
	payment, bonus := now.Total-now.StoreCreditBonus, now.StoreCreditBonus
	paid, err := issuedFor(ctx, t.Tx, r)
	if err != nil {
		return err
	}
	payment -= paid.Refunded + paid.Credited
	bonus -= paid.Bonus
	explain := explanation(r, accepted)
	if owed := now.Total - now.StoreCreditBonus; owed < paid.Refunded+paid.Credited && receiptID != 0 {
		// paid on the carrier's scan for items the receipt did not accept
		if err := openCase(ctx, t, receiptID, paid.Refunded+paid.Credited, owed); err != nil {
			return err
		}
	}
	if payment > 0 {
		if left := max(paid.Payment.Captured-paid.Spent, 0); payment > left {
			explain = strings.TrimSpace(explain + fmt.Sprintf(" Limited to %s, what is left to refund on the payment.", money.Format(left, r.Currency)))
			payment = left
		}
	}
	switch {
	case payment <= 0 && bonus <= 0:
		return s.settle(ctx, t, actor)
	case creditsBack(r):
		pol, err := t.Policy(ctx)
		if err != nil {
			return err
		}
		c, err := credit(ctx, t.Tx, r, max(payment, 0), max(bonus, 0), pol.StoreCreditExpiryDays)
		if err != nil {
			return err
		}
		// after the receipt's change and notice, when they are still to be written
		if err := s.publishCarrying(ctx, t.Tx, r.MerchantID, notify.StoreCreditIssued, CreditIssued{
			Email: r.CustomerEmail, Currency: r.Currency, Amount: max(payment, 0), Bonus: max(bonus, 0), ReturnID: r.ID, ReturnPublicID: r.PublicID, RMA: r.RMA,
			CreditID: c.PublicID, Code: c.Code, ExpiresAt: c.ExpiresAt,
		}, t.Carried()); err != nil {
			return err
		}
		note := fmt.Sprintf("Store credit of %s issued to %s.", money.Format(max(payment, 0)+max(bonus, 0), r.Currency), r.CustomerEmail)
		if err := t.Transition(ctx, returns.EventResolve, actor, strings.TrimSpace(note+" "+explain)); err != nil {
			return err
		}
		return s.settle(ctx, t, "system")
	case payment <= 0:
		return s.settle(ctx, t, actor)
	}
	// the refund's insert, the return's move to resolving, refund.created, the job
	// that sends the refund and the one that asks Stripe about it if no webhook
	// settles it, in one statement
	f, insert := newRefund(t, paid, receiptID, payment, explain)
	note := fmt.Sprintf("Refund of %s queued to the original payment.", money.Format(payment, r.Currency))
	return t.TransitionIn(ctx, returns.EventResolve, actor, strings.TrimSpace(note+" "+explain), func(change []outbox.Part) error {
		return s.publishCarrying(ctx, t.Tx, r.MerchantID, notify.RefundCreated, f, append([]outbox.Part{insert}, change...),
			s.jobs(f.MerchantID, f.ID)...)
	})
}

// creditsBack reports whether the return pays back in store credit: the store_credit
// resolution, or an exchange whose cheaper replacement's difference the shopper took
// as store credit.
func creditsBack(r *returns.Return) bool {
	return r.Resolution == returns.ResolutionStoreCredit ||
		(r.Resolution == returns.ResolutionExchange && r.Quote.Exchange != nil && r.Quote.Exchange.DifferenceAs == returns.ResolutionStoreCredit)
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

func received(r *returns.Return) int {
	n := 0
	for _, it := range r.Items {
		n += it.Received
	}
	return n
}

// settle moves a return on once nothing is in flight: failed refunds make it
// refund_failed; otherwise it completes when every item is accounted for, and waits
// for the rest of its parcels when not.
func (s *Service) settle(ctx context.Context, t *returns.Tx, actor string) error {
	return s.settleWith(ctx, t, actor, 0)
}

// settleWith is settle for a return one of whose refunds (settled, by ID) just
// succeeded, with its write still to come (t.Defer): the others decide.
func (s *Service) settleWith(ctx context.Context, t *returns.Tx, actor string, settled int64) error {
	r := t.Return
	st, err := inFlight(ctx, t.Tx, r.ID, settled)
	if err != nil {
		return err
	}
	if st.InFlight > 0 {
		return nil
	}
	outstanding := r.Outstanding()
	if pending, err := t.ExchangePending(ctx); err != nil {
		return err
	} else if pending && st.Failed == 0 {
		return nil // the return completes when its replacement is released
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
	case r.State == returns.StateResolving && outstanding > 0 && received(r) == 0:
		ev, note = returns.EventSettlePartial, "Refunded on the carrier's scan; the parcel is on its way to the warehouse."
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
	return t.Transition(ctx, ev, actor, note)
}

// send is the JobSend handler: it sends a queued refund under its row lock and
// records Stripe's answer in the same transaction that removes the job. A crash
// before the commit sends it again with the same Idempotency-Key: Stripe answers the
// refund it already made.
func (s *Service) send(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
	var p jobPayload
	if err := job.Decode(&p); err != nil {
		return err
	}
	f, err := lockedFor(ctx, tx, job, p.RefundID)
	if err != nil {
		return outbox.Permanent(err)
	}
	if f.Status != StatusQueued {
		return nil // already sent: a duplicate job
	}
	// Stripe keeps what it is sent: public IDs only (internal IDs are shared by every
	// merchant and would tell the platform's volume)
	req := Request{RefundID: f.ID, PublicID: f.PublicID, Attempt: f.Attempt, Amount: f.Amount, Currency: f.Currency,
		Reason: "requested_by_customer", Metadata: map[string]string{"return_id": f.ReturnPublicID, "rma": f.RMA}}
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
		return s.fail(ctx, tx, &f.Refund, reason)
	}
	return s.apply(ctx, tx, f, res)
}

// fail records a permanent refusal and moves the return to refund_failed.
func (s *Service) fail(ctx context.Context, tx *sqlx.Tx, f *Refund, reason string) error {
	if err := markFailed(ctx, tx, f.ID, reason); err != nil {
		return err
	}
	if err := s.publishRefund(ctx, tx, notify.RefundFailed, f.ID); err != nil {
		return err
	}
	t, err := s.returns.Lock(ctx, tx, f.MerchantID, f.ReturnID)
	if err != nil {
		return err
	}
	if _, err := returns.Next(t.Return.State, returns.EventRefundFail); err != nil {
		return nil
	}
	return t.Transition(ctx, returns.EventRefundFail, "stripe",
		fmt.Sprintf("Refund of %s failed: %s", money.Format(f.Amount, f.Currency), reason))
}

// apply records what Stripe says of a refund, never moving it backwards, and moves the
// return on when the refund settled.
func (s *Service) apply(ctx context.Context, tx *sqlx.Tx, f *held, res Result) error {
	if f.StripeRefundID != nil && *f.StripeRefundID != res.StripeID {
		return outbox.Permanent(fmt.Errorf("refunds: refund %d is %s in Stripe, not %s", f.ID, *f.StripeRefundID, res.StripeID))
	}
	status := f.Status
	if f.Status == StatusQueued || Advance(f.Status, res.Status) {
		status = res.Status
	}
	if recorded(&f.Refund, status, res) {
		return nil // a repeat, or news Stripe already gave: nothing to write
	}
	changed := status != f.Status
	wasSucceeded := f.Status == StatusSucceeded
	// the write rides on the statement of the event it publishes, if any
	write, after := record(f, status, res), recordedAs(f, status, res)
	if changed && status == StatusSucceeded {
		// a refund that succeeded settles its return: the refund's write and its event
		// ride on the statement of the return's change it sets off (settle), or are
		// made on their own when it sets off none
		t, err := s.lockReturn(ctx, tx, f)
		if err != nil {
			return err
		}
		if err := s.publishDeferred(ctx, t, notify.RefundSucceeded, &after, write); err != nil {
			return err
		}
		f.Refund = after
		if err := s.settleWith(ctx, t, "stripe", f.ID); err != nil {
			return err
		}
		if _, _, err := outbox.EnqueueParts(ctx, tx, t.Carried()); err != nil { // what no change carried
			return fmt.Errorf("refunds: record %d: %w", f.ID, err)
		}
		return nil
	}
	if changed && status == StatusFailed {
		if err := s.publishCarrying(ctx, tx, f.MerchantID, notify.RefundFailed, &after, []outbox.Part{write}); err != nil {
			return err
		}
	} else if _, _, err := outbox.EnqueueParts(ctx, tx, []outbox.Part{write}); err != nil {
		return fmt.Errorf("refunds: record %d: %w", f.ID, err)
	}
	f.Refund = after
	if !Terminal(status) {
		return nil // it is polled when its poll_at comes (record set it; pollDue)
	}
	if !changed {
		return nil
	}
	t, err := s.lockReturn(ctx, tx, f)
	if err != nil {
		return err
	}
	if status == StatusFailed {
		if _, err := returns.Next(t.Return.State, returns.EventRefundFail); err != nil {
			return nil
		}
		note := fmt.Sprintf("Refund of %s failed: %s", money.Format(f.Amount, f.Currency), res.FailureReason)
		if wasSucceeded {
			note = fmt.Sprintf("Refund of %s failed after it had succeeded: %s. The money went back to the shop; finance can send it again.",
				money.Format(f.Amount, f.Currency), failureText(res.FailureReason))
		}
		return t.Transition(ctx, returns.EventRefundFail, "stripe", note)
	}
	return s.settle(ctx, t, "stripe")
}

// lockReturn locks the return of a held refund in tx: the one the refund's statement
// locked with it, when it did (noteAndLock), else with a statement of its own.
func (s *Service) lockReturn(ctx context.Context, tx *sqlx.Tx, f *held) (*returns.Tx, error) {
	if f.returnRows != nil {
		return s.returns.LockFrom(ctx, tx, f.MerchantID, f.returnRows)
	}
	return s.returns.Lock(ctx, tx, f.MerchantID, f.ReturnID)
}

// failureText is Stripe's failure reason for a note, or a plain word when there is none.
func failureText(reason string) string {
	if reason == "" {
		return "no reason given"
	}
	return strings.ReplaceAll(reason, "_", " ")
}

// jobs are a new attempt's jobs: the one that sends it. Once Stripe answers pending,
// it is polled until it settles (record sets when, pollDue enqueues the polls).
func (s *Service) jobs(merchantID, refundID int64) []outbox.Message {
	return []outbox.Message{{MerchantID: merchantID, Kind: JobSend, Payload: jobPayload{refundID}, MaxAttempts: 25}}
}

// pollDue is the JobPollDue job: in one statement of its transaction it takes the
// pending refunds whose poll is due (up to PollBatch, oldest due first, through the
// partial index over the pending ones), sets when each is asked about next (a
// quarter of its age later) and enqueues a JobPoll for each, which the workers of
// every replica then run. A refund normally settles by webhook before its poll is
// due, so there is nothing to take; when Stripe's webhooks do not arrive at all, the
// polls are shared out like any other job.
func pollDue(ctx context.Context, tx *sqlx.Tx) error {
	_, _, err := outbox.EnqueueParts(ctx, tx, []outbox.Part{{
		With: `refunds_due AS (UPDATE refunds f SET poll_at = now()
				+ least(greatest((now() - coalesce(f.sent_at, f.created_at)) / 4, $1 * interval '1 second'), $2 * interval '1 second')
			WHERE f.id IN (SELECT id FROM refunds WHERE status IN ('pending', 'requires_action') AND poll_at <= now()
				ORDER BY poll_at LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING f.merchant_id, json_build_object('refund_id', f.id) AS payload)`,
		Args: []any{PollAfter.Seconds(), PollAtMost.Seconds(), PollBatch},
		// as many attempts as the poll jobs of earlier releases: an older replica during a
		// rolling deploy retries one that finds its refund pending (this one does not)
		Jobs: "refunds_due", Kind: JobPoll, MaxAttempts: 100,
	}})
	if err != nil {
		return fmt.Errorf("refunds: refunds to poll: %w", err)
	}
	return nil
}

// poll is the JobPoll handler: it asks Stripe about a refund that stayed pending and
// records the answer, under the refund's lock. A refund settled, or sent again, since
// its poll was enqueued needs nothing. When Stripe cannot be reached the failure is
// logged and the job ends: the refund's next poll is set already (pollDue). Poll jobs
// of earlier releases, one enqueued with each refund, run here too, and hand a refund
// still pending to the sweep.
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
		if ctx.Err() != nil {
			return err
		}
		s.log.Warn("refund poll failed; it is asked again at its next turn", slog.Int64("refund", f.ID), slog.String("error", err.Error()))
		return nil
	}
	if err := s.apply(ctx, tx, f, res); err != nil {
		return err
	}
	if Terminal(f.Status) {
		return nil
	}
	// still pending: a refund an older replica recorded during a rolling deploy has
	// no poll of its own yet, and gets one here
	_, err = tx.ExecContext(ctx, `UPDATE refunds SET poll_at = now() + $2 * interval '1 second' WHERE id = $1 AND poll_at IS NULL`,
		f.ID, PollAfter.Seconds())
	return err
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
	if f.Status != StatusFailed || f.ClosedAs != nil {
		e := &NotRetryableError{Status: f.Status}
		if f.ClosedAs != nil {
			e.ClosedAs = *f.ClosedAs
		}
		return nil, e
	}
	if err := requeue(ctx, tx, f.ID); err != nil {
		return nil, err
	}
	if _, err := outbox.Enqueue(ctx, tx, s.jobs(merchantID, f.ID)...); err != nil {
		return nil, err
	}
	t, err := s.returns.Lock(ctx, tx, merchantID, f.ReturnID)
	if err != nil {
		return nil, err
	}
	if _, err := returns.Next(t.Return.State, returns.EventRetryRefund); err == nil {
		if err := t.Transition(ctx, returns.EventRetryRefund, actor,
			fmt.Sprintf("Refund of %s sent again.", money.Format(f.Amount, f.Currency))); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return Get(ctx, s.db, merchantID, id)
}

// NotRetryableError is a retry of a refund that did not fail, or that finance
// settled another way (ClosedAs).
type NotRetryableError struct {
	Status   Status
	ClosedAs string
}

func (e *NotRetryableError) Error() string {
	if e.ClosedAs != "" {
		return "refunds: the failed refund was settled as " + e.ClosedAs + "; it cannot be retried"
	}
	return "refunds: only failed refunds can be retried; this one is " + string(e.Status)
}

// HandleEvent applies a verified Stripe event once: a repeated event ID is ignored.
func (s *Service) HandleEvent(ctx context.Context, ev Event) (duplicate bool, err error) {
	if len(ev.Refunds) == 0 && (ev.Checkout == nil || s.Checkouts == nil) {
		// an event that changes nothing here (charge.refunded on API 2023-10-16, see
		// below) is acknowledged without a write: applying it twice does nothing
		// twice, so it needs no note of its ID, and the note was a statement and a
		// commit on every refund
		return false, nil
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	// the usual event names one refund by its metadata: it is noted and the refund
	// locked in one statement
	var noted bool
	var locked *held
	if len(ev.Refunds) == 1 && (ev.Checkout == nil || s.Checkouts == nil) {
		if col, key := metadataKey(ev.Refunds[0].Metadata["refund_id"]); col != "" {
			first, f, err := noteAndLock(ctx, tx, ev, col, key)
			if err != nil || !first {
				return err == nil, err
			}
			noted, locked = true, f
		}
	}
	if !noted {
		if first, err := firstDelivery(ctx, tx, ev); err != nil || !first {
			return !first, err
		}
	}
	if ev.Checkout != nil && s.Checkouts != nil {
		if err := s.Checkouts.CheckoutEvent(ctx, tx, ev.Type, *ev.Checkout); err != nil {
			return false, err
		}
	}
	// charge.refunded on API 2023-10-16 carries no refunds: it says that a refund was
	// made, which the send job records from Stripe's own answer. Nothing is polled for
	// it: every refund that waits for Stripe has had its poll scheduled since it was
	// sent, and Stripe sends charge.refund.updated when one changes.
	for i, rr := range ev.Refunds {
		// Our refunds carry their public ID in the metadata; look that up first, since
		// the send job may not have committed the Stripe ID yet (then lock waits for it).
		var f *held
		var err error
		switch {
		case i == 0 && locked != nil:
			f = locked
		case i == 0 && noted:
			f, err = lockByStripeID(ctx, tx, rr.StripeID)
		default:
			f, err = lockForStripe(ctx, tx, rr.Metadata["refund_id"], rr.StripeID)
		}
		if errors.Is(err, ErrNotFound) {
			continue // a refund made outside Roundtrip: reconciliation reports it
		}
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

// Publisher publishes an event to the shop's webhook endpoints in the caller's
// transaction (notify.Service).
type Publisher interface {
	// PublishCarrying publishes an event, with carried's writes and jobs, in one
	// statement.
	PublishCarrying(ctx context.Context, tx sqlx.ExtContext, merchantID int64, eventType notify.EventType, data any,
		carried []outbox.Part, jobs ...outbox.Message) error
	// PublishDeferred is PublishCarrying whose writes ride on the next statement of
	// t's change (returns.Tx.Defer).
	PublishDeferred(ctx context.Context, t *returns.Tx, merchantID int64, eventType notify.EventType, data any,
		carried []outbox.Part, jobs ...outbox.Message) error
}

// CreditIssued is the data of a store_credit.issued event.
type CreditIssued struct {
	Email          string     `json:"email" example:"ada@example.com"`
	Currency       string     `json:"currency" example:"EUR"`
	Amount         int64      `json:"amount" example:"2975" doc:"Store credit for the returned items, minor units."`
	Bonus          int64      `json:"bonus" example:"298" doc:"The policy's store-credit bonus on top, minor units."`
	ReturnPublicID string     `json:"return_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	RMA            string     `json:"rma" example:"R-7KQ4-M2XD"`
	CreditID       string     `json:"credit_id" example:"cred_3c6f9j2m5p8s1v4y7b0e3h6k9n" doc:"The credit, as GET /v1/store-credit lists it."`
	Code           string     `json:"code" example:"SC-7KQ4-M2XD-9PRT-HV3C" doc:"The code the shopper spends it with (POST /v1/store-credit/redemptions). Sent once, in this event: mirror it as a gift card if the shop's checkout takes those."`
	ExpiresAt      *time.Time `json:"expires_at,omitempty" doc:"When it can no longer be spent (the policy's store_credit_expiry_days); absent: never."`
	// ReturnID is the return's internal key.
	ReturnID int64 `json:"-"`
}

// publish publishes an event with jobs; without a Publisher it enqueues the jobs alone.
func (s *Service) publish(ctx context.Context, tx sqlx.ExtContext, merchantID int64, typ notify.EventType, data any, jobs ...outbox.Message) error {
	return s.publishCarrying(ctx, tx, merchantID, typ, data, nil, jobs...)
}

// publishCarrying is publish whose statement makes carried's writes first; without
// a Publisher it makes them with the jobs.
func (s *Service) publishCarrying(ctx context.Context, tx sqlx.ExtContext, merchantID int64, typ notify.EventType, data any,
	carried []outbox.Part, jobs ...outbox.Message) error {
	if s.Publisher == nil {
		_, _, err := outbox.EnqueueParts(ctx, tx, carried, jobs...)
		return err
	}
	return s.Publisher.PublishCarrying(ctx, tx, merchantID, typ, data, carried, jobs...)
}

// publishDeferred is publishCarrying whose writes ride on the next statement of t's
// change (returns.Tx.Defer); without a Publisher it defers carried alone.
func (s *Service) publishDeferred(ctx context.Context, t *returns.Tx, typ notify.EventType, data any, carried ...outbox.Part) error {
	if s.Publisher == nil {
		t.Defer(carried...)
		return nil
	}
	return s.Publisher.PublishDeferred(ctx, t, t.Return.MerchantID, typ, data, carried)
}

// publishRefund publishes the refund as GET /v1/refunds/{id} answers it, read in tx.
func (s *Service) publishRefund(ctx context.Context, tx *sqlx.Tx, typ notify.EventType, id int64) error {
	if s.Publisher == nil {
		return nil
	}
	f, err := getRefund(ctx, tx, `f.id = $1`, id)
	if err != nil {
		return err
	}
	return s.Publisher.PublishCarrying(ctx, tx, f.MerchantID, typ, f, nil)
}
