package store

import (
	"context"
	"strings"

	"github.com/metricsd/metricsd/internal/core"
)

// orderClause renders sort keys as an ORDER BY list using cols to name each
// field's SQL expression; with no keys it sorts by createdAt. Ties are
// broken by idCol in the direction of the last key, so pages are stable.
func orderClause(keys []core.SortKey, cols map[string]string, idCol string) string {
	if len(keys) == 0 {
		keys = []core.SortKey{{Field: "createdAt"}}
	}
	parts := make([]string, 0, len(keys)+1)
	dir := ""
	for _, k := range keys {
		dir = ""
		if k.Desc {
			dir = " DESC"
		}
		parts = append(parts, cols[k.Field]+dir)
	}
	return strings.Join(append(parts, idCol+dir), ", ")
}

// searchConditions renders the "query" filter over an alias with key_lower
// and name_lower columns: for each entry, the key or name contains one of its
// alternatives, case-insensitively.
func searchConditions(alias string, queries [][]string) ([]string, []any) {
	var conds []string
	var args []any
	for _, alts := range queries {
		ors := make([]string, 0, len(alts))
		for _, a := range alts {
			ors = append(ors, alias+".key_lower LIKE ? ESCAPE '!' OR "+alias+".name_lower LIKE ? ESCAPE '!'")
			args = append(args, likePattern(a), likePattern(a))
		}
		if len(ors) == 0 {
			ors = []string{"1 = 0"}
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	return conds, args
}

// lockMaintainers checks, inside a write, that the member and team a
// metric or group names as maintainer exist, and keeps them from being
// deleted until the write commits (SQLite writers are serialised anyway).
// A missing one is a *core.MissingRefsError. Empty values name nothing.
func lockMaintainers(ctx context.Context, t *txn, memberID, teamKey string) error {
	for _, ref := range []struct{ what, q, v string }{
		{"member", `SELECT 1 FROM members WHERE id = ?`, memberID},
		{"team", `SELECT 1 FROM teams WHERE key = ?`, teamKey},
	} {
		if ref.v == "" {
			continue
		}
		ok, err := t.exists(ctx, ref.q+t.d.forShare, ref.v)
		if err != nil {
			return err
		}
		if !ok {
			return &core.MissingRefsError{What: ref.what, Keys: []string{ref.v}}
		}
	}
	return nil
}

// exists reports whether q returns a row.
func (t *txn) exists(ctx context.Context, q string, args ...any) (bool, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return false, err
	}
	found := rows.Next()
	if err := rows.Close(); err != nil {
		return false, err
	}
	return found, rows.Err()
}

// inCondition renders "col IN (?, ...)" with its arguments.
func inCondition(col string, values []string) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return col + " IN (" + placeholders(len(values)) + ")", args
}
