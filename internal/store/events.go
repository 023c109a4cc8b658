package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/events"
)

var _ events.Store = (*DB)(nil)

// TransactEvents runs one group commit of ingested events in a write
// transaction, retried after transient conflicts like Transact. Events are
// data, not changes of a resource: they record no audit entry. A commit
// only appends to event_log and claims payload IDs, so commits of several
// replicas need not wait for one another; folds do (FoldEvents).
func (db *DB) TransactEvents(ctx context.Context, fn func(events.FlushTx) error) error {
	return withRetry(ctx, func() error {
		return db.tx(ctx, true, func(t *txn) error { return fn(eventTx{t}) })
	})
}

// EventCommitters is how many group commits of ingested events should run
// at once: on PostgreSQL a commit waits for its WAL flush, during which
// another can run (their rows never conflict but for payload IDs, which
// the second then waits for); SQLite has one writer.
func (db *DB) EventCommitters() int {
	if db.dialect.name == "postgres" {
		return 3
	}
	return 1
}

// storeEventLogUncompressed keeps PostgreSQL from compressing event log
// records (TOAST's pglz): a record lives about a second, and compressing
// it costs more than the bytes it saves.
func storeEventLogUncompressed(ctx context.Context, t *txn) error {
	if t.d.name != "postgres" {
		return nil
	}
	_, err := t.exec(ctx, `ALTER TABLE event_log ALTER COLUMN data SET STORAGE EXTERNAL`)
	return err
}

// foldLimit is how many log records one statement of a fold takes.
const foldLimit = 64

// FoldEvents folds the whole event log into event_rollups (events.Fold),
// in as few transactions as the fold's bounds allow (one, unless the log
// holds more than a fold may hold in memory). On PostgreSQL folds of all
// replicas take turns under an advisory lock, so that two never read and
// rewrite the same rollup row at once; a fold waits for the one running,
// then folds what is left. On SQLite, where folds take turns on the one
// writer connection, the rows a fold wrote are kept (db.folded) and reused
// by the next instead of read back.
func (db *DB) FoldEvents(ctx context.Context) error {
	if f := db.folded; f != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
	}
	for {
		var corrupt int
		var more bool
		err := withRetry(ctx, func() error {
			if f := db.folded; f != nil {
				g, ok, err := db.foldFromSnapshot(ctx, f)
				if err != nil || ok {
					if g != nil {
						corrupt, more = g.Corrupt, g.More
					}
					return err
				}
			}
			var put map[events.RollupKey]*events.Rollup
			err := db.tx(ctx, true, func(t *txn) error {
				var tx events.FoldTx = eventTx{t}
				if db.dialect.lockEvents != "" {
					if _, err := t.exec(ctx, db.dialect.lockEvents); err != nil {
						return err
					}
				}
				if f := db.folded; f != nil {
					c, err := f.begin(ctx, t)
					if err != nil {
						return err
					}
					c.put = &put
					tx = c
				}
				var err error
				_, corrupt, more, err = events.Fold(ctx, tx, foldLimit)
				return err
			})
			if f := db.folded; f != nil {
				f.end(put, err)
			}
			return err
		})
		if err != nil {
			return err
		}
		if corrupt > 0 {
			slog.Error("dropped event log records that could not be read", "records", corrupt)
		}
		if !more {
			return nil
		}
	}
}

// errLogMoved ends the write step of foldFromSnapshot when records it read
// were no longer in the log.
var errLogMoved = errors.New("event log records were folded by another connection")

