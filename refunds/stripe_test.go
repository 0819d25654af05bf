package refunds_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// setupFakeStripe starts a fakestripe with opts and returns a Stripe gateway
// talking to it with cfg (the key, URL and an own HTTP transport are filled in).
func setupFakeStripe(t *testing.T, opts fakestripe.Options, cfg refunds.StripeConfig) (*refunds.Stripe, *fakestripe.Server) {
	t.Helper()
	fake := fakestripe.New(opts)
	t.Cleanup(fake.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg.SecretKey = "sk_test_roundtrip"
	cfg.APIBase = fake.URL()
	cfg.HTTPClient = &http.Client{Transport: tr}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return refunds.NewStripe(cfg), fake
}

// refundRequest is a refund of 1200 (EUR) on the payment pi_1 / ch_1, which
// addPayment adds.
func refundRequest(id int64) refunds.Request {
	return refunds.Request{
		RefundID:        id,
		PublicID:        fmt.Sprintf("rf_test%d", id),
		Amount:          1200,
		Currency:        "EUR",
		PaymentIntentID: "pi_1",
		Metadata:        map[string]string{"return_id": "ret_test7", "rma": "RMA-7"},
		Reason:          "requested_by_customer",
	}
}

func addPayment(fake *fakestripe.Server) {
	fake.AddCharge("ch_1", "pi_1", 10_000, "eur")
}

// gatewayError returns err as a *refunds.Error, failing the test when it is not.
func gatewayError(t *testing.T, err error) *refunds.Error {
	t.Helper()
	var e *refunds.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want a *refunds.Error", err, err)
	}
	return e
}

func TestStripeRefund(t *testing.T) {
	t.Parallel()

	t.Run("payment intent", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		addPayment(fake)

		res, err := gw.Refund(t.Context(), refundRequest(42))
		if err != nil {
			t.Fatalf("Refund: %v", err)
		}
		if res.StripeID == "" || res.Status != refunds.StatusSucceeded || res.ChargeID != "ch_1" ||
			res.PaymentIntentID != "pi_1" || res.Amount != 1200 || res.Currency != "eur" ||
			res.BalanceTransaction == "" || res.Created.IsZero() {
			t.Errorf("got %+v, want a succeeded refund of 1200 eur on ch_1/pi_1 with a balance transaction", res)
		}
		got, ok := fake.Refund(res.StripeID)
		if !ok {
			t.Fatalf("fakestripe has no refund %s", res.StripeID)
		}
		if got.IdempotencyKey != "refund:42" {
			t.Errorf("got Idempotency-Key %q, want refund:42", got.IdempotencyKey)
		}
		if got.Reason != "requested_by_customer" {
			t.Errorf("got reason %q, want requested_by_customer", got.Reason)
		}
		// the key stays with the internal ID; what the refund stores names public IDs only
		want := map[string]string{"return_id": "ret_test7", "rma": "RMA-7", "refund_id": "rf_test42"}
		if !maps.Equal(got.Metadata, want) || !maps.Equal(res.Metadata, want) {
			t.Errorf("got metadata %v in Stripe, %v in the result, want %v", got.Metadata, res.Metadata, want)
		}
		for _, r := range fake.RequestLog() {
			if r.Form.Has("currency") {
				t.Errorf("request %s sent currency; Stripe refuses it on charge refunds", r.Route)
			}
		}
	})

	t.Run("charge", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending}, refunds.StripeConfig{})
		fake.AddCharge("ch_2", "", 500, "jpy")

		res, err := gw.Refund(t.Context(), refunds.Request{RefundID: 1, PublicID: "rf_test1", Amount: 500, Currency: "JPY", ChargeID: "ch_2"})
		if err != nil {
			t.Fatalf("Refund: %v", err)
		}
		if res.ChargeID != "ch_2" || res.Status != refunds.StatusPending || res.Amount != 500 {
			t.Errorf("got %+v, want a pending refund of 500 on ch_2", res)
		}
	})

	t.Run("refused before sending", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		for name, req := range map[string]refunds.Request{
			"no refund ID": {PublicID: "rf_test1", Amount: 1, PaymentIntentID: "pi_1"},
			"no public ID": {RefundID: 1, Amount: 1, PaymentIntentID: "pi_1"},
			"zero amount":  {RefundID: 1, PublicID: "rf_test1", PaymentIntentID: "pi_1"},
			"no payment":   {RefundID: 1, PublicID: "rf_test1", Amount: 1},
			"bad attempt":  {RefundID: 1, PublicID: "rf_test1", Amount: 1, PaymentIntentID: "pi_1", Attempt: -1},
		} {
			_, err := gw.Refund(t.Context(), req)
			if err == nil || refunds.IsTemporary(err) {
				t.Errorf("%s: got error %v, want a permanent error", name, err)
			}
		}
		if n := len(fake.RequestLog()); n != 0 {
			t.Errorf("got %d requests to Stripe, want 0", n)
		}
	})

	t.Run("currency mismatch", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		addPayment(fake)
		req := refundRequest(3)
		req.Currency = "usd"

		res, err := gw.Refund(t.Context(), req)
		if !errors.Is(err, refunds.ErrCurrencyMismatch) {
			t.Fatalf("got error %v, want ErrCurrencyMismatch", err)
		}
		if res.StripeID == "" || fake.RefundCount() != 1 {
			t.Errorf("got result %+v and %d refunds, want the refund that was made", res, fake.RefundCount())
		}
	})
}

