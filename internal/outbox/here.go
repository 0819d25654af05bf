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

// local holds the workers running in this process, each with the name of its
// database (as current_database() answers it: a process's workers and transactions
// may be on several databases, as tests' are); kindsHere lists the kinds they run,
// each as "database/kind", for Enqueue's statement.
var (
	localMu   sync.Mutex
	local     []localWorker
	kindsHere atomic.Pointer[[]string]
)

type localWorker struct {
	w        *Worker
	database string
}

// runHere records that w runs in this process on database, until the answered
// function is called.
func runHere(w *Worker, database string) (done func()) {
	update := func() {
		kinds := []string{}
		for _, l := range local {
			for _, k := range l.w.kinds {
				kinds = append(kinds, l.database+"/"+k)
			}
		}
		slices.Sort(kinds)
		kinds = slices.Compact(kinds)
		kindsHere.Store(&kinds)
	}
	localMu.Lock()
	defer localMu.Unlock()
	local = append(local, localWorker{w, database})
	update()
	return func() {
		localMu.Lock()
		defer localMu.Unlock()
		local = slices.DeleteFunc(local, func(l localWorker) bool { return l.w == w })
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
// job is due, as Enqueue's statement read them (0 when that is within a second:
// due, as for a notification).
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
		for _, l := range workers {
			if l.database != database || !l.w.handles(kind) {
				continue
			}
			if ms == 0 {
				l.w.notified(kind)
			} else {
				l.w.wakeIn(time.Duration(ms) * time.Millisecond)
			}
		}
	}
}
