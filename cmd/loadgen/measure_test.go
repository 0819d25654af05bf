package main

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// TestDBCountsAddUpAcrossRestarts: a replica's counters start again at zero in each
// new process; the run's counts add each process's last reading, and a replica that
// does not answer keeps what it had.
func TestDBCountsAddUpAcrossRestarts(t *testing.T) {
	var statements, commits atomic.Int64
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "gone", http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "# TYPE roundtrip_db_statements_total counter\nroundtrip_db_statements_total %d\nroundtrip_db_commits_total %d\n",
			statements.Load(), commits.Load())
	}))
	defer srv.Close()
	r := &replica{addr: strings.TrimPrefix(srv.URL, "http://")}
	process := func(pid int) {
		r.mu.Lock()
		r.cmd = &exec.Cmd{Process: &os.Process{Pid: pid}}
		r.mu.Unlock()
		r.up.Store(true)
	}
	ctx := context.Background()
	for _, step := range []struct {
		name                 string
		pid                  int // 0: the replica is down
		statements, commits  int64
		wantStmts, wantComms float64
	}{
		{"first process", 101, 100, 20, 100, 20},
		{"it counts on", 101, 150, 30, 150, 30},
		{"killed: nothing answers", 0, 0, 0, 150, 30},
		{"restarted, counting from zero", 102, 20, 4, 170, 34},
		{"the new one counts on", 102, 60, 12, 210, 42},
		{"restarted again, already past the last reading", 103, 500, 90, 710, 132},
	} {
		down.Store(step.pid == 0)
		if step.pid == 0 {
			r.up.Store(false)
		} else {
			process(step.pid)
		}
		statements.Store(step.statements)
		commits.Store(step.commits)
		st, c := r.dbTotals(ctx)
		if st != step.wantStmts || c != step.wantComms {
			t.Errorf("%s: got %.0f statements and %.0f commits, want %.0f and %.0f", step.name, st, c, step.wantStmts, step.wantComms)
		}
	}
}

// TestPostgresCPUCountsClosedBackends: the server's CPU includes what a backend spent
// before its connection closed (the postmaster reaps it and the kernel adds its time
// to the postmaster's children's), so a run's pool closing connections loses nothing.
func TestPostgresCPUCountsClosedBackends(t *testing.T) {
	ctx := context.Background()
	d, err := sqlx.Open("pgx", pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	postmaster, err := postmasterOf(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if postmaster == 0 {
		t.Fatal("the test server's postmaster was not found among this machine's processes")
	}
	before, _, err := postgresUsage(postmaster)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var backend int
	if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		t.Fatal(err)
	}
	// work enough for a few tenths of a second of one backend's CPU
	if _, err := conn.ExecContext(ctx, `SELECT sum(i) FROM generate_series(1, 5000000) i`); err != nil {
		t.Fatal(err)
	}
	spent, err := processCPU(backend)
	if err != nil {
		t.Fatal(err)
	}
	conn.Raw(func(any) error { return driver.ErrBadConn }) // the pool closes it instead of keeping it
	conn.Close()
	// the backend exits when its connection closes; once the postmaster has reaped it,
	// its /proc entry is gone and only the postmaster's children's times hold its CPU
	reaped := time.NewTicker(time.Millisecond)
	defer reaped.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", backend)); os.IsNotExist(err) {
			break
		}
		select {
		case <-reaped.C:
		case <-deadline:
			t.Fatalf("backend %d still exists 10 s after its connection closed", backend)
		}
	}
	after, _, err := postgresUsage(postmaster)
	if err != nil {
		t.Fatal(err)
	}
	if spent < 50*time.Millisecond {
		t.Fatalf("the backend spent %v on the sum: too little to tell", spent)
	}
	if got := after - before; got < spent {
		t.Fatalf("the server's CPU grew by %v, less than the %v its closed backend spent", got, spent)
	}
}