func TestStripeRefundOnce(t *testing.T) {
	t.Parallel()

	t.Run("same refund ID twice", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		addPayment(fake)

		first, err := gw.Refund(t.Context(), refundRequest(42))
		if err != nil {
			t.Fatalf("first Refund: %v", err)
		}
		second, err := gw.Refund(t.Context(), refundRequest(42))
		if err != nil {
			t.Fatalf("second Refund: %v", err)
		}
		if n := fake.RefundCount(); n != 1 {
			t.Errorf("got %d refunds in Stripe, want 1", n)
		}
		if second.StripeID != first.StripeID {
			t.Errorf("got %s the second time, want %s", second.StripeID, first.StripeID)
		}
	})

	t.Run("finance retry after a refusal", func(t *testing.T) {
		t.Parallel()
		// Stripe remembers the refusal under the key: the same attempt gets it
		// again, the next attempt has a key of its own.
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		addPayment(fake)
		fake.Inject(fakestripe.Fault{Kind: fakestripe.Decline, Times: 1})

		for range 2 {
			_, err := gw.Refund(t.Context(), refundRequest(42))
			if e := gatewayError(t, err); e.Kind != refunds.Permanent || e.Code != "card_declined" {
				t.Fatalf("got %+v, want the permanent decline", e)
			}
		}
		req := refundRequest(42)
		req.Attempt = 1
		res, err := gw.Refund(t.Context(), req)
		if err != nil {
			t.Fatalf("attempt 1: %v", err)
		}
		got, _ := fake.Refund(res.StripeID)
		if got.IdempotencyKey != "refund:42:1" || fake.RefundCount() != 1 {
			t.Errorf("got key %q and %d refunds, want refund:42:1 and 1", got.IdempotencyKey, fake.RefundCount())
		}
	})

	t.Run("concurrent replicas", func(t *testing.T) {
		t.Parallel()
		// The losers of the race get 409 idempotency_key_in_use, which
		// stripe-go retries; then they see the winner's answer.
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{MaxNetworkRetries: 5})
		addPayment(fake)
		// The first request holds the key a while, so that others collide with it.
		fake.Inject(fakestripe.Fault{Kind: fakestripe.Delay, Delay: 100 * time.Millisecond, Times: 1})

		var wg sync.WaitGroup
		ids := make([]string, 8)
		errs := make([]error, len(ids))
		for i := range ids {
			wg.Go(func() {
				res, err := gw.Refund(t.Context(), refundRequest(42))
				ids[i], errs[i] = res.StripeID, err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}
		if n := fake.RefundCount(); n != 1 {
			t.Fatalf("got %d refunds in Stripe, want 1", n)
		}
		for i, id := range ids {
			if errs[i] == nil && id != fake.Refunds()[0].ID {
				t.Errorf("replica %d got %s, want %s", i, id, fake.Refunds()[0].ID)
			}
		}
	})
}

