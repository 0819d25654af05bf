package labels_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/labels/fakeshippo"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/returns"
)

// The test binary doubles as a label worker process: with these set, TestMain runs
// the labels service's jobs on the outbox, as `roundtrip serve` would, until its
// standard input closes.
const (
	envWorkerDB     = "ROUNDTRIP_TEST_LABEL_WORKER_DB"
	envWorkerShippo = "ROUNDTRIP_TEST_LABEL_WORKER_SHIPPO"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(envWorkerDB); url != "" {
		os.Exit(workerProcess(url, os.Getenv(envWorkerShippo)))
	}
	os.Exit(m.Run())
}

func workerProcess(dbURL, shippoURL string) int {
	d, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer d.Close()
	svc := labels.NewService(d, returns.NewStore(d), merchant.NewStore(d), "", nil)
	svc.Shippo = labels.ShippoOptions{APIBase: shippoURL, Timeout: 5 * time.Minute}
	w := outbox.NewWorker(d, dbURL, outbox.Options{Concurrency: 1, Poll: 50 * time.Millisecond})
	svc.Jobs(w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	cancel()
	<-done
	return 0
}

// waitFor polls cond until it holds or the limit passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
	}
}

// TestWorkerKilledBetweenPurchaseAndCommit: a worker process buys the label at
// (fake) Shippo, whose answer is held back, and is SIGKILLed before it can record the
// purchase. The next worker finds the purchase by its metadata: one label bought,
// by the fake's own count, and the parcel has that label.
func TestWorkerKilledBetweenPurchaseAndCommit(t *testing.T) {
	t.Parallel()
	f := newShipFlow(t, shipOptions{})
	f.shippo.Inject(fakeshippo.Fault{Kind: fakeshippo.LostResponse, Method: "POST", Path: "/transactions"})
	r := f.create(t)
	var parcelID int64
	if err := f.env.DB.Get(&parcelID, `SELECT id FROM parcels WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envWorkerDB+"="+f.env.DBURL, envWorkerShippo+"="+f.shippo.URL())
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if child.ProcessState == nil {
			child.Process.Kill()
			child.Wait()
		}
	})
	waitFor(t, "the worker process to buy the label", 60*time.Second, func() bool { return len(f.shippo.Purchases()) == 1 })

	// Shippo sold the label; our parcel is still preparing, locked by the worker's
	// open transaction that waits for the answer.
	var status string
	if err := f.env.DB.Get(&status, `SELECT status FROM parcels WHERE id = $1`, parcelID); err != nil || status != "preparing" {
		t.Fatalf("got parcel %q (%v) while the worker waits, want preparing", status, err)
	}
	tx := f.env.DB.MustBegin()
	_, err = tx.Exec(`SELECT id FROM parcels WHERE id = $1 FOR UPDATE NOWAIT`, parcelID)
	tx.Rollback()
	var pqe *pq.Error
	if !errors.As(err, &pqe) || pqe.Code != "55P03" {
		t.Fatalf("got %v locking parcel %d, want lock_not_available: the worker holds it", err, parcelID)
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("got %v from the worker process, want killed", err)
	}
	// PostgreSQL rolls the dead worker's transaction back when it sees the
	// connection gone: wait for the row lock, without polling.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ltx, err := f.env.DB.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ltx.ExecContext(ctx, `SELECT id FROM parcels WHERE id = $1 FOR UPDATE`, parcelID); err != nil {
		t.Fatalf("waiting for the dead worker's lock: %v", err)
	}
	ltx.Rollback()

	f.drain(t) // the next worker
	buys := f.shippo.Purchases()
	if len(buys) != 1 {
		t.Fatalf("got %d labels bought at Shippo, want 1", len(buys))
	}
	p := f.parcels(t, r.ID)[0]
	if p.Status != "issued" || p.TrackingNumber != buys[0].TrackingNumber {
		t.Fatalf("got parcel %+v, want issued with the one purchase's tracking number %s", p, buys[0].TrackingNumber)
	}
	posts := 0
	for _, q := range f.shippo.Requests() {
		if q.Method == "POST" && q.Path == "/transactions" {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("got %d purchase requests, want 1: the next worker looked the purchase up instead", posts)
	}
}
