package store

import (
	"context"
	"time"

	"github.com/metricsd/metricsd/internal/account"
)

// Web UI sessions (account.SessionStore). Their writes are single
// statements outside the catalog's write seam: a session is no catalog
// data, has no audit entry and changes no cached representation.

// CreateSession stores a new session.
func (db *DB) CreateSession(ctx context.Context, s *account.Session) error {
	return withRetry(ctx, func() error {
		return db.tx(ctx, true, func(t *txn) error {
			_, err := t.exec(ctx, `INSERT INTO web_sessions (id_hash, token_id, token_hash, member_id, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				s.IDHash, s.TokenID, s.TokenHash, s.MemberID, ms(s.CreatedAt), ms(s.LastSeenAt), ms(s.ExpiresAt))
			return err
		})
	})
}

// SessionByHash returns the session whose ID hashes to idHash.
func (db *DB) SessionByHash(ctx context.Context, idHash []byte) (*account.Session, error) {
	var s account.Session
	var created, seen, expires int64
	err := db.readRow(ctx, `SELECT id_hash, token_id, token_hash, member_id, created_at, last_seen_at, expires_at FROM web_sessions WHERE id_hash = ?`, idHash).
		Scan(&s.IDHash, &s.TokenID, &s.TokenHash, &s.MemberID, &created, &seen, &expires)
	if err != nil {
		return nil, classify(err)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMS(created), fromMS(seen), fromMS(expires)
	return &s, nil
}

// TouchSession records that the session served a request at seen.
func (db *DB) TouchSession(ctx context.Context, idHash []byte, seen time.Time) error {
	return db.sessionWrite(ctx, `UPDATE web_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?`, ms(seen), idHash, ms(seen))
}

// DeleteSession deletes the session; deleting one that is gone is no error.
func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	return db.sessionWrite(ctx, `DELETE FROM web_sessions WHERE id_hash = ?`, idHash)
}

// DeleteExpiredSessions deletes the sessions past their absolute end or
// idle since before idleSince.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now, idleSince time.Time) (int64, error) {
	var n int64
	err := withRetry(ctx, func() error {
		return db.tx(ctx, true, func(t *txn) error {
			res, err := t.exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= ? OR last_seen_at < ?`, ms(now), ms(idleSince))
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
	})
	return n, err
}

func (db *DB) sessionWrite(ctx context.Context, q string, args ...any) error {
	return withRetry(ctx, func() error {
		return db.tx(ctx, true, func(t *txn) error {
			_, err := t.exec(ctx, q, args...)
			return err
		})
	})
}
