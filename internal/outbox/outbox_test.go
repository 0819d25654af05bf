package outbox_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// TestMain doubles as a worker process for the two-process test: with
// OUTBOX_WORKER_DB set, the test binary works the outbox until told to stop.
func TestMain(m *testing.M) {
	if url := os.Getenv("OUTBOX_WORKER_DB"); url != "" {
		os.Exit(workerProcess(url))
	}
	os.Exit(m.Run())
}

func workerProcess(url string) int {
	d, err := sqlx.Open("postgres", url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 2, Poll: 50 * time.Millisecond})
	w.Handle("count", countHandler("child"))
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	// the parent closes our stdin when it has seen every row done
	var b [1]byte
	os.Stdin.Read(b[:])
	cancel()
	<-done
	return 0
}

func countHandler(who string) outbox.Handler {
	return func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO processed (job_id, worker) VALUES ($1, $2)`, job.ID, who)
		return err
	}
}

func setup(t *testing.T) (*sqlx.DB, string) {
	t.Helper()
	d, url := pgtest.NewWithURL(t)
	if _, err := d.Exec(`CREATE TABLE processed (job_id bigint NOT NULL, worker text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return d, url
}

func enqueue(t *testing.T, d *sqlx.DB, msgs ...outbox.Message) []int64 {
	t.Helper()
	tx := d.MustBegin()
	ids, err := outbox.Enqueue(context.Background(), tx, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// processedIs is a waitFor condition: want rows processed.
func processedIs(d *sqlx.DB, want int) func() bool {
	return func() bool {
		var n int
		d.Get(&n, `SELECT count(*) FROM processed`)
		return n == want
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
	}
}

func TestExactlyOnceAcrossTwoProcesses(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	const n = 300
	msgs := make([]outbox.Message, n)
	for i := range msgs {
		msgs[i] = outbox.Message{Kind: "count", Payload: map[string]int{"i": i}}
	}
	enqueue(t, d, msgs...)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "OUTBOX_WORKER_DB="+url)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 2, Poll: 50 * time.Millisecond})
	w.Handle("count", countHandler("parent"))
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()

	waitFor(t, "every row done", 60*time.Second, func() bool {
		var left int
		d.Get(&left, `SELECT count(*) FROM outbox WHERE state <> 'done'`)
		return left == 0
	})
	cancel()
	<-done
	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatalf("worker process: %v", err)
	}

	var got struct {
		Total    int `db:"total"`
		Distinct int `db:"distinct_jobs"`
		Workers  int `db:"workers"`
	}
	if err := d.Get(&got, `SELECT count(*) AS total, count(DISTINCT job_id) AS distinct_jobs,
		count(DISTINCT worker) AS workers FROM processed`); err != nil {
		t.Fatal(err)
	}
	if got.Total != n || got.Distinct != n {
		t.Fatalf("got %d executions of %d distinct jobs, want each of %d exactly once", got.Total, got.Distinct, n)
	}
	t.Logf("%d jobs processed by %d processes", n, got.Workers)
}

