package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// TestLifecyclesSurviveAKilledReplica is the small version of the fault run: two
// replicas, a few dozen complete lifecycles, one replica SIGKILLed mid-run and
// restarted. The books must balance: every return completed, exactly one Stripe
// refund per refund row, amounts equal to the quotes.
func TestLifecyclesSurviveAKilledReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, Config{
		DatabaseURL: pgtest.ServerURL(),
		Replicas:    2,
		Lifecycles:  40,
		Concurrency: 8,
		KillAt:      12,
		DBConns:     8,
		Workers:     4,
	}, &progress)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())
	if rep.Kills != 1 {
		t.Errorf("got %d kills, want 1", rep.Kills)
	}
	if rep.Completed != 40 {
		t.Errorf("got %d completed lifecycles, want 40", rep.Completed)
	}
	if p := rep.Problems(); len(p) > 0 {
		t.Fatalf("the books do not balance: %s", strings.Join(p, "; "))
	}
	if rep.Books.RefundRows != 40 || rep.Books.StripeRefunds != 40 {
		t.Fatalf("got %d refund rows and %d Stripe refunds, want 40 and 40", rep.Books.RefundRows, rep.Books.StripeRefunds)
	}
}

// The database budget of one complete lifecycle (portal session → quote → create →
// label → scan → receipt → refund sent → Stripe's webhooks → completed), as the
// replica's counting driver reports it. Statements and commits per lifecycle are
// nearly deterministic for one lifecycle at a time (webhook deliveries and emails are
// claimed in batches whose size depends on timing, and an idempotency answer rides
// on the next claim when one comes within 25 ms: 25.5–27.4 statements and 6.7–7.6
// commits a lifecycle in runs of 200, the higher ones beside other tests), so a change
// that adds round trips fails here rather than showing later as lost throughput.
// Lower the ceilings when the count drops.
const (
	maxStatementsPerLifecycle = 34
	maxCommitsPerLifecycle    = 10
)

// TestStatementsPerLifecycle runs lifecycles one at a time through one replica, after
// a short warm-up that the report leaves out, and holds the statements and commits
// each costs under the budget.
func TestStatementsPerLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	const n, warmup = 20, 3
	rep, err := Run(ctx, Config{
		DatabaseURL: pgtest.ServerURL(),
		Replicas:    1,
		Lifecycles:  n,
		Warmup:      warmup,
		Concurrency: 1,
		DBConns:     8,
		Workers:     4,
	}, &progress)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())
	if rep.Completed != n {
		t.Fatalf("got %d completed lifecycles, want %d", rep.Completed, n)
	}
	// the warm-up's lifecycles are in the books but not in the timings or costs
	if p := rep.Problems(); len(p) > 0 {
		t.Fatalf("the books do not balance: %s", strings.Join(p, "; "))
	}
	if rep.Books.Returns != warmup+n {
		t.Fatalf("the books hold %d returns, want %d (warm-up and measured)", rep.Books.Returns, warmup+n)
	}
	if got := len(rep.Latency["create"]); got != n {
		t.Fatalf("%d create timings reported, want %d (the warm-up's left out)", got, n)
	}
	if got := len(rep.ScanToRefund); got != n {
		t.Fatalf("%d scan → refund timings reported, want %d (the warm-up's left out)", got, n)
	}
	// every delivery is counted, but only the measured lifecycles' are timed
	dl := rep.Deliveries
	if len(dl.WebhookLatency) == 0 || len(dl.WebhookLatency) >= dl.Webhooks {
		t.Fatalf("%d webhook timings for %d webhooks: want the measured lifecycles' alone", len(dl.WebhookLatency), dl.Webhooks)
	}
	if len(dl.EmailLatency) == 0 || len(dl.EmailLatency) >= dl.Emails {
		t.Fatalf("%d email timings for %d emails: want the measured lifecycles' alone", len(dl.EmailLatency), dl.Emails)
	}
	statements, commits := rep.Costs.Statements/n, rep.Costs.Commits/n
	if statements == 0 {
		t.Fatal("the replica reported no statements: is the counting driver in use?")
	}
	if statements > maxStatementsPerLifecycle {
		t.Errorf("got %.1f statements per lifecycle, want at most %d", statements, maxStatementsPerLifecycle)
	}
	if commits > maxCommitsPerLifecycle {
		t.Errorf("got %.1f commits per lifecycle, want at most %d", commits, maxCommitsPerLifecycle)
	}
}
