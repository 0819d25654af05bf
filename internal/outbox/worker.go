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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/listen"
)

// Options tune a Worker; zero values pick the defaults.
type Options struct {
	// Concurrency is how many jobs one process runs at once (default 4).
	Concurrency int
	// Poll is the longest an idle process goes without looking for due rows (default
	// 1 minute); one worker looks, not all of them. It is a safety net: rows due now
	// are woken by the process that enqueued them or announced by a notification,
	// rows for later likewise with when they are due (the process looks then, and
	// after each such look reads when the next row is due), and a process whose
	// LISTEN connection was lost looks once it is back. It is also how long the jobs
	// of a process killed between its commit and its claim wait, at most, when it
	// does not start again first (here.go).
	Poll time.Duration
	// Backoff gives the delay before attempt n+1 after n failures (default:
	// exponential from 1s, capped at 10 minutes, with jitter).
	Backoff func(failures int) time.Duration
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
	// Hub is the process's LISTEN connection, shared with the other parts that wait
	// for notifications; nil gives the worker a connection of its own.
	Hub *listen.Hub
	// Help is the least time between two notifications by which the process asks
	// the others to claim jobs of a kind that it is behind on: every one of its
	// workers busy while more of the kind is due (default 1 second; here.go).
	Help time.Duration
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
	batches  map[string]batchKind
	// reads are the kinds' Read expressions (Batch.Read, HandleReading)
	reads    map[string]string
	kinds    []string
	periodic []periodic
	log      *slog.Logger

	// wake holds the tokens of work to look for, and an idle worker takes each. A
	// wake-up (one per kind and transaction: here.go's, or a NOTIFY's) adds a token
	// to claim one batch of that kind, unless one for the kind is waiting already
	// (queued): its claim will see the new rows too. The worker claims once and goes
	// back to sleep, so a transaction's rows cost one claim per kind, not a second
	// empty one; when the claim saw more rows of its kind due than it took, the
	// worker claims again (unless a token of the kind waits by then: that token's
	// claim takes them), and when it saw more than one more, it adds a token for the
	// kind, so that another worker joins in (for one more, the second worker's claim
	// would find it taken by the first's). The poll, a start and a reconnection add
	// draining tokens for every kind: that worker claims until nothing is due.
	wake chan token
	// mu guards queued, gathering and asked. queued holds the kinds with a token
	// waiting in wake; gathering holds the batch kinds with a Gather whose wake-up is
	// waiting out its gather: later wake-ups of them add no token; asked holds when
	// the process last asked the others for help with a kind.
	mu        sync.Mutex
	queued    map[string]bool
	gathering map[string]bool
	asked     map[string]time.Time
	// kindClaims holds each kind's claim statement (kindClaimSQL)
	kindClaims sync.Map
	// wakeAt is the earliest time a row for later is known to be due, zero when
	// none is; a change of it is signalled on timed, for Run's timer.
	wakeMu sync.Mutex
	wakeAt time.Time
	timed  chan struct{}
	// overflow is set when a token did not fit (every worker already had one to
	// take): the next worker to claim then drains, so the rows behind the lost
	// tokens are not left for the poll.
	overflow atomic.Bool
	// busy counts the workers between taking a token and going back to sleep
	busy atomic.Int32
	// id names the worker in its calls for help (askHelp), so that it does not
	// answer its own
	id string
	// claims counts the claim statements run; outstanding, the tokens handed to the
	// workers and not yet done with (a token taken but not yet counted busy is
	// outstanding); started is set once the start's draining tokens are handed
	// out (tests: a worker is idle when started and nothing is outstanding)
	claims      atomic.Int64
	outstanding atomic.Int32
	started     atomic.Bool
}

// NewWorker returns a worker on d; url is the same database's URL, for the listener.
func NewWorker(d *sqlx.DB, url string, opts Options) *Worker {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Minute
	}
	if opts.Backoff == nil {
		opts.Backoff = Backoff
	}
	if opts.Help <= 0 {
		opts.Help = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{db: d, url: url, opts: opts, handlers: map[string]Handler{}, batches: map[string]batchKind{}, reads: map[string]string{}, log: log,
		wake: make(chan token, opts.Concurrency), queued: map[string]bool{}, gathering: map[string]bool{}, asked: map[string]time.Time{}, timed: make(chan struct{}, 1),
		id: strconv.FormatUint(rand.Uint64(), 36)}
}

