package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
)

// TransactExperiments is Transact for experiment and rollout writes: the
// same seam, typed for the experiment package's unit of work.
func (db *DB) TransactExperiments(ctx context.Context, fn func(tx experiment.Tx) (*audit.Change, error)) error {
	return db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) { return fn(tx.(*txn)) })
}

// Scope locks a project and resolves one of its environments.
func (t *txn) Scope(ctx context.Context, projectKey, envKey string) (*experiment.Scope, error) {
	p, err := t.Project(ctx, projectKey)
	if err != nil {
		if errors.Is(err, core.ErrNotFound) {
			return nil, &experiment.ScopeError{Project: true, Key: projectKey, NotFoundErr: err}
		}
		return nil, err
	}
	return scanScope(t.row(ctx, `SELECT p.id, p.key, env.id, env.key, env.name FROM environments env JOIN projects p ON p.id = env.project_id
		WHERE env.project_id = ? AND env.key = ?`, p.ID, envKey), envKey)
}

// ResolveScope resolves a project and one of its environments.
func (db *DB) ResolveScope(ctx context.Context, projectKey, envKey string) (*experiment.Scope, error) {
	var s *experiment.Scope
	err := db.tx(ctx, false, func(t *txn) error {
		var pid string
		if err := t.row(ctx, `SELECT id FROM projects WHERE key = ?`, projectKey).Scan(&pid); err != nil {
			if err = classify(err); errors.Is(err, core.ErrNotFound) {
				return &experiment.ScopeError{Project: true, Key: projectKey, NotFoundErr: err}
			}
			return err
		}
		var err error
		s, err = scanScope(t.row(ctx, `SELECT p.id, p.key, env.id, env.key, env.name FROM environments env JOIN projects p ON p.id = env.project_id
			WHERE env.project_id = ? AND env.key = ?`, pid, envKey), envKey)
		return err
	})
	return s, err
}

func scanScope(row *sql.Row, envKey string) (*experiment.Scope, error) {
	var s experiment.Scope
	if err := row.Scan(&s.ProjectID, &s.ProjectKey, &s.EnvironmentID, &s.EnvironmentKey, &s.EnvironmentName); err != nil {
		if err = classify(err); errors.Is(err, core.ErrNotFound) {
			return nil, &experiment.ScopeError{Key: envKey, NotFoundErr: err}
		}
		return nil, err
	}
	return &s, nil
}

// Metric versions as experiments see them. Both selects have the same
// columns; the first reads heads, the second stored versions.
const (
	headSnapSelect    = `SELECT m.id, m.key, m.kind, v.version_id, v.def FROM metrics m JOIN metric_versions v ON v.version_id = m.version_id`
	versionSnapSelect = `SELECT m.id, m.key, m.kind, v.version_id, v.def FROM metric_versions v JOIN metrics m ON m.id = v.metric_id`
)

func scanSnap(s scanner, prefix ...any) (*experiment.MetricSnap, error) {
	var m experiment.MetricSnap
	var def string
	if err := s.Scan(append(prefix, &m.ID, &m.Key, &m.Kind, &m.VersionID, &def)...); err != nil {
		return nil, err
	}
	var d catalog.MetricDef
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		return nil, fmt.Errorf("metric %s: stored definition is corrupt: %w", m.ID, err)
	}
	m.Name, m.EventKey, m.IsNumeric, m.UnitAggregationType = d.Name, d.EventKey, d.IsNumeric, d.UnitAggregationType
	m.RandomizationUnits, m.Archived = core.OrEmpty(d.RandomizationUnits), d.Archived
	return &m, nil
}

// snaps runs a snap select and returns its rows by the key of.
func snaps(ctx context.Context, t *txn, q string, args []any, by func(*experiment.MetricSnap) string) (map[string]*experiment.MetricSnap, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*experiment.MetricSnap{}
	for rows.Next() {
		m, err := scanSnap(rows)
		if err != nil {
			return nil, err
		}
		out[by(m)] = m
	}
	return out, rows.Err()
}

func byKey(m *experiment.MetricSnap) string     { return m.Key }
func byID(m *experiment.MetricSnap) string      { return m.ID }
func byVersion(m *experiment.MetricSnap) string { return m.VersionID }

