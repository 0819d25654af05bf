package refunds_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

const webhookSecret = "whsec_test_roundtrip"

// sign returns the Stripe-Signature header of payload signed at t.
func sign(payload []byte, t time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: payload, Secret: webhookSecret, Timestamp: t,
	}).Header
}

// fakeEvents refunds 1200 of pi_1 through a fakestripe made with opts, runs
// then on the fake and the refund, and returns the events the fake recorded.
func fakeEvents(t *testing.T, opts fakestripe.Options, then func(*fakestripe.Server, refunds.Result)) ([]fakestripe.Event, refunds.Result) {
	t.Helper()
	gw, fake := setupFakeStripe(t, opts, refunds.StripeConfig{})
	addPayment(fake)
	res, err := gw.Refund(t.Context(), refundRequest(42))
	if err != nil {
		t.Fatalf("Refund: %v", err)
	}
	if then != nil {
		then(fake, res)
	}
	return fake.Events(), res
}

// parseEvent signs ev's payload now and parses it.
func parseEvent(t *testing.T, ev fakestripe.Event) refunds.Event {
	t.Helper()
	now := time.Now()
	got, err := refunds.ParseWebhook(ev.Payload, sign(ev.Payload, now), webhookSecret, now)
	if err != nil {
		t.Fatalf("ParseWebhook(%s): %v", ev.Type, err)
	}
	if got.ID != ev.ID || got.Type != ev.Type || !got.Created.Equal(ev.Created.Truncate(time.Second)) {
		t.Errorf("got event %s %s at %s, want %s %s at %s", got.ID, got.Type, got.Created, ev.ID, ev.Type, ev.Created)
	}
	return got
}

// eventOfType returns the last event of type typ.
func eventOfType(t *testing.T, evs []fakestripe.Event, typ string) fakestripe.Event {
	t.Helper()
	for _, ev := range slices.Backward(evs) {
		if ev.Type == typ {
			return ev
		}
	}
	t.Fatalf("fakestripe sent no %s event", typ)
	return fakestripe.Event{}
}

func TestParseWebhookCharge(t *testing.T) {
	t.Parallel()

	t.Run("charge.refunded without refunds", func(t *testing.T) {
		t.Parallel()
		// API version 2023-10-16: the charge comes without its refunds.
		evs, _ := fakeEvents(t, fakestripe.Options{}, nil)
		got := parseEvent(t, eventOfType(t, evs, "charge.refunded"))
		if len(got.Refunds) != 0 || got.ChargeID != "ch_1" || !got.NeedsLookup {
			t.Errorf("got %+v, want no refunds, charge ch_1 and NeedsLookup", got)
		}
	})

	t.Run("charge.refunded with refunds", func(t *testing.T) {
		t.Parallel()
		evs, res := fakeEvents(t, fakestripe.Options{ChargeRefundsInEvents: true}, nil)
		got := parseEvent(t, eventOfType(t, evs, "charge.refunded"))
		if len(got.Refunds) != 1 || got.ChargeID != "ch_1" || got.NeedsLookup {
			t.Fatalf("got %+v, want the refund of ch_1", got)
		}
		if r := got.Refunds[0]; r.StripeID != res.StripeID || r.Status != refunds.StatusSucceeded || r.Amount != 1200 ||
			r.Metadata["refund_id"] != "rf_test42" {
			t.Errorf("got %+v, want %+v", r, res)
		}
	})

	t.Run("charge.refund.updated", func(t *testing.T) {
		t.Parallel()
		evs, res := fakeEvents(t, fakestripe.Options{}, func(fake *fakestripe.Server, res refunds.Result) {
			if err := fake.SetRefundStatus(res.StripeID, fakestripe.StatusFailed, "expired_or_canceled_card"); err != nil {
				t.Fatal(err)
			}
		})
		got := parseEvent(t, eventOfType(t, evs, "charge.refund.updated"))
		if len(got.Refunds) != 1 || got.ChargeID != "ch_1" || got.NeedsLookup {
			t.Fatalf("got %+v, want one refund of ch_1", got)
		}
		r := got.Refunds[0]
		if r.StripeID != res.StripeID || r.Status != refunds.StatusFailed || r.FailureReason != "expired_or_canceled_card" ||
			r.PaymentIntentID != "pi_1" || r.Currency != "eur" {
			t.Errorf("got %+v, want %s failed with expired_or_canceled_card", r, res.StripeID)
		}
		if !refunds.Advance(res.Status, r.Status) {
			t.Errorf("Advance(%s, %s) = false, want true", res.Status, r.Status)
		}
	})
}

