package api

import (
	"net/http"
	"net/url"

	"github.com/metricsd/metricsd/internal/catalog"
)

type clientSideAvailability struct {
	UsingMobileKey     bool `json:"usingMobileKey"`
	UsingEnvironmentID bool `json:"usingEnvironmentId"`
}

type projectRep struct {
	Links                         links                  `json:"_links"`
	ID                            string                 `json:"_id"`
	Key                           string                 `json:"key"`
	IncludeInSnippetByDefault     bool                   `json:"includeInSnippetByDefault"`
	DefaultClientSideAvailability clientSideAvailability `json:"defaultClientSideAvailability"`
	Name                          string                 `json:"name"`
	Tags                          []string               `json:"tags"`
	Environments                  any                    `json:"environments,omitempty"`
}

type environmentRep struct {
	Links              links    `json:"_links"`
	ID                 string   `json:"_id"`
	Key                string   `json:"key"`
	Name               string   `json:"name"`
	APIKey             string   `json:"apiKey"`
	MobileKey          string   `json:"mobileKey"`
	Color              string   `json:"color"`
	DefaultTTL         int      `json:"defaultTtl"`
	SecureMode         bool     `json:"secureMode"`
	DefaultTrackEvents bool     `json:"defaultTrackEvents"`
	RequireComments    bool     `json:"requireComments"`
	ConfirmChanges     bool     `json:"confirmChanges"`
	Tags               []string `json:"tags"`
	Critical           bool     `json:"critical"`
}

type environmentsRep struct {
	Links      links            `json:"_links"`
	TotalCount int              `json:"totalCount"`
	Items      []environmentRep `json:"items"`
}

func projectPath(key string) string { return "/api/v2/projects/" + url.PathEscape(key) }

func newProjectRep(p *catalog.Project) projectRep {
	return projectRep{
		Links: links{
			"self":         jsonLink(projectPath(p.Key)),
			"environments": jsonLink(projectPath(p.Key) + "/environments"),
			"metrics":      jsonLink("/api/v2/metrics/" + url.PathEscape(p.Key)),
		},
		ID: p.ID, Key: p.Key, Name: p.Name, Tags: p.Tags,
		IncludeInSnippetByDefault:     p.IncludeInSnippetByDefault,
		DefaultClientSideAvailability: clientSideAvailability{UsingMobileKey: p.UsingMobileKey, UsingEnvironmentID: p.UsingEnvironmentID},
	}
}

func newEnvironmentRep(p *catalog.Project, e *catalog.Environment) environmentRep {
	self := projectPath(p.Key) + "/environments/" + url.PathEscape(e.Key)
	return environmentRep{
		Links: links{"self": jsonLink(self), "project": jsonLink(projectPath(p.Key))},
		ID:    e.ID, Key: e.Key, Name: e.Name, APIKey: e.APIKey, MobileKey: e.MobileKey, Color: e.Color,
		DefaultTTL: e.DefaultTTL, SecureMode: e.SecureMode, DefaultTrackEvents: e.DefaultTrackEvents,
		RequireComments: e.RequireComments, ConfirmChanges: e.ConfirmChanges, Tags: e.Tags, Critical: e.Critical,
	}
}

func newEnvironmentsRep(p *catalog.Project, envs []catalog.Environment) environmentsRep {
	items := make([]environmentRep, 0, len(envs))
	for i := range envs {
		items = append(items, newEnvironmentRep(p, &envs[i]))
	}
	return environmentsRep{Links: links{"self": jsonLink(projectPath(p.Key) + "/environments")}, TotalCount: len(items), Items: items}
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) error {
	var in catalog.ProjectPost
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	p, envs, err := s.svc.Projects.CreateProject(r.Context(), in)
	if err != nil {
		return err
	}
	rep := newProjectRep(p)
	rep.Environments = newEnvironmentsRep(p, envs).Items
	writeJSON(w, http.StatusCreated, rep)
	return nil
}

func expandEnvironments(r *http.Request) (bool, error) {
	set, err := parseExpand(r.URL.Query().Get("expand"), catalog.ProjectExpands)
	return set[catalog.ExpandEnvironments], err
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) error {
	withEnvs, err := expandEnvironments(r)
	if err != nil {
		return err
	}
	p, envs, err := s.svc.Projects.GetProject(r.Context(), r.PathValue("projectKey"))
	if err != nil {
		return err
	}
	rep := newProjectRep(p)
	if withEnvs {
		rep.Environments = newEnvironmentsRep(p, envs)
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

type projectsRep struct {
	Links      links        `json:"_links"`
	Items      []projectRep `json:"items"`
	TotalCount int          `json:"totalCount"`
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pq, err := parseProjectQuery(q.Get("limit"), q.Get("offset"), q.Get("filter"), q.Get("sort"))
	if err != nil {
		return err
	}
	withEnvs, err := expandEnvironments(r)
	if err != nil {
		return err
	}
	ps, total, err := s.svc.Projects.ListProjects(r.Context(), pq)
	if err != nil {
		return err
	}
	rep := projectsRep{Links: pageLinks("/api/v2/projects", q, pq.Page, total), Items: []projectRep{}, TotalCount: total}
	for i := range ps {
		pr := newProjectRep(&ps[i])
		if withEnvs {
			_, envs, err := s.svc.Projects.GetProject(r.Context(), ps[i].Key)
			if err != nil {
				return err
			}
			pr.Environments = newEnvironmentsRep(&ps[i], envs)
		}
		rep.Items = append(rep.Items, pr)
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Projects.DeleteProject(r.Context(), r.PathValue("projectKey")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	eq, err := parseEnvironmentQuery(q.Get("limit"), q.Get("offset"), q.Get("filter"), q.Get("sort"))
	if err != nil {
		return err
	}
	p, envs, total, err := s.svc.Projects.ListEnvironmentPage(r.Context(), r.PathValue("projectKey"), eq)
	if err != nil {
		return err
	}
	rep := newEnvironmentsRep(p, envs)
	rep.TotalCount = total
	rep.Links = pageLinks(projectPath(p.Key)+"/environments", q, eq.Page, total)
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request) error {
	p, e, err := s.svc.Projects.GetEnvironment(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newEnvironmentRep(p, e))
	return nil
}
