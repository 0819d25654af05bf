package refunds_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// pollIn is how many seconds from now the refund with public ID id is next asked
// about, and whether it is asked about at all.
func (f *flow) pollIn(t *testing.T, id string) (float64, bool) {
	t.Helper()
	var in *float64
	if err := f.env.DB.Get(&in, `SELECT extract(epoch FROM poll_at - now())::float8 FROM refunds WHERE public_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if in == nil {
		return 0, false
	}
	return *in, true
}

// pollDue makes the poll of every refund that has one due, and the periodic job that
// asks Stripe about them (JobPollDue), then runs the jobs.
func (f *flow) pollDue(t *testing.T) {
	t.Helper()
	if _, err := f.env.DB.Exec(`UPDATE refunds SET poll_at = now() WHERE poll_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	res, err := f.env.DB.Exec(`UPDATE outbox SET run_at = now() WHERE kind = $1 AND state = 'pending'`, refunds.JobPollDue)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := outbox.Enqueue(context.Background(), f.env.DB, outbox.Message{Kind: refunds.JobPollDue}); err != nil {
			t.Fatal(err)
		}
	}
	f.drain(t)
}

// stripeGets counts the requests that asked Stripe about a refund.
func (f *flow) stripeGets() int {
	n := 0
	for _, req := range f.stripe.RequestLog() {
		if req.Method == http.MethodGet {
			n++
		}
	}
	return n
}

// due makes the pending jobs of kind due now, or an hour from now.
func (f *flow) due(t *testing.T, kind string, now bool) {
	t.Helper()
	at := "now()"
	if !now {
		at = "now() + interval '1 hour'"
	}
	if _, err := f.env.DB.Exec(`UPDATE outbox SET run_at = `+at+` WHERE kind = $1 AND state = 'pending'`, kind); err != nil {
		t.Fatal(err)
	}
}

func (f *flow) runOne(t *testing.T) {
	t.Helper()
	if did, err := f.worker.RunOne(context.Background()); err != nil || !did {
		t.Fatalf("ran a job: %v, %v", did, err)
	}
}

// A refund is asked about only once Stripe has it and answered pending: not while its
// send waits for a retry (Stripe answered 503), then PollAfter after it was sent;
// asked while still pending it is asked again later, and asked once it succeeded it
// is recorded so and asked about no more. No refund has a job of its own for it.
func TestARefundIsPolledOnlyWhilePendingAtStripe(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending})
	f.stripe.Inject(fakestripe.Fault{Kind: fakestripe.Status503, Method: "POST", Path: "/v1/refunds", Times: 1})
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
	f.mustReceive(t, r, received)
	rf := f.oneRefund(t, r)
	f.runOne(t) // the send: Stripe answers 503
	if got := f.oneRefund(t, r).Status; got != refunds.StatusQueued {
		t.Fatalf("after a 503 the refund is %s, want queued", got)
	}
	if _, polled := f.pollIn(t, rf.PublicID); polled {
		t.Fatal("a refund Stripe does not have yet has a poll")
	}
	f.due(t, refunds.JobSend, false)
	f.pollDue(t)
	if n := f.stripeGets(); n != 0 {
		t.Errorf("the sweep asked Stripe %d times about a refund not sent yet", n)
	}

	f.due(t, refunds.JobSend, true)
	f.drain(t)
	sent := f.oneRefund(t, r)
	if sent.Status != refunds.StatusPending || sent.StripeRefundID == nil {
		t.Fatalf("after the send's retry the refund is %s, want pending at Stripe", sent.Status)
	}
	if in, polled := f.pollIn(t, rf.PublicID); !polled || in < refunds.PollAfter.Seconds()-5 || in > refunds.PollAfter.Seconds()+1 {
		t.Fatalf("a refund pending at Stripe is polled in %.0fs (%v), want in about %s", in, polled, refunds.PollAfter)
	}
	var jobs int
	if err := f.env.DB.Get(&jobs, `SELECT count(*) FROM outbox WHERE kind = $1`, refunds.JobPoll); err != nil || jobs != 0 {
		t.Fatalf("refund poll jobs: %d, %v; want none", jobs, err)
	}

	f.pollDue(t) // still pending at Stripe
	if n := f.stripeGets(); n != 1 {
		t.Fatalf("the sweep asked Stripe %d times, want once", n)
	}
	if got := f.oneRefund(t, r).Status; got != refunds.StatusPending {
		t.Fatalf("after a poll that found it pending the refund is %s", got)
	}
	if in, polled := f.pollIn(t, rf.PublicID); !polled || in < refunds.PollAfter.Seconds()-5 {
		t.Fatalf("a refund still pending is polled again in %.0fs (%v), want PollAfter or more", in, polled)
	}

	if err := f.stripe.SetRefundStatus(*sent.StripeRefundID, fakestripe.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	f.pollDue(t)
	if got := f.oneRefund(t, r).Status; got != refunds.StatusSucceeded {
		t.Fatalf("after the poll the refund is %s, want succeeded", got)
	}
	if got := f.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
	if _, polled := f.pollIn(t, rf.PublicID); polled {
		t.Error("a refund that succeeded is still polled")
	}
	f.pollDue(t)
	if n := f.stripeGets(); n != 2 {
		t.Errorf("Stripe was asked %d times, want twice: nothing after the refund settled", n)
	}
}

