// Package outbox runs work that must happen once after a commit — refunds, emails,
// webhooks, label expiry — from a table in PostgreSQL. Callers write a row in the same
// transaction as the change that needs it (Enqueue); workers in every replica claim
// rows with FOR UPDATE SKIP LOCKED, are woken by the process that enqueued the rows
// once its transaction commits, or by NOTIFY through the process's LISTEN connection
// when that process runs no worker for them (here.go; a row for later says when it is
// due, with a once-a-minute poll as the safety net, so an idle process costs
// nothing), retry failures with exponential
// backoff and jitter, and park a row as dead after its last attempt, keeping the last
// error.
//
// A worker claims the due rows of one kind together (up to the kind's batch size, one
// for a Handler) in one statement that also deletes them; the rows stay locked by
// the claiming transaction while the handler runs, and the handler gets that
// transaction: database effects of the handler and the rows' deletion commit
// together, exactly once, in one commit per batch. A job that ran leaves no row (what
// it did is kept where it did it: a delivery's attempts, an email's row, a refund).
// A failed job is written back (retried later or parked as dead, with its error) by
// one statement. A worker that dies mid-handler releases the locks with its
// connection, the deletion is undone with its transaction, and another worker takes
// the rows at once. Effects outside the database (a Stripe call) can happen again after such a death, so they
// must be idempotent themselves (Stripe's Idempotency-Key).
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/db"
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
	// Read is what the kind's Batch.Read gave for the job (nil without one).
	Read []byte `db:"read"`
}

// Decode unmarshals the payload into v.
func (j Job) Decode(v any) error {
	if err := json.Unmarshal(j.Payload, v); err != nil {
		return Permanent(fmt.Errorf("outbox: job %d (%s): bad payload: %w", j.ID, j.Kind, err))
	}
	return nil
}

// Handler does the work of one job. tx is the transaction that holds the job's lock;
// writes through it commit only if the handler returns nil, together with the job's
// row being deleted.
type Handler func(ctx context.Context, tx *sqlx.Tx, job Job) error

// BatchHandler does the work of several jobs of one kind together, in the
// transaction that holds their locks: for work that costs fewer round trips done
// together (a webhook delivery's reads and writes). It returns each job's outcome,
// errs[i] for jobs[i] (nil: done; errs may be shorter than jobs, missing ones are
// done); a job reported failed must have written nothing through tx, since the
// other jobs' writes commit. A non-nil err fails the whole batch: every write is
// undone and every job counts as failed with err.
type BatchHandler func(ctx context.Context, tx *sqlx.Tx, jobs []Job) (errs []error, err error)

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

// Enqueue writes messages in the caller's transaction, all of them in one statement,
// and wakes workers once that transaction commits: one wake-up per kind due now or
// within a second, since one worker claims a kind's due rows together, and for
// messages for later one per kind that says in how many milliseconds the earliest of
// them is due (it wakes nobody; each worker of the kind sets its timer to look
// then). Kinds that this process's workers run are woken in this process, when tx is
// a transaction of a pool db.Open made (here.go); other kinds, or any kind on another
// transaction, are announced by NOTIFY, which PostgreSQL delivers at the commit: the
// kind ("kind@ms" for later; identical notifications of one transaction are folded
// into one). It returns the rows' IDs in the order of msgs.
func Enqueue(ctx context.Context, tx sqlx.ExtContext, msgs ...Message) ([]int64, error) {
	ids, _, err := EnqueueParts(ctx, tx, nil, msgs...)
	return ids, err
}

// Part is one caller's share of an enqueueing statement (EnqueueParts), so that
// writes of several packages and their jobs are one round trip: With is a list of
// common table expressions (without the WITH keyword) with parameters Args, numbered
// $1 to $len(Args) within the part (no dollar-quoted strings); when Jobs names one of
// them, it leaves rows with the columns merchant_id and payload (json), and each
// becomes a job of Kind due now, of MaxAttempts attempts (default 12). CTE names must
// differ between parts and not start with outbox_. Messages are jobs the part brings
// along: EnqueueParts enqueues them before its own messages (a part carried from an
// earlier change keeps its jobs in order), and a part with Messages only makes them.
type Part struct {
	With        string
	Args        []any
	Jobs        string
	Kind        string
	MaxAttempts int
	Messages    []Message
}

