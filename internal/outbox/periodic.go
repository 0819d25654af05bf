package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
)

// periodic is a job registered with Every.
type periodic struct {
	kind     string
	interval time.Duration
}

// Every registers fn as the job kind that runs every interval, in one replica at a
// time, for housekeeping such as deleting expired rows. Each run enqueues the next, in
// its own transaction, so the chain neither breaks nor doubles, whatever the number of
// replicas; Run starts the chain when it has none (Schedule). A run whose fn fails is
// logged, its writes are undone, and the next run comes at its usual time. Call before
// Run.
func (w *Worker) Every(kind string, interval time.Duration, fn func(ctx context.Context, tx *sqlx.Tx) error) {
	w.periodic = append(w.periodic, periodic{kind: kind, interval: interval})
	w.Handle(kind, func(ctx context.Context, tx *sqlx.Tx, job Job) error {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT periodic`); err != nil {
			return err
		}
		if err := fn(ctx, tx); err != nil {
			if ctx.Err() != nil {
				return err
			}
			if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT periodic`); rerr != nil {
				return rerr
			}
			w.log.Warn("periodic job failed; it runs again at its next turn", slog.String("kind", kind),
				slog.Duration("every", interval), slog.String("error", err.Error()))
		}
		_, err := Enqueue(ctx, tx, Message{Kind: kind, RunAt: time.Now().Add(interval)})
		return err
	})
}

// Schedule enqueues the first run, due now, of each job registered with Every that
// has no pending run: at the first start, or after a run was lost (parked as dead).
// Replicas starting together enqueue it once: each kind is checked under a
// transaction-scoped advisory lock.
func (w *Worker) Schedule(ctx context.Context) error {
	for _, p := range w.periodic {
		err := func() error {
			tx, err := w.db.BeginTxx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('roundtrip_outbox_periodic'), hashtext($1))`, p.kind); err != nil {
				return err
			}
			var pending bool
			if err := tx.GetContext(ctx, &pending, `SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending' AND kind = $1)`, p.kind); err != nil {
				return err
			}
			if pending {
				return nil
			}
			if _, err := Enqueue(ctx, tx, Message{Kind: p.kind}); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return fmt.Errorf("outbox: schedule %s: %w", p.kind, err)
		}
	}
	return nil
}

// DoneRetention is how long the done rows of jobs that earlier releases ran are
// kept; SweepDone deletes older ones. A job's claim deletes its row now (a job that
// ran leaves none), so done rows come only from before migration 32 and from older
// replicas during a rolling deploy. Parked (dead) jobs stay until someone deals with
// them.
const DoneRetention = 7 * 24 * time.Hour

// JobSweepDone is the periodic job that deletes the jobs done before DoneRetention
// (SweepJobs).
const JobSweepDone = "sweep.outbox"

// sweepBatch and sweepBatches bound one sweep: up to ten deletes of 10,000 jobs, each
// ending early when fewer are left. Run every minute, that keeps up with 14 million
// jobs a day (a million lifecycles), and a backlog (a table never swept) goes over
// several runs instead of one long transaction.
const (
	sweepBatch   = 10000
	sweepBatches = 10
)

// SweepDone deletes up to limit jobs that were done before before, oldest first, and
// answers how many it deleted. It finds them through outbox_done, an index over the
// done rows alone, so a sweep with nothing to delete reads one index page, and none
// of the pending jobs.
func SweepDone(ctx context.Context, d sqlx.ExecerContext, before time.Time, limit int) (int64, error) {
	// The IDs are gathered into an array first so that the delete finds each by its
	// key: with IN (SELECT …) and a limit in the thousands the planner may hash the
	// IDs and scan the whole table for them.
	res, err := d.ExecContext(ctx, `DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM outbox
		WHERE state = 'done' AND done_at < $1 ORDER BY done_at LIMIT $2))`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("outbox: sweep: %w", err)
	}
	return res.RowsAffected()
}

// SweepJobs has w delete the jobs done more than DoneRetention ago every minute, in
// one replica: the done rows of earlier releases (SweepDone).
func SweepJobs(w *Worker) {
	w.Every(JobSweepDone, time.Minute, func(ctx context.Context, tx *sqlx.Tx) error {
		before := time.Now().Add(-DoneRetention)
		for range sweepBatches {
			n, err := SweepDone(ctx, tx, before, sweepBatch)
			if err != nil || n < sweepBatch {
				return err
			}
		}
		return nil
	})
}