func TestStripeRefundRetry(t *testing.T) {
	t.Parallel()

	t.Run("500 is temporary and the next try pays once", func(t *testing.T) {
		t.Parallel()
		// stripe-go does not retry a POST that got 500, even with retries on:
		// the worker's next try does, with the same key.
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{MaxNetworkRetries: 2})
		addPayment(fake)
		fake.Inject(fakestripe.Fault{Kind: fakestripe.Status500, Method: http.MethodPost, Path: "/v1/refunds", Times: 1})

		_, err := gw.Refund(t.Context(), refundRequest(42))
		if e := gatewayError(t, err); e.Kind != refunds.Temporary || e.HTTPStatus != 500 {
			t.Fatalf("got %v (kind %v), want a temporary 500", err, e.Kind)
		}
		if _, err := gw.Refund(t.Context(), refundRequest(42)); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if n := fake.RefundCount(); n != 1 {
			t.Errorf("got %d refunds, want 1", n)
		}
	})

	t.Run("503 is retried by stripe-go", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{MaxNetworkRetries: 2})
		addPayment(fake)
		fake.Inject(fakestripe.Fault{Kind: fakestripe.Status503, Method: http.MethodPost, Path: "/v1/refunds", Times: 1})

		if _, err := gw.Refund(t.Context(), refundRequest(42)); err != nil {
			t.Fatalf("Refund: %v", err)
		}
		if n, calls := fake.RefundCount(), fake.Requests()["POST /v1/refunds"]; n != 1 || calls != 2 {
			t.Errorf("got %d refunds from %d requests, want 1 from 2", n, calls)
		}
	})

	t.Run("lost answer, the retry finds the same refund", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		addPayment(fake)
		fake.Inject(fakestripe.Fault{Kind: fakestripe.LoseResponse, Method: http.MethodPost, Path: "/v1/refunds", Times: 1})

		_, err := gw.Refund(t.Context(), refundRequest(42))
		if !refunds.IsTemporary(err) {
			t.Fatalf("got %v, want a temporary error", err)
		}
		res, err := gw.Refund(t.Context(), refundRequest(42))
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		all := fake.Refunds()
		if len(all) != 1 || res.StripeID != all[0].ID {
			t.Errorf("got %s and %d refunds in Stripe, want the one refund", res.StripeID, len(all))
		}
	})

	t.Run("lost answer, retried by stripe-go", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{MaxNetworkRetries: 2})
		addPayment(fake)
		fake.Inject(fakestripe.Fault{Kind: fakestripe.LoseResponse, Method: http.MethodPost, Path: "/v1/refunds", Times: 1})

		res, err := gw.Refund(t.Context(), refundRequest(42))
		if err != nil {
			t.Fatalf("Refund: %v", err)
		}
		all := fake.Refunds()
		if len(all) != 1 || res.StripeID != all[0].ID {
			t.Errorf("got %s and %d refunds in Stripe, want the one refund", res.StripeID, len(all))
		}
	})

	t.Run("timeout after the refund ran, the retry finds it", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		addPayment(fake)
		fake.Inject(fakestripe.Fault{Kind: fakestripe.Timeout, Executed: true, Method: http.MethodPost, Path: "/v1/refunds", Times: 1})

		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_, err := gw.Refund(ctx, refundRequest(42))
		if !refunds.IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want a temporary deadline error", err)
		}
		res, err := gw.Refund(t.Context(), refundRequest(42))
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		all := fake.Refunds()
		if len(all) != 1 || res.StripeID != all[0].ID {
			t.Errorf("got %s and %d refunds in Stripe, want the one refund", res.StripeID, len(all))
		}
	})

	t.Run("500 after the refund ran replays, the refund is found by charge", func(t *testing.T) {
		t.Parallel()
		// Stripe remembers a 500 under the key: every retry with it gets the
		// 500 again, and the refund is found by listing the charge's refunds.
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		addPayment(fake)
		fake.Inject(fakestripe.Fault{Kind: fakestripe.Status500, Executed: true, Method: http.MethodPost, Path: "/v1/refunds", Times: 1})

		for range 2 {
			if _, err := gw.Refund(t.Context(), refundRequest(42)); !refunds.IsTemporary(err) {
				t.Fatalf("got %v, want a temporary error", err)
			}
		}
		found, err := gw.ListByCharge(t.Context(), "ch_1")
		if err != nil {
			t.Fatalf("ListByCharge: %v", err)
		}
		if fake.RefundCount() != 1 || len(found) != 1 || found[0].Metadata["refund_id"] != "rf_test42" {
			t.Errorf("got %d refunds in Stripe, listed %+v, want the one refund with refund_id rf_test42", fake.RefundCount(), found)
		}
	})

	t.Run("idempotency key in use is temporary", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		addPayment(fake)
		gate, arrived := make(chan struct{}), make(chan struct{}, 1)
		fake.Inject(fakestripe.Fault{Kind: fakestripe.Delay, Gate: gate, Arrived: arrived,
			Method: http.MethodPost, Path: "/v1/refunds", Times: 1})

		done := make(chan error, 1)
		go func() {
			_, err := gw.Refund(t.Context(), refundRequest(42))
			done <- err
		}()
		<-arrived // the first request holds the key
		_, err := gw.Refund(t.Context(), refundRequest(42))
		close(gate)
		if e := gatewayError(t, err); e.Kind != refunds.Temporary || e.HTTPStatus != http.StatusConflict {
			t.Errorf("got %v (kind %v), want a temporary 409", err, e.Kind)
		}
		if err := <-done; err != nil {
			t.Errorf("first Refund: %v", err)
		}
		if n := fake.RefundCount(); n != 1 {
			t.Errorf("got %d refunds, want 1", n)
		}
	})
}

func TestStripeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault *fakestripe.Fault
		req   func(*refunds.Request)
		// want
		kind        refunds.Kind
		status      int
		code        string
		declineCode string
		message     string // a part of it
	}{
		{name: "rate limit", fault: &fakestripe.Fault{Kind: fakestripe.Status429},
			kind: refunds.Temporary, status: 429, code: "rate_limit", message: "rate limit"},
		{name: "lock timeout", fault: &fakestripe.Fault{Kind: fakestripe.Status429, Code: "lock_timeout"},
			kind: refunds.Temporary, status: 429, code: "lock_timeout"},
		{name: "503", fault: &fakestripe.Fault{Kind: fakestripe.Status503},
			kind: refunds.Temporary, status: 503},
		{name: "decline", fault: &fakestripe.Fault{Kind: fakestripe.Decline},
			kind: refunds.Permanent, status: 402, code: "card_declined", message: "The refund was declined (injected by fakestripe)."},
		{name: "decline code", fault: &fakestripe.Fault{Kind: fakestripe.Decline, DeclineCode: "expired_card"},
			kind: refunds.Permanent, status: 402, code: "card_declined", declineCode: "expired_card"},
		{name: "charge disputed", fault: &fakestripe.Fault{Kind: fakestripe.Decline, Status: 400,
			Type: "invalid_request_error", Code: "charge_disputed", Message: "Charge ch_1 has been disputed."},
			kind: refunds.Permanent, status: 400, code: "charge_disputed", message: "Charge ch_1 has been disputed."},
		{name: "amount too large", req: func(r *refunds.Request) { r.Amount = 10_001 },
			kind: refunds.Permanent, status: 400, code: "amount_too_large", message: "greater than unrefunded amount"},
		{name: "unknown payment intent", req: func(r *refunds.Request) { r.PaymentIntentID = "pi_missing" },
			kind: refunds.Permanent, status: 404, code: "resource_missing", message: "No such payment_intent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
			addPayment(fake)
			if tt.fault != nil {
				fake.Inject(*tt.fault)
			}
			req := refundRequest(42)
			if tt.req != nil {
				tt.req(&req)
			}

			_, err := gw.Refund(t.Context(), req)
			e := gatewayError(t, err)
			if e.Kind != tt.kind || e.HTTPStatus != tt.status || e.Code != tt.code || e.DeclineCode != tt.declineCode ||
				!strings.Contains(e.Message, tt.message) {
				t.Errorf("got %+v, want kind %v, HTTP %d, code %q, decline code %q, message with %q",
					e, tt.kind, tt.status, tt.code, tt.declineCode, tt.message)
			}
			if refunds.IsTemporary(err) != (tt.kind == refunds.Temporary) {
				t.Errorf("IsTemporary(%v) = %v, want %v", err, !(tt.kind == refunds.Temporary), tt.kind == refunds.Temporary)
			}
			if e.RequestID == "" {
				t.Errorf("got no Stripe request ID in %+v", e)
			}
		})
	}

	t.Run("same key, other parameters", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
		addPayment(fake)
		if _, err := gw.Refund(t.Context(), refundRequest(42)); err != nil {
			t.Fatalf("Refund: %v", err)
		}
		req := refundRequest(42)
		req.Amount++
		_, err := gw.Refund(t.Context(), req)
		if e := gatewayError(t, err); e.Kind != refunds.Permanent || e.Type != "idempotency_error" {
			t.Errorf("got %+v, want a permanent idempotency_error", e)
		}
	})

	t.Run("revoked key is temporary", func(t *testing.T) {
		t.Parallel()
		gw, fake := setupFakeStripe(t, fakestripe.Options{APIKey: "sk_test_other"}, refunds.StripeConfig{})
		addPayment(fake)
		_, err := gw.Refund(t.Context(), refundRequest(42))
		if e := gatewayError(t, err); e.Kind != refunds.Temporary || e.HTTPStatus != http.StatusUnauthorized {
			t.Errorf("got %+v, want a temporary 401", e)
		}
	})

	for name, cfg := range map[string]refunds.StripeConfig{
		"context deadline": {},
		"config timeout":   {Timeout: 200 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			gw, fake := setupFakeStripe(t, fakestripe.Options{}, cfg)
			addPayment(fake)
			fake.Inject(fakestripe.Fault{Kind: fakestripe.Timeout})
			ctx := t.Context()
			if cfg.Timeout == 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
			}

			_, err := gw.Refund(ctx, refundRequest(42))
			if e := gatewayError(t, err); e.Kind != refunds.Temporary || !errors.Is(err, context.DeadlineExceeded) || e.Message == "" {
				t.Errorf("got %+v, want a temporary deadline error with a message", e)
			}
			if n := fake.RefundCount(); n != 0 {
				t.Errorf("got %d refunds, want 0", n)
			}
		})
	}
}