func TestParseWebhookRefundEvents(t *testing.T) {
	t.Parallel()
	evs, res := fakeEvents(t, fakestripe.Options{RefundEvents: true}, func(fake *fakestripe.Server, res refunds.Result) {
		if err := fake.SetRefundStatus(res.StripeID, fakestripe.StatusFailed, "lost_or_stolen_card"); err != nil {
			t.Fatal(err)
		}
	})
	for typ, status := range map[string]refunds.Status{
		"refund.created": refunds.StatusSucceeded,
		"refund.updated": refunds.StatusFailed,
		"refund.failed":  refunds.StatusFailed,
	} {
		got := parseEvent(t, eventOfType(t, evs, typ))
		if len(got.Refunds) != 1 || got.Refunds[0].StripeID != res.StripeID || got.Refunds[0].Status != status ||
			got.ChargeID != "ch_1" {
			t.Errorf("%s: got %+v, want %s %s on ch_1", typ, got, res.StripeID, status)
		}
	}
}

func TestParseWebhookIgnored(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for typ, object := range map[string]string{
		"customer.created":         `{"id": "cus_1", "object": "customer"}`,
		"payment_intent.succeeded": `{"id": "pi_1", "object": "payment_intent", "amount": 100}`,
	} {
		// An old API version too: the version is not checked.
		payload := fmt.Appendf(nil, `{"id": "evt_1", "object": "event", "api_version": "2020-08-27", "created": %d,
			"type": %q, "data": {"object": %s}}`, created.Unix(), typ, object)
		got, err := refunds.ParseWebhook(payload, sign(payload, created), webhookSecret, created.Add(time.Second))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		want := refunds.Event{ID: "evt_1", Type: typ, Created: created}
		if got.ID != want.ID || got.Type != want.Type || !got.Created.Equal(want.Created) || got.Refunds != nil ||
			got.ChargeID != "" || got.NeedsLookup {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
}

func TestParseWebhookSignature(t *testing.T) {
	t.Parallel()
	signed := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	payload := fmt.Appendf(nil, `{"id": "evt_1", "object": "event", "api_version": "2023-10-16", "created": %d,
		"type": "charge.refund.updated", "data": {"object": {"id": "re_1", "object": "refund", "amount": 100,
		"charge": "ch_1", "currency": "usd", "status": "succeeded", "created": %d}}}`, signed.Unix(), signed.Unix())
	good := sign(payload, signed)
	tampered := bytes.Replace(payload, []byte(`"amount": 100`), []byte(`"amount": 900`), 1)
	wrongSecret := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: payload, Secret: "whsec_other", Timestamp: signed}).Header

	tests := []struct {
		name    string
		payload []byte
		header  string
		now     time.Time
		wantErr bool
	}{
		{"good", payload, good, signed, false},
		{"fakestripe signature", payload, fakestripe.Signature(signed, payload, webhookSecret), signed, false},
		{"4 minutes old", payload, good, signed.Add(4 * time.Minute), false},
		{"exactly 5 minutes old", payload, good, signed.Add(5 * time.Minute), false},
		{"tampered payload", tampered, good, signed, true},
		{"wrong secret", payload, wrongSecret, signed, true},
		{"no header", payload, "", signed, true},
		{"garbage header", payload, "sha256=abc", signed, true},
		{"no v1 signature", payload, fmt.Sprintf("t=%d", signed.Unix()), signed, true},
		{"old timestamp", payload, good, signed.Add(5*time.Minute + time.Second), true},
		{"4 minutes ahead of the clock", payload, good, signed.Add(-4 * time.Minute), false},
		{"exactly 5 minutes ahead", payload, good, signed.Add(-5 * time.Minute), false},
		{"more than 5 minutes ahead", payload, good, signed.Add(-5*time.Minute - time.Second), true},
		{"a year ahead", payload, good, signed.AddDate(-1, 0, 0), true},
	}
	for _, tt := range tests {
		got, err := refunds.ParseWebhook(tt.payload, tt.header, webhookSecret, tt.now)
		switch {
		case tt.wantErr && !errors.Is(err, refunds.ErrBadSignature):
			t.Errorf("%s: got %v, want ErrBadSignature", tt.name, err)
		case !tt.wantErr && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.wantErr && (len(got.Refunds) != 1 || got.Refunds[0].StripeID != "re_1"):
			t.Errorf("%s: got %+v, want the refund re_1", tt.name, got)
		}
	}

	t.Run("zero now is the clock", func(t *testing.T) {
		if _, err := refunds.ParseWebhook(payload, good, webhookSecret, time.Time{}); !errors.Is(err, refunds.ErrBadSignature) {
			t.Errorf("got %v for a signature of %s, want ErrBadSignature", err, signed)
		}
		now := time.Now()
		if _, err := refunds.ParseWebhook(payload, sign(payload, now), webhookSecret, time.Time{}); err != nil {
			t.Errorf("got %v for a fresh signature, want none", err)
		}
	})

	t.Run("no secret", func(t *testing.T) {
		// HMAC with an empty key is no check: a configuration error, not a bad signature.
		empty := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Timestamp: signed}).Header
		_, err := refunds.ParseWebhook(payload, empty, "", signed)
		if err == nil || errors.Is(err, refunds.ErrBadSignature) {
			t.Errorf("got %v, want an error that is not ErrBadSignature", err)
		}
	})

	t.Run("signed but not JSON", func(t *testing.T) {
		bad := []byte("not json")
		_, err := refunds.ParseWebhook(bad, sign(bad, signed), webhookSecret, signed)
		if err == nil || errors.Is(err, refunds.ErrBadSignature) {
			t.Errorf("got %v, want a parse error that is not ErrBadSignature", err)
		}
	})
}

