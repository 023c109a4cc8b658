package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// beta requires the LD-API-Version: beta header, as LaunchDarkly does for
// resources in beta.
func beta(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if wantsBeta(r) {
			return h(w, r)
		}
		return core.Errorf(core.KindForbidden, "this resource is in beta: send the header LD-API-Version: beta")
	}
}

// wantsBeta reports whether r asks for beta resources. LaunchDarkly's
// generated clients send their own dated version first; a "beta" among
// the LD-API-Version values is what counts.
func wantsBeta(r *http.Request) bool {
	for _, v := range r.Header.Values("LD-API-Version") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "beta") {
				return true
			}
		}
	}
	return false
}

type teamSummary struct {
	CustomRoleKeys []string `json:"customRoleKeys"`
	Key            string   `json:"key"`
	Links          links    `json:"_links"`
	Name           string   `json:"name"`
}

// maintainerRep renders a group's maintainer in both of LaunchDarkly's
// shapes at once: the older MaintainerRep ("member" or "team") and the
// current one ("key", "kind" and "_member" or "_team"), so that clients of
// either read it.
type maintainerRep struct {
	Key     string         `json:"key,omitempty"`
	Kind    string         `json:"kind,omitempty"`
	Member  *memberSummary `json:"member,omitempty"`
	Team    *teamSummary   `json:"team,omitempty"`
	XMember *memberSummary `json:"_member,omitempty"`
	XTeam   *teamSummary   `json:"_team,omitempty"`
}

func newMaintainerRep(g *catalog.MetricGroup) maintainerRep {
	var rep maintainerRep
	if g.Maintainer != nil {
		rep.Key, rep.Kind = g.Maintainer.ID, "member"
		rep.Member = memberSummaryRep(g.Maintainer)
		rep.XMember = rep.Member
	}
	if t := g.MaintainerTeam; t != nil {
		rep.Key, rep.Kind = t.Key, "team"
		rep.Team = &teamSummary{CustomRoleKeys: []string{}, Key: t.Key, Name: t.Name,
			Links: links{"self": jsonLink("/api/v2/teams/" + url.PathEscape(t.Key))}}
		rep.XTeam = rep.Team
	}
	return rep
}

type metricInGroupRep struct {
	Key                 string   `json:"key"`
	VersionID           string   `json:"_versionId"`
	Name                string   `json:"name"`
	Kind                string   `json:"kind"`
	IsNumeric           bool     `json:"isNumeric"`
	UnitAggregationType string   `json:"unitAggregationType,omitempty"`
	EventKey            string   `json:"eventKey,omitempty"`
	Links               links    `json:"_links"`
	NameInGroup         string   `json:"nameInGroup"`
	RandomizationUnits  []string `json:"randomizationUnits"`
	// AnalysisUnits is LaunchDarkly's newer name of RandomizationUnits;
	// both carry the same value.
	AnalysisUnits []string `json:"analysisUnits"`
}

type metricGroupRep struct {
	ID                        string                 `json:"_id"`
	Key                       string                 `json:"key"`
	Name                      string                 `json:"name"`
	Kind                      string                 `json:"kind"`
	Description               string                 `json:"description"`
	Links                     links                  `json:"_links"`
	Tags                      []string               `json:"tags"`
	CreationDate              int64                  `json:"_creationDate"`
	LastModified              int64                  `json:"_lastModified"`
	Maintainer                maintainerRep          `json:"maintainer"`
	Metrics                   []metricInGroupRep     `json:"metrics"`
	Version                   int                    `json:"_version"`
	Experiments               *[]dependentExperiment `json:"experiments,omitempty"`
	ExperimentCount           *int                   `json:"experimentCount,omitempty"`
	ActiveExperimentCount     int                    `json:"activeExperimentCount"`
	ActiveGuardedRolloutCount int                    `json:"activeGuardedRolloutCount"`
}

// groupSpec is the resource specifier of a metric group, with its tags.
func groupSpec(g *catalog.MetricGroup) resource.Spec {
	return resource.MetricGroup(g.ProjectKey, g.Key, g.Def.Tags)
}

// groupAccess returns the _access of a metric group for the caller.
func groupAccess(r *http.Request, g *catalog.MetricGroup) *accessRep {
	return newAccessRenderer(r.Context(), nil).render(groupSpec(g), action.MetricGroupActions())
}

func groupPath(projectKey, key string) string {
	return projectPath(projectKey) + "/metric-groups/" + url.PathEscape(key)
}

