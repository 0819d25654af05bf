// Package idempotency makes every creating POST safe to retry: a request that carries
// an Idempotency-Key is run once per merchant and key, and its answer is stored; the
// same key with the same request replays that answer (Idempotent-Replayed: true), the
// same key with another request answers 422, and concurrent requests with one key wait
// for the first and then replay it.
//
// How: the first request claims the key by inserting its row (status 0, in progress)
// and commits at once, so no database connection is held while the operation runs
// (holding one would starve the pool under load, since the operation needs its own).
// Later requests with the key wait, polling, until the answer is stored, and replay it.
// Answers of 5xx and 429 are not stored: the claim is deleted so that a retry runs
// again. Claims that arrive while another claim is being written go together in the
// next statement (together). An answer is not written on its own at once: the
// response goes out, and the answer rides on the next statement of claims, or is
// written after Linger when none came (the first of a quiet moment's answers waits
// that long, the ones behind it less), so that a creating request followed by another
// within Linger costs one statement, shared with the requests beside it under load.
//
// A claim is a lease: the request renews it every Heartbeat while its operation
// runs, so a claim that has not been renewed for Lease belongs to a request whose
// replica died, and a retry takes it over then (a retry that finds the claim held
// answers 409 idempotency_key_in_use with Retry-After set to what is left of the
// lease). A request whose claim was taken over meanwhile (its renewals failed for a
// whole lease) has its operation cancelled and stores nothing: the claim's
// created_at, as its holder last wrote it, fences the renewals and the answer.
//
// A crash between the operation's commit and the answer being stored (within Linger
// of the response) would run the operation again on the retry, so operations whose
// effect must not repeat also keep the key on the resource they create (see
// FromContext) and answer that resource instead. A process that stops writes the
// answers still waiting (Flush).
package idempotency

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/db"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/problem"
)

// HeaderName is the request header.
const HeaderName = "Idempotency-Key"

// Header is embedded in the input of every operation that accepts the header; the
// middleware applies to exactly the operations that declare it.
type Header struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes the request safe to retry: the same key with the same body replays the first answer (with Idempotent-Replayed: true); the same key with another body answers 422. Keys are kept for 24 hours." example:"3f1c9a52-7d8e-4b1a-9c1e-2f5d6a7b8c9d"`
}

// CodeInProgress is the problem code of a 409 answered while another request with
// the same key runs; the request is safe to retry with the same key.
const CodeInProgress = "idempotency_key_in_use"

// Retention is how long keys are kept; Sweep deletes older ones.
const Retention = 24 * time.Hour

// Lease is how long a claim stays in progress without being renewed before another
// request with the key takes it over (its holder is presumed dead). It covers a
// couple of missed heartbeats, and bounds how long retries wait after a crash.
const Lease = 6 * time.Second

// Heartbeat is how often a request renews its claim while its operation runs.
const Heartbeat = 2 * time.Second

// Wait is how long a request waits for another with the same key to finish before
// answering 409 idempotency_key_in_use.
const Wait = 20 * time.Second

// Linger is the longest an answer waits, after its response went out, for a
// statement of claims to ride on before it is written on its own. A retry with its key
// meanwhile waits for it as for a request still running (a few polls), and a crash
// meanwhile loses it as one between the operation's commit and the answer would.
const Linger = 25 * time.Millisecond

type keyCtx struct{}

// FromContext returns the scoped idempotency key of the request being served, or "".
func FromContext(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(string)
	return k
}

// Middleware is the Huma middleware; it must run after auth's.
type Middleware struct {
	DB *sqlx.DB
	// Lease, Heartbeat, Wait and Linger replace the package's constants when set
	// (tests); Heartbeat defaults to a third of Lease then.
	Lease, Heartbeat, Wait, Linger time.Duration

	once   sync.Once
	claims together[claimIn]

	// waiting holds the answers not written yet (storeLater), oldest first; timer
	// writes them Linger after the first, unless a statement of claims took them.
	mu      sync.Mutex
	waiting []answerIn
	timer   *time.Timer
	// answerStatements counts the statements that wrote answers alone (tests).
	answerStatements int
}

// batched readies the statements that concurrent requests share (together).
func (m *Middleware) batched() {
	m.once.Do(func() {
		m.claims = together[claimIn]{run: m.claimAll, max: 64}
	})
}

