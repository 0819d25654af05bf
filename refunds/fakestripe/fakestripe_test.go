package fakestripe_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-go/v76/webhook"
)

const (
	apiKey = "sk_test_fake"
	secret = "whsec_test"
)

// newClient returns a stripe-go client for srv; retries > 0 lets stripe-go
// retry (without its sleeps).
func newClient(t *testing.T, srv *fakestripe.Server, retries int64) *client.API {
	t.Helper()
	b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(srv.URL()),
		MaxNetworkRetries: stripe.Int64(retries),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		HTTPClient:        &http.Client{Timeout: 30 * time.Second},
	})
	b.(*stripe.BackendImplementation).SetNetworkRetriesSleep(false)
	return client.New(apiKey, &stripe.Backends{API: b})
}

// setup starts a fake with a charge ch_1 (pi_1) of 50.00 EUR.
func setup(t *testing.T, opts fakestripe.Options) (*fakestripe.Server, *client.API) {
	t.Helper()
	srv := fakestripe.New(opts)
	t.Cleanup(srv.Close)
	srv.AddCharge("ch_1", "pi_1", 5000, "EUR")
	return srv, newClient(t, srv, 0)
}

func refundParams(amount int64, key string) *stripe.RefundParams {
	p := &stripe.RefundParams{Charge: stripe.String("ch_1"), Amount: stripe.Int64(amount)}
	p.AddMetadata("refund_id", key)
	if key != "" {
		p.SetIdempotencyKey("refund:" + key)
	}
	return p
}

func stripeError(t *testing.T, err error) *stripe.Error {
	t.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) {
		t.Fatalf("got error %v (%T), want a *stripe.Error", err, err)
	}
	return se
}

func TestCreateRefund(t *testing.T) {
	t.Parallel()
	srv, sc := setup(t, fakestripe.Options{})

	p := refundParams(1500, "1")
	p.Reason = stripe.String("requested_by_customer")
	r, err := sc.Refunds.New(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "re_") || r.Object != "refund" || r.Amount != 1500 || r.Currency != "eur" ||
		r.Status != stripe.RefundStatusSucceeded || r.Charge.ID != "ch_1" || r.PaymentIntent.ID != "pi_1" ||
		r.Metadata["refund_id"] != "1" || r.Reason != stripe.RefundReasonRequestedByCustomer ||
		!strings.HasPrefix(r.BalanceTransaction.ID, "txn_") || r.Created == 0 {
		t.Errorf("got refund %+v", r)
	}
	if got := r.LastResponse.Header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("first answer has Idempotent-Replayed %q", got)
	}
	ch, _ := srv.Charge("ch_1")
	if ch.AmountRefunded != 1500 {
		t.Errorf("charge refunded %d, want 1500", ch.AmountRefunded)
	}

	// By payment intent, without an amount: the rest of the charge.
	r2, err := sc.Refunds.New(&stripe.RefundParams{PaymentIntent: stripe.String("pi_1")})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Amount != 3500 || r2.Charge.ID != "ch_1" {
		t.Errorf("got %d on %s, want 3500 on ch_1", r2.Amount, r2.Charge.ID)
	}
	got, ok := srv.Refund(r2.ID)
	if !ok || got.Amount != 3500 || got.IdempotencyKey == "" {
		t.Errorf("Refund(%s) = %+v, %v", r2.ID, got, ok)
	}
	if n := srv.RefundCount(); n != 2 {
		t.Errorf("got %d refunds, want 2", n)
	}
}

