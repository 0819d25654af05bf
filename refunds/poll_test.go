package refunds_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// pollJob is a refund's poll job as the outbox holds it.
type pollJob struct {
	State     string  `db:"state"`
	Attempts  int     `db:"attempts"`
	DueIn     float64 `db:"due_in"`
	LastError *string `db:"last_error"`
}

// pollJobs lists the poll jobs of the refund with public ID id, oldest first.
func (f *flow) pollJobs(t *testing.T, id string) []pollJob {
	t.Helper()
	var out []pollJob
	if err := f.env.DB.Select(&out, `SELECT state, attempts, extract(epoch FROM run_at - now())::float8 AS due_in, last_error
		FROM outbox WHERE kind = $1 AND payload->>'refund_id' = (SELECT id::text FROM refunds WHERE public_id = $2) ORDER BY id`,
		refunds.JobPoll, id); err != nil {
		t.Fatal(err)
	}
	return out
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

// A refund's poll job is enqueued with its send job. When it comes due before the
// refund could be sent (Stripe answered 503 and the send waits for its retry), it asks
// Stripe nothing and looks again PollAfter later, counting no failure; once the refund
// is sent and pending, it asks Stripe and records the answer.
func TestAPollDueBeforeItsRefundIsSentWaits(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending})
	f.stripe.Inject(fakestripe.Fault{Kind: fakestripe.Status503, Method: "POST", Path: "/v1/refunds", Times: 1})
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
	f.mustReceive(t, r, received)
	rf := f.oneRefund(t, r)
	if jobs := f.pollJobs(t, rf.PublicID); len(jobs) != 1 || jobs[0].State != "pending" ||
		jobs[0].DueIn < refunds.PollAfter.Seconds()-5 || jobs[0].DueIn > refunds.PollAfter.Seconds()+1 {
		t.Fatalf("a new refund's poll jobs: %+v, want one pending, due in about %s", jobs, refunds.PollAfter)
	}

	f.runOne(t) // the send: Stripe answers 503
	if got := f.oneRefund(t, r).Status; got != refunds.StatusQueued {
		t.Fatalf("after a 503 the refund is %s, want queued", got)
	}
	f.due(t, refunds.JobSend, false)
	f.due(t, refunds.JobPoll, true)
	f.runOne(t) // the poll, before the send's retry
	for _, req := range f.stripe.RequestLog() {
		if req.Method == http.MethodGet {
			t.Errorf("the poll of an unsent refund asked Stripe: %s %s", req.Method, req.Path)
		}
	}
	jobs := f.pollJobs(t, rf.PublicID)
	if len(jobs) != 1 || jobs[0].State != "pending" || jobs[0].Attempts != 0 || jobs[0].DueIn < refunds.PollAfter.Seconds()-5 {
		t.Fatalf("the poll of an unsent refund left %+v, want it pending again, no failure counted, due in about %s", jobs, refunds.PollAfter)
	}

	f.due(t, refunds.JobSend, true)
	f.drain(t)
	sent := f.oneRefund(t, r)
	if sent.Status != refunds.StatusPending || sent.StripeRefundID == nil {
		t.Fatalf("after the send's retry the refund is %s, want pending at Stripe", sent.Status)
	}
	if err := f.stripe.SetRefundStatus(*sent.StripeRefundID, fakestripe.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	f.due(t, refunds.JobPoll, true)
	f.drain(t)
	if got := f.oneRefund(t, r).Status; got != refunds.StatusSucceeded {
		t.Fatalf("after the poll the refund is %s, want succeeded", got)
	}
	if jobs := f.pollJobs(t, rf.PublicID); len(jobs) != 1 || jobs[0].State != "done" || jobs[0].LastError != nil {
		t.Fatalf("poll jobs %+v, want the one job done", jobs)
	}
}

// A refund Stripe refuses needs no poll: its poll job is canceled with the refusal.
// Finance's retry is a new attempt with a send job and a poll job of its own.
func TestARefusedRefundsPollIsCanceledAndARetryPollsAgain(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending})
	_, rf := f.failedRefund(t, 1)
	jobs := f.pollJobs(t, rf.PublicID)
	if len(jobs) != 1 || jobs[0].State != "done" || jobs[0].LastError == nil || !strings.HasPrefix(*jobs[0].LastError, "canceled") {
		t.Fatalf("a refused refund's poll jobs: %+v, want one, done unrun (canceled)", jobs)
	}
	res := f.env.Do(t, "POST", fmt.Sprintf("/v1/refunds/%s/retry", rf.PublicID), f.shop.Keys[auth.RoleFinance], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("retry: %d %s", res.Status, res.Body)
	}
	jobs = f.pollJobs(t, rf.PublicID)
	if len(jobs) != 2 || jobs[1].State != "pending" || jobs[1].DueIn < refunds.PollAfter.Seconds()-5 {
		t.Fatalf("after the retry, poll jobs %+v, want a second one pending, due in about %s", jobs, refunds.PollAfter)
	}
}