func (m *Middleware) lease() time.Duration  { return cmp.Or(m.Lease, Lease) }
func (m *Middleware) linger() time.Duration { return cmp.Or(m.Linger, Linger) }
func (m *Middleware) wait() time.Duration   { return cmp.Or(m.Wait, Wait) }
func (m *Middleware) heartbeat() time.Duration {
	if m.Heartbeat > 0 {
		return m.Heartbeat
	}
	if m.Lease > 0 {
		return m.Lease / 3
	}
	return Heartbeat
}

func declares(op *huma.Operation) bool {
	return slices.ContainsFunc(op.Parameters, func(p *huma.Param) bool {
		return p.In == "header" && http.CanonicalHeaderKey(p.Name) == HeaderName
	})
}

// Handler returns the middleware function for api.
func (m *Middleware) Handler(api huma.API) func(huma.Context, func(huma.Context)) {
	m.batched()
	return func(ctx huma.Context, next func(huma.Context)) {
		key := ctx.Header(HeaderName)
		op := ctx.Operation()
		if key == "" || !declares(op) {
			next(ctx)
			return
		}
		if len(key) > 255 {
			huma.WriteErr(api, ctx, http.StatusUnprocessableEntity, "Idempotency-Key is longer than 255 characters.")
			return
		}
		p, ok := auth.FromContext(ctx.Context())
		if !ok {
			next(ctx) // public operation: no merchant to scope the key to
			return
		}
		scoped := key
		if p.Shopper() {
			scoped = fmt.Sprintf("order:%d:%s", p.OrderID, key)
		}
		r, w := humago.Unwrap(ctx)
		limit := op.MaxBodyBytes
		if limit <= 0 {
			limit = 1 << 20
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			huma.WriteErr(api, ctx, http.StatusBadRequest, "The request body could not be read.")
			return
		}
		if int64(len(body)) > limit {
			huma.WriteErr(api, ctx, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", limit))
			return
		}
		owner, held, err := m.claim(ctx.Context(), p.MerchantID, scoped, requestHash(r.Method, r.URL.Path, body))
		var busy *inProgressError
		switch {
		case errors.Is(err, errOtherRequest):
			huma.WriteErr(api, ctx, http.StatusUnprocessableEntity,
				"This Idempotency-Key was already used with a different request. Use a new key for a new request.")
			return
		case errors.As(err, &busy):
			// the first request is still running, or its replica died and the claim
			// has not lapsed yet: the client retries with the same key once what is
			// left of the lease has passed
			p := problem.Conflict(CodeInProgress, "A request with this Idempotency-Key is still in progress. Retry after the time in Retry-After with the same key.")
			p.GetHeaders().Set("Retry-After", strconv.Itoa(busy.retryAfter))
			problem.Write(w, r.WithContext(ctx.Context()), p)
			return
		case err != nil:
			huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "idempotency", err)
			return
		case !owner:
			m.replay(api, ctx, w, p.MerchantID, scoped)
			return
		}

		rec := &recorder{header: http.Header{}, under: w}
		opCtx, cancelOp := context.WithCancelCause(context.WithValue(ctx.Context(), keyCtx{}, scoped))
		defer cancelOp(nil)
		hb := m.hold(p.MerchantID, scoped, held, cancelOp)
		r2 := r.WithContext(opCtx)
		r2.Body = io.NopCloser(bytes.NewReader(body))
		next(humago.NewContext(op, r2, rec))
		held, lost := hb.stop()

		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if lost {
			// a retry holds the claim now: its answer is the one to keep
			rec.flush()
			return
		}
		// The answer is stored even if the client went away meanwhile (the statement
		// that writes it does not take the request's context).
		if rec.status < 500 && rec.status != http.StatusTooManyRequests {
			headers, _ := json.Marshal(keep(rec.header))
			// If it is never written (a crash, a failed statement), the claim lapses
			// after Lease, and creating operations find their resource by the key
			// they stored.
			m.storeLater(answerIn{merchantID: p.MerchantID, key: scoped, status: int32(rec.status),
				headers: string(headers), body: rec.body.Bytes(), held: held})
		} else {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx.Context()), 10*time.Second)
			defer cancel()
			_, _ = m.exec(sctx, async+`DELETE FROM idempotency_keys USING async
				WHERE merchant_id = $1 AND key = $2 AND status = 0 AND created_at = $3`, p.MerchantID, scoped, held)
		}
		rec.flush()
	}
}

// ErrClaimLost is the cause of an operation's cancellation when its claim was taken
// over by a retry (its renewals had failed for a whole lease) or is gone.
var ErrClaimLost = errors.New("idempotency: claim taken over before the operation ended")

