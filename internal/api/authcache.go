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
	// failed remembers, for failedTTL, headers the store did not know, so
	// that clients repeating a wrong or revoked token do not cost a query
	// each. Tokens are only ever created with fresh random secrets (or at
	// start-up, METRICSD_ADMIN_TOKEN), so a remembered failure does not
	// turn into a valid token within that time.
	failed map[[32]byte]time.Time
}

const failedTTL = 10 * time.Second

type authEntry struct {
	// principal is shared by every request it authenticates
	// (core.WithSharedPrincipal): never changed once stored.
	principal *core.Principal
	expires   time.Time
}

const maxAuthEntries = 10000

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, entries: map[[32]byte]authEntry{}, failed: map[[32]byte]time.Time{}}
}

func (c *authCache) get(header string) (*core.Principal, bool) {
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
	return e.principal, true
}

// put remembers p, which the caller must not change afterwards.
func (c *authCache) put(header string, p *core.Principal) {
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

// clear drops every cached token: after a change to tokens, roles or
// members' roles this replica decides afresh at once (other replicas within
// the cache's time to live).
func (c *authCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

// failedRecently reports whether header was rejected by the store within
// failedTTL.
func (c *authCache) failedRecently(header string) bool {
	k := sha256.Sum256([]byte(header))
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.failed[k]
	return ok && time.Now().Before(exp)
}

// putFailed remembers that header is not a valid token.
func (c *authCache) putFailed(header string) {
	k := sha256.Sum256([]byte(header))
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failed) >= maxAuthEntries {
		for k, exp := range c.failed {
			if now.After(exp) {
				delete(c.failed, k)
			}
		}
		if len(c.failed) >= maxAuthEntries {
			clear(c.failed)
		}
	}
	c.failed[k] = now.Add(failedTTL)
}