// token asks a worker to claim: one batch of kind (every kind handled, when empty),
// or, when drain, until nothing is due.
type token struct {
	drain bool
	kind  string
}

// batchKind is a kind registered with HandleBatch.
type batchKind struct {
	Batch
	h BatchHandler
}

// Batch configures a kind registered with HandleBatch.
type Batch struct {
	// Size is the most jobs one claim takes (at least 1).
	Size int
	// Read, when set, is an SQL expression over the claimed row o (an outbox row)
	// that the claim statement evaluates for each job into Job.Read: what the handler
	// would otherwise read in a statement of its own.
	Read string
	// Gather, when set, is how long a process waits after a notification of the kind
	// before it claims, so that the jobs committed meanwhile (by this process or any
	// other) share the claim, its transaction and its commit instead of one claim
	// each. Notifications of the kind during the wait add nothing: the claim sees
	// their rows, and one that leaves rows behind claims again. It trades that much
	// latency for fewer, fuller batches when jobs come faster than one per Gather,
	// and is what keeps batches full when replicas keep up with the work rather than
	// falling behind it.
	Gather time.Duration
}

// HandleReading is Handle whose claim evaluates read, an SQL expression over the
// claimed row o as Batch.Read is, into Job.Read: what the handler would otherwise
// read in a statement of its own (a row it locks: FOR UPDATE in read takes the lock
// in the claim's statement, and the row read is the one locked).
func (w *Worker) HandleReading(kind, read string, h Handler) {
	w.reads[kind] = read
	w.Handle(kind, h)
}

// Handle registers the handler for kind; its jobs run one per transaction. Workers
// claim only kinds they handle, so processes with different handlers can share one
// table. Call before Run.
func (w *Worker) Handle(kind string, h Handler) {
	w.handlers[kind] = h
	w.kinds = append(w.kinds, kind)
	sort.Strings(w.kinds)
}

// HandleBatch registers h for kind: a worker claims up to b.Size of its due jobs at
// once and hands them to h together, in one transaction. Call before Run.
func (w *Worker) HandleBatch(kind string, b Batch, h BatchHandler) {
	b.Size = max(b.Size, 1)
	w.batches[kind] = batchKind{Batch: b, h: h}
	if b.Read != "" {
		w.reads[kind] = b.Read
	}
	w.kinds = append(w.kinds, kind)
	sort.Strings(w.kinds)
}

// Run works until ctx ends, then waits for running handlers and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	if len(w.kinds) == 0 {
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
	// a token for each kind and one per worker fit: no token is lost to a full channel
	w.wake = make(chan token, w.opts.Concurrency+len(w.kinds))
	hub.Subscribe(Channel, func(payload string, missed bool) {
		if missed {
			w.wakeAll() // notifications may have been lost while disconnected
			w.lookAgain()
			return
		}
		if kind, in, later := strings.Cut(payload, "@"); later {
			if ms, err := strconv.ParseInt(in, 10, 64); err == nil && w.handles(kind) {
				w.wakeIn(time.Duration(ms) * time.Millisecond)
			}
			return
		}
		// a call for help names the worker that calls ("kind#id"; an older release
		// named the process that enqueued the jobs so): the others answer it, not
		// the caller, whose workers take those rows as they free up (its own
		// listener hears it too, and a token then would be a claim finding nothing)
		kind, from, _ := strings.Cut(payload, "#")
		if from == w.id {
			return
		}
		w.notified(kind)
	})
	// the jobs this process's transactions enqueue are woken here (here.go); when it
	// stops, it no longer does, then announces its kinds for the jobs it leaves
	defer w.handOver()
	var database string
	if err := w.db.GetContext(ctx, &database, `SELECT current_database()`); err != nil {
		// its own transactions then notify, as a process without workers does
		w.log.Warn("outbox: the database's name is not known; this process's jobs are announced by notifications", slog.String("error", err.Error()))
	} else {
		defer runHere(w, database)()
	}
	for range w.opts.Concurrency {
		wg.Go(func() { w.loop(ctx) })
	}
	w.wakeAll() // rows that came while no worker ran
	wg.Go(func() {
		// and those that came before the LISTEN connection heard their notification
		select {
		case <-hub.Ready():
			w.nudge(token{drain: true})
			w.wakeAfterNext(ctx)
			w.started.Store(true)
		case <-ctx.Done():
		}
	})
	next := time.Now().Add(w.pollDelay())
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-w.timed:
			w.wakeMu.Lock()
			at := w.wakeAt
			w.wakeMu.Unlock()
			if !at.IsZero() && at.Before(next) {
				next = at
				timer.Reset(time.Until(next))
			}
		case <-timer.C:
			next = time.Now().Add(w.pollDelay())
			w.wakeMu.Lock()
			if !w.wakeAt.After(time.Now()) {
				w.wakeAt = time.Time{}
			} else if w.wakeAt.Before(next) {
				next = w.wakeAt // a row for later that is due before the next poll
			}
			w.wakeMu.Unlock()
			w.nudge(token{drain: true})
			timer.Reset(time.Until(next))
			// the rows for later whose notifications came while an earlier wake was
			// set were not kept: read when the next is due
			w.wakeAfterNext(ctx)
		}
	}
}

