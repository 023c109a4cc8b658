package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// usedBy is a derived table of the rows of table (experiment_metrics or
// guarded_rollout_metrics) that refer to the metric whose ID is the SQL
// expression metric, directly or through a group that contains it. Both
// halves are index lookups; a row can appear more than once, so readers
// count DISTINCT.
func usedBy(table, metric string) string {
	return fmt.Sprintf(`(SELECT u.* FROM %[1]s u WHERE u.metric_id = %[2]s
		UNION ALL SELECT u.* FROM metric_group_metrics gm JOIN %[1]s u ON u.metric_group_id = gm.group_id WHERE gm.metric_id = %[2]s)`, table, metric)
}

// connectedIDs selects the IDs of every metric that a row of table refers
// to, directly or through a group, with no NULLs (so that NOT IN is
// sound). A filter tests membership in this one uncorrelated set instead
// of probing per metric.
func connectedIDs(table string) string {
	return fmt.Sprintf(`SELECT u.metric_id FROM %[1]s u WHERE u.metric_id IS NOT NULL
		UNION SELECT gm.metric_id FROM metric_group_metrics gm JOIN %[1]s u ON u.metric_group_id = gm.group_id`, table)
}

// runningExperiment holds for an experiment_metrics row em of an
// experiment e whose current iteration runs and uses the row (rows written
// without an iteration count for the current one).
const (
	runningExperiment = "e.status = 'running' AND e.archived_at IS NULL AND (em.iteration_id IS NULL OR em.iteration_id = e.current_iteration_id)"
	activeRollout     = "r.status = 'monitoring'"
)

// probeUse is a condition on the metric aliased m: a row of table refers
// to it, directly or through a group. Two index probes per metric, for
// pages that walk the sort index and stop early.
func probeUse(table string) string {
	return fmt.Sprintf(`(EXISTS (SELECT 1 FROM %[1]s u WHERE u.metric_id = m.id)
		OR EXISTS (SELECT 1 FROM metric_group_metrics gm JOIN %[1]s u ON u.metric_group_id = gm.group_id WHERE gm.metric_id = m.id))`, table)
}

var (
	experimentExists = "m.id IN (" + connectedIDs("experiment_metrics") + ")"
	rolloutExists    = "m.id IN (" + connectedIDs("guarded_rollout_metrics") + ")"
	experimentProbe  = probeUse("experiment_metrics")
	rolloutProbe     = probeUse("guarded_rollout_metrics")
	experimentsOf    = "FROM " + usedBy("experiment_metrics", "m.id") + " em JOIN experiments e ON e.id = em.experiment_id WHERE 1 = 1"
	rolloutsOf       = "FROM " + usedBy("guarded_rollout_metrics", "m.id") + " rm JOIN guarded_rollouts r ON r.id = rm.rollout_id WHERE 1 = 1"
)

// metricSource is a condition on an event_sources alias: the row is a
// source of the metric aliased m, in any environment of its project. A
// custom metric is fed by custom events with its event key; a pageview or
// click metric by events of its kind keyed by the metric's key (the goal
// key browser SDKs send, or the key a server-sent event's URL matched).
func metricSource(alias string) string {
	return fmt.Sprintf("%[1]s.project_id = m.project_id AND %[1]s.kind = m.kind AND %[1]s.event_key = (CASE WHEN m.kind = 'custom' THEN m.event_key ELSE m.key END)", alias)
}

// usageCols computes MetricUsage for the metric aliased m.
var usageCols = strings.Join([]string{
	"(SELECT COUNT(DISTINCT e.id) " + experimentsOf + ")",
	"(SELECT COUNT(DISTINCT e.id) " + experimentsOf + " AND " + runningExperiment + ")",
	"(SELECT COUNT(DISTINCT gm.group_id) FROM metric_group_metrics gm WHERE gm.metric_id = m.id)",
	"(SELECT COUNT(DISTINCT r.id) " + rolloutsOf + ")",
	"(SELECT COUNT(DISTINCT r.id) " + rolloutsOf + " AND " + activeRollout + ")",
	"(SELECT COUNT(*) FROM (SELECT e.flag_key " + experimentsOf + " AND " + runningExperiment +
		" UNION SELECT r.flag_key " + rolloutsOf + " AND " + activeRollout + ") f)",
	"(SELECT MAX(s.last_seen) FROM event_sources s WHERE " + metricSource("s") + ")",
}, ",\n\t")

