package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
)

// The event explorer: metricsd's extension under an environment, over the
// events SDKs sent (see docs/API.md).

type metricLink struct {
	Key   string `json:"key"`
	Links links  `json:"_links"`
}

type eventKeyRep struct {
	Key        string       `json:"key"`
	Kind       string       `json:"kind"`
	FirstSeen  int64        `json:"firstSeen"`
	LastSeen   int64        `json:"lastSeen"`
	Volume     int64        `json:"volume"`
	Numeric    bool         `json:"numeric"`
	ValueCount int64        `json:"valueCount"`
	Metrics    []metricLink `json:"metrics"`
}

type eventKeysRep struct {
	Links      links         `json:"_links"`
	TotalCount int           `json:"totalCount"`
	Items      []eventKeyRep `json:"items"`
}

type rollupRep struct {
	Hour       int64            `json:"hour"`
	Count      int64            `json:"count"`
	Contexts   map[string]int64 `json:"contexts"`
	ValueCount int64            `json:"valueCount"`
	Sum        *float64         `json:"sum,omitempty"`
	Min        *float64         `json:"min,omitempty"`
	Max        *float64         `json:"max,omitempty"`
}

type rollupsRep struct {
	Links      links       `json:"_links"`
	Kind       string      `json:"kind"`
	Key        string      `json:"key"`
	TotalCount int         `json:"totalCount"`
	Items      []rollupRep `json:"items"`
	// Totals sums the items; its contexts merge the hours' sketches.
	Totals rollupRep `json:"totals"`
}

type metricStateRep struct {
	Key      string `json:"key"`
	Kind     string `json:"kind"`
	EventKey string `json:"eventKey,omitempty"`
	LastSeen *int64 `json:"lastSeen,omitempty"`
	Volume   int64  `json:"volume"`
	Links    links  `json:"_links"`
}

type eventHealthRep struct {
	Links                       links            `json:"_links"`
	Days                        int              `json:"days"`
	MetricsWithoutEvents        []metricStateRep `json:"metricsWithoutEvents"`
	NumericMetricsWithoutValues []metricStateRep `json:"numericMetricsWithoutValues"`
	UnusedEventKeys             []eventKeyRep    `json:"unusedEventKeys"`
	// TotalCounts are the lengths of the whole lists, of which the arrays
	// are one page.
	TotalCounts healthCountsRep `json:"totalCounts"`
}

type healthCountsRep struct {
	MetricsWithoutEvents        int `json:"metricsWithoutEvents"`
	NumericMetricsWithoutValues int `json:"numericMetricsWithoutValues"`
	UnusedEventKeys             int `json:"unusedEventKeys"`
}

// Explorer lists page like the API's other lists.
const (
	defaultExplorerLimit = 20
	maxExplorerLimit     = 100
)

func envPath(projectKey, envKey string) string {
	return projectPath(projectKey) + "/environments/" + url.PathEscape(envKey)
}

func metricLinks(projectKey string, keys []string) []metricLink {
	out := make([]metricLink, 0, len(keys))
	for _, k := range keys {
		out = append(out, metricLink{Key: k, Links: links{"self": jsonLink(metricsPath(projectKey) + "/" + url.PathEscape(k))}})
	}
	return out
}

func newEventKeyRep(projectKey string, k events.KeySummary) eventKeyRep {
	return eventKeyRep{Key: k.Key, Kind: k.Kind, FirstSeen: epochMS(k.FirstSeen), LastSeen: epochMS(k.LastSeen),
		Volume: k.Volume, Numeric: k.Numeric(), ValueCount: k.ValueCount, Metrics: metricLinks(projectKey, k.Metrics)}
}

