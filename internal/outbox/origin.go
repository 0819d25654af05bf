package outbox

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"sync/atomic"
)

// A notification of due jobs names the process that enqueued them when that process
// runs workers for their kind ("kind#origin"): it claims them (after its Gather, for
// a batched kind) and every other process leaves them to it for Options.Takeover, so
// that replicas do not all claim every job the moment it is announced, the first
// taking it and the others finding nothing. Another process claims them when the
// takeover ends, which is when the jobs of a process that died between its commit
// and its claim are run elsewhere (or by the process itself, when it restarts first).

// origin is this process's name in notifications: random, so that replicas differ.
var origin = func() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// localKinds are the kinds the workers running in this process handle, each with how
// many workers handle it; kindsHere is its key set, for Enqueue.
var (
	localMu    sync.Mutex
	localKinds = map[string]int{}
	kindsHere  atomic.Pointer[[]string]
)

// runHere records that a worker of this process runs kinds, until the answered
// function is called.
func runHere(kinds []string) (done func()) {
	change := func(by int) {
		localMu.Lock()
		defer localMu.Unlock()
		for _, k := range kinds {
			if localKinds[k] += by; localKinds[k] <= 0 {
				delete(localKinds, k)
			}
		}
		list := make([]string, 0, len(localKinds))
		for k := range localKinds {
			list = append(list, k)
		}
		slices.Sort(list)
		kindsHere.Store(&list)
	}
	change(1)
	return func() { change(-1) }
}

// handledHere lists the kinds this process's workers run (empty when none does).
func handledHere() []string {
	if p := kindsHere.Load(); p != nil {
		return *p
	}
	return []string{}
}
