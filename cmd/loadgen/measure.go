package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// clockTick is the kernel's USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTick = 100

// machineUsage is the CPU time the whole machine spent not idle (every core, every
// process: the driver, the replicas, PostgreSQL, the fake Stripe), and the context
// switches its cores made, from /proc/stat.
func machineUsage() (busy time.Duration, switches int64, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := false
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 8 && fields[0] == "cpu":
			// user nice system idle iowait irq softirq steal
			var ticks int64
			for i, f := range fields[1:9] {
				if i == 3 || i == 4 { // idle, iowait
					continue
				}
				n, _ := strconv.ParseInt(f, 10, 64)
				ticks += n
			}
			busy, found = time.Duration(ticks)*time.Second/clockTick, true
		case len(fields) == 2 && fields[0] == "ctxt":
			switches, _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	if !found {
		return 0, 0, fmt.Errorf("loadgen: no cpu line in /proc/stat")
	}
	return busy, switches, nil
}

// processCPU is the user and system CPU time of a process, from /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return ticks(f[11], f[12]), nil
}

// procStat is the fields of /proc/<pid>/stat after the command name: [1] is the
// parent's pid, [11] and [12] the process's user and system time, [13] and [14]
// those of its children it has waited for.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil, fmt.Errorf("loadgen: odd /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+2:])
	if len(fields) < 15 {
		return nil, fmt.Errorf("loadgen: short /proc/%d/stat", pid)
	}
	return fields, nil
}

func ticks(fields ...string) time.Duration {
	var n int64
	for _, f := range fields {
		v, _ := strconv.ParseInt(f, 10, 64)
		n += v
	}
	return time.Duration(n) * time.Second / clockTick
}

// processSwitches is how many times the threads of a process have left a core so
// far, from /proc/<pid>/task/*/status: voluntarily (to wait for a socket, a lock or a
// timer) or not (the scheduler gave the core to another). A process that sleeps
// whenever it has nothing to do pays a switch out and one back in for each wake-up;
// one kept busy finds its next work ready and pays none. The threads that have exited
// no longer count (a Go process keeps its threads).
func processSwitches(pid int) (int64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // it exited meanwhile
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			name, v, _ := strings.Cut(line, ":")
			if name == "voluntary_ctxt_switches" || name == "nonvoluntary_ctxt_switches" {
				x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += x
			}
		}
	}
	return n, nil
}

// postgresUsage is the CPU time of the PostgreSQL server whose postmaster is pid: its
// own, that of its live processes (backends, checkpointer, WAL writer, …), and that
// of the processes it has reaped (backends of connections closed), which the kernel
// adds to the postmaster's children's times. switches is the context switches of
// the postmaster and its live processes: a reaped backend's are not kept anywhere
// (the replicas' pools keep their connections for the run).
func postgresUsage(postmaster int) (cpu time.Duration, switches int64, err error) {
	f, err := procStat(postmaster)
	if err != nil {
		return 0, 0, err
	}
	cpu = ticks(f[11:15]...)
	switches, _ = processSwitches(postmaster)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, err
	}
	parent := strconv.Itoa(postmaster)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		if f, err := procStat(pid); err == nil && f[1] == parent {
			cpu += ticks(f[11], f[12])
			n, _ := processSwitches(pid)
			switches += n
		}
	}
	return cpu, switches, nil
}

// postmasterOf is the pid of the server d is connected to, when it runs on this
// machine (0 when not: its CPU is then not reported). err says why the server could
// not be asked, which leaves the question open.
func postmasterOf(ctx context.Context, d *sqlx.DB) (int, error) {
	var backend int
	if err := d.GetContext(ctx, &backend, `SELECT pg_backend_pid()`); err != nil {
		return 0, err
	}
	f, err := procStat(backend)
	if err != nil {
		return 0, nil
	}
	pid, _ := strconv.Atoi(f[1])
	if pid <= 1 {
		return 0, nil
	}
	return pid, nil
}

// usage is the replica's CPU time and context switches so far, across restarts.
func (r *replica) usage() (time.Duration, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	total, switches := r.cpuDone, r.switchesDone
	if r.cmd != nil && r.cmd.Process != nil && r.up.Load() {
		if d, err := processCPU(r.cmd.Process.Pid); err == nil {
			total += d
		}
		if n, err := processSwitches(r.cmd.Process.Pid); err == nil {
			switches += n
		}
	}
	return total, switches
}

// dbCounters are a replica's statement and commit counts across its restarts: done
// is what its earlier processes had counted when last read, last what the current one
// (pid) had. A process killed between two readings loses what it counted since the
// earlier one: a run that kills replicas reads them every 200 ms.
type dbCounters struct {
	pid                         int
	doneStatements, doneCommits float64
	lastStatements, lastCommits float64
}

