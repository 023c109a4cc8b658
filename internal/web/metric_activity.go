package web

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
)

// The event activity chart: one bar per hour of the last activityDays
// days, per environment, drawn as inline SVG on the server.
const (
	activityDays  = 30
	activityHours = activityDays * 24
	// The SVG's coordinates: the plot starts at chartLeft (room for the
	// y labels), one unit per hour, chartHeight high below chartTop.
	chartLeft   = 44
	chartTop    = 8
	chartHeight = 120
	chartWidth  = chartLeft + activityHours + 8
	chartBottom = chartTop + chartHeight
)

// metricActivity is the event activity section of a metric's page.
type metricActivity struct {
	// Enabled is false when the server ingests no events.
	Enabled bool
	// Fed is false for metric kinds that no SDK event feeds (trace).
	Fed bool
	// From and To bound the chart's window: [From, To).
	From, To time.Time
	// LastSeen is the latest hour with events in any environment.
	LastSeen *time.Time
	Charts   []activityChart
}

// activityChart is one environment's hourly volume.
type activityChart struct {
	ID                 string // unique within the page, for aria references
	EnvKey, EnvName    string
	Kind, EventKey     string
	Total, Peak        int64
	PeakHour, LastSeen *time.Time
	// EventsHref is the environment's event explorer page, "" when the UI
	// has none.
	EventsHref string
	Bars       []activityBar
	// BarsSVG is Bars as SVG <rect>s, written once here rather than by the
	// template, which would escape each of up to 720 bars' five values.
	BarsSVG template.HTML
	Days    []activityDay
	Ticks   []activityTick
	// Width, Left, Top, Bottom and Height are the SVG's geometry, for the
	// template.
	Width, Left, Top, Bottom, Height int
	// PlotRight is where the plot ends.
	PlotRight int
}

// activityBar is one hour with events.
type activityBar struct {
	X, Y, H int
	Count   int64
	Hour    time.Time
	Titled  string
}

// activityDay is one day's total, for the table that stands in for the
// chart.
type activityDay struct {
	Day   time.Time
	Count int64
}

// activityTick is a label under the x axis.
type activityTick struct {
	X     int
	Label string
}

// Summary describes the chart in words, for its <desc> and caption.
func (c activityChart) Summary() string {
	if c.Total == 0 {
		if c.LastSeen != nil {
			return fmt.Sprintf("No %s events %q in %s in the last %d days; last seen %s.", c.Kind, c.EventKey, c.EnvName, activityDays, when(*c.LastSeen))
		}
		return fmt.Sprintf("No events in %s in the last %d days.", c.EnvName, activityDays)
	}
	s := fmt.Sprintf("%s %s events %q in %s in the last %d days; the busiest hour, %s, had %s.",
		count(c.Total), c.Kind, c.EventKey, c.EnvName, activityDays, when(*c.PeakHour), count(c.Peak))
	if c.LastSeen != nil {
		s += " Last seen " + when(*c.LastSeen) + "."
	}
	return s
}

// count writes n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// metricActivity reads the hourly rollups of the metric's events in each
// environment of the project for the last activityDays days: one
// statement per environment whose events feed the metric.
func (u *UI) metricActivity(r *http.Request, project string, m *catalog.Metric, sources []catalog.EventSource, now time.Time) (metricActivity, error) {
	a := metricActivity{Enabled: u.explorer != nil, Fed: m.Kind != catalog.KindTrace}
	a.To = now.UTC().Truncate(time.Hour).Add(time.Hour)
	a.From = a.To.Add(-activityHours * time.Hour)
	if m.Usage != nil {
		a.LastSeen = m.Usage.LastSeen
	}
	if !a.Enabled || !a.Fed {
		return a, nil
	}
	ctx := r.Context()
	_, envs, err := u.svc.Projects.GetProject(ctx, project)
	if err != nil {
		return a, err
	}
	bySource := map[string]catalog.EventSource{}
	for _, s := range sources {
		bySource[s.EnvironmentKey] = s
	}
	explorerPage := hasRoute("GET /projects/{projectKey}/environments/{envKey}/events")
	for i, env := range envs {
		c := activityChart{ID: "activity-" + strconv.Itoa(i), EnvKey: env.Key, EnvName: env.Name,
			Kind: m.Kind, EventKey: m.Def.EventKey,
			Width: chartWidth, Left: chartLeft, Top: chartTop, Bottom: chartBottom, Height: chartHeight, PlotRight: chartLeft + activityHours}
		if m.Kind != catalog.KindCustom {
			c.EventKey = m.Key
		}
		if explorerPage {
			c.EventsHref = "/projects/" + url.PathEscape(project) + "/environments/" + url.PathEscape(env.Key) + "/events"
		}
		hourly := make([]int64, activityHours)
		if s, ok := bySource[env.Key]; ok {
			c.Kind, c.EventKey = s.Kind, s.Key
			last := s.LastSeen
			c.LastSeen = &last
			rows, err := u.explorer.HourCounts(ctx, env.ID, s.Kind, s.Key, a.From, a.To)
			if err != nil {
				return a, err
			}
			for _, row := range rows {
				i := int(row.Hour.Sub(a.From) / time.Hour)
				if i >= 0 && i < activityHours {
					hourly[i] += row.Count
				}
			}
		}
		c.fill(hourly, a.From)
		a.Charts = append(a.Charts, c)
	}
	return a, nil
}

// fill computes the chart's bars, daily totals and ticks from the hourly
// counts starting at from.
func (c *activityChart) fill(hourly []int64, from time.Time) {
	for i, n := range hourly {
		c.Total += n
		if n > c.Peak {
			c.Peak = n
			h := from.Add(time.Duration(i) * time.Hour)
			c.PeakHour = &h
		}
	}
	// Daily totals by UTC day: the window's first and last days are
	// partial.
	first := from.UTC().Truncate(24 * time.Hour)
	for i, n := range hourly {
		day := int(from.Add(time.Duration(i)*time.Hour).Sub(first) / (24 * time.Hour))
		for len(c.Days) <= day {
			c.Days = append(c.Days, activityDay{Day: first.Add(time.Duration(len(c.Days)) * 24 * time.Hour)})
		}
		c.Days[day].Count += n
	}
	for i, n := range hourly {
		if n == 0 {
			continue
		}
		// Every hour with events shows, however small next to the peak.
		h := max(1, int(math.Round(float64(n)/float64(c.Peak)*chartHeight)))
		hour := from.Add(time.Duration(i) * time.Hour)
		c.Bars = append(c.Bars, activityBar{X: chartLeft + i, Y: chartBottom - h, H: h, Count: n, Hour: hour,
			Titled: fmt.Sprintf("%s: %s events", when(hour), count(n))})
	}
	var svg strings.Builder
	for _, b := range c.Bars {
		fmt.Fprintf(&svg, `<rect class="bar" x="%d" y="%d" width="1" height="%d"><title>%s</title></rect>`, b.X, b.Y, b.H, html.EscapeString(b.Titled))
	}
	// Only integers and escaped text: safe as HTML.
	c.BarsSVG = template.HTML(svg.String())
	// A tick at every seventh UTC midnight, counted back from the last.
	last := from.Add(activityHours * time.Hour).Add(-time.Hour).UTC().Truncate(24 * time.Hour)
	for day := last; !day.Before(from); day = day.Add(-7 * 24 * time.Hour) {
		x := chartLeft + int(day.Sub(from)/time.Hour)
		c.Ticks = append([]activityTick{{X: x, Label: day.Format("Jan 2")}}, c.Ticks...)
	}
}
