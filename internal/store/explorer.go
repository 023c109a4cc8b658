package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/metricsd/metricsd/internal/events"
)

// The event explorer's lists, each paged in SQL. A page reads the rows it
// shows; its total is counted from what bounds it cheaply:
//   - event keys (all, or those no metric uses): the environment's
//     event_sources rows in the window, one index range;
//   - metrics with events but no values: the metrics fed by the keys seen in
//     the window, found from event_sources;
//   - metrics without events: the project's event-fed metrics (an index
//     count) less those with events in the window (as above), so that the
//     count never probes the rollups of every metric.
// Rollups and sources move together (ingestion writes both in one
// transaction, and a source's last_seen is never before its latest rollup
// hour), so "events in the window" is a rollup row from the window's hour on
// for a source seen since then.

// fedKinds are the metric kinds that events feed.
const fedKinds = `('custom', 'pageview', 'click')`

// volumeSQL sums a rollup column of the source aliased a (kind, source_key)
// from the hour bound to the first placeholder; env is the second.
func volumeSQL(col string) string {
	return `(SELECT COALESCE(SUM(r.` + col + `), 0) FROM event_rollups r WHERE r.environment_id = ? AND r.kind = a.kind
		AND r.event_key = a.source_key AND r.hour >= ?)`
}

// activeMetricsSQL lists the project's unarchived metrics fed by a source
// of the environment seen since the window's hour, with their volume and
// value count in the window. Its arguments are activeMetricsArgs.
func activeMetricsSQL(numericOnly bool) string {
	numeric := ""
	if numericOnly {
		numeric = " AND m.is_numeric = ?"
	}
	// Driven from the sources (CROSS JOIN keeps that order on SQLite): the
	// keys seen bound the work, not the project's metrics.
	return `SELECT a.metric_key, a.kind, a.event_key, a.last_seen, ` + volumeSQL("event_count") + ` AS volume, ` + volumeSQL("value_count") + ` AS value_count
		FROM (SELECT m.key AS metric_key, m.kind AS kind, m.event_key AS event_key, s.event_key AS source_key, s.last_seen AS last_seen
			FROM event_sources s CROSS JOIN metrics m
			WHERE s.environment_id = ? AND s.kind = 'custom' AND s.last_seen >= ? AND m.project_id = ? AND m.kind = 'custom'
				AND m.event_key = s.event_key AND m.archived_at IS NULL` + numeric + `
			UNION ALL
			SELECT m.key, m.kind, m.event_key, s.event_key, s.last_seen
			FROM event_sources s CROSS JOIN metrics m
			WHERE s.environment_id = ? AND s.kind IN ('pageview', 'click') AND s.last_seen >= ? AND m.project_id = ? AND m.kind = s.kind
				AND m.key = s.event_key AND m.archived_at IS NULL` + numeric + `) a`
}

func activeMetricsArgs(q events.StateQuery, numericOnly bool) []any {
	from := hourFloor(q.Since)
	args := []any{q.EnvID, from, q.EnvID, from, q.EnvID, from, q.ProjectID}
	if numericOnly {
		args = append(args, true)
	}
	args = append(args, q.EnvID, from, q.ProjectID)
	if numericOnly {
		args = append(args, true)
	}
	return args
}

// healthSQL returns the statements of a health list's page and total.
func healthSQL(q events.StateQuery) (page string, pageArgs []any, count string, countArgs []any, err error) {
	from := hourFloor(q.Since)
	switch q.List {
	case events.Silent:
		page = `SELECT m.key, m.kind, m.event_key,
			(SELECT s.last_seen FROM event_sources s WHERE s.environment_id = ? AND s.kind = m.kind AND s.event_key = ` + sourceKey + `), 0
			FROM metrics m WHERE m.project_id = ? AND m.kind IN ` + fedKinds + ` AND m.archived_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM event_rollups r WHERE r.environment_id = ? AND r.kind = m.kind AND r.event_key = ` + sourceKey + `
				AND r.hour >= ? AND r.event_count > 0)
			ORDER BY m.key LIMIT ? OFFSET ?`
		pageArgs = []any{q.EnvID, q.ProjectID, q.EnvID, from, q.Page.Limit, q.Page.Offset}
		// Those with events are counted per source seen in the window, each
		// a probe of the metrics' indexes.
		count = `SELECT (SELECT COUNT(*) FROM metrics m WHERE m.project_id = ? AND m.kind IN ` + fedKinds + ` AND m.archived_at IS NULL)
			- (SELECT COALESCE(SUM(
				(SELECT COUNT(*) FROM metrics m WHERE m.project_id = ? AND s.kind = 'custom' AND m.kind = 'custom'
					AND m.event_key = s.event_key AND m.archived_at IS NULL)
				+ (SELECT COUNT(*) FROM metrics m WHERE m.project_id = ? AND m.kind IN ('pageview', 'click') AND m.kind = s.kind
					AND m.key = s.event_key AND m.archived_at IS NULL)), 0)
			FROM event_sources s WHERE s.environment_id = ? AND s.last_seen >= ?
				AND EXISTS (SELECT 1 FROM event_rollups r WHERE r.environment_id = s.environment_id AND r.kind = s.kind
					AND r.event_key = s.event_key AND r.hour >= ? AND r.event_count > 0))`
		countArgs = []any{q.ProjectID, q.ProjectID, q.ProjectID, q.EnvID, from, from}
	case events.NoValues:
		list := `SELECT x.metric_key, x.kind, x.event_key, x.last_seen, x.volume FROM (` + activeMetricsSQL(true) + `) x
			WHERE x.volume > 0 AND x.value_count = 0`
		page = list + ` ORDER BY x.metric_key LIMIT ? OFFSET ?`
		pageArgs = append(activeMetricsArgs(q, true), q.Page.Limit, q.Page.Offset)
		count = `SELECT COUNT(*) FROM (` + list + `) y`
		countArgs = activeMetricsArgs(q, true)
	default:
		return "", nil, "", nil, fmt.Errorf("unknown health list %d", q.List)
	}
	return page, pageArgs, count, countArgs, nil
}

