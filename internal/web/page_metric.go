package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
	"github.com/metricsd/metricsd/internal/view"
)

// Page sizes of a metric page's lists.
const (
	metricVersionsPage = 10
	metricViewsPage    = 20
	metricAuditPage    = 10
)

// metricData is a metric page's data.
type metricData struct {
	Project string
	Metric  *catalog.Metric
	// Self is the page's path; links add their query to it.
	Self string
	// TeamName is the maintainer team's name when the principal may see
	// the team ("" otherwise, and the key is shown).
	TeamName string
	// Active is the isActive of the API: events in the last 7 days or a
	// running experiment or active guarded rollout.
	Active bool

	Usage    metricUsage
	Activity metricActivity
	History  metricHistory
	Audit    metricAudit
}

func (d metricData) PageTitle() string { return d.Metric.Def.Name + " · Metrics" }

// metricUsage is where a metric is used.
type metricUsage struct {
	Experiments []catalog.ExperimentRef
	Groups      []linked[catalog.MetricGroupRef]
	Rollouts    []catalog.GuardedRolloutRef
	Views       []linked[view.View]
	// ViewsTotal counts every view the metric is linked to; Views holds
	// the first metricViewsPage.
	ViewsTotal int
}

// linked is an item with the UI link of its page ("" when the UI has no
// page for it).
type linked[T any] struct {
	Item T
	Href string
}

// metricAudit is one page of the metric's audit entries.
type metricAudit struct {
	// Denied is set when the principal may not read the audit log.
	Denied  bool
	Entries []audit.Entry
	// Older continues with older entries; Newest returns to the first
	// page. "" when there is no such page.
	Older, Newest string
	Error         string
}

// metricPath is the UI path of a metric's page.
func metricPath(projectKey, key string) string {
	return "/projects/" + url.PathEscape(projectKey) + "/metrics/" + url.PathEscape(key)
}

// withQuery returns base with the query q in which each pair of set
// (name, value) is replaced; an empty value removes the name.
func withQuery(base string, q url.Values, set ...string) string {
	v := url.Values{}
	for k, vs := range q {
		v[k] = vs
	}
	for i := 0; i+1 < len(set); i += 2 {
		if set[i+1] == "" {
			v.Del(set[i])
		} else {
			v.Set(set[i], set[i+1])
		}
	}
	if e := v.Encode(); e != "" {
		return base + "?" + e
	}
	return base
}

// queryOffset reads a non-negative offset parameter; "" is 0.
func queryOffset(q url.Values, name string) (int, error) {
	raw := q.Get(name)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > maxListOffset {
		return 0, core.Errorf(core.KindInvalid, "%s must be a whole number between 0 and %d", name, maxListOffset)
	}
	return n, nil
}