func TestIdempotencyKeyReplays(t *testing.T) {
	t.Parallel()
	srv, sc := setup(t, fakestripe.Options{})

	first, err := sc.Refunds.New(refundParams(1500, "42"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := sc.Refunds.New(refundParams(1500, "42"))
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID {
		t.Errorf("replay gave refund %s, want %s", again.ID, first.ID)
	}
	if got := again.LastResponse.Header.Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("Idempotent-Replayed = %q, want true", got)
	}
	if got := again.LastResponse.Header.Get("Original-Request"); got != first.LastResponse.RequestID {
		t.Errorf("Original-Request = %q, want %q", got, first.LastResponse.RequestID)
	}
	if n := srv.RefundCount(); n != 1 {
		t.Errorf("got %d refunds, want 1", n)
	}
	if got := srv.RefundsByMetadata("refund_id", "42"); len(got) != 1 || got[0].ID != first.ID {
		t.Errorf("RefundsByMetadata = %+v", got)
	}

	// Same key, other parameters.
	_, err = sc.Refunds.New(refundParams(1600, "42"))
	se := stripeError(t, err)
	if se.Type != stripe.ErrorTypeIdempotency || se.HTTPStatusCode != http.StatusBadRequest {
		t.Errorf("got %d %s, want 400 idempotency_error", se.HTTPStatusCode, se.Type)
	}
	var ie *stripe.IdempotencyError
	if !errors.As(se.Err, &ie) {
		t.Errorf("got %T, want a *stripe.IdempotencyError inside", se.Err)
	}
	if n := srv.RefundCount(); n != 1 {
		t.Errorf("got %d refunds, want 1", n)
	}

	log := srv.RequestLog()
	if len(log) != 3 || !log[1].Replayed || log[0].Replayed || log[2].Status != http.StatusBadRequest ||
		log[0].IdempotencyKey != "refund:42" || log[0].Form.Get("amount") != "1500" || log[0].StripeVersion != stripe.APIVersion {
		t.Errorf("request log: %+v", log)
	}
}

func TestIdempotencyKeyInUse(t *testing.T) {
	t.Parallel()
	srv, sc := setup(t, fakestripe.Options{})

	gate := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv.Inject(fakestripe.Fault{Kind: fakestripe.Delay, Method: "POST", Path: "/v1/refunds", Times: 1,
		Gate: gate, Arrived: arrived})

	type result struct {
		r   *stripe.Refund
		err error
	}
	done := make(chan result)
	go func() {
		r, err := sc.Refunds.New(refundParams(1000, "7"))
		done <- result{r, err}
	}()
	<-arrived // the first request holds the key

	_, err := sc.Refunds.New(refundParams(1000, "7"))
	se := stripeError(t, err)
	if se.HTTPStatusCode != http.StatusConflict || se.Code != stripe.ErrorCodeIdempotencyKeyInUse {
		t.Errorf("got %d %s, want 409 idempotency_key_in_use", se.HTTPStatusCode, se.Code)
	}

	close(gate)
	first := <-done
	if first.err != nil {
		t.Fatal(first.err)
	}
	again, err := sc.Refunds.New(refundParams(1000, "7"))
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.r.ID {
		t.Errorf("got %s after the first finished, want %s", again.ID, first.r.ID)
	}
	if n := srv.RefundCount(); n != 1 {
		t.Errorf("got %d refunds, want 1", n)
	}
}

func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	srv, sc := setup(t, fakestripe.Options{})

	const n = 20
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := sc.Refunds.New(refundParams(100, "same"))
			if err == nil {
				ids[i] = r.ID
			}
			errs[i] = err
		})
	}
	wg.Wait()

	if got := srv.RefundCount(); got != 1 {
		t.Fatalf("got %d refunds from %d concurrent requests with one key, want 1", got, n)
	}
	want := srv.Refunds()[0].ID
	for i := range n {
		if errs[i] != nil {
			if se := stripeError(t, errs[i]); se.HTTPStatusCode != http.StatusConflict {
				t.Errorf("request %d: got %d, want 200 or 409", i, se.HTTPStatusCode)
			}
			continue
		}
		if ids[i] != want {
			t.Errorf("request %d got refund %s, want %s", i, ids[i], want)
		}
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	srv, sc := setup(t, fakestripe.Options{})

	_, err := sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_nope"), Amount: stripe.Int64(1)})
	se := stripeError(t, err)
	if se.HTTPStatusCode != http.StatusNotFound || se.Code != stripe.ErrorCodeResourceMissing || se.Param != "charge" {
		t.Errorf("unknown charge: got %d %s %s", se.HTTPStatusCode, se.Code, se.Param)
	}
	_, err = sc.Refunds.New(&stripe.RefundParams{PaymentIntent: stripe.String("pi_nope")})
	if se := stripeError(t, err); se.HTTPStatusCode != http.StatusNotFound || se.Param != "payment_intent" {
		t.Errorf("unknown payment intent: got %d %s", se.HTTPStatusCode, se.Param)
	}
	_, err = sc.Refunds.New(&stripe.RefundParams{Amount: stripe.Int64(1)})
	if se := stripeError(t, err); se.Code != stripe.ErrorCodeParameterMissing {
		t.Errorf("no charge: got %s", se.Code)
	}
	_, err = sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_1"), Amount: stripe.Int64(0)})
	if se := stripeError(t, err); se.Code != stripe.ErrorCodeParameterInvalidInteger {
		t.Errorf("zero amount: got %s", se.Code)
	}
	_, err = sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_1"), Currency: stripe.String("usd")})
	if se := stripeError(t, err); se.Param != "currency" {
		t.Errorf("other currency: got %s", se.Param)
	}
	_, err = sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_1"), Reason: stripe.String("changed_mind")})
	if se := stripeError(t, err); se.Param != "reason" {
		t.Errorf("bad reason: got %s", se.Param)
	}

	// An error found before running is not remembered under the key: once
	// the charge exists, the same request succeeds.
	p := &stripe.RefundParams{Charge: stripe.String("ch_later"), Amount: stripe.Int64(300)}
	p.SetIdempotencyKey("refund:later")
	if _, err := sc.Refunds.New(p); err == nil {
		t.Fatal("refund on an unknown charge succeeded")
	}
	srv.AddCharge("ch_later", "", 1000, "usd")
	if _, err := sc.Refunds.New(p); err != nil {
		t.Errorf("retry after the charge appeared: %v", err)
	}

	if _, err := sc.Refunds.New(refundParams(4000, "a")); err != nil {
		t.Fatal(err)
	}
	_, err = sc.Refunds.New(refundParams(1001, "b"))
	se = stripeError(t, err)
	if se.HTTPStatusCode != http.StatusBadRequest || se.Type != stripe.ErrorTypeInvalidRequest ||
		se.Code != stripe.ErrorCodeAmountTooLarge || se.Param != "amount" {
		t.Errorf("too much: got %d %s %s %s", se.HTTPStatusCode, se.Type, se.Code, se.Param)
	}
	if _, err := sc.Refunds.New(refundParams(1000, "c")); err != nil {
		t.Fatal(err)
	}
	_, err = sc.Refunds.New(refundParams(1, "d"))
	if se := stripeError(t, err); se.Code != stripe.ErrorCodeChargeAlreadyRefunded {
		t.Errorf("fully refunded: got %s", se.Code)
	}

	// A failed refund gives its amount back.
	r := srv.RefundsByMetadata("refund_id", "c")[0]
	if err := srv.SetRefundStatus(r.ID, fakestripe.StatusFailed, "expired_or_canceled_card"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Refunds.New(refundParams(1000, "e")); err != nil {
		t.Errorf("refund after a failed one: %v", err)
	}
	if err := srv.SetRefundStatus("re_nope", fakestripe.StatusFailed, ""); err == nil {
		t.Error("SetRefundStatus on an unknown refund succeeded")
	}
	if err := srv.SetRefundStatus(r.ID, "refunded", ""); err == nil {
		t.Error("SetRefundStatus to an unknown status succeeded")
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	srv := fakestripe.New(fakestripe.Options{APIKey: "sk_test_right"})
	t.Cleanup(srv.Close)
	srv.AddCharge("ch_1", "", 100, "usd")

	_, err := newClient(t, srv, 0).Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_1")})
	if se := stripeError(t, err); se.HTTPStatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: got %d, want 401", se.HTTPStatusCode)
	}
}

func TestRawErrors(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, fakestripe.Options{})

	do := func(method, path, body string) (int, map[string]map[string]string) {
		req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]map[string]string
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
		return resp.StatusCode, out
	}

	status, body := do("POST", "/v1/refunds", "charge=ch_1&bogus=1")
	if status != 400 || body["error"]["code"] != "parameter_unknown" || body["error"]["param"] != "bogus" {
		t.Errorf("unknown parameter: got %d %v", status, body)
	}
	status, body = do("GET", "/v1/nothing", "")
	if status != 404 || body["error"]["type"] != "invalid_request_error" {
		t.Errorf("unknown route: got %d %v", status, body)
	}
	status, body = do("POST", "/v1/refunds", "charge=ch_1&expand[]=secrets")
	if status != 400 || body["error"]["param"] != "expand" {
		t.Errorf("bad expansion: got %d %v", status, body)
	}
	if got := srv.Requests(); got["POST /v1/refunds"] != 2 || got["GET /v1/nothing"] != 1 {
		t.Errorf("Requests() = %v", got)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		fault fakestripe.Fault
		// retries lets stripe-go retry.
		retries int64
		// check looks at the first call; then the same call is made again and
		// checkRetry looks at it.
		check      func(t *testing.T, srv *fakestripe.Server, r *stripe.Refund, err error)
		checkRetry func(t *testing.T, srv *fakestripe.Server, r *stripe.Refund, err error)
	}{
		{
			name:  "500 in front of the API",
			fault: fakestripe.Fault{Kind: fakestripe.Status500, Times: 1},
			check: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				se := stripeError(t, err)
				if se.HTTPStatusCode != 500 || se.Type != stripe.ErrorTypeAPI {
					t.Errorf("got %d %s, want 500 api_error", se.HTTPStatusCode, se.Type)
				}
				wantRefunds(t, srv, 0)
			},
			checkRetry: succeeded(1, false),
		},
		{
			name:  "500 after the refund was made is replayed",
			fault: fakestripe.Fault{Kind: fakestripe.Status500, Times: 1, Executed: true},
			check: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				if se := stripeError(t, err); se.HTTPStatusCode != 500 {
					t.Errorf("got %d, want 500", se.HTTPStatusCode)
				}
				wantRefunds(t, srv, 1)
			},
			checkRetry: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				se := stripeError(t, err)
				if se.HTTPStatusCode != 500 || se.LastResponse.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("got %d replayed %q, want the 500 replayed", se.HTTPStatusCode,
						se.LastResponse.Header.Get("Idempotent-Replayed"))
				}
				wantRefunds(t, srv, 1)
			},
		},
		{
			name:  "two 500s",
			fault: fakestripe.Fault{Kind: fakestripe.Status500, Times: 2},
			check: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				stripeError(t, err)
			},
			checkRetry: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				if se := stripeError(t, err); se.HTTPStatusCode != 500 {
					t.Errorf("got %d, want the second 500", se.HTTPStatusCode)
				}
				wantRefunds(t, srv, 0)
			},
		},
		{
			name:  "429 rate limit",
			fault: fakestripe.Fault{Kind: fakestripe.Status429, Times: 1},
			check: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				se := stripeError(t, err)
				if se.HTTPStatusCode != 429 || se.Code != stripe.ErrorCodeRateLimit {
					t.Errorf("got %d %s, want 429 rate_limit", se.HTTPStatusCode, se.Code)
				}
				wantRefunds(t, srv, 0)
			},
			checkRetry: succeeded(1, false),
		},
		{
			name:    "429 lock timeout is retried by stripe-go",
			fault:   fakestripe.Fault{Kind: fakestripe.Status429, Code: "lock_timeout", Times: 1},
			retries: 1,
			check: func(t *testing.T, srv *fakestripe.Server, r *stripe.Refund, err error) {
				succeeded(1, false)(t, srv, r, err)
				wantRequests(t, srv, 2)
			},
			checkRetry: succeeded(1, true),
		},
		{
			name:    "503 is retried by stripe-go",
			fault:   fakestripe.Fault{Kind: fakestripe.Status503, Times: 1},
			retries: 2,
			check: func(t *testing.T, srv *fakestripe.Server, r *stripe.Refund, err error) {
				succeeded(1, false)(t, srv, r, err)
				wantRequests(t, srv, 2)
			},
			checkRetry: succeeded(1, true),
		},
		{
			name:  "lost response",
			fault: fakestripe.Fault{Kind: fakestripe.LoseResponse, Times: 1},
			check: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				var se *stripe.Error
				if err == nil || errors.As(err, &se) {
					t.Errorf("got %v, want a network error", err)
				}
				wantRefunds(t, srv, 1)
			},
			checkRetry: succeeded(1, true),
		},
		{
			name:    "lost response retried by stripe-go with the same key",
			fault:   fakestripe.Fault{Kind: fakestripe.LoseResponse, Times: 1},
			retries: 1,
			check: func(t *testing.T, srv *fakestripe.Server, r *stripe.Refund, err error) {
				succeeded(1, true)(t, srv, r, err)
				log := srv.RequestLog()
				if len(log) != 2 || log[0].Status != 0 || log[0].Fault != fakestripe.LoseResponse ||
					log[1].IdempotencyKey != log[0].IdempotencyKey {
					t.Errorf("request log: %+v", log)
				}
			},
			checkRetry: succeeded(1, true),
		},
		{
			name:  "delay",
			fault: fakestripe.Fault{Kind: fakestripe.Delay, Delay: 10 * time.Millisecond, Times: 1},
			check: succeeded(1, false),
		},
		{
			name:  "decline",
			fault: fakestripe.Fault{Kind: fakestripe.Decline, Times: 1},
			check: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				se := stripeError(t, err)
				var ce *stripe.CardError
				if se.HTTPStatusCode != 402 || se.Type != stripe.ErrorTypeCard || se.Code != stripe.ErrorCodeCardDeclined ||
					!errors.As(se.Err, &ce) {
					t.Errorf("got %d %s %s, want 402 card_error card_declined", se.HTTPStatusCode, se.Type, se.Code)
				}
				wantRefunds(t, srv, 0)
			},
			// Permanent: the decline is remembered under the key.
			checkRetry: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				se := stripeError(t, err)
				if se.HTTPStatusCode != 402 || se.LastResponse.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("got %d, want the decline replayed", se.HTTPStatusCode)
				}
				wantRefunds(t, srv, 0)
			},
		},
		{
			name: "decline as an invalid request",
			fault: fakestripe.Fault{Kind: fakestripe.Decline, Times: 1, Status: 400, Type: "invalid_request_error",
				Code: "charge_disputed", Message: "Charge ch_1 has been disputed."},
			check: func(t *testing.T, srv *fakestripe.Server, _ *stripe.Refund, err error) {
				se := stripeError(t, err)
				if se.HTTPStatusCode != 400 || se.Code != stripe.ErrorCodeChargeDisputed || se.Msg != "Charge ch_1 has been disputed." {
					t.Errorf("got %d %s %q", se.HTTPStatusCode, se.Code, se.Msg)
				}
			},
		},
		{
			name:  "refund fails",
			fault: fakestripe.Fault{Kind: fakestripe.FailRefund, Times: 1, FailureReason: "lost_or_stolen_card"},
			check: func(t *testing.T, srv *fakestripe.Server, r *stripe.Refund, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != stripe.RefundStatusFailed || r.FailureReason != stripe.RefundFailureReasonLostOrStolenCard ||
					r.FailureBalanceTransaction == nil {
					t.Errorf("got %s %s", r.Status, r.FailureReason)
				}
				if ch, _ := srv.Charge("ch_1"); ch.AmountRefunded != 0 {
					t.Errorf("charge refunded %d after a failed refund, want 0", ch.AmountRefunded)
				}
			},
			checkRetry: func(t *testing.T, srv *fakestripe.Server, r *stripe.Refund, err error) {
				if err != nil || r.Status != stripe.RefundStatusFailed || r.LastResponse.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("got %v, %v; want the failed refund replayed", r, err)
				}
				wantRefunds(t, srv, 1)
			},
		},
		{
			name: "predicate",
			fault: fakestripe.Fault{Kind: fakestripe.Status500, Match: func(r fakestripe.Request) bool {
				return r.Form.Get("metadata[refund_id]") == "other"
			}},
			check: succeeded(1, false),
		},
		{
			name:  "other path",
			fault: fakestripe.Fault{Kind: fakestripe.Status500, Path: "/v1/charges/ch_1"},
			check: succeeded(1, false),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := setup(t, fakestripe.Options{})
			sc := newClient(t, srv, tt.retries)
			srv.Inject(tt.fault)

			r, err := sc.Refunds.New(refundParams(1000, "9"))
			tt.check(t, srv, r, err)
			if tt.checkRetry != nil {
				r, err = sc.Refunds.New(refundParams(1000, "9"))
				tt.checkRetry(t, srv, r, err)
			}
		})
	}
}