// MetricSnaps returns the current versions of metrics of a project by key.
func (t *txn) MetricSnaps(ctx context.Context, projectID string, keys []string) (map[string]*experiment.MetricSnap, error) {
	if len(keys) == 0 {
		return map[string]*experiment.MetricSnap{}, nil
	}
	cond, args := inCondition("m.key", keys)
	return snaps(ctx, t, headSnapSelect+` WHERE m.project_id = ? AND `+cond, append([]any{projectID}, args...), byKey)
}

// GroupSnaps returns groups of a project by key, with their metrics.
func (t *txn) GroupSnaps(ctx context.Context, projectID string, keys []string) (map[string]*experiment.GroupSnap, error) {
	out := map[string]*experiment.GroupSnap{}
	if len(keys) == 0 {
		return out, nil
	}
	cond, args := inCondition("g.key", keys)
	gs, err := groupSnaps(ctx, t, `g.project_id = ? AND `+cond, append([]any{projectID}, args...))
	for _, g := range gs {
		out[g.Key] = g
	}
	return out, err
}

// GuardrailGroup returns the project's guardrail group.
func (t *txn) GuardrailGroup(ctx context.Context, projectID string) (*experiment.GroupSnap, error) {
	gs, err := groupSnaps(ctx, t, `g.project_id = ? AND g.kind = 'guardrail'`, []any{projectID})
	if err != nil {
		return nil, err
	}
	if len(gs) == 0 {
		return nil, core.ErrNotFound
	}
	return gs[0], nil
}

// groupSnaps reads the groups matching where with their current metrics:
// two statements.
func groupSnaps(ctx context.Context, t *txn, where string, args []any) ([]*experiment.GroupSnap, error) {
	rows, err := t.query(ctx, `SELECT g.id, g.key, g.kind, g.name, g.version FROM metric_groups g WHERE `+where+` ORDER BY g.id`, args...)
	if err != nil {
		return nil, err
	}
	var out []*experiment.GroupSnap
	byGroup := map[string]*experiment.GroupSnap{}
	var ids []string
	for rows.Next() {
		var g experiment.GroupSnap
		var version int64
		if err := rows.Scan(&g.ID, &g.Key, &g.Kind, &g.Name, &version); err != nil {
			rows.Close()
			return nil, err
		}
		g.VersionID = strconv.FormatInt(version, 10)
		g.Metrics = []experiment.GroupMember{}
		out = append(out, &g)
		byGroup[g.ID] = &g
		ids = append(ids, g.ID)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return out, err
	}
	cond, in := inCondition("gm.group_id", ids)
	mrows, err := t.query(ctx, `SELECT gm.group_id, gm.name_in_group, m.id, m.key, m.kind, v.version_id, v.def FROM metric_group_metrics gm
		JOIN metrics m ON m.id = gm.metric_id JOIN metric_versions v ON v.version_id = m.version_id
		WHERE `+cond+` ORDER BY gm.group_id, gm.position`, in...)
	if err != nil {
		return nil, err
	}
	defer mrows.Close()
	for mrows.Next() {
		var gid, label string
		m, err := scanSnap(mrows, &gid, &label)
		if err != nil {
			return nil, err
		}
		g := byGroup[gid]
		g.Metrics = append(g.Metrics, experiment.GroupMember{MetricSnap: *m, NameInGroup: label})
	}
	return out, mrows.Err()
}

const experimentSelect = `SELECT e.id, e.project_id, p.key, e.environment_id, env.key, e.key, e.name, e.description, COALESCE(e.maintainer_id, ''),
	e.holdout_id, e.tags, e.version, e.created_at, e.updated_at, e.archived_at
FROM experiments e JOIN projects p ON p.id = e.project_id JOIN environments env ON env.id = e.environment_id`

func scanExperiment(s scanner) (*experiment.Experiment, error) {
	var e experiment.Experiment
	var tags string
	var created, updated int64
	var archived sql.NullInt64
	if err := s.Scan(&e.ID, &e.ProjectID, &e.ProjectKey, &e.EnvironmentID, &e.EnvironmentKey, &e.Key, &e.Name, &e.Description,
		&e.MaintainerID, &e.HoldoutID, &tags, &e.Version, &created, &updated, &archived); err != nil {
		return nil, classify(err)
	}
	if err := json.Unmarshal([]byte(tags), &e.Tags); err != nil {
		return nil, fmt.Errorf("experiment %s: stored tags are corrupt: %w", e.ID, err)
	}
	e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
	if archived.Valid {
		a := fromMS(archived.Int64)
		e.ArchivedAt = &a
	}
	return &e, nil
}