func TestFailingHandlerIsRetriedThenParked(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	w := outbox.NewWorker(d, url, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
	calls := 0
	w.Handle("flaky", func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		calls++
		// a write that must not survive the failure
		if _, err := tx.Exec(`INSERT INTO processed (job_id, worker) VALUES ($1, 'flaky')`, job.ID); err != nil {
			return err
		}
		return fmt.Errorf("carrier said no (attempt %d)", job.Attempts+1)
	})
	w.Handle("permanent", func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		return outbox.Permanent(errors.New("merchant deleted"))
	})
	w.Handle("panics", func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		panic("boom")
	})
	ids := enqueue(t, d,
		outbox.Message{Kind: "flaky", MaxAttempts: 3},
		outbox.Message{Kind: "permanent"},
		outbox.Message{Kind: "panics", MaxAttempts: 2},
	)
	ctx := context.Background()
	for {
		did, err := w.RunOne(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			break
		}
	}
	type row struct {
		State     string `db:"state"`
		Attempts  int    `db:"attempts"`
		LastError string `db:"last_error"`
	}
	get := func(id int64) row {
		var r row
		if err := d.Get(&r, `SELECT state, attempts, last_error FROM outbox WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := get(ids[0]); r.State != "dead" || r.Attempts != 3 || r.LastError != "carrier said no (attempt 3)" || calls != 3 {
		t.Errorf("flaky: got %+v after %d calls, want dead after 3 attempts with the last error", r, calls)
	}
	if r := get(ids[1]); r.State != "dead" || r.Attempts != 1 {
		t.Errorf("permanent: got %+v, want dead after 1 attempt", r)
	}
	if r := get(ids[2]); r.State != "dead" || r.Attempts != 2 || !strings.Contains(r.LastError, "panicked: boom") {
		t.Errorf("panics: got %+v, want dead after 2 attempts with the panic kept", r)
	}
	var writes int
	d.Get(&writes, `SELECT count(*) FROM processed`)
	if writes != 0 {
		t.Errorf("got %d writes from failed attempts, want 0: a failed handler's writes roll back", writes)
	}
}

func TestScheduledJobWaitsForItsTime(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	w := outbox.NewWorker(d, url, outbox.Options{})
	w.Handle("count", countHandler("w"))
	enqueue(t, d, outbox.Message{Kind: "count", RunAt: time.Now().Add(time.Hour)})
	did, err := w.RunOne(context.Background())
	if err != nil || did {
		t.Fatalf("got did=%v err=%v for a job due in an hour, want nothing to do", did, err)
	}
	if _, err := d.Exec(`UPDATE outbox SET run_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if did, err := w.RunOne(context.Background()); err != nil || !did {
		t.Fatalf("got did=%v err=%v once due, want it run", did, err)
	}
}

func TestWorkerOnlyClaimsKindsItHandles(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	w := outbox.NewWorker(d, url, outbox.Options{})
	w.Handle("count", countHandler("w"))
	enqueue(t, d, outbox.Message{Kind: "email"})
	if did, err := w.RunOne(context.Background()); err != nil || did {
		t.Fatalf("got did=%v err=%v, want the email job left for a worker that handles it", did, err)
	}
}

func TestNotifyWakesAnIdleWorker(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	// a poll interval far longer than the test: only NOTIFY can wake the worker in time
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 1, Poll: time.Hour})
	handled := make(chan int64, 1)
	w.Handle("ping", func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		handled <- job.ID
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	// the first poll happens at start; wait until the listener is surely up by
	// round-tripping one job, then measure the second
	enqueue(t, d, outbox.Message{Kind: "ping"})
	<-handled
	id := enqueue(t, d, outbox.Message{Kind: "ping"})[0]
	select {
	case got := <-handled:
		if got != id {
			t.Fatalf("got job %d, want %d", got, id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker was not woken by NOTIFY")
	}
	cancel()
	<-done
}

// TestEveryRunsOnceAndSchedulesTheNext: a periodic job is scheduled once however many
// workers start, each run enqueues the next one interval later, and a failing run
// keeps the chain going.
func TestEveryRunsOnceAndSchedulesTheNext(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	ctx := context.Background()
	fail := false
	newWorker := func() *outbox.Worker {
		w := outbox.NewWorker(d, url, outbox.Options{})
		w.Every("sweep.test", time.Hour, func(ctx context.Context, tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO processed (job_id, worker) VALUES (0, 'sweep')`); err != nil {
				return err
			}
			if fail {
				return errors.New("the sweep failed")
			}
			return nil
		})
		return w
	}
	a, b := newWorker(), newWorker()
	for _, w := range []*outbox.Worker{a, b, a} {
		if err := w.Schedule(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pending := func() (n int, inMinutes float64) {
		t.Helper()
		if err := d.QueryRow(`SELECT count(*), coalesce(max(extract(epoch FROM run_at - now()) / 60), 0) FROM outbox
			WHERE kind = 'sweep.test' AND state = 'pending'`).Scan(&n, &inMinutes); err != nil {
			t.Fatal(err)
		}
		return n, inMinutes
	}
	if n, _ := pending(); n != 1 {
		t.Fatalf("got %d pending runs after three schedules, want 1", n)
	}
	runs := func() int {
		var n int
		d.Get(&n, `SELECT count(*) FROM processed WHERE worker = 'sweep'`)
		return n
	}
	for i, failing := range []bool{false, true} {
		fail = failing
		if did, err := b.RunOne(ctx); err != nil || !did {
			t.Fatalf("run %d: got %v, %v; want a run", i+1, did, err)
		}
		if n, in := pending(); n != 1 || in < 59 || in > 61 {
			t.Fatalf("after run %d: got %d pending runs, the next in %.1f minutes; want 1 in about 60", i+1, n, in)
		}
		if did, _ := a.RunOne(ctx); did {
			t.Fatalf("after run %d: another run was due at once", i+1)
		}
		if _, err := d.Exec(`UPDATE outbox SET run_at = now() WHERE kind = 'sweep.test' AND state = 'pending'`); err != nil {
			t.Fatal(err)
		}
	}
	if got := runs(); got != 1 {
		t.Errorf("got %d runs' writes kept, want 1 (the failed run's are undone)", got)
	}
}

// TestABurstLargerThanTheWorkersRunsWithoutThePoll: many rows committed at once
// notify more workers than there are; the notifications that do not fit make a
// worker drain, so every row runs without waiting for the poll (an hour here).
func TestABurstLargerThanTheWorkersRunsWithoutThePoll(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 2, Poll: time.Hour})
	handled := make(chan int64, 100)
	w.Handle("ping", func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		handled <- job.ID
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	enqueue(t, d, outbox.Message{Kind: "ping"}) // the listener is up once this one ran
	<-handled
	msgs := make([]outbox.Message, 30)
	for i := range msgs {
		msgs[i] = outbox.Message{Kind: "ping"}
	}
	ids := enqueue(t, d, msgs...)
	seen := map[int64]bool{}
	deadline := time.After(time.Minute) // a bound for a stuck worker, not a wait
	for len(seen) < len(ids) {
		select {
		case id := <-handled:
			seen[id] = true
		case <-deadline:
			t.Fatalf("%d of %d rows ran; the rest waited for the poll", len(seen), len(ids))
		}
	}
	cancel()
	<-done
}

// TestARowForLaterSaysWhenItIsDue: a row due later sends no kind-only notification
// (that would wake a worker to find nothing) but one that says in how many
// milliseconds it is due; rows due now send one per kind and transaction, with the
// kind, however many rows and statements the transaction has.
func TestARowForLaterSaysWhenItIsDue(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	l := pq.NewListener(url, 10*time.Millisecond, time.Second, nil)
	defer l.Close()
	if err := l.Listen(outbox.Channel); err != nil {
		t.Fatal(err)
	}
	enqueue(t, d, outbox.Message{Kind: "ping", RunAt: time.Now().Add(time.Hour)})
	tx := d.MustBegin()
	for _, msgs := range [][]outbox.Message{{{Kind: "ping"}, {Kind: "pong"}}, {{Kind: "ping"}}} {
		if _, err := outbox.Enqueue(context.Background(), tx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, d, outbox.Message{Kind: "last"}) // notifications come in commit order
	got := notificationsUntil(t, l, "last")
	kind, in, ok := strings.Cut(got[0], "@")
	ms, err := strconv.ParseInt(in, 10, 64)
	if !ok || kind != "ping" || err != nil || ms < 3_590_000 || ms > 3_600_000 {
		t.Fatalf("first notification %q, want ping@ and the milliseconds to its hour", got[0])
	}
	if rest := strings.Join(got[1:len(got)-1], " "); rest != "ping pong" && rest != "pong ping" {
		t.Fatalf("got notifications %v, want ping and pong once each, then last", got)
	}
}

// notificationsUntil collects the payloads l hears, up to and with last.
func notificationsUntil(t *testing.T, l *pq.Listener, last string) []string {
	t.Helper()
	var got []string
	for len(got) == 0 || got[len(got)-1] != last {
		select {
		case n := <-l.Notify:
			got = append(got, n.Extra)
		case <-time.After(time.Minute): // a bound for a lost notification
			t.Fatalf("got notifications %v, then none", got)
		}
	}
	return got
}

// TestRowsForLaterRunWhenDueWithoutThePoll: with the poll an hour away, a row for
// later written before the worker started, one written while it runs and a failed
// job's retry each run when due.
func TestRowsForLaterRunWhenDueWithoutThePoll(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 2, Poll: time.Hour,
		Backoff: func(int) time.Duration { return 300 * time.Millisecond }})
	var failedOnce atomic.Bool
	w.Handle("later", countHandler("w"))
	w.Handle("flaky", func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		if !failedOnce.Swap(true) {
			return errors.New("not this time")
		}
		return countHandler("w")(ctx, tx, job)
	})
	enqueue(t, d, outbox.Message{Kind: "later", RunAt: time.Now().Add(300 * time.Millisecond)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	waitFor(t, "the row written before the start", time.Minute, processedIs(d, 1))
	enqueue(t, d, outbox.Message{Kind: "later", RunAt: time.Now().Add(1500 * time.Millisecond)})
	waitFor(t, "the row written while running", time.Minute, processedIs(d, 2))
	enqueue(t, d, outbox.Message{Kind: "flaky"})
	waitFor(t, "the failed job's retry", time.Minute, processedIs(d, 3))
	cancel()
	<-done
	var left int
	if err := d.Get(&left, `SELECT count(*) FROM outbox WHERE kind = 'flaky'`); err != nil || left != 0 {
		t.Fatalf("flaky: %d rows left (%v), want its row gone with the retry that ran", left, err)
	}
}

// TestEnqueueAnswersIDsInTheMessagesOrder: several messages are one statement, and
// each ID is its message's row.
func TestEnqueueAnswersIDsInTheMessagesOrder(t *testing.T) {
	t.Parallel()
	d, _ := setup(t)
	var msgs []outbox.Message
	for i := range 7 {
		msgs = append(msgs, outbox.Message{Kind: []string{"b", "a", "c"}[i%3], Payload: map[string]int{"i": i}, MerchantID: 0,
			RunAt: time.Now().Add(time.Duration(i) * time.Hour), MaxAttempts: i + 1})
	}
	ids := enqueue(t, d, msgs...)
	if len(ids) != len(msgs) {
		t.Fatalf("got %d IDs for %d messages", len(ids), len(msgs))
	}
	for i, id := range ids {
		var r struct {
			Kind        string `db:"kind"`
			I           int    `db:"i"`
			MaxAttempts int    `db:"max_attempts"`
			InHours     int    `db:"in_hours"`
		}
		if err := d.Get(&r, `SELECT kind, (payload->>'i')::int AS i, max_attempts,
			round(extract(epoch FROM run_at - now()) / 3600)::int AS in_hours FROM outbox WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if r.Kind != msgs[i].Kind || r.I != i || r.MaxAttempts != i+1 || r.InHours != i {
			t.Errorf("ID %d of message %d: got %+v", id, i, r)
		}
	}
}

// batchSetup registers a batch kind whose handler records each call's jobs and fails
// the jobs whose payload says so, writing nothing for them.
func batchSetup(t *testing.T, size int) (*sqlx.DB, *outbox.Worker, *[][]int64) {
	t.Helper()
	d, url := setup(t)
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 1, Poll: time.Hour, Backoff: func(int) time.Duration { return time.Hour }})
	var calls [][]int64
	w.HandleBatch("batch", outbox.Batch{Size: size}, func(ctx context.Context, tx *sqlx.Tx, jobs []outbox.Job) ([]error, error) {
		var ids []int64
		errs := make([]error, len(jobs))
		for i, j := range jobs {
			ids = append(ids, j.ID)
			var p struct{ Fail string }
			if err := j.Decode(&p); err != nil {
				return nil, err
			}
			switch p.Fail {
			case "":
				if _, err := tx.ExecContext(ctx, `INSERT INTO processed (job_id, worker) VALUES ($1, 'batch')`, j.ID); err != nil {
					return nil, err
				}
			case "retry":
				errs[i] = &outbox.Retry{After: time.Hour, Reason: "not yet"}
			case "permanent":
				errs[i] = outbox.Permanent(errors.New("no such thing"))
			case "batch":
				return nil, errors.New("the database went away")
			default:
				errs[i] = errors.New(p.Fail)
			}
		}
		calls = append(calls, ids)
		return errs, nil
	})
	return d, w, &calls
}

type jobRow struct {
	State     string  `db:"state"`
	Attempts  int     `db:"attempts"`
	LastError *string `db:"last_error"`
	Later     bool    `db:"later"`
}

// ran is jobState's State for a job that ran: its claim deleted its row.
const ran = "ran"

func jobState(t *testing.T, d *sqlx.DB, id int64) jobRow {
	t.Helper()
	var r jobRow
	err := d.Get(&r, `SELECT state, attempts, last_error, run_at > now() + interval '30 minutes' AS later FROM outbox WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return jobRow{State: ran}
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestABatchCompletesItsJobsAndPutsBackTheFailedOnes: one claim takes the due jobs of
// a batch kind together; the ones that succeed are done with their writes, each
// failed one is retried later, parked or rescheduled as its error says, and nothing
// runs twice.
func TestABatchCompletesItsJobsAndPutsBackTheFailedOnes(t *testing.T) {
	t.Parallel()
	d, w, calls := batchSetup(t, 10)
	ids := enqueue(t, d,
		outbox.Message{Kind: "batch", Payload: map[string]string{}},
		outbox.Message{Kind: "batch", Payload: map[string]string{"Fail": "carrier said no"}},
		outbox.Message{Kind: "batch", Payload: map[string]string{}},
		outbox.Message{Kind: "batch", Payload: map[string]string{"Fail": "permanent"}},
		outbox.Message{Kind: "batch", Payload: map[string]string{"Fail": "retry"}},
		outbox.Message{Kind: "batch", Payload: map[string]string{}},
	)
	if did, err := w.RunOne(context.Background()); err != nil || !did {
		t.Fatalf("got %v, %v; want a batch run", did, err)
	}
	if len(*calls) != 1 || len((*calls)[0]) != len(ids) {
		t.Fatalf("got calls %v, want one with all %d jobs", *calls, len(ids))
	}
	for i, id := range (*calls)[0] {
		if id != ids[i] {
			t.Fatalf("got jobs %v, want %v in order", (*calls)[0], ids)
		}
	}
	var processed []int64
	if err := d.Select(&processed, `SELECT job_id FROM processed ORDER BY job_id`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(processed) != fmt.Sprint([]int64{ids[0], ids[2], ids[5]}) {
		t.Errorf("got writes of jobs %v, want those of the jobs that succeeded", processed)
	}
	for _, i := range []int{0, 2, 5} {
		if r := jobState(t, d, ids[i]); r.State != ran {
			t.Errorf("job %d: got %+v, want it run and its row gone", i, r)
		}
	}
	if r := jobState(t, d, ids[1]); r.State != "pending" || r.Attempts != 1 || r.LastError == nil || *r.LastError != "carrier said no" || !r.Later {
		t.Errorf("failed job: got %+v, want pending after 1 attempt, later, with the error", r)
	}
	if r := jobState(t, d, ids[3]); r.State != "dead" || r.Attempts != 1 || r.LastError == nil || *r.LastError != "no such thing" {
		t.Errorf("permanent failure: got %+v, want dead after 1 attempt", r)
	}
	if r := jobState(t, d, ids[4]); r.State != "pending" || r.Attempts != 0 || r.LastError == nil || *r.LastError != "not yet" || !r.Later {
		t.Errorf("retry: got %+v, want pending in an hour without an attempt counted", r)
	}
	if did, err := w.RunOne(context.Background()); err != nil || did {
		t.Fatalf("got %v, %v; want nothing left due", did, err)
	}
}

// TestAFailedJobOfABatchIsWrittenBackAsItWas: the claim deletes a batch's jobs and
// the batch's commit writes its failed ones back, each as it was enqueued but for
// what the failure changed: its shop (or none), kind, payload, attempts allowed and
// creation time kept; a parked job keeps the time it was due, a retried one is due
// later.
func TestAFailedJobOfABatchIsWrittenBackAsItWas(t *testing.T) {
	t.Parallel()
	d, w, _ := batchSetup(t, 10)
	ids := enqueue(t, d,
		outbox.Message{Kind: "batch", MerchantID: 42, MaxAttempts: 5, Payload: map[string]string{"Fail": "carrier said no"}},
		outbox.Message{Kind: "batch", MerchantID: 43, MaxAttempts: 7, Payload: map[string]string{"Fail": "permanent"}},
		outbox.Message{Kind: "batch", Payload: map[string]string{"Fail": "retry"}},
		outbox.Message{Kind: "batch", MerchantID: 42, Payload: map[string]string{}},
	)
	// enqueued a day ago and due an hour ago, so that nothing the claim's transaction
	// stamps can pass for them
	if _, err := d.Exec(`UPDATE outbox SET created_at = now() - interval '1 day' - id * interval '1 second',
		run_at = now() - interval '1 hour' - id * interval '1 second' WHERE id = ANY($1)`, pq.Array(ids)); err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID          int64     `db:"id"`
		MerchantID  *int64    `db:"merchant_id"`
		Kind        string    `db:"kind"`
		Payload     string    `db:"payload"`
		MaxAttempts int       `db:"max_attempts"`
		CreatedAt   time.Time `db:"created_at"`
		RunAt       time.Time `db:"run_at"`
	}
	read := func() map[int64]row {
		t.Helper()
		var rows []row
		if err := d.Select(&rows, `SELECT id, merchant_id, kind, payload::text AS payload, max_attempts, created_at, run_at
			FROM outbox WHERE id = ANY($1)`, pq.Array(ids)); err != nil {
			t.Fatal(err)
		}
		out := map[int64]row{}
		for _, r := range rows {
			out[r.ID] = r
		}
		return out
	}
	before := read()
	if did, err := w.RunOne(context.Background()); err != nil || !did {
		t.Fatalf("got %v, %v; want a batch run", did, err)
	}
	after := read()
	if _, ok := after[ids[3]]; ok || len(after) != 3 {
		t.Fatalf("got rows %v after the batch, want the three failed jobs and not the one that ran", after)
	}
	for i, id := range ids[:3] {
		b, a := before[id], after[id]
		if !reflect.DeepEqual(a.MerchantID, b.MerchantID) || a.Kind != b.Kind || a.Payload != b.Payload ||
			a.MaxAttempts != b.MaxAttempts || !a.CreatedAt.Equal(b.CreatedAt) {
			t.Errorf("job %d: written back as %+v, want %+v but for its due time", i, a, b)
		}
	}
	if a, b := after[ids[1]], before[ids[1]]; !a.RunAt.Equal(b.RunAt) {
		t.Errorf("parked job: due %v after, want the %v it was due at", a.RunAt, b.RunAt)
	}
	for _, i := range []int{0, 2} {
		if a := after[ids[i]]; !a.RunAt.After(time.Now().Add(30 * time.Minute)) {
			t.Errorf("job %d: due %v after its failure, want in about an hour", i, a.RunAt)
		}
	}
}

// TestABatchThatFailsAsAWholeKeepsNothing: a batch handler's error undoes every write
// of the batch and counts an attempt for each of its jobs.
func TestABatchThatFailsAsAWholeKeepsNothing(t *testing.T) {
	t.Parallel()
	d, w, _ := batchSetup(t, 10)
	ids := enqueue(t, d,
		outbox.Message{Kind: "batch", Payload: map[string]string{}},
		outbox.Message{Kind: "batch", Payload: map[string]string{"Fail": "batch"}},
	)
	if did, err := w.RunOne(context.Background()); err != nil || !did {
		t.Fatalf("got %v, %v; want a batch run", did, err)
	}
	var writes int
	d.Get(&writes, `SELECT count(*) FROM processed`)
	if writes != 0 {
		t.Errorf("got %d writes kept from a failed batch, want 0", writes)
	}
	for _, id := range ids {
		if r := jobState(t, d, id); r.State != "pending" || r.Attempts != 1 || r.LastError == nil || *r.LastError != "the database went away" {
			t.Errorf("job %d: got %+v, want pending after 1 attempt with the batch's error", id, r)
		}
	}
}

// TestABatchTakesAtMostItsSizeAndTheRestFollowWithoutThePoll: a claim takes at most
// the kind's batch size; one notification for the whole transaction is enough for
// every row, since a claim that saw more claims again.
func TestABatchTakesAtMostItsSizeAndTheRestFollowWithoutThePoll(t *testing.T) {
	t.Parallel()
	d, w, calls := batchSetup(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	// the listener is up once a first row ran
	enqueue(t, d, outbox.Message{Kind: "batch", Payload: map[string]string{}})
	waitFor(t, "the first row", time.Minute, func() bool {
		var n int
		d.Get(&n, `SELECT count(*) FROM processed`)
		return n == 1
	})
	msgs := make([]outbox.Message, 8)
	for i := range msgs {
		msgs[i] = outbox.Message{Kind: "batch", Payload: map[string]string{}}
	}
	enqueue(t, d, msgs...)
	waitFor(t, "every row, without the poll (an hour)", time.Minute, func() bool {
		var n int
		d.Get(&n, `SELECT count(*) FROM processed`)
		return n == 9
	})
	cancel()
	<-done
	var sizes []int
	for _, c := range (*calls)[1:] {
		sizes = append(sizes, len(c))
	}
	if fmt.Sprint(sizes) != "[3 3 2]" {
		t.Errorf("got batches of %v, want [3 3 2]", sizes)
	}
}

// TestACrashedClaimersBatchIsClaimedAgain: a worker whose connection dies while it
// runs a batch leaves its rows to the next worker as they were, which claims all of
// them at once; while the first held them, nobody else could.
func TestACrashedClaimersBatchIsClaimedAgain(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	ids := enqueue(t, d,
		outbox.Message{Kind: "batch", Payload: map[string]int{"i": 1}},
		outbox.Message{Kind: "batch", Payload: map[string]int{"i": 2}},
		outbox.Message{Kind: "batch", Payload: map[string]int{"i": 3}},
	)
	other := outbox.NewWorker(d, url, outbox.Options{})
	var again []int64
	other.HandleBatch("batch", outbox.Batch{Size: 10}, func(ctx context.Context, tx *sqlx.Tx, jobs []outbox.Job) ([]error, error) {
		for _, j := range jobs {
			again = append(again, j.ID)
			if _, err := tx.ExecContext(ctx, `INSERT INTO processed (job_id, worker) VALUES ($1, 'other')`, j.ID); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})

	crashing := outbox.NewWorker(d, url, outbox.Options{})
	crashing.HandleBatch("batch", outbox.Batch{Size: 10}, func(ctx context.Context, tx *sqlx.Tx, jobs []outbox.Job) ([]error, error) {
		for _, j := range jobs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO processed (job_id, worker) VALUES ($1, 'crashed')`, j.ID); err != nil {
				return nil, err
			}
		}
		// while this batch is held, another worker finds nothing to claim
		if did, err := other.RunOne(ctx); err != nil || did {
			t.Errorf("got %v, %v from another worker during the batch, want nothing", did, err)
		}
		// the process dies: its connection goes, from the server's side
		var pid int
		if err := tx.GetContext(ctx, &pid, `SELECT pg_backend_pid()`); err != nil {
			return nil, err
		}
		if _, err := d.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			return nil, err
		}
		_, err := tx.ExecContext(ctx, `SELECT 1`)
		return nil, err
	})
	if _, err := crashing.RunOne(context.Background()); err == nil {
		t.Fatal("the crashed worker's batch reported no error")
	}
	if did, err := other.RunOne(context.Background()); err != nil || !did {
		t.Fatalf("got %v, %v; want the batch claimed again", did, err)
	}
	if fmt.Sprint(again) != fmt.Sprint(ids) {
		t.Errorf("got jobs %v claimed again, want %v together", again, ids)
	}
	var got []string
	if err := d.Select(&got, `SELECT worker FROM processed ORDER BY job_id`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[other other other]" {
		t.Errorf("got writes by %v, want each job's once, by the worker that finished it", got)
	}
	for _, id := range ids {
		if r := jobState(t, d, id); r.State != ran {
			t.Errorf("job %d: got %+v, want it run and its row gone", id, r)
		}
	}
}

