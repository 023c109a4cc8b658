package store

import (
	"context"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
)

const rolloutSelect = `SELECT r.id, r.project_id, p.key, r.environment_id, env.key, env.name, r.flag_key, r.flag_name, r.flag_purpose,
	r.status, r.version, r.created_at, r.updated_at
FROM guarded_rollouts r JOIN projects p ON p.id = r.project_id JOIN environments env ON env.id = r.environment_id`

// loadRollouts reads the rollouts a query selects with the metrics and
// groups they monitor: two statements.
func loadRollouts(ctx context.Context, t *txn, q string, args ...any) ([]experiment.Rollout, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []experiment.Rollout
	var ids []string
	for rows.Next() {
		var r experiment.Rollout
		var created, updated int64
		if err := rows.Scan(&r.ID, &r.ProjectID, &r.ProjectKey, &r.EnvironmentID, &r.EnvironmentKey, &r.EnvironmentName,
			&r.FlagKey, &r.FlagName, &r.FlagPurpose, &r.Status, &r.Version, &created, &updated); err != nil {
			rows.Close()
			return nil, err
		}
		r.CreatedAt, r.UpdatedAt = fromMS(created), fromMS(updated)
		r.Metrics = []experiment.RolloutMetric{}
		out = append(out, r)
		ids = append(ids, r.ID)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return out, err
	}
	at := map[string]int{}
	for i, r := range out {
		at[r.ID] = i
	}
	cond, in := inCondition("rm.rollout_id", ids)
	mrows, err := t.query(ctx, `SELECT rm.rollout_id, COALESCE(m.id, g.id), COALESCE(m.key, g.key), COALESCE(m.name, g.name), COALESCE(m.kind, g.kind),
		rm.metric_group_id IS NOT NULL
		FROM guarded_rollout_metrics rm LEFT JOIN metrics m ON m.id = rm.metric_id LEFT JOIN metric_groups g ON g.id = rm.metric_group_id
		WHERE `+cond+` ORDER BY rm.rollout_id, rm.position`, in...)
	if err != nil {
		return nil, err
	}
	defer mrows.Close()
	for mrows.Next() {
		var rid string
		var m experiment.RolloutMetric
		if err := mrows.Scan(&rid, &m.ID, &m.Key, &m.Name, &m.Kind, &m.IsGroup); err != nil {
			return nil, err
		}
		r := &out[at[rid]]
		r.Metrics = append(r.Metrics, m)
	}
	return out, mrows.Err()
}

// RolloutForUpdate returns a rollout of a flag, locked.
func (t *txn) RolloutForUpdate(ctx context.Context, s *experiment.Scope, flagKey, id string) (*experiment.Rollout, error) {
	if t.d.forUpdate != "" {
		if _, err := t.exec(ctx, `SELECT 1 FROM guarded_rollouts WHERE id = ?`+t.d.forUpdate, id); err != nil {
			return nil, err
		}
	}
	rs, err := loadRollouts(ctx, t, rolloutSelect+` WHERE r.environment_id = ? AND r.flag_key = ? AND r.id = ?`, s.EnvironmentID, flagKey, id)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, core.ErrNotFound
	}
	return &rs[0], nil
}

// GetRollout returns a rollout of a flag.
func (db *DB) GetRollout(ctx context.Context, s *experiment.Scope, flagKey, id string) (*experiment.Rollout, error) {
	var out *experiment.Rollout
	err := db.tx(ctx, false, func(t *txn) error {
		rs, err := loadRollouts(ctx, t, rolloutSelect+` WHERE r.environment_id = ? AND r.flag_key = ? AND r.id = ?`, s.EnvironmentID, flagKey, id)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return core.ErrNotFound
		}
		out = &rs[0]
		return nil
	})
	return out, err
}

// ListRollouts returns one page of a flag's rollouts, newest first, and the
// number of all matches.
func (db *DB) ListRollouts(ctx context.Context, s *experiment.Scope, flagKey string, q experiment.RolloutQuery) ([]experiment.Rollout, int, error) {
	where := `r.environment_id = ? AND r.flag_key = ?`
	args := []any{s.EnvironmentID, flagKey}
	if q.Status != "" {
		where += ` AND r.status = ?`
		args = append(args, q.Status)
	}
	var out []experiment.Rollout
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		if err := t.row(ctx, `SELECT COUNT(*) FROM guarded_rollouts r WHERE `+where, args...).Scan(&total); err != nil {
			return err
		}
		if total == 0 || q.Offset >= total {
			return nil
		}
		var err error
		out, err = loadRollouts(ctx, t, rolloutSelect+` WHERE `+where+` ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
		return err
	})
	return out, total, err
}

// SaveRollout stores a new rollout with its metrics, or the status of one.
func (t *txn) SaveRollout(ctx context.Context, r *experiment.Rollout, prevVersion int) error {
	// What uses a metric decides which metrics connection filters match.
	if err := bumpGeneration(ctx, t, r.ProjectID); err != nil {
		return err
	}
	if prevVersion != 0 {
		res, err := t.exec(ctx, `UPDATE guarded_rollouts SET status = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?`,
			r.Status, r.Version, ms(r.UpdatedAt), r.ID, prevVersion)
		if err != nil {
			return classify(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return core.ErrStale
		}
		return nil
	}
	if _, err := t.exec(ctx, `INSERT INTO guarded_rollouts (id, project_id, environment_id, flag_key, flag_name, flag_purpose, status, created_at, version, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.ProjectID, r.EnvironmentID, r.FlagKey, r.FlagName, r.FlagPurpose, r.Status,
		ms(r.CreatedAt), r.Version, ms(r.UpdatedAt)); err != nil {
		return classify(err)
	}
	for i, m := range r.Metrics {
		metric, group := m.ID, ""
		if m.IsGroup {
			metric, group = "", m.ID
		}
		if _, err := t.exec(ctx, `INSERT INTO guarded_rollout_metrics (rollout_id, metric_id, metric_group_id, position) VALUES (?, ?, ?, ?)`,
			r.ID, nullString(metric), nullString(group), i); err != nil {
			return classify(err)
		}
	}
	return nil
}
