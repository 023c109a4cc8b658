package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// maxAttempts bounds how often a write is retried after the database
// refused it for a transient reason (SQLite busy, PostgreSQL serialization
// failure or deadlock).
const maxAttempts = 5

// Transact is the one write seam: it runs fn in a write transaction and, when
// fn returns a change, records its audit entry in that same transaction, so
// an entry exists exactly when its change was committed. The transaction
// rolls back when fn fails or panics. Transient conflicts re-run fn from the
// start, so fn must read everything it decides on through tx.
func (db *DB) Transact(ctx context.Context, fn func(tx catalog.Tx) (*audit.Change, error)) error {
	return withRetry(ctx, func() error {
		var statements int64
		// kind is the target kind of the entry this attempt wrote, if any.
		var kind string
		err := db.tx(ctx, true, func(t *txn) error {
			defer func() { statements = t.n }()
			change, err := fn(t)
			if err != nil || change == nil {
				return err
			}
			e := audit.NewEntry(ctx, *change, time.Now().UTC().Truncate(time.Millisecond))
			e.ID = db.auditIDs.Next(e.Date)
			if err := insertAuditEntry(ctx, t, &e); err != nil {
				return err
			}
			kind = change.Target.Kind
			return nil
		})
		if err == nil {
			db.stats.wrote(statements)
		}
		if err == nil && kind != "" && db.observer != nil {
			db.observer.AuditWritten(kind)
		}
		return err
	})
}

// withRetry runs attempt, one whole transaction, until it succeeds, fails
// for a reason other than a transient conflict, or has been tried
// maxAttempts times; a transaction that still conflicts then becomes the
// conflict error exhausted makes of it.
func withRetry(ctx context.Context, attempt func() error) error {
	for n := 1; ; n++ {
		err := attempt()
		if !retryable(err) {
			return err
		}
		if n == maxAttempts {
			return exhausted(err)
		}
		// Back off with jitter, so that writers that collided do not
		// collide again in step.
		wait := time.Duration(n*n)*5*time.Millisecond + time.Duration(rand.Int64N(int64(10*time.Millisecond)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// exhausted classifies a transient refusal that outlasted every retry:
// another writer kept winning (409, retry) or SQLite stayed locked by
// another process (503, retry later). Never an internal error.
func exhausted(err error) error {
	if isBusy(err) {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %v", core.ErrStale, err)
}

// retryable reports whether err is a transient refusal worth a retry.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if isBusy(err) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// TransactAccounts is Transact for member and team writes: the same seam,
// typed for the account package's unit of work.
func (db *DB) TransactAccounts(ctx context.Context, fn func(tx account.Tx) (*audit.Change, error)) error {
	return db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) { return fn(tx) })
}
