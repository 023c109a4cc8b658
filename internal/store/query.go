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

// lockTeam checks, inside a write, that a maintainer team exists and keeps
// it from being deleted until the write commits (SQLite writers are
// serialised anyway). An empty key is no team.
func lockTeam(ctx context.Context, t *txn, key string) error {
	if key == "" {
		return nil
	}
	var n int
	rows, err := t.query(ctx, `SELECT 1 FROM teams WHERE key = ?`+t.d.forShare, key)
	if err != nil {
		return err
	}
	for rows.Next() {
		n++
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if n == 0 {
		return core.Errorf(core.KindInvalid, "maintainerTeamKey %q does not name a team", key)
	}
	return nil
}

// inCondition renders "col IN (?, ...)" with its arguments.
func inCondition(col string, values []string) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return col + " IN (" + placeholders(len(values)) + ")", args
}
