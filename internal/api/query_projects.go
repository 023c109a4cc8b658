package api

import "github.com/metricsd/metricsd/internal/catalog"

// parseProjectQuery reads the list parameters of GET /api/v2/projects:
// LaunchDarkly's "field:value,field:value" filter over query, tags
// ("+"-separated, all must match) and keys ("|"-separated, any may match),
// and sort by name or createdOn.
func parseProjectQuery(limit, offset, filterText, sort string) (catalog.ProjectQuery, error) {
	var q catalog.ProjectQuery
	page, err := parsePage(limit, offset, catalog.DefaultProjectLimit, catalog.MaxProjectLimit)
	if err != nil {
		return q, err
	}
	q.Page = page
	if q.Sort, err = parseSort(sort, "name", "createdOn"); err != nil {
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

// parseEnvironmentQuery reads the list parameters of GET
// /api/v2/projects/{projectKey}/environments: the filter fields query and
// tags, and sort by name, createdOn or critical.
func parseEnvironmentQuery(limit, offset, filterText, sort string) (catalog.EnvironmentQuery, error) {
	var q catalog.EnvironmentQuery
	page, err := parsePage(limit, offset, catalog.DefaultEnvironmentLimit, catalog.MaxEnvironmentLimit)
	if err != nil {
		return q, err
	}
	q.Page = page
	if q.Sort, err = parseSort(sort, "name", "createdOn", "critical"); err != nil {
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
