package api

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/core"
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
	principal core.Principal
	expires   time.Time
}

const maxAuthEntries = 10000

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, entries: map[[32]byte]authEntry{}}
}

func (c *authCache) get(header string) (core.Principal, bool) {
	if c.ttl <= 0 {
		return core.Principal{}, false
	}
	k := sha256.Sum256([]byte(header))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || time.Now().After(e.expires) {
		return core.Principal{}, false
	}
	return e.principal, true
}

func (c *authCache) put(header string, p core.Principal) {
	if c.ttl <= 0 {
		return
	}
	k := sha256.Sum256([]byte(header))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxAuthEntries {
		clear(c.entries)
	}
	c.entries[k] = authEntry{principal: p, expires: time.Now().Add(c.ttl)}
}

// forget drops the cached tokens of a member.
func (c *authCache) forget(memberID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.principal.MemberID == memberID {
			delete(c.entries, k)
		}
	}
}
