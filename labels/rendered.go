package labels

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"sync"
)

// renderedCacheBytes bounds the labels a process keeps rendered, by their size:
// some 150 labels in the PDF core fonts (6-9 KB each), 30-40 in embedded fonts
// (27-32 KB), which covers the minutes between a label's issue and its last fetches
// (the shopper's download, the email that attaches it, a reprint) at a shop's usual
// pace. At a peak of many labels a second no number of labels would cover minutes;
// the bound keeps the cache from holding a replica's memory up then.
const renderedCacheBytes = 1 << 20

// renderedLabels keeps the PDFs of the labels rendered last, by what was rendered:
// rendering is deterministic (the same Label gives the same bytes), so a label is
// rendered once per process while it is fetched (the portal's download, the email's
// attachment, a reprint) instead of once per fetch. The key is a hash of the whole
// Label, so a change of anything printed (the shop's address, a language) renders
// again. A nil *renderedLabels renders every time.
type renderedLabels struct {
	mu    sync.Mutex
	order *list.List // of *renderedLabel, most recently used first
	byKey map[[sha256.Size]byte]*list.Element
	bytes int // of the PDFs kept
}

type renderedLabel struct {
	key [sha256.Size]byte
	pdf []byte
}

func newRenderedLabels() *renderedLabels {
	return &renderedLabels{order: list.New(), byKey: map[[sha256.Size]byte]*list.Element{}}
}

// pdf returns l rendered as a PDF (Render), from the cache when it was rendered
// before. The bytes are shared: callers must not change them.
func (c *renderedLabels) pdf(l Label) ([]byte, error) {
	if c == nil {
		var buf bytes.Buffer
		err := Render(&buf, l)
		return buf.Bytes(), err
	}
	raw, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(raw)
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		pdf := e.Value.(*renderedLabel).pdf
		c.mu.Unlock()
		return pdf, nil
	}
	c.mu.Unlock()
	var buf bytes.Buffer
	if err := Render(&buf, l); err != nil {
		return nil, err
	}
	pdf := buf.Bytes()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; !ok { // another request may have rendered it meanwhile
		c.byKey[key] = c.order.PushFront(&renderedLabel{key: key, pdf: pdf})
		c.bytes += len(pdf)
		for c.bytes > renderedCacheBytes && c.order.Len() > 1 {
			old := c.order.Remove(c.order.Back()).(*renderedLabel)
			delete(c.byKey, old.key)
			c.bytes -= len(old.pdf)
		}
	}
	return pdf, nil
}
