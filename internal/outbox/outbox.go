// Package outbox runs work that must happen once after a commit — refunds, emails,
// webhooks, label expiry — from a table in PostgreSQL. Callers write a row in the same
// transaction as the change that needs it (Enqueue); workers in every replica claim
// rows with FOR UPDATE SKIP LOCKED, are woken by NOTIFY through a pq.Listener (with a
// polling fallback), retry failures with exponential backoff and jitter, and park a
// row as dead after its last attempt, keeping the last error.
//
// A claimed row stays locked by the claiming transaction while its handler runs, and
// the handler gets that transaction: database effects of the handler and the row being
// marked done commit together, exactly once. A worker that dies mid-handler releases
// the lock with its connection, and another worker takes the row at once. Effects
// outside the database (a Stripe call) can happen again after such a death, so they
// must be idempotent themselves (Stripe's Idempotency-Key).
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Channel is the NOTIFY channel that wakes workers.
const Channel = "roundtrip_outbox"

// Message is work to enqueue.
type Message struct {
	MerchantID int64 // 0 for work that belongs to no merchant
	Kind       string
	Payload    any       // marshalled to JSON
	RunAt      time.Time // zero: as soon as possible
	// MaxAttempts bounds retries before the row is parked as dead (default 12).
	MaxAttempts int
}

// Job is a claimed row, as a handler sees it.
type Job struct {
	ID         int64           `db:"id"`
	MerchantID *int64          `db:"merchant_id"`
	Kind       string          `db:"kind"`
	Payload    json.RawMessage `db:"payload"`
	// Attempts counts earlier failed attempts.
	Attempts    int       `db:"attempts"`
	MaxAttempts int       `db:"max_attempts"`
	RunAt       time.Time `db:"run_at"`
	CreatedAt   time.Time `db:"created_at"`
}

// Decode unmarshals the payload into v.
func (j Job) Decode(v any) error {
	if err := json.Unmarshal(j.Payload, v); err != nil {
		return Permanent(fmt.Errorf("outbox: job %d (%s): bad payload: %w", j.ID, j.Kind, err))
	}
	return nil
}

// Handler does the work of one job. tx is the transaction that holds the job's lock;
// writes through it commit only if the handler returns nil, together with the job
// being marked done.
type Handler func(ctx context.Context, tx *sqlx.Tx, job Job) error

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying: the job is parked as dead at once.
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Retry asks for the job to run again after d without counting as a failure; for
// handlers that poll something (a pending refund) rather than fail.
type Retry struct {
	After  time.Duration
	Reason string
}

func (r *Retry) Error() string { return "outbox: retry in " + r.After.String() + ": " + r.Reason }

// Enqueue writes messages in the caller's transaction and notifies workers, which
// PostgreSQL delivers when that transaction commits: one notification per message
// due now or within a second (its payload is the row's ID, so that two messages in
// one transaction are two notifications and wake two workers). A message for later
// wakes nobody; the poll finds it when it is due. Each message is one statement.
func Enqueue(ctx context.Context, tx sqlx.ExtContext, msgs ...Message) ([]int64, error) {
	ids := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		if m.Kind == "" {
			return nil, errors.New("outbox: message without kind")
		}
		payload, err := json.Marshal(m.Payload)
		if err != nil {
			return nil, fmt.Errorf("outbox: %s payload: %w", m.Kind, err)
		}
		if m.MaxAttempts <= 0 {
			m.MaxAttempts = 12
		}
		var merchant *int64
		if m.MerchantID != 0 {
			merchant = &m.MerchantID
		}
		var runAt *time.Time
		if !m.RunAt.IsZero() {
			runAt = &m.RunAt
		}
		var id int64
		err = sqlx.GetContext(ctx, tx, &id, `WITH i AS (INSERT INTO outbox (merchant_id, kind, payload, run_at, max_attempts)
			VALUES ($1, $2, $3, coalesce($4, now()), $5) RETURNING id, run_at)
			SELECT id FROM i, LATERAL (SELECT pg_notify($6, i.id::text) WHERE i.run_at <= now() + interval '1 second') n
			UNION ALL SELECT id FROM i WHERE i.run_at > now() + interval '1 second'`,
			merchant, m.Kind, string(payload), runAt, m.MaxAttempts, Channel)
		if err != nil {
			return nil, fmt.Errorf("outbox: enqueue %s: %w", m.Kind, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Stats describes the backlog, for metrics.
type Stats struct {
	Pending       int64   `db:"pending"`
	Dead          int64   `db:"dead"`
	OldestSeconds float64 `db:"oldest_seconds"` // age of the oldest due pending row
}

// ReadStats reads the backlog.
func ReadStats(ctx context.Context, d sqlx.QueryerContext) (Stats, error) {
	var s Stats
	err := sqlx.GetContext(ctx, d, &s, `SELECT
		count(*) FILTER (WHERE state = 'pending') AS pending,
		count(*) FILTER (WHERE state = 'dead') AS dead,
		coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE state = 'pending' AND run_at <= now())), 0)::float8 AS oldest_seconds
		FROM outbox WHERE state <> 'done'`)
	if err != nil {
		return Stats{}, fmt.Errorf("outbox: stats: %w", err)
	}
	return s, nil
}
