package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/roundtriphq/roundtrip/internal/listen"
)

// Options tune a Worker; zero values pick the defaults.
type Options struct {
	// Concurrency is how many jobs one process runs at once (default 4).
	Concurrency int
	// Poll is how often an idle process looks for due rows without a NOTIFY (default
	// 5s): it covers rows scheduled for later and notifications lost while
	// disconnected. One worker looks, not all of them.
	Poll time.Duration
	// Backoff gives the delay before attempt n+1 after n failures (default:
	// exponential from 1s, capped at 10 minutes, with jitter).
	Backoff func(failures int) time.Duration
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
	// Hub is the process's LISTEN connection, shared with the other parts that wait
	// for notifications; nil gives the worker a connection of its own.
	Hub *listen.Hub
}

// Backoff is the default retry delay: 1s·2^(n−1), at most 10 minutes, with the
// upper half jittered so that rows failing together do not retry together.
func Backoff(failures int) time.Duration {
	if failures < 1 {
		failures = 1
	}
	d := time.Second << min(failures-1, 20)
	if d > 10*time.Minute {
		d = 10 * time.Minute
	}
	return d/2 + rand.N(d/2+1)
}

// Worker claims and runs jobs.
type Worker struct {
	db       *sqlx.DB
	url      string
	opts     Options
	handlers map[string]Handler
	kinds    []string
	periodic []periodic
	log      *slog.Logger

	// wake holds one token per worker that should look for work, and one idle worker
	// takes each. A NOTIFY (one per due row) adds a token to run one job: the worker
	// claims once and goes back to sleep, so a row costs one claim, not a second empty
	// one. The poll, a start and a reconnection add draining tokens (true): that
	// worker claims until nothing is due.
	wake chan bool
	// overflow is set when a token did not fit (every worker already had one to
	// take): the next worker to claim then drains, so the rows behind the lost
	// tokens are not left for the poll.
	overflow atomic.Bool
}

// NewWorker returns a worker on d; url is the same database's URL, for the listener.
func NewWorker(d *sqlx.DB, url string, opts Options) *Worker {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Backoff == nil {
		opts.Backoff = Backoff
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{db: d, url: url, opts: opts, handlers: map[string]Handler{}, log: log,
		wake: make(chan bool, opts.Concurrency)}
}

// Handle registers the handler for kind. Workers claim only kinds they handle, so
// processes with different handlers can share one table. Call before Run.
func (w *Worker) Handle(kind string, h Handler) {
	w.handlers[kind] = h
	w.kinds = append(w.kinds, kind)
	sort.Strings(w.kinds)
}

// Run works until ctx ends, then waits for running handlers and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	if len(w.handlers) == 0 {
		<-ctx.Done()
		return nil
	}
	if err := w.Schedule(ctx); err != nil && ctx.Err() == nil {
		w.log.Warn("outbox periodic jobs not scheduled; the next start schedules them", slog.String("error", err.Error()))
	}
	var wg sync.WaitGroup
	hub := w.opts.Hub
	if hub == nil {
		hub = listen.New(w.url, w.log)
		wg.Go(func() { _ = hub.Run(ctx) })
	}
	hub.Subscribe(Channel, func(_ string, missed bool) {
		if missed {
			w.wakeAll() // notifications may have been lost while disconnected
			return
		}
		w.nudge(false)
	})
	for range w.opts.Concurrency {
		wg.Go(func() { w.loop(ctx) })
	}
	w.wakeAll() // rows that came while no worker ran
	poll := time.NewTimer(w.pollDelay())
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-poll.C:
			w.nudge(true)
			poll.Reset(w.pollDelay())
		}
	}
}

// pollDelay is Poll with jitter, so that replicas started together do not poll
// together.
func (w *Worker) pollDelay() time.Duration { return w.opts.Poll/2 + rand.N(w.opts.Poll/2+1) }

