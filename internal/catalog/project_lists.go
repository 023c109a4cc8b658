package catalog

import (
	"context"
	"slices"
	"strings"

	"github.com/metricsd/metricsd/internal/core"
)

// Paging limits of the project and environment lists.
const (
	DefaultProjectLimit     = 20
	MaxProjectLimit         = 1000
	DefaultEnvironmentLimit = 20
	MaxEnvironmentLimit     = 1000
)

// ProjectQuery selects projects. Every set field narrows the result; the
// store evaluates it in SQL.
type ProjectQuery struct {
	core.Page
	Sort []core.SortKey // name, createdOn
	// Query matches projects whose key or name contains it, ignoring case.
	Query string
	// Tags matches projects that have every one of the tags, ignoring case.
	Tags []string
	// Keys matches projects whose key is one of the list.
	Keys []string
}

// EnvironmentQuery selects environments of one project, like ProjectQuery.
type EnvironmentQuery struct {
	core.Page
	Sort  []core.SortKey // name, createdOn, critical
	Query string
	Tags  []string
}

// ParseProjectQuery reads the list parameters of GET /api/v2/projects:
// LaunchDarkly's "field:value,field:value" filter over query, tags
// ("+"-separated, all must match) and keys ("|"-separated, any may match),
// and sort by name or createdOn.
func ParseProjectQuery(limit, offset, filterText, sort string) (ProjectQuery, error) {
	var q ProjectQuery
	page, err := ParsePage(limit, offset, DefaultProjectLimit, MaxProjectLimit)
	if err != nil {
		return q, err
	}
	q.Page = page
	if q.Sort, err = ParseSort(sort, "name", "createdOn"); err != nil {
		return q, err
	}
	clauses, err := parseColonFilter(filterText, []string{"query", "tags", "keys"})
	if err != nil {
		return q, err
	}
	for _, cl := range clauses {
		switch cl.field {
		case "query":
			q.Query = cl.value
		case "tags":
			q.Tags = splitTags(cl.value)
		case "keys":
			q.Keys = splitBar(cl.value)
		}
	}
	return q, nil
}

// ParseEnvironmentQuery reads the list parameters of GET
// /api/v2/projects/{projectKey}/environments: the filter fields query and
// tags, and sort by name, createdOn or critical.
func ParseEnvironmentQuery(limit, offset, filterText, sort string) (EnvironmentQuery, error) {
	var q EnvironmentQuery
	page, err := ParsePage(limit, offset, DefaultEnvironmentLimit, MaxEnvironmentLimit)
	if err != nil {
		return q, err
	}
	q.Page = page
	if q.Sort, err = ParseSort(sort, "name", "createdOn", "critical"); err != nil {
		return q, err
	}
	clauses, err := parseColonFilter(filterText, []string{"query", "tags"})
	if err != nil {
		return q, err
	}
	for _, cl := range clauses {
		switch cl.field {
		case "query":
			q.Query = cl.value
		case "tags":
			q.Tags = splitTags(cl.value)
		}
	}
	return q, nil
}

// splitTags splits a tag filter on "+". A "+" that reached the server
// unencoded has become a space, so spaces separate too (tags cannot hold
// either).
func splitTags(s string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == '+' || r == ' ' }) {
		if t = strings.ToLower(t); !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// ListProjects returns one page of the projects q selects and the number of
// all of them.
func (c *Projects) ListProjects(ctx context.Context, q ProjectQuery) ([]Project, int, error) {
	return c.store.ListProjects(ctx, q)
}

// ListEnvironmentPage returns a project and one page of the environments q
// selects, with the number of all of them.
func (c *Projects) ListEnvironmentPage(ctx context.Context, projectKey string, q EnvironmentQuery) (*Project, []Environment, int, error) {
	p, err := projectByKey(ctx, c.store, projectKey)
	if err != nil {
		return nil, nil, 0, err
	}
	envs, total, err := c.store.ListEnvironmentPage(ctx, p.ID, q)
	return p, envs, total, err
}