// TestSwitchesCountEachWakeUp: a process that waits for each message it is sent,
// alone, leaves its core once a message at least (cat, echoing lines one round trip
// at a time); the run counts the switches of the process's threads and the machine's.
func TestSwitchesCountEachWakeUp(t *testing.T) {
	cat := exec.Command("cat")
	in, err := cat.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cat.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Start(); err != nil {
		t.Fatal(err)
	}
	defer cat.Wait()
	defer in.Close()
	// switches reads cat's switches and the machine's
	switches := func() (process, machine int64) {
		t.Helper()
		process, err := processSwitches(cat.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		_, machine, err = machineUsage()
		if err != nil {
			t.Fatal(err)
		}
		return process, machine
	}
	before, machineBefore := switches()
	const trips = 200
	echo := bufio.NewReader(out)
	for i := range trips {
		if _, err := fmt.Fprintf(in, "line %d\n", i); err != nil {
			t.Fatal(err)
		}
		// the next line is written only once this one came back, so cat has found
		// its input empty and waited (unless the scheduler held it between its
		// write and its next read, which the bound below allows for)
		if _, err := echo.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	after, machineAfter := switches()
	if got := after - before; got < trips/2 {
		t.Errorf("cat switched %d times for %d round trips", got, trips)
	}
	if got := machineAfter - machineBefore; got < after-before {
		t.Errorf("the machine counted %d switches, fewer than cat's %d alone", got, after-before)
	}
}

// TestWALCountsDurableCommits: a run's write-ahead log figures grow by what committed
// writes wrote, and by at least one flush to disk for commits that waited for one.
func TestWALCountsDurableCommits(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	if _, err := d.ExecContext(ctx, `CREATE TABLE wal_probe (id bigint PRIMARY KEY, note text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	conn, report := reportingConn(t, d)
	report()
	written, flushes := walCounts(ctx, d)
	if written < 0 || flushes < 0 {
		t.Fatalf("got %d bytes and %d flushes: the server's counts were not read", written, flushes)
	}
	const rows, note = 20, 500
	for i := range rows {
		if _, err := conn.ExecContext(ctx, `INSERT INTO wal_probe VALUES ($1, repeat('x', $2))`, i, note); err != nil {
			t.Fatal(err)
		}
	}
	report()
	written2, flushes2 := walCounts(ctx, d)
	if got := written2 - written; got < rows*note {
		t.Errorf("the log grew by %d bytes for %d rows of %d bytes", got, rows, note)
	}
	if flushes2 <= flushes {
		t.Errorf("no flush counted for %d durable commits (%d, then %d)", rows, flushes, flushes2)
	}
}

// TestXactCountsTellRollbacksFromCommits: the run's transaction counts grow by the
// commits and the rollbacks of its database, each on its own side.
func TestXactCountsTellRollbacksFromCommits(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	conn, report := reportingConn(t, d)
	report()
	commits, rollbacks := xactCounts(ctx, d)
	if commits < 0 || rollbacks < 0 {
		t.Fatalf("got %d commits and %d rollbacks: the server's counts were not read", commits, rollbacks)
	}
	const undone = 20
	for range undone {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `SELECT 1`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
	report()
	commits2, rollbacks2 := xactCounts(ctx, d)
	if got := rollbacks2 - rollbacks; got < undone {
		t.Errorf("rollbacks grew by %d for %d transactions rolled back", got, undone)
	}
	// the reads and reports commit on their own, a few; the rolled-back ones are not
	// among them
	if got := commits2 - commits; got < 1 || got >= undone {
		t.Errorf("commits grew by %d: want the few statements that committed alone, not the %d rollbacks", got, undone)
	}
}

// reportingConn is a connection of d's for a test's statements, and a function that
// has the server count them now: the statistics a backend keeps are reported when it
// next goes idle, and at most once a second unless forced.
func reportingConn(t *testing.T, d *sqlx.DB) (*sql.Conn, func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, func() {
		t.Helper()
		if _, err := conn.ExecContext(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `SELECT 1`); err != nil {
			t.Fatal(err)
		}
	}
}
