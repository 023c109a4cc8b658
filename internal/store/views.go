package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/view"
)

// TransactViews is Transact for view writes: the same seam, typed for the
// view package's unit of work.
func (db *DB) TransactViews(ctx context.Context, fn func(tx view.Tx) (*audit.Change, error)) error {
	return db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) { return fn(tx) })
}

// viewSelect reads views with their maintainer and the counts of their
// links: one statement for a view or a page of them.
const viewSelect = `SELECT vw.id, vw.project_id, p.key, vw.key, vw.name, vw.description, vw.tags, vw.generate_sdk_keys,
	vw.maintainer_id, vw.maintainer_team_key, vw.version, vw.archived_at, vw.created_at, vw.updated_at,
	` + memberJoinCols + `,
	tm.key, tm.name,
	(SELECT COUNT(*) FROM view_resources vr WHERE vr.view_id = vw.id AND vr.resource_type = 'flags'),
	(SELECT COUNT(*) FROM view_resources vr WHERE vr.view_id = vw.id AND vr.resource_type = 'segments'),
	(SELECT COUNT(*) FROM view_metrics vm WHERE vm.view_id = vw.id)
FROM views vw
JOIN projects p ON p.id = vw.project_id
LEFT JOIN members mb ON mb.id = vw.maintainer_id
LEFT JOIN teams tm ON tm.key = vw.maintainer_team_key`

func scanView(s scanner) (*view.View, error) {
	var v view.View
	var tags string
	var maintainerID, teamKey, mbID, mbEmail, mbFirst, mbLast, mbRole, tmKey, tmName sql.NullString
	var archived, mbCreated sql.NullInt64
	var created, updated int64
	if err := s.Scan(&v.ID, &v.ProjectID, &v.ProjectKey, &v.Key, &v.Name, &v.Description, &tags, &v.GenerateSDKKeys,
		&maintainerID, &teamKey, &v.Version, &archived, &created, &updated,
		&mbID, &mbEmail, &mbFirst, &mbLast, &mbRole, &mbCreated, &tmKey, &tmName,
		&v.Counts.Flags, &v.Counts.Segments, &v.Counts.Metrics); err != nil {
		return nil, classify(err)
	}
	v.Tags, v.MaintainerID, v.MaintainerTeamKey = decodeStrings(tags), maintainerID.String, teamKey.String
	v.CreatedAt, v.UpdatedAt = fromMS(created), fromMS(updated)
	if archived.Valid {
		at := fromMS(archived.Int64)
		v.ArchivedAt, v.Archived = &at, true
	}
	if mbID.Valid {
		v.Maintainer = &account.Member{ID: mbID.String, Email: mbEmail.String, FirstName: mbFirst.String,
			LastName: mbLast.String, Role: mbRole.String, CreatedAt: fromMS(mbCreated.Int64)}
	}
	if tmKey.Valid {
		v.MaintainerTeam = &account.TeamRef{Key: tmKey.String, Name: tmName.String}
	}
	return &v, nil
}

// ProjectForView resolves a project key for a view read.
func (db *DB) ProjectForView(ctx context.Context, key string) (*view.Project, error) {
	p, err := db.GetProject(ctx, key)
	if err != nil {
		return nil, err
	}
	return &view.Project{ID: p.ID, Key: p.Key, Name: p.Name}, nil
}

// ProjectForView resolves a project key inside a view write, locking the
// project against deletion as every write under a project does.
func (t *txn) ProjectForView(ctx context.Context, key string) (*view.Project, error) {
	p, err := t.Project(ctx, key)
	if err != nil {
		return nil, err
	}
	return &view.Project{ID: p.ID, Key: p.Key, Name: p.Name}, nil
}

// GetView returns one view of a project and, when metricLimit > 0, up to
// metricLimit of its metrics: one statement, two with the metrics, in one
// snapshot.
func (db *DB) GetView(ctx context.Context, projectID, key string, metricLimit int) (*view.View, []view.LinkedMetric, error) {
	var v *view.View
	var ms []view.LinkedMetric
	err := db.tx(ctx, false, func(t *txn) (err error) {
		if v, err = scanView(t.row(ctx, viewSelect+` WHERE vw.project_id = ? AND vw.key = ?`, projectID, key)); err != nil || metricLimit <= 0 {
			return err
		}
		ms, err = linkedMetrics(ctx, t, v.ID, metricLimit)
		return err
	})
	return v, ms, err
}

