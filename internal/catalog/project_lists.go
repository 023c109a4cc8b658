package catalog

import (
	"context"

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