// loadExperiments reads the experiments a query selects with their
// iterations and the metrics those show: a fixed number of statements
// however many experiments, iterations and metrics there are.
func loadExperiments(ctx context.Context, t *txn, q string, args ...any) ([]*experiment.Experiment, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []*experiment.Experiment
	byID := map[string]*experiment.Experiment{}
	var ids []string
	for rows.Next() {
		e, err := scanExperiment(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
		byID[e.ID] = e
		ids = append(ids, e.ID)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return out, err
	}
	cond, in := inCondition("experiment_id", ids)
	irows, err := t.query(ctx, `SELECT experiment_id, id, number, status, def, pins, winning_treatment_id, winning_reason, created_at, started_at, ended_at
		FROM experiment_iterations WHERE `+cond+` ORDER BY experiment_id, number`, in...)
	if err != nil {
		return nil, err
	}
	for irows.Next() {
		var eid, def string
		var pins sql.NullString
		var it experiment.Iteration
		var created int64
		var started, ended sql.NullInt64
		if err := irows.Scan(&eid, &it.ID, &it.Number, &it.Status, &def, &pins, &it.WinningTreatmentID, &it.WinningReason, &created, &started, &ended); err != nil {
			irows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(def), &it.Def); err != nil {
			irows.Close()
			return nil, fmt.Errorf("iteration %s: stored definition is corrupt: %w", it.ID, err)
		}
		if pins.Valid {
			if err := json.Unmarshal([]byte(pins.String), &it.Pins); err != nil {
				irows.Close()
				return nil, fmt.Errorf("iteration %s: stored pins are corrupt: %w", it.ID, err)
			}
		}
		it.CreatedAt = fromMS(created)
		if started.Valid {
			s := fromMS(started.Int64)
			it.StartedAt = &s
		}
		if ended.Valid {
			s := fromMS(ended.Int64)
			it.EndedAt = &s
		}
		e := byID[eid]
		e.Iterations = append(e.Iterations, it)
	}
	if err := irows.Close(); err != nil {
		return nil, err
	}
	if err := irows.Err(); err != nil {
		return nil, err
	}
	return out, resolveEntries(ctx, t, out)
}

// resolveEntries fills in the metrics each iteration shows: the pinned
// versions of started iterations, the current ones of drafts. Three
// statements at most.
func resolveEntries(ctx context.Context, t *txn, exps []*experiment.Experiment) error {
	var liveMetrics, liveGroups, versions []string
	for _, e := range exps {
		for _, it := range e.Iterations {
			if it.Pins != nil {
				for _, p := range it.Pins {
					if !p.IsGroup {
						versions = append(versions, p.Version)
					}
					for _, m := range p.Members {
						versions = append(versions, m.VersionID)
					}
				}
				continue
			}
			for _, r := range it.Def.Metrics {
				if r.IsGroup {
					liveGroups = append(liveGroups, r.ID)
				} else {
					liveMetrics = append(liveMetrics, r.ID)
				}
			}
		}
	}
	metrics, pinned := map[string]*experiment.MetricSnap{}, map[string]*experiment.MetricSnap{}
	groups := map[string]*experiment.GroupSnap{}
	var err error
	if len(liveMetrics) > 0 {
		cond, in := inCondition("m.id", core.Dedupe(liveMetrics))
		if metrics, err = snaps(ctx, t, headSnapSelect+` WHERE `+cond, in, byID); err != nil {
			return err
		}
	}
	if len(versions) > 0 {
		cond, in := inCondition("v.version_id", core.Dedupe(versions))
		if pinned, err = snaps(ctx, t, versionSnapSelect+` WHERE `+cond, in, byVersion); err != nil {
			return err
		}
	}
	if len(liveGroups) > 0 {
		cond, in := inCondition("g.id", core.Dedupe(liveGroups))
		gs, err := groupSnaps(ctx, t, cond, in)
		if err != nil {
			return err
		}
		for _, g := range gs {
			groups[g.ID] = g
		}
	}
	for _, e := range exps {
		for i := range e.Iterations {
			it := &e.Iterations[i]
			it.Metrics = []experiment.Entry{}
			if it.Pins != nil {
				for _, p := range it.Pins {
					if !p.IsGroup {
						it.Metrics = append(it.Metrics, experiment.Entry{Key: p.Key, Metric: pinned[p.Version]})
						continue
					}
					g := &experiment.GroupSnap{ID: p.ID, Key: p.Key, Kind: p.Kind, Name: p.Name, VersionID: p.Version, Metrics: []experiment.GroupMember{}}
					for _, m := range p.Members {
						if s := pinned[m.VersionID]; s != nil {
							g.Metrics = append(g.Metrics, experiment.GroupMember{MetricSnap: *s, NameInGroup: m.NameInGroup})
						}
					}
					it.Metrics = append(it.Metrics, experiment.Entry{Key: p.Key, IsGroup: true, Group: g})
				}
				continue
			}
			for _, r := range it.Def.Metrics {
				if r.IsGroup {
					it.Metrics = append(it.Metrics, experiment.Entry{Key: r.Key, IsGroup: true, Group: groups[r.ID]})
				} else {
					it.Metrics = append(it.Metrics, experiment.Entry{Key: r.Key, Metric: metrics[r.ID]})
				}
			}
		}
	}
	return nil
}

// ExperimentForUpdate returns an experiment of the scope's environment,
// locked, with its iterations.
func (t *txn) ExperimentForUpdate(ctx context.Context, s *experiment.Scope, key string) (*experiment.Experiment, error) {
	if t.d.forUpdate != "" {
		if _, err := t.exec(ctx, `SELECT 1 FROM experiments WHERE environment_id = ? AND key = ?`+t.d.forUpdate, s.EnvironmentID, key); err != nil {
			return nil, err
		}
	}
	es, err := loadExperiments(ctx, t, experimentSelect+` WHERE e.environment_id = ? AND e.key = ?`, s.EnvironmentID, key)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, core.ErrNotFound
	}
	return es[0], nil
}

