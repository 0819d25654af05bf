package reconcile_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
)

// BenchmarkReconcile100k reconciles 100,000 of our refunds, sent over March 2026,
// against a fake Stripe holding the same refunds (100 a page, balance transactions
// expanded) with discrepancies mixed in: every 100th refund has another amount in
// Stripe, every 1,000th is missing there (and is looked up by ID), and 100 refunds
// exist only in Stripe. Both sides are seeded before the timer starts.
//
//	go test -run '^$' -bench Reconcile100k -benchtime 1x ./refunds/reconcile/
func BenchmarkReconcile100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	d := pgtest.New(b)
	m, err := merchant.NewStore(d).Create(ctx, "bench", "Bench", merchant.Settings{})
	if err != nil {
		b.Fatal(err)
	}
	step := 26 * time.Second // 100,000 refunds over 30 days
	seeder{b, d}.bulk(m.ID, n, 10, day(1, 0), n*step)

	stripe := fakestripe.New(fakestripe.Options{Currency: "eur"})
	defer stripe.Close()
	rows, err := d.QueryContext(ctx, `SELECT id, stripe_refund_id, amount, sent_at, payment_intent_id FROM refunds
		WHERE merchant_id = $1 ORDER BY id`, m.ID)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for rows.Next() {
		var id, amount int64
		var sid, pi string
		var sent time.Time
		if err := rows.Scan(&id, &sid, &amount, &sent, &pi); err != nil {
			b.Fatal(err)
		}
		i++
		switch {
		case i%1000 == 0:
			continue // missing in Stripe
		case i%100 == 0:
			amount++ // another amount in Stripe
		}
		stripe.SeedRefund(fakestripe.Refund{ID: sid, PaymentIntent: pi, Amount: amount, Currency: "eur", Created: sent,
			Metadata: map[string]string{"refund_id": strconv.FormatInt(id, 10)}})
	}
	if err := rows.Close(); err != nil {
		b.Fatal(err)
	}
	for j := range 100 { // made in Stripe's dashboard
		stripe.SeedRefund(fakestripe.Refund{PaymentIntent: fmt.Sprintf("pi_bulk_%d", j+1), Amount: 500,
			Created: day(1, 0).Add(time.Duration(j) * time.Hour)})
	}
	gateway := refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: stripe.URL(), Timeout: time.Minute})
	svc := reconcile.New(d, gateway, nil)
	p := periodOf(b, "2026-03-01", "2026-04-01")

	for b.Loop() {
		run, _, err := svc.Create(ctx, m.ID, p, "bench", "", false)
		if err != nil {
			b.Fatal(err)
		}
		done, err := svc.Execute(ctx, run.ID, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		totals, err := svc.Totals(ctx, m.ID, run.ID)
		if err != nil {
			b.Fatal(err)
		}
		counts := map[reconcile.Class]int64{}
		for _, t := range totals {
			counts[t.Class] += t.Count
		}
		want := map[reconcile.Class]int64{reconcile.Matched: n - 1000, reconcile.AmountMismatch: 900,
			reconcile.MissingInStripe: 100, reconcile.MissingLocally: 100}
		for c, w := range want {
			if counts[c] != w {
				b.Fatalf("got %d %s lines, want %d (%+v)", counts[c], c, w, done.Progress)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "refunds/s")
}

// BenchmarkRefundsCSV100k streams the export of 100,000 refunds through the API and
// csv.Reader, reporting the bytes exported and the largest growth of the heap in use
// while streaming (client and server together).
//
//	go test -run '^$' -bench RefundsCSV100k -benchtime 3x ./refunds/reconcile/
func BenchmarkRefundsCSV100k(b *testing.B) {
	const n = 100_000
	env := apitest.New(b)
	shop := env.Merchant(b, "bench")
	seeder{b, env.DB}.bulk(shop.Merchant.ID, n, 10, day(1, 0), 3*24*time.Hour)
	var peak uint64
	var size int64
	for b.Loop() {
		rows, sz, pk := exportRefunds(b, env, shop.Keys[auth.RoleFinance], "2026-03-01", "2026-03-04")
		if rows != n {
			b.Fatalf("got %d rows, want %d", rows, n)
		}
		size, peak = sz, max(peak, pk)
	}
	runtime.KeepAlive(env)
	b.SetBytes(size)
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(size)/(1<<20), "csv-MiB")
}
