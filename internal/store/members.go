package store

import (
	"context"
	"slices"
	"strings"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
)

// joinTeamIfExists adds a membership when the team exists and reports
// whether it did: the existence check and the insert are one statement.
const joinTeamIfExists = `INSERT INTO team_members (team_key, member_id, created_at) SELECT key, ?, ? FROM teams WHERE key = ?`

// CreateMembers stores members and their team memberships, all or none.
func (t *txn) CreateMembers(ctx context.Context, members []account.NewMember) error {
	var missing []string
	for i := range members {
		m := &members[i]
		if err := insertMember(ctx, t, &m.Member); err != nil {
			return &account.RowError{Index: i, Err: err}
		}
		if err := t.setRoles(ctx, "member_custom_roles", "member_id", m.ID, m.CustomRoleIDs); err != nil {
			return err
		}
		for _, key := range m.TeamKeys {
			res, err := t.exec(ctx, joinTeamIfExists, m.ID, ms(m.CreatedAt), key)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 && !slices.Contains(missing, key) {
				missing = append(missing, key)
			}
		}
	}
	if len(missing) > 0 {
		return &core.MissingRefsError{What: "team", Keys: missing}
	}
	return nil
}

// GetMemberDetail returns a member with its teams.
func (db *DB) GetMemberDetail(ctx context.Context, id string) (*account.MemberDetail, error) {
	var out *account.MemberDetail
	err := db.tx(ctx, false, func(t *txn) (err error) {
		out, err = t.memberDetail(ctx, id, "")
		return err
	})
	return out, err
}

// MemberDetail returns a member with its teams, locked inside a write.
func (t *txn) MemberDetail(ctx context.Context, id string) (*account.MemberDetail, error) {
	return t.memberDetail(ctx, id, t.d.forUpdate)
}

func (t *txn) memberDetail(ctx context.Context, id, lock string) (*account.MemberDetail, error) {
	m, err := scanMember(t.row(ctx, `SELECT `+memberCols+` FROM members WHERE id = ?`+lock, id))
	if err != nil {
		return nil, err
	}
	out, err := memberDetails(ctx, t, []account.Member{*m})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// memberWhere compiles a MemberQuery into a WHERE clause over members m.
func memberWhere(q account.MemberQuery) (string, []any) {
	conds := []string{"1 = 1"}
	var args []any
	in := func(expr string, vals []string, lower bool) {
		conds = append(conds, expr+" IN ("+placeholders(len(vals))+")")
		for _, v := range vals {
			if lower {
				v = strings.ToLower(v)
			}
			args = append(args, v)
		}
	}
	if q.Query != "" {
		conds = append(conds, "(lower(m.email) LIKE ? ESCAPE '!' OR lower(m.first_name || ' ' || m.last_name) LIKE ? ESCAPE '!')")
		args = append(args, likePattern(q.Query), likePattern(q.Query))
	}
	if len(q.Roles) > 0 {
		roles := q.Roles
		// Owners count as admins, as in LaunchDarkly.
		if slices.Contains(roles, "admin") && !slices.Contains(roles, account.RoleOwner) {
			roles = append(roles[:len(roles):len(roles)], account.RoleOwner)
		}
		in("m.role", roles, false)
	}
	if len(q.IDs) > 0 {
		in("m.id", q.IDs, false)
	}
	if len(q.Emails) > 0 {
		in("lower(m.email)", q.Emails, true)
	}
	if q.TeamKey != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM team_members tm WHERE tm.member_id = m.id AND lower(tm.team_key) = ?)")
		args = append(args, strings.ToLower(q.TeamKey))
	}
	if q.NoTeam != nil {
		exists := "EXISTS (SELECT 1 FROM team_members tm WHERE tm.member_id = m.id)"
		if *q.NoTeam {
			exists = "NOT " + exists
		}
		conds = append(conds, exists)
	}
	return strings.Join(conds, " AND "), args
}

func memberOrder(keys []core.SortKey) string {
	var parts []string
	for _, k := range keys {
		if k.Field != "displayName" {
			continue
		}
		dir := ""
		if k.Desc {
			dir = " DESC"
		}
		// The display name is first and last name, or the email without them.
		parts = append(parts, "CASE WHEN m.first_name = '' AND m.last_name = '' THEN lower(m.email) ELSE lower(trim(m.first_name || ' ' || m.last_name)) END"+dir)
	}
	return strings.Join(append(parts, "m.created_at", "m.id"), ", ")
}

