package idempotency

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/merchant"
)

const thingBody = `{"name":"parcel"}`

type thingInput struct {
	Header
	Body struct {
		Name string `json:"name"`
	}
}

type thingOutput struct {
	Body struct {
		Name string `json:"name"`
		Run  int32  `json:"run"`
	}
}

// bench serves one creating operation behind the middleware. With block set, the
// operation signals entered and runs until release is closed or it is cancelled,
// whose cause it sends on cancelled.
type bench struct {
	url        string
	db         *sqlx.DB
	merchantID int64
	mw         *Middleware
	runs       atomic.Int32
	entered    chan struct{}
	release    chan struct{}
	cancelled  chan error
	releaseOne sync.Once
}

func setup(t *testing.T, mw *Middleware, block bool) *bench {
	t.Helper()
	d := pgtest.New(t)
	m, err := merchant.NewStore(d).Create(context.Background(), "shop-idem", "Shop", merchant.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	mw.DB = d
	b := &bench{db: d, merchantID: m.ID, mw: mw, entered: make(chan struct{}, 8),
		release: make(chan struct{}), cancelled: make(chan error, 8)}

	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("idempotency test", "1.0.0"))
	api.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		p := auth.Principal{MerchantID: m.ID, Role: auth.RoleAdmin, Actor: "test"}
		next(huma.WithContext(ctx, auth.WithPrincipal(ctx.Context(), p)))
	})
	api.UseMiddleware(mw.Handler(api))
	huma.Register(api, huma.Operation{OperationID: "create-thing", Method: http.MethodPost, Path: "/things",
		DefaultStatus: http.StatusCreated, BodyReadTimeout: -1},
		func(ctx context.Context, in *thingInput) (*thingOutput, error) {
			run := b.runs.Add(1)
			if block {
				b.entered <- struct{}{}
				select {
				case <-b.release:
				case <-ctx.Done():
					b.cancelled <- context.Cause(ctx)
					return nil, huma.Error503ServiceUnavailable("cancelled")
				}
			}
			out := &thingOutput{}
			out.Body.Name, out.Body.Run = in.Body.Name, run
			return out, nil
		})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(b.finish) // runs first: a blocked operation must not hold up Close
	b.url = srv.URL
	return b
}

func (b *bench) finish() { b.releaseOne.Do(func() { close(b.release) }) }

type answer struct {
	status int
	header http.Header
	body   string
}

func (b *bench) post(t *testing.T, key string) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", b.url+"/things", strings.NewReader(thingBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderName, key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(body)}
}