// TestABatchReadsWhatItNeedsInItsClaim: a kind's Read is evaluated for each claimed
// job by the claim statement itself, from other tables.
func TestABatchReadsWhatItNeedsInItsClaim(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	if _, err := d.Exec(`CREATE TABLE names (n int PRIMARY KEY, name text NOT NULL);
		INSERT INTO names VALUES (1, 'ada'), (2, 'grace')`); err != nil {
		t.Fatal(err)
	}
	w := outbox.NewWorker(d, url, outbox.Options{})
	var got []string
	w.HandleBatch("greet", outbox.Batch{Size: 5, Read: `(SELECT name FROM names WHERE n = (o.payload->>'n')::int)`},
		func(ctx context.Context, tx *sqlx.Tx, jobs []outbox.Job) ([]error, error) {
			for _, j := range jobs {
				got = append(got, string(j.Read))
			}
			return nil, nil
		})
	w.Handle("count", countHandler("w"))
	enqueue(t, d, outbox.Message{Kind: "greet", Payload: map[string]int{"n": 2}}, outbox.Message{Kind: "greet", Payload: map[string]int{"n": 1}},
		outbox.Message{Kind: "greet", Payload: map[string]int{"n": 3}})
	if did, err := w.RunOne(context.Background()); err != nil || !did {
		t.Fatalf("got %v, %v; want a batch run", did, err)
	}
	if strings.Join(got, ",") != "grace,ada," {
		t.Errorf("got reads %q, want grace, ada and nothing", got)
	}
}