// renumber adds k to the number of every parameter ($1, $2, …) in the SQL text s.
// It is a byte scan, not a regular expression: it runs for every part of every
// statement that carries parts (each transition's events, emails and jobs), where
// the regular expression's replacement was a percent of a replica's CPU.
func renumber(s string, k int) string {
	if k == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/16)
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			continue
		}
		n, err := strconv.Atoi(s[i+1 : j])
		if err != nil { // more digits than an int holds: left as written
			continue
		}
		b.WriteString(s[last : i+1])
		b.WriteString(strconv.Itoa(n + k))
		last = j
		i = j - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Ahead returns the parts' common table expressions, separated by commas, for a
// statement of the caller's that has offset parameters of its own and puts them
// first in its WITH: each part's parameters are numbered after the statement's and
// the parts' before it, in args (to append to the statement's). Jobs are ignored:
// EnqueueParts makes those. A part that brings Messages cannot ride on such a
// statement (they would be lost): that is a mistake of the caller's, and panics.
func Ahead(offset int, parts ...Part) (ctes string, args []any) {
	var withs []string
	for _, p := range parts {
		if len(p.Messages) > 0 {
			panic("outbox: Ahead of a part that brings messages: only EnqueueParts enqueues them")
		}
		if p.With == "" {
			continue
		}
		k := offset + len(args)
		withs = append(withs, renumber(p.With, k))
		args = append(args, p.Args...)
	}
	return strings.Join(withs, ", "), args
}

