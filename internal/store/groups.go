package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

const groupUsageCols = `(SELECT COUNT(DISTINCT e.id) FROM experiment_metrics em JOIN experiments e ON e.id = em.experiment_id WHERE em.metric_group_id = g.id),
	(SELECT COUNT(DISTINCT e.id) FROM experiment_metrics em JOIN experiments e ON e.id = em.experiment_id WHERE em.metric_group_id = g.id AND ` + runningExperiment + `),
	(SELECT COUNT(DISTINCT r.id) FROM guarded_rollout_metrics rm JOIN guarded_rollouts r ON r.id = rm.rollout_id WHERE rm.metric_group_id = g.id),
	(SELECT COUNT(DISTINCT r.id) FROM guarded_rollout_metrics rm JOIN guarded_rollouts r ON r.id = rm.rollout_id WHERE rm.metric_group_id = g.id AND ` + activeRollout + `)`

// groupSelect reads groups with their maintainer and usage; their metrics
// are loaded by one further statement for a whole page.
const groupSelect = `SELECT g.id, g.project_id, p.key, g.key, g.name, g.kind, g.description, g.tags, g.maintainer_id, g.maintainer_team_key,
	g.version, g.created_at, g.updated_at,
	` + memberJoinCols + `,
	tm.key, tm.name,
	` + groupUsageCols + `
FROM metric_groups g
JOIN projects p ON p.id = g.project_id
LEFT JOIN members mb ON mb.id = g.maintainer_id
LEFT JOIN teams tm ON tm.key = g.maintainer_team_key`

// groupMetricSelect reads the current version of every metric of the groups
// named by the IN list appended to it, in group order.
var groupMetricSelect = `SELECT gm.group_id, gm.name_in_group, ` + metricHeadCols + `, m.version, m.version_id, m.updated_at, m.archived_at, m.maintainer_team_key, v.def, v.comment,
	` + memberJoinCols + `
FROM metric_group_metrics gm
JOIN metrics m ON m.id = gm.metric_id
JOIN metric_versions v ON v.version_id = m.version_id
JOIN projects p ON p.id = m.project_id
LEFT JOIN members mb ON mb.id = m.maintainer_id
WHERE gm.group_id IN `

func scanGroup(s scanner) (*catalog.MetricGroup, error) {
	var g catalog.MetricGroup
	var tags string
	var maintainerID, teamKey sql.NullString
	var created, updated int64
	var mbID, mbEmail, mbFirst, mbLast, mbRole, tmKey, tmName sql.NullString
	var mbCreated sql.NullInt64
	u := &g.Usage
	if err := s.Scan(&g.ID, &g.ProjectID, &g.ProjectKey, &g.Key, &g.Def.Name, &g.Def.Kind, &g.Def.Description, &tags, &maintainerID, &teamKey,
		&g.Version, &created, &updated,
		&mbID, &mbEmail, &mbFirst, &mbLast, &mbRole, &mbCreated, &tmKey, &tmName,
		&u.ExperimentCount, &u.ActiveExperimentCount, &u.GuardedRolloutCount, &u.ActiveGuardedRolloutCount); err != nil {
		return nil, classify(err)
	}
	g.Def.Tags, g.Def.MaintainerID, g.Def.MaintainerTeamKey = decodeStrings(tags), maintainerID.String, teamKey.String
	g.CreatedAt, g.UpdatedAt = fromMS(created), fromMS(updated)
	if mbID.Valid {
		g.Maintainer = &account.Member{ID: mbID.String, Email: mbEmail.String, FirstName: mbFirst.String,
			LastName: mbLast.String, Role: mbRole.String, CreatedAt: fromMS(mbCreated.Int64)}
	}
	if tmKey.Valid {
		g.MaintainerTeam = &account.TeamRef{Key: tmKey.String, Name: tmName.String}
	}
	return &g, nil
}

