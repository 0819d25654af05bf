package refunds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
	"github.com/roundtriphq/roundtrip/returns"
)

// The test binary doubles as a refund worker process: with these set, TestMain
// runs a worker as `roundtrip serve` would (the refunds service, Stripe through
// stripe-go, the outbox) until its standard input closes.
const (
	envWorkerDB     = "ROUNDTRIP_TEST_REFUND_WORKER_DB"
	envWorkerStripe = "ROUNDTRIP_TEST_REFUND_WORKER_STRIPE"
	envWorkerConc   = "ROUNDTRIP_TEST_REFUND_WORKER_CONCURRENCY"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(envWorkerDB); url != "" {
		os.Exit(workerProcess(url, os.Getenv(envWorkerStripe)))
	}
	os.Exit(m.Run())
}

// countingGateway counts the refunds a process sent.
type countingGateway struct {
	refunds.Gateway
	sent atomic.Int64
}

func (g *countingGateway) Refund(ctx context.Context, req refunds.Request) (refunds.Result, error) {
	res, err := g.Gateway.Refund(ctx, req)
	if err == nil {
		g.sent.Add(1)
	}
	return res, err
}

// workerProcess works the outbox until stdin closes, then prints how many refunds
// it sent.
func workerProcess(dbURL, stripeURL string) int {
	d, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer d.Close()
	conc, _ := strconv.Atoi(os.Getenv(envWorkerConc))
	gw := &countingGateway{Gateway: refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: stripeURL, Timeout: time.Minute})}
	svc := refunds.NewService(d, returns.NewStore(d), gw, "", nil)
	w := outbox.NewWorker(d, dbURL, outbox.Options{Concurrency: conc, Poll: 50 * time.Millisecond})
	svc.Jobs(w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	cancel()
	<-done
	fmt.Printf("sent=%d\n", gw.sent.Load())
	return 0
}

// workerChild is a worker process on the flow's database and fake Stripe.
type workerChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer
}