// TestNotificationsDuringAGatherShareOneClaim: jobs committed in separate
// transactions while a kind's gather waits are claimed together, in one batch, by a
// worker with idle workers to spare.
func TestNotificationsDuringAGatherShareOneClaim(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := readyHub(t, ctx, url)
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 4, Poll: time.Hour, Hub: hub})
	var mu sync.Mutex
	var sizes []int
	// the gather lasts 1–2 s: far longer than six commits take
	w.HandleBatch("gathered", outbox.Batch{Size: 16, Gather: 2 * time.Second}, func(ctx context.Context, tx *sqlx.Tx, jobs []outbox.Job) ([]error, error) {
		for _, j := range jobs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO processed (job_id, worker) VALUES ($1, 'gathered')`, j.ID); err != nil {
				return nil, err
			}
		}
		mu.Lock()
		sizes = append(sizes, len(jobs))
		mu.Unlock()
		return make([]error, len(jobs)), nil
	})
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	// the listener was up before the worker started: once the first row ran and the
	// worker is idle, the claims of its start are over
	enqueue(t, d, outbox.Message{Kind: "gathered"})
	waitFor(t, "the first row", time.Minute, processedIs(d, 1))
	waitFor(t, "the worker idle", time.Minute, w.Idle)
	for range 6 {
		enqueue(t, d, outbox.Message{Kind: "gathered"})
	}
	waitFor(t, "the six rows, without the poll (an hour)", time.Minute, processedIs(d, 7))
	cancel()
	<-done
	if fmt.Sprint(sizes[1:]) != "[6]" {
		t.Errorf("after the first, got batches of %v, want one of 6", sizes[1:])
	}
}

// TestEnqueuePartsWritesAJobPerRowItsWriteLeaves: the caller's insert and its jobs
// are one statement, and an insert that finds its row written before adds no job.
func TestEnqueuePartsWritesAJobPerRowItsWriteLeaves(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	if _, err := d.Exec(`CREATE TABLE notes (id bigserial PRIMARY KEY, ref text UNIQUE NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	write := func(ref string) int {
		t.Helper()
		tx := d.MustBegin()
		_, n, err := outbox.EnqueueParts(context.Background(), tx, []outbox.Part{{With: `jobs AS (INSERT INTO notes (ref) VALUES ($1)
			ON CONFLICT (ref) DO NOTHING RETURNING NULL::bigint AS merchant_id, json_build_object('note', id, 'ref', ref) AS payload)`,
			Args: []any{ref}, Jobs: "jobs", Kind: "note", MaxAttempts: 3}})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := write("a"); n != 1 {
		t.Fatalf("first write: %d jobs, want 1", n)
	}
	if n := write("a"); n != 0 {
		t.Fatalf("the same note again: %d jobs, want 0", n)
	}
	if n := write("b"); n != 1 {
		t.Fatalf("another note: %d jobs, want 1", n)
	}
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 1, Poll: time.Hour})
	var got []string
	w.Handle("note", func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		var p struct {
			Note int64  `json:"note"`
			Ref  string `json:"ref"`
		}
		if err := job.Decode(&p); err != nil {
			return err
		}
		if job.MaxAttempts != 3 {
			t.Errorf("max attempts %d, want 3", job.MaxAttempts)
		}
		got = append(got, fmt.Sprintf("%d:%s", p.Note, p.Ref))
		return nil
	})
	for {
		did, err := w.RunOne(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			break
		}
	}
	if fmt.Sprint(got) != "[1:a 3:b]" {
		t.Errorf("jobs ran for %v, want [1:a 3:b] (the conflicting insert draws id 2)", got)
	}
}

