package refunds_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// received is a receipt line for the whole of l1 (2 units), in good condition.
var received = map[string]any{"line_id": "l1", "quantity": 2, "condition": "like_new", "disposition": "restock"}

// sendJob is the state and attempts of the refund.send job of a refund: "ran" when
// it ran (its claim deleted its row) and no other is left.
func (f *flow) sendJob(t *testing.T, refundID int64) (state string, attempts int) {
	t.Helper()
	row := f.env.DB.QueryRow(`SELECT state, attempts FROM outbox WHERE kind = $1 AND (payload->>'refund_id')::bigint = $2
		ORDER BY id DESC LIMIT 1`, refunds.JobSend, refundID)
	err := row.Scan(&state, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return "ran", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return state, attempts
}

// TestTemporaryStripeFailureRefundsOnce: whatever goes wrong between us and Stripe
// after the request left, the job is retried under the same Idempotency-Key and the
// shopper is paid once.
func TestTemporaryStripeFailureRefundsOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault fakestripe.Fault
		// replayed: the second request finds the refund the first one made
		replayed bool
	}{
		{"response lost after the refund was made", fakestripe.Fault{Kind: fakestripe.LoseResponse}, true},
		{"timeout after the refund was made", fakestripe.Fault{Kind: fakestripe.Timeout, Executed: true}, true},
		{"timeout before anything ran", fakestripe.Fault{Kind: fakestripe.Timeout}, false},
		{"500 before anything ran", fakestripe.Fault{Kind: fakestripe.Status500}, false},
		{"429 rate limit", fakestripe.Fault{Kind: fakestripe.Status429}, false},
		{"503", fakestripe.Fault{Kind: fakestripe.Status503}, false},
		{"409 key in use", fakestripe.Fault{Kind: fakestripe.Status429, Status: http.StatusConflict,
			Type: "invalid_request_error", Code: "idempotency_key_in_use"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// the timeouts cost this much once
			f := newFlow(t, fakestripe.Options{}, withStripeTimeout(time.Second))
			tc.fault.Method, tc.fault.Path, tc.fault.Times = "POST", "/v1/refunds", 1
			f.stripe.Inject(tc.fault)
			r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
			f.mustReceive(t, r, received)

			// first attempt: the job fails temporarily and is rescheduled (zero backoff)
			did, err := f.worker.RunOne(t.Context())
			if err != nil || !did {
				t.Fatalf("first run: did=%v err=%v", did, err)
			}
			fr := f.oneRefund(t, r)
			if fr.Status != refunds.StatusQueued {
				t.Fatalf("got refund %s after the failed attempt, want queued", fr.Status)
			}
			if st, n := f.sendJob(t, fr.ID); st != "pending" || n != 1 {
				t.Fatalf("got send job %s after %d attempts, want pending after 1", st, n)
			}
			if got := f.state(t, r); got != "resolving" {
				t.Fatalf("got return %s after the failed attempt, want resolving", got)
			}

			f.drain(t)
			if n := f.stripe.RefundCount(); n != 1 {
				t.Fatalf("got %d Stripe refunds, want 1", n)
			}
			sr := f.stripe.Refunds()[0]
			fr = f.oneRefund(t, r)
			if fr.Status != refunds.StatusSucceeded || fr.StripeRefundID == nil || *fr.StripeRefundID != sr.ID {
				t.Errorf("got refund %s with Stripe ID %v, want succeeded with %s", fr.Status, fr.StripeRefundID, sr.ID)
			}
			if sr.Amount != r.Total || sr.Metadata["refund_id"] != fr.PublicID || sr.IdempotencyKey != refunds.IdempotencyKey(fr.ID, 0) {
				t.Errorf("got Stripe refund of %d, metadata %v, key %q; want %d for refund %d under %s",
					sr.Amount, sr.Metadata, sr.IdempotencyKey, r.Total, fr.ID, refunds.IdempotencyKey(fr.ID, 0))
			}
			posts := f.postRefunds()
			if len(posts) != 2 || posts[0].IdempotencyKey != posts[1].IdempotencyKey || posts[1].Replayed != tc.replayed {
				t.Errorf("got %d POST /v1/refunds %+v, want 2 under one key, the second replayed=%v", len(posts), posts, tc.replayed)
			}
			if st, _ := f.sendJob(t, fr.ID); st != "ran" {
				t.Errorf("got send job %s, want it run (the two POSTs above: one failed attempt, then the one that ran)", st)
			}
			if got := f.state(t, r); got != "completed" {
				t.Errorf("got return %s, want completed", got)
			}
		})
	}
}

