package ingest

import (
	"cmp"
	"context"
	"net/http"
	"slices"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// Goal is what LaunchDarkly's JavaScript client SDK fetches from
// /sdk/goals/{clientSideId} to decide by itself which page views and clicks
// to report: a pageview or click metric of the environment's project. The
// SDK sends the goal's key as the key of the pageview or click event.
type Goal struct {
	Key      string               `json:"key"`
	Kind     string               `json:"kind"`
	URLs     []catalog.URLMatcher `json:"urls"`
	Selector string               `json:"selector,omitempty"`
}

// goalPage is how many metrics one read of the goal list takes.
const goalPage = 500

// GoalsOf returns the goals of metrics: one per pageview or click metric
// that is not archived, ordered by key. The URL matchers keep the wire
// shape metrics store them in ({kind, url}, {kind, substring} or
// {kind, pattern}), which is the shape the SDK matches against.
func GoalsOf(metrics []catalog.Metric) []Goal {
	out := []Goal{}
	for _, m := range metrics {
		if m.Def.Archived || (m.Kind != catalog.KindPageview && m.Kind != catalog.KindClick) {
			continue
		}
		g := Goal{Key: m.Key, Kind: m.Kind, URLs: m.Def.URLs}
		if g.URLs == nil {
			g.URLs = []catalog.URLMatcher{}
		}
		if m.Kind == catalog.KindClick {
			g.Selector = m.Def.Selector
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b Goal) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// goals answers GET /sdk/goals/{clientSideId}.
func (b *Browser) goals(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), b.timeout)
	defer cancel()
	env, err := b.environment(ctx, r.PathValue("clientSideId"))
	if err != nil {
		return err
	}
	var metrics []catalog.Metric
	// One list per kind: the kinds of a MetricQuery must all hold.
	for _, kind := range []string{catalog.KindPageview, catalog.KindClick} {
		q := catalog.MetricQuery{Page: core.Page{Limit: goalPage}, Kinds: []string{kind}}
		for {
			page, total, err := b.metrics.ListMetrics(ctx, env.ProjectID, q)
			if err != nil {
				return err
			}
			metrics = append(metrics, page...)
			q.Offset += len(page)
			if len(page) == 0 || q.Offset >= total {
				break
			}
		}
	}
	writeBrowserJSON(w, http.StatusOK, GoalsOf(metrics))
	return nil
}
