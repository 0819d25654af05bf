// Package listen shares one PostgreSQL LISTEN connection per process among the parts
// that wait for notifications: the outbox workers (new jobs) and the API-key cache
// (revoked keys). A process holds one such connection however many parts listen.
package listen

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Handler receives a notification's payload. missed is true, with an empty payload,
// after the connection was lost and came back: notifications may have been lost
// meanwhile, so the handler should act as if something changed. Handlers run on the
// hub's goroutine and must not block.
type Handler func(payload string, missed bool)

// Hub is the process's LISTEN connection.
type Hub struct {
	url string
	log *slog.Logger

	mu   sync.Mutex
	subs map[string][]Handler
	l    *pq.Listener
	// ready is closed once the connection listens on the channels subscribed before
	// it came up
	ready chan struct{}
}

// New returns a hub for the database at url; it connects when Run starts.
func New(url string, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{url: url, log: log, subs: map[string][]Handler{}, ready: make(chan struct{})}
}

// Ready is closed once the hub's first connection listens on every channel
// subscribed before it: a notification sent after that is heard. (Subscribe listens
// before it returns when the connection is already up.)
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Subscribe calls h for every notification on channel, from now on.
func (h *Hub) Subscribe(channel string, fn Handler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	first := len(h.subs[channel]) == 0
	h.subs[channel] = append(h.subs[channel], fn)
	if first && h.l != nil {
		if err := h.l.Listen(channel); err != nil {
			h.log.Warn("listen", slog.String("channel", channel), slog.String("error", err.Error()))
		}
	}
}

// Run keeps the connection and dispatches notifications until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	l := pq.NewListener(h.url, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			h.log.Warn("listen connection", slog.String("error", err.Error()))
		}
		if ev == pq.ListenerEventReconnected {
			h.dispatchAll()
		}
	})
	defer l.Close()
	h.mu.Lock()
	h.l = l
	for ch := range h.subs {
		if err := l.Listen(ch); err != nil {
			h.log.Warn("listen", slog.String("channel", ch), slog.String("error", err.Error()))
		}
	}
	h.mu.Unlock()
	close(h.ready)
	for {
		select {
		case <-ctx.Done():
			h.mu.Lock()
			h.l = nil
			h.mu.Unlock()
			return nil
		case n := <-l.Notify:
			if n == nil { // pq sends nil after a reconnect; the event callback handled it
				continue
			}
			h.mu.Lock()
			subs := h.subs[n.Channel]
			h.mu.Unlock()
			for _, fn := range subs {
				fn(n.Extra, false)
			}
		}
	}
}

// dispatchAll tells every handler that notifications may have been missed.
func (h *Hub) dispatchAll() {
	h.mu.Lock()
	var all []Handler
	for _, subs := range h.subs {
		all = append(all, subs...)
	}
	h.mu.Unlock()
	for _, fn := range all {
		fn("", true)
	}
}
