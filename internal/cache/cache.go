// Package cache keeps rows that rarely change (a merchant's webhook endpoints, its
// settings, its current policy) in process memory, for a few seconds at most, and
// forgets them on every replica as soon as they change: a trigger on the table sends a
// NOTIFY naming the changed key when the change commits, and every process's LISTEN
// connection (internal/listen) delivers it. The TTL bounds how long a process that
// missed a notification without noticing can answer from an old copy; a lost LISTEN
// connection empties the cache.
package cache

import (
	"context"
	"sync"
	"time"

	"github.com/roundtriphq/roundtrip/internal/listen"
)

// maxEntries bounds a cache: past it, it starts again empty.
const maxEntries = 10000

// Map caches values by key. A nil *Map caches nothing: Get always loads.
type Map[K comparable, V any] struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[K]entry[V]
	// gen counts invalidations: a load that started before one is not stored, since
	// it may have read the row as it was before the change.
	gen       uint64
	forgotten []func()
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a cache whose entries live at most ttl and that forgets a key when a
// notification on channel carries it: parse turns the payload into the key, and a
// payload it cannot parse (or a lost connection) forgets every key. hub nil gives a
// cache that only the TTL and Forget empty.
func New[K comparable, V any](ttl time.Duration, hub *listen.Hub, channel string, parse func(payload string) (K, bool)) *Map[K, V] {
	m := &Map[K, V]{ttl: ttl, now: time.Now, entries: map[K]entry[V]{}}
	if hub != nil {
		hub.Subscribe(channel, func(payload string, missed bool) {
			if k, ok := parse(payload); ok && !missed {
				m.Forget(k)
				return
			}
			m.Clear()
		})
	}
	return m
}

// Get returns the cached value of k, or loads it, stores it and returns it. A load
// that fails is not stored.
func (m *Map[K, V]) Get(ctx context.Context, k K, load func(context.Context) (V, error)) (V, error) {
	if m == nil {
		return load(ctx)
	}
	m.mu.Lock()
	e, ok := m.entries[k]
	gen := m.gen
	now := m.now()
	m.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.v, nil
	}
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	if m.gen == gen {
		if len(m.entries) >= maxEntries {
			clear(m.entries)
		}
		m.entries[k] = entry[V]{v: v, expires: now.Add(m.ttl)}
	}
	m.mu.Unlock()
	return v, nil
}

// Put stores v as k's value, for a row this process just wrote.
func (m *Map[K, V]) Put(k K, v V) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if len(m.entries) >= maxEntries {
		clear(m.entries)
	}
	m.entries[k] = entry[V]{v: v, expires: m.now().Add(m.ttl)}
	m.mu.Unlock()
}

// Forget drops k, in this process (the notification does it in every process).
func (m *Map[K, V]) Forget(k K) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.gen++
	delete(m.entries, k)
	fs := m.forgotten
	m.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Clear drops every key.
func (m *Map[K, V]) Clear() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.gen++
	clear(m.entries)
	fs := m.forgotten
	m.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// OnForget calls f after every invalidation (Forget, Clear, a notification); tests
// wait on it instead of sleeping.
func (m *Map[K, V]) OnForget(f func()) {
	m.mu.Lock()
	m.forgotten = append(m.forgotten, f)
	m.mu.Unlock()
}