// claimed is the claim's created_at.
func (b *bench) claimed(t *testing.T, key string) time.Time {
	t.Helper()
	var at time.Time
	if err := b.db.Get(&at, `SELECT created_at FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, b.merchantID, key); err != nil {
		t.Fatal(err)
	}
	return at
}

// eventually polls cond, which reads the database, until it holds.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("after %s: %s did not happen", within, what)
		case <-tick.C:
		}
	}
}

func retryAfterOf(t *testing.T, a answer) int {
	t.Helper()
	n, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q is not whole seconds", a.header.Get("Retry-After"))
	}
	return n
}

func TestHeartbeatKeepsARunningRequestsClaimPastTheLease(t *testing.T) {
	t.Parallel()
	mw := &Middleware{Lease: 2 * time.Second, Heartbeat: 250 * time.Millisecond, Wait: 300 * time.Millisecond}
	b := setup(t, mw, true)

	first := make(chan answer, 1)
	go func() { first <- b.post(t, "k-live") }()
	<-b.entered
	start := b.claimed(t, "k-live")
	eventually(t, 10*time.Second, "a renewal past the first lease", func() bool {
		return b.claimed(t, "k-live").Sub(start) > mw.Lease
	})

	// the holder still runs: a retry waits, is told to come back, and runs nothing
	busy := b.post(t, "k-live")
	if busy.status != http.StatusConflict || !strings.Contains(busy.body, CodeInProgress) {
		t.Fatalf("retry while the holder runs: got %d %s, want 409 %s", busy.status, busy.body, CodeInProgress)
	}
	if ra := retryAfterOf(t, busy); ra < 1 || ra > 2 {
		t.Errorf("Retry-After: got %d, want 1 or 2 (what is left of a 2 s lease)", ra)
	}
	if n := b.runs.Load(); n != 1 {
		t.Fatalf("the operation ran %d times while its claim was renewed, want once", n)
	}

	b.finish()
	a := <-first
	if a.status != http.StatusCreated {
		t.Fatalf("holder: got %d %s, want 201", a.status, a.body)
	}
	again := b.post(t, "k-live")
	if again.status != http.StatusCreated || again.body != a.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry after the holder answered: got %d %s (replayed %q), want its answer replayed",
			again.status, again.body, again.header.Get("Idempotent-Replayed"))
	}
}

func TestClaimOfADeadHolderLapsesAndARetryRuns(t *testing.T) {
	t.Parallel()
	mw := &Middleware{Lease: time.Second, Wait: 5 * time.Second}
	b := setup(t, mw, false)
	// a holder that claimed the key and died: nothing renews the claim
	owner, dead, err := mw.claim(context.Background(), b.merchantID, "k-dead", requestHash("POST", "/things", []byte(thingBody)))
	if err != nil || !owner {
		t.Fatalf("claim: got owner=%v err=%v", owner, err)
	}

	// a retry waits (a fresh claim answers 409 to a retry that does not: see
	// TestRetryAfterIsWhatIsLeftOfTheLease) until the claim lapses, then runs
	a := b.post(t, "k-dead")
	if a.status != http.StatusCreated || a.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry: got %d %s (replayed %q), want the lapsed claim taken over and run",
			a.status, a.body, a.header.Get("Idempotent-Replayed"))
	}
	if n := b.runs.Load(); n != 1 {
		t.Errorf("the operation ran %d times, want once", n)
	}
	if taken := b.claimed(t, "k-dead"); taken.Sub(dead) < mw.Lease {
		t.Errorf("the claim was taken over %s after it was made, before its %s lease ended", taken.Sub(dead), mw.Lease)
	}
	if again := b.post(t, "k-dead"); again.body != a.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the taken-over claim's answer was not stored: got %d %s", again.status, again.body)
	}
}

func TestRetryAfterIsWhatIsLeftOfTheLease(t *testing.T) {
	t.Parallel()
	mw := &Middleware{Wait: 50 * time.Millisecond} // the product's Lease
	b := setup(t, mw, false)
	hash := requestHash("POST", "/things", []byte(thingBody))
	for _, c := range []struct {
		key    string
		age    time.Duration
		lo, hi int
	}{
		{"fresh", 0, 5, 6},
		{"older", Lease - 1500*time.Millisecond, 1, 2},
	} {
		if _, err := b.db.Exec(`INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, body, created_at)
			VALUES ($1, $2, $3, 0, '', now() - $4 * interval '1 millisecond')`, b.merchantID, c.key, hash, c.age.Milliseconds()); err != nil {
			t.Fatal(err)
		}
		a := b.post(t, c.key)
		if a.status != http.StatusConflict {
			t.Fatalf("%s: got %d %s, want 409", c.key, a.status, a.body)
		}
		ra := retryAfterOf(t, a)
		if ra < c.lo || ra > c.hi || time.Duration(ra)*time.Second > Lease {
			t.Errorf("%s claim: got Retry-After %d, want %d to %d, never more than the %s lease", c.key, ra, c.lo, c.hi, Lease)
		}
	}
}

func TestRequestWhoseClaimWasTakenOverStopsAndStoresNothing(t *testing.T) {
	t.Parallel()
	mw := &Middleware{Lease: time.Second, Heartbeat: 100 * time.Millisecond}
	b := setup(t, mw, true)

	first := make(chan answer, 1)
	go func() { first <- b.post(t, "k-taken") }()
	<-b.entered
	// as a retry does once the holder's renewals failed for a whole lease
	if _, err := b.db.Exec(`UPDATE idempotency_keys SET created_at = now() + interval '1 minute'
		WHERE merchant_id = $1 AND key = 'k-taken'`, b.merchantID); err != nil {
		t.Fatal(err)
	}
	taker := b.claimed(t, "k-taken")

	select {
	case cause := <-b.cancelled:
		if !errors.Is(cause, ErrClaimLost) {
			t.Errorf("the operation was cancelled with %v, want ErrClaimLost", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the holder's operation ran on after its claim was taken over")
	}
	if a := <-first; a.status < 500 {
		t.Errorf("holder: got %d, want the cancelled operation's 5xx", a.status)
	}
	mw.Flush(context.Background()) // an answer waiting would be written now
	var status int
	if err := b.db.Get(&status, `SELECT status FROM idempotency_keys WHERE merchant_id = $1 AND key = 'k-taken'`, b.merchantID); err != nil {
		t.Fatalf("the taker's claim is gone: %v", err)
	}
	if at := b.claimed(t, "k-taken"); status != 0 || !at.Equal(taker) {
		t.Errorf("the taker's claim was changed: status %d, created_at %s, want 0 and %s", status, at, taker)
	}
}

// TestClaimsThatArriveWhileOneIsWrittenGoInOneStatement: requests whose claims
// arrive while another claim's statement runs are claimed together in the next
// statement, and each still runs once, gets its own answer and replays it.
func TestClaimsThatArriveWhileOneIsWrittenGoInOneStatement(t *testing.T) {
	t.Parallel()
	b := setup(t, &Middleware{}, false)
	// an uncommitted row of the first key holds its claim's statement up
	hold, err := b.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.Exec(`INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, body)
		VALUES ($1, 'first', '', 0, '')`, b.merchantID); err != nil {
		t.Fatal(err)
	}
	const n = 10
	answers := make([]answer, n+1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); answers[0] = b.post(t, "first") }()
	pending := func() int {
		b.mw.claims.mu.Lock()
		defer b.mw.claims.mu.Unlock()
		return len(b.mw.claims.pending)
	}
	eventually(t, 10*time.Second, "the first claim's statement is waiting", func() bool {
		var waiting bool
		_ = b.db.Get(&waiting, `SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%INSERT INTO idempotency_keys%'`)
		return waiting
	})
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = b.post(t, "key-"+strconv.Itoa(i)) }()
	}
	eventually(t, 10*time.Second, "the other claims are waiting together", func() bool { return pending() == n })
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	b.mw.claims.mu.Lock()
	claims := b.mw.claims.statements
	b.mw.claims.mu.Unlock()
	if claims != 2 {
		t.Errorf("%d requests claimed in %d statements, want 2 (the held one, then the rest together)", n+1, claims)
	}
	runs := map[string]bool{}
	for i, a := range answers {
		if a.status != http.StatusCreated {
			t.Fatalf("request %d: got %d %s, want 201", i, a.status, a.body)
		}
		runs[a.body] = true
	}
	if len(runs) != n+1 || b.runs.Load() != n+1 {
		t.Errorf("%d distinct answers from %d runs, want %d of each", len(runs), b.runs.Load(), n+1)
	}
	for _, i := range []int{0, 1, n} {
		key, want := "key-"+strconv.Itoa(i), answers[i]
		if i == 0 {
			key = "first"
		}
		got := b.post(t, key)
		if got.status != want.status || got.body != want.body || got.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry of %s: got %d %s (replayed %q), want the stored %d %s", key, got.status, got.body,
				got.header.Get("Idempotent-Replayed"), want.status, want.body)
		}
	}
	if b.runs.Load() != n+1 {
		t.Errorf("retries ran the operation again: %d runs", b.runs.Load())
	}
}