// dbTotals reads the replica's counters and returns them across its restarts: a
// reading of another process than the last one's adds the last one's to what is
// done. A replica that does not answer keeps its last reading.
func (r *replica) dbTotals(ctx context.Context) (statements, commits float64) {
	pid := r.pid()
	st, c, ok := r.dbCounts(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	d := &r.db
	if ok && pid != 0 && pid == r.pidLocked() {
		if pid != d.pid {
			d.doneStatements += d.lastStatements
			d.doneCommits += d.lastCommits
			d.pid = pid
		}
		d.lastStatements, d.lastCommits = st, c
	}
	return d.doneStatements + d.lastStatements, d.doneCommits + d.lastCommits
}

// pid is the replica's current process, 0 when it is down.
func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pidLocked()
}

func (r *replica) pidLocked() int {
	if r.cmd == nil || r.cmd.Process == nil || !r.up.Load() {
		return 0
	}
	return r.cmd.Process.Pid
}

// dbCounts reads a replica's statement and commit counters from its /metrics; ok is
// false when the replica does not answer.
func (r *replica) dbCounts(ctx context.Context) (statements, commits float64, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/metrics", nil)
	if err != nil {
		return 0, 0, false
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, false
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, 0, false
	}
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
		switch name {
		case "roundtrip_db_statements_total":
			statements = n
		case "roundtrip_db_commits_total":
			commits = n
		}
	}
	return statements, commits, true
}

// Costs are what the lifecycles cost the machine, read around the lifecycles alone.
type Costs struct {
	MachineCPU  time.Duration   // whole machine, every process
	ReplicaCPU  []time.Duration // per replica
	PostgresCPU time.Duration   // the PostgreSQL server's processes (-1 when it is not on this machine)
	DriverCPU   time.Duration   // this process: clients, fake Stripe, receivers, load balancer
	Statements  float64         // SQL statements the replicas sent
	Commits     float64         // transactions the replicas committed
	XactCommit  int64           // PostgreSQL's count for the run's database (every autocommitted statement is one)
	// XactRollback is the transactions PostgreSQL rolled back for the run's database:
	// claims that found nothing to do, requests refused after they began writing.
	XactRollback int64
	PGCalls      int64 // statements PostgreSQL executed for the database (pg_stat_statements; -1 when absent)
	// WALBytes is the write-ahead log the server wrote (its insert position moved by
	// that much), and WALFlushes the times it flushed it to disk (pg_stat_wal's
	// wal_sync; -1 where the server does not count them there): whole-server figures.
	// A flush is what a durable commit waits for, so WALFlushes is the commits that
	// cost a disk write, whether a replica committed explicitly or a statement
	// committed alone, and fewer than the commits where several shared one.
	WALBytes   int64
	WALFlushes int64
	// Switches are the context switches of the same parts as the CPU times above
	// (PostgresSwitches -1 when the server is not on this machine): where the
	// CPU of more processes on the same cores goes, a wake-up at a time.
	MachineSwitches  int64
	ReplicaSwitches  []int64
	PostgresSwitches int64
	DriverSwitches   int64
}

// costSample is one reading of the counters.
type costSample struct {
	machine    time.Duration
	replicas   []time.Duration
	postgres   time.Duration // -1: not on this machine
	driver     time.Duration
	statements float64
	commits    float64
	xact       int64
	rollbacks  int64
	pgCalls    int64
	walBytes   int64 // -1: unknown
	walFlushes int64 // -1: unknown
	// context switches, as the CPU times
	machineSwitches  int64
	replicaSwitches  []int64
	postgresSwitches int64 // -1: not on this machine
	driverSwitches   int64
	// postgresErr is why the server's CPU could not be read, when it is on this
	// machine and could not
	postgresErr error
}

