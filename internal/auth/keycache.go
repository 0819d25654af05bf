package auth

import (
	"encoding/hex"
	"sync"
	"time"

	"github.com/roundtriphq/roundtrip/internal/listen"
)

// revokedChannel is the NOTIFY channel on which a revoked key's hash (hex) is
// announced to every process.
const revokedChannel = "roundtrip_api_keys"

// Cache makes Authenticate remember a live key for ttl, so that a busy integration
// does not read its key on every request. A revoked key is forgotten by every process
// as soon as the revocation's notification reaches it through hub; ttl bounds how long
// a revoked key can keep working on a process that missed the notification (a lost
// connection also empties the cache). Call before serving.
func (k *Keys) Cache(ttl time.Duration, hub *listen.Hub) {
	c := &keyCache{ttl: ttl, now: time.Now, byHash: map[string]cachedKey{}}
	k.cache = c
	hub.Subscribe(revokedChannel, func(payload string, missed bool) {
		if missed {
			c.clear()
			return
		}
		if h, err := hex.DecodeString(payload); err == nil {
			c.forgetHash(h)
		}
	})
}

type cachedKey struct {
	p       Principal
	expires time.Time
}

// keyCache maps a key's hash to its principal; a nil cache remembers nothing.
type keyCache struct {
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	byHash map[string]cachedKey
	// forgotten is called after a key is dropped (tests wait on it).
	forgotten func()
}

// maxCachedKeys bounds the cache: past it, it starts again empty.
const maxCachedKeys = 10000

func (c *keyCache) get(h []byte) (Principal, bool) {
	if c == nil {
		return Principal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byHash[string(h)]
	if !ok || !c.now().Before(e.expires) {
		return Principal{}, false
	}
	return e.p, true
}

func (c *keyCache) put(h []byte, p Principal) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byHash) >= maxCachedKeys {
		clear(c.byHash)
	}
	c.byHash[string(h)] = cachedKey{p: p, expires: c.now().Add(c.ttl)}
}

func (c *keyCache) forget(id int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	for h, e := range c.byHash {
		if e.p.KeyID == id {
			delete(c.byHash, h)
		}
	}
	c.mu.Unlock()
	c.done()
}

func (c *keyCache) forgetHash(h []byte) {
	c.mu.Lock()
	delete(c.byHash, string(h))
	c.mu.Unlock()
	c.done()
}

func (c *keyCache) clear() {
	c.mu.Lock()
	clear(c.byHash)
	c.mu.Unlock()
	c.done()
}

func (c *keyCache) done() {
	c.mu.Lock()
	f := c.forgotten
	c.mu.Unlock()
	if f != nil {
		f()
	}
}
