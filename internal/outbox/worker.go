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
	log      *slog.Logger

	// wake holds one token per worker that should look for work: a NOTIFY or the
	// poll adds one, and one idle worker takes it, so a new row wakes one worker
	// instead of all of them.
	wake chan struct{}
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
		wake: make(chan struct{}, opts.Concurrency)}
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
		w.nudge()
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
			w.nudge()
			poll.Reset(w.pollDelay())
		}
	}
}

// pollDelay is Poll with jitter, so that replicas started together do not poll
// together.
func (w *Worker) pollDelay() time.Duration { return w.opts.Poll/2 + rand.N(w.opts.Poll/2+1) }

// nudge asks one idle worker to look for work; when every worker already has a token
// to look, one more changes nothing.
func (w *Worker) nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// wakeAll asks every worker to look.
func (w *Worker) wakeAll() {
	for range w.opts.Concurrency {
		w.nudge()
	}
}

func (w *Worker) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		// drain: keep working while there is due work (every NOTIFY wakes another
		// worker, so a busy moment spreads over the workers without waking idle ones
		// for nothing)
		for ctx.Err() == nil {
			did, err := w.RunOne(ctx)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Warn("outbox claim", slog.String("error", err.Error()))
				}
				break
			}
			if !did {
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
	if _, err := tx.ExecContext(ctx, `SAVEPOINT handler`); err != nil {
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
	if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT handler`); err != nil {
		return false, err
	}
	var retry *Retry
	switch {
	case errors.As(herr, &retry):
		_, err = tx.ExecContext(ctx, `UPDATE outbox SET run_at = now() + $2 * interval '1 millisecond', last_error = $3 WHERE id = $1`,
			job.ID, retry.After.Milliseconds(), retry.Reason)
	case IsPermanent(herr) || job.Attempts+1 >= job.MaxAttempts:
		w.log.Error("outbox job parked as dead", slog.Int64("job", job.ID), slog.String("kind", job.Kind),
			slog.Int("attempts", job.Attempts+1), slog.String("error", herr.Error()))
		_, err = tx.ExecContext(ctx, `UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = $2 WHERE id = $1`,
			job.ID, herr.Error())
	default:
		delay := w.opts.Backoff(job.Attempts + 1)
		w.log.Warn("outbox job failed; will retry", slog.Int64("job", job.ID), slog.String("kind", job.Kind),
			slog.Int("attempts", job.Attempts+1), slog.Duration("retry_in", delay), slog.String("error", herr.Error()))
		_, err = tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2,
			run_at = now() + $3 * interval '1 millisecond' WHERE id = $1`, job.ID, herr.Error(), delay.Milliseconds())
	}
	if err != nil {
		return false, err
	}
	return true, tx.Commit()
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
