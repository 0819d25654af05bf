package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

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

// TestARowForLaterWakesNobody: a row due later sends no notification (it would wake a
// worker to find nothing); a row due now sends one, with its ID.
func TestARowForLaterWakesNobody(t *testing.T) {
	t.Parallel()
	d, url := setup(t)
	l := pq.NewListener(url, 10*time.Millisecond, time.Second, nil)
	defer l.Close()
	if err := l.Listen(outbox.Channel); err != nil {
		t.Fatal(err)
	}
	enqueue(t, d, outbox.Message{Kind: "ping", RunAt: time.Now().Add(time.Hour)})
	now := enqueue(t, d, outbox.Message{Kind: "ping"})[0]
	select {
	case n := <-l.Notify:
		if n.Extra != fmt.Sprint(now) {
			t.Fatalf("got a notification for %q, want only the row due now (%d)", n.Extra, now)
		}
	case <-time.After(time.Minute): // a bound for a lost notification
		t.Fatal("no notification for the row due now")
	}
}
