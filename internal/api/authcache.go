package api

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
)

// authCache remembers resolved tokens for a short time so that the hot read
// path does not query the store for every request. Keys are hashes, never
// the token itself.
type authCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[[32]byte]authEntry
}

type authEntry struct {
	member  *catalog.Member
	expires time.Time
}

const maxAuthEntries = 10000

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, entries: map[[32]byte]authEntry{}}
}

func (c *authCache) get(header string) (*catalog.Member, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	k := sha256.Sum256([]byte(header))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || time.Now().After(e.expires) {
		return nil, false
	}
	return e.member, true
}

func (c *authCache) put(header string, m *catalog.Member) {
	if c.ttl <= 0 {
		return
	}
	k := sha256.Sum256([]byte(header))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxAuthEntries {
		clear(c.entries)
	}
	c.entries[k] = authEntry{member: m, expires: time.Now().Add(c.ttl)}
}
