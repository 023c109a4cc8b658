package catalog

import (
	"context"
	"math"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
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
//
// The list holds only projects the principal in ctx may view
// (viewProject): when some are hidden, q is narrowed to the keys of the
// visible ones, so that paging and totalCount count only those.
func (c *Projects) ListProjects(ctx context.Context, q ProjectQuery) ([]Project, int, error) {
	if p := core.PrincipalFrom(ctx); !p.IsZero() && !p.Grant.AllowsEvery(resource.KindProject, action.ViewProject) {
		all, _, err := c.store.ListProjects(ctx, ProjectQuery{Page: core.Page{Limit: math.MaxInt32}, Keys: q.Keys})
		if err != nil {
			return nil, 0, err
		}
		visible := make([]string, 0, len(all))
		for _, p := range all {
			if core.Allowed(ctx, action.ViewProject, resource.Project(p.Key)) {
				visible = append(visible, p.Key)
			}
		}
		if len(visible) < len(all) {
			if len(visible) == 0 {
				return []Project{}, 0, nil
			}
			q.Keys = visible
		}
	}
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
