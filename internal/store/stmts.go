package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// stmtCache holds prepared statements of one pool, keyed by query text.
// database/sql prepares each on a connection the first time it is used
// there and reuses it afterwards. The cache is bounded: list queries vary
// with their filters, and past the bound queries simply run unprepared.
type stmtCache struct {
	pool  *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	// pending are the queries prepareLater is preparing; closed is set
	// by close, which ends those preparations (ctx) and waits for them
	// (wg).
	pending map[string]bool
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

const maxCachedStmts = 512

func newStmtCache(pool *sql.DB) *stmtCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &stmtCache{pool: pool, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}, ctx: ctx, cancel: cancel}
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
		if _, ok := c.stmts[q]; ok || c.closed {
			s.Close()
		} else {
			c.stmts[q] = s
		}
		c.mu.Unlock()
	}
}

// prepareLaterTimeout bounds the background preparation of one
// transaction's new statements.
const prepareLaterTimeout = 10 * time.Second

// prepareLater prepares the queries in qs that are neither cached nor
// being prepared, in the background: the request that first ran them has
// paid for running them unprepared and need not also wait for their
// preparation (on SQLite about a millisecond for a list page's statement,
// which was most of what a new filter's first page cost beyond its
// count). Until the statements are cached, transactions run them
// unprepared, as before.
func (c *stmtCache) prepareLater(qs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.stmts) >= maxCachedStmts {
		return
	}
	var todo []string
	for _, q := range qs {
		if _, ok := c.stmts[q]; !ok && !c.pending[q] {
			c.pending[q] = true
			todo = append(todo, q)
		}
	}
	if len(todo) == 0 {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, prepareLaterTimeout)
		defer cancel()
		c.prepare(ctx, todo)
		c.mu.Lock()
		for _, q := range todo {
			delete(c.pending, q)
		}
		c.mu.Unlock()
	}()
}

func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}
