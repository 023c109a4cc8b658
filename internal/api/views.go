package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/filter"
	"github.com/metricsd/metricsd/internal/resource"
	"github.com/metricsd/metricsd/internal/view"
)

// Views (LaunchDarkly's Views beta API, View and Views schemas).

func viewsPath(projectKey string) string { return projectPath(projectKey) + "/views" }

func viewPath(projectKey, key string) string {
	return viewsPath(projectKey) + "/" + url.PathEscape(key)
}

type viewMaintainerMember struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
}

type viewMaintainerTeam struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name"`
}

// viewMaintainerRep is LaunchDarkly's Maintainer of a view: the id and
// kind, and with expand=maintainer the member's or team's details. Teams
// have no ID apart from their key in metricsd, so a team's id is its key.
type viewMaintainerRep struct {
	ID     string                `json:"id"`
	Kind   string                `json:"kind"`
	Member *viewMaintainerMember `json:"maintainerMember,omitempty"`
	Team   *viewMaintainerTeam   `json:"maintainerTeam,omitempty"`
}

type countRep struct {
	Count int `json:"count"`
}

type resourceSummaryRep struct {
	FlagCount    int `json:"flagCount"`
	SegmentCount int `json:"segmentCount"`
	TotalCount   int `json:"totalCount"`
}

type viewMetricRep struct {
	Key          string `json:"key"`
	Name         string `json:"name"`
	CreationDate int64  `json:"creationDate"`
	LastModified int64  `json:"lastModified"`
	IsActive     bool   `json:"isActive"`
	EventKey     string `json:"eventKey,omitempty"`
	Description  string `json:"description,omitempty"`
	Category     string `json:"category,omitempty"`
	ID           string `json:"_id"`
	VersionID    string `json:"_versionId"`
	Kind         string `json:"kind"`
	IsNumeric    bool   `json:"isNumeric"`
	LastSeen     *int64 `json:"lastSeen,omitempty"`
	Links        links  `json:"_links"`
}

type viewMetricsRep struct {
	Items      []viewMetricRep `json:"items"`
	TotalCount int             `json:"totalCount"`
}

type viewRep struct {
	Links           links               `json:"_links"`
	ID              string              `json:"id"`
	AccountID       string              `json:"accountId"`
	ProjectID       string              `json:"projectId"`
	ProjectKey      string              `json:"projectKey"`
	Key             string              `json:"key"`
	Name            string              `json:"name"`
	Description     string              `json:"description"`
	GenerateSDKKeys bool                `json:"generateSdkKeys"`
	Version         int                 `json:"version"`
	Tags            []string            `json:"tags"`
	CreatedAt       int64               `json:"createdAt"`
	UpdatedAt       int64               `json:"updatedAt"`
	Archived        bool                `json:"archived"`
	ArchivedAt      *int64              `json:"archivedAt,omitempty"`
	Deleted         bool                `json:"deleted"`
	Maintainer      *viewMaintainerRep  `json:"maintainer,omitempty"`
	FlagsSummary    *countRep           `json:"flagsSummary,omitempty"`
	SegmentsSummary *countRep           `json:"segmentsSummary,omitempty"`
	MetricsSummary  *countRep           `json:"metricsSummary,omitempty"`
	ResourceSummary *resourceSummaryRep `json:"resourceSummary,omitempty"`
	MetricsExpanded *viewMetricsRep     `json:"metricsExpanded,omitempty"`
}