// GetExperiment returns an experiment with its iterations.
func (db *DB) GetExperiment(ctx context.Context, s *experiment.Scope, key string) (*experiment.Experiment, error) {
	var out *experiment.Experiment
	err := db.tx(ctx, false, func(t *txn) error {
		es, err := loadExperiments(ctx, t, experimentSelect+` WHERE e.environment_id = ? AND e.key = ?`, s.EnvironmentID, key)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return core.ErrNotFound
		}
		out = es[0]
		return nil
	})
	return out, err
}

// experimentWhere renders the conditions of an experiment list.
func experimentWhere(s *experiment.Scope, q experiment.Query) (string, []any) {
	where := "e.environment_id = ?"
	args := []any{s.EnvironmentID}
	switch {
	case q.Active && !q.Archived:
		where += " AND e.archived_at IS NULL"
	case q.Archived && !q.Active:
		where += " AND e.archived_at IS NOT NULL"
	}
	if q.FlagKey != "" {
		where += " AND e.flag_key = ?"
		args = append(args, q.FlagKey)
	}
	if q.Status != "" {
		where += " AND EXISTS (SELECT 1 FROM experiment_iterations i WHERE i.experiment_id = e.id AND i.status = ?)"
		args = append(args, q.Status)
	}
	if q.MetricKey != "" {
		where += ` AND e.id IN (SELECT em.experiment_id FROM experiment_metrics em JOIN metrics m ON m.id = em.metric_id WHERE m.project_id = ? AND m.key = ?
			UNION SELECT em.experiment_id FROM experiment_metrics em JOIN metric_group_metrics gm ON gm.group_id = em.metric_group_id
				JOIN metrics m ON m.id = gm.metric_id WHERE m.project_id = ? AND m.key = ?)`
		args = append(args, s.ProjectID, q.MetricKey, s.ProjectID, q.MetricKey)
	}
	return where, args
}