// handles reports whether the worker runs jobs of kind.
func (w *Worker) handles(kind string) bool {
	_, single := w.handlers[kind]
	_, batched := w.batches[kind]
	return single || batched
}

// wakeIn asks Run to look for due rows d from now, when that is before it would.
func (w *Worker) wakeIn(d time.Duration) {
	at := time.Now().Add(max(d, 0))
	w.wakeMu.Lock()
	defer w.wakeMu.Unlock()
	if w.wakeAt.IsZero() || at.Before(w.wakeAt) {
		w.wakeAt = at
		select {
		case w.timed <- struct{}{}:
		default:
		}
	}
}

// wakeAfterNext reads when the earliest pending row of the worker's kinds that is not
// due yet will be, and asks Run to look then. A failed read leaves it to the poll.
func (w *Worker) wakeAfterNext(ctx context.Context) {
	var ms sql.NullInt64
	err := w.db.GetContext(ctx, &ms, nextDueSQL, db.Array(w.kinds))
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("outbox: when the next row is due", slog.String("error", err.Error()))
		}
		return
	}
	if ms.Valid {
		w.wakeIn(time.Duration(ms.Int64) * time.Millisecond)
	}
}

// lookAgain has Run read when the next row for later is due (after a reconnection).
func (w *Worker) lookAgain() { w.wakeIn(0) }

// pollDelay is Poll with jitter, so that replicas started together do not poll
// together.
func (w *Worker) pollDelay() time.Duration { return w.opts.Poll/2 + rand.N(w.opts.Poll/2+1) }

// notified handles a notification that jobs of kind are due: a token to claim a
// batch of them, at once or, for a kind with a Gather, when its gather ends.
func (w *Worker) notified(kind string) {
	b, batched := w.batches[kind]
	if _, handled := w.handlers[kind]; !handled && !batched {
		return // another process's kind
	}
	if !batched || b.Gather <= 0 {
		w.nudge(token{kind: kind})
		return
	}
	w.claimAfter(kind, b.Gather)
}

// claimAfter adds a token for kind once d, jittered down to half, has passed, unless
// one is already waiting (in gathering): the wake-ups meanwhile share it. The jitter
// makes the waits of replicas that heard the same notification end at different
// times, so that the first takes the batch and the others find it taken.
func (w *Worker) claimAfter(kind string, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gathering[kind] {
		return
	}
	w.gathering[kind] = true
	time.AfterFunc(d/2+rand.N(d/2+1), func() {
		w.mu.Lock()
		delete(w.gathering, kind)
		w.mu.Unlock()
		w.nudge(token{kind: kind})
	})
}

// handOver announces the worker's kinds as it stops, so that the other processes
// claim at once the jobs this process woke for itself and leaves (here.go).
func (w *Worker) handOver() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := w.db.ExecContext(ctx, `SELECT pg_notify($1, k) FROM unnest($2::text[]) k`, Channel, db.Array(w.kinds)); err != nil {
		w.log.Warn("outbox: jobs left to the other processes without a notification; their poll takes them", slog.String("error", err.Error()))
	}
}