// EnqueueParts is Enqueue with the parts' writes and their jobs, in one statement. It
// answers msgs' IDs in their order and how many jobs the parts' rows made.
func EnqueueParts(ctx context.Context, tx sqlx.ExtContext, parts []Part, msgs ...Message) ([]int64, int, error) {
	var withs, jobs []string
	var args []any
	kindOf := ""
	var brought []Message
	for _, p := range parts {
		brought = append(brought, p.Messages...)
		if p.With == "" {
			continue
		}
		p.Messages = nil
		with, pargs := Ahead(len(args), p)
		withs = append(withs, with)
		args = append(args, pargs...)
		if p.Jobs != "" {
			if p.Kind == "" {
				return nil, 0, errors.New("outbox: jobs without kind")
			}
			if p.MaxAttempts <= 0 {
				p.MaxAttempts = 12
			}
			args = append(args, p.Kind, p.MaxAttempts)
			jobs = append(jobs, `SELECT merchant_id, $`+strconv.Itoa(len(args)-1)+`::text AS kind, payload::text AS payload,
				$`+strconv.Itoa(len(args))+`::int AS max_attempts FROM `+p.Jobs)
			kindOf = p.Kind
		}
	}
	own := len(brought) // msgs' IDs come after those of the parts' messages
	if own > 0 {
		msgs = append(brought, msgs...)
	}
	if len(msgs) == 0 && len(jobs) == 0 {
		if len(withs) == 0 {
			return nil, 0, nil
		}
		_, err := tx.ExecContext(ctx, "WITH "+strings.Join(withs, ", ")+" SELECT 1", args...)
		return nil, 0, err
	}
	n := len(msgs)
	merchants := make([]*int64, n)
	kinds := make([]string, n)
	payloads := make([]string, n)
	runAts := make([]*time.Time, n)
	maxAttempts := make([]int64, n)
	for i, m := range msgs {
		if m.Kind == "" {
			return nil, 0, errors.New("outbox: message without kind")
		}
		payload, err := json.Marshal(m.Payload)
		if err != nil {
			return nil, 0, fmt.Errorf("outbox: %s payload: %w", m.Kind, err)
		}
		if m.MaxAttempts <= 0 {
			m.MaxAttempts = 12
		}
		if m.MerchantID != 0 {
			merchants[i] = &m.MerchantID
		}
		kinds[i], payloads[i], maxAttempts[i] = m.Kind, string(payload), int64(m.MaxAttempts)
		runAts[i] = sqlTime(m.RunAt)
		kindOf = m.Kind
	}
	k := len(args)
	ph := func(i int) string { return "$" + strconv.Itoa(k+i) }
	// the parts' table expressions are most of the text (kilobytes each): one buffer
	// for all of it, not a copy of the text so far at every piece
	var q strings.Builder
	size := 2048
	for _, w := range withs {
		size += len(w) + 2
	}
	for _, j := range jobs {
		size += len(j) + 11
	}
	q.Grow(size)
	q.WriteString(`WITH `)
	for _, w := range withs {
		q.WriteString(w)
		q.WriteString(`, `)
	}
	// each message's ID is drawn before the insert, so that the answer can pair IDs
	// with the messages' order
	q.WriteString(`outbox_new AS (SELECT nextval(pg_get_serial_sequence('outbox', 'id')) AS id, m.*
			FROM unnest(` + ph(1) + `::bigint[], ` + ph(2) + `::text[], ` + ph(3) + `::text[], ` + ph(4) + `::timestamptz[], ` + ph(5) + `::int[])
			WITH ORDINALITY AS m(merchant_id, kind, payload, run_at, max_attempts, n)),
		outbox_ins AS (INSERT INTO outbox (id, merchant_id, kind, payload, run_at, max_attempts)
			SELECT id, merchant_id, kind, payload::jsonb, coalesce(run_at, now()), max_attempts FROM outbox_new`)
	if len(jobs) > 0 {
		q.WriteString(`
			UNION ALL SELECT nextval(pg_get_serial_sequence('outbox', 'id')), merchant_id, kind, payload::jsonb, now(), max_attempts
			FROM (` + strings.Join(jobs, " UNION ALL ") + `) outbox_rows`)
	}
	// the kinds this process runs are woken here after the commit, without a
	// notification, when the transaction can say when it commits (here.go)
	here := []string{}
	var due map[string]int64
	if db.RunsOnCommit(tx) {
		here = handledHere()
		ctx = db.OnCommit(ctx, func() { wakeHere(due) })
	}
	q.WriteString(`
			RETURNING kind, run_at),
		outbox_wake AS (SELECT pg_notify(` + ph(6) + `, kind)
			FROM (SELECT DISTINCT kind FROM outbox_ins WHERE run_at <= now() + interval '1 second') due
			WHERE current_database() || '/' || kind <> ALL(` + ph(7) + `::text[])
			UNION ALL
			SELECT pg_notify(` + ph(6) + `, kind || '@' || ceil(extract(epoch FROM min(run_at) - now()) * 1000)::bigint)
			FROM outbox_ins WHERE run_at > now() + interval '1 second' AND current_database() || '/' || kind <> ALL(` + ph(7) + `::text[])
			GROUP BY kind)
		SELECT (SELECT count(*) FROM outbox_wake) AS woken, (SELECT count(*) FROM outbox_ins) AS written,
			(SELECT coalesce(json_agg(id ORDER BY n), '[]') FROM outbox_new)::text AS ids,
			(SELECT coalesce(json_object_agg(kind, ms), '{}') FROM (
				SELECT current_database() || '/' || kind AS kind,
					CASE WHEN min(run_at) <= now() + interval '1 second' THEN 0
					ELSE ceil(extract(epoch FROM min(run_at) - now()) * 1000)::bigint END AS ms
				FROM outbox_ins WHERE current_database() || '/' || kind = ANY(` + ph(7) + `::text[]) GROUP BY kind) h)::text AS here`)
	args = append(args, db.Array(merchants), db.Array(kinds), db.Array(payloads), db.Array(runAts), db.Array(maxAttempts), Channel,
		db.Array(here))
	var row struct {
		Woken   int64  `db:"woken"`
		Written int    `db:"written"`
		IDs     []byte `db:"ids"`
		Here    []byte `db:"here"`
	}
	if err := sqlx.GetContext(ctx, tx, &row, q.String(), args...); err != nil {
		return nil, 0, fmt.Errorf("outbox: enqueue %s: %w", kindOf, err)
	}
	if err := json.Unmarshal(row.Here, &due); err != nil {
		return nil, 0, fmt.Errorf("outbox: enqueue %s: kinds run here: %w", kindOf, err)
	}
	var ids []int64
	if err := json.Unmarshal(row.IDs, &ids); err != nil {
		return nil, 0, fmt.Errorf("outbox: enqueue %s: ids: %w", kindOf, err)
	}
	return ids[own:], row.Written - len(ids), nil
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

// sqlTime is t as an element of a timestamptz array parameter (NULL when zero).
func sqlTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
