package store

import (
	"context"

	"github.com/metricsd/metricsd/internal/catalog"
)

// EnvironmentByClientSideID returns the environment whose client-side ID
// (its _id) is id, reporting an unknown one with core.ErrNotFound. Browser
// SDKs name their environment this way; the primary key makes it one
// indexed read.
func (db *DB) EnvironmentByClientSideID(ctx context.Context, id string) (*catalog.Environment, error) {
	return scanEnvironment(db.readRow(ctx, `SELECT `+envCols+` FROM environments WHERE id = ?`, id))
}
