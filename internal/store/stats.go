package store

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// statsKeeper keeps PostgreSQL's planner statistics fresh without relying
// on autovacuum (which operators switch off, or which lags minutes behind a
// bulk load). After every statsCheckEvery write statements it asks
// pg_stat_user_tables which of metricsd's tables changed by more than
// autovacuum's own analyze threshold (50 rows + 10%) since their last
// ANALYZE and vacuums and analyzes those (VACUUM also keeps the visibility
// map that index-only scans need), in the background, one run at a time.
// ANALYZE also invalidates the cached plans of prepared statements, so a
// generic plan chosen while a table was small does not outlive its growth.
// SQLite needs none of this: metricsd's queries are written for its
// planner without statistics.
type statsKeeper struct {
	db      *DB
	pending atomic.Int64 // write statements since the last check
	running atomic.Bool
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

// statsCheckEvery is the number of write statements between two checks of
// the tables' modification counters.
const statsCheckEvery = 2000

// statsSettle is how long a check waits for the server's counters.
const statsSettle = 1500 * time.Millisecond

// statsTimeout bounds one check-and-analyze run.
const statsTimeout = 2 * time.Minute

func newStatsKeeper(db *DB) *statsKeeper {
	ctx, cancel := context.WithCancel(context.Background())
	return &statsKeeper{db: db, ctx: ctx, cancel: cancel}
}

// wrote records n write statements of a committed transaction and starts a
// check when enough have accumulated.
func (k *statsKeeper) wrote(n int64) {
	if k == nil || k.pending.Add(n) < statsCheckEvery {
		return
	}
	k.kick()
}

// kick starts a check in the background unless one is running.
func (k *statsKeeper) kick() {
	if k == nil || !k.running.CompareAndSwap(false, true) {
		return
	}
	k.pending.Store(0)
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		defer k.running.Store(false)
		// The server publishes its modification counters up to a second
		// after a commit.
		select {
		case <-k.ctx.Done():
			return
		case <-time.After(statsSettle):
		}
		ctx, cancel := context.WithTimeout(k.ctx, statsTimeout)
		defer cancel()
		if err := k.db.analyzeStale(ctx); err != nil && k.ctx.Err() == nil {
			slog.Warn("refreshing planner statistics", "err", err)
		}
	}()
}

// close stops a running check and waits for it.
func (k *statsKeeper) close() {
	if k == nil {
		return
	}
	k.cancel()
	k.wg.Wait()
}

// staleTables lists the tables of the current schema whose rows changed by
// more than 50 + 10% since they were last analyzed, or that never were.
const staleTables = `SELECT relname FROM pg_stat_user_tables
	WHERE schemaname = current_schema()
	AND (n_mod_since_analyze > 50 + n_live_tup / 10 OR (last_analyze IS NULL AND last_autoanalyze IS NULL AND n_live_tup + n_mod_since_analyze > 0))
	ORDER BY relname`

// analyzeStale analyzes the tables staleTables names. It does nothing on
// SQLite.
func (db *DB) analyzeStale(ctx context.Context) error {
	if db.dialect.name != "postgres" {
		return nil
	}
	rows, err := db.w.QueryContext(ctx, staleTables)
	if err != nil {
		return err
	}
	tables, err := collectStrings(rows)
	if err != nil || len(tables) == 0 {
		return err
	}
	quoted := make([]string, len(tables))
	for i, t := range tables {
		quoted[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	// VACUUM as well: it marks the pages whose rows every snapshot sees,
	// without which an index-only scan (a count from an index, see
	// migration 0018) reads every row's page and the planner prefers to
	// scan the table.
	_, err = db.w.ExecContext(ctx, `VACUUM (ANALYZE) `+strings.Join(quoted, ", "))
	return err
}
