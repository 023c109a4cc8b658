package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/resource"
)

// metricRep is LaunchDarkly's MetricRep / MetricListingRep. Optional and
// expandable fields are pointers or omitempty so that an absent value stays
// absent.
type metricRep struct {
	ID                        string                  `json:"_id"`
	VersionID                 string                  `json:"_versionId"`
	Version                   int                     `json:"_version"`
	Key                       string                  `json:"key"`
	Name                      string                  `json:"name"`
	Kind                      string                  `json:"kind"`
	Links                     links                   `json:"_links"`
	Site                      link                    `json:"_site"`
	Tags                      []string                `json:"tags"`
	CreationDate              int64                   `json:"_creationDate"`
	LastModified              modification            `json:"lastModified"`
	MaintainerID              string                  `json:"maintainerId,omitempty"`
	Maintainer                *memberSummary          `json:"_maintainer,omitempty"`
	MaintainerTeamKey         string                  `json:"maintainerTeamKey,omitempty"`
	Description               string                  `json:"description,omitempty"`
	Category                  string                  `json:"category,omitempty"`
	IsNumeric                 bool                    `json:"isNumeric"`
	SuccessCriteria           string                  `json:"successCriteria,omitempty"`
	Unit                      string                  `json:"unit,omitempty"`
	EventKey                  string                  `json:"eventKey,omitempty"`
	RandomizationUnits        []string                `json:"randomizationUnits"`
	AnalysisUnits             []string                `json:"analysisUnits"`
	Filters                   *catalog.EventFilter    `json:"filters,omitempty"`
	UnitAggregationType       string                  `json:"unitAggregationType"`
	AnalysisType              string                  `json:"analysisType"`
	PercentileValue           *int                    `json:"percentileValue,omitempty"`
	EventDefault              *catalog.EventDefault   `json:"eventDefault,omitempty"`
	DataSource                catalog.DataSource      `json:"dataSource"`
	Archived                  bool                    `json:"archived"`
	ArchivedAt                *int64                  `json:"archivedAt,omitempty"`
	Selector                  string                  `json:"selector,omitempty"`
	URLs                      []catalog.URLMatcher    `json:"urls,omitempty"`
	TraceQuery                string                  `json:"traceQuery,omitempty"`
	TraceValueLocation        string                  `json:"traceValueLocation,omitempty"`
	LastSeen                  *int64                  `json:"lastSeen,omitempty"`
	IsActive                  bool                    `json:"isActive"`
	ExperimentCount           *int                    `json:"experimentCount,omitempty"`
	MetricGroupCount          *int                    `json:"metricGroupCount,omitempty"`
	ActiveExperimentCount     int                     `json:"activeExperimentCount"`
	ActiveGuardedRolloutCount int                     `json:"activeGuardedRolloutCount"`
	AttachedFlagCount         int                     `json:"_attachedFlagCount"`
	GuardedRolloutCount       *int                    `json:"guardedRolloutCount,omitempty"`
	Experiments               *[]dependentExperiment  `json:"experiments,omitempty"`
	MetricGroups              *[]dependentMetricGroup `json:"metricGroups,omitempty"`
	GuardedRollouts           *[]dependentRollout     `json:"guardedRollouts,omitempty"`
	EventSources              *[]eventSource          `json:"eventSources,omitempty"`
	LastUsedInExperiment      *dependentExperiment    `json:"lastUsedInExperiment,omitempty"`
	LastUsedInGuardedRollout  *dependentRollout       `json:"lastUsedInGuardedRollout,omitempty"`
	AttachedFeatures          []flagListing           `json:"_attachedFeatures,omitempty"`
}

type modification struct {
	Date string `json:"date"`
}

type dependentExperiment struct {
	Key            string `json:"key"`
	Name           string `json:"name"`
	EnvironmentID  string `json:"environmentId"`
	EnvironmentKey string `json:"environmentKey"`
	CreationDate   int64  `json:"creationDate"`
	ArchivedDate   *int64 `json:"archivedDate,omitempty"`
	Links          links  `json:"_links"`
}

type dependentMetricGroup struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Links links  `json:"_links"`
}