// mayAsk reports whether the process may ask the others for help with kind now: it
// has not within Help (here.go). A true answer counts as asking.
func (w *Worker) mayAsk(kind string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.asked[kind]) < w.opts.Help {
		return false
	}
	w.asked[kind] = time.Now()
	return true
}

// askHelp asks the other processes to claim jobs of kind, which this one is behind
// on. It runs beside the claim that found them (which holds a connection of the
// pool: waiting for another in its goroutine could wait for ever).
func (w *Worker) askHelp(kind string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, kind+"#"+w.id); err != nil {
		w.log.Warn("outbox: asking the other processes for help", slog.String("error", err.Error()))
	}
}

// nudge hands t to one idle worker, unless a token for its kind is waiting already;
// when the channel is full, the next worker to claim drains.
func (w *Worker) nudge(t token) {
	one := t.kind != "" && !t.drain
	if one {
		w.mu.Lock()
		if w.queued[t.kind] {
			w.mu.Unlock()
			return
		}
		w.queued[t.kind] = true
		w.mu.Unlock()
	}
	w.outstanding.Add(1)
	select {
	case w.wake <- t:
	default:
		w.outstanding.Add(-1)
		if one {
			w.mu.Lock()
			delete(w.queued, t.kind)
			w.mu.Unlock()
		}
		w.overflow.Store(true)
	}
}

// wakeAll asks every worker to drain.
func (w *Worker) wakeAll() {
	for range w.opts.Concurrency {
		w.nudge(token{drain: true})
	}
}

func (w *Worker) loop(ctx context.Context) {
	for {
		var t token
		select {
		case <-ctx.Done():
			return
		case t = <-w.wake:
		}
		w.busy.Add(1)
		if t.kind != "" && !t.drain {
			// from here on, a notification of the kind needs a token of its own: this
			// worker's claim may come before its rows
			w.mu.Lock()
			delete(w.queued, t.kind)
			w.mu.Unlock()
		}
		drain := t.drain
		// a NOTIFY's token claims one batch (every kind due in a transaction has its
		// own notification, and a claim that saw more than one more due wakes another
		// worker); a draining token,
		// or tokens lost to a full channel, keep this worker claiming while there is
		// due work
		for ctx.Err() == nil {
			did, beyond, err := w.runBatch(ctx, t.kind)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Warn("outbox claim", slog.String("error", err.Error()))
				}
				break
			}
			if w.overflow.Swap(false) {
				drain, t.kind = true, ""
				continue
			}
			if beyond > 0 {
				if t.kind != "" && !drain && w.isQueued(t.kind) {
					// a notification's token of the kind waits: its claim, after this
					// one's commit, takes the rows seen due here (and goes on, as
					// this one would) instead of this worker claiming them and that
					// claim finding none
					break
				}
				if beyond > 1 && t.kind != "" && !drain {
					w.nudge(token{kind: t.kind}) // another worker joins in
				}
				continue
			}
			if !did || !drain {
				break
			}
		}
		w.busy.Add(-1)
		w.outstanding.Add(-1)
	}
}

// isQueued reports whether a token of kind waits for a worker.
func (w *Worker) isQueued(kind string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queued[kind]
}

// RunOne claims one batch of due jobs (one job, for a kind registered with Handle)
// and runs it. It reports whether there was one.
func (w *Worker) RunOne(ctx context.Context) (bool, error) {
	did, _, err := w.runBatch(ctx, "")
	return did, err
}

