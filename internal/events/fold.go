package events

import (
	"context"
	"maps"
	"slices"
)

// LogRecord is one committed record of the event log.
type LogRecord struct {
	// ID is the record's key in the log.
	ID    string
	EnvID string
	Data  []byte
}

// FoldTx is the unit of work of one fold.
type FoldTx interface {
	// TakeLog removes up to limit records from the log and returns them;
	// the removal commits or rolls back with the rest of the transaction.
	TakeLog(ctx context.Context, limit int) ([]LogRecord, error)
	RollupTx
}

// RollupTx reads and writes rollup rows within a fold's transaction.
type RollupTx interface {
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
	g, err := Gather(ctx, tx.TakeLog, limit)
	if err != nil {
		return 0, 0, false, err
	}
	if err := g.Apply(ctx, tx); err != nil {
		return 0, 0, false, err
	}
	return len(g.IDs), g.Corrupt, g.More, nil
}

// Gathered is what the records of one fold add up to, before it is
// merged into the stored rows.
type Gathered struct {
	totals Totals
	// IDs are the records taken, in the order they came.
	IDs []string
	// Corrupt is how many of them could not be read (they add nothing).
	Corrupt int
	// More is set when the fold stopped at its bounds and the log may
	// hold more records.
	More bool
}

// Gather adds up the records take returns, limit at a time, until it
// returns fewer or the fold's bounds are reached. Taking may remove the
// records (Fold) or only read them in a snapshot, for a caller that
// removes exactly g.IDs in the transaction that applies g.
func Gather(ctx context.Context, take func(ctx context.Context, limit int) ([]LogRecord, error), limit int) (*Gathered, error) {
	g := &Gathered{}
	read := 0
	for {
		recs, err := take(ctx, limit)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			g.IDs = append(g.IDs, rec.ID)
			read += len(rec.Data)
			if err := g.totals.Add(rec.EnvID, rec.Data); err != nil {
				g.Corrupt++
			}
		}
		if len(recs) < limit {
			return g, nil
		}
		if read >= foldMaxBytes || g.totals.Len() >= foldMaxRows {
			g.More = true
			return g, nil
		}
	}
}

// Apply merges what g adds up to into the stored rows within tx: each row
// read once and written once. g is spent.
func (g *Gathered) Apply(ctx context.Context, tx RollupTx) error {
	total := g.totals.Rows()
	if len(total) == 0 {
		return nil
	}
	keys := slices.Collect(maps.Keys(total))
	stored, err := tx.Rollups(ctx, keys)
	if err != nil {
		return err
	}
	for k, r := range total {
		if old := stored[k]; old != nil {
			old.Merge(r)
			total[k] = old
		}
	}
	return tx.PutRollups(ctx, total)
}
