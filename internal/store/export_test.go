package store

import (
	"context"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
)

// The store tests drive single writes directly. Each wrapper runs one
// transaction-level write through the write seam, recording no change.

func (db *DB) write(ctx context.Context, fn func(tx catalog.Tx) error) error {
	return db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) { return nil, fn(tx) })
}

func (db *DB) CreateProject(ctx context.Context, p *catalog.Project, envs []catalog.Environment) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.CreateProject(ctx, p, envs) })
}

func (db *DB) DeleteProject(ctx context.Context, key string) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.DeleteProject(ctx, key) })
}

func (db *DB) CreateMetric(ctx context.Context, m *catalog.Metric) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.CreateMetric(ctx, m) })
}

func (db *DB) UpdateMetric(ctx context.Context, m *catalog.Metric, prevVersion int) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.UpdateMetric(ctx, m, prevVersion) })
}

func (db *DB) DeleteMetric(ctx context.Context, projectID, key string) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.DeleteMetric(ctx, projectID, key) })
}

func (db *DB) CreateMetricGroup(ctx context.Context, g *catalog.MetricGroup) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.CreateMetricGroup(ctx, g) })
}

func (db *DB) CreateMembers(ctx context.Context, ms []account.NewMember) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.CreateMembers(ctx, ms) })
}

func (db *DB) DeleteMember(ctx context.Context, id string) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.DeleteMember(ctx, id) })
}

func (db *DB) CreateTeam(ctx context.Context, t *account.Team) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.CreateTeam(ctx, t) })
}

func (db *DB) UpdateTeam(ctx context.Context, t *account.Team, prevVersion int) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.UpdateTeam(ctx, t, prevVersion) })
}

func (db *DB) DeleteTeam(ctx context.Context, key string) error {
	return db.write(ctx, func(tx catalog.Tx) error { return tx.DeleteTeam(ctx, key) })
}

func (db *DB) CreateMember(ctx context.Context, m *account.Member) error {
	return db.tx(ctx, true, func(t *txn) error { return insertMember(ctx, t, m) })
}

func (db *DB) CreateToken(ctx context.Context, tok *account.Token) error {
	return db.tx(ctx, true, func(t *txn) error { return insertToken(ctx, t, tok) })
}

// RateBuckets lists the rows of rate_windows.
func (db *DB) RateBuckets(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT bucket FROM rate_windows ORDER BY bucket`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// ListPatches counts the cached metric lists patched from the change log.
func (db *DB) ListPatches() int64 { return db.listPatches.Load() }

// FirstPages counts the metric list pages answered from SQL before a
// match list of their filter was read.
func (db *DB) FirstPages() int64 { return db.firstPages.Load() }

// IndexAnswered counts the metric list pages the in-memory project
// indexes answered.
func (db *DB) IndexAnswered() int64 {
	if db.index == nil {
		return 0
	}
	return db.index.answered.Load()
}

// WithIndexBudget sets the metrics all project indexes hold together.
func WithIndexBudget(n int) Option {
	return func(db *DB) { db.index.budget = n }
}

// WithIndexWornAt rebuilds a project index once it holds n dead
// positions (and a quarter of its live ones).
func WithIndexWornAt(n int) Option {
	return func(db *DB) { db.index.wornAt = n }
}

// IndexBuilds counts the project indexes built.
func (db *DB) IndexBuilds() int64 { return db.index.builds.Load() }

// WithFewMatches sets the number of matches up to which a first page is
// read from the index of a condition and sorted, rather than by walking
// the sort index.
func WithFewMatches(n int) Option {
	return func(db *DB) { db.fewMatches = n }
}

// WithDeletionsKept sets the metric_deletions rows a project keeps after
// a prune (see pruneDeletions), so that tests prune after a few deletions.
func WithDeletionsKept(n int) Option {
	return func(db *DB) { db.deletionsKept = n }
}

// DeletionLog returns the metric_deletions rows of a project and its
// deletions_low and deletions_held.
func (db *DB) DeletionLog(ctx context.Context, projectID string) (rows int, low, held int64, err error) {
	err = db.tx(ctx, false, func(t *txn) error {
		if err := t.row(ctx, `SELECT COUNT(*) FROM metric_deletions WHERE project_id = ?`, projectID).Scan(&rows); err != nil {
			return err
		}
		return t.row(ctx, `SELECT deletions_low, deletions_held FROM projects WHERE id = ?`, projectID).Scan(&low, &held)
	})
	return rows, low, held, err
}