// headSQL finds the kind of the oldest due job of the kinds handled ($1) and locks
// that job, for a claim of any kind (a drain): the claim that follows, in the same
// transaction, is the kind's own (kindClaimSQL), which takes the locked job with
// the rest of its batch. Two statements cheap to plan, in place of one that carried
// every kind's Read: that one was planned afresh for its first runs on every
// connection, at 10-15 ms a plan, and ran its whole plan even when nothing was due,
// which is what most drains find.
//
// It reads from each kind's part of outbox_pending_kind, a step of the index per
// kind whatever the backlog (an index across kinds cost every job an entry; one scan
// of this index over an array of kinds reads every due row of them and sorts): the
// kinds in the order of their oldest due rows, then, kind by kind until one has
// one, the oldest due row no one else holds. Only that row is locked: the claim's
// transaction lasts as long as its jobs run. A kind whose oldest due row is held
// comes in the order of that row, a little ahead of its turn. The kinds come
// through db.Unnest (as in nextDueSQL), so that a connection keeps the plan.
var headSQL = `SELECT k.kind FROM (
		SELECT k.kind, h.run_at, h.id FROM ` + db.Unnest("$1::text[]") + ` AS k(kind) CROSS JOIN LATERAL (
			SELECT o.run_at, o.id FROM outbox o WHERE o.state = 'pending' AND o.kind = k.kind AND o.run_at <= now()
			ORDER BY o.run_at, o.id LIMIT 1) h
		ORDER BY h.run_at, h.id) k
	CROSS JOIN LATERAL (
		SELECT 1 FROM outbox o WHERE o.state = 'pending' AND o.kind = k.kind AND o.run_at <= now()
		ORDER BY o.run_at, o.id LIMIT 1 FOR UPDATE SKIP LOCKED) free
	LIMIT 1`

// nextDueSQL reads in how many milliseconds the earliest row of the kinds handled
// ($1) that is not due yet will be: each kind's from its part of outbox_pending_kind.
var nextDueSQL = `SELECT ceil(extract(epoch FROM min(n.run_at) - now()) * 1000)::bigint
	FROM ` + db.Unnest("$1::text[]") + ` AS k(kind) CROSS JOIN LATERAL (
		SELECT o.run_at FROM outbox o WHERE o.state = 'pending' AND o.kind = k.kind AND o.run_at > now()
		ORDER BY o.run_at LIMIT 1) n`

// kindClaimSQL claims the due rows of kind, at most $2 (its batch size), and deletes
// them: a job that ran leaves no row, and what it did is kept where it did it (a
// delivery's attempts, an email's row, a refund and its ledger). The delete holds the
// rows' locks while the handler runs, a rollback (the handler's error, the process's
// death) brings them back, and a job that failed in a batch that commits is written
// back (putBack). A delete writes a dead row version and nothing else, where marking
// the row done wrote a new version of the whole row and an entry in its primary key,
// and left the row for a sweep to delete a week later. It walks the kind's index
// (outbox_pending_kind) in run_at order and stops at the batch. It locks up to two
// rows more than it takes, to tell how many more are due: none, one, or more (the
// column beyond), and evaluates the kind's Read (the column read).
func (w *Worker) kindClaimSQL(kind string) string {
	if q, ok := w.kindClaims.Load(kind); ok {
		return q.(string)
	}
	read := "NULL::text"
	if r, ok := w.reads[kind]; ok {
		read = "(" + r + ")::text"
	}
	q := `WITH locked AS (
		SELECT o.id, o.run_at FROM outbox o WHERE o.state = 'pending' AND o.kind = $1 AND o.run_at <= now()
		ORDER BY o.run_at, o.id LIMIT $2::int + 2
		FOR UPDATE OF o SKIP LOCKED),
	batch AS (
		SELECT id FROM locked ORDER BY run_at, id LIMIT $2::int)
	DELETE FROM outbox o USING batch WHERE o.id = batch.id
	RETURNING o.id, o.merchant_id, o.kind, o.payload, o.attempts, o.max_attempts, o.run_at, o.created_at,
		(SELECT count(*) FROM locked) - $2::int AS beyond, ` + read + ` AS read`
	w.kindClaims.Store(kind, q)
	return q
}

