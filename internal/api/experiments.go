package api

import (
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
)

// Experiments and their iterations, in LaunchDarkly's shapes (Experiment,
// ExperimentCollectionRep, IterationRep).

// Expansions of experiment reads.
const (
	expandPreviousIterations = "previousIterations"
	expandDraftIteration     = "draftIteration"
	expandSecondaryMetrics   = "secondaryMetrics"
	expandTreatments         = "treatments"
)

var experimentExpands = []string{expandPreviousIterations, expandDraftIteration, expandSecondaryMetrics, expandTreatments}

func parseExperimentExpand(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		found := false
		for _, x := range experimentExpands {
			found = found || x == part
		}
		if !found {
			return nil, invalid("expand %q is not supported; supported values: %s", part, strings.Join(experimentExpands, ", "))
		}
		out[part] = true
	}
	return out, nil
}

type experimentRep struct {
	ID                 string          `json:"_id"`
	Key                string          `json:"key"`
	Name               string          `json:"name"`
	Description        string          `json:"description,omitempty"`
	MaintainerID       string          `json:"_maintainerId"`
	CreationDate       int64           `json:"_creationDate"`
	EnvironmentKey     string          `json:"environmentKey"`
	ArchivedDate       *int64          `json:"archivedDate,omitempty"`
	Tags               []string        `json:"tags"`
	Links              links           `json:"_links"`
	HoldoutID          string          `json:"holdoutId,omitempty"`
	CurrentIteration   *iterationRep   `json:"currentIteration,omitempty"`
	DraftIteration     *iterationRep   `json:"draftIteration,omitempty"`
	PreviousIterations *[]iterationRep `json:"previousIterations,omitempty"`
}

type iterationRep struct {
	ID                  string                     `json:"_id"`
	Hypothesis          string                     `json:"hypothesis"`
	Status              string                     `json:"status"`
	CreatedAt           int64                      `json:"createdAt"`
	StartedAt           *int64                     `json:"startedAt,omitempty"`
	EndedAt             *int64                     `json:"endedAt,omitempty"`
	WinningTreatmentID  string                     `json:"winningTreatmentId,omitempty"`
	WinningReason       string                     `json:"winningReason,omitempty"`
	CanReshuffleTraffic bool                       `json:"canReshuffleTraffic"`
	Flags               map[string]experimentFlag  `json:"flags"`
	PrimaryMetric       *dependentMetricOrGroup    `json:"primaryMetric,omitempty"`
	PrimarySingleMetric *metricV2                  `json:"primarySingleMetric,omitempty"`
	PrimaryFunnel       *dependentGroupWithMetrics `json:"primaryFunnel,omitempty"`
	RandomizationUnit   string                     `json:"randomizationUnit"`
	Attributes          []string                   `json:"attributes"`
	Treatments          []treatmentRep             `json:"treatments,omitempty"`
	SecondaryMetrics    []metricV2                 `json:"secondaryMetrics,omitempty"`
	Metrics             []dependentMetricOrGroup   `json:"metrics"`
}

type experimentFlag struct {
	Links                      links  `json:"_links"`
	FlagConfigVersion          int    `json:"flagConfigVersion"`
	NotInExperimentVariationID string `json:"notInExperimentVariationId,omitempty"`
	TargetingRule              string `json:"targetingRule"`
}

type treatmentRep struct {
	ID                string                 `json:"_id"`
	Name              string                 `json:"name"`
	AllocationPercent string                 `json:"allocationPercent"`
	Baseline          bool                   `json:"baseline"`
	Parameters        []experiment.Parameter `json:"parameters"`
}

// metricV2 is LaunchDarkly's MetricV2Rep, and with nameInGroup and
// randomizationUnits its MetricInGroupRep.
type metricV2 struct {
	Links               links    `json:"_links"`
	VersionID           string   `json:"_versionId"`
	Key                 string   `json:"key"`
	Name                string   `json:"name"`
	Kind                string   `json:"kind"`
	IsNumeric           bool     `json:"isNumeric"`
	EventKey            string   `json:"eventKey,omitempty"`
	UnitAggregationType string   `json:"unitAggregationType,omitempty"`
	NameInGroup         string   `json:"nameInGroup,omitempty"`
	RandomizationUnits  []string `json:"randomizationUnits,omitempty"`
}