// MetricStates returns one page of a health list, by metric key.
func (db *DB) MetricStates(ctx context.Context, q events.StateQuery) (events.MetricPage, error) {
	out := events.MetricPage{Items: []events.MetricState{}}
	page, pageArgs, count, countArgs, err := healthSQL(q)
	if err != nil {
		return out, err
	}
	if err := db.settleEvents(ctx); err != nil {
		return out, err
	}
	err = db.tx(ctx, false, func(t *txn) error {
		out.Items = out.Items[:0]
		rows, err := t.query(ctx, page, pageArgs...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s := events.MetricState{IsNumeric: q.List == events.NoValues}
			var last sql.NullInt64
			if err := rows.Scan(&s.Key, &s.Kind, &s.EventKey, &last, &s.Volume); err != nil {
				return err
			}
			if last.Valid {
				t := fromMS(last.Int64)
				s.LastSeen = &t
			}
			out.Items = append(out.Items, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		return t.row(ctx, count, countArgs...).Scan(&out.Total)
	})
	return out, err
}

// unusedSQL keeps the sources aliased s that no unarchived metric of their
// project uses.
const unusedSQL = ` AND NOT EXISTS (SELECT 1 FROM metrics m WHERE m.project_id = s.project_id AND s.kind = 'custom' AND m.kind = 'custom'
		AND m.event_key = s.event_key AND m.archived_at IS NULL)
	AND NOT EXISTS (SELECT 1 FROM metrics m WHERE m.project_id = s.project_id AND m.kind IN ('pageview', 'click') AND m.kind = s.kind
		AND m.key = s.event_key AND m.archived_at IS NULL)`

// EventKeys returns one page of the keys of an environment seen since
// q.Since, most recently seen first, with the metrics each one feeds.
func (db *DB) EventKeys(ctx context.Context, q events.KeyQuery) (events.KeyPage, error) {
	out := events.KeyPage{Items: []events.KeySummary{}}
	if err := db.settleEvents(ctx); err != nil {
		return out, err
	}
	from := hourFloor(q.Since)
	where := `s.environment_id = ? AND s.last_seen >= ?`
	if q.Unused {
		where += unusedSQL
	}
	// The page is chosen first, so that volumes are summed for its rows only.
	page := `SELECT a.project_id, a.kind, a.source_key, a.first_seen, a.last_seen, ` + volumeSQL("event_count") + `, ` + volumeSQL("value_count") + `
		FROM (SELECT s.project_id AS project_id, s.kind AS kind, s.event_key AS source_key, s.first_seen AS first_seen, s.last_seen AS last_seen
			FROM event_sources s WHERE ` + where + `
			ORDER BY s.last_seen DESC, s.kind, s.event_key LIMIT ? OFFSET ?) a
		ORDER BY a.last_seen DESC, a.kind, a.source_key`
	err := db.tx(ctx, false, func(t *txn) error {
		out.Items = out.Items[:0]
		rows, err := t.query(ctx, page, q.EnvID, from, q.EnvID, from, q.EnvID, from, q.Page.Limit, q.Page.Offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		var projectID string
		index := map[[2]string]int{}
		var custom, goals []string
		for rows.Next() {
			var k events.KeySummary
			var first, last int64
			if err := rows.Scan(&projectID, &k.Kind, &k.Key, &first, &last, &k.Volume, &k.ValueCount); err != nil {
				return err
			}
			k.FirstSeen, k.LastSeen, k.Metrics = fromMS(first), fromMS(last), []string{}
			index[[2]string{k.Kind, k.Key}] = len(out.Items)
			out.Items = append(out.Items, k)
			if k.Kind == events.KindCustom {
				custom = append(custom, k.Key)
			} else {
				goals = append(goals, k.Key)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if err := t.row(ctx, `SELECT COUNT(*) FROM event_sources s WHERE `+where, q.EnvID, from).Scan(&out.Total); err != nil {
			return err
		}
		if q.Unused {
			return nil
		}
		// The metrics of this page's keys only.
		add := func(query string, keys []string) error {
			return chunks(keys, inSizes[len(inSizes)-1], func(part []string) error {
				p := padded(part)
				mrows, err := t.query(ctx, fmt.Sprintf(query, placeholders(len(p))), append([]any{projectID}, anys(p)...)...)
				if err != nil {
					return err
				}
				defer mrows.Close()
				for mrows.Next() {
					var kind, key, metric string
					if err := mrows.Scan(&kind, &key, &metric); err != nil {
						return err
					}
					if i, ok := index[[2]string{kind, key}]; ok {
						out.Items[i].Metrics = append(out.Items[i].Metrics, metric)
					}
				}
				return mrows.Err()
			})
		}
		if err := add(`SELECT m.kind, m.event_key, m.key FROM metrics m WHERE m.project_id = ? AND m.kind = 'custom'
			AND m.archived_at IS NULL AND m.event_key IN (%s) ORDER BY m.key`, dedupe(custom)); err != nil {
			return err
		}
		return add(`SELECT m.kind, m.key, m.key FROM metrics m WHERE m.project_id = ? AND m.kind IN ('pageview', 'click')
			AND m.archived_at IS NULL AND m.key IN (%s) ORDER BY m.key`, dedupe(goals))
	})
	return out, err
}

// dedupe drops repeated values, keeping the first of each.
func dedupe(vals []string) []string {
	seen := map[string]bool{}
	out := vals[:0:0]
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