func startWorker(t *testing.T, f *flow, concurrency int) *workerChild {
	t.Helper()
	c := &workerChild{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(), envWorkerDB+"="+f.env.DBURL, envWorkerStripe+"="+f.stripe.URL(),
		envWorkerConc+"="+strconv.Itoa(concurrency))
	c.cmd.Stdout = &c.stdout
	c.cmd.Stderr = os.Stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// stop closes the child's stdin and returns how many refunds it sent.
func (c *workerChild) stop(t *testing.T) int {
	t.Helper()
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("worker process: %v", err)
	}
	m := regexp.MustCompile(`sent=(\d+)`).FindStringSubmatch(c.stdout.String())
	if m == nil {
		t.Fatalf("worker process said %q, want sent=N", c.stdout.String())
	}
	n, _ := strconv.Atoi(m[1])
	return n
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

// request is apitest's Env.Do for goroutines: it returns errors instead of
// failing the test. A []byte body is sent as it is (a signed payload), anything
// else as JSON.
func (f *flow) request(method, path, token string, body any, headers ...string) (apitest.Response, error) {
	b, raw := body.([]byte)
	if !raw {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return apitest.Response{}, err
		}
	}
	req, err := http.NewRequest(method, f.env.URL+path, bytes.NewReader(b))
	if err != nil {
		return apitest.Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return apitest.Response{}, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return apitest.Response{Status: res.StatusCode, Header: res.Header, Body: out}, err
}

// do sends a request that must answer want and returns the answer's body.
func (f *flow) do(method, path, token string, body any, want int) ([]byte, error) {
	res, err := f.request(method, path, token, body)
	if err != nil {
		return nil, err
	}
	if res.Status != want {
		return res.Body, fmt.Errorf("%s %s: got %d %s, want %d", method, path, res.Status, res.Body, want)
	}
	return res.Body, nil
}

// seedReceived makes nReturns returns of units units each, every one of its own
// order, and receives each of them unit by unit, one parcel after the other, from
// several goroutines: nReturns × units refunds queued with their send jobs, all
// through the API.
func (f *flow) seedReceived(t testing.TB, nReturns, units, workers int) {
	t.Helper()
	parallel(t, nReturns, workers, func(i int) error { return f.seedOne(i, units) })
}

// parallel runs fn(0) … fn(n-1) on workers goroutines and fails the test with
// the errors.
func parallel(t testing.TB, n, workers int, fn func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func (f *flow) seedOne(i, units int) error {
	r, err := f.seedReturn(i, units)
	if err != nil {
		return err
	}
	for range units {
		_, err = f.do("POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), f.shop.Keys[auth.RoleWarehouse], map[string]any{
			"items": []map[string]any{{"line_id": "l1", "quantity": 1, "condition": "new", "disposition": "restock"}}}, http.StatusCreated)
		if err != nil {
			return err
		}
	}
	return nil
}

// seedReturn makes order SEED-<i> of units units of one line and a return of all
// of them, approved and waiting for its parcel(s).
func (f *flow) seedReturn(i, units int) (ret, error) {
	number := fmt.Sprintf("SEED-%04d", i)
	price, tax := 1000+i, 190+i%7
	delivered := time.Now().Add(-48 * time.Hour)
	_, err := f.do("PUT", "/v1/orders/"+number, f.shop.Keys[auth.RoleIntegration], map[string]any{
		"customer": map[string]any{"email": fmt.Sprintf("shopper%d@example.com", i), "first_name": "Shopper",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "country": "GB"}},
		"currency": "EUR", "placed_at": delivered.Add(-72 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines":   []map[string]any{{"id": "l1", "sku": "TEE", "name": "T-shirt", "quantity": units, "unit_price": price, "tax": tax * units}},
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": fmt.Sprintf("pi_seed_%04d", i), "captured": (price + tax) * units},
	}, http.StatusCreated)
	if err != nil {
		return ret{}, err
	}
	body, err := f.do("POST", "/v1/returns", f.shop.Keys[auth.RoleIntegration], map[string]any{
		"order_number": number, "resolution": "refund",
		"items": []map[string]any{{"line_id": "l1", "quantity": units, "reason": "changed_mind"}}}, http.StatusCreated)
	if err != nil {
		return ret{}, err
	}
	var r ret
	err = json.Unmarshal(body, &r)
	return r, err
}

// checkOneStripeRefundPerRow checks that every refund row succeeded with a Stripe
// refund of its own, of its amount, made under its own key, and that Stripe has
// no other refund.
func checkOneStripeRefundPerRow(t *testing.T, f *flow, want int) {
	t.Helper()
	var rows []struct {
		ID             int64          `db:"id"`
		PublicID       string         `db:"public_id"`
		ReturnPublicID string         `db:"return_public_id"`
		RMA            string         `db:"rma"`
		Amount         int64          `db:"amount"`
		Status         refunds.Status `db:"status"`
		StripeID       *string        `db:"stripe_refund_id"`
	}
	if err := f.env.DB.Select(&rows, `SELECT f.id, f.public_id, r.public_id AS return_public_id, r.rma, f.amount, f.status,
		f.stripe_refund_id FROM refunds f JOIN returns r ON r.id = f.return_id ORDER BY f.id`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != want {
		t.Fatalf("got %d refund rows, want %d", len(rows), want)
	}
	stripe := map[string]fakestripe.Refund{}
	for _, sr := range f.stripe.Refunds() {
		stripe[sr.ID] = sr
	}
	if len(stripe) != want {
		t.Errorf("got %d Stripe refunds, want %d: one per refund row", len(stripe), want)
	}
	for _, row := range rows {
		if row.Status != refunds.StatusSucceeded || row.StripeID == nil {
			t.Errorf("refund %d: got %s with Stripe ID %v, want succeeded", row.ID, row.Status, row.StripeID)
			continue
		}
		sr, ok := stripe[*row.StripeID]
		if !ok || sr.Amount != row.Amount || sr.IdempotencyKey != refunds.IdempotencyKey(row.ID, 0) {
			t.Errorf("refund %d of %d: got Stripe refund %+v (found %v)", row.ID, row.Amount, sr, ok)
		}
		// Stripe keeps public IDs only: an internal ID would show the platform's volume
		if want := map[string]string{"refund_id": row.PublicID, "return_id": row.ReturnPublicID, "rma": row.RMA}; ok && !maps.Equal(sr.Metadata, want) {
			t.Errorf("refund %d: got Stripe metadata %v, want %v", row.ID, sr.Metadata, want)
		}
		delete(stripe, *row.StripeID) // a second row naming it would fail above
	}
	var open int
	if err := f.env.DB.Get(&open, `SELECT count(*) FROM returns WHERE state <> 'completed'`); err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Errorf("got %d returns not completed, want 0", open)
	}
}

// TestTwoWorkerProcessesRace: two worker processes race over 200 queued refunds
// (20 returns received in 10 parcels each, so the processes also settle refunds
// of one return side by side); SKIP LOCKED and the row lock make it 200 Stripe
// refunds, one per row, and every return completed.
func TestTwoWorkerProcessesRace(t *testing.T) {
	t.Parallel()
	const nReturns, parcels, n = 20, 10, 20 * 10
	f := newFlow(t, fakestripe.Options{})
	f.seedReceived(t, nReturns, parcels, 4)
	var queued int
	if err := f.env.DB.Get(&queued, `SELECT count(*) FROM outbox WHERE kind = $1 AND state = 'pending'`, refunds.JobSend); err != nil {
		t.Fatal(err)
	}
	if queued != n {
		t.Fatalf("got %d send jobs queued, want %d", queued, n)
	}

	a, b := startWorker(t, f, 4), startWorker(t, f, 4)
	waitFor(t, "every refund sent", 60*time.Second, func() bool {
		var left int
		f.env.DB.Get(&left, `SELECT count(*) FROM outbox WHERE kind = $1 AND state <> 'done'`, refunds.JobSend)
		return left == 0
	})
	sentA, sentB := a.stop(t), b.stop(t)
	t.Logf("worker processes sent %d and %d refunds", sentA, sentB)
	if sentA+sentB != n {
		t.Errorf("got %d + %d refunds sent by the processes, want %d", sentA, sentB, n)
	}
	checkOneStripeRefundPerRow(t, f, n)
	if posts := len(f.postRefunds()); posts != n {
		t.Errorf("got %d POST /v1/refunds, want %d: no refund was sent twice", posts, n)
	}
}

// TestWorkerKilledMidRefund: a worker process is SIGKILLed after Stripe made the
// refund and before the worker recorded it; the next worker sends it again under
// the same Idempotency-Key and Stripe answers the refund it made.
func TestWorkerKilledMidRefund(t *testing.T) {
	t.Parallel()
	// Stripe's charge.refunded webhook tells the test that the refund exists.
	made := make(chan string, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Type string `json:"type"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		select {
		case made <- ev.Type:
		default:
		}
	}))
	t.Cleanup(hook.Close)
	f := newFlow(t, fakestripe.Options{WebhookURL: hook.URL})
	// three returns on NW-1: three refund rows queued
	for _, it := range []map[string]any{
		{"line_id": "l1", "quantity": 1, "reason": "too_small"},
		{"line_id": "l1", "quantity": 1, "reason": "too_large"},
		{"line_id": "l2", "quantity": 1, "reason": "changed_mind"},
	} {
		r := f.createReturn(t, it)
		it = map[string]any{"line_id": it["line_id"], "quantity": 1, "condition": "new", "disposition": "restock"}
		f.mustReceive(t, r, it)
	}
	// Stripe makes the first refund, then withholds the answer.
	f.stripe.Inject(fakestripe.Fault{Kind: fakestripe.Timeout, Executed: true, Method: "POST", Path: "/v1/refunds", Times: 1})

	child := startWorker(t, f, 1)
	select {
	case typ := <-made:
		if typ != "charge.refunded" {
			t.Fatalf("got webhook %s, want charge.refunded", typ)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker process did not send a refund")
	}
	if n := f.stripe.RefundCount(); n != 1 {
		t.Fatalf("got %d Stripe refunds while the worker waits, want 1", n)
	}
	var id int64
	if err := f.env.DB.Get(&id, `SELECT id FROM refunds WHERE public_id = $1`, f.stripe.Refunds()[0].Metadata["refund_id"]); err != nil {
		t.Fatal(err)
	}
	// The refund exists in Stripe; ours is still queued, locked by the worker's
	// open transaction.
	var status refunds.Status
	if err := f.env.DB.Get(&status, `SELECT status FROM refunds WHERE id = $1`, id); err != nil || status != refunds.StatusQueued {
		t.Fatalf("got refund %d %q (%v) while the worker waits, want queued", id, status, err)
	}
	tx := f.env.DB.MustBegin()
	_, err := tx.Exec(`SELECT id FROM refunds WHERE id = $1 FOR UPDATE NOWAIT`, id)
	tx.Rollback()
	var pqe *pq.Error
	if !errors.As(err, &pqe) || pqe.Code != "55P03" {
		t.Fatalf("got %v locking refund %d, want lock_not_available: the worker holds it", err, id)
	}

	if err := child.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := child.cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("got %v from the worker process, want killed", err)
	}
	// PostgreSQL rolls the dead worker's transaction back when it sees the
	// connection gone: wait for the row lock, without polling.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tx, err = f.env.DB.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT id FROM refunds WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatalf("waiting for the dead worker's lock: %v", err)
	}
	tx.Rollback()

	f.drain(t) // the restarted worker
	checkOneStripeRefundPerRow(t, f, 3)
	var again []fakestripe.Request
	for _, r := range f.postRefunds() {
		if r.IdempotencyKey == refunds.IdempotencyKey(id, 0) {
			again = append(again, r)
		}
	}
	if len(again) != 2 || again[0].Fault != fakestripe.Timeout || !again[1].Replayed {
		t.Errorf("got %d requests for refund %d %+v, want the withheld one and a replay", len(again), id, again)
	}
}