// dependentMetricOrGroup is LaunchDarkly's DependentMetricOrMetricGroupRep.
type dependentMetricOrGroup struct {
	Links     links      `json:"_links"`
	VersionID string     `json:"_versionId"`
	IsGroup   bool       `json:"isGroup"`
	Key       string     `json:"key"`
	Kind      string     `json:"kind"`
	Name      string     `json:"name"`
	EventKey  string     `json:"eventKey,omitempty"`
	IsNumeric *bool      `json:"isNumeric,omitempty"`
	Metrics   []metricV2 `json:"metrics,omitempty"`
}

// dependentGroupWithMetrics is LaunchDarkly's
// DependentMetricGroupRepWithMetrics.
type dependentGroupWithMetrics struct {
	Key     string     `json:"key"`
	Name    string     `json:"name"`
	Kind    string     `json:"kind"`
	Links   links      `json:"_links"`
	Metrics []metricV2 `json:"metrics"`
}

func experimentPath(projectKey, envKey, key string) string {
	return projectPath(projectKey) + "/environments/" + url.PathEscape(envKey) + "/experiments" + suffix(key)
}

func suffix(key string) string {
	if key == "" {
		return ""
	}
	return "/" + url.PathEscape(key)
}

func newMetricV2(projectKey string, m *experiment.MetricSnap) metricV2 {
	return metricV2{
		Links:     links{"self": jsonLink(metricsPath(projectKey) + "/" + url.PathEscape(m.Key))},
		VersionID: m.VersionID, Key: m.Key, Name: m.Name, Kind: m.Kind, IsNumeric: m.IsNumeric,
		EventKey: m.EventKey, UnitAggregationType: m.UnitAggregationType,
	}
}

func groupMembers(projectKey string, g *experiment.GroupSnap) []metricV2 {
	out := make([]metricV2, 0, len(g.Metrics))
	for _, m := range g.Metrics {
		v := newMetricV2(projectKey, &m.MetricSnap)
		v.NameInGroup, v.RandomizationUnits = m.NameInGroup, m.RandomizationUnits
		out = append(out, v)
	}
	return out
}

func newDependent(projectKey string, en experiment.Entry) (dependentMetricOrGroup, bool) {
	switch {
	case en.Group != nil:
		g := en.Group
		return dependentMetricOrGroup{
			Links: links{"self": jsonLink(groupPath(projectKey, g.Key))}, VersionID: g.VersionID, IsGroup: true,
			Key: g.Key, Kind: g.Kind, Name: g.Name, Metrics: groupMembers(projectKey, g),
		}, true
	case en.Metric != nil:
		m := en.Metric
		numeric := m.IsNumeric
		return dependentMetricOrGroup{
			Links: links{"self": jsonLink(metricsPath(projectKey) + "/" + url.PathEscape(m.Key))}, VersionID: m.VersionID,
			Key: m.Key, Kind: m.Kind, Name: m.Name, EventKey: m.EventKey, IsNumeric: &numeric,
		}, true
	}
	return dependentMetricOrGroup{}, false
}