type dependentRollout struct {
	ID              string `json:"_id"`
	FlagKey         string `json:"flagKey"`
	FlagName        string `json:"flagName"`
	FlagPurpose     string `json:"flagPurpose,omitempty"`
	EnvironmentKey  string `json:"environmentKey"`
	EnvironmentName string `json:"environmentName"`
	Status          string `json:"status"`
	CreationDate    int64  `json:"creationDate"`
	Links           links  `json:"_links"`
}

// eventSource is one entry of expand=eventSources: key and lastSeen as in
// LaunchDarkly, the rest metricsd's additions.
type eventSource struct {
	Key            string `json:"key"`
	Kind           string `json:"kind"`
	EnvironmentKey string `json:"environmentKey"`
	FirstSeen      int64  `json:"firstSeen"`
	LastSeen       int64  `json:"lastSeen"`
	Volume30Days   int64  `json:"volume30Days"`
}

type flagListing struct {
	Name  string `json:"name"`
	Key   string `json:"key"`
	Links links  `json:"_links"`
}

// metricSpec is the resource specifier of a metric, with its tags.
func metricSpec(m *catalog.Metric) resource.Spec {
	return resource.Metric(m.ProjectKey, m.Key, m.Def.Tags)
}

// metricAccess returns the _access of a metric for the caller.
func metricAccess(r *http.Request, m *catalog.Metric) *accessRep {
	return newAccessRenderer(r.Context(), nil).render(metricSpec(m), action.MetricActions())
}

func metricsPath(projectKey string) string { return "/api/v2/metrics/" + url.PathEscape(projectKey) }

func newExperimentRep(e catalog.ExperimentRef) dependentExperiment {
	env := projectPath(e.ProjectKey) + "/environments/" + url.PathEscape(e.EnvironmentKey)
	d := dependentExperiment{
		Key: e.Key, Name: e.Name, EnvironmentID: e.EnvironmentID, EnvironmentKey: e.EnvironmentKey,
		CreationDate: epochMS(e.CreatedAt),
		Links:        links{"parent": jsonLink(env), "self": jsonLink(env + "/experiments/" + url.PathEscape(e.Key))},
	}
	if e.ArchivedAt != nil {
		a := epochMS(*e.ArchivedAt)
		d.ArchivedDate = &a
	}
	return d
}

func newRolloutRep(g catalog.GuardedRolloutRef) dependentRollout {
	return dependentRollout{
		ID: g.ID, FlagKey: g.FlagKey, FlagName: g.FlagName, FlagPurpose: g.FlagPurpose,
		EnvironmentKey: g.EnvironmentKey, EnvironmentName: g.EnvironmentName, Status: g.Status,
		CreationDate: epochMS(g.CreatedAt),
		Links: links{"self": jsonLink(projectPath(g.ProjectKey) + "/flags/" + url.PathEscape(g.FlagKey) +
			"/environments/" + url.PathEscape(g.EnvironmentKey) + "/measured-rollouts/" + url.PathEscape(g.ID))},
	}
}