// ListMembers returns one page of members with their teams and the number
// of all matches, from one snapshot.
func (db *DB) ListMembers(ctx context.Context, q account.MemberQuery) ([]account.MemberDetail, int, error) {
	where, args := memberWhere(q)
	out := []account.MemberDetail{}
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		if err := t.row(ctx, `SELECT COUNT(*) FROM members m WHERE `+where, args...).Scan(&total); err != nil {
			return err
		}
		if total == 0 || q.Offset >= total {
			return nil
		}
		rows, err := t.query(ctx, `SELECT `+memberCols+` FROM members m WHERE `+where+` ORDER BY `+memberOrder(q.Sort)+` LIMIT ? OFFSET ?`,
			append(args, q.Limit, q.Offset)...)
		if err != nil {
			return err
		}
		var ms []account.Member
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				m, err := scanMember(rows)
				if err != nil {
					return err
				}
				ms = append(ms, *m)
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
		out, err = memberDetails(ctx, t, ms)
		return err
	})
	return out, total, err
}

// memberDetails loads the teams of members, in one statement.
func memberDetails(ctx context.Context, t *txn, ms []account.Member) ([]account.MemberDetail, error) {
	out := make([]account.MemberDetail, len(ms))
	index := make(map[string]int, len(ms))
	args := make([]any, 0, 2*len(ms))
	for i, m := range ms {
		out[i] = account.MemberDetail{Member: m, Teams: []account.TeamRef{}, MaintainedTeams: []account.TeamRef{}}
		index[m.ID] = i
		args = append(args, m.ID)
	}
	if len(ms) == 0 {
		return out, nil
	}
	args = append(args, args...)
	in := placeholders(len(ms))
	rows, err := t.query(ctx, `SELECT tm.member_id, 0, t.key, t.name FROM team_members tm JOIN teams t ON t.key = tm.team_key WHERE tm.member_id IN (`+in+`)
		UNION ALL SELECT tm.member_id, 1, t.key, t.name FROM team_maintainers tm JOIN teams t ON t.key = tm.team_key WHERE tm.member_id IN (`+in+`)
		ORDER BY 1, 2, 3`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var memberID string
		var maintains int
		var ref account.TeamRef
		if err := rows.Scan(&memberID, &maintains, &ref.Key, &ref.Name); err != nil {
			return nil, err
		}
		d := &out[index[memberID]]
		if maintains == 1 {
			d.MaintainedTeams = append(d.MaintainedTeams, ref)
		} else {
			d.Teams = append(d.Teams, ref)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, memberRoleIDs(ctx, t, out)
}

// maintained lists the metrics, metric groups and views whose column col
// (the maintainer_id or maintainer_team_key of those tables) equals v, ordered by
// kind, project and key.
func maintained(ctx context.Context, t *txn, col, v string) ([]account.MaintainedRef, error) {
	rows, err := t.query(ctx, `SELECT 'metric', p.key, m.key FROM metrics m JOIN projects p ON p.id = m.project_id WHERE m.`+col+` = ?
		UNION ALL SELECT 'metric group', p.key, g.key FROM metric_groups g JOIN projects p ON p.id = g.project_id WHERE g.`+col+` = ?
		UNION ALL SELECT 'view', p.key, vw.key FROM views vw JOIN projects p ON p.id = vw.project_id WHERE vw.`+col+` = ?
		ORDER BY 1, 2, 3`, v, v, v)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []account.MaintainedRef
	for rows.Next() {
		var r account.MaintainedRef
		if err := rows.Scan(&r.Kind, &r.ProjectKey, &r.Key); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteMember removes a member that is not an owner and maintains nothing;
// its tokens and team memberships go with it. The member row is locked
// first, so that no write can make it a maintainer while its uses are
// checked.
func (t *txn) DeleteMember(ctx context.Context, id string) error {
	ok, err := t.exists(ctx, `SELECT 1 FROM members WHERE id = ? AND role <> ?`+t.d.forUpdate, id, account.RoleOwner)
	if err != nil {
		return err
	}
	if !ok {
		return core.ErrNotFound
	}
	refs, err := maintained(ctx, t, "maintainer_id", id)
	if err != nil {
		return err
	}
	if len(refs) > 0 {
		return &account.MaintainsError{Refs: refs}
	}
	res, err := t.exec(ctx, `DELETE FROM members WHERE id = ? AND role <> ?`, id, account.RoleOwner)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	return nil
}