func newIterationRep(projectKey string, it *experiment.Iteration, expand map[string]bool) *iterationRep {
	rep := &iterationRep{
		ID: it.ID, Hypothesis: it.Def.Hypothesis, Status: it.Status, CreatedAt: epochMS(it.CreatedAt),
		WinningTreatmentID: it.WinningTreatmentID, WinningReason: it.WinningReason,
		CanReshuffleTraffic: it.Def.CanReshuffleTraffic, Flags: map[string]experimentFlag{},
		RandomizationUnit: it.Def.RandomizationUnit, Attributes: it.Def.Attributes,
		Metrics: []dependentMetricOrGroup{},
	}
	if rep.Attributes == nil {
		rep.Attributes = []string{}
	}
	if it.StartedAt != nil {
		v := epochMS(*it.StartedAt)
		rep.StartedAt = &v
	}
	if it.EndedAt != nil {
		v := epochMS(*it.EndedAt)
		rep.EndedAt = &v
	}
	for key, f := range it.Def.Flags {
		ef := experimentFlag{
			Links:                      links{"self": jsonLink("/api/v2/flags/" + url.PathEscape(projectKey) + "/" + url.PathEscape(key))},
			NotInExperimentVariationID: f.NotInExperimentVariationID,
		}
		if f.FlagConfigVersion != nil {
			ef.FlagConfigVersion = *f.FlagConfigVersion
		}
		if f.RuleID != nil {
			ef.TargetingRule = *f.RuleID
		}
		rep.Flags[key] = ef
	}
	primaryKey, primaryGroup := it.Def.PrimaryKey()
	for _, en := range it.Metrics {
		d, ok := newDependent(projectKey, en)
		if !ok {
			continue
		}
		rep.Metrics = append(rep.Metrics, d)
		if en.Key == primaryKey && en.IsGroup == primaryGroup {
			p := d
			rep.PrimaryMetric = &p
			if en.Group != nil {
				rep.PrimaryFunnel = &dependentGroupWithMetrics{
					Key: en.Group.Key, Name: en.Group.Name, Kind: en.Group.Kind,
					Links:   links{"self": jsonLink(groupPath(projectKey, en.Group.Key)), "parent": jsonLink(projectPath(projectKey))},
					Metrics: groupMembers(projectKey, en.Group),
				}
			} else {
				m := newMetricV2(projectKey, en.Metric)
				rep.PrimarySingleMetric = &m
			}
			continue
		}
		if expand[expandSecondaryMetrics] && en.Metric != nil {
			rep.SecondaryMetrics = append(rep.SecondaryMetrics, newMetricV2(projectKey, en.Metric))
		}
	}
	if expand[expandTreatments] {
		for _, t := range it.Def.Treatments {
			rep.Treatments = append(rep.Treatments, treatmentRep{ID: t.ID, Name: t.Name, AllocationPercent: t.AllocationPercent,
				Baseline: t.Baseline, Parameters: t.Parameters})
		}
	}
	return rep
}

func newExperimentResource(e *experiment.Experiment, expand map[string]bool) experimentRep {
	rep := experimentRep{
		ID: e.ID, Key: e.Key, Name: e.Name, Description: e.Description, MaintainerID: e.MaintainerID,
		CreationDate: epochMS(e.CreatedAt), EnvironmentKey: e.EnvironmentKey, Tags: e.Tags, HoldoutID: e.HoldoutID,
		Links: links{
			"self":   jsonLink(experimentPath(e.ProjectKey, e.EnvironmentKey, e.Key)),
			"parent": jsonLink(projectPath(e.ProjectKey) + "/environments/" + url.PathEscape(e.EnvironmentKey)),
		},
	}
	if rep.Tags == nil {
		rep.Tags = []string{}
	}
	if e.ArchivedAt != nil {
		a := epochMS(*e.ArchivedAt)
		rep.ArchivedDate = &a
	}
	cur := e.Current()
	if cur != nil {
		rep.CurrentIteration = newIterationRep(e.ProjectKey, cur, expand)
	}
	if d := e.Draft(); expand[expandDraftIteration] && d != nil {
		rep.DraftIteration = newIterationRep(e.ProjectKey, d, expand)
	}
	if prev := e.Previous(); expand[expandPreviousIterations] && len(prev) > 0 {
		list := make([]iterationRep, 0, len(prev))
		for i := range prev {
			list = append(list, *newIterationRep(e.ProjectKey, &prev[i], expand))
		}
		rep.PreviousIterations = &list
	}
	return rep
}

type experimentCollectionRep struct {
	Items      []experimentRep `json:"items"`
	TotalCount int             `json:"total_count"`
	Links      links           `json:"_links"`
}