// heartbeat renews one claim while its operation runs.
type heartbeat struct {
	quit chan struct{}
	done chan struct{}
	held time.Time
	lost bool
}

// hold renews the claim every heartbeat until stop; held is its created_at. When a
// renewal finds the claim taken over, answered or gone, it cancels the operation
// with ErrClaimLost.
func (m *Middleware) hold(merchantID int64, key string, held time.Time, cancelOp context.CancelCauseFunc) *heartbeat {
	hb := &heartbeat{quit: make(chan struct{}), done: make(chan struct{}), held: held}
	every := m.heartbeat()
	go func() {
		defer close(hb.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-hb.quit:
				return
			case <-t.C:
			}
			// a renewal under way is finished, not cancelled, when the request
			// ends, so that held is what the row says
			rctx, cancel := context.WithTimeout(context.Background(), every)
			at, err := m.stamp(rctx, async+`UPDATE idempotency_keys SET created_at = now()
				FROM async WHERE merchant_id = $1 AND key = $2 AND status = 0 AND created_at = $3
				RETURNING created_at`, merchantID, key, hb.held)
			cancel()
			switch {
			case err == nil:
				hb.held = at
			case errors.Is(err, sql.ErrNoRows):
				// Taken over, answered or gone. (After a renewal that timed out
				// but committed, the next one lands here too and stops an
				// operation nobody took over: the claim lapses and the client's
				// retry runs it, which is safe, only slower.)
				hb.lost = true
				cancelOp(ErrClaimLost)
				return
			}
			// another error: the database is unreachable; try again at the next beat
			// (the lease outlasts two missed ones)
		}
	}()
	return hb
}

// stop ends the renewals and returns the claim's created_at as last renewed, and
// whether the claim was lost meanwhile.
func (hb *heartbeat) stop() (held time.Time, lost bool) {
	close(hb.quit)
	<-hb.done
	return hb.held, hb.lost
}

// async is put before each statement of the middleware: the statement runs alone,
// in its own implicit transaction, and that transaction commits without waiting for
// the WAL flush (synchronous_commit off, set for it alone). Claims and stored answers
// are a cache in front of the operation, whose own transaction commits durably: if a
// crash loses the last few, a retry runs again and finds the resource by its key.
// One statement and no explicit transaction (no BEGIN, no SET, no COMMIT round trip)
// per batch of claims and per batch of stored answers. Every statement below reads
// async (FROM, USING), so PostgreSQL evaluates it.
const async = db.AsyncCommit + " "

// exec runs one statement that starts with async.
func (m *Middleware) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return m.DB.ExecContext(ctx, query, args...)
}

// stamp runs one statement that starts with async and returns the created_at it
// returns (sql.ErrNoRows when it changed no row).
func (m *Middleware) stamp(ctx context.Context, query string, args ...any) (time.Time, error) {
	var at time.Time
	err := m.DB.QueryRowxContext(ctx, query, args...).Scan(&at)
	return at, err
}

// claimIn is a request's claim of its key (claimAll).
type claimIn struct {
	merchantID int64
	key        string
	hash       []byte
}

// claimAll inserts the claims of calls in one statement; a call whose row it
// inserted is ok, with the row's created_at. Of two calls for one key, the first
// goes in the statement and the second finds the key taken.
func (m *Middleware) claimAll(ctx context.Context, calls []*call[claimIn]) {
	type scoped struct {
		merchantID int64
		key        string
	}
	first := make(map[scoped]*call[claimIn], len(calls))
	merchants, keys, hashes := make([]int64, 0, len(calls)), make([]string, 0, len(calls)), make([][]byte, 0, len(calls))
	for _, c := range calls {
		k := scoped{c.in.merchantID, c.in.key}
		if _, dup := first[k]; dup {
			continue
		}
		first[k] = c
		merchants, keys, hashes = append(merchants, k.merchantID), append(keys, k.key), append(hashes, c.in.hash)
	}
	fail := func(err error) {
		for _, c := range calls {
			c.err = err
		}
	}
	// the answers waiting are written by the same statement, before the claims (a
	// claim of a key whose answer goes with it finds the key taken, and then the
	// answer)
	query, args := async, []any{db.Array(merchants), db.Array(keys), db.Array(hashes)}
	if answers := m.takeWaiting(); len(answers) > 0 {
		with, more := answerWith(len(args), answers)
		query += ", " + with + " "
		args = append(args, more...)
	}
	rows, err := m.DB.QueryContext(ctx, query+`INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, body)
		SELECT x.merchant_id, x.key, x.request_hash, 0, '' FROM async,
			unnest($1::bigint[], $2::text[], $3::bytea[]) AS x(merchant_id, key, request_hash)
		ON CONFLICT DO NOTHING RETURNING merchant_id, key, created_at`, args...)
	if err != nil {
		fail(fmt.Errorf("idempotency: claim: %w", err))
		return
	}
	defer rows.Close()
	for rows.Next() {
		var k scoped
		var at time.Time
		if err := rows.Scan(&k.merchantID, &k.key, &at); err != nil {
			fail(fmt.Errorf("idempotency: claim: %w", err))
			return
		}
		if c := first[k]; c != nil {
			c.ok, c.at = true, at
		}
	}
	if err := rows.Err(); err != nil {
		fail(fmt.Errorf("idempotency: claim: %w", err))
	}
}