func sampleCosts(ctx context.Context, d *sqlx.DB, replicas []*replica, postmaster int) costSample {
	s := costSample{pgCalls: -1, postgres: -1, walBytes: -1, walFlushes: -1, postgresSwitches: -1}
	s.machine, s.machineSwitches, _ = machineUsage()
	s.driver, _ = processCPU(os.Getpid())
	s.driverSwitches, _ = processSwitches(os.Getpid())
	if postmaster > 0 {
		if c, n, err := postgresUsage(postmaster); err == nil {
			s.postgres, s.postgresSwitches = c, n
		} else {
			s.postgresErr = err
		}
	}
	for _, r := range replicas {
		cpu, switches := r.usage()
		s.replicas = append(s.replicas, cpu)
		s.replicaSwitches = append(s.replicaSwitches, switches)
		st, c := r.dbTotals(ctx)
		s.statements += st
		s.commits += c
	}
	s.xact, s.rollbacks = xactCounts(ctx, d)
	var calls int64
	// top-level statements only: with pg_stat_statements.track = all it also counts
	// what triggers and foreign-key checks run inside them
	if err := d.GetContext(ctx, &calls, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements s
		JOIN pg_database db ON db.oid = s.dbid WHERE db.datname = current_database() AND s.toplevel`); err == nil {
		s.pgCalls = calls
	}
	s.walBytes, s.walFlushes = walCounts(ctx, d)
	return s
}

// xactCounts reads how many transactions the run's database committed and rolled
// back (-1 each when they cannot be read).
func xactCounts(ctx context.Context, d *sqlx.DB) (commits, rollbacks int64) {
	var row struct {
		Commits   int64 `db:"xact_commit"`
		Rollbacks int64 `db:"xact_rollback"`
	}
	if err := d.GetContext(ctx, &row, `SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()`); err != nil {
		return -1, -1
	}
	return row.Commits, row.Rollbacks
}

// walCounts reads the server's write-ahead log position, in bytes from its start, and
// how many times it was flushed to disk (-1 for what cannot be read: pg_stat_wal
// counts flushes from PostgreSQL 14 to 17). The flushes are cumulative statistics:
// a backend reports its own within a second while it works, so a reading lags its
// last second at most, at both ends of a run alike.
func walCounts(ctx context.Context, d *sqlx.DB) (written, flushes int64) {
	if err := d.GetContext(ctx, &written, `SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint`); err != nil {
		written = -1
	}
	if err := d.GetContext(ctx, &flushes, `SELECT wal_sync FROM pg_stat_wal`); err != nil {
		flushes = -1
	}
	return written, flushes
}

func (a costSample) to(b costSample) Costs {
	c := Costs{MachineCPU: b.machine - a.machine, Statements: b.statements - a.statements, Commits: b.commits - a.commits,
		XactCommit: b.xact - a.xact, XactRollback: b.rollbacks - a.rollbacks, PGCalls: -1, PostgresCPU: -1, DriverCPU: b.driver - a.driver, WALBytes: -1, WALFlushes: -1,
		MachineSwitches: b.machineSwitches - a.machineSwitches, PostgresSwitches: -1, DriverSwitches: b.driverSwitches - a.driverSwitches}
	if a.walBytes >= 0 && b.walBytes >= 0 {
		c.WALBytes = b.walBytes - a.walBytes
	}
	if a.walFlushes >= 0 && b.walFlushes >= 0 {
		c.WALFlushes = b.walFlushes - a.walFlushes
	}
	if a.postgres >= 0 && b.postgres >= 0 {
		c.PostgresCPU = b.postgres - a.postgres
		c.PostgresSwitches = b.postgresSwitches - a.postgresSwitches
	}
	for i := range b.replicas {
		c.ReplicaCPU = append(c.ReplicaCPU, b.replicas[i]-a.replicas[i])
		c.ReplicaSwitches = append(c.ReplicaSwitches, b.replicaSwitches[i]-a.replicaSwitches[i])
	}
	if a.pgCalls >= 0 && b.pgCalls >= 0 {
		c.PGCalls = b.pgCalls - a.pgCalls
	}
	return c
}

// printCosts writes the per-lifecycle costs.
// replicas is the replicas' CPU together.
func (c Costs) replicas() time.Duration {
	var all time.Duration
	for _, d := range c.ReplicaCPU {
		all += d
	}
	return all
}

func printCosts(w io.Writer, c Costs, n int) {
	if n == 0 {
		return
	}
	per := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000/float64(n)) }
	fmt.Fprintf(w, "CPU per lifecycle: whole machine %s", per(c.MachineCPU))
	for i, d := range c.ReplicaCPU {
		fmt.Fprintf(w, ", replica %d %s", i+1, per(d))
	}
	if len(c.ReplicaCPU) > 1 {
		fmt.Fprintf(w, ", replicas together %s", per(c.replicas()))
	}
	if c.PostgresCPU >= 0 {
		fmt.Fprintf(w, ", PostgreSQL %s", per(c.PostgresCPU))
	}
	fmt.Fprintf(w, ", load driver %s", per(c.DriverCPU))
	fmt.Fprintln(w)
	each := func(x int64) string { return fmt.Sprintf("%.0f", float64(x)/float64(n)) }
	fmt.Fprintf(w, "context switches per lifecycle: whole machine %s", each(c.MachineSwitches))
	var together int64
	for i, x := range c.ReplicaSwitches {
		fmt.Fprintf(w, ", replica %d %s", i+1, each(x))
		together += x
	}
	if len(c.ReplicaSwitches) > 1 {
		fmt.Fprintf(w, ", replicas together %s", each(together))
	}
	if c.PostgresSwitches >= 0 {
		fmt.Fprintf(w, ", PostgreSQL %s", each(c.PostgresSwitches))
	}
	fmt.Fprintf(w, ", load driver %s", each(c.DriverSwitches))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "database per lifecycle: %.1f statements, %.1f commits (counted by the replicas); PostgreSQL xact_commit %.1f, xact_rollback %.2f",
		c.Statements/float64(n), c.Commits/float64(n), float64(c.XactCommit)/float64(n), float64(c.XactRollback)/float64(n))
	if c.PGCalls >= 0 {
		fmt.Fprintf(w, ", pg_stat_statements calls %.1f", float64(c.PGCalls)/float64(n))
	}
	fmt.Fprintln(w)
	if c.WALBytes >= 0 {
		fmt.Fprintf(w, "write-ahead log per lifecycle (whole server): %.1f KB", float64(c.WALBytes)/1024/float64(n))
		if c.WALFlushes >= 0 {
			fmt.Fprintf(w, ", %.1f flushes to disk (durable commits, shared ones once)", float64(c.WALFlushes)/float64(n))
		}
		fmt.Fprintln(w)
	}
}
