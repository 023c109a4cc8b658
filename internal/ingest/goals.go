package ingest

import (
	"cmp"
	"context"
	"net/http"
	"slices"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/events"
)

// Goal is what LaunchDarkly's JavaScript client SDK fetches from
// /sdk/goals/{clientSideId} to decide by itself which page views and clicks
// to report: a pageview or click metric of the environment's project. The
// SDK sends the goal's key, the metric key, as the key of the pageview or
// click event.
type Goal struct {
	Key      string               `json:"key"`
	Kind     string               `json:"kind"`
	URLs     []catalog.URLMatcher `json:"urls"`
	Selector string               `json:"selector,omitempty"`
}

// GoalSource lists a project's goals: its pageview and click metrics that
// are not archived (events.Goals, which caches them briefly).
type GoalSource interface {
	Project(ctx context.Context, projectID string) ([]events.Goal, error)
}

// GoalsOf returns the wire form of goals, ordered by key. The URL matchers
// keep the shape metrics store them in ({kind, url}, {kind, substring} or
// {kind, pattern}), which is the shape the SDK matches against; only click
// goals carry a selector.
func GoalsOf(goals []events.Goal) []Goal {
	out := make([]Goal, 0, len(goals))
	for _, g := range goals {
		w := Goal{Key: g.Key, Kind: g.Kind, URLs: g.URLs}
		if w.URLs == nil {
			w.URLs = []catalog.URLMatcher{}
		}
		if g.Kind == catalog.KindClick {
			w.Selector = g.Selector
		}
		out = append(out, w)
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
	goals, err := b.goalSource.Project(ctx, env.ProjectID)
	if err != nil {
		return err
	}
	writeBrowserJSON(w, http.StatusOK, GoalsOf(goals))
	return nil
}