// answerIn is the answer a request stores under the claim it held (storeLater,
// answerWith).
type answerIn struct {
	merchantID int64
	key        string
	status     int32
	headers    string
	body       []byte
	held       time.Time
}

// answerWith is the common table expression that stores answers, each only where
// its request's claim is still the one it wrote (held), for a statement that begins
// with async and has offset parameters of its own; more are its arguments. The
// answers are a batch of arrays joined to their keys' rows (db.Unnest, so that a
// connection keeps the statement's plan).
func answerWith(offset int, answers []answerIn) (with string, more []any) {
	n := len(answers)
	merchants, keys, statuses := make([]int64, n), make([]string, n), make([]int32, n)
	headers, bodies, held := make([]string, n), make([][]byte, n), make([]time.Time, n)
	for i, a := range answers {
		merchants[i], keys[i], statuses[i] = a.merchantID, a.key, a.status
		headers[i], bodies[i], held[i] = a.headers, a.body, a.held
	}
	p := func(i int) string { return "$" + strconv.Itoa(offset+i) }
	with = `answered AS (UPDATE idempotency_keys k SET status = x.status, headers = x.headers::jsonb, body = x.body
		FROM async, ` + db.Unnest(p(1)+"::bigint[]", p(2)+"::text[]", p(3)+"::int[]", p(4)+"::text[]", p(5)+"::bytea[]", p(6)+"::timestamptz[]") + `
			AS x(merchant_id, key, status, headers, body, held)
		WHERE k.merchant_id = x.merchant_id AND k.key = x.key AND k.status = 0 AND k.created_at = x.held RETURNING 1)`
	return with, []any{db.Array(merchants), db.Array(keys), db.Array(statuses), db.Array(headers), db.Array(bodies), db.Array(held)}
}

// storeLater queues an answer for the next statement of claims, and makes sure it is
// written by Linger from now if none comes.
func (m *Middleware) storeLater(a answerIn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waiting = append(m.waiting, a)
	if m.timer == nil {
		m.timer = time.AfterFunc(m.linger(), func() { m.Flush(context.Background()) })
	}
}

// takeWaiting takes the answers waiting (at most a statement's worth, 256) and, when
// none is left, stops the timer.
func (m *Middleware) takeWaiting() []answerIn {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := min(len(m.waiting), 256)
	out := append([]answerIn(nil), m.waiting[:n]...)
	m.waiting = append(m.waiting[:0], m.waiting[n:]...)
	if len(m.waiting) == 0 && m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	return out
}

// Flush writes the answers waiting now; a process calls it when it stops, after its
// last request. A failed statement's answers are not written (see storeLater).
func (m *Middleware) Flush(ctx context.Context) {
	for {
		answers := m.takeWaiting()
		if len(answers) == 0 {
			return
		}
		m.mu.Lock()
		m.answerStatements++
		m.mu.Unlock()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statementTimeout)
		with, args := answerWith(0, answers)
		_, _ = m.exec(sctx, async+", "+with+" SELECT count(*) FROM answered", args...)
		cancel()
	}
}

var errOtherRequest = errors.New("idempotency: key used with another request")

// inProgressError says the key is held by a live request; retryAfter is what is left
// of its lease, in whole seconds.
type inProgressError struct{ retryAfter int }

func (e *inProgressError) Error() string {
	return fmt.Sprintf("idempotency: key in use; retry after %d s", e.retryAfter)
}