// parseExperimentQuery reads the query of an experiment list.
func parseExperimentQuery(v url.Values) (experiment.Query, error) {
	l, err := parseColonList(v.Get("limit"), v.Get("offset"), "", v.Get("filter"), experiment.DefaultLimit, experiment.MaxLimit, nil,
		[]string{"flagKey", "metricKey", "status"})
	if err != nil {
		return experiment.Query{}, err
	}
	q := experiment.Query{Limit: l.page.Limit, Offset: l.page.Offset}
	for _, cl := range l.clauses {
		switch cl.field {
		case "flagKey":
			q.FlagKey = cl.value
		case "metricKey":
			q.MetricKey = cl.value
		case "status":
			switch cl.value {
			case experiment.StatusNotStarted, experiment.StatusRunning, experiment.StatusStopped:
				q.Status = cl.value
			default:
				return q, invalid("filter status must be not_started, running or stopped")
			}
		}
	}
	for part := range strings.SplitSeq(v.Get("lifecycleState"), ",") {
		switch strings.TrimSpace(part) {
		case "":
		case "active":
			q.Active = true
		case "archived":
			q.Archived = true
		default:
			return q, invalid("lifecycleState %q is not supported; use active, archived or both", part)
		}
	}
	if !q.Active && !q.Archived {
		q.Active = true
	}
	return q, nil
}