const metricHeadCols = `m.id, m.project_id, p.key, m.key, m.kind, m.created_at`

const memberJoinCols = `mb.id, mb.email, mb.first_name, mb.last_name, mb.role, mb.created_at`

// currentMetricSelect reads the head version of metrics.
var currentMetricSelect = `SELECT ` + metricHeadCols + `, m.version, m.version_id, m.updated_at, m.archived_at, m.maintainer_team_key, v.def, v.comment,
	` + memberJoinCols + `,
	` + usageCols + `
FROM metrics m
JOIN metric_versions v ON v.version_id = m.version_id
JOIN projects p ON p.id = m.project_id
LEFT JOIN members mb ON mb.id = m.maintainer_id`

// versionMetricSelect reads one stored version; the maintainer is the one
// named in that version's definition.
var versionMetricSelect = `SELECT ` + metricHeadCols + `, v.version, v.version_id, v.created_at, v.archived_at, v.maintainer_team_key, v.def, v.comment,
	` + memberJoinCols + `,
	` + usageCols + `
FROM metric_versions v
JOIN metrics m ON m.id = v.metric_id
JOIN projects p ON p.id = m.project_id
LEFT JOIN members mb ON mb.id = v.maintainer_id`

// scanMetric scans a row of currentMetricSelect or versionMetricSelect,
// usage columns included.
func scanMetric(s scanner) (*catalog.Metric, error) { return scanMetricRow(s, true) }