func TestStripeList(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	to := from.Add(time.Hour)
	gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{PageSize: 5})

	want := map[string]fakestripe.Refund{}
	for i := range 23 {
		r := fake.SeedRefund(fakestripe.Refund{Charge: "ch_" + string(rune('a'+i%3)), Amount: int64(100 + i),
			Currency: "usd", Created: from.Add(time.Duration(i) * 2 * time.Minute)})
		want[r.ID] = r
	}
	for _, created := range []time.Time{from.Add(-time.Second), to, to.Add(time.Minute)} {
		fake.SeedRefund(fakestripe.Refund{Charge: "ch_a", Amount: 1, Currency: "usd", Created: created})
	}

	var got []refunds.Result
	err := gw.List(t.Context(), from, to, func(r refunds.Result) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("got %d refunds, want %d", len(got), len(want))
	}
	for _, r := range got {
		w, ok := want[r.StripeID]
		switch {
		case !ok:
			t.Errorf("got refund %s created %s, outside [%s, %s)", r.StripeID, r.Created, from, to)
		case r.BalanceTransaction != w.BalanceTransaction || r.Amount != w.Amount || r.ChargeID != w.Charge ||
			!r.Created.Equal(w.Created) || r.Status != refunds.StatusSucceeded:
			t.Errorf("got %+v, want %+v", r, w)
		}
	}
	if calls := fake.Requests()["GET /v1/refunds"]; calls != 5 {
		t.Errorf("got %d list requests, want 5 pages of 5", calls)
	}
	for _, req := range fake.RequestLog() {
		if !slices.Contains(formValues(req, "expand"), "data.balance_transaction") {
			t.Errorf("request %s %v does not expand data.balance_transaction", req.Route, req.Form)
		}
	}

	t.Run("fn stops it", func(t *testing.T) {
		errStop := errors.New("stop")
		calls := 0
		err := gw.List(t.Context(), from, to, func(refunds.Result) error {
			calls++
			return errStop
		})
		if err != errStop || calls != 1 {
			t.Errorf("got %v after %d calls, want the error of fn after 1", err, calls)
		}
	})

	t.Run("open ends", func(t *testing.T) {
		n := 0
		if err := gw.List(t.Context(), time.Time{}, time.Time{}, func(refunds.Result) error { n++; return nil }); err != nil {
			t.Fatalf("List: %v", err)
		}
		if n != len(want)+3 {
			t.Errorf("got %d refunds, want %d", n, len(want)+3)
		}
	})
}