// succeeded checks a refund call that worked.
func succeeded(refunds int, replayed bool) func(*testing.T, *fakestripe.Server, *stripe.Refund, error) {
	return func(t *testing.T, srv *fakestripe.Server, r *stripe.Refund, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("got %v, want a refund", err)
		}
		if got := r.LastResponse.Header.Get("Idempotent-Replayed") == "true"; got != replayed {
			t.Errorf("replayed = %v, want %v", got, replayed)
		}
		wantRefunds(t, srv, refunds)
		if got := srv.RefundsByMetadata("refund_id", "9"); len(got) != 1 || got[0].ID != r.ID {
			t.Errorf("got refund %s, want the one refund %+v", r.ID, got)
		}
	}
}

func wantRefunds(t *testing.T, srv *fakestripe.Server, n int) {
	t.Helper()
	if got := srv.RefundCount(); got != n {
		t.Errorf("got %d refunds, want %d", got, n)
	}
}

func wantRequests(t *testing.T, srv *fakestripe.Server, n int) {
	t.Helper()
	if got := srv.Requests()["POST /v1/refunds"]; got != n {
		t.Errorf("got %d POST /v1/refunds, want %d", got, n)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()

	for _, executed := range []bool{false, true} {
		t.Run(map[bool]string{false: "nothing runs", true: "executed"}[executed], func(t *testing.T) {
			t.Parallel()
			srv, sc := setup(t, fakestripe.Options{})
			arrived := make(chan struct{}, 1)
			srv.Inject(fakestripe.Fault{Kind: fakestripe.Timeout, Times: 1, Executed: executed, Arrived: arrived})

			// The client gives up once the request hangs.
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-arrived
				cancel()
			}()
			p := refundParams(1000, "9")
			p.Context = ctx
			_, err := sc.Refunds.New(p)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
			want := 0
			if executed {
				want = 1
			}
			wantRefunds(t, srv, want)

			r, err := sc.Refunds.New(refundParams(1000, "9"))
			if err != nil {
				t.Fatal(err)
			}
			if got := r.LastResponse.Header.Get("Idempotent-Replayed") == "true"; got != executed {
				t.Errorf("retry replayed = %v, want %v", got, executed)
			}
			wantRefunds(t, srv, 1)
		})
	}
}

