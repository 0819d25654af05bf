package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/notify"
)

// clock is a settable time source for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// request is what a receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver is an HTTP server standing in for the shop's systems: answer decides each
// reply from the number of requests before it.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []request
	seen chan struct{}
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{seen: make(chan struct{}, 1000)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, request{header: r.Header.Clone(), body: b})
		rc.mu.Unlock()
		rc.seen <- struct{}{}
		r.Body = io.NopCloser(bytes.NewReader(b)) // for an answer that depends on it
		answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func ok(_ int, w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"received":true}`)) }

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

// bundle is what a test works with.
type bundle struct {
	db       *sqlx.DB
	url      string
	merchant int64
	clock    *clock
	svc      *notify.Service
	worker   *outbox.Worker
}

// local lets endpoints point at the test's own receivers on 127.0.0.1.
var local = notify.Options{AllowHTTP: true, AllowPrivate: true}

func setup(t *testing.T, opts notify.Options) *bundle {
	t.Helper()
	d, url := pgtest.NewWithURL(t)
	m, err := merchant.NewStore(d).Create(context.Background(), "shop", "Shop", merchant.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	opts.Now = c.Now
	svc := notify.New(d, opts)
	w := outbox.NewWorker(d, url, outbox.Options{})
	svc.Jobs(w)
	return &bundle{db: d, url: url, merchant: m.ID, clock: c, svc: svc, worker: w}
}

func (b *bundle) endpoint(t *testing.T, url string, events ...notify.EventType) (notify.WebhookEndpoint, string) {
	t.Helper()
	e, secret, err := b.svc.CreateEndpoint(context.Background(), b.merchant,
		notify.EndpointInput{URL: url, EnabledEvents: events, Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	return e, secret
}

func (b *bundle) publish(t *testing.T, typ notify.EventType, data any) {
	t.Helper()
	tx := b.db.MustBegin()
	defer tx.Rollback()
	if err := b.svc.Publish(context.Background(), tx, b.merchant, typ, data); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// runOne runs one due job and reports whether there was one.
func (b *bundle) runOne(t *testing.T) bool {
	t.Helper()
	did, err := b.worker.RunOne(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return did
}

// makeDue moves every scheduled job to now, as if its time had come.
func (b *bundle) makeDue(t *testing.T) {
	t.Helper()
	if _, err := b.db.Exec(`UPDATE outbox SET run_at = now() WHERE state = 'pending'`); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) onlyDelivery(t *testing.T) notify.WebhookDeliveryDetail {
	t.Helper()
	list, _, err := b.svc.Deliveries(context.Background(), b.merchant, notify.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(list))
	}
	d, err := b.svc.Delivery(context.Background(), b.merchant, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// listedAttempts is how many attempts the merchant's deliveries list, as the API
// shows them (the log's failed ones and the succeeded ones on their deliveries).
func (b *bundle) listedAttempts(t *testing.T) int {
	t.Helper()
	n := 0
	f := notify.DeliveryFilter{Limit: 100}
	for {
		list, more, err := b.svc.Deliveries(context.Background(), b.merchant, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			detail, err := b.svc.Delivery(context.Background(), b.merchant, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			n += len(detail.Attempts)
		}
		if !more {
			return n
		}
		f.After = list[len(list)-1].ID
	}
}

// loggedAttempts is how many rows the attempts' log holds.
func (b *bundle) loggedAttempts(t *testing.T) int {
	t.Helper()
	var n int
	if err := b.db.Get(&n, `SELECT count(*) FROM webhook_delivery_attempts`); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeliveryIsSignedPerStandardWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	rc := newReceiver(t, ok)
	_, secret := b.endpoint(t, rc.URL+"/hooks")
	b.publish(t, notify.ReturnApproved, map[string]any{"id": 1042, "rma": "R-7KQ4-M2XD"})
	if !b.runOne(t) {
		t.Fatal("no job to run after publishing")
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("got %d requests, want 1", len(got))
	}
	req := got[0]
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(req.body, req.header); err != nil {
		t.Fatalf("the reference library refuses the delivery: %v\n%s\n%v", err, req.body, req.header)
	}
	var env struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		APIVersion string          `json:"api_version"`
		CreatedAt  time.Time       `json:"created_at"`
		Data       json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(req.body, &env); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(env.ID, "evt_") || req.header.Get("webhook-id") != env.ID {
		t.Errorf("got event ID %q and webhook-id %q, want one evt_ ID in both", env.ID, req.header.Get("webhook-id"))
	}
	if env.Type != "return.approved" || env.APIVersion != notify.APIVersion || string(env.Data) != `{"id":1042,"rma":"R-7KQ4-M2XD"}` {
		t.Errorf("got envelope %s", req.body)
	}
	if ct, ua := req.header.Get("Content-Type"), req.header.Get("User-Agent"); ct != "application/json" || ua != "Roundtrip-Webhooks/1" {
		t.Errorf("got Content-Type %q and User-Agent %q", ct, ua)
	}
	d := b.onlyDelivery(t)
	if d.Status != notify.StatusSucceeded || d.AttemptCount != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 200 {
		t.Errorf("got delivery %+v, want succeeded after 1 attempt with 200", d.WebhookDelivery)
	}
	if len(d.Attempts) != 1 || d.Attempts[0].ResponseExcerpt != `{"received":true}` || d.Attempts[0].Error != "" {
		t.Errorf("got attempts %+v, want one with the answer's body", d.Attempts)
	}
	if d.Event.ID != env.ID || d.Event.Type != notify.ReturnApproved {
		t.Errorf("got event %+v in the delivery, want %s", d.Event, env.ID)
	}
	if b.runOne(t) {
		t.Error("a job was left after a successful delivery")
	}
}

func TestFailingReceiverGetsTheEventOnTheFourthAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	big := strings.Repeat("error detail ", 10000) // 130 KB: read at most 64 KB, keep 1 KB
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, big)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	_, secret := b.endpoint(t, rc.URL)
	b.publish(t, notify.RefundSucceeded, map[string]any{"id": 501})

	var sent []time.Time
	for attempt := 1; attempt <= 4; attempt++ {
		sent = append(sent, b.clock.Now())
		if !b.runOne(t) {
			t.Fatalf("attempt %d: nothing to run", attempt)
		}
		d := b.onlyDelivery(t)
		if attempt == 4 {
			if d.Status != notify.StatusSucceeded || d.NextAttemptAt != nil {
				t.Fatalf("after attempt 4: got %s, want succeeded", d.Status)
			}
			break
		}
		if d.Status != notify.StatusFailed || d.NextAttemptAt == nil || d.LastError != "HTTP 500" {
			t.Fatalf("after attempt %d: got %+v, want failed with a next attempt", attempt, d.WebhookDelivery)
		}
		// the next attempt is scheduled per Backoff, not run at once
		wait := d.NextAttemptAt.Sub(b.clock.Now())
		full := 30 * time.Second << (attempt - 1)
		if wait < full*4/5-time.Millisecond || wait > full {
			t.Errorf("after attempt %d: next attempt in %s, want between %s and %s", attempt, wait, full*4/5, full)
		}
		if b.runOne(t) {
			t.Fatalf("after attempt %d: a job ran before its time", attempt)
		}
		b.clock.Set(*d.NextAttemptAt)
		b.makeDue(t)
	}

	got := rc.requests()
	if len(got) != 4 {
		t.Fatalf("got %d requests, want 4", len(got))
	}
	wh, _ := standardwebhooks.NewWebhook(secret)
	for i, r := range got {
		if r.header.Get("webhook-id") != got[0].header.Get("webhook-id") || string(r.body) != string(got[0].body) {
			t.Errorf("attempt %d: the webhook-id or body changed between attempts", i+1)
		}
		if ts := r.header.Get("webhook-timestamp"); ts != strconv.FormatInt(sent[i].Unix(), 10) {
			t.Errorf("attempt %d: webhook-timestamp %s, want the time of the attempt %d", i+1, ts, sent[i].Unix())
		}
		if err := wh.VerifyIgnoringTimestamp(r.body, r.header); err != nil {
			t.Errorf("attempt %d: signature refused: %v", i+1, err)
		}
	}
	d := b.onlyDelivery(t)
	var codes []string
	for _, a := range d.Attempts {
		codes = append(codes, strconv.Itoa(*a.StatusCode))
		if *a.StatusCode == 500 && (len(a.ResponseExcerpt) != 1024 || !strings.HasPrefix(big, a.ResponseExcerpt)) {
			t.Errorf("got a %d-byte excerpt, want the first 1024 bytes of the answer", len(a.ResponseExcerpt))
		}
	}
	if strings.Join(codes, ",") != "500,500,500,204" || d.AttemptCount != 4 {
		t.Errorf("got attempts %v (count %d), want 500,500,500,204", codes, d.AttemptCount)
	}
}

func TestHangingReceiverIsCutAtTheTimeout(t *testing.T) {
	t.Parallel()
	opts := local
	opts.Timeout = 300 * time.Millisecond
	b := setup(t, opts)
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	b.endpoint(t, rc.URL)
	b.publish(t, notify.ParcelInTransit, map[string]any{"tracking_number": "RR123456785GB"})
	if !b.runOne(t) {
		t.Fatal("nothing to run")
	}
	d := b.onlyDelivery(t)
	if d.Status != notify.StatusFailed || len(d.Attempts) != 1 {
		t.Fatalf("got %+v, want failed after one attempt", d)
	}
	a := d.Attempts[0]
	if a.StatusCode != nil || a.Error != "timed out after 300ms" || d.LastError != a.Error {
		t.Errorf("got attempt %+v and last error %q, want no status and 'timed out after 300ms'", a, d.LastError)
	}
}

func TestOnlyEnabledSubscribedEndpointsGetEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	ctx := context.Background()
	all := newReceiver(t, ok)
	off := newReceiver(t, ok)
	refundsOnly := newReceiver(t, ok)
	laterOff := newReceiver(t, ok)
	b.endpoint(t, all.URL)
	if _, _, err := b.svc.CreateEndpoint(ctx, b.merchant, notify.EndpointInput{URL: off.URL, Enabled: false}, ""); err != nil {
		t.Fatal(err)
	}
	b.endpoint(t, refundsOnly.URL, notify.RefundSucceeded, notify.RefundFailed)
	later, _ := b.endpoint(t, laterOff.URL)

	b.publish(t, notify.ReturnApproved, map[string]any{"id": 1})
	// disabled after the event was published: its delivery is parked, not sent
	disabled := false
	if _, err := b.svc.UpdateEndpoint(ctx, b.merchant, later.ID, notify.EndpointPatch{Enabled: &disabled}, "key:7"); err != nil {
		t.Fatal(err)
	}
	for b.runOne(t) {
	}
	if n := len(all.requests()); n != 1 {
		t.Errorf("the enabled endpoint got %d requests, want 1", n)
	}
	for name, rc := range map[string]*receiver{"disabled": off, "subscribed to refunds only": refundsOnly, "disabled later": laterOff} {
		if n := len(rc.requests()); n != 0 {
			t.Errorf("the %s endpoint got %d requests, want none", name, n)
		}
	}
	parked, _, err := b.svc.Deliveries(ctx, b.merchant, notify.DeliveryFilter{EndpointID: later.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(parked) != 1 || parked[0].Status != notify.StatusParked || parked[0].AttemptCount != 0 {
		t.Errorf("got %+v for the endpoint disabled later, want one parked delivery without attempts", parked)
	}
	if _, err := b.svc.RetryDelivery(ctx, b.merchant, parked[0].ID); !errors.Is(err, notify.ErrEndpointDisabled) {
		t.Errorf("retry to a disabled endpoint: got %v, want ErrEndpointDisabled", err)
	}
	e, err := b.svc.Endpoint(ctx, b.merchant, later.ID)
	if err != nil || e.Enabled || e.DisabledReason != "Disabled by key:7." {
		t.Errorf("got %+v, %v; want disabled with the reason naming the key", e, err)
	}

	b.publish(t, notify.RefundSucceeded, map[string]any{"id": 2})
	for b.runOne(t) {
	}
	if n := len(refundsOnly.requests()); n != 1 {
		t.Errorf("the refunds endpoint got %d requests for refund.succeeded, want 1", n)
	}
}

func TestTwoWorkersDeliverEachEventOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	var mu sync.Mutex
	count := map[string]int{}
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		count[r.Header.Get("webhook-id")]++
		mu.Unlock()
	})
	b.endpoint(t, rc.URL)
	const n = 60
	for i := range n {
		b.publish(t, notify.ReturnCreated, map[string]any{"id": i})
	}

	// a second replica: its own connection pool, its own service and worker
	other, err := sqlx.Open("postgres", b.url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range []*sqlx.DB{b.db, other} {
		w := outbox.NewWorker(d, b.url, outbox.Options{Concurrency: 3, Poll: 20 * time.Millisecond})
		notify.New(d, local).Jobs(w)
		wg.Go(func() { _ = w.Run(ctx) })
	}
	deadline := time.After(60 * time.Second)
	for i := range n {
		select {
		case <-rc.seen:
		case <-deadline:
			t.Fatalf("got %d of %d requests in a minute", i, n)
		}
	}
	// every job done means no attempt is still in flight
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var left int
		if err := b.db.Get(&left, `SELECT count(*) FROM outbox WHERE state <> 'done'`); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d jobs still not done", left)
		}
	}
	cancel()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(count) != n {
		t.Fatalf("got %d distinct events, want %d", len(count), n)
	}
	for id, c := range count {
		if c != 1 {
			t.Errorf("event %s delivered %d times, want once", id, c)
		}
	}
	if got := b.listedAttempts(t); got != n {
		t.Errorf("got %d attempts listed, want %d", got, n)
	}
	if got := b.loggedAttempts(t); got != 0 {
		t.Errorf("got %d attempts in the log, want none: every one succeeded and stays on its delivery", got)
	}
}

func TestDialTimeCheckRefusesLoopbackWhateverTheRow(t *testing.T) {
	t.Parallel()
	// http allowed, private addresses not: as in production, but with a row that
	// got past the save-time check (written before the rule, or DNS rebinding)
	b := setup(t, notify.Options{AllowHTTP: true})
	rc := newReceiver(t, ok)
	if _, err := b.db.Exec(`INSERT INTO webhook_endpoints (merchant_id, id, url, secret, created_at, updated_at)
		VALUES ($1, 'we_sneaky', $2, $3, now(), now())`, b.merchant, rc.URL, refSecret); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.svc.CreateEndpoint(context.Background(), b.merchant, notify.EndpointInput{URL: rc.URL, Enabled: true}, ""); err == nil {
		t.Fatal("the save-time check accepted a loopback URL")
	}
	b.publish(t, notify.ReturnApproved, map[string]any{"id": 1})
	if !b.runOne(t) {
		t.Fatal("nothing to run")
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests, want none", n)
	}
	d := b.onlyDelivery(t)
	if d.Status != notify.StatusFailed || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != nil ||
		!strings.Contains(d.Attempts[0].Error, "127.0.0.1 is a loopback address") {
		t.Fatalf("got %+v with attempts %+v, want a failed attempt naming the refused address", d.WebhookDelivery, d.Attempts)
	}
}

func TestEndpointIsDisabledAfterThreeDaysOfFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	e, _ := b.endpoint(t, rc.URL)
	start := b.clock.Now()
	b.publish(t, notify.ReturnReceived, map[string]any{"id": 7})
	for attempt := 1; ; attempt++ {
		if attempt > 30 {
			t.Fatal("still retrying after 30 attempts")
		}
		if !b.runOne(t) {
			t.Fatalf("attempt %d: nothing to run", attempt)
		}
		d := b.onlyDelivery(t)
		if d.Status == notify.StatusParked {
			if attempt < 16 || attempt > 18 {
				t.Errorf("parked after %d attempts, want 16 to 18", attempt)
			}
			if last := d.LastAttemptAt.Sub(start); last < 60*time.Hour || last > notify.RetryWindow {
				t.Errorf("the last attempt came %s after the event, want within three days", last)
			}
			break
		}
		if d.Status != notify.StatusFailed {
			t.Fatalf("attempt %d: got %s", attempt, d.Status)
		}
		got, err := b.svc.Endpoint(context.Background(), b.merchant, e.ID)
		if err != nil || !got.Enabled || got.FailingSince == nil || !got.FailingSince.Equal(start.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("attempt %d: got endpoint %+v, want enabled and failing since the first attempt", attempt, got)
		}
		b.clock.Set(*d.NextAttemptAt)
		b.makeDue(t)
	}
	got, err := b.svc.Endpoint(context.Background(), b.merchant, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || !strings.Contains(got.DisabledReason, "HTTP 503") || !strings.HasPrefix(got.DisabledReason, "Disabled automatically") {
		t.Fatalf("got %+v, want disabled with the reason", got)
	}
	if b.runOne(t) {
		t.Error("a job was left after the delivery was parked")
	}
	b.publish(t, notify.ReturnCompleted, map[string]any{"id": 7})
	if b.runOne(t) {
		t.Error("an event was queued for the disabled endpoint")
	}

	// enabling it again clears the reason and the streak; a manual retry sends once
	enable := true
	got, err = b.svc.UpdateEndpoint(context.Background(), b.merchant, e.ID, notify.EndpointPatch{Enabled: &enable}, "key:1")
	if err != nil || !got.Enabled || got.DisabledReason != "" || got.FailingSince != nil {
		t.Fatalf("got %+v, %v; want enabled with no reason and no streak", got, err)
	}
	d := b.onlyDelivery(t)
	// the manual retry comes after the window, so its failure parks whatever the
	// backoff's jitter would have made of the next attempt
	b.clock.Set(start.Add(notify.RetryWindow + time.Minute))
	if _, err := b.svc.RetryDelivery(context.Background(), b.merchant, d.ID); err != nil {
		t.Fatal(err)
	}
	before := len(rc.requests())
	if !b.runOne(t) || len(rc.requests()) != before+1 {
		t.Fatal("the manual retry sent nothing")
	}
	d = b.onlyDelivery(t)
	if d.Status != notify.StatusParked {
		t.Errorf("got %s after a failed manual retry past the window, want parked", d.Status)
	}
	if got, _ := b.svc.Endpoint(context.Background(), b.merchant, e.ID); !got.Enabled {
		t.Error("one failed manual retry disabled the endpoint again")
	}
}

func TestManualRetryReplacesTheScheduledAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	b.endpoint(t, rc.URL)
	b.publish(t, notify.LabelIssued, map[string]any{"tracking_number": "RR123456785GB"})
	b.runOne(t)
	d := b.onlyDelivery(t)
	if d.Status != notify.StatusFailed {
		t.Fatalf("got %s, want failed", d.Status)
	}
	r, err := b.svc.RetryDelivery(context.Background(), b.merchant, d.ID)
	if err != nil || r.Status != notify.StatusPending {
		t.Fatalf("got %+v, %v; want pending", r, err)
	}
	if !b.runOne(t) {
		t.Fatal("the manual retry was not due at once")
	}
	if d := b.onlyDelivery(t); d.Status != notify.StatusSucceeded || d.AttemptCount != 2 {
		t.Fatalf("got %s after %d attempts, want succeeded after 2", d.Status, d.AttemptCount)
	}
	// the attempt that was scheduled before the retry does nothing when its time comes
	b.makeDue(t)
	for b.runOne(t) {
	}
	if n := len(rc.requests()); n != 2 {
		t.Errorf("got %d requests, want 2", n)
	}
}

// TestASucceededAttemptStaysOnTheDeliveryUntilARetry: an attempt that succeeded is
// listed with its answer but not written to the log; a manual retry moves it there,
// so the delivery then lists both the first success and the retry's.
func TestASucceededAttemptStaysOnTheDeliveryUntilARetry(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"seen":%d}`, n+1)
	})
	b.endpoint(t, rc.URL)
	b.publish(t, notify.ReturnApproved, map[string]any{"id": 1})
	first := b.clock.Now()
	b.runOne(t)
	d := b.onlyDelivery(t)
	if d.Status != notify.StatusSucceeded || len(d.Attempts) != 1 {
		t.Fatalf("got %s with attempts %+v, want succeeded with one", d.Status, d.Attempts)
	}
	a := d.Attempts[0]
	if a.StatusCode == nil || *a.StatusCode != http.StatusAccepted || a.ResponseExcerpt != `{"seen":1}` || a.Error != "" ||
		!a.At.Equal(first.UTC().Truncate(time.Microsecond)) || d.LastAttemptAt == nil || !d.LastAttemptAt.Equal(a.At) {
		t.Errorf("got attempt %+v (last at %v), want the 202 answered at %s", a, d.LastAttemptAt, first)
	}
	if n := b.loggedAttempts(t); n != 0 {
		t.Errorf("got %d attempts in the log, want none", n)
	}

	b.clock.Set(first.Add(time.Minute))
	r, err := b.svc.RetryDelivery(context.Background(), b.merchant, d.ID)
	if err != nil || r.Status != notify.StatusPending {
		t.Fatalf("got %+v, %v; want pending", r, err)
	}
	if d := b.onlyDelivery(t); len(d.Attempts) != 1 || d.Attempts[0].ResponseExcerpt != `{"seen":1}` {
		t.Errorf("got attempts %+v while the retry waits, want the first success", d.Attempts)
	}
	if n := b.loggedAttempts(t); n != 1 {
		t.Errorf("got %d attempts in the log after the retry, want the first success moved there", n)
	}
	if !b.runOne(t) {
		t.Fatal("the manual retry was not due at once")
	}
	d = b.onlyDelivery(t)
	if d.Status != notify.StatusSucceeded || d.AttemptCount != 2 || len(d.Attempts) != 2 ||
		d.Attempts[0].ResponseExcerpt != `{"seen":1}` || d.Attempts[1].ResponseExcerpt != `{"seen":2}` ||
		!d.Attempts[1].At.After(d.Attempts[0].At) {
		t.Fatalf("got %s, %d attempts counted, listed %+v; want both successes, oldest first", d.Status, d.AttemptCount, d.Attempts)
	}
	if n := b.loggedAttempts(t); n != 1 {
		t.Errorf("got %d attempts in the log, want 1 (the retry's success stays on the delivery)", n)
	}
}