func (s *Server) explorerEnv(r *http.Request) (projectKey, envKey, projectID, envID string, err error) {
	if s.explorer == nil {
		return "", "", "", "", core.Errorf(core.KindNotFound, "event ingestion is not enabled on this server")
	}
	p, e, err := s.svc.Projects.GetEnvironment(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"))
	if err != nil {
		return "", "", "", "", err
	}
	return p.Key, e.Key, p.ID, e.ID, nil
}

// listEventKeys answers GET …/environments/{environmentKey}/event-keys: the
// event keys seen in the last 90 days.
func (s *Server) listEventKeys(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	page, err := parsePage(qv.Get("limit"), qv.Get("offset"), defaultExplorerLimit, maxExplorerLimit)
	if err != nil {
		return err
	}
	pk, ek, _, envID, err := s.explorerEnv(r)
	if err != nil {
		return err
	}
	keys, err := s.explorer.Keys(r.Context(), envID, page)
	if err != nil {
		return err
	}
	rep := eventKeysRep{Links: pageLinks(envPath(pk, ek)+"/event-keys", qv, page, keys.Total), TotalCount: keys.Total, Items: []eventKeyRep{}}
	for _, k := range keys.Items {
		rep.Items = append(rep.Items, newEventKeyRep(pk, k))
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

var eventKinds = []string{events.KindCustom, events.KindPageview, events.KindClick}

// parseMillis reads an optional epoch-millisecond query parameter.
func parseMillis(q url.Values, name string, def time.Time) (time.Time, error) {
	raw := strings.TrimSpace(q.Get(name))
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || n > 1<<53 {
		return time.Time{}, invalid("%s must be a time in UNIX milliseconds", name)
	}
	return time.UnixMilli(n), nil
}

// listEventRollups answers GET …/event-keys/{kind}/{eventKey}/rollups: the
// hourly rollups of one key in [from, to), by default the last 24 hours.
func (s *Server) listEventRollups(w http.ResponseWriter, r *http.Request) error {
	kind, key := r.PathValue("kind"), r.PathValue("eventKey")
	if !slices.Contains(eventKinds, kind) {
		return core.Errorf(core.KindNotFound, "event kind must be one of custom, pageview, click")
	}
	q := r.URL.Query()
	now := time.Now()
	to, err := parseMillis(q, "to", now.Add(time.Hour))
	if err != nil {
		return err
	}
	from, err := parseMillis(q, "from", to.Add(-25*time.Hour))
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return invalid("from must be before to")
	}
	if to.Sub(from) > events.ExplorerWindow+24*time.Hour {
		return invalid("from and to may be at most 91 days apart")
	}
	pk, ek, _, envID, err := s.explorerEnv(r)
	if err != nil {
		return err
	}
	rows, err := s.explorer.Rollups(r.Context(), envID, kind, key, from, to)
	if err != nil {
		return err
	}
	self := envPath(pk, ek) + "/event-keys/" + kind + "/" + url.PathEscape(key) + "/rollups"
	rep := rollupsRep{Links: links{"self": jsonLink(self)}, Kind: kind, Key: key, TotalCount: len(rows), Items: []rollupRep{}}
	var total events.Rollup
	for _, row := range rows {
		rep.Items = append(rep.Items, newRollupRep(epochMS(row.Hour), &row.Rollup))
		total.Merge(&row.Rollup)
	}
	rep.Totals = newRollupRep(epochMS(from), &total)
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func newRollupRep(hour int64, r *events.Rollup) rollupRep {
	rep := rollupRep{Hour: hour, Count: r.Count, Contexts: map[string]int64{}, ValueCount: r.ValueCount}
	for kind, sk := range r.Contexts {
		rep.Contexts[kind] = sk.Estimate()
	}
	if r.ValueCount > 0 {
		rep.Sum, rep.Min, rep.Max = ptr(r.Sum), ptr(r.Min), ptr(r.Max)
	}
	return rep
}

func ptr[T any](v T) *T { return &v }

// getEventHealth answers GET …/environments/{environmentKey}/event-health:
// the same page (limit, offset) of each of the three lists.
func (s *Server) getEventHealth(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	page, err := parsePage(qv.Get("limit"), qv.Get("offset"), defaultExplorerLimit, maxExplorerLimit)
	if err != nil {
		return err
	}
	days := 7
	if raw := strings.TrimSpace(qv.Get("days")); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 90 {
			return invalid("days must be an integer between 1 and 90")
		}
		days = n
	}
	pk, ek, projectID, envID, err := s.explorerEnv(r)
	if err != nil {
		return err
	}
	h, err := s.explorer.Health(r.Context(), projectID, envID, days, events.HealthPages{Silent: page, NoValues: page, Unused: page})
	if err != nil {
		return err
	}
	// next and last follow the longest of the lists.
	longest := max(h.Silent.Total, h.NoValues.Total, h.Unused.Total)
	rep := eventHealthRep{Links: pageLinks(envPath(pk, ek)+"/event-health", qv, page, longest), Days: h.Days,
		MetricsWithoutEvents: []metricStateRep{}, NumericMetricsWithoutValues: []metricStateRep{}, UnusedEventKeys: []eventKeyRep{},
		TotalCounts: healthCountsRep{MetricsWithoutEvents: h.Silent.Total, NumericMetricsWithoutValues: h.NoValues.Total, UnusedEventKeys: h.Unused.Total}}
	state := func(m events.MetricState) metricStateRep {
		out := metricStateRep{Key: m.Key, Kind: m.Kind, EventKey: m.EventKey, Volume: m.Volume,
			Links: links{"self": jsonLink(metricsPath(pk) + "/" + url.PathEscape(m.Key))}}
		if m.LastSeen != nil {
			out.LastSeen = ptr(epochMS(*m.LastSeen))
		}
		return out
	}
	for _, m := range h.Silent.Items {
		rep.MetricsWithoutEvents = append(rep.MetricsWithoutEvents, state(m))
	}
	for _, m := range h.NoValues.Items {
		rep.NumericMetricsWithoutValues = append(rep.NumericMetricsWithoutValues, state(m))
	}
	for _, k := range h.Unused.Items {
		rep.UnusedEventKeys = append(rep.UnusedEventKeys, newEventKeyRep(pk, k))
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
