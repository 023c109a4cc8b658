package store

import (
	"context"
	"strings"

	"github.com/metricsd/metricsd/internal/catalog"
)

// tagConditions renders "has every tag, ignoring case" over a column that
// holds a JSON array of tags. Tags cannot contain quotes or backslashes, so
// a tag is present exactly when its quoted form occurs in the array text.
func tagConditions(col string, tags []string) ([]string, []any) {
	var conds []string
	var args []any
	for _, tag := range tags {
		conds = append(conds, "lower("+col+") LIKE ? ESCAPE '!'")
		args = append(args, likePattern(`"`+tag+`"`))
	}
	return conds, args
}

// keyOrNameContains renders the "query" filter of projects and
// environments: the key or the name contains s, ignoring case.
func keyOrNameContains(alias, s string) (string, []any) {
	return "(lower(" + alias + ".key) LIKE ? ESCAPE '!' OR lower(" + alias + ".name) LIKE ? ESCAPE '!')",
		[]any{likePattern(s), likePattern(s)}
}

func projectWhere(q catalog.ProjectQuery) (string, []any) {
	conds := []string{"1 = 1"}
	var args []any
	if q.Query != "" {
		c, a := keyOrNameContains("p", q.Query)
		conds, args = append(conds, c), append(args, a...)
	}
	tc, ta := tagConditions("p.tags", q.Tags)
	conds, args = append(conds, tc...), append(args, ta...)
	if len(q.Keys) > 0 {
		c, a := inCondition("p.key", q.Keys)
		conds, args = append(conds, c), append(args, a...)
	}
	return strings.Join(conds, " AND "), args
}

var projectSortColumns = map[string]string{"createdAt": "p.created_at", "createdOn": "p.created_at", "name": "lower(p.name)"}

// ListProjects returns one page of the projects q selects and the number of
// all of them, from one snapshot.
func (db *DB) ListProjects(ctx context.Context, q catalog.ProjectQuery) ([]catalog.Project, int, error) {
	where, args := projectWhere(q)
	var out []catalog.Project
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		if err := t.row(ctx, `SELECT COUNT(*) FROM projects p WHERE `+where, args...).Scan(&total); err != nil {
			return err
		}
		if total == 0 || q.Offset >= total {
			return nil
		}
		rows, err := t.query(ctx, `SELECT `+prefixed("p", projectCols)+` FROM projects p WHERE `+where+
			` ORDER BY `+orderClause(q.Sort, projectSortColumns, "p.id")+` LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanProject(rows)
			if err != nil {
				return err
			}
			out = append(out, *p)
		}
		return rows.Err()
	})
	return out, total, err
}

var environmentSortColumns = map[string]string{"createdAt": "e.created_at", "createdOn": "e.created_at", "name": "lower(e.name)", "critical": "e.critical"}

// ListEnvironmentPage returns one page of a project's environments that q
// selects and the number of all of them, from one snapshot.
func (db *DB) ListEnvironmentPage(ctx context.Context, projectID string, q catalog.EnvironmentQuery) ([]catalog.Environment, int, error) {
	conds := []string{"e.project_id = ?"}
	args := []any{projectID}
	if q.Query != "" {
		c, a := keyOrNameContains("e", q.Query)
		conds, args = append(conds, c), append(args, a...)
	}
	tc, ta := tagConditions("e.tags", q.Tags)
	conds, args = append(conds, tc...), append(args, ta...)
	where := strings.Join(conds, " AND ")
	var out []catalog.Environment
	var total int
	err := db.tx(ctx, false, func(t *txn) error {
		if err := t.row(ctx, `SELECT COUNT(*) FROM environments e WHERE `+where, args...).Scan(&total); err != nil {
			return err
		}
		if total == 0 || q.Offset >= total {
			return nil
		}
		rows, err := t.query(ctx, `SELECT `+prefixed("e", envCols)+` FROM environments e WHERE `+where+
			` ORDER BY `+orderClause(q.Sort, environmentSortColumns, "e.id")+` LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEnvironment(rows)
			if err != nil {
				return err
			}
			out = append(out, *e)
		}
		return rows.Err()
	})
	return out, total, err
}

// prefixed qualifies every column of a comma-separated list with alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
