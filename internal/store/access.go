package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
)

// Tokens, custom roles and the custom roles members and tokens hold.

const tokenCols = `t.id, t.member_id, t.name, t.description, t.hash, t.role, t.inline_role, t.service_token,
	t.default_api_version, t.ending, t.created_at, t.updated_at, t.old_hash, t.old_expires_at, t.last_used_at`

func scanToken(s scanner, extra ...any) (*account.Token, error) {
	var tok account.Token
	var inline string
	var created, updated int64
	var oldExp, lastUsed sql.NullInt64
	dest := append([]any{&tok.ID, &tok.MemberID, &tok.Name, &tok.Description, &tok.Hash, &tok.Role, &inline, &tok.ServiceToken,
		&tok.DefaultAPIVersion, &tok.Ending, &created, &updated, &tok.OldHash, &oldExp, &lastUsed}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, classify(err)
	}
	if lastUsed.Valid {
		tok.LastUsed = fromMS(lastUsed.Int64)
	}
	tok.CreatedAt, tok.UpdatedAt = fromMS(created), fromMS(updated)
	if tok.UpdatedAt.UnixMilli() == 0 {
		tok.UpdatedAt = tok.CreatedAt
	}
	if oldExp.Valid {
		e := fromMS(oldExp.Int64)
		tok.OldExpiresAt = &e
	}
	if inline != "[]" {
		_ = json.Unmarshal([]byte(inline), &tok.InlineRole)
	}
	return &tok, nil
}

func encodePolicy(p []account.Statement) string {
	if p == nil {
		p = []account.Statement{}
	}
	b, _ := json.Marshal(p)
	return string(b)
}