// foldFromSnapshot is a SQLite fold in two steps. The records are read and
// added up in a read transaction, whose snapshot holds no lock; then one
// short write transaction deletes exactly those records (by ID) and merges
// what they add up to into the rows. Group commits wait only for the second
// step, which costs the rows' writes; adding up the records, most of a
// fold's time, no longer holds the one write lock. Each record is still
// added exactly once: it is deleted in the transaction that adds it, and
// when fewer records than were read are deleted (another process sharing
// the file folded some meanwhile), that transaction rolls back and ok is
// false, so that the caller folds in one transaction instead. The rows
// merged into are those of the write transaction (kept rows are dropped
// when another connection wrote the file, as in the one-transaction fold).
func (db *DB) foldFromSnapshot(ctx context.Context, f *foldedRows) (g *events.Gathered, ok bool, err error) {
	err = db.tx(ctx, false, func(t *txn) error {
		after := ""
		var err error
		g, err = events.Gather(ctx, func(ctx context.Context, limit int) ([]events.LogRecord, error) {
			recs, err := readLog(ctx, t, after, limit)
			if len(recs) > 0 {
				after = recs[len(recs)-1].ID
			}
			return recs, err
		}, foldLimit)
		return err
	})
	if err != nil || len(g.IDs) == 0 {
		return g, true, err
	}
	var put map[events.RollupKey]*events.Rollup
	err = db.tx(ctx, true, func(t *txn) error {
		deleted := 0
		err := chunks(g.IDs, inSizes[len(inSizes)-1], func(part []string) error {
			p := padded(part)
			res, err := t.exec(ctx, `DELETE FROM event_log WHERE id IN (`+placeholders(len(p))+`)`, anys(p)...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			deleted += int(n)
			return err
		})
		if err != nil {
			return err
		}
		if deleted != len(g.IDs) {
			return errLogMoved
		}
		c, err := f.begin(ctx, t)
		if err != nil {
			return err
		}
		c.put = &put
		return g.Apply(ctx, c)
	})
	f.end(put, err)
	if errors.Is(err, errLogMoved) {
		return nil, false, nil
	}
	return g, true, err
}

// readLog reads up to limit records of the event log after the ID after,
// in order, without removing them.
func readLog(ctx context.Context, t *txn, after string, limit int) ([]events.LogRecord, error) {
	return logRecords(t.query(ctx, `SELECT id, environment_id, data FROM event_log WHERE id > ? ORDER BY id LIMIT ?`, after, limit))
}

// logRecords reads rows of id, environment_id and data.
func logRecords(rows *sql.Rows, err error) ([]events.LogRecord, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []events.LogRecord
	for rows.Next() {
		var r events.LogRecord
		if err := rows.Scan(&r.ID, &r.EnvID, &r.Data); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// foldedRows holds the rollup rows as the folds of this process committed
// them, valid while no other connection has written the SQLite file since
// (PRAGMA data_version, which changes on the writer's connection exactly
// when another connection commits). mu is held for a whole fold.
type foldedRows struct {
	mu      sync.Mutex
	rows    map[events.RollupKey]*events.Rollup
	version int64
}

// maxFoldedRows bounds foldedRows; past it the rows start over.
const maxFoldedRows = 20_000

// begin checks the kept rows at the start of a fold's transaction and
// returns the FoldTx that uses them.
func (f *foldedRows) begin(ctx context.Context, t *txn) (*foldedTx, error) {
	var v int64
	if err := t.row(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return nil, err
	}
	if v != f.version || f.rows == nil {
		f.rows, f.version = map[events.RollupKey]*events.Rollup{}, v
	}
	return &foldedTx{eventTx: eventTx{t}, f: f}, nil
}

// end keeps the rows a fold wrote, or forgets every row when it failed:
// the fold added to kept rows in place.
func (f *foldedRows) end(put map[events.RollupKey]*events.Rollup, err error) {
	if err != nil {
		f.rows = nil
		return
	}
	if len(f.rows)+len(put) > maxFoldedRows {
		clear(f.rows)
	}
	if len(put) <= maxFoldedRows {
		maps.Copy(f.rows, put)
	}
}

// foldedTx is the FoldTx of a SQLite fold: Rollups answers from the kept
// rows first.
type foldedTx struct {
	eventTx
	f   *foldedRows
	put *map[events.RollupKey]*events.Rollup
}

func (x *foldedTx) Rollups(ctx context.Context, keys []events.RollupKey) (map[events.RollupKey]*events.Rollup, error) {
	out := make(map[events.RollupKey]*events.Rollup, len(keys))
	var missing []events.RollupKey
	for _, k := range keys {
		if r := x.f.rows[k]; r != nil {
			out[k] = r
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		read, err := x.eventTx.Rollups(ctx, missing)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, read)
	}
	return out, nil
}

func (x *foldedTx) PutRollups(ctx context.Context, rows map[events.RollupKey]*events.Rollup) error {
	*x.put = rows
	return x.eventTx.PutRollups(ctx, rows)
}

// settleEvents folds the event log before a read of event_rollups, so
// that the read sees every event committed before it: one indexed probe
// when the log is empty.
func (db *DB) settleEvents(ctx context.Context) error {
	var one int
	err := db.readRow(ctx, `SELECT 1 FROM event_log LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return classify(err)
	}
	return db.FoldEvents(ctx)
}

// PruneEvents drops payload IDs received before payloadsBefore and SDK
// keys whose grace period ended.
func (db *DB) PruneEvents(ctx context.Context, payloadsBefore, now time.Time) error {
	return db.tx(ctx, true, func(t *txn) error {
		if _, err := t.exec(ctx, `DELETE FROM event_payloads WHERE received_at < ?`, ms(payloadsBefore)); err != nil {
			return err
		}
		_, err := t.exec(ctx, `DELETE FROM environment_expiring_keys WHERE expires_at <= ?`, ms(now))
		return err
	})
}

// eventTx is the FlushTx of one group commit.
type eventTx struct{ t *txn }

// inSizes are the lengths IN lists are padded to, so that a few prepared
// statements serve every request.
var inSizes = []int{1, 8, 64, 256}

// padded returns vals padded to the next size in inSizes by repeating the
// last value, and the size.
func padded(vals []string) []string {
	n := inSizes[len(inSizes)-1]
	for _, s := range inSizes {
		if len(vals) <= s {
			n = s
			break
		}
	}
	out := slices.Grow(slices.Clone(vals), n-len(vals))
	for len(out) < n {
		out = append(out, vals[len(vals)-1])
	}
	return out
}

func anys(vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

// chunks calls fn with consecutive pieces of vals no longer than the
// largest of inSizes.
func chunks[T any](vals []T, size int, fn func([]T) error) error {
	for len(vals) > 0 {
		n := min(size, len(vals))
		if err := fn(vals[:n]); err != nil {
			return err
		}
		vals = vals[n:]
	}
	return nil
}

func (x eventTx) ExistingEnvironments(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := chunks(ids, inSizes[len(inSizes)-1], func(part []string) error {
		p := padded(part)
		rows, err := x.t.query(ctx, `SELECT id FROM environments WHERE id IN (`+placeholders(len(p))+`)`, anys(p)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out[id] = true
		}
		return rows.Err()
	})
	return out, err
}

func (x eventTx) ClaimPayloads(ctx context.Context, claims []events.PayloadClaim, now time.Time) (map[events.PayloadClaim]bool, error) {
	sorted := slices.Clone(claims)
	// One order for every writer: concurrent claims of one ID by two
	// replicas wait for each other instead of deadlocking.
	slices.SortFunc(sorted, func(a, b events.PayloadClaim) int {
		return cmp.Or(strings.Compare(a.EnvID, b.EnvID), strings.Compare(a.PayloadID, b.PayloadID))
	})
	sorted = slices.Compact(sorted)
	fresh := make(map[events.PayloadClaim]bool, len(sorted))
	err := multiRow(sorted, func(part []events.PayloadClaim) error {
		args := make([]any, 0, len(part)*3)
		for _, c := range part {
			args = append(args, c.EnvID, c.PayloadID, ms(now))
		}
		rows, err := x.t.query(ctx, `INSERT INTO event_payloads (environment_id, payload_id, received_at) VALUES `+valuesList(len(part), 3)+`
			ON CONFLICT (environment_id, payload_id) DO NOTHING RETURNING environment_id, payload_id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c events.PayloadClaim
			if err := rows.Scan(&c.EnvID, &c.PayloadID); err != nil {
				return err
			}
			fresh[c] = true
		}
		return rows.Err()
	})
	return fresh, err
}

func (x eventTx) AppendLog(ctx context.Context, envID string, rec []byte) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	_, err = x.t.exec(ctx, `INSERT INTO event_log (id, environment_id, data) VALUES (?, ?, ?)`, id.String(), envID, rec)
	return err
}

