package events

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// Goal is what a pageview or click metric asks SDKs to report: the shape
// of the entries of GET /sdk/goals/{clientSideId}. Key is the metric key,
// which browser SDKs send back as the key of their pageview and click
// events.
type Goal struct {
	Key      string
	Kind     string // pageview or click
	URLs     []catalog.URLMatcher
	Selector string
}

// GoalStore lists the goals of a project: its pageview and click metrics
// that are not archived.
type GoalStore interface {
	ProjectGoals(ctx context.Context, projectID string) ([]Goal, error)
}

// Goals caches each project's goals for a few seconds: server-sent page
// views are matched against them on every post, and browser SDKs fetch
// them at every start.
type Goals struct {
	store GoalStore
	now   core.Clock
	ttl   time.Duration

	mu      sync.Mutex
	entries map[string]goalEntry
}

type goalEntry struct {
	goals   []compiledGoal
	raw     []Goal
	expires time.Time
}

type compiledGoal struct {
	Goal
	regexps []*regexp.Regexp // per URL matcher, for kind regex
}

// GoalTTL is how long a project's goals are reused; a metric change
// reaches URL matching and browser SDKs within it.
const GoalTTL = 5 * time.Second

// NewGoals returns a cache over store.
func NewGoals(store GoalStore, now core.Clock) *Goals {
	if now == nil {
		now = core.SystemClock
	}
	return &Goals{store: store, now: now, ttl: GoalTTL, entries: map[string]goalEntry{}}
}

func (g *Goals) load(ctx context.Context, projectID string) (goalEntry, error) {
	now := g.now()
	g.mu.Lock()
	e, ok := g.entries[projectID]
	g.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e, nil
	}
	raw, err := g.store.ProjectGoals(ctx, projectID)
	if err != nil {
		return goalEntry{}, err
	}
	e = goalEntry{raw: raw, expires: now.Add(g.ttl)}
	for _, goal := range raw {
		c := compiledGoal{Goal: goal, regexps: make([]*regexp.Regexp, len(goal.URLs))}
		for i, m := range goal.URLs {
			if m.Kind == "regex" {
				// A pattern Go cannot compile matches nothing.
				c.regexps[i], _ = regexp.Compile(m.Pattern)
			}
		}
		e.goals = append(e.goals, c)
	}
	g.mu.Lock()
	if len(g.entries) > 1024 {
		clear(g.entries)
	}
	g.entries[projectID] = e
	g.mu.Unlock()
	return e, nil
}

// Project returns the goals of a project.
func (g *Goals) Project(ctx context.Context, projectID string) ([]Goal, error) {
	e, err := g.load(ctx, projectID)
	return e.raw, err
}

// Match returns the keys of the goals of kind whose URL matchers match
// rawURL.
func (g *Goals) Match(ctx context.Context, projectID, kind, rawURL string) ([]string, error) {
	e, err := g.load(ctx, projectID)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, goal := range e.goals {
		if goal.Kind != kind {
			continue
		}
		for i, m := range goal.URLs {
			if MatchURL(m, goal.regexps[i], rawURL) {
				keys = append(keys, goal.Key)
				break
			}
		}
	}
	return keys, nil
}

// MatchURL reports whether a page URL matches one URL matcher the way
// LaunchDarkly's browser SDK matches them: exact compares the whole URL,
// canonical the URL without query and fragment (both allowing one trailing
// slash more), substring looks for the text in the canonical URL and regex
// runs the pattern on it. re is the compiled pattern for kind regex (nil
// matches nothing). Substring and regex keep a fragment that holds a "/"
// (hash routing).
func MatchURL(m catalog.URLMatcher, re *regexp.Regexp, href string) bool {
	base, hash := href, ""
	if i := strings.IndexByte(href, '#'); i >= 0 {
		base, hash = href[:i], href[i:]
	}
	if i := strings.IndexByte(base, '?'); i >= 0 {
		base = base[:i]
	}
	canonical := base
	if (m.Kind == "substring" || m.Kind == "regex") && strings.Contains(hash, "/") {
		canonical += hash
	}
	switch m.Kind {
	case "exact":
		return href == m.URL || href == m.URL+"/"
	case "canonical":
		return canonical == m.URL || canonical == m.URL+"/"
	case "substring":
		return m.Substring != "" && strings.Contains(canonical, m.Substring)
	case "regex":
		return re != nil && re.MatchString(canonical)
	}
	return false
}
