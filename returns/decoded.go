package returns

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
)

// decodedCache keeps values decoded lately from JSON columns, by the ID of their row:
// JSON that the statements of a return's lifecycle read again and again, decoding it
// each time. A hit hands out a deep copy (clone), so that no two readers share a slice;
// the stored bytes are compared on every hit, so a value that changed (an order the
// shop sent again, or another database's row with the same ID, in tests) is decoded
// again. It holds at most decodedCacheBytes of JSON and starts again empty past that;
// a value larger than a sixteenth of it is not kept.
type decodedCache[T any] struct {
	mu    sync.Mutex
	m     map[int64]decodedEntry[T]
	bytes int
	clone func(T) T
}

type decodedEntry[T any] struct {
	raw []byte
	v   T
}

// decodedCacheBytes bounds each cache: 512 KB of JSON, a few hundred returns' quotes
// or orders (1–2 KB each for a few lines), the ones in flight under load.
const decodedCacheBytes = 512 << 10

func newDecodedCache[T any](clone func(T) T) *decodedCache[T] {
	return &decodedCache[T]{m: map[int64]decodedEntry[T]{}, clone: clone}
}

var (
	// decodedQuotes are returns' quotes, by return ID. A quote is written once, with
	// its return, and read back at every change of it (six to eight times a
	// lifecycle: its requests, jobs, emails and webhooks); decoding it each time was
	// 2.7 % of a replica's CPU under load.
	decodedQuotes = newDecodedCache(QuoteResult.clone)
	// decodedOrders are orders' data, by order ID: read with their return at every
	// read of it (1.4 % of a replica's CPU under load); an order changes only when the
	// shop sends it again.
	decodedOrders = newDecodedCache(Order.clone)
)

// decode sets *into to the value raw holds for row id.
func (c *decodedCache[T]) decode(id int64, raw []byte, into *T) error {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		*into = c.clone(e.v)
		return nil
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if len(raw) <= decodedCacheBytes/16 {
		c.mu.Lock()
		if old, ok := c.m[id]; ok {
			c.bytes -= len(old.raw)
		}
		if c.bytes+len(raw) > decodedCacheBytes {
			clear(c.m)
			c.bytes = 0
		}
		c.m[id] = decodedEntry[T]{raw: bytes.Clone(raw), v: c.clone(v)}
		c.bytes += len(raw)
		c.mu.Unlock()
	}
	*into = v
	return nil
}

// clone is a copy of q that shares no slice or pointer with it.
func (q QuoteResult) clone() QuoteResult {
	c := q
	c.Issues = slices.Clone(q.Issues)
	if q.Lines != nil {
		c.Lines = make([]QuoteLine, len(q.Lines))
		for i, l := range q.Lines {
			if l.LastEligibleAt != nil {
				t := *l.LastEligibleAt
				l.LastEligibleAt = &t
			}
			l.Units = slices.Clone(l.Units)
			if l.Exchange != nil {
				x := *l.Exchange
				x.Options = slices.Clone(x.Options)
				l.Exchange = &x
			}
			c.Lines[i] = l
		}
	}
	if q.Exchange != nil {
		x := *q.Exchange
		c.Exchange = &x
	}
	return c
}

// clone is a copy of o that shares no slice or pointer with it.
func (o Order) clone() Order {
	c := o
	if o.FulfilledAt != nil {
		t := *o.FulfilledAt
		c.FulfilledAt = &t
	}
	if o.DeliveredAt != nil {
		t := *o.DeliveredAt
		c.DeliveredAt = &t
	}
	if o.Lines != nil {
		c.Lines = make([]Line, len(o.Lines))
		for i, l := range o.Lines {
			l.Tags = slices.Clone(l.Tags)
			c.Lines[i] = l
		}
	}
	return c
}
