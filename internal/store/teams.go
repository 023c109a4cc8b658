package store

import (
	"context"
	"slices"
	"strings"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
)

// teamCols reads a team aliased t and its member count.
const teamCols = `t.key, t.name, t.description, t.version, t.created_at, t.updated_at,
	(SELECT COUNT(*) FROM team_members tm WHERE tm.team_key = t.key)`

func scanTeam(s scanner) (*account.Team, error) {
	var t account.Team
	var created, updated int64
	if err := s.Scan(&t.Key, &t.Name, &t.Description, &t.Version, &created, &updated, &t.MemberCount); err != nil {
		return nil, classify(err)
	}
	t.CreatedAt, t.UpdatedAt = fromMS(created), fromMS(updated)
	t.Maintainers = []account.Member{}
	t.MaintainerIDs = []string{}
	return &t, nil
}

// The existence check of a member and the insert that refers to it are one
// statement; no row inserted means no such member.
const (
	addTeamMember     = `INSERT INTO team_members (team_key, member_id, created_at) SELECT ?, id, ? FROM members WHERE id = ?`
	addTeamMaintainer = `INSERT INTO team_maintainers (team_key, member_id, created_at) SELECT ?, id, ? FROM members WHERE id = ?`
)

// addTeamRows inserts the rows of ids with one of the statements above and
// returns the IDs that name no member.
func addTeamRows(ctx context.Context, t *txn, stmt string, team *account.Team, ids []string) ([]string, error) {
	var missing []string
	for _, id := range ids {
		res, err := t.exec(ctx, stmt, team.Key, ms(team.UpdatedAt), id)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// CreateTeam stores a team with its members and maintainers.
func (t *txn) CreateTeam(ctx context.Context, team *account.Team) error {
	if _, err := t.exec(ctx, `INSERT INTO teams (key, name, description, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		team.Key, team.Name, team.Description, team.Version, ms(team.CreatedAt), ms(team.UpdatedAt)); err != nil {
		return err
	}
	missing, err := addTeamRows(ctx, t, addTeamMember, team, team.MemberIDs)
	if err != nil {
		return err
	}
	more, err := addTeamRows(ctx, t, addTeamMaintainer, team, team.MaintainerIDs)
	if err != nil {
		return err
	}
	if err := setTeamRoles(ctx, t, team); err != nil {
		return err
	}
	return missingMembers(append(missing, more...))
}

// setTeamRoles stores the custom roles of a team, in its order, with the
// time each was applied.
func setTeamRoles(ctx context.Context, t *txn, team *account.Team) error {
	if _, err := t.exec(ctx, `DELETE FROM team_custom_roles WHERE team_key = ?`, team.Key); err != nil {
		return err
	}
	for i, r := range team.Roles {
		if _, err := t.exec(ctx, `INSERT INTO team_custom_roles (team_key, role_id, position, applied_at) VALUES (?, ?, ?, ?)`,
			team.Key, r.ID, i, ms(r.AppliedAt)); err != nil {
			return err
		}
	}
	return nil
}

// loadTeamRoles fills in the custom roles of teams, in one statement.
func loadTeamRoles(ctx context.Context, t *txn, teams []*account.Team) error {
	if len(teams) == 0 {
		return nil
	}
	byKey := make(map[string]*account.Team, len(teams))
	args := make([]any, 0, len(teams))
	for _, tm := range teams {
		byKey[tm.Key] = tm
		tm.Roles = nil
		args = append(args, tm.Key)
	}
	rows, err := t.query(ctx, `SELECT tr.team_key, r.id, r.key, r.name, tr.applied_at FROM team_custom_roles tr JOIN custom_roles r ON r.id = tr.role_id
		WHERE tr.team_key IN (`+placeholders(len(teams))+`) ORDER BY tr.team_key, tr.position`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var r account.TeamRole
		var at int64
		if err := rows.Scan(&key, &r.ID, &r.Key, &r.Name, &at); err != nil {
			return err
		}
		r.AppliedAt = fromMS(at)
		byKey[key].Roles = append(byKey[key].Roles, r)
	}
	return rows.Err()
}

func missingMembers(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	return &core.MissingRefsError{What: "member", Keys: slices.Compact(ids)}
}

// GetTeam returns a team with its member IDs, member count and maintainers.
func (db *DB) GetTeam(ctx context.Context, key string) (*account.Team, error) {
	var team *account.Team
	err := db.tx(ctx, false, func(t *txn) (err error) {
		team, err = t.team(ctx, key, "")
		return err
	})
	return team, err
}

// TeamForUpdate returns a team like GetTeam, locked inside a write.
func (t *txn) TeamForUpdate(ctx context.Context, key string) (*account.Team, error) {
	return t.team(ctx, key, t.d.forUpdate)
}

func (t *txn) team(ctx context.Context, key, lock string) (*account.Team, error) {
	if lock != "" {
		// Lock the bare row first, then read (see MetricForUpdate).
		if _, err := t.exec(ctx, `SELECT 1 FROM teams WHERE key = ?`+lock, key); err != nil {
			return nil, err
		}
	}
	team, err := scanTeam(t.row(ctx, `SELECT `+teamCols+` FROM teams t WHERE t.key = ?`, key))
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT member_id FROM team_members WHERE team_key = ? ORDER BY member_id`, key)
	if err != nil {
		return nil, err
	}
	if team.MemberIDs, err = collectStrings(rows); err != nil {
		return nil, err
	}
	if team.MemberIDs == nil {
		team.MemberIDs = []string{}
	}
	if err := loadTeamRoles(ctx, t, []*account.Team{team}); err != nil {
		return nil, err
	}
	return team, loadMaintainers(ctx, t, []*account.Team{team})
}

// loadMaintainers fills in the maintainers of teams, in one statement.
func loadMaintainers(ctx context.Context, t *txn, teams []*account.Team) error {
	if len(teams) == 0 {
		return nil
	}
	byKey := make(map[string]*account.Team, len(teams))
	args := make([]any, 0, len(teams))
	for _, tm := range teams {
		byKey[tm.Key] = tm
		args = append(args, tm.Key)
	}
	rows, err := t.query(ctx, `SELECT tmt.team_key, `+memberJoinCols+` FROM team_maintainers tmt JOIN members mb ON mb.id = tmt.member_id
		WHERE tmt.team_key IN (`+placeholders(len(teams))+`) ORDER BY tmt.team_key, mb.email, mb.id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var m account.Member
		var created int64
		if err := rows.Scan(&key, &m.ID, &m.Email, &m.FirstName, &m.LastName, &m.Role, &created); err != nil {
			return err
		}
		m.CreatedAt = fromMS(created)
		tm := byKey[key]
		tm.Maintainers = append(tm.Maintainers, m)
		tm.MaintainerIDs = append(tm.MaintainerIDs, m.ID)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, tm := range teams {
		slices.Sort(tm.MaintainerIDs)
	}
	return nil
}

func teamWhere(q account.TeamQuery) (string, []any) {
	conds := []string{"1 = 1"}
	var args []any
	if q.Query != "" {
		conds = append(conds, "(lower(t.key) LIKE ? ESCAPE '!' OR lower(t.name) LIKE ? ESCAPE '!')")
		args = append(args, likePattern(q.Query), likePattern(q.Query))
	}
	if q.NoMembers != nil {
		exists := "EXISTS (SELECT 1 FROM team_members tm WHERE tm.team_key = t.key)"
		if *q.NoMembers {
			exists = "NOT " + exists
		}
		conds = append(conds, exists)
	}
	return strings.Join(conds, " AND "), args
}

// ListTeams returns one page of teams in creation order with their member
// counts and maintainers, and the number of all matches.
func (db *DB) ListTeams(ctx context.Context, q account.TeamQuery) ([]account.Team, int, error) {
	where, args := teamWhere(q)
	out := []account.Team{}
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		if err := t.row(ctx, `SELECT COUNT(*) FROM teams t WHERE `+where, args...).Scan(&total); err != nil {
			return err
		}
		if total == 0 || q.Offset >= total {
			return nil
		}
		rows, err := t.query(ctx, `SELECT `+teamCols+` FROM teams t WHERE `+where+` ORDER BY t.created_at, t.key LIMIT ? OFFSET ?`,
			append(args, q.Limit, q.Offset)...)
		if err != nil {
			return err
		}
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				tm, err := scanTeam(rows)
				if err != nil {
					return err
				}
				out = append(out, *tm)
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
		ptrs := make([]*account.Team, len(out))
		for i := range out {
			ptrs[i] = &out[i]
		}
		if err := loadTeamRoles(ctx, t, ptrs); err != nil {
			return err
		}
		return loadMaintainers(ctx, t, ptrs)
	})
	return out, total, err
}

// UpdateTeam stores the team's name, description, members and maintainers
// if its version is still prevVersion. Memberships that stay keep their
// rows.
func (t *txn) UpdateTeam(ctx context.Context, team *account.Team, prevVersion int) error {
	res, err := t.exec(ctx, `UPDATE teams SET name = ?, description = ?, version = ?, updated_at = ? WHERE key = ? AND version = ?`,
		team.Name, team.Description, team.Version, ms(team.UpdatedAt), team.Key, prevVersion)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		if err := t.row(ctx, `SELECT 1 FROM teams WHERE key = ?`, team.Key).Scan(&one); err != nil {
			return classify(err)
		}
		return core.ErrStale
	}
	// Metric groups show their maintainer team's name.
	if err := bumpAllGenerations(ctx, t); err != nil {
		return err
	}
	var missing []string
	for _, set := range []struct {
		table, add string
		ids        []string
	}{
		{"team_members", addTeamMember, team.MemberIDs},
		{"team_maintainers", addTeamMaintainer, team.MaintainerIDs},
	} {
		rows, err := t.query(ctx, `SELECT member_id FROM `+set.table+` WHERE team_key = ?`, team.Key)
		if err != nil {
			return err
		}
		cur, err := collectStrings(rows)
		if err != nil {
			return err
		}
		want := make(map[string]bool, len(set.ids))
		for _, id := range set.ids {
			want[id] = true
		}
		for _, id := range cur {
			if want[id] {
				delete(want, id) // stays
				continue
			}
			if _, err := t.exec(ctx, `DELETE FROM `+set.table+` WHERE team_key = ? AND member_id = ?`, team.Key, id); err != nil {
				return err
			}
		}
		var added []string
		for _, id := range set.ids {
			if want[id] {
				added = append(added, id)
			}
		}
		m, err := addTeamRows(ctx, t, set.add, team, added)
		if err != nil {
			return err
		}
		missing = append(missing, m...)
	}
	if err := setTeamRoles(ctx, t, team); err != nil {
		return err
	}
	return missingMembers(missing)
}

// DeleteTeam removes a team and its memberships unless it maintains metrics
// or metric groups. The row goes first, so that on PostgreSQL the team is
// locked while its uses are checked.
func (t *txn) DeleteTeam(ctx context.Context, key string) error {
	res, err := t.exec(ctx, `DELETE FROM teams WHERE key = ?`, key)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	refs, err := maintained(ctx, t, "maintainer_team_key", key)
	if err != nil {
		return err
	}
	if len(refs) > 0 {
		return &account.MaintainsError{Refs: refs}
	}
	return nil
}
