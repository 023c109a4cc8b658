package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metricsd/metricsd/internal/ratelimit"
)

// RateCounter returns the rate limit counter replicas sharing this
// PostgreSQL database share, nil on SQLite, whose one replica counts in
// memory.
func (db *DB) RateCounter() ratelimit.Counter {
	if db.dialect.name != "postgres" {
		return nil
	}
	return &rateCounter{db: db}
}

// rateCounter counts in rate_windows with one statement per request.
type rateCounter struct {
	db *DB
	// purged is the window rows of past windows were last deleted in.
	purged atomic.Int64
	mu     sync.Mutex
	// queries holds the statement for each number of steps.
	queries map[int]string
}

// Take implements ratelimit.Counter on PostgreSQL: one statement whose
// data-modifying CTEs take the steps in order, each an upsert of the
// step's row that resets a row of a past window, raises the count while it
// is below the cap, and runs only when the step before it admitted the
// request (it selects from that step's RETURNING). The final SELECT also
// reads every row as it was before the statement, for the steps that did
// not count.
func (c *rateCounter) Take(ctx context.Context, window int64, steps []ratelimit.Step) ([]ratelimit.Count, error) {
	if err := c.purge(ctx, window); err != nil {
		return nil, err
	}
	q := c.query(len(steps))
	args := make([]any, 0, 1+2*len(steps))
	args = append(args, window)
	for _, s := range steps {
		args = append(args, s.Bucket, s.Cap)
	}
	c.db.statements.Add(1)
	s := c.db.wStmts.get(q)
	if s == nil {
		c.db.wStmts.prepare(ctx, []string{q})
		s = c.db.wStmts.get(q)
	}
	var row *sql.Row
	if s != nil {
		row = s.QueryRowContext(ctx, args...)
	} else {
		row = c.db.w.QueryRowContext(ctx, q, args...)
	}
	vals := make([]sql.NullInt64, 4*len(steps))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := row.Scan(dest...); err != nil {
		return nil, classify(err)
	}
	out := make([]ratelimit.Count, len(steps))
	for i := range steps {
		n, w, oldN, oldW := vals[4*i], vals[4*i+1], vals[4*i+2], vals[4*i+3]
		switch {
		case n.Valid:
			out[i] = ratelimit.Count{N: int(n.Int64), Window: w.Int64, Admitted: true}
		case oldW.Valid:
			out[i] = ratelimit.Count{N: int(oldN.Int64), Window: oldW.Int64}
		default:
			// No row yet: nothing counted in any window.
			out[i] = ratelimit.Count{Window: window}
		}
	}
	return out, nil
}

// purgeAfter is how old a row must be to be deleted, and how often each
// replica deletes: the rows of client addresses and tokens that stopped
// sending would otherwise stay for ever.
const purgeAfter = int64(time.Minute / time.Millisecond)

// purge deletes the rows of windows that ended at least purgeAfter ago,
// once per purgeAfter per replica.
func (c *rateCounter) purge(ctx context.Context, window int64) error {
	last := c.purged.Load()
	if window-last < purgeAfter || !c.purged.CompareAndSwap(last, window) {
		return nil
	}
	c.db.statements.Add(1)
	if _, err := c.db.w.ExecContext(ctx, `DELETE FROM rate_windows WHERE window_start < $1`, window-purgeAfter); err != nil {
		// Try again on the next request.
		c.purged.Store(last)
		return classify(err)
	}
	return nil
}

func (c *rateCounter) query(steps int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := c.queries[steps]; ok {
		return q
	}
	var b strings.Builder
	b.WriteString("WITH ")
	for i := range steps {
		bucket, limit := 2+2*i, 3+2*i
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "s%d AS (INSERT INTO rate_windows AS c (bucket, window_start, n) SELECT $%d::text, $1::bigint, 1", i, bucket)
		if i > 0 {
			fmt.Fprintf(&b, " FROM s%d", i-1)
		}
		fmt.Fprintf(&b, " ON CONFLICT (bucket) DO UPDATE SET"+
			" n = CASE WHEN c.window_start < EXCLUDED.window_start THEN 1 ELSE c.n + 1 END,"+
			" window_start = GREATEST(c.window_start, EXCLUDED.window_start)"+
			" WHERE c.window_start < EXCLUDED.window_start OR c.n < $%d::bigint"+
			" RETURNING n, window_start)", limit)
	}
	b.WriteString(" SELECT ")
	for i := range steps {
		if i > 0 {
			b.WriteString(", ")
		}
		bucket := 2 + 2*i
		fmt.Fprintf(&b, "(SELECT n FROM s%d), (SELECT window_start FROM s%d),"+
			" (SELECT n FROM rate_windows WHERE bucket = $%d::text), (SELECT window_start FROM rate_windows WHERE bucket = $%d::text)",
			i, i, bucket, bucket)
	}
	q := b.String()
	if c.queries == nil {
		c.queries = map[int]string{}
	}
	c.queries[steps] = q
	return q
}