// runBatch claims one batch, of kind or (when empty) of the kind of the oldest due
// job, and runs it. It reports whether there was one, and how many more of its kind
// were due than it took (at most 2: none, one, or more).
func (w *Worker) runBatch(ctx context.Context, kind string) (bool, int, error) {
	tx, err := w.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, 0, err
	}
	defer tx.Rollback()
	var claimed []struct {
		Job
		Beyond int `db:"beyond"`
	}
	if kind == "" {
		err := tx.GetContext(ctx, &kind, headSQL, db.Array(w.kinds))
		if errors.Is(err, sql.ErrNoRows) {
			return false, 0, nil
		}
		if err != nil {
			return false, 0, err
		}
	}
	w.claims.Add(1)
	if err := tx.SelectContext(ctx, &claimed, w.kindClaimSQL(kind), kind, max(w.batches[kind].Size, 1)); err != nil {
		return false, 0, err
	}
	if len(claimed) == 0 {
		return false, 0, nil
	}
	jobs := make([]Job, len(claimed))
	for i, c := range claimed {
		jobs[i] = c.Job
	}
	beyond := claimed[0].Beyond
	if beyond > 0 && int(w.busy.Load()) >= w.opts.Concurrency && w.mayAsk(kind) {
		go w.askHelp(kind) // more is due and no worker here is free to take it
	}
	sort.Slice(jobs, func(i, j int) bool {
		if !jobs[i].RunAt.Equal(jobs[j].RunAt) {
			return jobs[i].RunAt.Before(jobs[j].RunAt)
		}
		return jobs[i].ID < jobs[j].ID
	})
	var errs []error
	var herr error
	if b, batched := w.batches[jobs[0].Kind]; batched {
		errs, herr = w.callBatch(ctx, tx, b.h, jobs)
	} else {
		herr = w.call(ctx, tx, jobs[0])
	}
	if herr == nil {
		var failed []failure
		for i, e := range errs {
			if e != nil && i < len(jobs) {
				failed = append(failed, w.failure(jobs[i], e))
			}
		}
		// the failed jobs wrote nothing: put them back in this transaction, which
		// deleted them and holds their IDs
		if err := w.putBack(ctx, tx, failed); err != nil {
			return false, 0, err
		}
		return true, beyond, tx.Commit()
	}
	if ctx.Err() != nil {
		// shutting down: leave the rows as they were for the next worker
		return false, 0, ctx.Err()
	}
	// the handler's writes and the claim are undone with its transaction, and the
	// failure is recorded after it in one statement of its own (no savepoint per
	// batch). The rows are unlocked in between: the guard on attempts and run_at
	// makes the record a no-op for a row another worker ran meanwhile.
	if err := tx.Rollback(); err != nil {
		return false, 0, err
	}
	failed := make([]failure, len(jobs))
	for i, j := range jobs {
		failed[i] = w.failure(j, herr)
	}
	if err := w.record(ctx, w.db, failed); err != nil {
		return false, 0, err
	}
	return true, beyond, nil
}

// failure is what becomes of a failed job.
type failure struct {
	job   Job
	state string        // pending or dead
	inc   int           // 1: the attempt counts; 0: a Retry
	delay time.Duration // before the next attempt, when pending
	err   string
}

// failure decides what becomes of job after err, and logs it.
func (w *Worker) failure(job Job, err error) failure {
	var retry *Retry
	switch {
	case errors.As(err, &retry):
		return failure{job: job, state: "pending", delay: retry.After, err: retry.Reason}
	case IsPermanent(err) || job.Attempts+1 >= job.MaxAttempts:
		w.log.Error("outbox job parked as dead", slog.Int64("job", job.ID), slog.String("kind", job.Kind),
			slog.Int("attempts", job.Attempts+1), slog.String("error", err.Error()))
		return failure{job: job, state: "dead", inc: 1, err: err.Error()}
	default:
		delay := w.opts.Backoff(job.Attempts + 1)
		w.log.Warn("outbox job failed; will retry", slog.Int64("job", job.ID), slog.String("kind", job.Kind),
			slog.Int("attempts", job.Attempts+1), slog.Duration("retry_in", delay), slog.String("error", err.Error()))
		return failure{job: job, state: "pending", inc: 1, delay: delay, err: err.Error()}
	}
}

// recordFailedSQL is record's statement, the failed jobs as a batch of arrays
// (db.Unnest, so that a connection keeps its plan).
var recordFailedSQL = `UPDATE outbox o SET state = f.state, attempts = o.attempts + f.inc, last_error = f.err,
		run_at = CASE WHEN f.state = 'pending' THEN clock_timestamp() + f.delay * interval '1 millisecond' ELSE o.run_at END
	FROM ` + db.Unnest("$1::bigint[]", "$2::int[]", "$3::timestamptz[]", "$4::text[]", "$5::int[]", "$6::bigint[]", "$7::text[]") + `
		AS f(id, attempts, run_at, state, inc, delay, err)
	WHERE o.id = f.id AND o.state = 'pending' AND o.attempts = f.attempts AND o.run_at = f.run_at`

