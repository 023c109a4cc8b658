package api

import (
	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// memberFilterFields are the fields of LaunchDarkly's member filter that
// metricsd evaluates.
var memberFilterFields = []string{"query", "role", "id", "email", "team", "noteam"}

// parseMemberQuery reads the list parameters of the members endpoint. The
// filter is LaunchDarkly's "field:value,field:value" form; lists inside a
// value are separated by "|".
func parseMemberQuery(limit, offset, filterText, sort string) (account.MemberQuery, error) {
	l, err := parseColonList(limit, offset, sort, filterText, account.DefaultMemberLimit, account.MaxMemberLimit,
		[]string{"displayName"}, memberFilterFields)
	q := account.MemberQuery{Page: l.page, Sort: l.sort}
	if err != nil {
		return q, err
	}
	for _, cl := range l.clauses {
		switch cl.field {
		case "query":
			q.Query = cl.value
		case "role":
			q.Roles = splitBar(cl.value)
		case "id":
			q.IDs = splitBar(cl.value)
		case "email":
			q.Emails = splitBar(cl.value)
		case "team":
			q.TeamKey = cl.value
		case "noteam":
			b, err := parseFilterBool(cl)
			if err != nil {
				return q, err
			}
			q.NoTeam = &b
		}
	}
	return q, nil
}

// parseMemberExpand checks the expand parameter of member reads
// (catalog.MemberExpands).
func parseMemberExpand(s string) (catalog.ExpandSet, error) {
	return parseExpand(s, catalog.MemberExpands)
}

// parseTeamQuery reads the list parameters of the teams endpoint.
func parseTeamQuery(limit, offset, filterText string) (account.TeamQuery, error) {
	l, err := parseColonList(limit, offset, "", filterText, account.DefaultTeamLimit, account.MaxTeamLimit,
		nil, []string{"query", "nomembers"})
	q := account.TeamQuery{Page: l.page}
	if err != nil {
		return q, err
	}
	for _, cl := range l.clauses {
		switch cl.field {
		case "query":
			q.Query = cl.value
		case "nomembers":
			b, err := parseFilterBool(cl)
			if err != nil {
				return q, err
			}
			q.NoMembers = &b
		}
	}
	return q, nil
}

// parseTeamExpand checks the expand parameter of single-team requests.
func parseTeamExpand(s string) (catalog.ExpandSet, error) {
	return parseExpand(s, catalog.TeamExpands)
}

// parseTeamListExpand checks the expand parameter of the team list
// (catalog.TeamListExpands).
func parseTeamListExpand(s string) (catalog.ExpandSet, error) {
	return parseExpand(s, catalog.TeamListExpands)
}

// parseTeamMaintainersPage reads limit and offset of the maintainer list.
func parseTeamMaintainersPage(limit, offset string) (core.Page, error) {
	return parsePage(limit, offset, account.DefaultTeamMaintainerLimit, account.MaxTeamMaintainerLimit)
}
