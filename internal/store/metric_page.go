package store

import (
	"context"

	"github.com/metricsd/metricsd/internal/catalog"
)

// Most metrics of a catalog are in no group, no experiment and no guarded
// rollout. For those the six usage counts of currentMetricSelect are zero,
// yet each costs its correlated subqueries (a dozen index probes per
// metric, some 90 % of a page's SQL on SQLite). A page of metrics is
// therefore read in two steps in one snapshot: one statement finds which
// of the page's metrics appear in experiment_metrics,
// guarded_rollout_metrics or metric_group_metrics at all (the only tables
// through which any of the six counts can be non-zero: a row through a
// group needs the metric's metric_group_metrics row); those are read with
// currentMetricSelect, the others with unconnectedMetricSelect, which has
// the same columns with the six counts as zero and lastSeen still from
// event_sources.

// unconnectedMetricSelect is currentMetricSelect for metrics that no
// experiment, rollout or group refers to.
var unconnectedMetricSelect = `SELECT ` + metricHeadCols + `, m.version, m.version_id, m.updated_at, m.archived_at, m.maintainer_team_key, v.def, v.comment,
	` + memberJoinCols + `,
	0, 0, 0, 0, 0, 0,
	(SELECT MAX(s.last_seen) FROM event_sources s WHERE ` + metricSource("s") + `)
FROM metrics m
JOIN metric_versions v ON v.version_id = m.version_id
JOIN projects p ON p.id = m.project_id
LEFT JOIN members mb ON mb.id = m.maintainer_id`

// connectedAmong selects those of n IDs (given three times over) that a
// row of experiment_metrics, guarded_rollout_metrics or
// metric_group_metrics names.
func connectedAmong(n int) string {
	in := placeholders(n)
	return `SELECT metric_id FROM experiment_metrics WHERE metric_id IN (` + in + `)
		UNION SELECT metric_id FROM guarded_rollout_metrics WHERE metric_id IN (` + in + `)
		UNION SELECT metric_id FROM metric_group_metrics WHERE metric_id IN (` + in + `)`
}

// readPageMetrics reads the current versions of the metrics ids, with
// their usage, in t's snapshot, in the order of ids. An ID without a
// metric is left out.
func readPageMetrics(ctx context.Context, t *txn, ids []string) ([]catalog.Metric, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in := make([]any, 0, 3*len(ids))
	for range 3 {
		for _, id := range ids {
			in = append(in, id)
		}
	}
	rows, err := t.query(ctx, connectedAmong(len(ids)), in...)
	if err != nil {
		return nil, err
	}
	connected, err := collectStrings(rows)
	if err != nil {
		return nil, err
	}
	isConnected := make(map[string]bool, len(connected))
	for _, id := range connected {
		isConnected[id] = true
	}
	var plain, full []any
	for _, id := range ids {
		if isConnected[id] {
			full = append(full, id)
		} else {
			plain = append(plain, id)
		}
	}
	byID := make(map[string]*catalog.Metric, len(ids))
	for _, part := range []struct {
		sel string
		ids []any
	}{{unconnectedMetricSelect, plain}, {currentMetricSelect, full}} {
		if len(part.ids) == 0 {
			continue
		}
		if err := readMetricRows(ctx, t, part.sel+` WHERE m.id IN (`+placeholders(len(part.ids))+`)`, part.ids, byID); err != nil {
			return nil, err
		}
	}
	out := make([]catalog.Metric, 0, len(ids))
	for _, id := range ids {
		if m := byID[id]; m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// readMetricRows runs a select of metric rows with usage and adds them to
// byID.
func readMetricRows(ctx context.Context, t *txn, q string, args []any, byID map[string]*catalog.Metric) error {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMetric(rows)
		if err != nil {
			return err
		}
		byID[m.ID] = m
	}
	return rows.Err()
}