// record marks failed jobs whose claim was rolled back, in one statement: to be
// retried after their delay or parked as dead. Only rows still pending with the
// attempts and run_at the claim saw change (another worker may have run one since).
func (w *Worker) record(ctx context.Context, q sqlx.ExecerContext, failed []failure) error {
	if len(failed) == 0 {
		return nil
	}
	defer w.wakeForRetries(failed)
	n := len(failed)
	ids, attempts, incs, delays := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	states, errs, runAts := make([]string, n), make([]string, n), make([]*time.Time, n)
	for i, f := range failed {
		ids[i], attempts[i], incs[i], delays[i] = f.job.ID, int64(f.job.Attempts), int64(f.inc), f.delay.Milliseconds()
		states[i], errs[i], runAts[i] = f.state, f.err, sqlTime(f.job.RunAt)
	}
	_, err := q.ExecContext(ctx, recordFailedSQL, db.Array(ids), db.Array(attempts), db.Array(runAts), db.Array(states), db.Array(incs), db.Array(delays), db.Array(errs))
	return err
}

// putBack writes back, in one statement, the failed jobs of a batch whose claim
// deleted them and whose transaction commits the others' work: each with its ID,
// payload and creation time, to be retried after its delay or parked as dead.
func (w *Worker) putBack(ctx context.Context, q sqlx.ExecerContext, failed []failure) error {
	if len(failed) == 0 {
		return nil
	}
	defer w.wakeForRetries(failed)
	n := len(failed)
	ids, merchants, attempts, maxAttempts := make([]int64, n), make([]*int64, n), make([]int64, n), make([]int64, n)
	kinds, payloads, states, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	runAts, createdAts, delays := make([]time.Time, n), make([]time.Time, n), make([]int64, n)
	for i, f := range failed {
		ids[i], merchants[i], kinds[i], payloads[i] = f.job.ID, f.job.MerchantID, f.job.Kind, string(f.job.Payload)
		attempts[i], maxAttempts[i] = int64(f.job.Attempts+f.inc), int64(f.job.MaxAttempts)
		states[i], errs[i], delays[i] = f.state, f.err, f.delay.Milliseconds()
		runAts[i], createdAts[i] = f.job.RunAt, f.job.CreatedAt
	}
	_, err := q.ExecContext(ctx, `INSERT INTO outbox (id, merchant_id, kind, payload, state, run_at, attempts, max_attempts, last_error, created_at)
		SELECT f.id, f.merchant_id, f.kind, f.payload::jsonb, f.state,
			CASE WHEN f.state = 'pending' THEN clock_timestamp() + f.delay * interval '1 millisecond' ELSE f.run_at END,
			f.attempts, f.max_attempts, f.err, f.created_at
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::int[], $8::int[],
			$9::text[], $10::timestamptz[], $11::bigint[])
			AS f(id, merchant_id, kind, payload, state, run_at, attempts, max_attempts, err, created_at, delay)`,
		db.Array(ids), db.Array(merchants), db.Array(kinds), db.Array(payloads), db.Array(states), db.Array(runAts),
		db.Array(attempts), db.Array(maxAttempts), db.Array(errs), db.Array(createdAts), db.Array(delays))
	return err
}

// wakeForRetries has this process look again when the first of failed's retries is
// due (other processes find it by their poll, or by this one's look).
func (w *Worker) wakeForRetries(failed []failure) {
	for _, f := range failed {
		if f.state == "pending" {
			w.wakeIn(f.delay)
		}
	}
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

// callBatch runs a batch handler, turning a panic into an error for the batch.
func (w *Worker) callBatch(ctx context.Context, tx *sqlx.Tx, h BatchHandler, jobs []Job) (errs []error, err error) {
	defer func() {
		if r := recover(); r != nil {
			errs, err = nil, fmt.Errorf("outbox: handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return h(ctx, tx, jobs)
}
