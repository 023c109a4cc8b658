package api

import (
	"sync"
	"time"
)

// pageCache holds encoded metric list pages, so that a page asked for
// again is a memory copy instead of the page's read (one statement with
// seven correlated subqueries per item), its decoding and its encoding.
//
// It is validated exactly as repCache is: an entry is stored with the
// project generation read before the page was, and served only while the
// generation still reads the same (catalog.Generations: on PostgreSQL
// from memory while the replica holds a lease told of every other
// replica's writes, else one primary-key read; on SQLite the wal-index
// stamp that every commit of every process rewrites). Every write that
// changes which metrics a filter matches or what a listed metric shows
// raises the generation in its own transaction (metric, group,
// experiment, rollout and event-source writes of the project; team and
// member writes of every project), so a page is never served after a
// write that changed it has committed, on any replica. The one filter the
// generation does not cover, view (view memberships are written without
// it), is never cached, as the store does not cache its counts either.
//
// The key holds everything else the bytes depend on: the project, the raw
// query string (filter, sort, limit, offset, expand, and every other
// parameter, which the page's _links repeat) and the caller's access
// variant, so that a page carrying _access is served only to callers whom
// the policy treats alike.
type pageCache struct {
	mu      sync.Mutex
	entries map[pageKey]pageEntry
	held    int // bytes of the bodies held
	max     int // most bytes held
}

type pageKey struct {
	project, query, variant string
}

type pageEntry struct {
	gen  int64
	body []byte
	// until, when set, is when the page goes stale by the clock alone (a
	// listed metric's isActive turns false ActiveDataWindow after its
	// lastSeen).
	until time.Time
}

// defaultPageCacheBytes bounds the bodies the page cache holds: 16 MiB,
// some 220 pages of 20 metrics with _access (73 KB each), within the
// process's soft memory limit beside the match lists (32 MiB) and the
// single-resource cache (about 12 MB).
const defaultPageCacheBytes = 16 << 20

func newPageCache(max int) *pageCache {
	if max == 0 {
		max = defaultPageCacheBytes
	}
	if max < 0 {
		return nil
	}
	return &pageCache{entries: map[pageKey]pageEntry{}, max: max}
}

// get returns the body stored for k if it was stored under generation gen
// and has not gone stale by the clock.
func (c *pageCache) get(k pageKey, gen int64) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if !ok || e.gen != gen || (!e.until.IsZero() && !time.Now().Before(e.until)) {
		return nil, false
	}
	return e.body, true
}

// put stores an entry, evicting arbitrary entries (Go's map order) until
// it fits. A body over an eighth of the budget is not kept.
func (c *pageCache) put(k pageKey, e pageEntry) {
	if c == nil || len(e.body) > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[k]; ok {
		c.held -= len(old.body)
		delete(c.entries, k)
	}
	for old, oe := range c.entries {
		if c.held+len(e.body) <= c.max {
			break
		}
		delete(c.entries, old)
		c.held -= len(oe.body)
	}
	c.entries[k] = e
	c.held += len(e.body)
}