func TestRotatedSecretSignsAlongsideTheOldOne(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	rc := newReceiver(t, ok)
	e, oldSecret := b.endpoint(t, rc.URL)
	ctx := context.Background()
	rotated, newSecret, err := b.svc.RotateSecret(ctx, b.merchant, e.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if newSecret == oldSecret || !strings.HasPrefix(newSecret, "whsec_") || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("got %q (old %q), %+v", newSecret, oldSecret, rotated)
	}
	b.publish(t, notify.ReturnCreated, map[string]any{"id": 1})
	b.runOne(t)
	// an hour later only the new one signs
	b.clock.Set(b.clock.Now().Add(time.Hour + time.Second))
	b.publish(t, notify.ReturnCreated, map[string]any{"id": 2})
	b.runOne(t)
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("got %d requests, want 2", len(got))
	}
	verify := func(secret string, r request) error {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh.VerifyIgnoringTimestamp(r.body, r.header)
	}
	if verify(oldSecret, got[0]) != nil || verify(newSecret, got[0]) != nil {
		t.Error("during the grace period both secrets should verify")
	}
	if verify(oldSecret, got[1]) == nil || verify(newSecret, got[1]) != nil {
		t.Error("after the grace period only the new secret should verify")
	}
}

func TestPublishRefusesAnUnknownType(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	tx := b.db.MustBegin()
	defer tx.Rollback()
	if err := b.svc.Publish(context.Background(), tx, b.merchant, "return.exploded", nil); err == nil {
		t.Fatal("published an unknown event type")
	}
}

func TestPublishIsPartOfTheCallersTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	rc := newReceiver(t, ok)
	b.endpoint(t, rc.URL)
	tx := b.db.MustBegin()
	if err := b.svc.Publish(context.Background(), tx, b.merchant, notify.ReturnCancelled, map[string]any{"id": 3}); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if b.runOne(t) {
		t.Fatal("a job ran for an event whose transaction rolled back")
	}
	var events int
	b.db.Get(&events, `SELECT count(*) FROM webhook_events`)
	if events != 0 || len(rc.requests()) != 0 {
		t.Fatalf("got %d events and %d requests after a rollback, want none", events, len(rc.requests()))
	}
}

func TestRedirectsAreNotFollowedAndAnswersAreReadOnlyInPart(t *testing.T) {
	t.Parallel()
	opts := local
	opts.Timeout = 5 * time.Second
	b := setup(t, opts)
	target := newReceiver(t, ok)
	redirect := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	})
	// an answer that never ends: only its start is read, within the timeout
	endless := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		chunk := []byte(strings.Repeat("y", 4096))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	r, _ := b.endpoint(t, redirect.URL)
	e, _ := b.endpoint(t, endless.URL)
	b.publish(t, notify.FeedbackReceived, map[string]any{"rating": 5})
	for b.runOne(t) {
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("the redirect was followed (%d requests)", n)
	}
	ctx := context.Background()
	list, _, err := b.svc.Deliveries(ctx, b.merchant, notify.DeliveryFilter{EndpointID: r.ID})
	if err != nil || len(list) != 1 || list[0].Status != notify.StatusFailed || list[0].LastError != "HTTP 307" {
		t.Errorf("got %+v, %v; want the redirect counted as a failure, HTTP 307", list, err)
	}
	list, _, err = b.svc.Deliveries(ctx, b.merchant, notify.DeliveryFilter{EndpointID: e.ID})
	if err != nil || len(list) != 1 || list[0].LastError != "HTTP 500" {
		t.Fatalf("got %+v, %v; want the endless answer to fail as HTTP 500", list, err)
	}
	d, err := b.svc.Delivery(ctx, b.merchant, list[0].ID)
	if err != nil || len(d.Attempts) != 1 || len(d.Attempts[0].ResponseExcerpt) != 1024 || d.Attempts[0].Error != "" {
		t.Errorf("got %+v, %v; want one attempt with a 1 KB excerpt and no read error", d.Attempts, err)
	}
}
