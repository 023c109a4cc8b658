package store

import (
	"context"

	"github.com/metricsd/metricsd/internal/audit"
)

// seedAuditChunk is how many entries SeedAudit inserts per transaction:
// large enough to be a bulk load, small enough that the insert statement is
// prepared (after the first chunk) for the rest.
const seedAuditChunk = 5000

// SeedAudit inserts entries as they are, IDs and dates included, in a few
// large transactions, then refreshes the planner's statistics as a bulk
// import does. Benchmarks use it to fill the audit log quickly; one
// Transact records one change.
func (db *DB) SeedAudit(ctx context.Context, entries []audit.Entry) error {
	for len(entries) > 0 {
		chunk := entries[:min(len(entries), seedAuditChunk)]
		entries = entries[len(chunk):]
		err := db.tx(ctx, true, func(t *txn) error {
			for i := range chunk {
				if err := insertAuditEntry(ctx, t, &chunk[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return db.Analyze(ctx)
}
