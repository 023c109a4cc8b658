package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
)

// MetricExpansions loads the related resources named in want for one metric.
// Each expansion is one statement.
func (db *DB) MetricExpansions(ctx context.Context, metricID string, want catalog.ExpandSet) (*catalog.MetricExpansions, error) {
	x := &catalog.MetricExpansions{}
	if want[catalog.ExpandEventSources] {
		// Volumes come from the rollups: fold what was committed.
		if err := db.settleEvents(ctx); err != nil {
			return nil, err
		}
	}
	err := db.tx(ctx, false, func(t *txn) error {
		if want[catalog.ExpandExperiments] || want[catalog.ExpandLastUsedInExperiment] {
			exps, err := queryExperiments(ctx, t, metricID)
			if err != nil {
				return err
			}
			if want[catalog.ExpandExperiments] {
				x.Experiments = exps
			}
			if want[catalog.ExpandLastUsedInExperiment] && len(exps) > 0 {
				last := exps[len(exps)-1]
				x.LastUsedInExperiment = &last
			}
		}
		if want[catalog.ExpandMetricGroups] {
			rows, err := t.query(ctx, `SELECT DISTINCT g.key, g.name, g.kind, p.key, g.created_at FROM metric_group_metrics gm
				JOIN metric_groups g ON g.id = gm.group_id JOIN projects p ON p.id = g.project_id
				WHERE gm.metric_id = ? ORDER BY g.created_at, g.key`, metricID)
			if err != nil {
				return err
			}
			defer rows.Close()
			x.MetricGroups = []catalog.MetricGroupRef{}
			for rows.Next() {
				var g catalog.MetricGroupRef
				var created int64
				if err := rows.Scan(&g.Key, &g.Name, &g.Kind, &g.ProjectKey, &created); err != nil {
					return err
				}
				x.MetricGroups = append(x.MetricGroups, g)
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if want[catalog.ExpandGuardedRollouts] || want[catalog.ExpandLastUsedInGuardedRollout] || want[catalog.ExpandGuardedRolloutCount] {
			rs, err := queryRollouts(ctx, t, metricID)
			if err != nil {
				return err
			}
			if want[catalog.ExpandGuardedRollouts] {
				x.GuardedRollouts = rs
			}
			if want[catalog.ExpandLastUsedInGuardedRollout] && len(rs) > 0 {
				last := rs[len(rs)-1]
				x.LastUsedInGuardedRollout = &last
			}
		}
		if want[catalog.ExpandAttachedFeatures] {
			rows, err := t.query(ctx, `SELECT e.flag_key, e.flag_name FROM `+usedBy("experiment_metrics", "?")+` em JOIN experiments e ON e.id = em.experiment_id
				WHERE `+runningExperiment+`
				UNION SELECT r.flag_key, r.flag_name FROM `+usedBy("guarded_rollout_metrics", "?")+` rm JOIN guarded_rollouts r ON r.id = rm.rollout_id
				WHERE `+activeRollout+` ORDER BY 1`, metricID, metricID, metricID, metricID)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var f catalog.FlagRef
				if err := rows.Scan(&f.Key, &f.Name); err != nil {
					return err
				}
				x.AttachedFlags = append(x.AttachedFlags, f)
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if want[catalog.ExpandEventSources] {
			since := ms(time.Now().Add(-30 * 24 * time.Hour))
			rows, err := t.query(ctx, `SELECT env.key, s.kind, s.event_key, s.first_seen, s.last_seen,
				(SELECT COALESCE(SUM(r.event_count), 0) FROM event_rollups r WHERE r.environment_id = s.environment_id
					AND r.kind = s.kind AND r.event_key = s.event_key AND r.hour >= ?)
				FROM metrics m JOIN event_sources s ON `+metricSource("s")+`
				JOIN environments env ON env.id = s.environment_id
				WHERE m.id = ? ORDER BY env.created_at, env.id`, since, metricID)
			if err != nil {
				return err
			}
			defer rows.Close()
			x.EventSources = []catalog.EventSource{}
			for rows.Next() {
				var s catalog.EventSource
				var first, last int64
				if err := rows.Scan(&s.EnvironmentKey, &s.Kind, &s.Key, &first, &last, &s.Volume30d); err != nil {
					return err
				}
				s.FirstSeen, s.LastSeen = fromMS(first), fromMS(last)
				x.EventSources = append(x.EventSources, s)
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	return x, err
}

// queryExperiments lists experiments using the metric directly or through a
// group, oldest first.
func queryExperiments(ctx context.Context, t *txn, metricID string) ([]catalog.ExperimentRef, error) {
	rows, err := t.query(ctx, `SELECT DISTINCT `+experimentRefCols+`
		FROM `+usedBy("experiment_metrics", "?")+` em JOIN experiments e ON e.id = em.experiment_id
		JOIN environments env ON env.id = e.environment_id JOIN projects p ON p.id = e.project_id
		ORDER BY e.created_at, e.key`, metricID, metricID)
	if err != nil {
		return nil, err
	}
	return scanExperiments(rows)
}

// experimentRefCols are the columns scanExperiments reads, of experiments
// aliased e joined to their environment env and project p.
const experimentRefCols = `e.key, e.name, p.key, env.id, env.key, e.created_at, e.archived_at, e.status`

func scanExperiments(rows *sql.Rows) ([]catalog.ExperimentRef, error) {
	defer rows.Close()
	out := []catalog.ExperimentRef{}
	for rows.Next() {
		var e catalog.ExperimentRef
		var created int64
		var archived sql.NullInt64
		if err := rows.Scan(&e.Key, &e.Name, &e.ProjectKey, &e.EnvironmentID, &e.EnvironmentKey, &created, &archived, &e.Status); err != nil {
			return nil, err
		}
		e.CreatedAt = fromMS(created)
		if archived.Valid {
			a := fromMS(archived.Int64)
			e.ArchivedAt = &a
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func queryRollouts(ctx context.Context, t *txn, metricID string) ([]catalog.GuardedRolloutRef, error) {
	rows, err := t.query(ctx, `SELECT DISTINCT r.id, p.key, r.flag_key, r.flag_name, r.flag_purpose, env.key, env.name, r.status, r.created_at
		FROM `+usedBy("guarded_rollout_metrics", "?")+` rm JOIN guarded_rollouts r ON r.id = rm.rollout_id
		JOIN environments env ON env.id = r.environment_id JOIN projects p ON p.id = r.project_id
		ORDER BY r.created_at, r.id`, metricID, metricID)
	if err != nil {
		return nil, err
	}
	return scanRolloutRefs(rows)
}

func scanRolloutRefs(rows *sql.Rows) ([]catalog.GuardedRolloutRef, error) {
	defer rows.Close()
	out := []catalog.GuardedRolloutRef{}
	for rows.Next() {
		var r catalog.GuardedRolloutRef
		var created int64
		if err := rows.Scan(&r.ID, &r.ProjectKey, &r.FlagKey, &r.FlagName, &r.FlagPurpose, &r.EnvironmentKey, &r.EnvironmentName, &r.Status, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = fromMS(created)
		out = append(out, r)
	}
	return out, rows.Err()
}
