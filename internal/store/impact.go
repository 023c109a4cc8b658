package store

import (
	"context"

	"github.com/metricsd/metricsd/internal/catalog"
)

// The blockers of a delete, as (kind, key, environment key, status) rows:
// the groups holding a metric, the experiments any iteration of which uses
// it (directly, or through a group it was in when the iteration started),
// and the active guarded rollouts monitoring it. A metric used through a
// group is blocked by the group.
const (
	metricBlockers = `SELECT '` + catalog.BlockerMetricGroup + `', g.key, '', '' FROM metric_group_metrics gm JOIN metric_groups g ON g.id = gm.group_id WHERE gm.metric_id = ?
		UNION SELECT '` + catalog.BlockerExperiment + `', e.key, env.key, e.status FROM experiment_metrics em JOIN experiments e ON e.id = em.experiment_id
			JOIN environments env ON env.id = e.environment_id WHERE em.metric_id = ?
		UNION SELECT '` + catalog.BlockerRollout + `', r.flag_key, env.key, r.status FROM guarded_rollout_metrics rm JOIN guarded_rollouts r ON r.id = rm.rollout_id
			JOIN environments env ON env.id = r.environment_id WHERE rm.metric_id = ? AND ` + activeRollout + `
		ORDER BY 1, 2, 3`
	groupBlockers = `SELECT '` + catalog.BlockerExperiment + `', e.key, env.key, e.status FROM experiment_metrics em JOIN experiments e ON e.id = em.experiment_id
			JOIN environments env ON env.id = e.environment_id WHERE em.metric_group_id = ?
		UNION SELECT '` + catalog.BlockerRollout + `', r.flag_key, env.key, r.status FROM guarded_rollout_metrics rm JOIN guarded_rollouts r ON r.id = rm.rollout_id
			JOIN environments env ON env.id = r.environment_id WHERE rm.metric_group_id = ? AND ` + activeRollout + `
		ORDER BY 1, 2, 3`
)

// MetricImpact lists the running experiments and active rollouts that use
// a metric, directly or through a group: two statements.
func (t *txn) MetricImpact(ctx context.Context, metricID string) (*catalog.Impact, error) {
	return impact(ctx, t, usedBy("experiment_metrics", "?"), usedBy("guarded_rollout_metrics", "?"), metricID, metricID)
}

// GroupImpact lists the running experiments and active rollouts that use a
// group: two statements.
func (t *txn) GroupImpact(ctx context.Context, groupID string) (*catalog.Impact, error) {
	return impact(ctx, t, "(SELECT * FROM experiment_metrics WHERE metric_group_id = ?)", "(SELECT * FROM guarded_rollout_metrics WHERE metric_group_id = ?)", groupID)
}

// impact reads the running experiments and active rollouts among the rows
// of two derived tables (of experiment_metrics and guarded_rollout_metrics).
func impact(ctx context.Context, t *txn, expRows, rolloutRows string, args ...any) (*catalog.Impact, error) {
	rows, err := t.query(ctx, `SELECT DISTINCT `+experimentRefCols+`
		FROM `+expRows+` em JOIN experiments e ON e.id = em.experiment_id
		JOIN environments env ON env.id = e.environment_id JOIN projects p ON p.id = e.project_id
		WHERE `+runningExperiment+` ORDER BY e.created_at, e.key`, args...)
	if err != nil {
		return nil, err
	}
	exps, err := scanExperiments(rows)
	if err != nil {
		return nil, err
	}
	rs, err := t.query(ctx, `SELECT DISTINCT r.id, p.key, r.flag_key, r.flag_name, r.flag_purpose, env.key, env.name, r.status, r.created_at
		FROM `+rolloutRows+` rm JOIN guarded_rollouts r ON r.id = rm.rollout_id
		JOIN environments env ON env.id = r.environment_id JOIN projects p ON p.id = r.project_id
		WHERE `+activeRollout+` ORDER BY r.created_at, r.id`, args...)
	if err != nil {
		return nil, err
	}
	rollouts, err := scanRolloutRefs(rs)
	if err != nil {
		return nil, err
	}
	return &catalog.Impact{RunningExperiments: exps, ActiveGuardedRollouts: rollouts}, nil
}