func newViewRep(v *view.View, accountID string, expand view.ExpandSet, metrics []view.LinkedMetric) viewRep {
	rep := viewRep{
		Links: links{"parent": jsonLink(viewsPath(v.ProjectKey)), "self": jsonLink(viewPath(v.ProjectKey, v.Key))},
		ID:    v.ID, AccountID: accountID, ProjectID: v.ProjectID, ProjectKey: v.ProjectKey, Key: v.Key,
		Name: v.Name, Description: v.Description, GenerateSDKKeys: v.GenerateSDKKeys, Version: v.Version,
		Tags: core.OrEmpty(v.Tags), CreatedAt: epochMS(v.CreatedAt), UpdatedAt: epochMS(v.UpdatedAt),
		Archived: v.Archived,
	}
	if v.ArchivedAt != nil {
		at := epochMS(*v.ArchivedAt)
		rep.ArchivedAt = &at
	}
	switch {
	case v.MaintainerID != "":
		rep.Maintainer = &viewMaintainerRep{ID: v.MaintainerID, Kind: "member"}
		if m := v.Maintainer; expand[view.ExpandMaintainer] && m != nil {
			rep.Maintainer.Member = &viewMaintainerMember{ID: m.ID, Email: m.Email, Role: m.Role, FirstName: m.FirstName, LastName: m.LastName}
		}
	case v.MaintainerTeamKey != "":
		rep.Maintainer = &viewMaintainerRep{ID: v.MaintainerTeamKey, Kind: "team"}
		if t := v.MaintainerTeam; expand[view.ExpandMaintainer] && t != nil {
			rep.Maintainer.Team = &viewMaintainerTeam{ID: t.Key, Key: t.Key, Name: t.Name}
		}
	}
	if expand[view.ExpandFlagsSummary] {
		rep.FlagsSummary = &countRep{v.Counts.Flags}
	}
	if expand[view.ExpandSegmentsSummary] {
		rep.SegmentsSummary = &countRep{v.Counts.Segments}
	}
	if expand[view.ExpandMetricsSummary] {
		rep.MetricsSummary = &countRep{v.Counts.Metrics}
	}
	if expand[view.ExpandResourceSummary] {
		rep.ResourceSummary = &resourceSummaryRep{FlagCount: v.Counts.Flags, SegmentCount: v.Counts.Segments, TotalCount: v.Counts.Total()}
	}
	if expand[view.ExpandAllMetrics] {
		rep.MetricsExpanded = &viewMetricsRep{Items: make([]viewMetricRep, 0, len(metrics)), TotalCount: v.Counts.Metrics}
		for _, m := range metrics {
			self := metricsPath(m.ProjectKey) + "/" + url.PathEscape(m.Key)
			mr := viewMetricRep{
				Key: m.Key, Name: m.Name, CreationDate: epochMS(m.CreatedAt), LastModified: epochMS(m.UpdatedAt),
				IsActive: !m.Archived, EventKey: m.EventKey, Description: m.Description, Category: m.Category, ID: m.ID, VersionID: m.VersionID, Kind: m.Kind, IsNumeric: m.IsNumeric,
				Links: links{"parent": jsonLink(metricsPath(m.ProjectKey)), "self": jsonLink(self)},
			}
			if m.LastSeen != nil {
				at := epochMS(*m.LastSeen)
				mr.LastSeen = &at
			}
			rep.MetricsExpanded.Items = append(rep.MetricsExpanded.Items, mr)
		}
	}
	return rep
}

// linkResultRep is LaunchDarkly's LinkResourceSuccessResponse and
// UnlinkResourceSuccessResponse: a request either applies to every
// resource it names or fails as a whole, so failureCount is 0 whenever
// there is an answer.
type linkResultRep struct {
	SuccessCount int `json:"successCount"`
	FailureCount int `json:"failureCount"`
}

// viewFilterSpec lists the view filter's fields and operators, as
// LaunchDarkly documents them.
var viewFilterSpec = filter.Spec{
	"name":          filter.Ops("equals", "notEquals", "startsWith", "contains", "anyOf"),
	"key":           filter.Ops("equals", "notEquals", "startsWith", "contains", "anyOf"),
	"tag":           filter.Ops("equals", "anyOf"),
	"maintainerId":  filter.Ops("equals", "anyOf"),
	"isPayloadView": filter.Ops("equals"),
}

