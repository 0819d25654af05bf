package refunds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Request is one refund to send to the payment provider.
type Request struct {
	// RefundID is the ID of our refund row. The Idempotency-Key is derived from it
	// and Attempt (IdempotencyKey), so sending the same Request again never pays
	// twice. It goes only into that key, never into what the refund stores.
	RefundID int64
	// PublicID is the refund's public ID (rf_…), which the Stripe refund carries as
	// its refund_id metadata: Stripe's events and listings name our refund by it.
	PublicID string
	// Attempt is 0 for the first sending and one more for each retry by finance
	// of a refund that failed. Stripe remembers its answer under a key, refusals
	// included, so a retry needs a key of its own: "refund:<RefundID>" for attempt
	// 0, "refund:<RefundID>:<Attempt>" after. Only a refund that Stripe refused
	// (Permanent) or that failed may get a new Attempt: a Temporary error may
	// hide a refund that was made.
	Attempt int
	// Amount is in minor units of Currency and must be positive: Stripe would
	// refund everything that is left on the payment for a missing amount.
	Amount int64
	// Currency is the ISO 4217 code of Amount. It is not sent (Stripe refunds in
	// the payment's currency and refuses the parameter); the answer is checked
	// against it instead (see ErrCurrencyMismatch).
	Currency string
	// PaymentIntentID is refunded when set, else ChargeID.
	PaymentIntentID, ChargeID string
	// Metadata is stored on the Stripe refund: return_id (the return's public ID)
	// and rma. refund_id is always set to PublicID.
	Metadata map[string]string
	// Reason is Stripe's reason, normally "requested_by_customer"; empty sends none.
	Reason string
}

// Result is a refund as the payment provider holds it.
type Result struct {
	StripeID        string
	Status          Status // pending, requires_action, succeeded, failed or canceled
	ChargeID        string
	PaymentIntentID string
	// BalanceTransaction is the ID of the balance transaction that took the money
	// out; FailureBalanceTransaction the one that put it back when the refund failed.
	BalanceTransaction        string
	FailureBalanceTransaction string
	FailureReason             string // set when Status is failed
	Amount                    int64
	Currency                  string // lower case, as Stripe writes it
	Created                   time.Time
	// Metadata as stored on the refund; refunds made in Stripe's dashboard have
	// no refund_id.
	Metadata map[string]string
}

// Gateway is what refunds need from a payment provider. Its methods return an
// *Error when the provider failed or refused; IsTemporary tells which.
type Gateway interface {
	// Refund creates the refund with the Idempotency-Key
	// IdempotencyKey(req.RefundID, req.Attempt): calling it again for the same
	// Request returns the refund created the first time (as it was then), or
	// Stripe's first refusal, instead of a second one.
	Refund(ctx context.Context, req Request) (Result, error)
	// Get returns the refund with Stripe's ID stripeID.
	Get(ctx context.Context, stripeID string) (Result, error)
	// List calls fn for every refund created in [from, to), newest first, across
	// as many pages as there are. A zero from or to leaves that end open. An error
	// from fn stops the listing and is returned as it is.
	List(ctx context.Context, from, to time.Time, fn func(Result) error) error
	// ListByCharge returns every refund of the charge chargeID, newest first.
	ListByCharge(ctx context.Context, chargeID string) ([]Result, error)
}

// IdempotencyKey is the Idempotency-Key of attempt attempt of the refund
// refundID: "refund:<refundID>" for attempt 0 (DESIGN.md), "refund:<refundID>:<attempt>"
// for finance's retries.
func IdempotencyKey(refundID int64, attempt int) string {
	if attempt == 0 {
		return fmt.Sprintf("refund:%d", refundID)
	}
	return fmt.Sprintf("refund:%d:%d", refundID, attempt)
}

// Kind says whether an error can go away by sending the same request again.
type Kind int

const (
	// Temporary errors may succeed on a later try with the same idempotency key:
	// network errors, timeouts, 409, 429, 5xx, lock_timeout, and answers that were
	// lost, where the refund may well exist. Retrying with the same key is always
	// safe.
	Temporary Kind = iota + 1
	// Permanent errors are Stripe's considered answer (card_error,
	// invalid_request_error, idempotency_error): the same request would get the
	// same answer. No refund was made; finance decides what to do.
	Permanent
)

func (k Kind) String() string {
	switch k {
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a payment provider's failure or refusal. Message is Stripe's own
// message, safe to show to finance; Code, DeclineCode, Type and HTTPStatus are
// empty or zero when Stripe did not answer (network errors and timeouts). Err is
// the underlying error, for logs and errors.Is (context.DeadlineExceeded, say).
type Error struct {
	Kind        Kind
	Code        string // Stripe's error code: card_declined, amount_too_large, …
	Message     string
	DeclineCode string // the issuer's reason of a card_error
	Type        string // Stripe's error type: card_error, invalid_request_error, …
	HTTPStatus  int
	RequestID   string // Stripe's Request-Id, for its support
	Err         error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("refunds: stripe: ")
	b.WriteString(e.Message)
	var details []string
	if e.Code != "" {
		details = append(details, e.Code)
	}
	if e.DeclineCode != "" {
		details = append(details, "decline_code "+e.DeclineCode)
	}
	if e.HTTPStatus != 0 {
		details = append(details, fmt.Sprintf("HTTP %d", e.HTTPStatus))
	}
	if len(details) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(details, ", "))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsTemporary reports whether err is an *Error of Kind Temporary: the same
// request, with the same idempotency key, may succeed later. Any other error,
// including a Request the Gateway refused to send, is not.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == Temporary
}

// ErrCurrencyMismatch is returned with a filled-in Result when Stripe made the
// refund in another currency than Request.Currency. The refund exists: record
// its StripeID and raise it with finance; sending it again changes nothing.
var ErrCurrencyMismatch = errors.New("refunds: stripe refunded in another currency than requested")