// ViewForUpdate returns a view, locked until the write ends.
func (t *txn) ViewForUpdate(ctx context.Context, projectID, key string) (*view.View, error) {
	// Lock the bare row first (PostgreSQL refuses FOR UPDATE next to the
	// outer joins and aggregates of viewSelect), then read it.
	if t.d.forUpdate != "" {
		ok, err := t.exists(ctx, `SELECT 1 FROM views WHERE project_id = ? AND key = ?`+t.d.forUpdate, projectID, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, core.ErrNotFound
		}
	}
	return scanView(t.row(ctx, viewSelect+` WHERE vw.project_id = ? AND vw.key = ?`, projectID, key))
}

// CreateView stores a new view and its tags.
func (t *txn) CreateView(ctx context.Context, v *view.View) error {
	if err := lockMaintainers(ctx, t, v.MaintainerID, v.MaintainerTeamKey); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `INSERT INTO views (id, project_id, key, key_lower, name, name_lower, description, tags, generate_sdk_keys,
		maintainer_id, maintainer_team_key, version, archived_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.ProjectID, v.Key, strings.ToLower(v.Key), v.Name, strings.ToLower(v.Name), v.Description, encodeStrings(v.Tags),
		v.GenerateSDKKeys, nullString(v.MaintainerID), nullString(v.MaintainerTeamKey), v.Version, nullMS(v.ArchivedAt),
		ms(v.CreatedAt), ms(v.UpdatedAt)); err != nil {
		return classify(err)
	}
	return writeViewTags(ctx, t, v)
}

// UpdateView replaces a view's fields when its version is still
// prevVersion.
func (t *txn) UpdateView(ctx context.Context, v *view.View, prevVersion int) error {
	if err := lockMaintainers(ctx, t, v.MaintainerID, v.MaintainerTeamKey); err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE views SET name = ?, name_lower = ?, description = ?, tags = ?, generate_sdk_keys = ?,
		maintainer_id = ?, maintainer_team_key = ?, version = ?, archived_at = ?, updated_at = ? WHERE id = ? AND version = ?`,
		v.Name, strings.ToLower(v.Name), v.Description, encodeStrings(v.Tags), v.GenerateSDKKeys,
		nullString(v.MaintainerID), nullString(v.MaintainerTeamKey), v.Version, nullMS(v.ArchivedAt), ms(v.UpdatedAt), v.ID, prevVersion)
	if err != nil {
		return classify(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrStale
	}
	return writeViewTags(ctx, t, v)
}

func writeViewTags(ctx context.Context, t *txn, v *view.View) error {
	if _, err := t.exec(ctx, `DELETE FROM view_tags WHERE view_id = ?`, v.ID); err != nil {
		return err
	}
	for _, tag := range v.Tags {
		if _, err := t.exec(ctx, `INSERT INTO view_tags (view_id, tag) VALUES (?, ?)`, v.ID, tag); err != nil {
			return classify(err)
		}
	}
	return nil
}

