package exchanges

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/returns"
)

// A dearer replacement is paid before the exchange goes ahead: creating the exchange
// queues JobCheckout, which makes a Stripe Checkout Session (Idempotency-Key
// exchange-checkout:<id>:<attempt>, so a retried job answers the same session) and
// records its URL for the portal. Stripe's checkout.session.completed, verified and
// applied once with the other Stripe webhooks, records the payment and reserves the
// replacement; checkout.session.expired forgets the page, and the shopper can ask
// for a new one (POST /v1/exchanges/{id}/checkout) or cancel the return and choose
// again.

// JobCheckout makes the Stripe Checkout Session of an exchange awaiting payment.
const JobCheckout = "exchange.checkout"

// JobExpireCheckout closes the open Checkout Session of an exchange that was
// cancelled before it was paid, so that the shopper can no longer pay for it.
const JobExpireCheckout = "exchange.checkout_expire"

type expirePayload struct {
	ExchangeID int64  `json:"exchange_id"`
	SessionID  string `json:"session_id"`
}

var _ refunds.CheckoutHandler = (*Service)(nil)

type checkoutPayload struct {
	ExchangeID int64 `json:"exchange_id"`
	Attempt    int   `json:"attempt"`
}

// Jobs registers the exchange jobs with an outbox worker.
func (s *Service) Jobs(w *outbox.Worker) {
	if s.Checkout == nil {
		return // without Stripe, sessions wait for a replica that has it
	}
	w.Handle(JobCheckout, s.makeCheckout)
	w.Handle(JobExpireCheckout, s.expireCheckout)
}

// expireCheckout is the JobExpireCheckout handler. A session Stripe will not expire
// (it was completed or expired meanwhile) is left as it is: a payment that made it
// arrives as checkout.session.completed and is noted for staff.
func (s *Service) expireCheckout(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
	var p expirePayload
	if err := job.Decode(&p); err != nil {
		return err
	}
	_, err := s.Checkout.ExpireCheckoutSession(ctx, p.SessionID)
	if err != nil && refunds.IsTemporary(err) {
		return err
	}
	if err != nil {
		s.log.Warn("a cancelled exchange's Checkout Session could not be expired", "exchange_id", p.ExchangeID,
			"session", p.SessionID, "error", err.Error())
	}
	return nil
}

// queueCheckout queues the making of attempt's Checkout Session, in tx.
func (s *Service) queueCheckout(ctx context.Context, tx *sqlx.Tx, merchantID, exchangeID int64, attempt int) error {
	_, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: merchantID, Kind: JobCheckout,
		Payload: checkoutPayload{ExchangeID: exchangeID, Attempt: attempt}, MaxAttempts: 25})
	return err
}

// CheckoutKey is the Idempotency-Key of an exchange's Checkout Session attempt.
func CheckoutKey(exchangeID int64, attempt int) string {
	return fmt.Sprintf("exchange-checkout:%d:%d", exchangeID, attempt)
}

// makeCheckout is the JobCheckout handler: under the exchange's row lock it makes
// the session and records it in the same transaction that removes the job.
func (s *Service) makeCheckout(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
	var p checkoutPayload
	if err := job.Decode(&p); err != nil {
		return err
	}
	x, err := get(ctx, tx, `x.id = $1`, true, p.ExchangeID)
	if err != nil {
		return outbox.Permanent(err)
	}
	if x.Status != StatusAwaitingPayment || x.Attempt != p.Attempt || x.SessionID != "" {
		return nil // paid, cancelled, superseded or already made
	}
	var slug string
	if err := tx.GetContext(ctx, &slug, `SELECT slug FROM merchants WHERE id = $1`, x.MerchantID); err != nil {
		return err
	}
	back := s.baseURL + "/portal/" + slug + "/returns/" + x.RMA
	cs, err := s.Checkout.CreateCheckoutSession(ctx, refunds.CheckoutRequest{
		IdempotencyKey: CheckoutKey(x.ID, x.Attempt),
		Amount:         x.AmountDue,
		Currency:       x.Currency,
		Name:           "Exchange " + x.RMA + ": " + itemWords(x),
		Email:          x.CustomerEmail,
		SuccessURL:     back + "?paid=1",
		CancelURL:      back,
		// public IDs: the shop sees this metadata in its Stripe dashboard
		Metadata: map[string]string{"exchange_id": x.PublicID, "attempt": strconv.Itoa(x.Attempt),
			"return_id": x.ReturnPublicID, "rma": x.RMA},
	})
	if err != nil {
		if refunds.IsTemporary(err) {
			return err
		}
		return outbox.Permanent(err)
	}
	var expires *time.Time
	if cs.ExpiresAt > 0 {
		t := time.Unix(cs.ExpiresAt, 0).UTC()
		expires = &t
	}
	_, err = tx.ExecContext(ctx, `UPDATE exchanges SET checkout_session_id = $2, checkout_url = $3, checkout_expires_at = $4,
		updated_at = now() WHERE id = $1`, x.ID, cs.ID, cs.URL, expires)
	return err
}

