package returns

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
)

// decodedQuotes keeps the quotes of the returns read lately, decoded. A return's
// quote is written once, with the return, and read back at every change of it (six
// to eight times a lifecycle: its requests, jobs, emails and webhooks); decoding its
// JSON each time was 2.7 % of a replica's CPU under load. A hit hands out a deep
// copy (clone), so that no two readers share a slice; the stored bytes are compared
// on every hit, so a quote that changed (or another database's return with the same
// ID, in tests) is decoded again.
var decodedQuotes = quoteCache{m: map[int64]quoteEntry{}}

// quoteCacheMax bounds decodedQuotes (about 4 KB an entry): past it, it starts again
// empty. A few hundred covers the returns in flight under load.
const quoteCacheMax = 256

type quoteCache struct {
	mu sync.Mutex
	m  map[int64]quoteEntry
}

type quoteEntry struct {
	raw []byte
	q   QuoteResult
}

// decode sets *into to the quote raw holds for return id.
func (c *quoteCache) decode(id int64, raw []byte, into *QuoteResult) error {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		*into = e.q.clone()
		return nil
	}
	var q QuoteResult
	if err := json.Unmarshal(raw, &q); err != nil {
		return err
	}
	c.mu.Lock()
	if len(c.m) >= quoteCacheMax {
		clear(c.m)
	}
	c.m[id] = quoteEntry{raw: bytes.Clone(raw), q: q.clone()}
	c.mu.Unlock()
	*into = q
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