// formValues returns the values of the parameters named key or key[…].
func formValues(req fakestripe.Request, key string) []string {
	var out []string
	for k, vs := range req.Form {
		if k == key || strings.HasPrefix(k, key+"[") {
			out = append(out, vs...)
		}
	}
	return out
}

func TestStripeListByCharge(t *testing.T) {
	t.Parallel()
	gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{PageSize: 2})
	want := map[string]bool{}
	for range 5 {
		want[fake.SeedRefund(fakestripe.Refund{Charge: "ch_a", Amount: 100, Currency: "usd"}).ID] = true
	}
	fake.SeedRefund(fakestripe.Refund{Charge: "ch_b", Amount: 100, Currency: "usd"})

	got, err := gw.ListByCharge(t.Context(), "ch_a")
	if err != nil {
		t.Fatalf("ListByCharge: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("got %d refunds, want %d", len(got), len(want))
	}
	for _, r := range got {
		if !want[r.StripeID] || r.ChargeID != "ch_a" || r.BalanceTransaction == "" {
			t.Errorf("got %+v, want a refund of ch_a with its balance transaction", r)
		}
	}

	none, err := gw.ListByCharge(t.Context(), "ch_none")
	if err != nil || len(none) != 0 {
		t.Errorf("got %v, %v for a charge without refunds, want none", none, err)
	}
	if _, err := gw.ListByCharge(t.Context(), ""); err == nil {
		t.Error("got no error for an empty charge ID")
	}
}

func TestStripeGet(t *testing.T) {
	t.Parallel()
	gw, fake := setupFakeStripe(t, fakestripe.Options{}, refunds.StripeConfig{})
	seeded := fake.SeedRefund(fakestripe.Refund{Charge: "ch_a", PaymentIntent: "pi_a", Amount: 250, Currency: "gbp",
		Status: fakestripe.StatusFailed, FailureReason: "expired_or_canceled_card",
		Metadata: map[string]string{"refund_id": "9"}})

	got, err := gw.Get(t.Context(), seeded.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := refunds.Result{
		StripeID:                  seeded.ID,
		Status:                    refunds.StatusFailed,
		ChargeID:                  "ch_a",
		PaymentIntentID:           "pi_a",
		BalanceTransaction:        seeded.BalanceTransaction,
		FailureBalanceTransaction: seeded.FailureBalanceTransaction,
		FailureReason:             "expired_or_canceled_card",
		Amount:                    250,
		Currency:                  "gbp",
		Created:                   seeded.Created.Truncate(time.Second).UTC(),
		Metadata:                  map[string]string{"refund_id": "9"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}

	_, err = gw.Get(t.Context(), "re_missing")
	if e := gatewayError(t, err); e.Kind != refunds.Permanent || e.Code != "resource_missing" || e.HTTPStatus != 404 {
		t.Errorf("got %+v, want a permanent 404 resource_missing", e)
	}
}
