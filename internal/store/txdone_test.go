package store

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/metricsd/metricsd/internal/testdb"
)

// TestTxEndedByContext: when a request's context ends in the middle of a
// read, database/sql rolls the transaction back and the next statement
// fails with sql.ErrTxDone; the store reports the context's error, which
// the API treats as a client gone (or a deadline passed), not as an
// internal error (a 500 logged at error level).
func TestTxEndedByContext(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		db, err := Open(context.Background(), b.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ctx, cancel := context.WithCancel(context.Background())
		err = db.tx(ctx, false, func(tx *txn) error {
			rows, err := tx.query(ctx, `SELECT 1`)
			if err != nil {
				return err
			}
			if err := rows.Close(); err != nil {
				return err
			}
			cancel()
			// The rollback happens in database/sql's own goroutine.
			for {
				if _, err := tx.tx.ExecContext(context.Background(), `SELECT 1`); err != nil {
					return err
				}
				runtime.Gosched()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("tx ended by its context: %v, want context.Canceled", err)
		}
	})
}
