package events

import (
	"context"
	"maps"
	"slices"
)

// LogRecord is one committed record of the event log.
type LogRecord struct {
	EnvID string
	Data  []byte
}

// FoldTx is the unit of work of one fold.
type FoldTx interface {
	// TakeLog removes up to limit records from the log and returns them;
	// the removal commits or rolls back with the rest of the transaction.
	TakeLog(ctx context.Context, limit int) ([]LogRecord, error)
	// Rollups returns the stored rows among keys.
	Rollups(ctx context.Context, keys []RollupKey) (map[RollupKey]*Rollup, error)
	// PutRollups stores rows, replacing those that exist.
	PutRollups(ctx context.Context, rows map[RollupKey]*Rollup) error
}

// Fold adds up to limit records of the event log into the hourly rollup
// rows within tx, which also removes them from the log: a record is added
// exactly once however the transaction ends (a fold that fails or is
// killed leaves both the log and the rows as they were). It returns the
// records taken, and how many of them could not be read: those are
// dropped, as they can never be read and leaving them would stop every
// later fold.
func Fold(ctx context.Context, tx FoldTx, limit int) (taken, corrupt int, err error) {
	recs, err := tx.TakeLog(ctx, limit)
	if err != nil || len(recs) == 0 {
		return 0, 0, err
	}
	var totals Totals
	for _, rec := range recs {
		if err := totals.Add(rec.EnvID, rec.Data); err != nil {
			corrupt++
		}
	}
	total := totals.Rows()
	if len(total) == 0 {
		return len(recs), corrupt, nil
	}
	keys := slices.Collect(maps.Keys(total))
	stored, err := tx.Rollups(ctx, keys)
	if err != nil {
		return 0, 0, err
	}
	for k, r := range total {
		if old := stored[k]; old != nil {
			old.Merge(r)
			total[k] = old
		}
	}
	if err := tx.PutRollups(ctx, total); err != nil {
		return 0, 0, err
	}
	return len(recs), corrupt, nil
}
