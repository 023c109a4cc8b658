package web

import (
	"net/http"
	"path"
	"strings"
)

// route is one page or action of the UI. Every UI route is in table; the
// paths it claims on the shared listener (IsUIPath) follow from it.
type route struct {
	// pattern is a net/http ServeMux pattern with its method.
	pattern string
	// nav is the navigation entry the page belongs to ("metrics",
	// "metric-groups", "events"), empty for none.
	nav string
	// public routes need no session; every other route redirects a
	// browser without one to the sign-in page.
	public bool
	// handle renders or redirects, or returns an error that adapt shows
	// as the error page.
	handle func(u *UI, w http.ResponseWriter, r *http.Request) error
}

// routeTable lists every route of the UI. To add a page: write
// page_NAME.go with its handler, templates/NAME.html with its
// {{define "content"}}, and a line here.
func routeTable() []route {
	return []route{
		{pattern: "GET /{$}", handle: (*UI).home},
		{pattern: "GET /sign-in", public: true, handle: (*UI).signInForm},
		{pattern: "POST /sign-in", public: true, handle: (*UI).signIn},
		{pattern: "POST /sign-out", handle: (*UI).signOut},
		{pattern: "GET /switch-project", handle: (*UI).switchProject},
		{pattern: "GET /static/{hash}/{file...}", public: true, handle: (*UI).static},
		{pattern: "GET /projects/{projectKey}/metrics", nav: "metrics", handle: (*UI).metricList},
		{pattern: "GET /projects/{projectKey}/metrics/{metricKey}", nav: "metrics", handle: (*UI).metricPage},
		{pattern: "GET /projects/{projectKey}/metrics/new", nav: "metrics", handle: (*UI).newMetric},
		{pattern: "POST /projects/{projectKey}/metrics/new", nav: "metrics", handle: (*UI).createMetric},
		{pattern: "GET /projects/{projectKey}/metrics/{metricKey}/edit", nav: "metrics", handle: (*UI).editMetric},
		{pattern: "POST /projects/{projectKey}/metrics/{metricKey}/edit", nav: "metrics", handle: (*UI).updateMetric},
		{pattern: "GET /projects/{projectKey}/metrics/{metricKey}/delete", nav: "metrics", handle: (*UI).deleteMetricForm},
		{pattern: "POST /projects/{projectKey}/metrics/{metricKey}/delete", nav: "metrics", handle: (*UI).deleteMetric},
		{pattern: "GET /projects/{projectKey}/metric-groups", nav: "metric-groups", handle: (*UI).groupList},
		{pattern: "GET /projects/{projectKey}/metric-groups/_new", nav: "metric-groups", handle: (*UI).groupNewForm},
		{pattern: "POST /projects/{projectKey}/metric-groups/_new", nav: "metric-groups", handle: (*UI).groupFormPost},
		{pattern: "GET /projects/{projectKey}/metric-groups/{groupKey}", nav: "metric-groups", handle: (*UI).groupPage},
		{pattern: "GET /projects/{projectKey}/metric-groups/{groupKey}/edit", nav: "metric-groups", handle: (*UI).groupEditForm},
		{pattern: "POST /projects/{projectKey}/metric-groups/{groupKey}/edit", nav: "metric-groups", handle: (*UI).groupFormPost},
		{pattern: "GET /projects/{projectKey}/metric-groups/{groupKey}/delete", nav: "metric-groups", handle: (*UI).groupDeleteForm},
		{pattern: "POST /projects/{projectKey}/metric-groups/{groupKey}/delete", nav: "metric-groups", handle: (*UI).groupDelete},
		{pattern: "GET /projects/{projectKey}/events", nav: "events", handle: (*UI).eventsHome},
		{pattern: "GET /projects/{projectKey}/environments/{envKey}/events", nav: "events", handle: (*UI).eventsPage},
		// The _site link of a metric's API representation.
		{pattern: "GET /experiments/metrics/{metricKey}/edit", nav: "metrics", handle: (*UI).metricSite},
	}
}

// uiPaths are the exact paths and the path prefixes of the table's
// patterns: a pattern's path up to its first wildcard is a prefix, a
// pattern without one an exact path.
func uiPaths(table []route) (exact map[string]bool, prefixes []string) {
	exact = map[string]bool{}
	for _, rt := range table {
		_, p, _ := strings.Cut(rt.pattern, " ")
		p = strings.TrimSuffix(p, "{$}")
		if i := strings.Index(p, "{"); i >= 0 {
			prefixes = append(prefixes, p[:i])
			continue
		}
		exact[p] = true
	}
	return exact, prefixes
}

// Owns reports whether the UI serves path p: a clean path the route table
// claims. The API and the SDK protocols keep everything else, non-canonical
// spellings of UI paths included, so that those get the API's JSON 404.
func (u *UI) Owns(p string) bool {
	if c := path.Clean(p); c != p {
		return false
	}
	if u.exact[p] {
		return true
	}
	for _, pre := range u.prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// routes builds the UI's handler from the table.
func (u *UI) routes() http.Handler {
	table := routeTable()
	u.exact, u.prefixes = uiPaths(table)
	mux := http.NewServeMux()
	for _, rt := range table {
		mux.Handle(rt.pattern, u.adapt(rt))
	}
	mux.Handle("/", u.adapt(route{public: true, handle: func(u *UI, w http.ResponseWriter, r *http.Request) error {
		return notFound("there is no page at %s", r.URL.Path)
	}}))
	return securityHeaders(u.recoverPanics(u.withDeadline(u.loadSession(mux))))
}