// DeleteView removes a view; its tags and links go with it.
func (t *txn) DeleteView(ctx context.Context, viewID string) error {
	res, err := t.exec(ctx, `DELETE FROM views WHERE id = ?`, viewID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	return nil
}

// MetricIDs returns the IDs of the named metrics of a project, locked
// against deletion until the write ends.
func (t *txn) MetricIDs(ctx context.Context, projectID string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	for start := 0; start < len(keys); start += maxInList {
		cond, args := inCondition("key", keys[start:min(start+maxInList, len(keys))])
		rows, err := t.query(ctx, `SELECT key, id FROM metrics WHERE project_id = ? AND `+cond+t.d.forShare, append([]any{projectID}, args...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k, id string
			if err := rows.Scan(&k, &id); err != nil {
				rows.Close()
				return nil, err
			}
			out[k] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// maxInList bounds the values of one IN list, well below SQLite's and
// PostgreSQL's limits on bound parameters.
const maxInList = 500

// EnvironmentIDs reports which of ids are environments of a project.
func (t *txn) EnvironmentIDs(ctx context.Context, projectID string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for start := 0; start < len(ids); start += maxInList {
		cond, args := inCondition("id", ids[start:min(start+maxInList, len(ids))])
		rows, err := t.query(ctx, `SELECT id FROM environments WHERE project_id = ? AND `+cond, append([]any{projectID}, args...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Link adds links that do not exist yet.
func (t *txn) Link(ctx context.Context, viewID string, typ view.ResourceType, refs []view.Ref, metricIDs []string, now time.Time) error {
	if typ == view.Metrics {
		for _, id := range metricIDs {
			if _, err := t.exec(ctx, `INSERT INTO view_metrics (view_id, metric_id, linked_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				viewID, id, ms(now)); err != nil {
				return classify(err)
			}
		}
		return nil
	}
	for _, r := range refs {
		if _, err := t.exec(ctx, `INSERT INTO view_resources (view_id, resource_type, environment_id, resource_key, linked_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, viewID, string(typ), r.EnvironmentID, r.Key, ms(now)); err != nil {
			return classify(err)
		}
	}
	return nil
}

// Unlink removes links; missing ones are ignored.
func (t *txn) Unlink(ctx context.Context, viewID string, typ view.ResourceType, refs []view.Ref, metricIDs []string) error {
	if typ == view.Metrics {
		for _, id := range metricIDs {
			if _, err := t.exec(ctx, `DELETE FROM view_metrics WHERE view_id = ? AND metric_id = ?`, viewID, id); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range refs {
		if _, err := t.exec(ctx, `DELETE FROM view_resources WHERE view_id = ? AND resource_type = ? AND environment_id = ? AND resource_key = ?`,
			viewID, string(typ), r.EnvironmentID, r.Key); err != nil {
			return err
		}
	}
	return nil
}

// ViewMetricKeys returns the keys of a view's metrics, sorted.
func (t *txn) ViewMetricKeys(ctx context.Context, viewID string) ([]string, error) {
	rows, err := t.query(ctx, `SELECT m.key FROM view_metrics vm JOIN metrics m ON m.id = vm.metric_id WHERE vm.view_id = ? ORDER BY m.key`, viewID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// ViewRefs returns a view's flags or segments, sorted.
func (t *txn) ViewRefs(ctx context.Context, viewID string, typ view.ResourceType) ([]view.Ref, error) {
	rows, err := t.query(ctx, `SELECT resource_key, environment_id FROM view_resources WHERE view_id = ? AND resource_type = ?
		ORDER BY environment_id, resource_key`, viewID, string(typ))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []view.Ref{}
	for rows.Next() {
		var r view.Ref
		if err := rows.Scan(&r.Key, &r.EnvironmentID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// linkedMetrics returns up to limit metrics of a view, oldest link first.
func linkedMetrics(ctx context.Context, t *txn, viewID string, limit int) ([]view.LinkedMetric, error) {
	out := []view.LinkedMetric{}
	err := func() error {
		rows, err := t.query(ctx, `SELECT m.id, m.key, m.name, m.kind, m.event_key, m.version_id, m.is_numeric, m.archived_at,
			m.created_at, m.updated_at, (SELECT MAX(s.last_seen) FROM event_sources s WHERE `+metricSource("s")+`), vm.linked_at, p.key, v.def
			FROM view_metrics vm JOIN metrics m ON m.id = vm.metric_id JOIN projects p ON p.id = m.project_id
			JOIN metric_versions v ON v.version_id = m.version_id
			WHERE vm.view_id = ? ORDER BY vm.linked_at, m.key LIMIT ?`, viewID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m view.LinkedMetric
			var archived, lastSeen sql.NullInt64
			var created, updated, linked int64
			var def string
			if err := rows.Scan(&m.ID, &m.Key, &m.Name, &m.Kind, &m.EventKey, &m.VersionID, &m.IsNumeric, &archived,
				&created, &updated, &lastSeen, &linked, &m.ProjectKey, &def); err != nil {
				return err
			}
			var text struct{ Description, Category string }
			if err := json.Unmarshal([]byte(def), &text); err != nil {
				return err
			}
			m.Description, m.Category = text.Description, text.Category
			m.Archived = archived.Valid
			m.CreatedAt, m.UpdatedAt, m.LinkedAt = fromMS(created), fromMS(updated), fromMS(linked)
			if lastSeen.Valid {
				at := fromMS(lastSeen.Int64)
				m.LastSeen = &at
			}
			out = append(out, m)
		}
		return rows.Err()
	}()
	return out, err
}

// viewSorts maps the sort fields of the view list to columns.
var viewSorts = map[string]string{"key": "vw.key_lower", "name": "vw.name_lower", "updatedAt": "vw.updated_at"}

// viewFilterCols maps the filter fields on view columns.
var viewFilterCols = map[string]string{"name": "vw.name", "key": "vw.key", "maintainerId": "vw.maintainer_id", "isPayloadView": "vw.generate_sdk_keys"}

// ListViews returns a page of a project's views and how many match: two
// statements.
func (db *DB) ListViews(ctx context.Context, projectID string, q view.Query) ([]view.View, int, error) {
	where := []string{"vw.project_id = ?"}
	args := []any{projectID}
	for _, c := range q.Conds {
		cond, cargs := viewCond(c)
		where = append(where, cond)
		args = append(args, cargs...)
	}
	if l := q.LinkedTo; l != nil {
		if l.Type == view.Metrics {
			where = append(where, "vw.id IN (SELECT vm.view_id FROM view_metrics vm JOIN metrics m ON m.id = vm.metric_id WHERE m.project_id = ? AND m.key = ?)")
			args = append(args, projectID, l.Key)
		} else {
			where = append(where, "vw.id IN (SELECT vr.view_id FROM view_resources vr WHERE vr.resource_type = ? AND vr.environment_id = ? AND vr.resource_key = ?)")
			args = append(args, string(l.Type), l.EnvironmentID, l.Key)
		}
	}
	clause := " WHERE " + strings.Join(where, " AND ")
	var order []string
	for _, k := range q.Sort {
		col := viewSorts[k.Field]
		if col == "" {
			continue
		}
		if k.Desc {
			col += " DESC"
		}
		order = append(order, col)
	}
	order = append(order, "vw.key_lower", "vw.id")
	var out []view.View
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		out = nil
		if err := t.row(ctx, `SELECT COUNT(*) FROM views vw`+clause, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := t.query(ctx, viewSelect+clause+` ORDER BY `+strings.Join(order, ", ")+` LIMIT ? OFFSET ?`,
			append(append([]any{}, args...), q.Limit, q.Offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scanView(rows)
			if err != nil {
				return err
			}
			out = append(out, *v)
		}
		return rows.Err()
	})
	return out, total, err
}

// viewCond renders one filter clause. Equality is exact; startsWith and
// contains ignore ASCII case, as the other lists' text searches do.
func viewCond(c view.Cond) (string, []any) {
	if c.Field == "tag" {
		cond, args := inCondition("vt.tag", c.Values)
		return "vw.id IN (SELECT vt.view_id FROM view_tags vt WHERE " + cond + ")", args
	}
	col := viewFilterCols[c.Field]
	if c.Field == "isPayloadView" {
		return col + " = ?", []any{len(c.Values) > 0 && c.Values[0] == "true"}
	}
	lower := map[string]string{"vw.name": "vw.name_lower", "vw.key": "vw.key_lower"}[col]
	switch c.Op {
	case "notEquals":
		return "(" + col + " IS NULL OR " + col + " <> ?)", []any{c.Values[0]}
	case "startsWith", "contains":
		pat := likeEscape(strings.ToLower(c.Values[0]))
		if c.Op == "contains" {
			pat = "%" + pat
		}
		return lower + ` LIKE ? ESCAPE '\'`, []any{pat + "%"}
	default: // equals, anyOf
		return inCondition(col, c.Values)
	}
}

// likeEscape escapes the LIKE wildcards of a literal.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ms(*t)
}