// newMetricRep renders m; expand says which expandable fields to include and
// x holds their loaded values.
func newMetricRep(m *catalog.Metric, expand catalog.ExpandSet, x *catalog.MetricExpansions) metricRep {
	d := m.Def
	self := metricsPath(m.ProjectKey) + "/" + url.PathEscape(m.Key)
	rep := metricRep{
		ID: m.ID, VersionID: m.VersionID, Version: m.Version, Key: m.Key, Name: d.Name, Kind: m.Kind,
		Links:        links{"parent": jsonLink(metricsPath(m.ProjectKey)), "self": jsonLink(self)},
		Site:         link{Href: "/experiments/metrics/" + url.PathEscape(m.Key) + "/edit", Type: "text/html"},
		Tags:         d.Tags,
		CreationDate: epochMS(m.CreatedAt),
		LastModified: modification{Date: m.UpdatedAt.Format("2006-01-02T15:04:05.000Z07:00")},
		MaintainerID: d.MaintainerID, Maintainer: memberSummaryRep(m.Maintainer), MaintainerTeamKey: d.MaintainerTeamKey,
		Description: d.Description, Category: d.Category, IsNumeric: d.IsNumeric,
		SuccessCriteria: d.SuccessCriteria, Unit: d.Unit, EventKey: d.EventKey,
		RandomizationUnits: d.RandomizationUnits, AnalysisUnits: d.RandomizationUnits, Filters: d.Filters,
		UnitAggregationType: d.UnitAggregationType, AnalysisType: d.AnalysisType, PercentileValue: d.PercentileValue,
		EventDefault: d.EventDefault, DataSource: d.DataSource, Archived: d.Archived,
		Selector: d.Selector, URLs: d.URLs, TraceQuery: d.TraceQuery, TraceValueLocation: d.TraceValueLocation,
		IsActive:                  m.Usage.IsActive(time.Now()),
		ActiveExperimentCount:     m.Usage.ActiveExperimentCount,
		ActiveGuardedRolloutCount: m.Usage.ActiveGuardedRolloutCount,
		AttachedFlagCount:         m.Usage.AttachedFlagCount,
	}
	if m.ArchivedAt != nil {
		a := epochMS(*m.ArchivedAt)
		rep.ArchivedAt = &a
	}
	if m.Usage.LastSeen != nil {
		l := epochMS(*m.Usage.LastSeen)
		rep.LastSeen = &l
	}
	u := m.Usage
	if expand[catalog.ExpandExperimentCount] {
		rep.ExperimentCount = &u.ExperimentCount
	}
	if expand[catalog.ExpandMetricGroupCount] {
		rep.MetricGroupCount = &u.MetricGroupCount
	}
	if expand[catalog.ExpandGuardedRolloutCount] {
		rep.GuardedRolloutCount = &u.GuardedRolloutCount
	}
	if x == nil {
		return rep
	}
	if expand[catalog.ExpandExperiments] {
		list := make([]dependentExperiment, 0, len(x.Experiments))
		for _, e := range x.Experiments {
			list = append(list, newExperimentRep(e))
		}
		rep.Experiments = &list
	}
	if expand[catalog.ExpandMetricGroups] {
		list := make([]dependentMetricGroup, 0, len(x.MetricGroups))
		rep.MetricGroups = &list
		for _, g := range x.MetricGroups {
			gp := projectPath(g.ProjectKey)
			list = append(list, dependentMetricGroup{
				Key: g.Key, Name: g.Name, Kind: g.Kind,
				Links: links{"parent": jsonLink(gp), "self": jsonLink(gp + "/metric-groups/" + url.PathEscape(g.Key))},
			})
		}
	}
	if expand[catalog.ExpandGuardedRollouts] {
		list := make([]dependentRollout, 0, len(x.GuardedRollouts))
		for _, g := range x.GuardedRollouts {
			list = append(list, newRolloutRep(g))
		}
		rep.GuardedRollouts = &list
	}
	if expand[catalog.ExpandEventSources] {
		list := make([]eventSource, 0, len(x.EventSources))
		for _, e := range x.EventSources {
			list = append(list, eventSource{Key: e.Key, Kind: e.Kind, EnvironmentKey: e.EnvironmentKey,
				FirstSeen: epochMS(e.FirstSeen), LastSeen: epochMS(e.LastSeen), Volume30Days: e.Volume30d})
		}
		rep.EventSources = &list
	}
	if x.LastUsedInExperiment != nil {
		e := newExperimentRep(*x.LastUsedInExperiment)
		rep.LastUsedInExperiment = &e
	}
	if x.LastUsedInGuardedRollout != nil {
		g := newRolloutRep(*x.LastUsedInGuardedRollout)
		rep.LastUsedInGuardedRollout = &g
	}
	for _, f := range x.AttachedFlags {
		rep.AttachedFeatures = append(rep.AttachedFeatures, flagListing{
			Name: f.Name, Key: f.Key,
			Links: links{"self": jsonLink(projectPath(m.ProjectKey) + "/flags/" + url.PathEscape(f.Key))},
		})
	}
	return rep
}

type metricCollectionRep struct {
	Items      []metricRep `json:"items"`
	Links      links       `json:"_links"`
	TotalCount int         `json:"totalCount"`
}