// scanMetricRow scans a metric row; withUsage says whether the row carries
// the usage columns (group member rows do not).
func scanMetricRow(s scanner, withUsage bool) (*catalog.Metric, error) {
	var m catalog.Metric
	var created, updated int64
	var archived, lastSeen sql.NullInt64
	var team sql.NullString
	var def string
	var mbID, mbEmail, mbFirst, mbLast, mbRole sql.NullString
	var mbCreated sql.NullInt64
	dest := []any{&m.ID, &m.ProjectID, &m.ProjectKey, &m.Key, &m.Kind, &created,
		&m.Version, &m.VersionID, &updated, &archived, &team, &def, &m.Comment,
		&mbID, &mbEmail, &mbFirst, &mbLast, &mbRole, &mbCreated}
	var u *catalog.MetricUsage
	if withUsage {
		u = &catalog.MetricUsage{}
		m.Usage = u
		dest = append(dest, &u.ExperimentCount, &u.ActiveExperimentCount, &u.MetricGroupCount, &u.GuardedRolloutCount,
			&u.ActiveGuardedRolloutCount, &u.AttachedFlagCount, &lastSeen)
	}
	if err := s.Scan(dest...); err != nil {
		return nil, classify(err)
	}
	m.CreatedAt, m.UpdatedAt, m.MaintainerTeamKey = fromMS(created), fromMS(updated), team.String
	if archived.Valid {
		t := fromMS(archived.Int64)
		m.ArchivedAt = &t
	}
	if u != nil && lastSeen.Valid {
		t := fromMS(lastSeen.Int64)
		u.LastSeen = &t
	}
	if mbID.Valid {
		m.Maintainer = &account.Member{ID: mbID.String, Email: mbEmail.String, FirstName: mbFirst.String,
			LastName: mbLast.String, Role: mbRole.String, CreatedAt: fromMS(mbCreated.Int64)}
	}
	if err := json.Unmarshal([]byte(def), &m.Def); err != nil {
		return nil, fmt.Errorf("metric %s: stored definition is corrupt: %w", m.ID, err)
	}
	return &m, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(m *catalog.Metric) any {
	if m.ArchivedAt == nil {
		return nil
	}
	return ms(*m.ArchivedAt)
}

func writeMetricChildren(ctx context.Context, t *txn, m *catalog.Metric, def string) error {
	author := core.PrincipalFrom(ctx)
	if _, err := t.exec(ctx, `INSERT INTO metric_versions (version_id, metric_id, version, maintainer_id, maintainer_team_key, archived_at, def, comment, created_at, author_id, author_email)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.VersionID, m.ID, m.Version, nullString(m.Def.MaintainerID), nullString(m.MaintainerTeamKey), nullTime(m), def, m.Comment, ms(m.UpdatedAt),
		author.MemberID, author.Email); err != nil {
		return err
	}
	if err := setEventKey(ctx, t, m); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM metric_tags WHERE metric_id = ?`, m.ID); err != nil {
		return err
	}
	for _, tag := range m.Def.Tags {
		if _, err := t.exec(ctx, `INSERT INTO metric_tags (metric_id, project_id, tag) VALUES (?, ?, ?)`, m.ID, m.ProjectID, tag); err != nil {
			return err
		}
	}
	return nil
}

// bumpGeneration records that what the metrics or metric groups of a
// project show changed, which invalidates cached list counts (countCache)
// and cached representations (the API's cache of encoded metrics and
// groups, checked against ProjectGeneration on every read, on every
// replica). Every write that can change which metrics a filter matches, or
// any field of a metric or group representation, calls it in its own
// transaction: metric and group writes, and any future writer of what
// those representations derive from (experiments and their metric
// counters, views, event sources and lastSeen). A write that fails rolls
// the bump back with everything else.
func bumpGeneration(ctx context.Context, t *txn, projectID string) error {
	t.bumped = true
	_, err := t.exec(ctx, `UPDATE projects SET metrics_generation = metrics_generation + 1 WHERE id = ?`, projectID)
	if err == nil {
		if t.bumpedProjects == nil {
			t.bumpedProjects = map[string]bool{}
		}
		t.bumpedProjects[projectID] = true
	}
	return err
}

// ensureBumped raises the project's generation unless this transaction did
// already. A metric row written after it records the project's generation
// as changed_gen (changedGen): the generation this transaction commits, or
// one below it, but always above every generation committed before, which
// is what a cached list patched from an older generation needs to find the
// row (see metric_ids.go). On PostgreSQL the bump also locks the
// project row, so that writers of one project commit generations in order.
func ensureBumped(ctx context.Context, t *txn, projectID string) error {
	if t.bumpedProjects[projectID] {
		return nil
	}
	return bumpGeneration(ctx, t, projectID)
}

// changedGen is the SQL value of metrics.changed_gen for a row written by
// a transaction that called ensureBumped for its project (the argument).
const changedGen = `COALESCE((SELECT metrics_generation FROM projects WHERE id = ?), 0)`

// bumpAllGenerations is bumpGeneration for a write outside any one project
// whose data metric or group representations show (a team's name, a
// member's name), so rare that invalidating every project is cheap.
func bumpAllGenerations(ctx context.Context, t *txn) error {
	t.bumped = true
	_, err := t.exec(ctx, `UPDATE projects SET metrics_generation = metrics_generation + 1`)
	return err
}

// ProjectGeneration returns the generation of the project key (see
// bumpGeneration): one single-row statement, so that a cached
// representation costs one read to validate.
//
// On SQLite not even that, while nobody has committed since the generation
// was last read: the wal-index header that every commit of every process
// rewrites is read first (walStamp), and a generation read after a stamp
// is current for as long as the stamp stays the same.
func (db *DB) ProjectGeneration(ctx context.Context, key string) (int64, error) {
	if db.repl != nil && db.repl.cfg.Duration > 0 {
		return db.pushedGeneration(ctx, key)
	}
	st, watched := db.wal.read()
	if watched {
		if gen, ok := db.gens.get(key, st); ok {
			return gen, nil
		}
	}
	var gen int64
	if err := db.readRow(ctx, `SELECT metrics_generation FROM projects WHERE key = ?`, key).Scan(&gen); err != nil {
		return 0, classify(err)
	}
	if watched {
		db.gens.put(key, st, gen)
	}
	return gen, nil
}

// pushedGeneration is ProjectGeneration on PostgreSQL with a lease:
// answered from memory while the lease holds (see replicas.go), read and
// remembered otherwise.
func (db *DB) pushedGeneration(ctx context.Context, key string) (int64, error) {
	gen, ok, epoch := db.repl.cached(key)
	if ok {
		return gen, nil
	}
	if err := db.readRow(ctx, `SELECT metrics_generation FROM projects WHERE key = ?`, key).Scan(&gen); err != nil {
		return 0, classify(err)
	}
	db.repl.remember(key, gen, epoch)
	return gen, nil
}

// CreateMetric stores version 1 of a new metric.
func (t *txn) CreateMetric(ctx context.Context, m *catalog.Metric) error {
	return insertMetric(ctx, t, m)
}

// ImportMetrics stores many new metrics in one transaction: all or none.
// On PostgreSQL it then refreshes the planner's statistics, which a bulk
// load would otherwise leave stale until autovacuum catches up.
func (db *DB) ImportMetrics(ctx context.Context, ms []*catalog.Metric) error {
	if err := db.importMetrics(ctx, ms); err != nil {
		return err
	}
	return db.Analyze(ctx)
}

// Analyze refreshes PostgreSQL's planner statistics, which bulk writes leave
// stale until autovacuum catches up. On SQLite it does nothing: without
// statistics its planner makes the choices metricsd's queries are written
// for.
//
// It analyzes the tables of metricsd's schema only: a bare ANALYZE would
// read every schema of the database, other applications' (or tests')
// included.
func (db *DB) Analyze(ctx context.Context) error {
	if db.dialect.name != "postgres" {
		return nil
	}
	rows, err := db.w.QueryContext(ctx, `SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil || len(tables) == 0 {
		return err
	}
	_, err = db.w.ExecContext(ctx, `ANALYZE `+strings.Join(tables, ", "))
	return err
}

func (db *DB) importMetrics(ctx context.Context, ms []*catalog.Metric) error {
	return db.tx(ctx, true, func(t *txn) error {
		for _, m := range ms {
			if err := insertMetric(ctx, t, m); err != nil {
				return fmt.Errorf("metric %q: %w", m.Key, err)
			}
		}
		return nil
	})
}

func insertMetric(ctx context.Context, t *txn, m *catalog.Metric) error {
	def, err := json.Marshal(m.Def)
	if err != nil {
		return err
	}
	if err := lockMaintainers(ctx, t, m.Def.MaintainerID, m.MaintainerTeamKey); err != nil {
		return err
	}
	if err := ensureBumped(ctx, t, m.ProjectID); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `INSERT INTO metrics (id, project_id, key, key_lower, kind, version, version_id, name, name_lower, is_numeric,
			unit_aggregation_type, maintainer_id, maintainer_team_key, data_source_key, archived_at, created_at, updated_at, changed_gen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+changedGen+`)`,
		m.ID, m.ProjectID, m.Key, strings.ToLower(m.Key), m.Kind, m.Version, m.VersionID, m.Def.Name, strings.ToLower(m.Def.Name), m.Def.IsNumeric,
		m.Def.UnitAggregationType, nullString(m.Def.MaintainerID), nullString(m.MaintainerTeamKey), m.Def.DataSource.Key, nullTime(m),
		ms(m.CreatedAt), ms(m.UpdatedAt), m.ProjectID); err != nil {
		return err
	}
	return writeMetricChildren(ctx, t, m, string(def))
}

// UpdateMetric stores m as the next version when the head is still prevVersion.
func (t *txn) UpdateMetric(ctx context.Context, m *catalog.Metric, prevVersion int) error {
	def, err := json.Marshal(m.Def)
	if err != nil {
		return err
	}
	if err := lockMaintainers(ctx, t, m.Def.MaintainerID, m.MaintainerTeamKey); err != nil {
		return err
	}
	if err := ensureBumped(ctx, t, m.ProjectID); err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE metrics SET version = ?, version_id = ?, name = ?, name_lower = ?, is_numeric = ?, unit_aggregation_type = ?,
		maintainer_id = ?, maintainer_team_key = ?, data_source_key = ?, archived_at = ?, updated_at = ?, changed_gen = `+changedGen+`
		WHERE id = ? AND version = ?`,
		m.Version, m.VersionID, m.Def.Name, strings.ToLower(m.Def.Name), m.Def.IsNumeric, m.Def.UnitAggregationType,
		nullString(m.Def.MaintainerID), nullString(m.MaintainerTeamKey), m.Def.DataSource.Key, nullTime(m), ms(m.UpdatedAt),
		m.ProjectID, m.ID, prevVersion)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrStale
	}
	return writeMetricChildren(ctx, t, m, string(def))
}

// GetMetric returns the head of a metric, or the version versionID. It is
// one statement, so it runs outside an explicit transaction.
func (db *DB) GetMetric(ctx context.Context, projectID, key, versionID string) (*catalog.Metric, error) {
	if versionID == "" {
		return scanMetric(db.readRow(ctx, currentMetricSelect+` WHERE m.project_id = ? AND m.key = ?`, projectID, key))
	}
	return versionOf(scanMetric(db.readRow(ctx, versionByIDSelect, versionID)))(projectID, key)
}

// versionByIDSelect reads one version by its primary key alone. The project
// and key are checked on the row afterwards (versionOf): with them in the
// WHERE clause PostgreSQL may plan, from statistics taken while the table
// was small, to walk every metric of the project through an index on
// project_id, which made every create read the whole project back.
var versionByIDSelect = versionMetricSelect + ` WHERE v.version_id = ?`

// versionOf returns a check that the version scanned belongs to the metric
// key of project projectID; a version ID of another metric is not found.
func versionOf(m *catalog.Metric, err error) func(projectID, key string) (*catalog.Metric, error) {
	return func(projectID, key string) (*catalog.Metric, error) {
		if err != nil {
			return nil, err
		}
		if m.ProjectID != projectID || m.Key != key {
			return nil, core.ErrNotFound
		}
		return m, nil
	}
}

// MetricForUpdate returns the head of a metric, locked inside a write.
func (t *txn) MetricForUpdate(ctx context.Context, projectID, key string) (*catalog.Metric, error) {
	// The lock is taken by a statement of its own on the bare row: on
	// PostgreSQL a locking read that joins re-checks the join against its
	// old snapshot when it waited for a concurrent writer, and would lose a
	// row whose version that writer replaced. The read after it sees the
	// latest commit.
	ok, err := t.exists(ctx, `SELECT 1 FROM metrics WHERE project_id = ? AND key = ?`+t.d.forUpdate, projectID, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, core.ErrNotFound
	}
	return t.Metric(ctx, projectID, key, "")
}

// Metric returns the head of a metric, or the version versionID, inside a
// write.
func (t *txn) Metric(ctx context.Context, projectID, key, versionID string) (*catalog.Metric, error) {
	if versionID == "" {
		return scanMetric(t.row(ctx, currentMetricSelect+` WHERE m.project_id = ? AND m.key = ?`, projectID, key))
	}
	return versionOf(scanMetric(t.row(ctx, versionByIDSelect, versionID)))(projectID, key)
}

// DeleteMetric removes a metric unless a metric group, an experiment
// iteration or an active guarded rollout uses it.
func (t *txn) DeleteMetric(ctx context.Context, projectID, key string) error {
	var id string
	if err := t.row(ctx, `SELECT id FROM metrics WHERE project_id = ? AND key = ?`, projectID, key).Scan(&id); err != nil {
		return classify(err)
	}
	if err := refuseIfUsed(ctx, t, metricBlockers, id, id, id); err != nil {
		return err
	}
	// Finished rollouts do not keep the metric; they forget it.
	if _, err := t.exec(ctx, `DELETE FROM guarded_rollout_metrics WHERE metric_id = ?`, id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM metrics WHERE id = ?`, id); err != nil {
		return err
	}
	if err := ensureBumped(ctx, t, projectID); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `INSERT INTO metric_deletions (project_id, generation, metric_id) SELECT id, metrics_generation, ? FROM projects WHERE id = ?`, id, projectID); err != nil {
		return err
	}
	return pruneDeletions(ctx, t, projectID)
}

