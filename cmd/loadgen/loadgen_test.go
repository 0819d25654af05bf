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
