package store

import (
	"context"
	"strings"

	"github.com/metricsd/metricsd/internal/catalog"
)

// Most metrics of a catalog are in no group, no experiment and no guarded
// rollout. For those the six usage counts of currentMetricSelect are zero,
// yet each costs its correlated subqueries (a dozen index probes per
// metric and the temporary tables of COUNT(DISTINCT) and UNION: some 90 %
// of a page's SQL on SQLite). A page of metrics therefore evaluates each
// count only when one of three index probes finds a row naming the metric
// in experiment_metrics, guarded_rollout_metrics or metric_group_metrics
// (the only rows through which any of the six can be non-zero: a row
// through a group needs the metric's metric_group_metrics row). lastSeen
// is read as always.

// connectedMetric holds for the metric aliased m when a row of
// experiment_metrics, guarded_rollout_metrics or metric_group_metrics
// names it.
const connectedMetric = `(EXISTS (SELECT 1 FROM experiment_metrics x WHERE x.metric_id = m.id)
	OR EXISTS (SELECT 1 FROM guarded_rollout_metrics x WHERE x.metric_id = m.id)
	OR EXISTS (SELECT 1 FROM metric_group_metrics x WHERE x.metric_id = m.id))`

// pageMetricSelect is currentMetricSelect with every usage count guarded
// by connectedMetric.
var pageMetricSelect = func() string {
	cols := make([]string, 0, len(usageCountCols)+1)
	for _, c := range usageCountCols {
		cols = append(cols, "CASE WHEN "+connectedMetric+" THEN "+c+" ELSE 0 END")
	}
	cols = append(cols, lastSeenCol)
	return `SELECT ` + metricHeadCols + `, m.version, m.version_id, m.updated_at, m.archived_at, m.maintainer_team_key, v.def, v.comment,
	` + memberJoinCols + `,
	` + strings.Join(cols, ",\n\t") + `
FROM metrics m
JOIN metric_versions v ON v.version_id = m.version_id
JOIN projects p ON p.id = m.project_id
LEFT JOIN members mb ON mb.id = m.maintainer_id`
}()

// readPageMetrics reads the current versions of the metrics ids, with
// their usage, in t's snapshot, in the order of ids. An ID without a
// metric is left out.
func readPageMetrics(ctx context.Context, t *txn, ids []string) ([]catalog.Metric, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// Padded with an ID no metric has, pages of any size use one of three
	// statements. This one takes milliseconds to plan: PostgreSQL plans
	// a statement afresh for its first five runs, and every SQLite reader
	// connection prepares it the first time it runs there, so a page of
	// a size not asked for yet (a filter with one match) stayed slow for
	// several requests.
	n := pageStatementSize(len(ids))
	in := make([]any, n)
	for i := range in {
		if i < len(ids) {
			in[i] = ids[i]
		} else {
			in[i] = ""
		}
	}
	rows, err := t.query(ctx, pageMetricSelect+` WHERE m.id IN (`+placeholders(n)+`)`, in...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := make(map[string]*catalog.Metric, len(ids))
	for rows.Next() {
		m, err := scanMetric(rows)
		if err != nil {
			return nil, err
		}
		byID[m.ID] = m
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]catalog.Metric, 0, len(ids))
	for _, id := range ids {
		if m := byID[id]; m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// pageStatementSize is the number of IDs a page statement of n IDs binds
// (see readPageMetrics).
func pageStatementSize(n int) int {
	for _, size := range []int{20, 50, 100} {
		if n <= size {
			return size
		}
	}
	return n
}
