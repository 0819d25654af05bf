// Package idempotency makes every creating POST safe to retry: a request that carries
// an Idempotency-Key is run once per merchant and key, and its answer is stored; the
// same key with the same request replays that answer (Idempotent-Replayed: true), the
// same key with another request answers 422, and concurrent requests with one key wait
// for the first and then replay it.
//
// How: the first request inserts the key's row in a transaction that stays open while
// the operation runs, so a concurrent insert of the same key blocks on PostgreSQL's
// unique index until the first commits (then it replays) or rolls back (then it runs).
// Answers of 5xx and 429 are not stored, so a retry runs again. A crash between the
// operation's own commit and the key's commit loses only the stored answer; operations
// whose effect must not repeat also keep the key on the resource they create (see
// FromContext), so the retry finds the resource instead of making a second one.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// HeaderName is the request header.
const HeaderName = "Idempotency-Key"

// Header is embedded in the input of every operation that accepts the header; the
// middleware applies to exactly the operations that declare it.
type Header struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes the request safe to retry: the same key with the same body replays the first answer (with Idempotent-Replayed: true); the same key with another body answers 422. Keys are kept for 24 hours." example:"3f1c9a52-7d8e-4b1a-9c1e-2f5d6a7b8c9d"`
}

// Retention is how long keys are kept; Sweep deletes older ones.
const Retention = 24 * time.Hour

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

		tx, err := m.DB.BeginTxx(ctx.Context(), nil)
		if err != nil {
			huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "idempotency", err)
			return
		}
		defer tx.Rollback()
		res, err := tx.ExecContext(ctx.Context(), `INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, body)
			VALUES ($1, $2, $3, 0, '') ON CONFLICT DO NOTHING`, p.MerchantID, scoped, reqHash)
		if err != nil {
			huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "idempotency", err)
			return
		}
		if n, _ := res.RowsAffected(); n == 0 {
			tx.Rollback()
			m.replay(api, ctx, w, p.MerchantID, scoped, reqHash)
			return
		}

		rec := &recorder{header: http.Header{}, under: w}
		r2 := r.WithContext(context.WithValue(ctx.Context(), keyCtx{}, scoped))
		r2.Body = io.NopCloser(bytes.NewReader(body))
		next(humago.NewContext(op, r2, rec))

		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if rec.status < 500 && rec.status != http.StatusTooManyRequests {
			headers, _ := json.Marshal(keep(rec.header))
			_, err = tx.ExecContext(ctx.Context(), `UPDATE idempotency_keys SET status = $3, headers = $4, body = $5
				WHERE merchant_id = $1 AND key = $2`, p.MerchantID, scoped, rec.status, headers, rec.body.Bytes())
			if err == nil {
				err = tx.Commit()
			}
			// On failure the answer is still sent; a retry runs the operation again,
			// and creating operations find their resource by the key they stored.
			_ = err
		}
		rec.flush()
	}
}

func (m *Middleware) replay(api huma.API, ctx huma.Context, w http.ResponseWriter, merchantID int64, key string, reqHash []byte) {
	var row struct {
		RequestHash []byte `db:"request_hash"`
		Status      int    `db:"status"`
		Headers     []byte `db:"headers"`
		Body        []byte `db:"body"`
	}
	err := m.DB.GetContext(ctx.Context(), &row, `SELECT request_hash, status, headers, body FROM idempotency_keys
		WHERE merchant_id = $1 AND key = $2`, merchantID, key)
	if err != nil {
		huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "idempotency replay", err)
		return
	}
	if !bytes.Equal(row.RequestHash, reqHash) {
		huma.WriteErr(api, ctx, http.StatusUnprocessableEntity,
			"This Idempotency-Key was already used with a different request. Use a new key for a new request.")
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

// Sweep deletes keys older than Retention and returns how many it deleted.
func Sweep(ctx context.Context, d *sqlx.DB) (int64, error) {
	res, err := d.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval`,
		fmt.Sprintf("%d seconds", int(Retention.Seconds())))
	if err != nil {
		return 0, fmt.Errorf("idempotency: sweep: %w", err)
	}
	return res.RowsAffected()
}