// TestTwoClaimsOfOneKeyInOneStatement: of two requests with one key whose claims go
// in the same statement, one runs and the other replays its answer.
func TestTwoClaimsOfOneKeyInOneStatement(t *testing.T) {
	t.Parallel()
	b := setup(t, &Middleware{}, false)
	c1 := &call[claimIn]{in: claimIn{merchantID: b.merchantID, key: "same", hash: []byte("h")}}
	c2 := &call[claimIn]{in: claimIn{merchantID: b.merchantID, key: "same", hash: []byte("h")}}
	c3 := &call[claimIn]{in: claimIn{merchantID: b.merchantID, key: "other", hash: []byte("h")}}
	b.mw.claimAll(context.Background(), []*call[claimIn]{c1, c2, c3})
	if c1.err != nil || c2.err != nil || c3.err != nil {
		t.Fatal(c1.err, c2.err, c3.err)
	}
	if !c1.ok || c2.ok || !c3.ok {
		t.Errorf("claimed: first %v, second of the same key %v, other key %v; want true, false, true", c1.ok, c2.ok, c3.ok)
	}
	if got := b.claimed(t, "same"); !got.Equal(c1.at) {
		t.Errorf("claim's created_at %v, the first call was told %v", got, c1.at)
	}
}

// stored is the status stored under a key: 0 while it is claimed and not answered.
func (b *bench) stored(t *testing.T, key string) int {
	t.Helper()
	var status int
	if err := b.db.Get(&status, `SELECT status FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, b.merchantID, key); err != nil {
		t.Fatal(err)
	}
	return status
}

// TestAnAnswerRidesOnTheNextClaim: the answer is not written when the response goes
// out, but by the next request's claim, in the same statement; a retry that is that
// next request finds the answer and replays it.
func TestAnAnswerRidesOnTheNextClaim(t *testing.T) {
	t.Parallel()
	mw := &Middleware{Linger: time.Hour} // nothing but a claim writes it
	b := setup(t, mw, false)
	first := b.post(t, "k-1")
	if first.status != http.StatusCreated {
		t.Fatalf("got %d %s, want 201", first.status, first.body)
	}
	if got := b.stored(t, "k-1"); got != 0 {
		t.Fatalf("the answer was stored (%d) before another claim came", got)
	}
	second := b.post(t, "k-2")
	if got := b.stored(t, "k-1"); got != http.StatusCreated {
		t.Fatalf("after the next claim: stored %d, want 201", got)
	}
	again := b.post(t, "k-2") // carries k-2's answer, and replays it
	if again.status != second.status || again.body != second.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry of k-2: got %d %s (replayed %q), want %d %s replayed", again.status, again.body,
			again.header.Get("Idempotent-Replayed"), second.status, second.body)
	}
	if n := b.runs.Load(); n != 2 {
		t.Errorf("the operation ran %d times, want 2 (k-1, k-2)", n)
	}
	b.mw.claims.mu.Lock()
	claims := b.mw.claims.statements
	b.mw.claims.mu.Unlock()
	mw.mu.Lock()
	alone := mw.answerStatements
	mw.mu.Unlock()
	if claims != 3 || alone != 0 {
		t.Errorf("3 requests took %d statements of claims and %d of answers alone, want 3 and 0", claims, alone)
	}
}

// TestAnAnswerWithoutAClaimAfterItIsWrittenAfterLinger: with no request after it, an
// answer is written on its own once Linger has passed, and a retry then replays it.
func TestAnAnswerWithoutAClaimAfterItIsWrittenAfterLinger(t *testing.T) {
	t.Parallel()
	mw := &Middleware{Linger: 50 * time.Millisecond}
	b := setup(t, mw, false)
	first := b.post(t, "k-alone")
	eventually(t, 10*time.Second, "the answer stored", func() bool { return b.stored(t, "k-alone") == http.StatusCreated })
	mw.mu.Lock()
	alone, waiting := mw.answerStatements, len(mw.waiting)
	mw.mu.Unlock()
	if alone != 1 || waiting != 0 {
		t.Errorf("%d statements of answers alone, %d answers still waiting; want 1 and 0", alone, waiting)
	}
	again := b.post(t, "k-alone")
	if again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: got %d %s, want %s replayed", again.status, again.body, first.body)
	}
}

// TestFlushWritesTheAnswersWaiting: a process that stops writes what waits.
func TestFlushWritesTheAnswersWaiting(t *testing.T) {
	t.Parallel()
	mw := &Middleware{Linger: time.Hour}
	b := setup(t, mw, false)
	for _, k := range []string{"k-a", "k-b"} {
		if a := b.post(t, k); a.status != http.StatusCreated {
			t.Fatalf("%s: got %d %s", k, a.status, a.body)
		}
	}
	mw.Flush(context.Background())
	for _, k := range []string{"k-a", "k-b"} {
		if got := b.stored(t, k); got != http.StatusCreated {
			t.Errorf("%s: stored %d after Flush, want 201", k, got)
		}
	}
}
