package api

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// repCache holds encoded single-resource representations (metrics, metric
// groups) with their ETags, so that a repeated GET costs one single-row read
// (the project's generation) instead of the resource's statements and its
// encoding.
//
// Correctness rests on the project generation (catalog.Generations): every
// write that changes what a representation shows increments it in its own
// transaction, and a read takes the generation before it reads the
// resource, so an entry stored under generation g is at least as new as
// every write that produced g. An entry is served only while the
// generation still reads g, a value read from the database on every
// request: a write committed through any replica is seen by the next read
// on every replica, and a write that failed changed no generation and so no
// entry. Nothing is ever invalidated by hand.
//
// The key holds everything a body depends on besides the data: the
// resource, its project, the version asked for, the expansions and the
// caller's access variant (accessVariant), so that a representation that
// differs per caller is never served to another.
type repCache struct {
	mu      sync.Mutex
	entries map[repKey]repEntry
	max     int
}

type repKey struct {
	kind, project, key, version, expand, variant string
}

type repEntry struct {
	gen  int64
	etag string
	body []byte
	// until, when set, is when the body goes stale by the clock alone (a
	// metric's isActive turns false ActiveDataWindow after lastSeen).
	until time.Time
}

// defaultRepCacheEntries bounds the cache: about 1.5 KB a metric, so some
// 12 MB when full.
const defaultRepCacheEntries = 8192

func newRepCache(max int) *repCache {
	if max == 0 {
		max = defaultRepCacheEntries
	}
	if max < 0 {
		return nil
	}
	return &repCache{entries: map[repKey]repEntry{}, max: max}
}

// get returns the entry for k if it was stored under generation gen.
func (c *repCache) get(k repKey, gen int64) (repEntry, bool) {
	if c == nil {
		return repEntry{}, false
	}
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	return e, ok && e.gen == gen && (e.until.IsZero() || time.Now().Before(e.until))
}

// put stores an entry, evicting arbitrary entries (Go's map order) when
// the cache is full.
func (c *repCache) put(k repKey, e repEntry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		n := c.max / 8
		for old := range c.entries {
			delete(c.entries, old)
			if n--; n <= 0 {
				break
			}
		}
	}
	c.entries[k] = e
}

// expandKey names an expansion set in a cache key.
func expandKey(x catalog.ExpandSet) string {
	if len(x) == 0 {
		return ""
	}
	names := make([]string, 0, len(x))
	for e, on := range x {
		if on {
			names = append(names, string(e))
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// accessVariant names what in a representation depends on who asks: the
// _access fields, which the principal's effective policy decides
// (core.Principal.AccessKey). Two callers with the same key are served the
// same bytes; no caller is served another's _access.
func accessVariant(ctx context.Context) string {
	return core.PrincipalFrom(ctx).AccessKey()
}

// cachedRep serves a GET of one resource of project projectKey from the
// cache, or builds it with load, stores it and serves it. load returns the
// representation, its version token, its _access for the caller and the
// time (zero for none) at which the body goes stale without any write.
func (s *Server) cachedRep(ctx context.Context, k repKey, load func() (string, any, *accessRep, time.Time, error)) (repEntry, error) {
	gen, err := s.svc.Generations.Project(ctx, k.project)
	if err != nil {
		return repEntry{}, err
	}
	e, ok := s.reps.get(k, gen)
	if s.reps != nil && s.obs != nil {
		s.obs.CacheLookup(k.kind, ok)
	}
	if ok {
		return e, nil
	}
	token, rep, acc, until, err := load()
	if err != nil {
		return repEntry{}, err
	}
	body, err := encodeWithAccess(rep, acc)
	if err != nil {
		return repEntry{}, err
	}
	e = repEntry{gen: gen, etag: entityTag(token, body), body: body, until: until}
	s.reps.put(k, e)
	return e, nil
}
