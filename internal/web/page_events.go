package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
)

// The event explorer and health page of an environment, from the events
// Explorer: the event keys seen, and what needs attention (metrics without
// events, numeric metrics whose events carry no value, keys no metric
// uses).

// eventsListLimit is the number of rows each of the page's lists shows at
// a time.
const eventsListLimit = 25

// defaultHealthDays is the health lists' window when the URL names none.
const defaultHealthDays = 7

// eventsPath is the UI path of an environment's event explorer.
func eventsPath(projectKey, envKey string) string {
	return "/projects/" + url.PathEscape(projectKey) + "/environments/" + url.PathEscape(envKey) + "/events"
}

// eventsData is the explorer's data.
type eventsData struct {
	Project     string
	Environment catalog.Environment
	// Environments are the project's, for the switcher.
	Environments []catalog.Environment
	Days         int
	DayChoices   []int
	// Keys are one page of the event keys seen in the explorer's window.
	Keys       []events.KeySummary
	KeysPager  pager
	WindowDays int
	// The health lists, one page each.
	Silent, NoValues           []events.MetricState
	Unused                     []events.KeySummary
	SilentPager, NoValuesPager pager
	UnusedPager                pager
	SilentTotal, NoValuesTotal int
	UnusedTotal                int
	Disabled                   bool
}

func (d eventsData) PageTitle() string { return "Events · " + d.Environment.Name + " · " + d.Project }

// eventsHome is the navigation's "Events": the explorer of the environment
// the switcher names, else the project's first.
func (u *UI) eventsHome(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("projectKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	_, envs, err := u.svc.Projects.GetProject(r.Context(), project)
	if err != nil {
		return err
	}
	want := r.URL.Query().Get("env")
	var env string
	for _, e := range envs {
		if env == "" || e.Key == want {
			env = e.Key
		}
	}
	if want != "" && env != want {
		return notFound("unknown environment %q in project %q", want, project)
	}
	if env == "" {
		return notFound("project %q has no environments", project)
	}
	target := eventsPath(project, env)
	if days := r.URL.Query().Get("days"); days != "" {
		target += "?days=" + url.QueryEscape(days)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// listOffset reads the offset of one of the page's lists from parameter
// param, so that each list pages on its own.
func listOffset(q url.Values, param string) (int, error) {
	off, err := parseOffset(q.Get(param))
	if err != nil {
		return 0, core.Errorf(core.KindInvalid, "%s must be an integer between 0 and %d", param, maxListOffset)
	}
	return off, nil
}

// section is the pager of the page of a list of n items shown from offset
// off, whose links move parameter param.
func section(base string, q url.Values, param string, n, off int) pager {
	p := newPager(base, q, n, off, eventsListLimit)
	p.Prev, p.Next = "", ""
	if off > 0 {
		p.Prev = pageLink(base, q, param, max(0, off-eventsListLimit))
	}
	if off+eventsListLimit < n {
		p.Next = pageLink(base, q, param, off+eventsListLimit)
	}
	return p
}

// pageLink is base with q, param set to off (or removed at 0).
func pageLink(base string, q url.Values, param string, off int) string {
	v := url.Values{}
	for k, vs := range q {
		v[k] = vs
	}
	if off > 0 {
		v.Set(param, strconv.Itoa(off))
	} else {
		v.Del(param)
	}
	if e := v.Encode(); e != "" {
		return base + "?" + e
	}
	return base
}

// eventsPage shows an environment's event keys and health lists.
func (u *UI) eventsPage(w http.ResponseWriter, r *http.Request) error {
	projectKey, envKey := r.PathValue("projectKey"), r.PathValue("envKey")
	if err := viewProject(r, projectKey); err != nil {
		return err
	}
	p, envs, err := u.svc.Projects.GetProject(r.Context(), projectKey)
	if err != nil {
		return err
	}
	d := eventsData{Project: p.Key, Environments: envs, Days: defaultHealthDays, DayChoices: []int{1, 7, 14, 30, 90},
		WindowDays: int(events.ExplorerWindow.Hours() / 24)}
	found := false
	for _, e := range envs {
		if e.Key == envKey {
			d.Environment, found = e, true
		}
	}
	if !found {
		return notFound("unknown environment %q in project %q", envKey, projectKey)
	}
	in := r.URL.Query()
	if raw := strings.TrimSpace(in.Get("days")); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 90 {
			return core.Errorf(core.KindInvalid, "days must be an integer between 1 and 90")
		}
		d.Days = n
	}
	if u.explorer == nil {
		d.Disabled = true
		u.render(w, r, http.StatusOK, "events", d)
		return nil
	}
	// Each list is read one page at a time: the page asks the store for
	// the rows it shows and the lists' totals, never for whole lists.
	offsets := map[string]int{}
	for _, param := range []string{"offset", "silent", "novalues", "unused"} {
		if offsets[param], err = listOffset(in, param); err != nil {
			return err
		}
	}
	at := func(param string) core.Page { return core.Page{Limit: eventsListLimit, Offset: offsets[param]} }
	keys, err := u.explorer.Keys(r.Context(), d.Environment.ID, at("offset"))
	if err != nil {
		return err
	}
	health, err := u.explorer.Health(r.Context(), p.ID, d.Environment.ID, d.Days,
		events.HealthPages{Silent: at("silent"), NoValues: at("novalues"), Unused: at("unused")})
	if err != nil {
		return err
	}
	base := r.URL.Path
	d.Keys, d.KeysPager = keys.Items, section(base, in, "offset", keys.Total, offsets["offset"])
	d.Silent, d.SilentTotal = health.Silent.Items, health.Silent.Total
	d.SilentPager = section(base, in, "silent", health.Silent.Total, offsets["silent"])
	d.NoValues, d.NoValuesTotal = health.NoValues.Items, health.NoValues.Total
	d.NoValuesPager = section(base, in, "novalues", health.NoValues.Total, offsets["novalues"])
	d.Unused, d.UnusedTotal = health.Unused.Items, health.Unused.Total
	d.UnusedPager = section(base, in, "unused", health.Unused.Total, offsets["unused"])
	u.render(w, r, http.StatusOK, "events", d)
	return nil
}

// Count formats n with thousands separators.
func (eventsData) Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Share is n as a part of of, in percent.
func (eventsData) Share(n, of int64) string {
	if of == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(of))
}