func TestAdvance(t *testing.T) {
	t.Parallel()
	statuses := []string{"", "queued", "pending", "requires_action", "succeeded", "failed", "canceled", "bogus"}
	// want[from][to]; every pair not listed is false.
	want := map[string][]string{
		"":                {"queued", "pending", "requires_action", "succeeded", "failed", "canceled"},
		"bogus":           {"queued", "pending", "requires_action", "succeeded", "failed", "canceled"},
		"queued":          {"pending", "requires_action", "succeeded", "failed", "canceled"},
		"pending":         {"requires_action", "succeeded", "failed", "canceled"},
		"requires_action": {"pending", "succeeded", "failed", "canceled"},
		"succeeded":       {"failed"},
		"failed":          nil,
		"canceled":        nil,
	}
	for _, from := range statuses {
		for _, to := range statuses {
			if got, want := refunds.Advance(refunds.Status(from), refunds.Status(to)), slices.Contains(want[from], to); got != want {
				t.Errorf("Advance(%q, %q) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestStatusRank(t *testing.T) {
	t.Parallel()
	for status, want := range map[string]int{
		"queued": 0, "pending": 1, "requires_action": 1, "succeeded": 2, "failed": 2, "canceled": 2,
		"": -1, "processing": -1, "SUCCEEDED": -1,
	} {
		if got := refunds.StatusRank(refunds.Status(status)); got != want {
			t.Errorf("StatusRank(%q) = %d, want %d", status, got, want)
		}
	}
}

func ExampleAdvance() {
	fmt.Println(refunds.Advance(refunds.StatusPending, refunds.StatusSucceeded))
	fmt.Println(refunds.Advance(refunds.StatusSucceeded, refunds.StatusPending)) // a late event
	fmt.Println(refunds.Advance(refunds.StatusSucceeded, refunds.StatusFailed))  // the card's account was closed
	fmt.Println(refunds.Advance(refunds.StatusFailed, refunds.StatusSucceeded))
	// Output:
	// true
	// false
	// true
	// false
}
