package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache holds prepared statements of one pool, keyed by query text.
// database/sql prepares each on a connection the first time it is used
// there and reuses it afterwards. The cache is bounded: list queries vary
// with their filters, and past the bound queries simply run unprepared.
type stmtCache struct {
	pool  *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

const maxCachedStmts = 512

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, stmts: map[string]*sql.Stmt{}}
}

// get returns the prepared statement for q, or nil when it has not been
// prepared yet. It never prepares: a transaction that holds a connection
// must not wait for another one (the SQLite writer pool has exactly one).
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[q]
}

// prepare prepares the queries in qs that are not cached yet. Callers run it
// while holding no connection.
func (c *stmtCache) prepare(ctx context.Context, qs []string) {
	for _, q := range qs {
		c.mu.Lock()
		_, ok := c.stmts[q]
		full := len(c.stmts) >= maxCachedStmts
		c.mu.Unlock()
		if ok || full {
			continue
		}
		s, err := c.pool.PrepareContext(ctx, q)
		if err != nil {
			// The unprepared path reports errors where they belong.
			continue
		}
		c.mu.Lock()
		if _, ok := c.stmts[q]; ok {
			s.Close()
		} else {
			c.stmts[q] = s
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}
