package refunds

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// WebhookTolerance is how old a webhook's signature may be, and how far ahead of
// our clock its timestamp may be (a signature dated in the future could otherwise be
// replayed until that date).
const WebhookTolerance = 5 * time.Minute

// ErrBadSignature is returned by ParseWebhook when the Stripe-Signature header is
// missing, malformed, does not match the payload and secret, or is dated more than
// WebhookTolerance before or after now. Answer 400: the sender is not Stripe, or the
// event is a replay.
var ErrBadSignature = errors.New("refunds: webhook: bad signature")

// Event is a Stripe webhook event as far as refunds care.
type Event struct {
	ID      string
	Type    string
	Created time.Time
	// Refunds are the refunds the event carries: the refund of
	// charge.refund.updated and refund.created/updated/failed, the charge's
	// refunds of charge.refunded when Stripe included them. Each is a snapshot
	// taken when the event was made: apply it with Advance.
	Refunds []Result
	// ChargeID is the charge of a charge.* event (and of a refund.* event whose
	// refund has one).
	ChargeID string
	// NeedsLookup is set for a charge.refunded event that does not carry the
	// charge's complete list of refunds, as on API version 2023-10-16, where the
	// list is not included: look them up with Gateway.ListByCharge(ChargeID).
	NeedsLookup bool
	// Checkout is the session of a checkout.session.* event.
	Checkout *CheckoutSession
}

// ParseWebhook verifies payload against the Stripe-Signature header sigHeader
// with the endpoint's signing secret, at time now (the zero time means the
// clock), and returns the refunds it carries. Verification failures wrap
// ErrBadSignature. Events of other types come back with no refunds and no error:
// acknowledge and ignore them. The event's API version is not checked (objects
// are read as 2023-10-16 shows them).
func ParseWebhook(payload []byte, sigHeader, secret string, now time.Time) (Event, error) {
	if secret == "" {
		// An empty key would accept anyone's signature.
		return Event{}, errors.New("refunds: webhook: no signing secret configured")
	}
	// the signature alone (its time is checked below against now); the event is
	// decoded here once, into what is read of it (stripe-go's ConstructEvent decodes
	// the whole payload into a stripe.Event and its object again into a map: two
	// decodings of what is decoded a third time below)
	err := webhook.ValidatePayloadIgnoringTolerance(payload, sigHeader, secret)
	if err != nil {
		if errors.Is(err, webhook.ErrNotSigned) || errors.Is(err, webhook.ErrInvalidHeader) ||
			errors.Is(err, webhook.ErrNoValidSignature) || errors.Is(err, webhook.ErrTooOld) {
			return Event{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
		return Event{}, fmt.Errorf("refunds: webhook: %w", err)
	}
	if now.IsZero() {
		now = time.Now()
	}
	switch signed := signedAt(sigHeader); {
	case now.Sub(signed) > WebhookTolerance:
		return Event{}, fmt.Errorf("%w: signed at %s, more than %s before %s",
			ErrBadSignature, signed.UTC().Format(time.RFC3339), WebhookTolerance, now.UTC().Format(time.RFC3339))
	case signed.Sub(now) > WebhookTolerance:
		return Event{}, fmt.Errorf("%w: signed at %s, more than %s after %s",
			ErrBadSignature, signed.UTC().Format(time.RFC3339), WebhookTolerance, now.UTC().Format(time.RFC3339))
	}

	var se struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created int64  `json:"created"`
		Data    *struct {
			Raw json.RawMessage `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &se); err != nil {
		return Event{}, fmt.Errorf("refunds: webhook: the event is not JSON: %w", err)
	}
	ev := Event{ID: se.ID, Type: se.Type, Created: time.Unix(se.Created, 0).UTC()}
	if se.Data == nil {
		return ev, nil
	}
	switch ev.Type {
	case string(stripe.EventTypeChargeRefundUpdated), "refund.created", "refund.updated", "refund.failed":
		var r stripe.Refund
		if err := json.Unmarshal(se.Data.Raw, &r); err != nil {
			return Event{}, fmt.Errorf("refunds: webhook %s %s: refund: %w", ev.ID, ev.Type, err)
		}
		res := resultOf(&r)
		ev.Refunds = []Result{res}
		ev.ChargeID = res.ChargeID
	case "checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.expired":
		cs, err := parseCheckout(se.Data.Raw)
		if err != nil {
			return Event{}, fmt.Errorf("refunds: webhook %s %s: checkout session: %w", ev.ID, ev.Type, err)
		}
		ev.Checkout = &cs
	case string(stripe.EventTypeChargeRefunded):
		var ch stripe.Charge
		if err := json.Unmarshal(se.Data.Raw, &ch); err != nil {
			return Event{}, fmt.Errorf("refunds: webhook %s %s: charge: %w", ev.ID, ev.Type, err)
		}
		ev.ChargeID = ch.ID
		ev.NeedsLookup = true
		if ch.Refunds != nil {
			for _, r := range ch.Refunds.Data {
				if r != nil {
					ev.Refunds = append(ev.Refunds, resultOf(r))
				}
			}
			ev.NeedsLookup = ch.Refunds.HasMore || len(ev.Refunds) == 0
		}
	}
	return ev, nil
}

// signedAt is the timestamp of a Stripe-Signature header ("t=…,v1=…"); the last
// t= counts, as in stripe-go.
func signedAt(header string) time.Time {
	var t time.Time
	for _, pair := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(pair, "t="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				t = time.Unix(n, 0)
			}
		}
	}
	return t
}