// TestFailedRefundRetriedByFinance: a permanent refusal (or a refund that Stripe
// made and failed) fails the refund with Stripe's reason and the return becomes
// refund_failed; finance's retry pays it once, and only a failed refund can be
// retried.
func TestFailedRefundRetriedByFinance(t *testing.T) {
	t.Parallel()
	const msg = "Your card's issuer declined the refund."
	for _, tc := range []struct {
		name   string
		fault  fakestripe.Fault
		reason string
		made   int // Stripe refunds the failed attempt made
	}{
		{"declined", fakestripe.Fault{Kind: fakestripe.Decline, Message: msg}, msg, 0},
		{"failed at Stripe", fakestripe.Fault{Kind: fakestripe.FailRefund, FailureReason: "expired_or_canceled_card"}, "expired_or_canceled_card", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFlow(t, fakestripe.Options{})
			tc.fault.Method, tc.fault.Path, tc.fault.Times = "POST", "/v1/refunds", 1
			f.stripe.Inject(tc.fault)
			r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
			f.mustReceive(t, r, received)
			f.drain(t)

			if n := f.stripe.RefundCount(); n != tc.made {
				t.Fatalf("got %d Stripe refunds after the failure, want %d", n, tc.made)
			}
			fr := f.oneRefund(t, r)
			if fr.Status != refunds.StatusFailed || fr.FailureReason == nil || *fr.FailureReason != tc.reason {
				t.Fatalf("got refund %s (%v), want failed with %q", fr.Status, fr.FailureReason, tc.reason)
			}
			if got := f.state(t, r); got != "refund_failed" {
				t.Fatalf("got return %s, want refund_failed", got)
			}
			if st, n := f.sendJob(t, fr.ID); st != "ran" {
				t.Errorf("got send job %s after %d failed attempts, want it run: a refusal is an answer, not a failure to retry", st, n)
			}
			tl := f.timeline(t, r)
			if last := tl[len(tl)-1]; last.To != "refund_failed" || !strings.Contains(last.Note, tc.reason) {
				t.Errorf("got last timeline entry %+v, want refund_failed with Stripe's reason", last)
			}

			retry := func(key string) (int, []byte) {
				res := f.env.Do(t, "POST", fmt.Sprintf("/v1/refunds/%s/retry", fr.PublicID), key, nil)
				return res.Status, res.Body
			}
			if st, _ := retry(f.shop.Keys[auth.RoleWarehouse]); st != http.StatusForbidden {
				t.Errorf("got %d for a retry by the warehouse, want 403", st)
			}
			if st, body := retry(f.shop.Keys[auth.RoleFinance]); st != http.StatusOK {
				t.Fatalf("retry: %d %s", st, body)
			}
			if got := f.state(t, r); got != "resolving" {
				t.Fatalf("got return %s after the retry, want resolving", got)
			}
			f.drain(t)

			all := f.stripe.Refunds()
			if len(all) != tc.made+1 {
				t.Fatalf("got %d Stripe refunds, want %d", len(all), tc.made+1)
			}
			sr := all[len(all)-1]
			fr = f.oneRefund(t, r)
			if fr.Status != refunds.StatusSucceeded || fr.Attempt != 1 || fr.FailureReason != nil || *fr.StripeRefundID != sr.ID {
				t.Errorf("got refund %+v, want succeeded on attempt 1 as %s without a failure reason", fr, sr.ID)
			}
			if sr.Status != fakestripe.StatusSucceeded || sr.Amount != r.Total || sr.IdempotencyKey != refunds.IdempotencyKey(fr.ID, 1) {
				t.Errorf("got Stripe refund %s of %d under %q, want succeeded, %d under %q", sr.Status, sr.Amount, sr.IdempotencyKey, r.Total, refunds.IdempotencyKey(fr.ID, 1))
			}
			if got := f.state(t, r); got != "completed" {
				t.Errorf("got return %s, want completed", got)
			}

			st, body := retry(f.shop.Keys[auth.RoleFinance])
			if st != http.StatusConflict || !strings.Contains(string(body), "succeeded") {
				t.Errorf("got %d %s for retrying a succeeded refund, want 409 naming its status", st, body)
			}
			f.drain(t)
			if n := f.stripe.RefundCount(); n != tc.made+1 {
				t.Errorf("got %d Stripe refunds after the refused retry, want still %d", n, tc.made+1)
			}
		})
	}
}