func (s *Server) listExperiments(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	q, err := parseExperimentQuery(qv)
	if err != nil {
		return err
	}
	expand, err := parseExperimentExpand(qv.Get("expand"))
	if err != nil {
		return err
	}
	pk, ek := r.PathValue("projectKey"), r.PathValue("environmentKey")
	es, total, err := s.svc.Experiments.ListExperiments(r.Context(), pk, ek, q)
	if err != nil {
		return err
	}
	rep := experimentCollectionRep{Items: make([]experimentRep, 0, len(es)), TotalCount: total,
		Links: pageLinks(experimentPath(pk, ek, ""), qv, core.Page{Limit: q.Limit, Offset: q.Offset}, total)}
	for i := range es {
		rep.Items = append(rep.Items, newExperimentResource(&es[i], expand))
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) createExperiment(w http.ResponseWriter, r *http.Request) error {
	var in experiment.ExperimentPost
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	e, err := s.svc.Experiments.CreateExperiment(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, newExperimentResource(e, map[string]bool{expandDraftIteration: true, expandTreatments: true, expandSecondaryMetrics: true}))
	return nil
}

func (s *Server) getExperiment(w http.ResponseWriter, r *http.Request) error {
	expand, err := parseExperimentExpand(r.URL.Query().Get("expand"))
	if err != nil {
		return err
	}
	e, err := s.svc.Experiments.GetExperiment(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"), r.PathValue("experimentKey"))
	if err != nil {
		return err
	}
	return writeVersioned(w, r, http.StatusOK, e.VersionToken(), newExperimentResource(e, expand), nil)
}

// readSemanticPatch reads the body of a request whose only update format
// is LaunchDarkly's semantic patch: the domain-model parameter may be
// omitted, and any other value is refused.
func (s *Server) readSemanticPatch(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && params["domain-model"] != "" {
		if dm := params["domain-model"]; dm != semanticPatchModel {
			return nil, core.Errorf(core.KindInvalid, "domain-model %q is not supported here; send a semantic patch (%s)", dm, semanticPatchModel)
		}
		r.Header = r.Header.Clone()
		r.Header.Set("Content-Type", mt)
	}
	return s.readJSON(w, r)
}

func (s *Server) patchExperiment(w http.ResponseWriter, r *http.Request) error {
	expand, err := parseExperimentExpand(r.URL.Query().Get("expand"))
	if err != nil {
		return err
	}
	body, err := s.readSemanticPatch(w, r)
	if err != nil {
		return err
	}
	r = withIfMatch(r)
	e, err := s.svc.Experiments.PatchExperiment(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"), r.PathValue("experimentKey"), body)
	if err != nil {
		return err
	}
	return writeVersioned(w, r, http.StatusOK, e.VersionToken(), newExperimentResource(e, expand), nil)
}

func (s *Server) createIteration(w http.ResponseWriter, r *http.Request) error {
	var in experiment.IterationInput
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	e, it, err := s.svc.Experiments.CreateIteration(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"), r.PathValue("experimentKey"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newIterationRep(e.ProjectKey, it, map[string]bool{expandTreatments: true, expandSecondaryMetrics: true}))
	return nil
}

// Guarded rollouts (a metricsd extension at LaunchDarkly's measured-rollouts
// path).

type rolloutRep struct {
	dependentRollout
	Metrics      []rolloutMetricRep `json:"metrics"`
	LastModified int64              `json:"lastModified"`
}

type rolloutMetricRep struct {
	Key     string `json:"key"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	IsGroup bool   `json:"isGroup"`
	Links   links  `json:"_links"`
}

func rolloutsPath(projectKey, flagKey, envKey string) string {
	return projectPath(projectKey) + "/flags/" + url.PathEscape(flagKey) + "/environments/" + url.PathEscape(envKey) + "/measured-rollouts"
}

func newRolloutResource(ro *experiment.Rollout) rolloutRep {
	rep := rolloutRep{
		dependentRollout: dependentRollout{
			ID: ro.ID, FlagKey: ro.FlagKey, FlagName: ro.FlagName, FlagPurpose: ro.FlagPurpose,
			EnvironmentKey: ro.EnvironmentKey, EnvironmentName: ro.EnvironmentName, Status: ro.Status,
			CreationDate: epochMS(ro.CreatedAt),
			Links: links{"self": jsonLink(rolloutsPath(ro.ProjectKey, ro.FlagKey, ro.EnvironmentKey) + "/" + url.PathEscape(ro.ID)),
				"parent": jsonLink(rolloutsPath(ro.ProjectKey, ro.FlagKey, ro.EnvironmentKey))},
		},
		Metrics:      []rolloutMetricRep{},
		LastModified: epochMS(ro.UpdatedAt),
	}
	for _, m := range ro.Metrics {
		self := metricsPath(ro.ProjectKey) + "/" + url.PathEscape(m.Key)
		if m.IsGroup {
			self = groupPath(ro.ProjectKey, m.Key)
		}
		rep.Metrics = append(rep.Metrics, rolloutMetricRep{Key: m.Key, Name: m.Name, Kind: m.Kind, IsGroup: m.IsGroup, Links: links{"self": jsonLink(self)}})
	}
	return rep
}

type rolloutCollectionRep struct {
	Items      []rolloutRep `json:"items"`
	TotalCount int          `json:"totalCount"`
	Links      links        `json:"_links"`
}

func (s *Server) listRollouts(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	l, err := parseColonList(qv.Get("limit"), qv.Get("offset"), "", qv.Get("filter"), experiment.DefaultLimit, experiment.MaxLimit, nil, []string{"status"})
	if err != nil {
		return err
	}
	q := experiment.RolloutQuery{Limit: l.page.Limit, Offset: l.page.Offset}
	for _, cl := range l.clauses {
		found := false
		for _, st := range experiment.RolloutStatuses {
			found = found || st == cl.value
		}
		if !found {
			return invalid("filter status must be one of %s", strings.Join(experiment.RolloutStatuses, ", "))
		}
		q.Status = cl.value
	}
	pk, fk, ek := r.PathValue("projectKey"), r.PathValue("flagKey"), r.PathValue("environmentKey")
	rs, total, err := s.svc.Rollouts.ListRollouts(r.Context(), pk, ek, fk, q)
	if err != nil {
		return err
	}
	rep := rolloutCollectionRep{Items: make([]rolloutRep, 0, len(rs)), TotalCount: total,
		Links: pageLinks(rolloutsPath(pk, fk, ek), qv, l.page, total)}
	for i := range rs {
		rep.Items = append(rep.Items, newRolloutResource(&rs[i]))
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) createRollout(w http.ResponseWriter, r *http.Request) error {
	var in experiment.RolloutPost
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	ro, err := s.svc.Rollouts.CreateRollout(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"), r.PathValue("flagKey"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, newRolloutResource(ro))
	return nil
}

func (s *Server) getRollout(w http.ResponseWriter, r *http.Request) error {
	ro, err := s.svc.Rollouts.GetRollout(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"), r.PathValue("flagKey"), r.PathValue("rolloutId"))
	if err != nil {
		return err
	}
	return writeVersioned(w, r, http.StatusOK, ro.VersionToken(), newRolloutResource(ro), nil)
}

func (s *Server) patchRollout(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readSemanticPatch(w, r)
	if err != nil {
		return err
	}
	r = withIfMatch(r)
	ro, err := s.svc.Rollouts.PatchRollout(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"), r.PathValue("flagKey"), r.PathValue("rolloutId"), body)
	if err != nil {
		return err
	}
	return writeVersioned(w, r, http.StatusOK, ro.VersionToken(), newRolloutResource(ro), nil)
}