func TestCloseStopsHangingRequests(t *testing.T) {
	t.Parallel()
	srv := fakestripe.New(fakestripe.Options{})
	srv.AddCharge("ch_1", "", 1000, "usd")
	arrived := make(chan struct{}, 2)
	gate := make(chan struct{}) // never closed
	srv.Inject(fakestripe.Fault{Kind: fakestripe.Timeout, Path: "/v1/refunds", Times: 1, Arrived: arrived})
	srv.Inject(fakestripe.Fault{Kind: fakestripe.Delay, Path: "/v1/refunds", Times: 1, Gate: gate, Arrived: arrived})
	sc := newClient(t, srv, 0)

	errs := make(chan error, 2)
	for _, key := range []string{"1", "2"} {
		go func() {
			_, err := sc.Refunds.New(refundParams(100, key))
			errs <- err
		}()
	}
	<-arrived
	<-arrived
	srv.Close() // returns although both requests hang
	srv.Close()
	for range 2 {
		if err := <-errs; err == nil {
			t.Error("a hanging request succeeded after Close")
		}
	}
	if n := srv.RefundCount(); n != 0 {
		t.Errorf("got %d refunds, want 0", n)
	}
}

func TestListRefunds(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	srv, sc := setup(t, fakestripe.Options{Now: clk.now})
	srv.AddCharge("ch_2", "pi_2", 100000, "eur")

	var created []string // oldest first
	for i := range 25 {
		p := &stripe.RefundParams{Charge: stripe.String("ch_2"), Amount: stripe.Int64(int64(100 + i))}
		if i%5 == 0 {
			p.Charge = stripe.String("ch_1")
		}
		r, err := sc.Refunds.New(p)
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, r.ID)
	}

	// Every refund, newest first, through stripe-go's auto-pagination.
	before := srv.Requests()["GET /v1/refunds"]
	lp := &stripe.RefundListParams{}
	lp.Limit = stripe.Int64(10)
	lp.AddExpand("data.balance_transaction")
	it := sc.Refunds.List(lp)
	var got []string
	for it.Next() {
		r := it.Refund()
		got = append(got, r.ID)
		if r.BalanceTransaction == nil || r.BalanceTransaction.Amount != -r.Amount ||
			r.BalanceTransaction.Type != stripe.BalanceTransactionTypeRefund || r.BalanceTransaction.Currency != "eur" {
			t.Errorf("refund %s: balance transaction not expanded: %+v", r.ID, r.BalanceTransaction)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if want := reversed(created); !equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if pages := srv.Requests()["GET /v1/refunds"] - before; pages != 3 {
		t.Errorf("got %d pages, want 3", pages)
	}

	// One page after a cursor, with has_more.
	lp = &stripe.RefundListParams{}
	lp.Limit = stripe.Int64(3)
	lp.StartingAfter = stripe.String(created[20])
	lp.Single = true
	it = sc.Refunds.List(lp)
	got = nil
	for it.Next() {
		got = append(got, it.Refund().ID)
	}
	if want := []string{created[19], created[18], created[17]}; !equal(got, want) || !it.RefundList().HasMore {
		t.Errorf("page after %s: got %v (has_more %v), want %v, true", created[20], got, it.RefundList().HasMore, want)
	}

	// The page before a cursor.
	lp = &stripe.RefundListParams{}
	lp.Limit = stripe.Int64(2)
	lp.EndingBefore = stripe.String(created[20])
	lp.Single = true
	it = sc.Refunds.List(lp)
	got = nil
	for it.Next() {
		got = append(got, it.Refund().ID)
	}
	// Stripe answers the page newest first; stripe-go walks it backwards.
	if want := []string{created[21], created[22]}; !equal(got, want) {
		t.Errorf("page before %s: got %v, want %v", created[20], got, want)
	}

	// By charge and by creation time.
	lp = &stripe.RefundListParams{Charge: stripe.String("ch_1")}
	if got := collect(t, sc.Refunds.List(lp)); !equal(got, []string{created[20], created[15], created[10], created[5], created[0]}) {
		t.Errorf("by charge: got %v", got)
	}
	all := srv.Refunds()
	lp = &stripe.RefundListParams{CreatedRange: &stripe.RangeQueryParams{
		GreaterThanOrEqual: all[5].Created.Unix(),
		LesserThan:         all[10].Created.Unix(),
	}}
	if got := collect(t, sc.Refunds.List(lp)); !equal(got, reversed(created[5:10])) {
		t.Errorf("created in [5, 10): got %v, want %v", got, reversed(created[5:10]))
	}

	lp = &stripe.RefundListParams{}
	lp.StartingAfter = stripe.String("re_nope")
	it = sc.Refunds.List(lp)
	for it.Next() {
	}
	if se := stripeError(t, it.Err()); se.Code != stripe.ErrorCodeResourceMissing {
		t.Errorf("unknown cursor: got %s", se.Code)
	}
}

func TestGetAndCancelRefund(t *testing.T) {
	t.Parallel()
	srv, sc := setup(t, fakestripe.Options{RefundStatus: fakestripe.StatusRequiresAction})

	r, err := sc.Refunds.New(refundParams(700, "1"))
	if err != nil {
		t.Fatal(err)
	}
	gp := &stripe.RefundParams{}
	gp.AddExpand("charge")
	got, err := sc.Refunds.Get(r.ID, gp)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != stripe.RefundStatusRequiresAction || got.Charge.Amount != 5000 || got.Charge.AmountRefunded != 700 ||
		got.Charge.Currency != "eur" {
		t.Errorf("got %+v with charge %+v", got, got.Charge)
	}
	if _, err := sc.Refunds.Get("re_nope", nil); stripeError(t, err).HTTPStatusCode != http.StatusNotFound {
		t.Error("unknown refund: want 404")
	}

	c, err := sc.Refunds.Cancel(r.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != stripe.RefundStatusCanceled {
		t.Errorf("got %s, want canceled", c.Status)
	}
	if _, err := sc.Refunds.Cancel(r.ID, nil); stripeError(t, err).HTTPStatusCode != http.StatusBadRequest {
		t.Error("cancelling a canceled refund: want 400")
	}
	if ch, _ := srv.Charge("ch_1"); ch.AmountRefunded != 0 {
		t.Errorf("charge refunded %d after cancel, want 0", ch.AmountRefunded)
	}

	// Metadata update.
	up := &stripe.RefundParams{}
	up.AddMetadata("note", "x")
	up.AddMetadata("refund_id", "")
	u, err := sc.Refunds.Update(r.ID, up)
	if err != nil {
		t.Fatal(err)
	}
	if u.Metadata["note"] != "x" || len(u.Metadata) != 1 {
		t.Errorf("metadata %v, want only note=x", u.Metadata)
	}

	ch, err := sc.Charges.Get("ch_1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Amount != 5000 || ch.PaymentIntent.ID != "pi_1" || ch.Refunds != nil {
		t.Errorf("got charge %+v, want refunds left out unless expanded", ch)
	}
	cp := &stripe.ChargeParams{}
	cp.AddExpand("refunds")
	ch, err = sc.Charges.Get("ch_1", cp)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Refunds == nil || len(ch.Refunds.Data) != 1 || ch.Refunds.Data[0].ID != r.ID {
		t.Errorf("expanded refunds: %+v", ch.Refunds)
	}
}

func TestSeedRefund(t *testing.T) {
	t.Parallel()
	srv, sc := setup(t, fakestripe.Options{})

	seeded := srv.SeedRefund(fakestripe.Refund{Charge: "ch_1", Amount: 1200, Metadata: map[string]string{"refund_id": "77"}})
	if seeded.Currency != "eur" || seeded.PaymentIntent != "pi_1" || seeded.Status != fakestripe.StatusSucceeded {
		t.Errorf("seeded %+v", seeded)
	}
	other := srv.SeedRefund(fakestripe.Refund{Charge: "ch_dashboard", Amount: 300, Currency: "USD"})
	if ch, ok := srv.Charge("ch_dashboard"); !ok || ch.Amount != 300 || ch.AmountRefunded != 300 || ch.Currency != "usd" {
		t.Errorf("charge of a seeded refund: %+v, %v", ch, ok)
	}
	got := collect(t, sc.Refunds.List(&stripe.RefundListParams{}))
	if !equal(got, []string{other.ID, seeded.ID}) {
		t.Errorf("listed %v", got)
	}
	if _, err := sc.Refunds.New(refundParams(3801, "x")); stripeError(t, err).Code != stripe.ErrorCodeAmountTooLarge {
		t.Error("the seeded refund does not count against the charge")
	}
	if evs := srv.Events(); len(evs) != 0 {
		t.Errorf("seeding sent %d events", len(evs))
	}
	// seeding a refund again under its ID replaces it, under its metadata too
	again := srv.SeedRefund(fakestripe.Refund{ID: seeded.ID, Charge: "ch_1", Amount: 1000, Metadata: map[string]string{"refund_id": "78"}})
	if got := srv.RefundsByMetadata("refund_id", "77"); len(got) != 0 {
		t.Errorf("the replaced refund is still found by its old metadata: %+v", got)
	}
	if got := srv.RefundsByMetadata("refund_id", "78"); len(got) != 1 || got[0].ID != again.ID || got[0].Amount != 1000 {
		t.Errorf("RefundsByMetadata(78) = %+v", got)
	}
}

// receiver is a webhook endpoint that records what it gets.
type receiver struct {
	mu   sync.Mutex
	got  []delivery
	fail int // answer 500 to this many more requests
	ch   chan delivery
	url  string
}

type delivery struct {
	payload []byte
	sig     string
	status  int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{ch: make(chan delivery, 100)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d := delivery{payload: b, sig: r.Header.Get("Stripe-Signature"), status: http.StatusOK}
		rc.mu.Lock()
		if rc.fail > 0 {
			rc.fail--
			d.status = http.StatusInternalServerError
		}
		rc.got = append(rc.got, d)
		rc.mu.Unlock()
		w.WriteHeader(d.status)
		rc.ch <- d
	}))
	t.Cleanup(ts.Close)
	rc.url = ts.URL
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

func verify(t *testing.T, d delivery) stripe.Event {
	t.Helper()
	ev, err := webhook.ConstructEventWithOptions(d.payload, d.sig, secret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	return ev
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	srv, sc := setup(t, fakestripe.Options{WebhookURL: rc.url, WebhookSecret: secret})

	r, err := sc.Refunds.New(refundParams(1500, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(got))
	}
	ev := verify(t, got[0])
	if ev.Type != "charge.refunded" || ev.APIVersion != "2023-10-16" || !strings.HasPrefix(ev.ID, "evt_") ||
		ev.Request.IdempotencyKey != "refund:1" || ev.Request.ID != r.LastResponse.RequestID {
		t.Errorf("got event %s %s %s %+v", ev.ID, ev.Type, ev.APIVersion, ev.Request)
	}
	var ch stripe.Charge
	if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
		t.Fatal(err)
	}
	if ch.ID != "ch_1" || ch.AmountRefunded != 1500 || ch.Refunded || ch.Refunds != nil {
		t.Errorf("charge in the event: %+v (2023-10-16 leaves refunds out)", ch)
	}
	if _, err := webhook.ConstructEventWithOptions(got[0].payload, got[0].sig, "whsec_other",
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true}); err == nil {
		t.Error("the signature verifies with another secret")
	}
	if _, err := webhook.ConstructEvent(got[0].payload, got[0].sig, secret); err != nil {
		t.Errorf("default ConstructEvent (v76 pins 2023-10-16): %v", err)
	}

	// A status change is sent before SetRefundStatus returns.
	if err := srv.SetRefundStatus(r.ID, fakestripe.StatusFailed, "lost_or_stolen_card"); err != nil {
		t.Fatal(err)
	}
	got = rc.deliveries()
	if len(got) != 2 {
		t.Fatalf("got %d deliveries, want 2", len(got))
	}
	ev = verify(t, got[1])
	var rf stripe.Refund
	if err := json.Unmarshal(ev.Data.Raw, &rf); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "charge.refund.updated" || rf.ID != r.ID || rf.Status != stripe.RefundStatusFailed ||
		rf.FailureReason != stripe.RefundFailureReasonLostOrStolenCard ||
		ev.Data.PreviousAttributes["status"] != "succeeded" || ev.Request.ID != "" {
		t.Errorf("got %s %+v previous %v", ev.Type, rf, ev.Data.PreviousAttributes)
	}

	// Duplicates: the same event again, freshly signed.
	events := srv.Events()
	if len(events) != 2 || events[0].ID == events[1].ID || !events[0].Delivered || events[0].Attempts != 1 {
		t.Fatalf("Events() = %+v", events)
	}
	if err := srv.Redeliver(context.Background(), events[0].ID); err != nil {
		t.Fatal(err)
	}
	got = rc.deliveries()
	if dup := verify(t, got[2]); dup.ID != events[0].ID || string(got[2].payload) != string(got[0].payload) {
		t.Errorf("redelivered %s, want %s with the same payload", dup.ID, events[0].ID)
	}
	if err := srv.Redeliver(context.Background(), "evt_nope"); err == nil {
		t.Error("Redeliver of an unknown event succeeded")
	}

	// The events API serves the same events.
	ep := &stripe.EventListParams{Type: stripe.String("charge.refund.*")}
	var listed []string
	it := sc.Events.List(ep)
	for it.Next() {
		listed = append(listed, it.Event().ID)
	}
	if it.Err() != nil || !equal(listed, []string{events[1].ID}) {
		t.Errorf("events listed %v, %v; want %s", listed, it.Err(), events[1].ID)
	}
	if e, err := sc.Events.Get(events[0].ID, nil); err != nil || e.Type != "charge.refunded" {
		t.Errorf("event %s: %v, %v", events[0].ID, e, err)
	}
}

