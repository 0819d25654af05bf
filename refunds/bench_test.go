package refunds_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// BenchmarkScanToRefundSent measures, under concurrent load, how long a refund takes
// from the warehouse to Stripe: b.N returns are waiting for their parcel; 16 scan
// stations scan a parcel and post its receipt; one running outbox worker (woken by
// NOTIFY, 8 jobs at a time) sends the refunds. For each refund it takes the time
// from the receipt's POST (p50-ms, p99-ms), and from the scan before it
// (scan-p50-ms, scan-p99-ms), to the refund being created in the fake Stripe.
//
//	go test -run '^$' -bench ScanToRefund -benchtime 200x ./refunds/
func BenchmarkScanToRefundSent(b *testing.B) {
	const stations = 16
	f := newFlow(b, fakestripe.Options{}, withWorker(outbox.Options{Concurrency: 8}))
	rs := make([]ret, b.N+1) // the last one warms the worker up
	parallel(b, len(rs), 8, func(i int) (err error) {
		rs[i], err = f.seedReturn(i, 1)
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.worker.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// Stripe's metadata names our returns by their public IDs
	byReturn := make(map[string]int, len(rs))
	for i, r := range rs {
		byReturn[r.ID] = i
	}
	scanned := make([]time.Time, len(rs))
	posted := make([]time.Time, len(rs))
	arrive := func(i int) error {
		scanned[i] = time.Now()
		if _, err := f.do("POST", "/v1/scans", f.shop.Keys[auth.RoleWarehouse], map[string]any{"code": "]C0" + rs[i].RMA}, http.StatusOK); err != nil {
			return err
		}
		posted[i] = time.Now()
		_, err := f.do("POST", fmt.Sprintf("/v1/returns/%s/receipts", rs[i].ID), f.shop.Keys[auth.RoleWarehouse], map[string]any{
			"items": []map[string]any{{"line_id": "l1", "quantity": 1, "condition": "new", "disposition": "restock"}}}, http.StatusCreated)
		return err
	}
	sent := func(n int) {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		deadline := time.After(2 * time.Minute)
		for f.stripe.RefundCount() < n {
			select {
			case <-tick.C:
			case <-deadline:
				b.Fatalf("got %d Stripe refunds after 2 minutes, want %d", f.stripe.RefundCount(), n)
			}
		}
	}
	// warm-up: the listener is up and the worker idle once this refund is sent
	if err := arrive(b.N); err != nil {
		b.Fatal(err)
	}
	sent(1)

	b.ResetTimer()
	parallel(b, b.N, stations, arrive)
	sent(b.N + 1)
	b.StopTimer()

	var fromReceipt, fromScan []time.Duration
	for _, sr := range f.stripe.Refunds() {
		i, ok := byReturn[sr.Metadata["return_id"]]
		if !ok {
			b.Fatalf("Stripe refund %s of unknown return %q", sr.ID, sr.Metadata["return_id"])
		}
		if i == b.N {
			continue
		}
		fromReceipt = append(fromReceipt, sr.Created.Sub(posted[i]))
		fromScan = append(fromScan, sr.Created.Sub(scanned[i]))
	}
	if len(fromReceipt) != b.N {
		b.Fatalf("got %d Stripe refunds, want %d", len(fromReceipt), b.N)
	}
	b.ReportMetric(ms(percentile(fromReceipt, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(fromReceipt, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(fromScan, 50)), "scan-p50-ms")
	b.ReportMetric(ms(percentile(fromScan, 99)), "scan-p99-ms")
}

// percentile is the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