func (s *Server) listMetrics(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	q, err := parseMetricQuery(qv.Get("limit"), qv.Get("offset"), qv.Get("sort"), qv.Get("filter"))
	if err != nil {
		return err
	}
	expand, err := parseMetricListExpand(qv.Get("expand"))
	if err != nil {
		return err
	}
	projectKey := r.PathValue("projectKey")
	// A page is served again while the project's generation stays the
	// same (pagecache.go); view filters are not covered by it.
	cache := s.pages != nil && q.View == ""
	var k pageKey
	var gen int64
	if cache {
		// An unknown project (or a failed read) takes the uncached path,
		// which answers it as before.
		if gen, err = s.svc.Generations.Project(r.Context(), projectKey); err != nil {
			cache = false
		} else {
			k = pageKey{project: projectKey, query: r.URL.RawQuery, variant: accessVariant(r.Context())}
			body, ok := s.pages.get(k, gen)
			s.obs.CacheLookup("metricList", ok)
			if ok {
				writeBody(w, body)
				return nil
			}
		}
	}
	now := time.Now()
	ms, total, err := s.svc.Metrics.ListMetrics(r.Context(), projectKey, q)
	if err != nil {
		return err
	}
	rep := metricCollectionRep{Items: make([]metricRep, 0, len(ms)), TotalCount: total,
		Links: pageLinks(metricsPath(projectKey), qv, q.Page, total)}
	ar := newAccessRenderer(r.Context(), s.accessMemo)
	acc := make([]*accessRep, len(ms))
	var until time.Time
	for i := range ms {
		item := newMetricRep(&ms[i], expand, nil)
		acc[i] = ar.render(metricSpec(&ms[i]), action.MetricActions())
		// Listings always carry the group count; only experimentCount is
		// expandable there.
		item.MetricGroupCount = &ms[i].Usage.MetricGroupCount
		rep.Items = append(rep.Items, item)
		if u := ms[i].Usage; u != nil && u.LastSeen != nil {
			// isActive turns false by the clock alone; one already false
			// stays so.
			if t := u.LastSeen.Add(catalog.ActiveDataWindow); t.After(now) && (until.IsZero() || t.Before(until)) {
				until = t
			}
		}
	}
	body, err := encodeListWithAccess(rep.Items, acc, rep.Links, rep.TotalCount)
	if err != nil {
		return err
	}
	if cache {
		s.pages.put(k, pageEntry{gen: gen, body: body, until: until})
	}
	writeBody(w, body)
	return nil
}

func (s *Server) createMetric(w http.ResponseWriter, r *http.Request) error {
	var in catalog.MetricPost
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	m, err := s.svc.Metrics.CreateMetric(r.Context(), r.PathValue("projectKey"), in)
	if err != nil {
		return err
	}
	return writeVersioned(w, r, http.StatusCreated, m.VersionToken(), newMetricRep(m, nil, nil), metricAccess(r, m))
}

func (s *Server) getMetric(w http.ResponseWriter, r *http.Request) error {
	var qv url.Values // nil without a query: Get answers "" alike
	if r.URL.RawQuery != "" {
		qv = r.URL.Query()
	}
	expand, err := parseMetricExpand(qv.Get("expand"))
	if err != nil {
		return err
	}
	projectKey, key, versionID := r.PathValue("projectKey"), r.PathValue("metricKey"), qv.Get("versionId")
	k := repKey{kind: "metric", project: projectKey, key: key, version: versionID, expand: expandKey(expand), variant: accessVariant(r.Context())}
	e, err := s.cachedRep(r.Context(), k, func() (string, any, *accessRep, time.Time, error) {
		m, x, err := s.svc.Metrics.GetMetric(r.Context(), projectKey, key, versionID, expand)
		if err != nil {
			return "", nil, nil, time.Time{}, err
		}
		var until time.Time
		if m.Usage != nil && m.Usage.LastSeen != nil {
			// isActive turns false by the clock alone.
			until = m.Usage.LastSeen.Add(catalog.ActiveDataWindow)
		}
		return m.VersionToken(), newMetricRep(m, expand, x), metricAccess(r, m), until, nil
	})
	if err != nil {
		return err
	}
	writeEntity(w, r, http.StatusOK, e.etag, e.body)
	return nil
}

