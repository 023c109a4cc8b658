package store

import (
	"context"
	"math/rand/v2"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

const projectCols = `id, key, name, tags, include_in_snippet, using_mobile_key, using_environment_id, created_at`

func scanProject(s scanner) (*catalog.Project, error) {
	var p catalog.Project
	var tags string
	var created int64
	if err := s.Scan(&p.ID, &p.Key, &p.Name, &tags, &p.IncludeInSnippetByDefault, &p.UsingMobileKey, &p.UsingEnvironmentID, &created); err != nil {
		return nil, classify(err)
	}
	p.Tags, p.CreatedAt = decodeStrings(tags), fromMS(created)
	return &p, nil
}

const envCols = `id, project_id, key, name, color, api_key, mobile_key, default_ttl, secure_mode, default_track_events, require_comments, confirm_changes, critical, tags, created_at`

func scanEnvironment(s scanner) (*catalog.Environment, error) {
	var e catalog.Environment
	var tags string
	var created int64
	if err := s.Scan(&e.ID, &e.ProjectID, &e.Key, &e.Name, &e.Color, &e.APIKey, &e.MobileKey, &e.DefaultTTL, &e.SecureMode,
		&e.DefaultTrackEvents, &e.RequireComments, &e.ConfirmChanges, &e.Critical, &tags, &created); err != nil {
		return nil, classify(err)
	}
	e.Tags, e.CreatedAt = decodeStrings(tags), fromMS(created)
	return &e, nil
}

func insertProject(ctx context.Context, t *txn, p *catalog.Project, envs []catalog.Environment) error {
	// The generation starts at a random value so that a project re-created
	// under the same ID never meets count cache entries of its predecessor.
	// generation_base keeps that value, so that cached lists can tell the
	// new project from the old one (metric_ids.go).
	gen := rand.Int64N(1 << 62)
	if _, err := t.exec(ctx, `INSERT INTO projects (`+projectCols+`, metrics_generation, generation_base) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Key, p.Name, encodeStrings(p.Tags), p.IncludeInSnippetByDefault, p.UsingMobileKey, p.UsingEnvironmentID, ms(p.CreatedAt),
		gen, gen); err != nil {
		return err
	}
	for _, e := range envs {
		if _, err := t.exec(ctx, `INSERT INTO environments (`+envCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, p.ID, e.Key, e.Name, e.Color, e.APIKey, e.MobileKey, e.DefaultTTL, e.SecureMode,
			e.DefaultTrackEvents, e.RequireComments, e.ConfirmChanges, e.Critical, encodeStrings(e.Tags), ms(e.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// CreateProject stores a project and its environments.
func (t *txn) CreateProject(ctx context.Context, p *catalog.Project, envs []catalog.Environment) error {
	// Replicas remember generations by project key, which a new project
	// may reuse.
	t.bumped = true
	return insertProject(ctx, t, p, envs)
}

// Project resolves a project key inside a write and locks the project row
// against other writers of the project until the write ends. Every write
// of a project's metrics and groups starts here, so they take their locks
// in one order (project, then metrics and groups) and cannot deadlock one
// another; they serialise on the row that bumpGeneration updates anyway.
// SQLite serialises all writers already.
func (t *txn) Project(ctx context.Context, key string) (*catalog.Project, error) {
	return scanProject(t.row(ctx, `SELECT `+projectCols+` FROM projects WHERE key = ?`+t.d.lockProject, key))
}

// GetProject returns a project by key.
func (db *DB) GetProject(ctx context.Context, key string) (*catalog.Project, error) {
	return scanProject(db.readRow(ctx, `SELECT `+projectCols+` FROM projects WHERE key = ?`, key))
}

// DeleteProject removes a project; its environments, metrics and every
// resource under it go with it.
func (t *txn) DeleteProject(ctx context.Context, key string) error {
	// The project's generation goes with it: replicas must forget it.
	t.bumped = true
	// References to the project's metrics from rows that cascade from
	// the project too go first: PostgreSQL checks them before it has
	// cascaded to the referencing rows.
	for _, q := range []string{
		`DELETE FROM metric_group_metrics WHERE group_id IN (SELECT g.id FROM metric_groups g JOIN projects p ON p.id = g.project_id WHERE p.key = ?)`,
		`DELETE FROM experiment_metrics WHERE experiment_id IN (SELECT e.id FROM experiments e JOIN projects p ON p.id = e.project_id WHERE p.key = ?)`,
		`DELETE FROM guarded_rollout_metrics WHERE rollout_id IN (SELECT r.id FROM guarded_rollouts r JOIN projects p ON p.id = r.project_id WHERE p.key = ?)`,
		// Payload IDs reference their environment without a foreign key
		// (migration 0019).
		`DELETE FROM event_payloads WHERE environment_id IN (SELECT e.id FROM environments e JOIN projects p ON p.id = e.project_id WHERE p.key = ?)`,
	} {
		if _, err := t.exec(ctx, q, key); err != nil {
			return err
		}
	}
	res, err := t.exec(ctx, `DELETE FROM projects WHERE key = ?`, key)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	return nil
}

// Environments returns a project's environments in creation order, inside
// a write.
func (t *txn) Environments(ctx context.Context, projectID string) ([]catalog.Environment, error) {
	rows, err := t.query(ctx, `SELECT `+envCols+` FROM environments WHERE project_id = ? ORDER BY created_at, id`, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []catalog.Environment
	for rows.Next() {
		e, err := scanEnvironment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// ListEnvironments returns a project's environments in creation order.
func (db *DB) ListEnvironments(ctx context.Context, projectID string) ([]catalog.Environment, error) {
	var out []catalog.Environment
	err := db.tx(ctx, false, func(t *txn) (err error) {
		out, err = t.Environments(ctx, projectID)
		return err
	})
	return out, err
}

// GetEnvironment returns one environment of a project.
func (db *DB) GetEnvironment(ctx context.Context, projectID, key string) (*catalog.Environment, error) {
	return scanEnvironment(db.readRow(ctx, `SELECT `+envCols+` FROM environments WHERE project_id = ? AND key = ?`, projectID, key))
}
