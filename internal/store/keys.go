package store

import (
	"context"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
)

// EnvironmentForUpdate returns an environment of a project, locked against
// other writers until the write ends.
func (t *txn) EnvironmentForUpdate(ctx context.Context, projectID, key string) (*catalog.Environment, error) {
	return scanEnvironment(t.row(ctx, `SELECT `+envCols+` FROM environments WHERE project_id = ? AND key = ?`+t.d.forUpdate, projectID, key))
}

// ReplaceSDKKey stores an environment's new SDK key; with keepUntil the old
// key is kept valid until then.
func (t *txn) ReplaceSDKKey(ctx context.Context, envID, oldKey, newKey string, keepUntil *time.Time) error {
	res, err := t.exec(ctx, `UPDATE environments SET api_key = ? WHERE id = ?`, newKey, envID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	if keepUntil == nil {
		return nil
	}
	_, err = t.exec(ctx, `INSERT INTO environment_expiring_keys (api_key, environment_id, expires_at) VALUES (?, ?, ?)`, oldKey, envID, ms(*keepUntil))
	return err
}

// ReplaceMobileKey stores an environment's new mobile key.
func (t *txn) ReplaceMobileKey(ctx context.Context, envID, newKey string) error {
	res, err := t.exec(ctx, `UPDATE environments SET mobile_key = ? WHERE id = ?`, newKey, envID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	return nil
}

const credentialEnvCols = `e.id, e.project_id, e.key, p.key`

// EnvironmentByCredential resolves an SDK key, mobile key or client-side
// ID to its environment with one index probe; an SDK key replaced with an
// expiry still resolves until it expires. Unknown credentials are
// core.ErrNotFound.
func (db *DB) EnvironmentByCredential(ctx context.Context, kind, value string, now time.Time) (*events.Env, error) {
	var q string
	args := []any{value}
	switch kind {
	case catalog.CredentialSDK:
		q = `SELECT ` + credentialEnvCols + ` FROM environments e JOIN projects p ON p.id = e.project_id WHERE e.api_key = ?
			UNION ALL SELECT ` + credentialEnvCols + ` FROM environment_expiring_keys k JOIN environments e ON e.id = k.environment_id
			JOIN projects p ON p.id = e.project_id WHERE k.api_key = ? AND k.expires_at > ?`
		args = append(args, value, ms(now))
	case catalog.CredentialMobile:
		q = `SELECT ` + credentialEnvCols + ` FROM environments e JOIN projects p ON p.id = e.project_id WHERE e.mobile_key = ?`
	case catalog.CredentialClientSide:
		q = `SELECT ` + credentialEnvCols + ` FROM environments e JOIN projects p ON p.id = e.project_id WHERE e.id = ?`
	default:
		return nil, core.ErrNotFound
	}
	var e events.Env
	if err := db.readRow(ctx, q, args...).Scan(&e.ID, &e.ProjectID, &e.Key, &e.ProjectKey); err != nil {
		return nil, classify(err)
	}
	return &e, nil
}