// TestEnqueuePartsNumbersEachPartsParameters: two callers' writes, each numbering its
// parameters from $1, and a message are one statement; each part gets its own
// values, the part with jobs makes one per row, and the message's ID comes back.
func TestEnqueuePartsNumbersEachPartsParameters(t *testing.T) {
	t.Parallel()
	d, _ := setup(t)
	if _, err := d.Exec(`CREATE TABLE notes (id bigserial PRIMARY KEY, who text NOT NULL, what text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	tx := d.MustBegin()
	ids, n, err := outbox.EnqueueParts(context.Background(), tx, []outbox.Part{
		{With: `first AS (INSERT INTO notes (who, what) VALUES ($1, $2))`, Args: []any{"first", "one"}},
		{With: `second AS (INSERT INTO notes (who, what) VALUES ($1, $2), ($1, $3) RETURNING NULL::bigint AS merchant_id, json_build_object('what', what) AS payload)`,
			Args: []any{"second", "two", "three"}, Jobs: "second", Kind: "note", MaxAttempts: 5},
	}, outbox.Message{Kind: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || n != 2 {
		t.Fatalf("got message IDs %v and %d jobs from rows, want one ID and 2 jobs", ids, n)
	}
	var notes []string
	if err := d.Select(&notes, `SELECT who || ':' || what FROM notes ORDER BY who, what`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(notes) != "[first:one second:three second:two]" {
		t.Errorf("notes %v, want first:one and second's two", notes)
	}
	var jobs []string
	if err := d.Select(&jobs, `SELECT kind || ':' || coalesce(payload->>'what', '') || ':' || max_attempts FROM outbox ORDER BY kind, payload->>'what'`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(jobs) != "[note:three:5 note:two:5 plain::12]" {
		t.Errorf("jobs %v, want a note job per second's row and the plain message", jobs)
	}
	var plainID int64
	if err := d.Get(&plainID, `SELECT id FROM outbox WHERE kind = 'plain'`); err != nil || plainID != ids[0] {
		t.Errorf("the plain message is %d (%v), answered %v", plainID, err, ids)
	}
}

// readyHub is a LISTEN connection that is up, until ctx ends (and the test waits
// for it to close).
func readyHub(t *testing.T, ctx context.Context, url string) *listen.Hub {
	t.Helper()
	hub := listen.New(url, nil)
	closed := make(chan struct{})
	go func() { _ = hub.Run(ctx); close(closed) }()
	t.Cleanup(func() { <-closed })
	select {
	case <-hub.Ready():
	case <-time.After(time.Minute):
		t.Fatal("the LISTEN connection did not come up")
	}
	return hub
}

// idleWorker runs a worker on the database at url (d is a pool on it) for the kind
// mine with h, polling once an hour, and answers it once it is listening and idle:
// a job of a kind of its own that it was notified of has run, so the claims it makes
// when it starts and when its LISTEN connection is ready are over. It stops when the
// test ends, or when the answered stop is called.
func idleWorker(t *testing.T, d *sqlx.DB, url string, opts outbox.Options, h outbox.Handler) (w *outbox.Worker, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts.Poll, opts.Hub = time.Hour, readyHub(t, ctx, url)
	w = outbox.NewWorker(d, url, opts)
	w.Handle("mine", h)
	warmUp := fmt.Sprintf("warm-up-%d", warmUps.Add(1))
	warmed := make(chan struct{}, 1)
	w.Handle(warmUp, func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		warmed <- struct{}{}
		return nil
	})
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	enqueue(t, d, outbox.Message{Kind: warmUp})
	select {
	case <-warmed:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not run the job it was notified of")
	}
	waitFor(t, "the worker idle", 30*time.Second, w.Idle)
	return w, stop
}

// warmUps numbers idleWorker's kinds of their own.
var warmUps atomic.Int64

// ranInto is a handler that sends the IDs of the jobs it runs on ran.
func ranInto(ran chan<- int64) outbox.Handler {
	return func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		ran <- job.ID
		return nil
	}
}

// awaitRun waits for the job id to run (a bound for one that never does).
func awaitRun(t *testing.T, ran <-chan int64, id int64, what string) {
	t.Helper()
	select {
	case got := <-ran:
		if got != id {
			t.Fatalf("%s: ran job %d, want %d", what, got, id)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: job %d did not run", what, id)
	}
}

// takeoverSetup runs a worker for the kind mine (idleWorker) and answers the IDs of
// the jobs it runs.
func takeoverSetup(t *testing.T) (*sqlx.DB, <-chan int64, *outbox.Worker) {
	t.Helper()
	d, url := setup(t)
	ran := make(chan int64, 16)
	w, _ := idleWorker(t, d, url, outbox.Options{Concurrency: 2}, ranInto(ran))
	return d, ran, w
}

// A job that a transaction of this process enqueues, for a kind this process's
// worker runs, is woken here once the transaction commits, with no notification
// (which would hold up every notifying commit of the server behind it, and wake every
// process); a transaction rolled back wakes nothing.
func TestAJobEnqueuedHereIsWokenAtItsCommitWithoutANotification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, url := setup(t)
	counted, err := db.Open(ctx, url, 2) // the product's pools: their transactions say when they commit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { counted.Close() })
	ran := make(chan int64, 16)
	w, _ := idleWorker(t, d, url, outbox.Options{Concurrency: 2}, ranInto(ran))
	before := w.Claims()
	l := pq.NewListener(url, 10*time.Millisecond, time.Second, nil)
	defer l.Close()
	if err := l.Listen(outbox.Channel); err != nil {
		t.Fatal(err)
	}

	tx, err := counted.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.Enqueue(ctx, tx, outbox.Message{Kind: "mine"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	id := enqueue(t, counted, outbox.Message{Kind: "mine"}, outbox.Message{Kind: "theirs"})[0]
	awaitRun(t, ran, id, "the committed job")
	waitFor(t, "the worker idle", 30*time.Second, w.Idle)
	if got := w.Claims() - before; got != 1 {
		t.Errorf("the worker claimed %d times, want once (the rolled back job woke it too)", got)
	}
	// notifications come in commit order: the one sent after the commit is the
	// first, unless the commit sent one too; a kind no worker here runs is announced
	if _, err := d.Exec(`SELECT pg_notify($1, 'after')`, outbox.Channel); err != nil {
		t.Fatal(err)
	}
	got := notificationsUntil(t, l, "after")
	if want := []string{"theirs", "after"}; !slices.Equal(got, want) {
		t.Errorf("got notifications %v, want %v: none for the job woken here", got, want)
	}

	// a job for later sets this process's timer, with the poll an hour away
	later := enqueue(t, counted, outbox.Message{Kind: "mine", RunAt: time.Now().Add(1500 * time.Millisecond)})[0]
	awaitRun(t, ran, later, "the job for later")
	if _, err := d.Exec(`SELECT pg_notify($1, 'after later')`, outbox.Channel); err != nil {
		t.Fatal(err)
	}
	if got := notificationsUntil(t, l, "after later"); len(got) != 1 {
		t.Errorf("got notifications %v, want none for the job for later woken here", got)
	}
}

// rawJob writes a due job of the kind mine as a process would whose wake-up is
// lost to the others: the row alone, announced to nobody.
func rawJob(t *testing.T, d *sqlx.DB) int64 {
	t.Helper()
	var id int64
	if err := d.Get(&id, `INSERT INTO outbox (kind) VALUES ('mine') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	return id
}

// twoProcesses is a database with two processes' workers for the kind mine
// (idleWorker): one that runs what it claims, reporting it on ran, and, after it, a
// busy one whose single worker reports each job it starts on started and holds it
// until release is closed.
type twoProcesses struct {
	d            *sqlx.DB
	ran, started chan int64
	release      chan struct{}
	busy         *outbox.Worker
	stopBusy     func()
}

func newTwoProcesses(t *testing.T) *twoProcesses {
	t.Helper()
	d, url := setup(t)
	p := &twoProcesses{d: d, ran: make(chan int64, 16), started: make(chan int64, 16), release: make(chan struct{})}
	idleWorker(t, d, url, outbox.Options{Concurrency: 2}, ranInto(p.ran))
	p.busy, p.stopBusy = idleWorker(t, d, url, outbox.Options{Concurrency: 1}, func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		p.started <- job.ID
		<-p.release
		return nil
	})
	return p
}