// parseViewQuery reads limit, offset, sort and filter of the view list.
func parseViewQuery(qv url.Values) (view.Query, error) {
	var q view.Query
	page, err := parsePage(qv.Get("limit"), qv.Get("offset"), view.DefaultLimit, view.MaxLimit)
	if err != nil {
		return q, err
	}
	q.Page = page
	if q.Sort, err = parseSort(qv.Get("sort"), "key", "name", "updatedAt"); err != nil {
		return q, err
	}
	expr, err := parseFilter(qv.Get("filter"), viewFilterSpec)
	if err != nil {
		return q, err
	}
	for _, cl := range expr.Clauses {
		c := view.Cond{Field: cl.Field, Op: cl.Op}
		switch {
		case cl.Field == "isPayloadView":
			b, err := cl.Value.AsBool()
			if err != nil {
				return q, filterInvalid(err)
			}
			c.Values = []string{map[bool]string{true: "true", false: "false"}[b]}
		case cl.Op == "anyOf":
			if c.Values, err = cl.Value.AsStrings(); err != nil {
				return q, filterInvalid(err)
			}
			if len(c.Values) == 0 {
				return q, invalid("filter field %q: anyOf needs at least one value", cl.Field)
			}
		default:
			s, err := cl.Value.AsString()
			if err != nil {
				return q, filterInvalid(err)
			}
			c.Values = []string{s}
		}
		if cl.Field == "tag" {
			for i, t := range c.Values {
				c.Values[i] = strings.TrimSpace(t)
			}
		}
		q.Conds = append(q.Conds, c)
	}
	return q, nil
}

// parseViewExpand reads expand against the names a read accepts; the
// LaunchDarkly expansions that list flag or segment details are refused,
// since metricsd holds only their keys.
func parseViewExpand(qv url.Values, allowed []view.Expand) (view.ExpandSet, error) {
	set := view.ExpandSet{}
	for _, v := range qv["expand"] {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			x := view.Expand(part)
			if slices.Contains(view.Unsupported, x) {
				return nil, invalid("expand %q is not available: metricsd does not manage flags or segments, only their links (use flagsSummary, segmentsSummary or resourceSummary)", part)
			}
			if !slices.Contains(allowed, x) {
				names := make([]string, len(allowed))
				for i, a := range allowed {
					names[i] = string(a)
				}
				return nil, invalid("expand %q is not supported; supported values: %s", part, strings.Join(names, ", "))
			}
			set[x] = true
		}
	}
	return set, nil
}

func (s *Server) listViews(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	q, err := parseViewQuery(qv)
	if err != nil {
		return err
	}
	expand, err := parseViewExpand(qv, view.ListExpands)
	if err != nil {
		return err
	}
	projectKey := r.PathValue("projectKey")
	views, total, err := s.svc.Views.List(r.Context(), projectKey, q)
	if err != nil {
		return err
	}
	accountID, err := s.svc.Auth.AccountID(r.Context())
	if err != nil {
		return err
	}
	return writeViews(w, r, views, accountID, expand, pageLinks(viewsPath(projectKey), qv, q.Page, total), total)
}

// writeViews writes a Views collection, each view with its _access.
func writeViews(w http.ResponseWriter, r *http.Request, views []view.View, accountID string, expand view.ExpandSet, l links, total int) error {
	items := make([]viewRep, 0, len(views))
	acc := make([]*accessRep, 0, len(views))
	ar := newAccessRenderer(r.Context(), nil)
	for i := range views {
		items = append(items, newViewRep(&views[i], accountID, expand, nil))
		acc = append(acc, ar.render(viewSpec(&views[i]), action.ViewActions()))
	}
	return writeListWithAccess(w, items, acc, l, total)
}

func viewSpec(v *view.View) resource.Spec { return resource.View(v.ProjectKey, v.Key, v.Tags) }

