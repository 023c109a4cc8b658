package web

// RoutePatterns are the UI route table's patterns, for tests that walk
// every route.
func RoutePatterns() []string {
	var out []string
	for _, rt := range routeTable() {
		out = append(out, rt.pattern)
	}
	return out
}
