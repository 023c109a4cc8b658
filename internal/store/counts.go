package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// countCache remembers the total of a filtered metric list for one
// generation of a project's metrics. Counting is the only part of a list
// request whose cost grows with the number of matches; with the cache,
// paging through a result and repeating a query cost one page each. The
// generation is read from the database in the same snapshot as the page, so
// replicas sharing a PostgreSQL database never serve a stale count.
type countCache struct {
	mu      sync.Mutex
	entries map[string]int
}

const maxCountEntries = 4096

func newCountCache() *countCache { return &countCache{entries: map[string]int{}} }

func countKey(projectID string, gen int64, where string, args []any) string {
	var b strings.Builder
	b.WriteString(projectID)
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(gen, 10))
	b.WriteByte(0)
	b.WriteString(where)
	for _, a := range args {
		b.WriteByte(0)
		fmt.Fprint(&b, a)
	}
	return b.String()
}

func (c *countCache) get(key string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.entries[key]
	return n, ok
}

func (c *countCache) put(key string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCountEntries {
		clear(c.entries)
	}
	c.entries[key] = n
}

// cachedCount runs countQuery in t, or answers from the cache when the
// project's generation, read in the same snapshot, is one the cache has
// counted this query for. Uncacheable queries are always run.
func (db *DB) cachedCount(ctx context.Context, t *txn, projectID string, cacheable bool, countQuery string, args []any) (int, error) {
	var total int
	if !cacheable {
		err := t.row(ctx, countQuery, args...).Scan(&total)
		return total, err
	}
	var gen int64
	if err := t.row(ctx, `SELECT metrics_generation FROM projects WHERE id = ?`, projectID).Scan(&gen); err != nil {
		return 0, classify(err)
	}
	return db.countAt(ctx, t, projectID, gen, countQuery, args)
}

// countAt is cachedCount for a generation gen already read in t.
func (db *DB) countAt(ctx context.Context, t *txn, projectID string, gen int64, countQuery string, args []any) (int, error) {
	var total int
	key := countKey(projectID, gen, countQuery, args)
	if n, ok := db.counts.get(key); ok {
		return n, nil
	}
	if err := t.row(ctx, countQuery, args...).Scan(&total); err != nil {
		return 0, err
	}
	db.counts.put(key, total)
	return total, nil
}

// genCache remembers project generations with the wal-index stamp read
// before each was read from the database (see ProjectGeneration).
type genCache struct {
	mu      sync.Mutex
	entries map[string]genEntry
}

type genEntry struct {
	at  stamp
	gen int64
}

func newGenCache() *genCache { return &genCache{entries: map[string]genEntry{}} }

// get returns the generation of project key if it was read under stamp at.
func (c *genCache) get(key string, at stamp) (int64, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	return e.gen, ok && e.at == at
}

func (c *genCache) put(key string, at stamp, gen int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCountEntries {
		clear(c.entries)
	}
	c.entries[key] = genEntry{at: at, gen: gen}
}
