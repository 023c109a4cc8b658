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

// Bounds of one fold: it stops taking records once it has read
// foldMaxBytes of them or holds foldMaxRows rows, and reports more.
const (
	foldMaxBytes = 16 << 20
	foldMaxRows  = 50_000
)

// Fold adds records of the event log into the hourly rollup rows within
// tx, which also removes them from the log: a record is added exactly once
// however the transaction ends (a fold that fails or is killed leaves both
// the log and the rows as they were). It takes records limit at a time
// until the log has no more or the fold's bounds are reached, and then
// reads and writes each row it touched once, however many records added
// to it: a fold costs one write per row, not one per row and chunk. It
// returns the records taken; how many of them could not be read (those
// are dropped, as they can never be read and leaving them would stop
// every later fold); and more, when it stopped at its bounds and the log
// may hold more records.
func Fold(ctx context.Context, tx FoldTx, limit int) (taken, corrupt int, more bool, err error) {
	var totals Totals
	read := 0
	for {
		recs, err := tx.TakeLog(ctx, limit)
		if err != nil {
			return 0, 0, false, err
		}
		taken += len(recs)
		for _, rec := range recs {
			read += len(rec.Data)
			if err := totals.Add(rec.EnvID, rec.Data); err != nil {
				corrupt++
			}
		}
		if len(recs) < limit {
			break
		}
		if read >= foldMaxBytes || totals.Len() >= foldMaxRows {
			more = true
			break
		}
	}
	total := totals.Rows()
	if len(total) == 0 {
		return taken, corrupt, more, nil
	}
	keys := slices.Collect(maps.Keys(total))
	stored, err := tx.Rollups(ctx, keys)
	if err != nil {
		return 0, 0, false, err
	}
	for k, r := range total {
		if old := stored[k]; old != nil {
			old.Merge(r)
			total[k] = old
		}
	}
	if err := tx.PutRollups(ctx, total); err != nil {
		return 0, 0, false, err
	}
	return taken, corrupt, more, nil
}