func TestWebhooksManualOutOfOrder(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	srv, sc := setup(t, fakestripe.Options{WebhookURL: rc.url, WebhookSecret: secret,
		Delivery: fakestripe.DeliverManual, RefundEvents: true, ChargeRefundsInEvents: true})

	r, err := sc.Refunds.New(refundParams(1500, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetRefundStatus(r.ID, fakestripe.StatusFailed, ""); err != nil {
		t.Fatal(err)
	}
	if err := srv.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.deliveries()); n != 0 {
		t.Fatalf("manual delivery sent %d events", n)
	}

	events := srv.Events()
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	want := []string{"charge.refunded", "refund.created", "charge.refund.updated", "refund.updated", "refund.failed"}
	if !equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := len(events) - 1; i >= 0; i-- { // newest first
		if err := srv.Redeliver(context.Background(), events[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	got := rc.deliveries()
	for i, d := range got {
		if ev := verify(t, d); ev.ID != events[len(events)-1-i].ID {
			t.Errorf("delivery %d is %s, want %s", i, ev.ID, events[len(events)-1-i].ID)
		}
	}
	var ch stripe.Charge
	if err := json.Unmarshal(verify(t, got[len(got)-1]).Data.Raw, &ch); err != nil {
		t.Fatal(err)
	}
	if ch.Refunds == nil || len(ch.Refunds.Data) != 1 || ch.Refunds.Data[0].ID != r.ID {
		t.Errorf("charge.refunded with ChargeRefundsInEvents: refunds %+v", ch.Refunds)
	}
}

func TestWebhooksAsyncRetries(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	rc.fail = 2
	srv, sc := setup(t, fakestripe.Options{WebhookURL: rc.url, WebhookSecret: secret,
		Delivery: fakestripe.DeliverAsync, WebhookBackoff: time.Millisecond})

	for _, key := range []string{"1", "2", "3"} {
		if _, err := sc.Refunds.New(refundParams(100, key)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got := rc.deliveries()
	if len(got) != 5 {
		t.Errorf("got %d deliveries, want 3 events + 2 failed attempts", len(got))
	}
	events := srv.Events()
	if events[0].Attempts != 3 || !events[0].Delivered {
		t.Errorf("first event: %d attempts, delivered %v; want 3, true", events[0].Attempts, events[0].Delivered)
	}
	for _, e := range events {
		if !e.Delivered {
			t.Errorf("event %s not delivered", e.ID)
		}
	}
}

func TestPendingRefundSettles(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	srv, sc := setup(t, fakestripe.Options{WebhookURL: rc.url, WebhookSecret: secret,
		RefundStatus: fakestripe.StatusPending, SettleAfter: time.Millisecond})

	r, err := sc.Refunds.New(refundParams(100, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != stripe.RefundStatusPending {
		t.Errorf("created %s, want pending", r.Status)
	}
	for {
		ev := verify(t, <-rc.ch)
		if ev.Type == "charge.refund.updated" {
			if ev.Data.Object["status"] != "succeeded" {
				t.Errorf("refund settled as %v", ev.Data.Object["status"])
			}
			break
		}
	}
	if got, _ := srv.Refund(r.ID); got.Status != fakestripe.StatusSucceeded {
		t.Errorf("got %s, want succeeded", got.Status)
	}
}

func TestCloseWithPendingTimers(t *testing.T) {
	t.Parallel()
	srv := fakestripe.New(fakestripe.Options{RefundStatus: fakestripe.StatusPending, SettleAfter: time.Hour,
		Delivery: fakestripe.DeliverAsync, WebhookURL: "http://127.0.0.1:1/unused"})
	srv.AddCharge("ch_1", "", 1000, "usd")
	if _, err := newClient(t, srv, 0).Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_1")}); err != nil {
		t.Fatal(err)
	}
	srv.Close() // must not wait for the hour
	if err := srv.Drain(context.Background()); !errors.Is(err, fakestripe.ErrClosed) && err != nil {
		t.Errorf("Drain after Close: %v", err)
	}
}

func TestHandlerInAnotherServer(t *testing.T) {
	t.Parallel()
	srv := fakestripe.New(fakestripe.Options{AutoCharges: true, Currency: "gbp"})
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL: stripe.String(ts.URL), MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	sc := client.New(apiKey, &stripe.Backends{API: b})
	r, err := sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_auto"), Amount: stripe.Int64(250)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Currency != "gbp" || r.Charge.ID != "ch_auto" {
		t.Errorf("got %+v", r)
	}
	if u, err := url.Parse(srv.URL()); err != nil || u.Host == "" {
		t.Errorf("URL() = %q", srv.URL())
	}
}

func TestFixedAddress(t *testing.T) {
	t.Parallel()
	srv := fakestripe.New(fakestripe.Options{Addr: "127.0.0.1:0", AutoCharges: true})
	t.Cleanup(srv.Close)
	if _, err := newClient(t, srv, 0).Refunds.New(&stripe.RefundParams{PaymentIntent: stripe.String("pi_x")}); err != nil {
		t.Fatal(err)
	}
	if r := srv.Refunds(); len(r) != 1 || r[0].PaymentIntent != "pi_x" || r[0].Amount != 1_000_000_000 || r[0].Currency != "usd" {
		t.Errorf("got %+v", r)
	}
}

func BenchmarkCreateRefund(b *testing.B) {
	srv := fakestripe.New(fakestripe.Options{AutoCharges: true})
	defer srv.Close()
	bk := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL: stripe.String(srv.URL()), MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	sc := client.New(apiKey, &stripe.Backends{API: bk})
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_bench"), Amount: stripe.Int64(1)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestSignature(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"id":"evt_1","object":"event","api_version":"2023-10-16","type":"charge.refunded","data":{"object":{}}}`)
	now := time.Now()
	want := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: now})
	if got := fakestripe.Signature(now, payload, secret); got != want.Header {
		t.Errorf("got %s, want %s", got, want.Header)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

// now advances one second per call, so every refund has its own second.
func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func collect(t *testing.T, it interface {
	Next() bool
	Current() interface{}
	Err() error
}) []string {
	t.Helper()
	var ids []string
	for it.Next() {
		ids = append(ids, it.Current().(*stripe.Refund).ID)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