// TestConcurrentDuplicateReceipt: the warehouse double-submits a receipt; the
// return's row lock (and the Idempotency-Key, when sent) make it one receipt, one
// refund row and one Stripe refund.
func TestConcurrentDuplicateReceipt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		keys [2]string
	}{
		{"same Idempotency-Key", [2]string{"scan-station-7:receipt-1", "scan-station-7:receipt-1"}},
		{"no Idempotency-Key", [2]string{"", ""}},
		{"different Idempotency-Keys", [2]string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFlow(t, fakestripe.Options{})
			r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
			body := map[string]any{"items": []map[string]any{received}}
			path := fmt.Sprintf("/v1/returns/%s/receipts", r.ID)

			type answer struct {
				status   int
				replayed bool
				body     string
			}
			var answers [2]answer
			var errs [2]error
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					<-start
					var hdr []string
					if tc.keys[i] != "" {
						hdr = []string{"Idempotency-Key", tc.keys[i]}
					}
					res, err := f.request("POST", path, f.shop.Keys[auth.RoleWarehouse], body, hdr...)
					answers[i], errs[i] = answer{res.Status, res.Header.Get("Idempotent-Replayed") == "true", string(res.Body)}, err
				})
			}
			close(start)
			wg.Wait()
			if err := errors.Join(errs[:]...); err != nil {
				t.Fatal(err)
			}

			created, other := answers[0], answers[1]
			if created.status != http.StatusCreated || created.replayed {
				created, other = other, created
			}
			if created.status != http.StatusCreated || created.replayed {
				t.Fatalf("got answers %+v, want one receipt created", answers)
			}
			sameKey := tc.keys[0] != "" && tc.keys[0] == tc.keys[1]
			switch {
			case sameKey && (other.status != http.StatusCreated || !other.replayed || other.body != created.body):
				t.Errorf("got %+v for the second request, want the first answer replayed", other)
			case !sameKey && (other.status != http.StatusUnprocessableEntity || !strings.Contains(other.body, "body.items[0].quantity")):
				t.Errorf("got %+v for the second request, want 422 on body.items[0].quantity", other)
			}

			var receipts int
			if err := f.env.DB.Get(&receipts, `SELECT count(*) FROM receipts WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID); err != nil {
				t.Fatal(err)
			}
			if receipts != 1 {
				t.Errorf("got %d receipts, want 1", receipts)
			}
			f.drain(t)
			f.oneRefund(t, r)
			if n := f.stripe.RefundCount(); n != 1 {
				t.Errorf("got %d Stripe refunds, want 1", n)
			}
			if got := f.state(t, r); got != "completed" {
				t.Errorf("got return %s, want completed", got)
			}
		})
	}
}