// awaitRunOf waits until job id ran, whatever ran before it.
func awaitRunOf(t *testing.T, ran <-chan int64, id int64, what string) {
	t.Helper()
	for {
		select {
		case got := <-ran:
			if got == id {
				return
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: job %d did not run", what, id)
		}
	}
}

// A process that stops announces its kinds, so that another claims at once the jobs
// it leaves (those it would have woken for itself), rather than at its poll.
func TestAStoppingProcessHandsItsJobsToTheOthers(t *testing.T) {
	t.Parallel()
	p := newTwoProcesses(t)
	held := rawJob(t, p.d)
	p.busy.ClaimNow("mine")
	awaitRun(t, p.started, held, "the stopping process's job")
	left := rawJob(t, p.d) // committed, and its process stops before it claims it
	stopped := make(chan struct{})
	go func() { p.stopBusy(); close(stopped) }()
	close(p.release)
	<-stopped
	awaitRunOf(t, p.ran, left, "the job the stopped process left")
}

// A process whose workers are all busy while more of a kind is due asks the others
// to claim it, rather than leaving it until one of its own is free.
func TestAProcessBehindOnAKindAsksTheOthersForHelp(t *testing.T) {
	t.Parallel()
	p := newTwoProcesses(t)
	defer close(p.release)
	// a claim locks the next two rows it saw due as well (to count them): the
	// others take the rows after those
	first := rawJob(t, p.d)
	behindIt := []int64{rawJob(t, p.d), rawJob(t, p.d), rawJob(t, p.d)}
	p.busy.ClaimNow("mine")
	awaitRun(t, p.started, first, "the busy process's job")
	// while the busy process still holds its own
	awaitRun(t, p.ran, behindIt[2], "the jobs behind it")
}

// TestAWorkerDoesNotAnswerItsOwnCallForHelp: a call for help with a kind wakes the
// other processes, not the worker that made it (whose own listener hears it too):
// its workers take those rows as they free up, and a claim of its own would find
// them taken or not yet free. Notifications reach a worker in the order they were
// sent, so once the claim of a notification sent after the call has run, the call
// was heard.
func TestAWorkerDoesNotAnswerItsOwnCallForHelp(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 1, Poll: time.Hour, Hub: readyHub(t, ctx, url)})
	ran := make(chan int64, 4)
	w.Handle("mine", ranInto(ran))
	w.Handle("other", ranInto(ran))
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// the claims of its start are over once a job it was woken for ran and it is idle
	awaitRun(t, ran, enqueue(t, d, outbox.Message{Kind: "other"})[0], "the first job")
	waitFor(t, "the worker idle", 30*time.Second, w.Idle)

	notify := func(payload string) {
		t.Helper()
		if _, err := d.Exec(`SELECT pg_notify($1, $2)`, outbox.Channel, payload); err != nil {
			t.Fatal(err)
		}
	}
	before := w.Claims()
	notify("mine#" + w.ID())
	notify("other")
	waitFor(t, "the claim of the notification after the call", 30*time.Second, func() bool { return w.Claims() > before })
	waitFor(t, "the worker idle", 30*time.Second, w.Idle)
	if got := w.Claims() - before; got != 1 {
		t.Errorf("its own call for help and a notification took %d claims, want 1 (the notification's)", got)
	}
	// another worker's call is answered
	before = w.Claims()
	notify("mine#another")
	waitFor(t, "the claim answering another worker's call", 30*time.Second, func() bool { return w.Claims() > before })
}