// A refund pending for long is asked about less often: a quarter of its age after each
// poll, at most PollAtMost apart.
func TestALongPendingRefundIsPolledLessOften(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending})
	r, _ := pendingRefund(t, f)
	rf := f.oneRefund(t, r)
	for _, c := range []struct {
		age  string
		want float64 // seconds
	}{{"2 hours", 1800}, {"3 days", refunds.PollAtMost.Seconds()}} {
		if _, err := f.env.DB.Exec(`UPDATE refunds SET sent_at = now() - $2::interval WHERE public_id = $1`, rf.PublicID, c.age); err != nil {
			t.Fatal(err)
		}
		f.pollDue(t)
		if in, polled := f.pollIn(t, rf.PublicID); !polled || in < c.want-10 || in > c.want+1 {
			t.Errorf("pending for %s: polled again in %.0fs (%v), want about %.0fs", c.age, in, polled, c.want)
		}
	}
}

// A refund Stripe refuses is not polled; finance's retry sends it again, and it is
// polled again once Stripe answers pending.
func TestARefusedRefundIsNotPolledAndARetryIs(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending})
	_, rf := f.failedRefund(t, 1)
	if _, polled := f.pollIn(t, rf.PublicID); polled {
		t.Fatal("a refused refund is polled")
	}
	res := f.env.Do(t, "POST", fmt.Sprintf("/v1/refunds/%s/retry", rf.PublicID), f.shop.Keys[auth.RoleFinance], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("retry: %d %s", res.Status, res.Body)
	}
	f.drain(t)
	if in, polled := f.pollIn(t, rf.PublicID); !polled || in < refunds.PollAfter.Seconds()-5 {
		t.Fatalf("after the retry the refund is polled in %.0fs (%v), want in about %s", in, polled, refunds.PollAfter)
	}
}

// A poll that cannot reach Stripe ends without parking a job or counting a failure:
// the refund is asked about again at its next turn, and then settles.
func TestAPollThatCannotReachStripeWaitsForItsNextTurn(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending})
	r, sr := pendingRefund(t, f)
	if err := f.stripe.SetRefundStatus(sr.ID, fakestripe.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	f.stripe.Inject(fakestripe.Fault{Kind: fakestripe.Status503, Method: "GET", Path: "/v1/refunds/" + sr.ID, Times: 1})
	f.pollDue(t)
	if got := f.oneRefund(t, r).Status; got != refunds.StatusPending {
		t.Fatalf("after a poll Stripe answered 503 the refund is %s, want pending", got)
	}
	var dead int
	if err := f.env.DB.Get(&dead, `SELECT count(*) FROM outbox WHERE kind = $1 AND state <> 'done'`, refunds.JobPoll); err != nil || dead != 0 {
		t.Fatalf("poll jobs not done after the 503: %d, %v", dead, err)
	}
	if in, polled := f.pollIn(t, f.oneRefund(t, r).PublicID); !polled || in < refunds.PollAfter.Seconds()-5 {
		t.Fatalf("after the 503 the refund is polled in %.0fs (%v), want at its next turn", in, polled)
	}
	f.pollDue(t)
	if got := f.oneRefund(t, r).Status; got != refunds.StatusSucceeded {
		t.Fatalf("at its next turn the refund is %s, want succeeded", got)
	}
}

// A poll job an earlier release enqueued with its refund (recorded pending, with no
// poll of its own, by an older replica during a rolling deploy) asks Stripe when it
// comes due, as it did; finding the refund still pending, it hands it to the sweep,
// which settles it at its turn.
func TestAnEarlierReleasesPollJobStillAsksStripe(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending})
	r, sr := pendingRefund(t, f)
	id := f.oneRefund(t, r).PublicID
	if _, err := f.env.DB.Exec(`WITH f AS (UPDATE refunds SET poll_at = NULL WHERE public_id = $2 RETURNING id, merchant_id)
		INSERT INTO outbox (merchant_id, kind, payload, max_attempts)
		SELECT merchant_id, $1, json_build_object('refund_id', id)::jsonb, 100 FROM f`, refunds.JobPoll, id); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if n := f.stripeGets(); n != 1 {
		t.Fatalf("the earlier release's job asked Stripe %d times, want once", n)
	}
	if in, polled := f.pollIn(t, id); !polled || in < refunds.PollAfter.Seconds()-5 {
		t.Fatalf("the refund still pending is polled in %.0fs (%v), want handed to the sweep", in, polled)
	}
	if err := f.stripe.SetRefundStatus(sr.ID, fakestripe.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	f.pollDue(t)
	if got := f.oneRefund(t, r).Status; got != refunds.StatusSucceeded {
		t.Fatalf("at the sweep's turn the refund is %s, want succeeded", got)
	}
}