// quoteFilter quotes s as a string of the API's filter language.
func quoteFilter(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// hasRoute reports whether the UI's route table has pattern, whatever its
// wildcards are named, so that a page links only to pages that exist.
func hasRoute(pattern string) bool {
	shape := func(p string) string {
		var b strings.Builder
		in := false
		for _, c := range p {
			switch {
			case c == '{':
				in = true
				b.WriteRune(c)
			case c == '}':
				in = false
				b.WriteRune(c)
			case !in:
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	want := shape(pattern)
	for _, rt := range routeTable() {
		if shape(rt.pattern) == want {
			return true
		}
	}
	return false
}

// metricPage shows a metric: its definition, where it is used, its event
// activity, its versions with the diff of two of them, and its audit
// entries. A bad parameter of one section (a version, an offset, a
// cursor) is shown in that section, with the status it deserves, and the
// rest of the page still renders.
func (u *UI) metricPage(w http.ResponseWriter, r *http.Request) error {
	project, key := r.PathValue("projectKey"), r.PathValue("metricKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	ctx := r.Context()
	want := catalog.ExpandSet{catalog.ExpandExperiments: true, catalog.ExpandMetricGroups: true,
		catalog.ExpandGuardedRollouts: true, catalog.ExpandEventSources: true}
	m, x, err := u.svc.Metrics.GetMetric(ctx, project, key, "", want)
	if err != nil {
		return err
	}
	if x == nil {
		x = &catalog.MetricExpansions{}
	}
	now := u.now()
	q := r.URL.Query()
	d := metricData{Project: project, Metric: m, Self: metricPath(project, key)}
	if m.Usage != nil {
		d.Active = m.Usage.IsActive(now)
	}
	if t := m.MaintainerTeamKey; t != "" && can(ctx, action.ViewTeam, resource.Team(t)) {
		team, err := u.svc.Teams.GetTeam(ctx, t)
		switch {
		case err == nil:
			d.TeamName = team.Name
		case core.KindOf(err) != core.KindNotFound:
			return err
		}
	}

	// Where it is used.
	d.Usage.Experiments, d.Usage.Rollouts = x.Experiments, x.GuardedRollouts
	groupPage := hasRoute("GET /projects/{projectKey}/metric-groups/{groupKey}")
	for _, g := range x.MetricGroups {
		l := linked[catalog.MetricGroupRef]{Item: g}
		if groupPage {
			l.Href = "/projects/" + url.PathEscape(g.ProjectKey) + "/metric-groups/" + url.PathEscape(g.Key)
		}
		d.Usage.Groups = append(d.Usage.Groups, l)
	}
	views, total, err := u.svc.Views.Associations(ctx, project, view.Metrics, key, "", core.Page{Limit: metricViewsPage})
	if err != nil {
		return err
	}
	d.Usage.ViewsTotal = total
	for _, v := range views {
		// The metrics list filtered to the view: the view's metrics.
		d.Usage.Views = append(d.Usage.Views, linked[view.View]{Item: v,
			Href: withQuery("/projects/"+url.PathEscape(project)+"/metrics", nil, "filter", "view equals "+quoteFilter(v.Key))})
	}

	// note shows an input error in its section and keeps its status for
	// the page; any other error fails the page.
	status := http.StatusOK
	note := func(err error) (string, error) {
		if err == nil {
			return "", nil
		}
		var ce *core.Error
		if !errors.As(err, &ce) || statusOf(err) == http.StatusInternalServerError {
			return "", err
		}
		if status == http.StatusOK {
			status = statusOf(err)
		}
		return ce.Message, nil
	}

	if d.Activity, err = u.metricActivity(r, project, m, x.EventSources, now); err != nil {
		return err
	}
	if d.History.Error, err = note(u.metricHistory(r, &d, q)); err != nil {
		return err
	}
	if d.Audit.Error, err = note(u.metricAuditPage(r, &d, q)); err != nil {
		return err
	}
	u.render(w, r, status, "metric", d)
	return nil
}

// metricAuditPage reads one page of the audit entries of the metric.
func (u *UI) metricAuditPage(r *http.Request, d *metricData, q url.Values) error {
	ctx := r.Context()
	if !can(ctx, action.ViewAuditLog, resource.Spec{Segments: []resource.Segment{{Kind: "acct"}}}) {
		d.Audit.Denied = true
		return nil
	}
	spec := resource.Metric(d.Project, d.Metric.Key, nil)
	before := q.Get("auditBefore")
	entries, next, err := u.svc.Audit.Entries(ctx, audit.Query{Spec: &spec, Limit: metricAuditPage, BeforeID: before})
	if core.KindOf(err) == core.KindInvalid {
		return core.Errorf(core.KindInvalid, "auditBefore must be an audit log entry ID (24 hexadecimal digits)")
	}
	if err != nil {
		return err
	}
	d.Audit.Entries = entries
	if next != "" {
		d.Audit.Older = withQuery(d.Self, q, "auditBefore", next) + "#audit"
	}
	if before != "" {
		d.Audit.Newest = withQuery(d.Self, q, "auditBefore", "") + "#audit"
	}
	return nil
}

// humanize turns a status word into text: "not_started" → "Not started".
func humanize(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// when formats a time for the page, in UTC.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// siteData is the data of the _site link's page when the key names a
// metric in more than one project.
type siteData struct {
	Key     string
	Choices []catalog.Metric
}

func (d siteData) PageTitle() string { return "Metric " + d.Key }

// metricSite serves the _site link of the API's metric representation,
// which names the metric's key but not its project: it sends the browser to
// the metric's page in the one project the principal may see that has it,
// or lets it choose among several.
func (u *UI) metricSite(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("metricKey")
	var found []catalog.Metric
	const pageSize = 100
	for offset := 0; ; offset += pageSize {
		projects, total, err := u.svc.Projects.ListProjects(r.Context(), catalog.ProjectQuery{Page: core.Page{Limit: pageSize, Offset: offset}, Sort: []core.SortKey{{Field: "name"}}})
		if err != nil {
			return err
		}
		for _, p := range projects {
			m, _, err := u.svc.Metrics.GetMetric(r.Context(), p.Key, key, "", nil)
			if core.KindOf(err) == core.KindNotFound {
				continue
			}
			if err != nil {
				return err
			}
			found = append(found, *m)
		}
		if offset+pageSize >= total || len(projects) == 0 {
			break
		}
	}
	switch len(found) {
	case 0:
		return notFound("no project you may see has a metric %q", key)
	case 1:
		http.Redirect(w, r, metricPath(found[0].ProjectKey, key), http.StatusSeeOther)
		return nil
	}
	u.render(w, r, http.StatusOK, "site", siteData{Key: key, Choices: found})
	return nil
}