// nudge asks one idle worker to look for work (drain: until nothing is due); when
// every worker already has a token to take, the next one to claim drains.
func (w *Worker) nudge(drain bool) {
	select {
	case w.wake <- drain:
	default:
		w.overflow.Store(true)
	}
}

// wakeAll asks every worker to drain.
func (w *Worker) wakeAll() {
	for range w.opts.Concurrency {
		w.nudge(true)
	}
}

func (w *Worker) loop(ctx context.Context) {
	for {
		var drain bool
		select {
		case <-ctx.Done():
			return
		case drain = <-w.wake:
		}
		// a NOTIFY's token runs one job (every due row has its own notification); a
		// draining token, or tokens lost to a full channel, keep this worker claiming
		// while there is due work
		for ctx.Err() == nil {
			did, err := w.RunOne(ctx)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Warn("outbox claim", slog.String("error", err.Error()))
				}
				break
			}
			if w.overflow.Swap(false) {
				drain = true
				continue
			}
			if !did || !drain {
				break
			}
		}
	}
}

// RunOne claims one due job and runs it. It reports whether there was one.
func (w *Worker) RunOne(ctx context.Context) (bool, error) {
	tx, err := w.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var job Job
	err = tx.GetContext(ctx, &job, `SELECT id, merchant_id, kind, payload, attempts, max_attempts, run_at, created_at
		FROM outbox WHERE state = 'pending' AND run_at <= now() AND kind = ANY($1)
		ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, pq.Array(w.kinds))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, err
	}
	herr := w.call(ctx, tx, job)
	if herr == nil {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'done', done_at = now(), last_error = NULL WHERE id = $1`, job.ID); err != nil {
			return false, err
		}
		return true, tx.Commit()
	}
	if ctx.Err() != nil {
		// shutting down: leave the row as it was for the next worker
		return false, ctx.Err()
	}
	// the handler's writes are undone with its transaction, and the failure is
	// recorded after it in one statement of its own (no savepoint per job). The row is
	// unlocked in between: the guard on attempts and run_at makes the record a no-op
	// when another worker ran the job meanwhile.
	if err := tx.Rollback(); err != nil {
		return false, err
	}
	var retry *Retry
	switch {
	case errors.As(herr, &retry):
		_, err = w.db.ExecContext(ctx, `UPDATE outbox SET run_at = now() + $2 * interval '1 millisecond', last_error = $3
			WHERE id = $1 AND state = 'pending' AND attempts = $4 AND run_at = $5`,
			job.ID, retry.After.Milliseconds(), retry.Reason, job.Attempts, job.RunAt)
	case IsPermanent(herr) || job.Attempts+1 >= job.MaxAttempts:
		w.log.Error("outbox job parked as dead", slog.Int64("job", job.ID), slog.String("kind", job.Kind),
			slog.Int("attempts", job.Attempts+1), slog.String("error", herr.Error()))
		_, err = w.db.ExecContext(ctx, `UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = $2
			WHERE id = $1 AND state = 'pending' AND attempts = $3 AND run_at = $4`, job.ID, herr.Error(), job.Attempts, job.RunAt)
	default:
		delay := w.opts.Backoff(job.Attempts + 1)
		w.log.Warn("outbox job failed; will retry", slog.Int64("job", job.ID), slog.String("kind", job.Kind),
			slog.Int("attempts", job.Attempts+1), slog.Duration("retry_in", delay), slog.String("error", herr.Error()))
		_, err = w.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2,
			run_at = now() + $3 * interval '1 millisecond' WHERE id = $1 AND state = 'pending' AND attempts = $4 AND run_at = $5`,
			job.ID, herr.Error(), delay.Milliseconds(), job.Attempts, job.RunAt)
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// call runs the handler, turning a panic into an error so one bad job cannot take
// the process down.
func (w *Worker) call(ctx context.Context, tx *sqlx.Tx, job Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("outbox: handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return w.handlers[job.Kind](ctx, tx, job)
}
