package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
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