// TakeLog removes the oldest records; ids are UUIDv7, ordered by time.
func (x eventTx) TakeLog(ctx context.Context, limit int) ([]events.LogRecord, error) {
	return logRecords(x.t.query(ctx, `DELETE FROM event_log WHERE id IN (SELECT id FROM event_log ORDER BY id LIMIT ?)
		RETURNING id, environment_id, data`, limit))
}

const rollupCols = `environment_id, kind, event_key, hour, event_count, value_count, value_sum, value_min, value_max, contexts`

func scanRollup(s scanner) (events.RollupKey, *events.Rollup, error) {
	var k events.RollupKey
	var r events.Rollup
	var lo, hi sql.NullFloat64
	var contexts []byte
	if err := s.Scan(&k.EnvID, &k.Kind, &k.Key, &k.Hour, &r.Count, &r.ValueCount, &r.Sum, &lo, &hi, &contexts); err != nil {
		return k, nil, err
	}
	r.Min, r.Max = lo.Float64, hi.Float64
	c, err := events.DecodeContexts(contexts)
	if err != nil {
		return k, nil, fmt.Errorf("rollup %s/%s/%s/%d: %w", k.EnvID, k.Kind, k.Key, k.Hour, err)
	}
	r.Contexts = c
	return k, &r, nil
}