func newGroupRep(g *catalog.MetricGroup, expand catalog.ExpandSet, exps []catalog.ExperimentRef) metricGroupRep {
	rep := metricGroupRep{
		ID: g.ID, Key: g.Key, Name: g.Def.Name, Kind: g.Def.Kind, Description: g.Def.Description,
		Links:        links{"parent": jsonLink(projectPath(g.ProjectKey)), "self": jsonLink(groupPath(g.ProjectKey, g.Key))},
		Tags:         g.Def.Tags,
		CreationDate: epochMS(g.CreatedAt), LastModified: epochMS(g.UpdatedAt),
		Metrics: make([]metricInGroupRep, 0, len(g.Metrics)), Version: g.Version,
		ActiveExperimentCount:     g.Usage.ActiveExperimentCount,
		ActiveGuardedRolloutCount: g.Usage.ActiveGuardedRolloutCount,
	}
	rep.Maintainer = newMaintainerRep(g)
	for _, m := range g.Metrics {
		rep.Metrics = append(rep.Metrics, metricInGroupRep{
			Key: m.Key, VersionID: m.VersionID, Name: m.Def.Name, Kind: m.Kind, IsNumeric: m.Def.IsNumeric,
			UnitAggregationType: m.Def.UnitAggregationType, EventKey: m.Def.EventKey,
			Links:       links{"self": jsonLink(metricsPath(m.ProjectKey) + "/" + url.PathEscape(m.Key))},
			NameInGroup: m.NameInGroup, RandomizationUnits: m.Def.RandomizationUnits, AnalysisUnits: m.Def.RandomizationUnits,
		})
	}
	if expand[catalog.ExpandExperimentCount] {
		n := g.Usage.ExperimentCount
		rep.ExperimentCount = &n
	}
	if expand[catalog.ExpandExperiments] {
		list := make([]dependentExperiment, 0, len(exps))
		for _, e := range exps {
			list = append(list, newExperimentRep(e))
		}
		rep.Experiments = &list
	}
	return rep
}

type metricGroupCollectionRep struct {
	Items      []metricGroupRep `json:"items"`
	Links      links            `json:"_links"`
	TotalCount int              `json:"totalCount"`
}

func (s *Server) listMetricGroups(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	q, err := parseGroupQuery(qv.Get("limit"), qv.Get("offset"), qv.Get("sort"), qv.Get("filter"))
	if err != nil {
		return err
	}
	// expand is accepted and ignored on this endpoint, as documented.
	projectKey := r.PathValue("projectKey")
	groups, total, err := s.svc.Groups.ListMetricGroups(r.Context(), projectKey, q)
	if err != nil {
		return err
	}
	rep := metricGroupCollectionRep{Items: make([]metricGroupRep, 0, len(groups)), TotalCount: total,
		Links: pageLinks(projectPath(projectKey)+"/metric-groups", qv, q.Page, total)}
	ar := newAccessRenderer(r.Context(), s.accessMemo)
	acc := make([]*accessRep, len(groups))
	for i := range groups {
		rep.Items = append(rep.Items, newGroupRep(&groups[i], nil, nil))
		acc[i] = ar.render(groupSpec(&groups[i]), action.MetricGroupActions())
	}
	return writeListWithAccess(w, rep.Items, acc, rep.Links, rep.TotalCount)
}

func (s *Server) createMetricGroup(w http.ResponseWriter, r *http.Request) error {
	var in catalog.MetricGroupPost
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	g, err := s.svc.Groups.CreateMetricGroup(r.Context(), r.PathValue("projectKey"), in)
	if err != nil {
		return err
	}
	return writeVersioned(w, r, http.StatusCreated, g.VersionToken(), newGroupRep(g, nil, nil), groupAccess(r, g))
}

func (s *Server) getMetricGroup(w http.ResponseWriter, r *http.Request) error {
	expand, err := parseGroupExpand(r.URL.Query().Get("expand"))
	if err != nil {
		return err
	}
	projectKey, key := r.PathValue("projectKey"), r.PathValue("metricGroupKey")
	k := repKey{kind: "metric-group", project: projectKey, key: key, expand: expandKey(expand), variant: accessVariant(r.Context())}
	e, err := s.cachedRep(r.Context(), k, func() (string, any, *accessRep, time.Time, error) {
		g, exps, err := s.svc.Groups.GetMetricGroup(r.Context(), projectKey, key, expand)
		if err != nil {
			return "", nil, nil, time.Time{}, err
		}
		return g.VersionToken(), newGroupRep(g, expand, exps), groupAccess(r, g), time.Time{}, nil
	})
	if err != nil {
		return err
	}
	writeEntity(w, r, http.StatusOK, e.etag, e.body)
	return nil
}

func (s *Server) patchMetricGroup(w http.ResponseWriter, r *http.Request) error {
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
		return s.patchMetricGroupDryRun(w, r, body)
	}
	g, err := s.svc.Groups.PatchMetricGroup(r.Context(), r.PathValue("projectKey"), r.PathValue("metricGroupKey"), body)
	if err != nil {
		return err
	}
	return writeVersioned(w, r, http.StatusOK, g.VersionToken(), newGroupRep(g, nil, nil), groupAccess(r, g))
}

func (s *Server) deleteMetricGroup(w http.ResponseWriter, r *http.Request) error {
	r = withIfMatch(r)
	if dry, err := dryRun(r); err != nil || dry {
		if err != nil {
			return err
		}
		return s.deleteMetricGroupDryRun(w, r)
	}
	if err := s.svc.Groups.DeleteMetricGroup(r.Context(), r.PathValue("projectKey"), r.PathValue("metricGroupKey")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