func (s *Server) patchMetric(w http.ResponseWriter, r *http.Request) error {
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	r = withIfMatch(r)
	if dry {
		return s.patchMetricDryRun(w, r, body)
	}
	m, err := s.svc.Metrics.PatchMetric(r.Context(), r.PathValue("projectKey"), r.PathValue("metricKey"), body)
	if err != nil {
		return err
	}
	return writeVersioned(w, r, http.StatusOK, m.VersionToken(), newMetricRep(m, nil, nil), metricAccess(r, m))
}

func (s *Server) deleteMetric(w http.ResponseWriter, r *http.Request) error {
	r = withIfMatch(r)
	if dry, err := dryRun(r); err != nil || dry {
		if err != nil {
			return err
		}
		return s.deleteMetricDryRun(w, r)
	}
	if err := s.svc.Metrics.DeleteMetric(r.Context(), r.PathValue("projectKey"), r.PathValue("metricKey")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// metricVersionRep summarises one version of a metric (a metricsd
// extension: LaunchDarkly reads one version by versionId but cannot list
// them).
type metricVersionRep struct {
	Links        links          `json:"_links"`
	Version      int            `json:"_version"`
	VersionID    string         `json:"_versionId"`
	CreationDate int64          `json:"_creationDate"`
	Comment      string         `json:"comment"`
	MemberID     string         `json:"memberId,omitempty"`
	MemberEmail  string         `json:"memberEmail,omitempty"`
	Member       *memberSummary `json:"_member,omitempty"`
}

type metricVersionsRep struct {
	Items      []metricVersionRep `json:"items"`
	Links      links              `json:"_links"`
	TotalCount int                `json:"totalCount"`
}

func metricVersionPath(projectKey, key, versionID string) string {
	return metricsPath(projectKey) + "/" + url.PathEscape(key) + "?versionId=" + url.QueryEscape(versionID)
}

func (s *Server) listMetricVersions(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	page, err := parsePage(qv.Get("limit"), qv.Get("offset"), 20, 100)
	if err != nil {
		return err
	}
	projectKey, key := r.PathValue("projectKey"), r.PathValue("metricKey")
	vs, total, err := s.svc.Metrics.ListMetricVersions(r.Context(), projectKey, key, page)
	if err != nil {
		return err
	}
	rep := metricVersionsRep{Items: make([]metricVersionRep, 0, len(vs)), TotalCount: total,
		Links: pageLinks(metricsPath(projectKey)+"/"+url.PathEscape(key)+"/versions", qv, page, total)}
	for _, v := range vs {
		rep.Items = append(rep.Items, metricVersionRep{
			Links:   links{"self": jsonLink(metricVersionPath(projectKey, key, v.VersionID))},
			Version: v.Version, VersionID: v.VersionID, CreationDate: epochMS(v.CreatedAt), Comment: v.Comment,
			MemberID: v.AuthorID, MemberEmail: v.AuthorEmail, Member: memberSummaryRep(v.Author),
		})
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

type versionRef struct {
	Links     links  `json:"_links"`
	Version   int    `json:"_version"`
	VersionID string `json:"_versionId"`
}

type metricDiffRep struct {
	From  versionRef `json:"from"`
	To    versionRef `json:"to"`
	Patch any        `json:"patch"`
}

func (s *Server) diffMetricVersions(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	projectKey, key := r.PathValue("projectKey"), r.PathValue("metricKey")
	d, err := s.svc.Metrics.DiffMetricVersions(r.Context(), projectKey, key, qv.Get("from"), qv.Get("to"))
	if err != nil {
		return err
	}
	ref := func(m *catalog.Metric) versionRef {
		return versionRef{Links: links{"self": jsonLink(metricVersionPath(projectKey, key, m.VersionID))}, Version: m.Version, VersionID: m.VersionID}
	}
	writeJSON(w, http.StatusOK, metricDiffRep{From: ref(d.From), To: ref(d.To), Patch: d.Patch})
	return nil
}