func (x eventTx) Rollups(ctx context.Context, keys []events.RollupKey) (map[events.RollupKey]*events.Rollup, error) {
	type group struct {
		env, kind string
		hour      int64
	}
	byGroup := map[group][]string{}
	for _, k := range keys {
		g := group{k.EnvID, k.Kind, k.Hour}
		byGroup[g] = append(byGroup[g], k.Key)
	}
	out := make(map[events.RollupKey]*events.Rollup, len(keys))
	for g, names := range byGroup {
		err := chunks(names, inSizes[len(inSizes)-1], func(part []string) error {
			p := padded(part)
			args := append([]any{g.env, g.kind, g.hour}, anys(p)...)
			rows, err := x.t.query(ctx, `SELECT `+rollupCols+` FROM event_rollups
				WHERE environment_id = ? AND kind = ? AND hour = ? AND event_key IN (`+placeholders(len(p))+`)`, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				k, r, err := scanRollup(rows)
				if err != nil {
					return err
				}
				out[k] = r
			}
			return rows.Err()
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rowSizes are the row counts of multi-row statements: any count is a sum
// of them, so a few prepared statements serve every commit.
var rowSizes = []int{32, 16, 8, 4, 2, 1}

// multiRow runs stmt(n) for pieces of rows of the sizes in rowSizes.
func multiRow[T any](rows []T, fn func(part []T) error) error {
	for len(rows) > 0 {
		for _, s := range rowSizes {
			if len(rows) >= s {
				if err := fn(rows[:s]); err != nil {
					return err
				}
				rows = rows[s:]
				break
			}
		}
	}
	return nil
}

func valuesList(rows, cols int) string {
	one := "(" + placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

func (x eventTx) PutRollups(ctx context.Context, m map[events.RollupKey]*events.Rollup) error {
	keys := make([]events.RollupKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// One order for every writer: fewer lock waits, better locality.
	slices.SortFunc(keys, func(a, b events.RollupKey) int {
		return cmp.Or(strings.Compare(a.EnvID, b.EnvID), strings.Compare(a.Kind, b.Kind),
			strings.Compare(a.Key, b.Key), cmp.Compare(a.Hour, b.Hour))
	})
	return multiRow(keys, func(part []events.RollupKey) error {
		args := make([]any, 0, len(part)*10)
		for _, k := range part {
			r := m[k]
			var lo, hi any
			if r.ValueCount > 0 {
				lo, hi = r.Min, r.Max
			}
			args = append(args, k.EnvID, k.Kind, k.Key, k.Hour, r.Count, r.ValueCount, r.Sum, lo, hi, events.EncodeContexts(r.Contexts))
		}
		_, err := x.t.exec(ctx, `INSERT INTO event_rollups (`+rollupCols+`) VALUES `+valuesList(len(part), 10)+`
			ON CONFLICT (environment_id, kind, event_key, hour) DO UPDATE SET event_count = excluded.event_count,
			value_count = excluded.value_count, value_sum = excluded.value_sum, value_min = excluded.value_min,
			value_max = excluded.value_max, contexts = excluded.contexts`, args...)
		return err
	})
}

func (x eventTx) TouchSources(ctx context.Context, seen []events.Seen) error {
	slices.SortFunc(seen, func(a, b events.Seen) int {
		return cmp.Or(strings.Compare(a.EnvID, b.EnvID), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Key, b.Key))
	})
	// Metric representations show lastSeen and isActive: the projects
	// whose sources moved get a new generation, in this transaction.
	projects := map[string]bool{}
	for _, s := range seen {
		projects[s.ProjectID] = true
	}
	ids := make([]string, 0, len(projects))
	for id := range projects {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := bumpGeneration(ctx, x.t, id); err != nil {
			return err
		}
	}
	return multiRow(seen, func(part []events.Seen) error {
		args := make([]any, 0, len(part)*7)
		for _, s := range part {
			var lastValue any
			if s.LastValue > 0 {
				lastValue = s.LastValue
			}
			args = append(args, s.EnvID, s.ProjectID, s.Kind, s.Key, s.First, s.Last, lastValue)
		}
		_, err := x.t.exec(ctx, `INSERT INTO event_sources (environment_id, project_id, kind, event_key, first_seen, last_seen, last_value)
			VALUES `+valuesList(len(part), 7)+`
			ON CONFLICT (environment_id, kind, event_key) DO UPDATE SET
			first_seen = CASE WHEN excluded.first_seen < event_sources.first_seen THEN excluded.first_seen ELSE event_sources.first_seen END,
			last_seen = CASE WHEN excluded.last_seen > event_sources.last_seen THEN excluded.last_seen ELSE event_sources.last_seen END,
			last_value = CASE WHEN event_sources.last_value IS NULL OR excluded.last_value > event_sources.last_value
				THEN COALESCE(excluded.last_value, event_sources.last_value) ELSE event_sources.last_value END`, args...)
		return err
	})
}

// ProjectGoals lists a project's unarchived pageview and click metrics.
func (db *DB) ProjectGoals(ctx context.Context, projectID string) ([]events.Goal, error) {
	var out []events.Goal
	err := db.tx(ctx, false, func(t *txn) error {
		rows, err := t.query(ctx, `SELECT m.key, m.kind, v.def FROM metrics m JOIN metric_versions v ON v.version_id = m.version_id
			WHERE m.project_id = ? AND m.kind IN ('pageview', 'click') AND m.archived_at IS NULL ORDER BY m.created_at, m.id`, projectID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g events.Goal
			var def string
			if err := rows.Scan(&g.Key, &g.Kind, &def); err != nil {
				return err
			}
			var d catalog.MetricDef
			if err := json.Unmarshal([]byte(def), &d); err != nil {
				return fmt.Errorf("metric %s: stored definition is corrupt: %w", g.Key, err)
			}
			g.URLs, g.Selector = d.URLs, d.Selector
			out = append(out, g)
		}
		return rows.Err()
	})
	return out, err
}

// sourceKey is the event key that feeds the metric aliased m.
const sourceKey = `(CASE WHEN m.kind = 'custom' THEN m.event_key ELSE m.key END)`

func hourFloor(t time.Time) int64 { return t.UTC().Truncate(time.Hour).UnixMilli() }

// RollupRows returns the hourly rollups of one key in [from, to).
func (db *DB) RollupRows(ctx context.Context, envID, kind, key string, from, to time.Time) ([]events.HourRollup, error) {
	if err := db.settleEvents(ctx); err != nil {
		return nil, err
	}
	out := []events.HourRollup{}
	err := db.tx(ctx, false, func(t *txn) error {
		rows, err := t.query(ctx, `SELECT `+rollupCols+` FROM event_rollups WHERE environment_id = ? AND kind = ? AND event_key = ?
			AND hour >= ? AND hour < ? ORDER BY hour`, envID, kind, key, hourFloor(from), ms(to))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, r, err := scanRollup(rows)
			if err != nil {
				return err
			}
			out = append(out, events.HourRollup{Hour: fromMS(k.Hour), Rollup: *r})
		}
		return rows.Err()
	})
	return out, err
}

// HourCounts returns the event counts of one key's hours in [from, to).
func (db *DB) HourCounts(ctx context.Context, envID, kind, key string, from, to time.Time) ([]events.HourCount, error) {
	if err := db.settleEvents(ctx); err != nil {
		return nil, err
	}
	out := []events.HourCount{}
	err := db.tx(ctx, false, func(t *txn) error {
		rows, err := t.query(ctx, `SELECT hour, event_count FROM event_rollups WHERE environment_id = ? AND kind = ? AND event_key = ?
			AND hour >= ? AND hour < ? ORDER BY hour`, envID, kind, key, hourFloor(from), ms(to))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var hour, n int64
			if err := rows.Scan(&hour, &n); err != nil {
				return err
			}
			out = append(out, events.HourCount{Hour: fromMS(hour), Count: n})
		}
		return rows.Err()
	})
	return out, err
}

// SoleWriter reports whether this process is the database's only writer:
// true on SQLite, which one metricsd serves; PostgreSQL may be shared by
// replicas.
func (db *DB) SoleWriter() bool { return db.dialect.name == "sqlite" }