// claim makes this request the holder of the key, or waits for the holder's answer.
// owner is false when an answer is stored and should be replayed; held is the
// claim's created_at as this request wrote it, which its renewals and its answer
// must find unchanged (a retry that took the claim over has written its own).
func (m *Middleware) claim(ctx context.Context, merchantID int64, key string, reqHash []byte) (owner bool, held time.Time, err error) {
	c := &call[claimIn]{in: claimIn{merchantID: merchantID, key: key, hash: reqHash}}
	m.claims.do(c)
	switch {
	case c.err != nil:
		return false, time.Time{}, c.err
	case c.ok:
		return true, c.at, nil
	}
	// the key is taken
	lease := m.lease()
	deadline := time.Now().Add(m.wait())
	delay := 5 * time.Millisecond
	for {
		var row struct {
			RequestHash []byte    `db:"request_hash"`
			Status      int       `db:"status"`
			CreatedAt   time.Time `db:"created_at"`
			Left        float64   `db:"left"`
		}
		err := m.DB.GetContext(ctx, &row, `SELECT request_hash, status, created_at,
			extract(epoch FROM created_at + $3 * interval '1 millisecond' - now())::float8 AS left
			FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, merchantID, key, lease.Milliseconds())
		if errors.Is(err, sql.ErrNoRows) {
			// the holder failed and released it: claim it again
			return m.claim(ctx, merchantID, key, reqHash)
		}
		if err != nil {
			return false, time.Time{}, err
		}
		if !bytes.Equal(row.RequestHash, reqHash) {
			return false, time.Time{}, errOtherRequest
		}
		if row.Status != 0 {
			return false, time.Time{}, nil
		}
		if row.Left < 0 {
			// the holder stopped renewing: take the claim over, unless another
			// request waiting for it did so first
			held, err := m.stamp(ctx, async+`UPDATE idempotency_keys SET created_at = now()
				FROM async WHERE merchant_id = $1 AND key = $2 AND status = 0 AND created_at = $3
				RETURNING created_at`, merchantID, key, row.CreatedAt)
			if err == nil {
				return true, held, nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return false, time.Time{}, err
			}
		}
		if time.Now().After(deadline) {
			return false, time.Time{}, &inProgressError{retryAfter: retryAfter(row.Left, lease)}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, time.Time{}, ctx.Err()
		case <-t.C:
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// requestHash identifies a request: the same key with another hash answers 422.
func requestHash(method, path string, body []byte) []byte {
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%s\x00", method, path)
	sum.Write(body)
	return sum.Sum(nil)
}

// retryAfter rounds what is left of a lease up to whole seconds, at least 1 and at
// most the lease.
func retryAfter(left float64, lease time.Duration) int {
	return int(max(1, min(math.Ceil(left), math.Ceil(lease.Seconds()))))
}

func (m *Middleware) replay(api huma.API, ctx huma.Context, w http.ResponseWriter, merchantID int64, key string) {
	var row struct {
		Status  int    `db:"status"`
		Headers []byte `db:"headers"`
		Body    []byte `db:"body"`
	}
	err := m.DB.GetContext(ctx.Context(), &row, `SELECT status, headers, body FROM idempotency_keys
		WHERE merchant_id = $1 AND key = $2`, merchantID, key)
	if err != nil {
		huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "idempotency replay", err)
		return
	}
	var h http.Header
	_ = json.Unmarshal(row.Headers, &h)
	for k, vs := range h {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(row.Status)
	w.Write(row.Body)
}

// keep selects the headers worth replaying.
func keep(h http.Header) http.Header {
	out := http.Header{}
	for k, vs := range h {
		switch k {
		case "Date", "Content-Length", "X-Request-Id":
			continue
		}
		out[k] = vs
	}
	return out
}

// recorder buffers the answer so it can be stored before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	under  http.ResponseWriter
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.under }

func (r *recorder) flush() {
	for k, vs := range r.header {
		r.under.Header()[k] = vs
	}
	r.under.WriteHeader(r.status)
	r.under.Write(r.body.Bytes())
}

// JobSweep is the outbox job that deletes expired keys (Jobs).
const JobSweep = "sweep.idempotency_keys"

// Jobs has w sweep the keys older than Retention every hour, in one replica.
func Jobs(w *outbox.Worker) {
	w.Every(JobSweep, time.Hour, func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := Sweep(ctx, tx)
		return err
	})
}

// Sweep deletes keys older than Retention and returns how many it deleted.
func Sweep(ctx context.Context, d sqlx.ExecerContext) (int64, error) {
	res, err := d.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval`,
		fmt.Sprintf("%d seconds", int(Retention.Seconds())))
	if err != nil {
		return 0, fmt.Errorf("idempotency: sweep: %w", err)
	}
	return res.RowsAffected()
}