// CheckoutEvent applies a verified checkout.session.* event to its exchange
// (refunds.CheckoutHandler), in tx: completed (and paid) records the payment and
// reserves the replacement, releasing it at once when its release point has already
// passed; expired forgets the page so that the shopper can ask for a new one.
// Sessions of another attempt, or of no exchange, change nothing.
func (s *Service) CheckoutEvent(ctx context.Context, tx *sqlx.Tx, typ string, cs refunds.CheckoutSession) error {
	var ref any = cs.Metadata["exchange_id"]
	where := `x.public_id = $1`
	if id, err := strconv.ParseInt(cs.Metadata["exchange_id"], 10, 64); err == nil && id > 0 {
		// a session made before exchanges were named by public ID in Stripe's metadata
		where, ref = `x.id = $1`, id
	} else if !strings.HasPrefix(cs.Metadata["exchange_id"], "exch_") {
		return nil // not one of ours
	}
	x, err := get(ctx, tx, where, false, ref)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	t, err := s.returns.Lock(ctx, tx, x.MerchantID, x.ReturnID)
	if err != nil {
		return err
	}
	if x, err = lockFor(ctx, t); err != nil || x == nil {
		return err
	}
	if x.SessionID != cs.ID {
		if typ != "checkout.session.expired" && cs.PaymentStatus == "paid" {
			s.log.Error("a Checkout Session of an exchange was paid but is not its current one",
				"exchange_id", x.ID, "session", cs.ID, "status", x.Status)
			return t.Note(ctx, "stripe", "exchange_payment", fmt.Sprintf("A payment of %s arrived through an earlier payment page (%s) "+
				"that is no longer this exchange's: refund it in Stripe if the shopper also paid through the new one.",
				money.Format(cs.AmountTotal, strings.ToUpper(cs.Currency)), cs.ID))
		}
		return nil
	}
	switch typ {
	case "checkout.session.expired":
		if x.Status != StatusAwaitingPayment {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE exchanges SET checkout_session_id = NULL, checkout_url = NULL,
			checkout_expires_at = NULL, updated_at = now() WHERE id = $1`, x.ID); err != nil {
			return err
		}
		return t.Note(ctx, "stripe", "exchange_payment", "The payment page expired unpaid: the shopper can open a new one, or cancel the return and choose again.")
	}
	if cs.PaymentStatus == "paid" && x.Status == StatusCancelled {
		s.log.Error("a cancelled exchange's Checkout Session was paid", "exchange_id", x.ID, "session", cs.ID,
			"payment_intent", cs.PaymentIntent)
		return t.Note(ctx, "stripe", "exchange_payment", fmt.Sprintf("A payment of %s arrived after the exchange was cancelled: "+
			"refund it in Stripe (PaymentIntent %s).", money.Format(cs.AmountTotal, strings.ToUpper(cs.Currency)), cs.PaymentIntent))
	}
	if cs.PaymentStatus != "paid" || x.Status != StatusAwaitingPayment {
		return nil
	}
	if cs.AmountTotal != x.AmountDue || !strings.EqualFold(cs.Currency, x.Currency) {
		s.log.Error("an exchange's Checkout Session was paid another amount", "exchange_id", x.ID,
			"want", x.AmountDue, "got", cs.AmountTotal, "currency", cs.Currency)
		return t.Note(ctx, "stripe", "exchange_payment", fmt.Sprintf("Stripe reports %s paid instead of %s: the exchange waits for staff.",
			money.Format(cs.AmountTotal, strings.ToUpper(cs.Currency)), money.Format(x.AmountDue, x.Currency)))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE exchanges SET status = 'reserved', paid = $2, payment_intent_id = $3,
		checkout_url = NULL, updated_at = now() WHERE id = $1`, x.ID, cs.AmountTotal, nullable(cs.PaymentIntent)); err != nil {
		return err
	}
	if err := t.Note(ctx, "stripe", "exchange_paid", fmt.Sprintf("The shopper paid the difference of %s: the replacement is reserved.",
		money.Format(x.AmountDue, x.Currency))); err != nil {
		return err
	}
	if err := s.publish(ctx, tx, x.MerchantID, x.ID, notify.ExchangeReserved); err != nil {
		return err
	}
	x.Status = StatusReserved
	return s.releaseIfDue(ctx, t, x)
}

// releaseIfDue releases a replacement that was paid for after its release point.
func (s *Service) releaseIfDue(ctx context.Context, t *returns.Tx, x *Exchange) error {
	r := t.Return
	accepted := false
	for _, it := range x.Items {
		for _, ri := range r.Items {
			if ri.LineID == it.LineID && ri.Accepted > 0 {
				accepted = true
			}
		}
	}
	switch {
	case accepted:
		return s.release(ctx, t, x, "on receipt of the returned items", true)
	case x.ReleaseOn == string(returns.ReleaseOnCarrierScan) && r.State == returns.StateInTransit:
		return s.release(ctx, t, x, "on the carrier's first scan of the return parcel", false)
	case x.ReleaseOn == string(returns.ReleaseInstant) && r.State == returns.StateApproved:
		return s.Changed(ctx, t, returns.EventApprove)
	}
	return nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// NewCheckout opens a new payment page for an exchange whose page expired.
func (s *Service) NewCheckout(ctx context.Context, merchantID, id int64) (*Exchange, error) {
	x, err := Get(ctx, s.db, merchantID, id)
	if err != nil {
		return nil, err
	}
	_, err = s.returns.Update(ctx, merchantID, x.ReturnID, func(ctx context.Context, t *returns.Tx) error {
		if x, err = lockFor(ctx, t); err != nil {
			return err
		}
		if x.Status != StatusAwaitingPayment {
			return &StatusError{Status: x.Status, Action: "be paid"}
		}
		if x.SessionID != "" {
			return nil // the current page is still open
		}
		if _, err := t.ExecContext(ctx, `UPDATE exchanges SET checkout_attempt = checkout_attempt + 1, updated_at = now()
			WHERE id = $1`, x.ID); err != nil {
			return err
		}
		return s.queueCheckout(ctx, t.Tx, merchantID, x.ID, x.Attempt+1)
	})
	if err != nil {
		return nil, err
	}
	return Get(ctx, s.db, merchantID, id)
}

func registerCheckout(api huma.API, s *Service) {
	huma.Register(api, huma.Operation{
		OperationID: "create-exchange-checkout",
		Method:      http.MethodPost,
		Path:        "/v1/exchanges/{id}/checkout",
		Summary:     "Open a new payment page",
		Description: "For an exchange awaiting payment whose Stripe Checkout page expired unpaid: makes a new one (its URL " +
			"appears in checkout_url within moments). While a page is open this answers the exchange as it is.",
		Tags:     []string{"Exchanges"},
		Security: auth.StaffOrShopper(auth.RoleIntegration),
		Errors:   []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *idPath) (*exchangeOutput, error) {
		x, err := s.find(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		x, err = s.NewCheckout(ctx, x.MerchantID, x.ID)
		if err != nil {
			return nil, err
		}
		return &exchangeOutput{Body: x}, nil
	})
}