// pruneDeletions keeps metric_deletions bounded: once a project holds more
// than twice the kept number of rows (t.deletionsKept, maxPatchRows by
// default), the oldest go, every row at or below a cutoff generation so
// that at most the kept number remain, and projects.deletions_low rises
// to that cutoff. It runs in the deleting transaction, after ensureBumped
// locked the project row, so the rows and the mark change together in
// every snapshot: a cached list below the mark is read again instead of
// patched (metric_ids.go), on every replica. A patch never reads more
// than maxPatchRows deletions anyway, so keeping that many loses no patch.
func pruneDeletions(ctx context.Context, t *txn, projectID string) error {
	keep := t.deletionsKept
	if keep <= 0 {
		keep = maxPatchRows
	}
	var held int64
	if err := t.row(ctx, `UPDATE projects SET deletions_held = deletions_held + 1 WHERE id = ? RETURNING deletions_held`, projectID).Scan(&held); err != nil {
		return classify(err)
	}
	if held <= int64(2*keep) {
		return nil
	}
	// The newest generation that leaves at most keep rows above it.
	var cutoff int64
	if err := t.row(ctx, `SELECT generation FROM metric_deletions WHERE project_id = ? ORDER BY generation DESC LIMIT 1 OFFSET ?`, projectID, keep).Scan(&cutoff); err != nil {
		return classify(err)
	}
	if _, err := t.exec(ctx, `DELETE FROM metric_deletions WHERE project_id = ? AND generation <= ?`, projectID, cutoff); err != nil {
		return err
	}
	_, err := t.exec(ctx, `UPDATE projects SET deletions_low = CASE WHEN deletions_low > ? THEN deletions_low ELSE ? END,
		deletions_held = (SELECT COUNT(*) FROM metric_deletions WHERE project_id = ?) WHERE id = ?`, cutoff, cutoff, projectID, projectID)
	return err
}