// TokenByHash returns the credential of a token value's hash: the token
// (also by a previous value still inside its grace period), its member and
// the custom roles of both. It is on the path of every request the
// authentication cache misses: one read transaction of two statements.
func (db *DB) TokenByHash(ctx context.Context, hash []byte, now time.Time) (*account.Credential, error) {
	var c account.Credential
	err := db.tx(ctx, false, func(t *txn) error {
		var mc int64
		tok, err := scanToken(t.row(ctx, `SELECT `+tokenCols+`, m.id, m.email, m.first_name, m.last_name, m.role, m.created_at
			FROM tokens t JOIN members m ON m.id = t.member_id
			WHERE t.hash = ? OR (t.old_hash = ? AND t.old_expires_at > ?)`, hash, hash, ms(now)),
			&c.Member.ID, &c.Member.Email, &c.Member.FirstName, &c.Member.LastName, &c.Member.Role, &mc)
		if err != nil {
			return err
		}
		c.Member.CreatedAt = fromMS(mc)
		c.Token = *tok
		rows, err := t.query(ctx, `SELECT 0, r.id, r.key, r.name, r.policy, r.base_permissions, mr.position FROM member_custom_roles mr JOIN custom_roles r ON r.id = mr.role_id WHERE mr.member_id = ?
			UNION ALL SELECT 1, r.id, r.key, r.name, r.policy, r.base_permissions, tr.position FROM token_custom_roles tr JOIN custom_roles r ON r.id = tr.role_id WHERE tr.token_id = ?
			UNION ALL SELECT 2, r.id, r.key, r.name, r.policy, r.base_permissions, tcr.position FROM team_members tm JOIN team_custom_roles tcr ON tcr.team_key = tm.team_key
				JOIN custom_roles r ON r.id = tcr.role_id WHERE tm.member_id = ?
			ORDER BY 1, 7, 3`, c.Member.ID, tok.ID, c.Member.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var which, pos int
			var r account.Role
			var policy string
			if err := rows.Scan(&which, &r.ID, &r.Key, &r.Name, &policy, &r.BasePermissions, &pos); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(policy), &r.Policy); err != nil {
				return err
			}
			switch which {
			case 0:
				c.MemberRoles = append(c.MemberRoles, r)
				c.Member.CustomRoleIDs = append(c.Member.CustomRoleIDs, r.ID)
			case 2:
				// A role of one of the member's teams: the member's.
				c.MemberRoles = append(c.MemberRoles, r)
			default:
				c.TokenRoles = append(c.TokenRoles, r)
				c.Token.CustomRoleIDs = append(c.Token.CustomRoleIDs, r.ID)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// tokenRoleIDs loads the custom role IDs of tokens, in their order.
func tokenRoleIDs(ctx context.Context, t *txn, ts []account.Token) error {
	if len(ts) == 0 {
		return nil
	}
	index := make(map[string]int, len(ts))
	args := make([]any, len(ts))
	for i := range ts {
		index[ts[i].ID] = i
		args[i] = ts[i].ID
	}
	rows, err := t.query(ctx, `SELECT token_id, role_id FROM token_custom_roles WHERE token_id IN (`+placeholders(len(ts))+`) ORDER BY token_id, position`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var tid, rid string
		if err := rows.Scan(&tid, &rid); err != nil {
			return err
		}
		ts[index[tid]].CustomRoleIDs = append(ts[index[tid]].CustomRoleIDs, rid)
	}
	return rows.Err()
}

func (t *txn) tokens(ctx context.Context, where string, args ...any) ([]account.Token, error) {
	rows, err := t.query(ctx, `SELECT `+tokenCols+`, `+memberColsOf("m")+` FROM tokens t JOIN members m ON m.id = t.member_id `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []account.Token
	for rows.Next() {
		var m account.Member
		var mc int64
		tok, err := scanToken(rows, &m.ID, &m.Email, &m.FirstName, &m.LastName, &m.Role, &mc)
		if err != nil {
			return nil, err
		}
		m.CreatedAt = fromMS(mc)
		tok.Member = &m
		out = append(out, *tok)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, tokenRoleIDs(ctx, t, out)
}

func memberColsOf(alias string) string {
	cols := strings.Split(memberCols, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// GetToken returns a token with its member and custom roles.
func (db *DB) GetToken(ctx context.Context, id string) (*account.Token, error) {
	var out *account.Token
	err := db.tx(ctx, false, func(t *txn) error {
		ts, err := t.tokens(ctx, `WHERE t.id = ?`, id)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			return core.ErrNotFound
		}
		out = &ts[0]
		return nil
	})
	return out, err
}

// ListTokens returns the tokens of a member, or everybody's, oldest first.
func (db *DB) ListTokens(ctx context.Context, memberID string) ([]account.Token, error) {
	var out []account.Token
	err := db.tx(ctx, false, func(t *txn) (err error) {
		if memberID == "" {
			out, err = t.tokens(ctx, `ORDER BY t.created_at, t.id`)
		} else {
			out, err = t.tokens(ctx, `WHERE t.member_id = ? ORDER BY t.created_at, t.id`, memberID)
		}
		return err
	})
	return out, err
}

// TokenForUpdate returns a token, locked.
func (t *txn) TokenForUpdate(ctx context.Context, id string) (*account.Token, error) {
	ts, err := t.tokens(ctx, `WHERE t.id = ?`+t.d.forUpdate, id)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, core.ErrNotFound
	}
	return &ts[0], nil
}

// CreateToken stores a token with its custom roles.
func (t *txn) CreateToken(ctx context.Context, tok *account.Token) error {
	if _, err := t.exec(ctx, `INSERT INTO tokens (id, member_id, name, description, hash, role, inline_role, service_token,
		default_api_version, ending, created_at, updated_at, old_hash, old_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tok.ID, tok.MemberID, tok.Name, tok.Description, tok.Hash, tok.Role, encodePolicy(tok.InlineRole), tok.ServiceToken,
		tok.DefaultAPIVersion, tok.Ending, ms(tok.CreatedAt), ms(tok.UpdatedAt), tok.OldHash, nullMS(tok.OldExpiresAt)); err != nil {
		return err
	}
	return t.setRoles(ctx, "token_custom_roles", "token_id", tok.ID, tok.CustomRoleIDs)
}

// UpdateToken stores every field of a token and replaces its custom roles.
func (t *txn) UpdateToken(ctx context.Context, tok *account.Token) error {
	res, err := t.exec(ctx, `UPDATE tokens SET name = ?, description = ?, hash = ?, role = ?, inline_role = ?,
		default_api_version = ?, ending = ?, updated_at = ?, old_hash = ?, old_expires_at = ? WHERE id = ?`,
		tok.Name, tok.Description, tok.Hash, tok.Role, encodePolicy(tok.InlineRole), tok.DefaultAPIVersion, tok.Ending,
		ms(tok.UpdatedAt), tok.OldHash, nullMS(tok.OldExpiresAt), tok.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	return t.setRoles(ctx, "token_custom_roles", "token_id", tok.ID, tok.CustomRoleIDs)
}

// DeleteToken removes a token; its custom role links go with it.
func (t *txn) DeleteToken(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	return nil
}

// setRoles replaces the custom roles of a member or token (table is one
// of the two link tables, col its owner column).
func (t *txn) setRoles(ctx context.Context, table, col, owner string, roleIDs []string) error {
	if _, err := t.exec(ctx, `DELETE FROM `+table+` WHERE `+col+` = ?`, owner); err != nil {
		return err
	}
	for i, id := range roleIDs {
		if _, err := t.exec(ctx, `INSERT INTO `+table+` (`+col+`, role_id, position) VALUES (?, ?, ?)`, owner, id, i); err != nil {
			return err
		}
	}
	return nil
}

// UpdateMember stores a member's names, role and custom roles.
func (t *txn) UpdateMember(ctx context.Context, m *account.Member) error {
	res, err := t.exec(ctx, `UPDATE members SET first_name = ?, last_name = ?, role = ? WHERE id = ?`, m.FirstName, m.LastName, m.Role, m.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	// Metrics and groups show their maintainer's names and role.
	if err := bumpAllGenerations(ctx, t); err != nil {
		return err
	}
	return t.setRoles(ctx, "member_custom_roles", "member_id", m.ID, m.CustomRoleIDs)
}

// memberRoleIDs loads the custom role IDs of members, in their order.
func memberRoleIDs(ctx context.Context, t *txn, out []account.MemberDetail) error {
	if len(out) == 0 {
		return nil
	}
	index := make(map[string]int, len(out))
	args := make([]any, len(out))
	for i := range out {
		index[out[i].ID] = i
		args[i] = out[i].ID
	}
	rows, err := t.query(ctx, `SELECT member_id, role_id FROM member_custom_roles WHERE member_id IN (`+placeholders(len(out))+`) ORDER BY member_id, position`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var mid, rid string
		if err := rows.Scan(&mid, &rid); err != nil {
			return err
		}
		out[index[mid]].CustomRoleIDs = append(out[index[mid]].CustomRoleIDs, rid)
	}
	return rows.Err()
}

const roleCols = `r.id, r.key, r.name, r.description, r.policy, r.base_permissions, r.version, r.created_at, r.updated_at,
	(SELECT COUNT(*) FROM member_custom_roles mr WHERE mr.role_id = r.id),
	(SELECT COUNT(*) FROM token_custom_roles tr WHERE tr.role_id = r.id),
	(SELECT COUNT(*) FROM team_custom_roles tcr WHERE tcr.role_id = r.id)`

func scanRole(s scanner) (*account.Role, error) {
	var r account.Role
	var policy string
	var created, updated int64
	if err := s.Scan(&r.ID, &r.Key, &r.Name, &r.Description, &policy, &r.BasePermissions, &r.Version, &created, &updated, &r.MemberCount, &r.TokenCount, &r.TeamCount); err != nil {
		return nil, classify(err)
	}
	r.CreatedAt, r.UpdatedAt = fromMS(created), fromMS(updated)
	if err := json.Unmarshal([]byte(policy), &r.Policy); err != nil {
		return nil, err
	}
	return &r, nil
}

// GetRole returns a custom role by key or ID.
func (db *DB) GetRole(ctx context.Context, keyOrID string) (*account.Role, error) {
	var out *account.Role
	err := db.tx(ctx, false, func(t *txn) (err error) {
		out, err = scanRole(t.row(ctx, `SELECT `+roleCols+` FROM custom_roles r WHERE r.key = ? OR r.id = ? ORDER BY r.key = ? DESC LIMIT 1`, keyOrID, keyOrID, keyOrID))
		return err
	})
	return out, err
}

// ListRoles returns one page of custom roles by key, and the number of all.
func (db *DB) ListRoles(ctx context.Context, page core.Page) ([]account.Role, int, error) {
	var out []account.Role
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		if err := t.row(ctx, `SELECT COUNT(*) FROM custom_roles`).Scan(&total); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT `+roleCols+` FROM custom_roles r ORDER BY r.key LIMIT ? OFFSET ?`, page.Limit, page.Offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRole(rows)
			if err != nil {
				return err
			}
			out = append(out, *r)
		}
		return rows.Err()
	})
	return out, total, err
}

// CreateRole stores a custom role.
func (t *txn) CreateRole(ctx context.Context, r *account.Role) error {
	_, err := t.exec(ctx, `INSERT INTO custom_roles (id, key, name, description, policy, base_permissions, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Key, r.Name, r.Description, encodePolicy(r.Policy), r.BasePermissions, r.Version, ms(r.CreatedAt), ms(r.UpdatedAt))
	return err
}

// RoleForUpdate returns a custom role by key or ID, locked.
func (t *txn) RoleForUpdate(ctx context.Context, keyOrID string) (*account.Role, error) {
	return scanRole(t.row(ctx, `SELECT `+roleCols+` FROM custom_roles r WHERE r.key = ? OR r.id = ? ORDER BY r.key = ? DESC LIMIT 1`+t.d.forUpdate, keyOrID, keyOrID, keyOrID))
}

// UpdateRole stores a role's editable fields.
func (t *txn) UpdateRole(ctx context.Context, r *account.Role) error {
	res, err := t.exec(ctx, `UPDATE custom_roles SET name = ?, description = ?, policy = ?, base_permissions = ?, version = ?, updated_at = ? WHERE id = ?`,
		r.Name, r.Description, encodePolicy(r.Policy), r.BasePermissions, r.Version, ms(r.UpdatedAt), r.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	return nil
}

// DeleteRole removes a role nobody holds. The counts are read in the
// write's transaction; the foreign keys refuse a holder added meanwhile.
func (t *txn) DeleteRole(ctx context.Context, id string) error {
	var members, tokens, teams int
	if err := t.row(ctx, `SELECT (SELECT COUNT(*) FROM member_custom_roles WHERE role_id = ?), (SELECT COUNT(*) FROM token_custom_roles WHERE role_id = ?),
		(SELECT COUNT(*) FROM team_custom_roles WHERE role_id = ?)`, id, id, id).Scan(&members, &tokens, &teams); err != nil {
		return err
	}
	if members+tokens+teams > 0 {
		return &account.RoleInUseError{Members: members, Tokens: tokens, Teams: teams}
	}
	_, err := t.exec(ctx, `DELETE FROM custom_roles WHERE id = ?`, id)
	if errors.Is(err, core.ErrReference) {
		return &account.RoleInUseError{}
	}
	return err
}

// RolesByRef returns the roles refs name by key or ID, in the order of
// refs.
func (t *txn) RolesByRef(ctx context.Context, refs []string) ([]account.Role, error) {
	in := placeholders(len(refs))
	args := make([]any, 0, 2*len(refs))
	for _, r := range refs {
		args = append(args, r)
	}
	args = append(args, args...)
	rows, err := t.query(ctx, `SELECT `+roleCols+` FROM custom_roles r WHERE r.key IN (`+in+`) OR r.id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []account.Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, err
		}
		found = append(found, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []account.Role
	var missing []string
	seen := map[string]bool{}
	for _, ref := range refs {
		i := -1
		for j := range found {
			if found[j].Key == ref || found[j].ID == ref {
				i = j
				break
			}
		}
		switch {
		case i < 0:
			missing = append(missing, ref)
		case !seen[found[i].ID]:
			seen[found[i].ID] = true
			out = append(out, found[i])
		}
	}
	if len(missing) > 0 {
		return nil, &core.MissingRefsError{What: "custom role", Keys: missing}
	}
	return out, nil
}

// RecordTokenUses stores when tokens were last used, one statement per
// token in one transaction; a time older than the stored one (another
// replica's later use) leaves it, and unknown (deleted) tokens are skipped.
// It is not audited and bumps no generation: lastUsed is bookkeeping, not
// a change anybody made, and no cached representation shows it.
func (db *DB) RecordTokenUses(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	return db.tx(ctx, true, func(t *txn) error {
		for id, at := range uses {
			if _, err := t.exec(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
				ms(at), id, ms(at)); err != nil {
				return err
			}
		}
		return nil
	})
}
