package api

import "github.com/metricsd/metricsd/internal/catalog"

// parseProjectQuery reads the list parameters of GET /api/v2/projects:
// LaunchDarkly's "field:value,field:value" filter over query, tags
// ("+"-separated, all must match) and keys ("|"-separated, any may match),
// and sort by name or createdOn.
func parseProjectQuery(limit, offset, filterText, sort string) (catalog.ProjectQuery, error) {
	l, err := parseColonList(limit, offset, sort, filterText, catalog.DefaultProjectLimit, catalog.MaxProjectLimit,
		[]string{"name", "createdOn"}, []string{"query", "tags", "keys"})
	q := catalog.ProjectQuery{Page: l.page, Sort: l.sort}
	if err != nil {
		return q, err
	}
	for _, cl := range l.clauses {
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

// parseEnvironmentQuery reads the list parameters of GET
// /api/v2/projects/{projectKey}/environments: the filter fields query and
// tags, and sort by name, createdOn or critical.
func parseEnvironmentQuery(limit, offset, filterText, sort string) (catalog.EnvironmentQuery, error) {
	l, err := parseColonList(limit, offset, sort, filterText, catalog.DefaultEnvironmentLimit, catalog.MaxEnvironmentLimit,
		[]string{"name", "createdOn", "critical"}, []string{"query", "tags"})
	q := catalog.EnvironmentQuery{Page: l.page, Sort: l.sort}
	if err != nil {
		return q, err
	}
	for _, cl := range l.clauses {
		switch cl.field {
		case "query":
			q.Query = cl.value
		case "tags":
			q.Tags = splitTags(cl.value)
		}
	}
	return q, nil
}
