package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/testdb"
)

// metricStatesBefore is the statement the explorer used before its lists
// were paged in SQL: every event-fed metric of the project with its volume,
// which the explorer then filtered, sorted and sliced in Go. Kept here only
// to measure the paged query against it.
func (db *DB) metricStatesBefore(ctx context.Context, projectID, envID string, since time.Time) ([]events.MetricState, error) {
	var out []events.MetricState
	err := db.tx(ctx, false, func(t *txn) error {
		rows, err := t.query(ctx, `SELECT m.key, m.kind, m.event_key, m.is_numeric,
			(SELECT s.last_seen FROM event_sources s WHERE s.environment_id = ? AND s.kind = m.kind AND s.event_key = `+sourceKey+`),
			(SELECT COALESCE(SUM(r.event_count), 0) FROM event_rollups r WHERE r.environment_id = ? AND r.kind = m.kind AND r.event_key = `+sourceKey+` AND r.hour >= ?),
			(SELECT COALESCE(SUM(r.value_count), 0) FROM event_rollups r WHERE r.environment_id = ? AND r.kind = m.kind AND r.event_key = `+sourceKey+` AND r.hour >= ?)
			FROM metrics m WHERE m.project_id = ? AND m.kind IN ('custom', 'pageview', 'click') AND m.archived_at IS NULL
			ORDER BY m.key`, envID, envID, hourFloor(since), envID, hourFloor(since), projectID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s events.MetricState
			var last sql.NullInt64
			if err := rows.Scan(&s.Key, &s.Kind, &s.EventKey, &s.IsNumeric, &last, &s.Volume, &s.ValueCount); err != nil {
				return err
			}
			if last.Valid {
				t := fromMS(last.Int64)
				s.LastSeen = &t
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}

// silentPageBefore is the first page of the metrics without events as the
// explorer computed it before: all states, filtered, sorted, sliced.
func (db *DB) silentPageBefore(ctx context.Context, projectID, envID string, since time.Time, limit int) ([]events.MetricState, int, error) {
	states, err := db.metricStatesBefore(ctx, projectID, envID, since)
	if err != nil {
		return nil, 0, err
	}
	silent := []events.MetricState{}
	for _, m := range states {
		if m.Volume == 0 {
			silent = append(silent, m)
		}
	}
	slices.SortFunc(silent, func(a, b events.MetricState) int { return strings.Compare(a.Key, b.Key) })
	return silent[:min(limit, len(silent))], len(silent), nil
}

// BenchmarkExplorerSilent reads the first page (25) of "metrics without
// events" over a project of 100k event-fed metrics, 1,000 of whose keys had
// events in each of the last 24 hours: before (every metric read, then
// filtered in Go) and after (paged in SQL, total counted), one after the
// other in the same run on each backend.
func BenchmarkExplorerSilent(b *testing.B) {
	const n, active, limit = 100_000, 1_000, 25
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, testdb.New(b, backend).URL)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			now := time.Now()
			p := catalog.Project{ID: "bench-p", Key: "bench", Name: "Bench", Tags: []string{}, CreatedAt: now}
			env := catalog.Environment{ID: "bench-env", ProjectID: p.ID, Key: "production", Name: "Production", Color: "417505",
				APIKey: "sdk-bench", MobileKey: "mob-bench", Tags: []string{}, CreatedAt: now}
			if err := db.CreateProject(ctx, &p, []catalog.Environment{env}); err != nil {
				b.Fatal(err)
			}
			batch := make([]*catalog.Metric, 0, 5000)
			for i := range n {
				kind, def := catalog.KindCustom, catalog.MetricDef{Name: fmt.Sprintf("Metric %d", i), Tags: []string{},
					EventKey: fmt.Sprintf("event-%06d", i), RandomizationUnits: []string{"user"}, AnalysisType: "mean",
					UnitAggregationType: "average", DataSource: catalog.DataSource{Key: "launchdarkly"}}
				if i%4 == 2 {
					kind, def.EventKey, def.URLs = catalog.KindPageview, "", []catalog.URLMatcher{{Kind: "substring", Substring: "/checkout"}}
				}
				at := now.Add(time.Duration(i-n) * time.Second)
				batch = append(batch, &catalog.Metric{ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key,
					Key: fmt.Sprintf("metric-%06d", i), Kind: kind, Version: 1, VersionID: core.NewObjectID(), CreatedAt: at, UpdatedAt: at, Def: def})
				if len(batch) == cap(batch) || i == n-1 {
					if err := db.ImportMetrics(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			// Every 100th metric's key had events in each of the last 24 hours.
			hour := now.UTC().Truncate(time.Hour).UnixMilli()
			err = db.TransactEvents(ctx, func(tx events.FlushTx) error {
				rollups := map[events.RollupKey]*events.Rollup{}
				var seen []events.Seen
				for j := range active {
					i := j * (n / active)
					kind, key := events.KindCustom, fmt.Sprintf("event-%06d", i)
					if i%4 == 2 {
						kind, key = events.KindPageview, fmt.Sprintf("metric-%06d", i)
					}
					for h := range int64(24) {
						rollups[events.RollupKey{EnvID: env.ID, Kind: kind, Key: key, Hour: hour - h*3600_000}] = &events.Rollup{Count: 5}
					}
					seen = append(seen, events.Seen{EnvID: env.ID, ProjectID: p.ID, Kind: kind, Key: key, First: hour - 23*3600_000, Last: hour})
				}
				if err := tx.AppendLog(ctx, env.ID, events.AppendLog(nil, len(rollups), maps.All(rollups))); err != nil {
					return err
				}
				return tx.TouchSources(ctx, seen)
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Analyze(ctx); err != nil {
				b.Fatal(err)
			}
			since := now.Add(-7 * 24 * time.Hour)
			// Both give the same page and total.
			old, oldTotal, err := db.silentPageBefore(ctx, p.ID, env.ID, since, limit)
			if err != nil {
				b.Fatal(err)
			}
			pg, err := db.MetricStates(ctx, events.StateQuery{ProjectID: p.ID, EnvID: env.ID, Since: since, List: events.Silent, Page: core.Page{Limit: limit}})
			if err != nil {
				b.Fatal(err)
			}
			if oldTotal != n-active || pg.Total != oldTotal || len(pg.Items) != limit || pg.Items[0].Key != old[0].Key || pg.Items[limit-1].Key != old[limit-1].Key {
				b.Fatalf("before: %d, first %s; after: %d, %d items", oldTotal, old[0].Key, pg.Total, len(pg.Items))
			}
			b.Run("before", func(b *testing.B) {
				for range b.N {
					if _, _, err := db.silentPageBefore(ctx, p.ID, env.ID, since, limit); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("after", func(b *testing.B) {
				for range b.N {
					if _, err := db.MetricStates(ctx, events.StateQuery{ProjectID: p.ID, EnvID: env.ID, Since: since, List: events.Silent, Page: core.Page{Limit: limit}}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("after-deep-page", func(b *testing.B) {
				for range b.N {
					if _, err := db.MetricStates(ctx, events.StateQuery{ProjectID: p.ID, EnvID: env.ID, Since: since, List: events.Silent, Page: core.Page{Limit: limit, Offset: 50_000}}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