// loadGroupMetrics fills the metrics of groups with one statement.
func loadGroupMetrics(ctx context.Context, t *txn, groups []*catalog.MetricGroup) error {
	if len(groups) == 0 {
		return nil
	}
	byID := make(map[string]*catalog.MetricGroup, len(groups))
	args := make([]any, 0, len(groups))
	for _, g := range groups {
		byID[g.ID] = g
		g.Metrics = []catalog.GroupMetric{}
		g.Def.Metrics = []catalog.GroupMetricIn{}
		args = append(args, g.ID)
	}
	rows, err := t.query(ctx, groupMetricSelect+"("+placeholders(len(args))+") ORDER BY gm.group_id, gm.position", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var groupID, nameInGroup string
		m, err := scanMetricRow(prefixScanner{rows, []any{&groupID, &nameInGroup}}, false)
		if err != nil {
			return err
		}
		g := byID[groupID]
		g.Metrics = append(g.Metrics, catalog.GroupMetric{Metric: *m, NameInGroup: nameInGroup})
		g.Def.Metrics = append(g.Def.Metrics, catalog.GroupMetricIn{Key: m.Key, NameInGroup: nameInGroup})
	}
	return rows.Err()
}

// prefixScanner scans leading columns into prefix before handing the rest
// to the wrapped scanner's caller.
type prefixScanner struct {
	rows   *sql.Rows
	prefix []any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.rows.Scan(append(append([]any{}, p.prefix...), dest...)...)
}

func writeGroupMetrics(ctx context.Context, t *txn, g *catalog.MetricGroup) error {
	if _, err := t.exec(ctx, `DELETE FROM metric_group_metrics WHERE group_id = ?`, g.ID); err != nil {
		return err
	}
	for i, gm := range g.Metrics {
		if _, err := t.exec(ctx, `INSERT INTO metric_group_metrics (group_id, position, metric_id, name_in_group) VALUES (?, ?, ?, ?)`,
			g.ID, i, gm.ID, gm.NameInGroup); err != nil {
			return err
		}
	}
	return nil
}

// checkGroupRefs locks a group's maintainer and refuses a second guardrail
// group in a project with catalog.ErrGuardrailTaken (the unique index
// still decides between concurrent writers).
func checkGroupRefs(ctx context.Context, t *txn, g *catalog.MetricGroup) error {
	if err := lockMaintainers(ctx, t, g.Def.MaintainerID, g.Def.MaintainerTeamKey); err != nil {
		return err
	}
	if g.Def.Kind != catalog.GroupGuardrail {
		return nil
	}
	taken, err := t.exists(ctx, `SELECT 1 FROM metric_groups WHERE project_id = ? AND kind = ? AND id <> ?`, g.ProjectID, catalog.GroupGuardrail, g.ID)
	if err != nil {
		return err
	}
	if taken {
		return catalog.ErrGuardrailTaken
	}
	return nil
}

// CreateMetricGroup stores a new group and its ordered metrics.
func (t *txn) CreateMetricGroup(ctx context.Context, g *catalog.MetricGroup) error {
	if err := checkGroupRefs(ctx, t, g); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `INSERT INTO metric_groups (id, project_id, key, name, name_lower, key_lower, kind, description, tags,
		maintainer_id, maintainer_team_key, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.ProjectID, g.Key, g.Def.Name, strings.ToLower(g.Def.Name), strings.ToLower(g.Key), g.Def.Kind, g.Def.Description,
		encodeStrings(g.Def.Tags), nullString(g.Def.MaintainerID), nullString(g.Def.MaintainerTeamKey), g.Version,
		ms(g.CreatedAt), ms(g.UpdatedAt)); err != nil {
		return err
	}
	if err := writeGroupMetrics(ctx, t, g); err != nil {
		return err
	}
	return bumpGeneration(ctx, t, g.ProjectID)
}

// UpdateMetricGroup replaces a group when its version is still prevVersion.
func (t *txn) UpdateMetricGroup(ctx context.Context, g *catalog.MetricGroup, prevVersion int) error {
	if err := checkGroupRefs(ctx, t, g); err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE metric_groups SET name = ?, name_lower = ?, kind = ?, description = ?, tags = ?, maintainer_id = ?,
		maintainer_team_key = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?`,
		g.Def.Name, strings.ToLower(g.Def.Name), g.Def.Kind, g.Def.Description, encodeStrings(g.Def.Tags),
		nullString(g.Def.MaintainerID), nullString(g.Def.MaintainerTeamKey), g.Version, ms(g.UpdatedAt), g.ID, prevVersion)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrStale
	}
	if err := writeGroupMetrics(ctx, t, g); err != nil {
		return err
	}
	return bumpGeneration(ctx, t, g.ProjectID)
}

