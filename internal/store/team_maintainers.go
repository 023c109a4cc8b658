package store

import (
	"context"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
)

// ListTeamMaintainers returns one page of the members who maintain a team,
// ordered by email like the team's maintainers expansion, and their number,
// from one snapshot. An unknown team is core.ErrNotFound.
func (db *DB) ListTeamMaintainers(ctx context.Context, teamKey string, page core.Page) ([]account.Member, int, error) {
	var out []account.Member
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		var exists int
		if err := t.row(ctx, `SELECT COUNT(*) FROM teams WHERE key = ?`, teamKey).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return core.ErrNotFound
		}
		if err := t.row(ctx, `SELECT COUNT(*) FROM team_maintainers WHERE team_key = ?`, teamKey).Scan(&total); err != nil {
			return err
		}
		if total == 0 || page.Offset >= total {
			return nil
		}
		rows, err := t.query(ctx, `SELECT `+memberJoinCols+` FROM team_maintainers tmt JOIN members mb ON mb.id = tmt.member_id
			WHERE tmt.team_key = ? ORDER BY mb.email, mb.id LIMIT ? OFFSET ?`, teamKey, page.Limit, page.Offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMember(rows)
			if err != nil {
				return err
			}
			out = append(out, *m)
		}
		return rows.Err()
	})
	return out, total, err
}
