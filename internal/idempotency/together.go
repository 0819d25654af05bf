package idempotency

import (
	"context"
	"sync"
	"time"
)

// together runs the same statement for requests that arrive while it is already
// running, as one statement for all of them. A claim is one small statement (with
// the answers waiting to be stored riding on it, storeLater): under load, while one
// runs, the next requests' claims wait and then go in one statement with unnest, so
// there are fewer statements and commits for PostgreSQL to run, and a request alone
// is not kept waiting for company (no gathering delay: the first of a quiet moment
// runs at once).
//
// There is no goroutine of its own: the request that finds no statement running
// runs the batches until its own has run; what arrived meanwhile is run by a
// goroutine that ends when none is left.
type together[T any] struct {
	// run runs one statement for calls and sets each one's result; it gets at
	// most max calls.
	run func(ctx context.Context, calls []*call[T])
	max int

	mu      sync.Mutex
	pending []*call[T]
	busy    bool
	// statements counts the statements run (tests).
	statements int
}

// call is one request's part of a statement: its input, and its result once done is
// closed.
type call[T any] struct {
	in   T
	at   time.Time // a claim's created_at
	ok   bool      // a claim: the row was inserted
	err  error
	done chan struct{}
}

// statementTimeout bounds one statement of a batch: a request's own deadline does
// not cancel the others' statement.
const statementTimeout = 10 * time.Second

// do runs c's part and returns when it is done.
func (g *together[T]) do(c *call[T]) {
	c.done = make(chan struct{})
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if g.busy {
		g.mu.Unlock()
		<-c.done
		return
	}
	g.busy = true
	g.mu.Unlock()
	g.drain(c)
}

// drain runs batches until mine has run (then hands what is left to a goroutine),
// or, with mine nil, until none is left.
func (g *together[T]) drain(mine *call[T]) {
	for {
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.busy = false
			g.mu.Unlock()
			return
		}
		if mine != nil && isDone(mine) {
			g.mu.Unlock()
			go g.drain(nil)
			return
		}
		n := min(len(g.pending), g.max)
		batch := append([]*call[T](nil), g.pending[:n]...)
		g.pending = append(g.pending[:0], g.pending[n:]...)
		g.statements++
		g.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), statementTimeout)
		g.run(ctx, batch)
		cancel()
		for _, c := range batch {
			close(c.done)
		}
	}
}

func isDone[T any](c *call[T]) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