// ListExperiments returns one page of experiments, oldest first, and the
// number of all matches.
func (db *DB) ListExperiments(ctx context.Context, s *experiment.Scope, q experiment.Query) ([]experiment.Experiment, int, error) {
	where, args := experimentWhere(s, q)
	var out []experiment.Experiment
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		if err := t.row(ctx, `SELECT COUNT(*) FROM experiments e WHERE `+where, args...).Scan(&total); err != nil {
			return err
		}
		if total == 0 || q.Offset >= total {
			return nil
		}
		es, err := loadExperiments(ctx, t, experimentSelect+` WHERE `+where+` ORDER BY e.created_at, e.id LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
		for _, e := range es {
			out = append(out, *e)
		}
		return err
	})
	return out, total, err
}

// SaveExperiment stores an experiment, its iterations and the rows that say
// what they use.
func (t *txn) SaveExperiment(ctx context.Context, e *experiment.Experiment, prevVersion int) error {
	if err := lockMaintainers(ctx, t, e.MaintainerID, ""); err != nil {
		return err
	}
	// What uses a metric decides which metrics connection filters match.
	if err := bumpGeneration(ctx, t, e.ProjectID); err != nil {
		return err
	}
	tags, _ := json.Marshal(core.OrEmpty(e.Tags))
	var archived any
	if e.ArchivedAt != nil {
		archived = ms(*e.ArchivedAt)
	}
	var flagKey string
	var current any
	if c := e.Current(); c != nil {
		flagKey, current = c.Def.FlagKey(), c.ID
	}
	if prevVersion == 0 {
		if _, err := t.exec(ctx, `INSERT INTO experiments (id, project_id, environment_id, key, name, status, flag_key, flag_name, created_at, archived_at,
			description, maintainer_id, holdout_id, tags, version, updated_at, current_iteration_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.ProjectID, e.EnvironmentID, e.Key, e.Name, e.Status(), flagKey, flagKey, ms(e.CreatedAt), archived,
			e.Description, nullString(e.MaintainerID), e.HoldoutID, string(tags), e.Version, ms(e.UpdatedAt), current); err != nil {
			return classify(err)
		}
	} else {
		res, err := t.exec(ctx, `UPDATE experiments SET name = ?, status = ?, flag_key = ?, flag_name = ?, archived_at = ?, description = ?,
			maintainer_id = ?, holdout_id = ?, tags = ?, version = ?, updated_at = ?, current_iteration_id = ? WHERE id = ? AND version = ?`,
			e.Name, e.Status(), flagKey, flagKey, archived, e.Description, nullString(e.MaintainerID), e.HoldoutID, string(tags),
			e.Version, ms(e.UpdatedAt), current, e.ID, prevVersion)
		if err != nil {
			return classify(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return core.ErrStale
		}
		for _, q := range []string{`DELETE FROM experiment_metrics WHERE experiment_id = ?`, `DELETE FROM experiment_iterations WHERE experiment_id = ?`} {
			if _, err := t.exec(ctx, q, e.ID); err != nil {
				return err
			}
		}
	}
	for _, it := range e.Iterations {
		def, err := json.Marshal(it.Def)
		if err != nil {
			return err
		}
		var pins any
		if it.Pins != nil {
			b, err := json.Marshal(it.Pins)
			if err != nil {
				return err
			}
			pins = string(b)
		}
		if _, err := t.exec(ctx, `INSERT INTO experiment_iterations (id, experiment_id, number, status, def, pins, winning_treatment_id, winning_reason,
			created_at, started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			it.ID, e.ID, it.Number, it.Status, string(def), pins, it.WinningTreatmentID, it.WinningReason,
			ms(it.CreatedAt), msOrNil(it.StartedAt), msOrNil(it.EndedAt)); err != nil {
			return classify(err)
		}
		type use struct{ metric, group string }
		seen := map[use]bool{}
		add := func(u use) error {
			if seen[u] {
				return nil
			}
			seen[u] = true
			_, err := t.exec(ctx, `INSERT INTO experiment_metrics (experiment_id, metric_id, metric_group_id, iteration_id) VALUES (?, ?, ?, ?)`,
				e.ID, nullString(u.metric), nullString(u.group), it.ID)
			return classify(err)
		}
		for _, r := range it.Def.Metrics {
			u := use{metric: r.ID}
			if r.IsGroup {
				u = use{group: r.ID}
			}
			if err := add(u); err != nil {
				return err
			}
		}
		// A started iteration also uses the metrics its groups held when it
		// started, whatever the groups hold now.
		for _, p := range it.Pins {
			for _, m := range p.Members {
				if err := add(use{metric: m.ID}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func msOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ms(*t)
}

// ImportExperiments stores many new experiments, as built by the
// experiment service, in one transaction without audit entries: for bulk
// loads such as benchmarks. Their iterations must already be valid.
func (db *DB) ImportExperiments(ctx context.Context, es []*experiment.Experiment) error {
	if err := db.tx(ctx, true, func(t *txn) error {
		for _, e := range es {
			if err := t.SaveExperiment(ctx, e, 0); err != nil {
				return fmt.Errorf("experiment %q: %w", e.Key, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return db.Analyze(ctx)
}
