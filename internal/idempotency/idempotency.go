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
// again. A claim whose owner died is taken over after Lease. A crash between the
// operation's commit and the answer being stored would run the operation again on
// the retry, so operations whose effect must not repeat also keep the key on the
// resource they create (see FromContext) and answer that resource instead.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jmoiron/sqlx"

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

// Lease is how long a claim may stay in progress before another request with the
// key takes it over (its owner is presumed dead). It outlasts any request.
const Lease = 40 * time.Second

// Wait is how long a request waits for another with the same key to finish.
const Wait = 20 * time.Second

type keyCtx struct{}

// FromContext returns the scoped idempotency key of the request being served, or "".
func FromContext(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(string)
	return k
}

// Middleware is the Huma middleware; it must run after auth's.
type Middleware struct {
	DB *sqlx.DB
}

func declares(op *huma.Operation) bool {
	return slices.ContainsFunc(op.Parameters, func(p *huma.Param) bool {
		return p.In == "header" && http.CanonicalHeaderKey(p.Name) == HeaderName
	})
}

// Handler returns the middleware function for api.
func (m *Middleware) Handler(api huma.API) func(huma.Context, func(huma.Context)) {
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
		sum := sha256.New()
		fmt.Fprintf(sum, "%s\x00%s\x00", r.Method, r.URL.Path)
		sum.Write(body)
		reqHash := sum.Sum(nil)

		owner, err := m.claim(ctx.Context(), p.MerchantID, scoped, reqHash)
		switch {
		case errors.Is(err, errOtherRequest):
			huma.WriteErr(api, ctx, http.StatusUnprocessableEntity,
				"This Idempotency-Key was already used with a different request. Use a new key for a new request.")
			return
		case errors.Is(err, errInProgress):
			// the first request is still running, or its replica died and the claim
			// has not yet outlived Lease: the client retries later with the same key
			p := problem.Conflict(CodeInProgress, "A request with this Idempotency-Key is still in progress. Retry in a few seconds with the same key.")
			p.GetHeaders().Set("Retry-After", "5")
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
		r2 := r.WithContext(context.WithValue(ctx.Context(), keyCtx{}, scoped))
		r2.Body = io.NopCloser(bytes.NewReader(body))
		next(humago.NewContext(op, r2, rec))

		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		// The answer is stored even if the client went away meanwhile.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx.Context()), 10*time.Second)
		defer cancel()
		if rec.status < 500 && rec.status != http.StatusTooManyRequests {
			headers, _ := json.Marshal(keep(rec.header))
			// On failure the answer is still sent; the claim expires after Lease, and
			// creating operations find their resource by the key they stored.
			_, _ = m.exec(sctx, `UPDATE idempotency_keys SET status = $3, headers = $4, body = $5
				WHERE merchant_id = $1 AND key = $2`, p.MerchantID, scoped, rec.status, headers, rec.body.Bytes())
		} else {
			_, _ = m.exec(sctx, `DELETE FROM idempotency_keys WHERE merchant_id = $1 AND key = $2 AND status = 0`, p.MerchantID, scoped)
		}
		rec.flush()
	}
}

// exec runs one statement in its own transaction without waiting for the WAL flush
// (synchronous_commit off). Claims and stored answers are a cache in front of the
// operation, whose own transaction commits durably: if a crash loses the last few,
// a retry runs again and finds the resource by its key. Skipping two of the three
// flushes of a creating request is most of its latency.
func (m *Middleware) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx, err := m.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

var (
	errOtherRequest = errors.New("idempotency: key used with another request")
	errInProgress   = errors.New("idempotency: key in use")
)

// claim makes this request the owner of the key, or waits for the owner's answer.
// owner is false when an answer is stored and should be replayed.
func (m *Middleware) claim(ctx context.Context, merchantID int64, key string, reqHash []byte) (owner bool, err error) {
	res, err := m.exec(ctx, `INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, body)
		VALUES ($1, $2, $3, 0, '') ON CONFLICT DO NOTHING`, merchantID, key, reqHash)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	deadline := time.Now().Add(Wait)
	delay := 5 * time.Millisecond
	for {
		var row struct {
			RequestHash []byte    `db:"request_hash"`
			Status      int       `db:"status"`
			CreatedAt   time.Time `db:"created_at"`
			Stale       bool      `db:"stale"`
		}
		err := m.DB.GetContext(ctx, &row, `SELECT request_hash, status, created_at,
			created_at < now() - $3 * interval '1 millisecond' AS stale
			FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, merchantID, key, Lease.Milliseconds())
		if errors.Is(err, sql.ErrNoRows) {
			// the owner failed and released it: claim it again
			return m.claim(ctx, merchantID, key, reqHash)
		}
		if err != nil {
			return false, err
		}
		if !bytes.Equal(row.RequestHash, reqHash) {
			return false, errOtherRequest
		}
		if row.Status != 0 {
			return false, nil
		}
		if row.Stale {
			res, err := m.DB.ExecContext(ctx, `UPDATE idempotency_keys SET created_at = now()
				WHERE merchant_id = $1 AND key = $2 AND status = 0 AND created_at = $3`, merchantID, key, row.CreatedAt)
			if err != nil {
				return false, err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return true, nil
			}
		}
		if time.Now().After(deadline) {
			return false, errInProgress
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
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
