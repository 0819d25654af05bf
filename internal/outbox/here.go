package outbox

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Jobs that a transaction of this process enqueues for kinds its workers run are
// woken here, once the transaction commits (db.OnCommit): no NOTIFY goes out for
// them. PostgreSQL serializes the commits of notifying transactions (each holds a
// lock of the whole cluster's from before its commit record until it is on disk,
// so they cannot share a flush) and wakes every listening backend and process for
// each; three of a return's transactions enqueue jobs. Other processes learn of such
// jobs only when they matter to them:
//
//   - a process that stops announces its kinds, so that the others claim at once
//     what it leaves (Run);
//   - a process whose workers are all busy while more of a kind is due asks the
//     others for help with a notification (at most once a second a kind);
//   - the jobs of a process killed between its commit and its claim are claimed when
//     it starts again (a start claims everything due), or by the others' poll
//     (Options.Poll, a minute by default), whichever comes first.
//
// A transaction that cannot run functions at its commit (not one of a pool db.Open
// made) notifies as before, and every process claims at once.

// local holds the workers running in this process; kindsHere lists the kinds they
// run, each as "database/kind" (the database's name, as current_database() answers
// it: a process's workers and transactions may be on several databases, as tests'
// are), for Enqueue's statement.
var (
	localMu   sync.Mutex
	local     []*Worker
	kindsHere atomic.Pointer[[]string]
)

// runHere records that w runs in this process on database, until the answered
// function is called.
func runHere(w *Worker, database string) (done func()) {
	update := func() {
		kinds := []string{}
		for _, w := range local {
			for _, k := range w.kinds {
				kinds = append(kinds, w.database+"/"+k)
			}
		}
		slices.Sort(kinds)
		kinds = slices.Compact(kinds)
		kindsHere.Store(&kinds)
	}
	localMu.Lock()
	defer localMu.Unlock()
	w.database = database
	local = append(local, w)
	update()
	return func() {
		localMu.Lock()
		defer localMu.Unlock()
		local = slices.DeleteFunc(local, func(o *Worker) bool { return o == w })
		update()
	}
}

// handledHere lists the kinds this process's workers run, as "database/kind".
func handledHere() []string {
	if p := kindsHere.Load(); p != nil {
		return *p
	}
	return []string{}
}

// wakeHere wakes this process's workers for the jobs a transaction enqueued and
// committed: due maps each "database/kind" to the milliseconds until its earliest
// job is due, as Enqueue's statement read them (within a second counts as due, as
// for a notification).
func wakeHere(due map[string]int64) {
	if len(due) == 0 {
		return
	}
	localMu.Lock()
	workers := slices.Clone(local)
	localMu.Unlock()
	for key, ms := range due {
		i := strings.LastIndexByte(key, '/') // a kind has no slash; a database's name may
		database, kind := key[:max(i, 0)], key[i+1:]
		for _, w := range workers {
			if w.database != database || !w.handles(kind) {
				continue
			}
			if ms <= 1000 {
				w.notified(kind)
			} else {
				w.wakeIn(time.Duration(ms) * time.Millisecond)
			}
		}
	}
}