// TestOneJobBehindAClaimIsTakenByTheSameWorker: a claim that sees one job due
// behind the one it took claims it next itself, without waking a second worker,
// whose claim would find it taken: two jobs, two claims.
func TestOneJobBehindAClaimIsTakenByTheSameWorker(t *testing.T) {
	t.Parallel()
	d, ran, w := takeoverSetup(t)
	before := w.Claims()
	var ids []int64
	if err := d.Select(&ids, `INSERT INTO outbox (kind) VALUES ('mine'), ('mine') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	w.ClaimNow("mine")
	for range ids {
		select {
		case <-ran:
		case <-time.After(30 * time.Second):
			t.Fatal("the jobs did not run")
		}
	}
	waitFor(t, "the worker idle", 30*time.Second, w.Idle)
	if got := w.Claims() - before; got != 2 {
		t.Errorf("two jobs took %d claims, want 2 (one each, none finding nothing)", got)
	}
}

// Ahead renumbers each part's parameters after the statement's own and the parts'
// before it, and leaves out parts that write nothing.
func TestAheadNumbersThePartsParametersAfterTheStatements(t *testing.T) {
	ctes, args := outbox.Ahead(3,
		outbox.Part{With: `a AS (UPDATE x SET v = $2 WHERE id = $1)`, Args: []any{"a1", "a2"}},
		outbox.Part{},
		outbox.Part{With: `b AS (SELECT $1::int, $10::int)`, Args: []any{"b1", 2, 3, 4, 5, 6, 7, 8, 9, "b10"}})
	want := `a AS (UPDATE x SET v = $5 WHERE id = $4), b AS (SELECT $6::int, $15::int)`
	if ctes != want || len(args) != 12 || args[0] != "a1" || args[2] != "b1" || args[11] != "b10" {
		t.Fatalf("got %q with %v, want %q with the parts' arguments in order", ctes, args, want)
	}
}

// TestPartsBringTheirMessagesFirst: a part carried from an earlier change brings its
// jobs along; they are enqueued before the statement's own messages, whose IDs alone
// come back, in order; a part with messages and no write still makes them.
func TestPartsBringTheirMessagesFirst(t *testing.T) {
	t.Parallel()
	d, _ := setup(t)
	if _, err := d.Exec(`CREATE TABLE notes (id bigserial PRIMARY KEY, what text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	tx := d.MustBegin()
	ids, _, err := outbox.EnqueueParts(context.Background(), tx, []outbox.Part{
		{With: `earlier AS (INSERT INTO notes (what) VALUES ($1))`, Args: []any{"earlier"},
			Messages: []outbox.Message{{Kind: "carried", Payload: 1}, {Kind: "carried", Payload: 2}}},
		{Messages: []outbox.Message{{Kind: "alone", Payload: 3}}},
	}, outbox.Message{Kind: "own", Payload: 4}, outbox.Message{Kind: "own", Payload: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		ID      int64  `db:"id"`
		Kind    string `db:"kind"`
		Payload string `db:"payload"`
	}
	if err := d.Select(&rows, `SELECT id, kind, payload::text AS payload FROM outbox ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.Kind+":"+r.Payload)
	}
	if fmt.Sprint(got) != "[carried:1 carried:2 alone:3 own:4 own:5]" {
		t.Fatalf("jobs %v, want the parts' first, in order, then the statement's own", got)
	}
	if len(ids) != 2 || ids[0] != rows[3].ID || ids[1] != rows[4].ID {
		t.Errorf("got IDs %v, want those of the statement's own messages, %d and %d", ids, rows[3].ID, rows[4].ID)
	}
	var n int
	if err := d.Get(&n, `SELECT count(*) FROM notes WHERE what = 'earlier'`); err != nil || n != 1 {
		t.Errorf("the carried part's write: %d rows (%v), want 1", n, err)
	}
}

// TestAheadRefusesAPartThatBringsMessages: a statement of the caller's own does not
// enqueue, so a part whose jobs would be lost there is refused loudly.
func TestAheadRefusesAPartThatBringsMessages(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Ahead took a part with messages, want a panic")
		}
	}()
	outbox.Ahead(0, outbox.Part{With: `a AS (SELECT 1)`, Messages: []outbox.Message{{Kind: "lost"}}})
}

// TestHandleReadingLocksAndReadsInTheClaim: a kind registered with HandleReading gets
// its row read, and locked, by the claim's statement: the handler finds it in
// Job.Read and holds its lock until the job's transaction ends.
func TestHandleReadingLocksAndReadsInTheClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, url := setup(t)
	if _, err := d.Exec(`CREATE TABLE things (id int PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO things VALUES (7, 'seven')`); err != nil {
		t.Fatal(err)
	}
	tx := d.MustBegin()
	if _, err := outbox.Enqueue(ctx, tx, outbox.Message{Kind: "thing", Payload: map[string]int{"id": 7}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 1, Poll: time.Hour})
	var read string
	var lockErr error
	w.HandleReading("thing", `SELECT row_to_json(t) FROM things t WHERE t.id = (o.payload->>'id')::int FOR UPDATE OF t`,
		func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
			read = string(job.Read)
			// another transaction cannot take the row's lock while the job holds it
			_, lockErr = d.ExecContext(ctx, `SELECT 1 FROM things WHERE id = 7 FOR UPDATE NOWAIT`)
			return nil
		})
	if did, err := w.RunOne(ctx); err != nil || !did {
		t.Fatalf("ran %v (%v), want the job run", did, err)
	}
	if read != `{"id":7,"name":"seven"}` {
		t.Errorf("the job read %q, want thing 7", read)
	}
	if lockErr == nil {
		t.Error("another transaction locked the row while the job ran, want it held by the job's claim")
	}
}

// TestSweepDoneDeletesOnlyJobsDoneLongAgo: the sweep deletes jobs done before its
// cut-off, oldest first and at most its limit; jobs done since, parked jobs and jobs
// still to run stay.
func TestSweepDoneDeletesOnlyJobsDoneLongAgo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := setup(t)
	ids := enqueue(t, d, outbox.Message{Kind: "a"}, outbox.Message{Kind: "a"}, outbox.Message{Kind: "a"},
		outbox.Message{Kind: "a"}, outbox.Message{Kind: "a"}, outbox.Message{Kind: "a"})
	old, recent, dead, pending := ids[:3], ids[3], ids[4], ids[5]
	// Done in another order than enqueued, so that oldest first is not the IDs' order:
	// the first sweep takes old[1] and old[2].
	for i, age := range []string{"8 days", "10 days", "9 days"} {
		if _, err := d.Exec(`UPDATE outbox SET state = 'done', done_at = now() - $2::interval WHERE id = $1`, old[i], age); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Exec(`UPDATE outbox SET state = 'done', done_at = now() - interval '1 day' WHERE id = $1`, recent); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`UPDATE outbox SET state = 'dead', done_at = now() - interval '30 days' WHERE id = $1`, dead); err != nil {
		t.Fatal(err)
	}
	cut := time.Now().Add(-outbox.DoneRetention)
	if n, err := outbox.SweepDone(ctx, d, cut, 2); err != nil || n != 2 {
		t.Fatalf("first sweep: %d deleted (%v), want its limit, 2", n, err)
	}
	var oldest []int64
	if err := d.Select(&oldest, `SELECT id FROM outbox WHERE id = ANY($1) ORDER BY id`, pq.Array(old)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(oldest) != fmt.Sprint([]int64{old[0]}) {
		t.Errorf("after the first sweep %v of the old jobs are left, want the youngest of them, %d", oldest, old[0])
	}
	if n, err := outbox.SweepDone(ctx, d, cut, 2); err != nil || n != 1 {
		t.Fatalf("second sweep: %d deleted (%v), want the last old one", n, err)
	}
	var left []int64
	if err := d.Select(&left, `SELECT id FROM outbox ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(left) != fmt.Sprint([]int64{recent, dead, pending}) {
		t.Errorf("jobs left %v, want the recent, the parked and the pending one %v", left, []int64{recent, dead, pending})
	}
}

// TestADrainTakesTheOldestDueKindPastALockedJob: a claim of any kind takes the kind
// of the oldest due job it can lock, with the rest of that kind's batch in its
// kind's order; a job another transaction holds is passed over, and when nothing is
// left to take the claim says so.
func TestADrainTakesTheOldestDueKindPastALockedJob(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	w := outbox.NewWorker(d, url, outbox.Options{})
	var ran []string
	w.Handle("single", func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		ran = append(ran, fmt.Sprintf("single %d", job.ID))
		return nil
	})
	w.HandleBatch("batch", outbox.Batch{Size: 3}, func(ctx context.Context, tx *sqlx.Tx, jobs []outbox.Job) ([]error, error) {
		var ids []string
		for _, j := range jobs {
			ids = append(ids, strconv.FormatInt(j.ID, 10))
		}
		ran = append(ran, "batch "+strings.Join(ids, ","))
		return nil, nil
	})
	var ids []int64
	if err := d.Select(&ids, `INSERT INTO outbox (kind, run_at) SELECT k, now() - make_interval(mins => 10 - n::int)
		FROM unnest(ARRAY['single', 'single', 'batch', 'batch', 'batch', 'batch']) WITH ORDINALITY AS x(k, n) ORDER BY n RETURNING id`); err != nil {
		t.Fatal(err)
	}
	// another transaction holds the oldest job
	held := d.MustBegin()
	defer held.Rollback()
	if _, err := held.Exec(`SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE`, ids[0]); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if did, err := w.RunOne(context.Background()); err != nil || !did {
			t.Fatalf("got did=%v err=%v, want a claim", did, err)
		}
	}
	if did, err := w.RunOne(context.Background()); err != nil || did {
		t.Fatalf("got did=%v err=%v with only the held job due, want nothing to do", did, err)
	}
	want := []string{fmt.Sprintf("single %d", ids[1]), fmt.Sprintf("batch %d,%d,%d", ids[2], ids[3], ids[4]), fmt.Sprintf("batch %d", ids[5])}
	if fmt.Sprint(ran) != fmt.Sprint(want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
	held.Rollback()
	if did, err := w.RunOne(context.Background()); err != nil || !did {
		t.Fatalf("got did=%v err=%v once the held job was let go, want it run", did, err)
	}
	if want := fmt.Sprintf("single %d", ids[0]); ran[len(ran)-1] != want {
		t.Errorf("last ran %s, want %s", ran[len(ran)-1], want)
	}
}

// TestAClaimLeavesWhatItSawDueToTheTokenWaiting: a claim that saw jobs due behind
// its own, when a notification's token for the kind waits by the time its job ran,
// leaves them to that token's claim (which comes after its commit and sees them)
// instead of taking them itself and that claim finding none: three jobs, three
// claims.
func TestAClaimLeavesWhatItSawDueToTheTokenWaiting(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	hub := readyHub(t, ctx, url)
	w := outbox.NewWorker(d, url, outbox.Options{Concurrency: 1, Poll: time.Hour, Hub: hub})
	var held atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	started := make(chan int64, 4)
	w.Handle("held", func(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
		started <- job.ID
		if job.ID == held.Load() {
			<-release
		}
		return countHandler("w")(ctx, tx, job)
	})
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { free(); cancel(); <-done })
	// the claims the worker makes when it starts and when its LISTEN connection is
	// ready are over once a job enqueued after them ran and the worker is idle
	enqueue(t, d, outbox.Message{Kind: "held"})
	waitFor(t, "a first job", 30*time.Second, processedIs(d, 1))
	<-started
	waitFor(t, "the worker idle", 30*time.Second, w.Idle)
	before := w.Claims()
	// two jobs in one transaction: one notification, whose claim takes the first and
	// sees the second due
	tx := d.MustBegin()
	ids, err := outbox.Enqueue(ctx, tx, outbox.Message{Kind: "held"}, outbox.Message{Kind: "held"})
	if err != nil {
		t.Fatal(err)
	}
	held.Store(ids[0])
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-started:
		if got != ids[0] {
			t.Fatalf("ran job %d first, want %d", got, ids[0])
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first job did not start")
	}
	// while the only worker runs it, a third job's notification leaves a token
	enqueue(t, d, outbox.Message{Kind: "held"})
	waitFor(t, "the third job's token", 30*time.Second, func() bool { return w.Queued("held") })
	free()
	waitFor(t, "the three jobs", 30*time.Second, processedIs(d, 4))
	waitFor(t, "the worker idle", 30*time.Second, w.Idle)
	if got := w.Claims() - before; got != 3 {
		t.Errorf("three jobs took %d claims, want 3 (none finding nothing)", got)
	}
}

// TestTheReadsAcrossKindsTakeEachKindsHead: behind a backlog of thousands of rows,
// due and for later, the head of a drain and the next row for later are read from
// one row of each kind's part of its index (no scan of the backlog, no sort of it),
// and they are the oldest due row's kind and the earliest row for later. The head
// locks its row and no other kind's.
func TestTheReadsAcrossKindsTakeEachKindsHead(t *testing.T) {
	t.Parallel()
	d, _ := setup(t)
	if _, err := d.Exec(`INSERT INTO outbox (kind, run_at)
		SELECT k, now() + make_interval(secs => s * g)
		FROM (VALUES ('a', -1), ('b', -2), ('a', 1), ('c', 3)) AS x(k, s), generate_series(10, 3009) g;
		ANALYZE outbox`); err != nil {
		t.Fatal(err)
	}
	kinds := db.Array([]string{"a", "b", "c", "none"})
	var head string
	claim := d.MustBegin()
	defer claim.Rollback()
	if err := claim.Get(&head, outbox.HeadSQL, kinds); err != nil || head != "b" {
		t.Fatalf("head: got %q (%v), want b, the oldest due", head, err)
	}
	for kind, held := range map[string]bool{"a": false, "b": true} {
		var id int64
		err := d.Get(&id, `SELECT id FROM outbox WHERE state = 'pending' AND kind = $1 AND run_at <= now()
			ORDER BY run_at, id LIMIT 1 FOR UPDATE NOWAIT`, kind)
		if (err != nil) != held {
			t.Errorf("the oldest due row of %s: locking it elsewhere gave %v, want it held: %v", kind, err, held)
		}
	}
	claim.Rollback()
	var ms int64
	if err := d.Get(&ms, outbox.NextDueSQL, kinds); err != nil || ms < 9_000 || ms > 10_000 {
		t.Fatalf("next due in %d ms (%v), want a's row in 10 s", ms, err)
	}
	// each kind's oldest row, and for the head the row it locks
	for name, q := range map[string]struct {
		sql  string
		most int
	}{"head": {outbox.HeadSQL, 4}, "next due": {outbox.NextDueSQL, 3}} {
		tx := d.MustBegin()
		var plan []byte
		err := tx.Get(&plan, `EXPLAIN (ANALYZE, FORMAT JSON) `+q.sql, kinds)
		tx.Rollback()
		if err != nil {
			t.Fatal(err)
		}
		var root []struct {
			Plan json.RawMessage `json:"Plan"`
		}
		if err := json.Unmarshal(plan, &root); err != nil || len(root) != 1 {
			t.Fatalf("%s: plan %s: %v", name, plan, err)
		}
		if read := outboxRowsRead(t, root[0].Plan); read > q.most {
			t.Errorf("%s read %d rows of the outbox, want %d at most:\n%s", name, read, q.most, plan)
		}
	}
}

// outboxRowsRead adds up the rows the plan's scans of the outbox gave, over all loops.
func outboxRowsRead(t *testing.T, raw json.RawMessage) int {
	t.Helper()
	var n struct {
		Relation string            `json:"Relation Name"`
		Rows     int               `json:"Actual Rows"`
		Loops    int               `json:"Actual Loops"`
		Plans    []json.RawMessage `json:"Plans"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	read := 0
	if n.Relation == "outbox" {
		read += n.Rows * n.Loops
	}
	for _, p := range n.Plans {
		read += outboxRowsRead(t, p)
	}
	return read
}