// listLinkedViews answers getLinkedViews: the views a resource is linked to.
func (s *Server) listLinkedViews(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	typ, err := view.ParseResourceType(r.PathValue("resourceType"))
	if err != nil {
		return err
	}
	page, err := parsePage(qv.Get("limit"), qv.Get("offset"), view.DefaultLimit, view.MaxLimit)
	if err != nil {
		return err
	}
	projectKey := r.PathValue("projectKey")
	views, total, err := s.svc.Views.Associations(r.Context(), projectKey, typ, r.PathValue("resourceKey"), qv.Get("environmentId"), page)
	if err != nil {
		return err
	}
	accountID, err := s.svc.Auth.AccountID(r.Context())
	if err != nil {
		return err
	}
	path := projectPath(projectKey) + "/view-associations/" + string(typ) + "/" + url.PathEscape(r.PathValue("resourceKey"))
	return writeViews(w, r, views, accountID, nil, pageLinks(path, qv, page, total), total)
}

func (s *Server) createView(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	in, err := view.DecodePost(body)
	if err != nil {
		return err
	}
	v, err := s.svc.Views.Create(r.Context(), r.PathValue("projectKey"), in)
	if err != nil {
		return err
	}
	return s.writeView(w, r, http.StatusOK, v, nil, nil)
}

func (s *Server) getView(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	expand, err := parseViewExpand(qv, view.GetExpands)
	if err != nil {
		return err
	}
	// LaunchDarkly documents list parameters for this read too; they are
	// checked and, as there is no list to apply them to, have no effect.
	if _, err := parseViewQuery(qv); err != nil {
		return err
	}
	v, metrics, err := s.svc.Views.Get(r.Context(), r.PathValue("projectKey"), r.PathValue("viewKey"), expand)
	if err != nil {
		return err
	}
	return s.writeView(w, r, http.StatusOK, v, expand, metrics)
}

func (s *Server) patchView(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	in, err := view.DecodePatch(body)
	if err != nil {
		return err
	}
	r = withIfMatch(r)
	v, err := s.svc.Views.Update(r.Context(), r.PathValue("projectKey"), r.PathValue("viewKey"), in)
	if err != nil {
		return err
	}
	return s.writeView(w, r, http.StatusOK, v, nil, nil)
}

func (s *Server) deleteView(w http.ResponseWriter, r *http.Request) error {
	r = withIfMatch(r)
	if err := s.svc.Views.Delete(r.Context(), r.PathValue("projectKey"), r.PathValue("viewKey")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) linkViewResources(w http.ResponseWriter, r *http.Request) error {
	return s.relinkView(w, r, true)
}

func (s *Server) unlinkViewResources(w http.ResponseWriter, r *http.Request) error {
	return s.relinkView(w, r, false)
}

func (s *Server) relinkView(w http.ResponseWriter, r *http.Request, link bool) error {
	typ, err := view.ParseResourceType(r.PathValue("resourceType"))
	if err != nil {
		return err
	}
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	in, err := view.DecodeLink(body, typ)
	if err != nil {
		return err
	}
	projectKey, key := r.PathValue("projectKey"), r.PathValue("viewKey")
	var res *view.LinkResult
	if link {
		res, err = s.svc.Views.Link(r.Context(), projectKey, key, typ, in)
	} else {
		res, err = s.svc.Views.Unlink(r.Context(), projectKey, key, typ, in)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, linkResultRep{SuccessCount: res.Count})
	return nil
}

func (s *Server) writeView(w http.ResponseWriter, r *http.Request, status int, v *view.View, expand view.ExpandSet, metrics []view.LinkedMetric) error {
	accountID, err := s.svc.Auth.AccountID(r.Context())
	if err != nil {
		return err
	}
	return writeVersioned(w, r, status, v.VersionToken(), newViewRep(v, accountID, expand, metrics), newAccessRenderer(r.Context(), nil).render(viewSpec(v), action.ViewActions()))
}