// refuseIfUsed runs a blocker query (kind, key, environment key, status
// rows) and returns an *catalog.InUseError listing them, if any.
func refuseIfUsed(ctx context.Context, t *txn, q string, args ...any) error {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var blockers []catalog.Blocker
	for rows.Next() {
		var b catalog.Blocker
		if err := rows.Scan(&b.Kind, &b.Key, &b.EnvironmentKey, &b.Status); err != nil {
			return err
		}
		blockers = append(blockers, b)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(blockers) > 0 {
		return &catalog.InUseError{Blockers: blockers}
	}
	return nil
}

func collectStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// likePattern escapes s for LIKE ... ESCAPE '!' and wraps it in wildcards.
func likePattern(s string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// fewMatches is the number of matches up to which a page is cheaper to
// build from the matching tags than by walking the sort index.
const fewMatches = 2000

// metricWhere compiles a MetricQuery into a WHERE clause over metrics m.
// Tag conditions come in two forms: driven (an IN list read from the tag
// index, for counts and for pages of results known to be few) or probed per row
// (EXISTS) while the page walks the sort index and stops after one page.
func (d dialect) metricWhere(projectID string, q catalog.MetricQuery, driven bool) (string, []any) {
	project := "m.project_id = ?"
	if driven && len(q.TagsAll) > 0 {
		// Keep the planner off the project's sort index so that it starts
		// from the tag list.
		project = d.unindexed("m.project_id") + " = ?"
	}
	conds := []string{project}
	args := []any{projectID}
	search, searchArgs := searchConditions("m", q.Queries)
	conds, args = append(conds, search...), append(args, searchArgs...)
	for _, tag := range q.TagsAll {
		if driven {
			conds = append(conds, "m.id IN (SELECT mt.metric_id FROM metric_tags mt WHERE mt.project_id = ? AND mt.tag = ?)")
			args = append(args, projectID, tag)
		} else {
			conds = append(conds, "EXISTS (SELECT 1 FROM metric_tags mt WHERE mt.metric_id = m.id AND mt.tag = ?)")
			args = append(args, tag)
		}
	}
	for _, k := range q.Kinds {
		conds = append(conds, "m.kind = ?")
		args = append(args, k)
	}
	if q.IsNumeric != nil {
		conds = append(conds, "m.is_numeric = ?")
		args = append(args, *q.IsNumeric)
	}
	if q.UnitAggregationType != "" {
		conds = append(conds, "m.unit_aggregation_type = ?")
		args = append(args, q.UnitAggregationType)
	}
	if len(q.MaintainerIDs) > 0 {
		cond, in := inCondition("m.maintainer_id", q.MaintainerIDs)
		conds, args = append(conds, cond), append(args, in...)
	}
	if q.MaintainerTeamKey != "" {
		conds = append(conds, "m.maintainer_team_key = ?")
		args = append(args, q.MaintainerTeamKey)
	}
	if len(q.DataSourceKeys) > 0 {
		cond, in := inCondition("m.data_source_key", q.DataSourceKeys)
		conds, args = append(conds, cond), append(args, in...)
	}
	if len(q.EventKeys) > 0 {
		cond, in := inCondition("m.event_key", q.EventKeys)
		conds, args = append(conds, cond), append(args, in...)
	}
	if len(q.VersionIDs) > 0 {
		cond, in := inCondition("m.version_id", q.VersionIDs)
		conds, args = append(conds, cond), append(args, in...)
	}
	// A count, or a page of few matches, starts from the IDs of the
	// connected metrics (usually few); a page of many walks the sort index
	// and probes each metric it passes.
	connected := "m.id IN (" + connectedIDs("experiment_metrics") + " UNION " + connectedIDs("guarded_rollout_metrics") + ")"
	experimentExists, rolloutExists := experimentExists, rolloutExists
	if !driven {
		connected = "(" + experimentProbe + " OR " + rolloutProbe + ")"
		experimentExists, rolloutExists = experimentProbe, rolloutProbe
	} else if (q.HasConnections != nil && *q.HasConnections) || q.UsedIn == "experiments" || q.UsedIn == "guarded_rollouts" || q.UsedIn == "any" {
		conds[0] = d.unindexed("m.project_id") + " = ?"
	}
	if q.HasConnections != nil {
		if *q.HasConnections {
			conds = append(conds, connected)
		} else {
			conds = append(conds, "NOT "+connected)
		}
	}
	switch q.UsedIn {
	case "experiments":
		conds = append(conds, experimentExists)
	case "guarded_rollouts":
		conds = append(conds, rolloutExists)
	case "any":
		conds = append(conds, connected)
	case "none":
		conds = append(conds, "NOT "+connected)
	}
	if q.View != "" {
		conds = append(conds, "m.id IN (SELECT vm.metric_id FROM view_metrics vm JOIN views vw ON vw.id = vm.view_id WHERE vw.project_id = ? AND vw.key = ?)")
		args = append(args, projectID, q.View)
	}
	return strings.Join(conds, " AND "), args
}

var metricSortColumns = map[string]string{"createdAt": "m.created_at", "name": "m.name_lower"}

// countQuery is the statement counting the metrics that match q, whose
// compiled condition (metricWhere, driven by the tag index) is where. A
// filter on tags alone is counted on the tag index (metric_tags'
// (project_id, tag, metric_id)) without reading a metric row: a tag row
// exists exactly for each tag of each metric of its project (primary key,
// foreign key with ON DELETE CASCADE, project_id written with the metric),
// so the counts are equal. With a tag on a million metrics the count
// through the metrics table read two B-tree entries per match and took
// longer than a request's deadline on a loaded machine; the index alone
// is some twenty times less work. Whether the filter is on tags alone is
// decided by compiling a query of its tags only and comparing the SQL, so
// a condition added to metricWhere later can never be dropped here.
func (db *DB) countQuery(projectID string, q catalog.MetricQuery, where string, args []any) (string, []any) {
	if len(q.TagsAll) > 0 {
		tw, targs := db.dialect.metricWhere(projectID, catalog.MetricQuery{TagsAll: q.TagsAll}, true)
		if tw == where && reflect.DeepEqual(targs, args) {
			cq := `SELECT COUNT(*) FROM metric_tags mt WHERE mt.project_id = ? AND mt.tag = ?`
			cargs := []any{projectID, q.TagsAll[0]}
			for _, tag := range q.TagsAll[1:] {
				cq += ` AND EXISTS (SELECT 1 FROM metric_tags mt2 WHERE mt2.metric_id = mt.metric_id AND mt2.tag = ?)`
				cargs = append(cargs, tag)
			}
			return cq, cargs
		}
	}
	return `SELECT COUNT(*) FROM metrics m WHERE ` + where, args
}

// ListMetrics returns one page and the number of all matches, from one
// consistent snapshot.
func (db *DB) ListMetrics(ctx context.Context, projectID string, q catalog.MetricQuery) ([]catalog.Metric, int, error) {
	countWhere, countArgs := db.dialect.metricWhere(projectID, q, true)
	var out []catalog.Metric
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		// Only conditions on metric rows and their tags are covered by the
		// generation; conditions on other resources are always counted.
		// Experiment and rollout writes bump it too, so that connection
		// filters are covered, by the count and by the list of matches.
		cacheable := q.View == ""
		if cacheable && db.ids != nil {
			page, n, ok, err := db.pageFromIDs(ctx, t, projectID, q, countWhere, countArgs)
			if err != nil || ok {
				out, total = page, n
				return err
			}
		}
		var err error
		cq, cargs := db.countQuery(projectID, q, countWhere, countArgs)
		total, err = db.cachedCount(ctx, t, projectID, cacheable, cq, cargs)
		if err != nil {
			return err
		}
		if total == 0 || q.Offset >= total {
			return nil
		}
		// Few matches: drive the page from the tag index and sort them.
		// Many: walk the sort index, which soon fills a page.
		where, args := db.dialect.metricWhere(projectID, q, total <= fewMatches)
		rows, err := t.query(ctx, currentMetricSelect+` WHERE `+where+` ORDER BY `+orderClause(q.Sort, metricSortColumns, "m.id")+` LIMIT ? OFFSET ?`,
			append(args, q.Limit, q.Offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMetric(rows)
			if err != nil {
				return err
			}
			out = append(out, *m)
		}
		return rows.Err()
	})
	return out, total, err
}

// MetricVersions returns one page of a metric's versions, newest first,
// with the members who made them, and the number of versions.
func (db *DB) MetricVersions(ctx context.Context, metricID string, page core.Page) ([]catalog.MetricVersion, int, error) {
	var out []catalog.MetricVersion
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		if err := t.row(ctx, `SELECT COUNT(*) FROM metric_versions WHERE metric_id = ?`, metricID).Scan(&total); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT v.version, v.version_id, v.created_at, v.comment, v.author_id, v.author_email, `+memberJoinCols+`
			FROM metric_versions v LEFT JOIN members mb ON mb.id = v.author_id
			WHERE v.metric_id = ? ORDER BY v.version DESC LIMIT ? OFFSET ?`, metricID, page.Limit, page.Offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v catalog.MetricVersion
			var created int64
			var mbID, mbEmail, mbFirst, mbLast, mbRole sql.NullString
			var mbCreated sql.NullInt64
			if err := rows.Scan(&v.Version, &v.VersionID, &created, &v.Comment, &v.AuthorID, &v.AuthorEmail,
				&mbID, &mbEmail, &mbFirst, &mbLast, &mbRole, &mbCreated); err != nil {
				return err
			}
			v.CreatedAt = fromMS(created)
			if mbID.Valid {
				v.Author = &account.Member{ID: mbID.String, Email: mbEmail.String, FirstName: mbFirst.String,
					LastName: mbLast.String, Role: mbRole.String, CreatedAt: fromMS(mbCreated.Int64)}
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, total, err
}