// GetMetricGroup returns a group with its metrics: two statements.
func (db *DB) GetMetricGroup(ctx context.Context, projectID, key string) (*catalog.MetricGroup, error) {
	var g *catalog.MetricGroup
	err := db.tx(ctx, false, func(t *txn) (err error) {
		if g, err = scanGroup(t.row(ctx, groupSelect+` WHERE g.project_id = ? AND g.key = ?`, projectID, key)); err != nil {
			return err
		}
		return loadGroupMetrics(ctx, t, []*catalog.MetricGroup{g})
	})
	return g, err
}

// DeleteMetricGroup removes a group unless an experiment iteration or an
// active guarded rollout uses it.
func (t *txn) DeleteMetricGroup(ctx context.Context, projectID, key string) error {
	var id string
	if err := t.row(ctx, `SELECT id FROM metric_groups WHERE project_id = ? AND key = ?`, projectID, key).Scan(&id); err != nil {
		return classify(err)
	}
	if err := refuseIfUsed(ctx, t, groupBlockers, id, id); err != nil {
		return err
	}
	// Finished rollouts do not keep the group; they forget it.
	if _, err := t.exec(ctx, `DELETE FROM guarded_rollout_metrics WHERE metric_group_id = ?`, id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM metric_groups WHERE id = ?`, id); err != nil {
		return err
	}
	return bumpGeneration(ctx, t, projectID)
}

// GroupExperiments lists the experiments that use a group, oldest first.
func (db *DB) GroupExperiments(ctx context.Context, groupID string) ([]catalog.ExperimentRef, error) {
	var out []catalog.ExperimentRef
	err := db.tx(ctx, false, func(t *txn) error {
		rows, err := t.query(ctx, `SELECT DISTINCT `+experimentRefCols+`
			FROM experiment_metrics em JOIN experiments e ON e.id = em.experiment_id
			JOIN environments env ON env.id = e.environment_id JOIN projects p ON p.id = e.project_id
			WHERE em.metric_group_id = ? ORDER BY e.created_at, e.key`, groupID)
		if err != nil {
			return err
		}
		out, err = scanExperiments(rows)
		return err
	})
	return out, err
}

// MetricsForShare returns the named metrics of a project in one statement,
// locked against change and deletion until the write ends.
func (t *txn) MetricsForShare(ctx context.Context, projectID string, keys []string) (map[string]*catalog.Metric, error) {
	out := map[string]*catalog.Metric{}
	if len(keys) == 0 {
		return out, nil
	}
	cond, args := inCondition("key", keys)
	args = append([]any{projectID}, args...)
	// Lock first, on the bare rows, then read (see MetricForUpdate).
	if t.d.forShare != "" {
		if _, err := t.exec(ctx, `SELECT 1 FROM metrics WHERE project_id = ? AND `+cond+t.d.forShare, args...); err != nil {
			return nil, err
		}
	}
	rows, err := t.query(ctx, currentMetricSelect+` WHERE m.project_id = ? AND m.`+cond, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMetric(rows)
		if err != nil {
			return nil, err
		}
		out[m.Key] = m
	}
	return out, rows.Err()
}

// GroupsOfMetric returns the groups containing a metric, with their
// metrics, locked against change until the write ends.
func (t *txn) GroupsOfMetric(ctx context.Context, metricID string) ([]catalog.MetricGroup, error) {
	if t.d.forShare != "" {
		if _, err := t.exec(ctx, `SELECT 1 FROM metric_groups WHERE id IN (SELECT group_id FROM metric_group_metrics WHERE metric_id = ?)`+t.d.forShare, metricID); err != nil {
			return nil, err
		}
	}
	return queryGroups(ctx, t, groupSelect+` WHERE g.id IN (SELECT group_id FROM metric_group_metrics WHERE metric_id = ?) ORDER BY g.created_at, g.id`, metricID)
}

// GroupForUpdate returns a group with its metrics, locked inside a write.
func (t *txn) GroupForUpdate(ctx context.Context, projectID, key string) (*catalog.MetricGroup, error) {
	ok, err := t.exists(ctx, `SELECT 1 FROM metric_groups WHERE project_id = ? AND key = ?`+t.d.forUpdate, projectID, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, core.ErrNotFound
	}
	g, err := scanGroup(t.row(ctx, groupSelect+` WHERE g.project_id = ? AND g.key = ?`, projectID, key))
	if err != nil {
		return nil, err
	}
	return g, loadGroupMetrics(ctx, t, []*catalog.MetricGroup{g})
}

func queryGroups(ctx context.Context, t *txn, q string, args ...any) ([]catalog.MetricGroup, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var ptrs []*catalog.MetricGroup
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		ptrs = append(ptrs, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := loadGroupMetrics(ctx, t, ptrs); err != nil {
		return nil, err
	}
	out := make([]catalog.MetricGroup, 0, len(ptrs))
	for _, g := range ptrs {
		out = append(out, *g)
	}
	return out, nil
}

const groupConnected = `(EXISTS (SELECT 1 FROM experiment_metrics em WHERE em.metric_group_id = g.id) OR EXISTS (SELECT 1 FROM guarded_rollout_metrics rm WHERE rm.metric_group_id = g.id))`

func groupWhere(projectID string, q catalog.GroupQuery) (string, []any) {
	conds := []string{"g.project_id = ?"}
	args := []any{projectID}
	search, searchArgs := searchConditions("g", q.Queries)
	conds, args = append(conds, search...), append(args, searchArgs...)
	if q.Kind != "" {
		conds = append(conds, "g.kind = ?")
		args = append(args, q.Kind)
	}
	if q.HasConnections != nil {
		if *q.HasConnections {
			conds = append(conds, groupConnected)
		} else {
			conds = append(conds, "NOT "+groupConnected)
		}
	}
	if q.ExperimentStatus != "" {
		statuses := []string{q.ExperimentStatus}
		if q.ExperimentStatus == "started" {
			statuses = []string{"running", "stopped"}
		}
		// The experiment's status is its current iteration's, so the
		// group must be one that iteration uses.
		conds = append(conds, "EXISTS (SELECT 1 FROM experiment_metrics em JOIN experiments e ON e.id = em.experiment_id WHERE em.metric_group_id = g.id"+
			" AND (em.iteration_id IS NULL OR em.iteration_id = e.current_iteration_id) AND e.status IN ("+placeholders(len(statuses))+"))")
		for _, s := range statuses {
			args = append(args, s)
		}
	}
	if len(q.MaintainerIDs) > 0 {
		cond, in := inCondition("g.maintainer_id", q.MaintainerIDs)
		conds, args = append(conds, cond), append(args, in...)
	}
	if q.MaintainerTeamKey != "" {
		conds = append(conds, "g.maintainer_team_key = ?")
		args = append(args, q.MaintainerTeamKey)
	}
	return strings.Join(conds, " AND "), args
}

var groupSortColumns = map[string]string{
	"createdAt":       "g.created_at",
	"name":            "g.name_lower",
	"connectionCount": "((SELECT COUNT(DISTINCT em.experiment_id) FROM experiment_metrics em WHERE em.metric_group_id = g.id) + (SELECT COUNT(DISTINCT rm.rollout_id) FROM guarded_rollout_metrics rm WHERE rm.metric_group_id = g.id))",
}

// ListMetricGroups returns one page of groups, their metrics and the total:
// at most four statements in one snapshot.
func (db *DB) ListMetricGroups(ctx context.Context, projectID string, q catalog.GroupQuery) ([]catalog.MetricGroup, int, error) {
	where, args := groupWhere(projectID, q)
	var out []catalog.MetricGroup
	var total int
	// Counts are cached like metric counts; experiment and rollout writes
	// bump the generation too.
	err := db.tx(ctx, false, func(t *txn) error {
		var err error
		total, err = db.cachedCount(ctx, t, projectID, true, `SELECT COUNT(*) FROM metric_groups g WHERE `+where, args)
		if err != nil {
			return err
		}
		if total == 0 || q.Offset >= total {
			return nil
		}
		out, err = queryGroups(ctx, t, groupSelect+` WHERE `+where+` ORDER BY `+orderClause(q.Sort, groupSortColumns, "g.id")+` LIMIT ? OFFSET ?`,
			append(args, q.Limit, q.Offset)...)
		return err
	})
	return out, total, err
}
