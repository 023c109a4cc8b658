package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
)

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func encodeStrings(s []string) string {
	if s == nil {
		s = []string{}
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func decodeStrings(s string) []string {
	out := []string{}
	_ = json.Unmarshal([]byte(s), &out)
	return out
}

const memberCols = `id, email, first_name, last_name, role, created_at`

type scanner interface{ Scan(dest ...any) error }

func scanMember(s scanner) (*account.Member, error) {
	var m account.Member
	var created int64
	if err := s.Scan(&m.ID, &m.Email, &m.FirstName, &m.LastName, &m.Role, &created); err != nil {
		return nil, classify(err)
	}
	m.CreatedAt = fromMS(created)
	return &m, nil
}

func insertMember(ctx context.Context, t *txn, m *account.Member) error {
	_, err := t.exec(ctx, `INSERT INTO members (`+memberCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		m.ID, m.Email, m.FirstName, m.LastName, m.Role, ms(m.CreatedAt))
	return err
}

func insertToken(ctx context.Context, t *txn, tok *account.Token) error {
	_, err := t.exec(ctx, `INSERT INTO tokens (id, member_id, name, hash, ending, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		tok.ID, tok.MemberID, tok.Name, tok.Hash, tok.Ending, ms(tok.CreatedAt), ms(tok.CreatedAt))
	return err
}

// GetMember returns a member by ID.
func (db *DB) GetMember(ctx context.Context, id string) (*account.Member, error) {
	var m *account.Member
	err := db.tx(ctx, false, func(t *txn) (err error) {
		m, err = scanMember(t.row(ctx, `SELECT `+memberCols+` FROM members WHERE id = ?`, id))
		return err
	})
	return m, err
}

// Owner returns the earliest owner.
func (db *DB) Owner(ctx context.Context) (*account.Member, error) {
	var m *account.Member
	err := db.tx(ctx, false, func(t *txn) (err error) {
		m, err = scanMember(t.row(ctx, `SELECT `+memberCols+` FROM members WHERE role = 'owner' ORDER BY created_at, id LIMIT 1`))
		return err
	})
	return m, err
}

// EnsureToken stores tok unless its hash is already known. It is one
// statement that the unique index on hash arbitrates, so replicas starting
// together with the same new admin token all succeed and store it once (a
// check before the insert would let two of them both see it missing).
// ON CONFLICT ... DO NOTHING is understood by PostgreSQL and SQLite >= 3.24.
func (db *DB) EnsureToken(ctx context.Context, tok *account.Token) error {
	return db.tx(ctx, true, func(t *txn) error {
		_, err := t.exec(ctx, `INSERT INTO tokens (id, member_id, name, hash, ending, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (hash) DO NOTHING`,
			tok.ID, tok.MemberID, tok.Name, tok.Hash, tok.Ending, ms(tok.CreatedAt), ms(tok.CreatedAt))
		return err
	})
}

// Bootstrap seeds an empty database once, even with replicas racing.
func (db *DB) Bootstrap(ctx context.Context, seed *catalog.Seed) (bool, error) {
	created := false
	err := db.tx(ctx, true, func(t *txn) error {
		if db.dialect.lock != "" {
			if _, err := t.exec(ctx, db.dialect.lock); err != nil {
				return err
			}
		}
		var n int
		if err := t.row(ctx, `SELECT COUNT(*) FROM members`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if err := insertMember(ctx, t, &seed.Owner); err != nil {
			return err
		}
		if err := insertToken(ctx, t, &seed.Token); err != nil {
			return err
		}
		if err := insertProject(ctx, t, &seed.Project, seed.Environments); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created, err
}
