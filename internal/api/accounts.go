package api

import (
	"mime"
	"net/http"
	"net/url"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

const (
	membersPath = "/api/v2/members"
	teamsPath   = "/api/v2/teams"
)

func memberPath(id string) string { return membersPath + "/" + url.PathEscape(id) }
func teamPath(key string) string  { return teamsPath + "/" + url.PathEscape(key) }

// memberTeamRep is LaunchDarkly's MemberTeamSummaryRep.
type memberTeamRep struct {
	Links          links    `json:"_links"`
	Key            string   `json:"key"`
	Name           string   `json:"name"`
	CustomRoleKeys []string `json:"customRoleKeys"`
}

// permissionGrantRep is LaunchDarkly's MemberPermissionGrantSummaryRep.
type permissionGrantRep struct {
	Resource  string `json:"resource"`
	ActionSet string `json:"actionSet"`
}

// memberRep is LaunchDarkly's Member. metricsd has no invitations, email
// verification, multi-factor authentication, custom roles or activity
// tracking, so those fields have fixed values.
type memberRep struct {
	Links              links                `json:"_links"`
	ID                 string               `json:"_id"`
	FirstName          string               `json:"firstName,omitempty"`
	LastName           string               `json:"lastName,omitempty"`
	Role               string               `json:"role"`
	Email              string               `json:"email"`
	PendingInvite      bool                 `json:"_pendingInvite"`
	Verified           bool                 `json:"_verified"`
	CustomRoles        []string             `json:"customRoles"`
	MFA                string               `json:"mfa"`
	ExcludedDashboards []string             `json:"excludedDashboards"`
	LastSeen           int64                `json:"_lastSeen"`
	Teams              []memberTeamRep      `json:"teams"`
	PermissionGrants   []permissionGrantRep `json:"permissionGrants"`
	CreationDate       int64                `json:"creationDate"`
	RoleAttributes     *map[string][]string `json:"roleAttributes,omitempty"`
}

func newMemberRep(m *account.MemberDetail, expand catalog.ExpandSet) memberRep {
	rep := memberRep{
		Links: links{"self": jsonLink(memberPath(m.ID))},
		ID:    m.ID, FirstName: m.FirstName, LastName: m.LastName, Role: m.Role, Email: m.Email,
		Verified: true, CustomRoles: core.OrEmpty(m.CustomRoleIDs), MFA: "disabled", ExcludedDashboards: []string{},
		Teams: make([]memberTeamRep, 0, len(m.Teams)), PermissionGrants: make([]permissionGrantRep, 0, len(m.MaintainedTeams)),
		CreationDate: epochMS(m.CreatedAt),
	}
	for _, t := range m.Teams {
		rep.Teams = append(rep.Teams, memberTeamRep{
			Links: links{"self": jsonLink(teamPath(t.Key))}, Key: t.Key, Name: t.Name, CustomRoleKeys: []string{},
		})
	}
	for _, t := range m.MaintainedTeams {
		rep.PermissionGrants = append(rep.PermissionGrants, permissionGrantRep{Resource: "team/" + t.Key, ActionSet: account.ActionSetMaintainTeam})
	}
	if expand[catalog.ExpandRoleAttributes] {
		rep.RoleAttributes = &map[string][]string{}
	}
	return rep
}

// membersRep is LaunchDarkly's Members collection.
type membersRep struct {
	Items      []memberRep `json:"items"`
	Links      links       `json:"_links"`
	TotalCount int         `json:"totalCount"`
}

func newMembersRep(ms []account.MemberDetail, expand catalog.ExpandSet, l links, total int) membersRep {
	rep := membersRep{Items: make([]memberRep, 0, len(ms)), Links: l, TotalCount: total}
	for i := range ms {
		rep.Items = append(rep.Items, newMemberRep(&ms[i], expand))
	}
	return rep
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	q, err := parseMemberQuery(qv.Get("limit"), qv.Get("offset"), qv.Get("filter"), qv.Get("sort"))
	if err != nil {
		return err
	}
	expand, err := parseMemberExpand(qv.Get("expand"))
	if err != nil {
		return err
	}
	ms, total, err := s.svc.Members.ListMembers(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newMembersRep(ms, expand, pageLinks(membersPath, qv, q.Page, total), total))
	return nil
}

func (s *Server) createMembers(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	ms, err := s.svc.Members.CreateMembers(r.Context(), body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, newMembersRep(ms, nil, links{"self": jsonLink(membersPath)}, len(ms)))
	return nil
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) error {
	expand, err := parseMemberExpand(r.URL.Query().Get("expand"))
	if err != nil {
		return err
	}
	m, err := s.svc.Members.GetMember(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newMemberRep(m, expand))
	return nil
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.svc.Members.DeleteMember(r.Context(), id); err != nil {
		return err
	}
	// The member's tokens are gone with it; stop trusting cached ones here
	// at once (other replicas stop within the cache's time to live).
	s.auth.forget(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// teamCollectionRep is an expanded list that metricsd keeps empty (the
// projects a team can write to).
type teamCollectionRep struct {
	TotalCount int   `json:"totalCount"`
	Items      []any `json:"items"`
}

// teamRolesRep is LaunchDarkly's TeamCustomRoles: the custom roles a team
// holds, each with when it was applied.
type teamRolesRep struct {
	TotalCount int           `json:"totalCount"`
	Items      []teamRoleRep `json:"items"`
	Links      links         `json:"_links,omitempty"`
}

type teamRoleRep struct {
	Key       string `json:"key"`
	Name      string `json:"name"`
	AppliedOn int64  `json:"appliedOn"`
}

type teamMembersRep struct {
	TotalCount int `json:"totalCount"`
}

type teamMaintainersRep struct {
	TotalCount int             `json:"totalCount"`
	Items      []memberSummary `json:"items"`
}

// teamRep is LaunchDarkly's Team.
type teamRep struct {
	Links          links                `json:"_links"`
	Key            string               `json:"key"`
	Name           string               `json:"name"`
	Description    string               `json:"description"`
	CreationDate   int64                `json:"_creationDate"`
	LastModified   int64                `json:"_lastModified"`
	Version        int                  `json:"_version"`
	IdpSynced      bool                 `json:"_idpSynced"`
	RoleAttributes *map[string][]string `json:"roleAttributes,omitempty"`
	Roles          *teamRolesRep        `json:"roles,omitempty"`
	Members        *teamMembersRep      `json:"members,omitempty"`
	Projects       *teamCollectionRep   `json:"projects,omitempty"`
	Maintainers    *teamMaintainersRep  `json:"maintainers,omitempty"`
}

func newTeamRep(t *account.Team, expand catalog.ExpandSet) teamRep {
	rep := teamRep{
		Links: links{"self": jsonLink(teamPath(t.Key)), "parent": jsonLink(teamsPath)},
		Key:   t.Key, Name: t.Name, Description: t.Description,
		CreationDate: epochMS(t.CreatedAt), LastModified: epochMS(t.UpdatedAt), Version: t.Version,
	}
	if expand[catalog.ExpandMembers] {
		rep.Members = &teamMembersRep{TotalCount: t.MemberCount}
	}
	if expand[catalog.ExpandMaintainers] {
		m := &teamMaintainersRep{TotalCount: len(t.Maintainers), Items: make([]memberSummary, 0, len(t.Maintainers))}
		for i := range t.Maintainers {
			m.Items = append(m.Items, *memberSummaryRep(&t.Maintainers[i]))
		}
		rep.Maintainers = m
	}
	if expand[catalog.ExpandRoles] {
		roles := &teamRolesRep{TotalCount: len(t.Roles), Items: make([]teamRoleRep, 0, len(t.Roles))}
		for _, r := range t.Roles {
			roles.Items = append(roles.Items, teamRoleRep{Key: r.Key, Name: r.Name, AppliedOn: epochMS(r.AppliedAt)})
		}
		rep.Roles = roles
	}
	if expand[catalog.ExpandProjects] {
		rep.Projects = &teamCollectionRep{Items: []any{}}
	}
	if expand[catalog.ExpandRoleAttributes] {
		rep.RoleAttributes = &map[string][]string{}
	}
	return rep
}

type teamsRep struct {
	Items      []teamRep `json:"items"`
	Links      links     `json:"_links"`
	TotalCount int       `json:"totalCount"`
}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	q, err := parseTeamQuery(qv.Get("limit"), qv.Get("offset"), qv.Get("filter"))
	if err != nil {
		return err
	}
	expand, err := parseTeamListExpand(qv.Get("expand"))
	if err != nil {
		return err
	}
	ts, total, err := s.svc.Teams.ListTeams(r.Context(), q)
	if err != nil {
		return err
	}
	rep := teamsRep{Items: make([]teamRep, 0, len(ts)), Links: pageLinks(teamsPath, qv, q.Page, total), TotalCount: total}
	for i := range ts {
		rep.Items = append(rep.Items, newTeamRep(&ts[i], expand))
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) createTeam(w http.ResponseWriter, r *http.Request) error {
	expand, err := parseTeamExpand(r.URL.Query().Get("expand"))
	if err != nil {
		return err
	}
	var in account.TeamPost
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	t, err := s.svc.Teams.CreateTeam(r.Context(), in)
	if err != nil {
		return err
	}
	// A team's roles are its members': decide afresh here at once (other
	// replicas within the authentication cache's time to live).
	s.auth.clear()
	return writeVersioned(w, r, http.StatusCreated, t.VersionToken(), newTeamRep(t, expand), nil)
}

func (s *Server) getTeam(w http.ResponseWriter, r *http.Request) error {
	expand, err := parseTeamExpand(r.URL.Query().Get("expand"))
	if err != nil {
		return err
	}
	t, err := s.svc.Teams.GetTeam(r.Context(), r.PathValue("teamKey"))
	if err != nil {
		return err
	}
	return writeVersioned(w, r, http.StatusOK, t.VersionToken(), newTeamRep(t, expand), nil)
}

// semanticPatchModel is the Content-Type parameter LaunchDarkly asks of
// semantic patch requests.
const semanticPatchModel = "launchdarkly.semanticpatch"

func (s *Server) patchTeam(w http.ResponseWriter, r *http.Request) error {
	expand, err := parseTeamExpand(r.URL.Query().Get("expand"))
	if err != nil {
		return err
	}
	// Team updates are always semantic patches, so the domain-model
	// parameter is optional here (LaunchDarkly's generated clients omit it).
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && params["domain-model"] != "" {
		if dm := params["domain-model"]; dm != semanticPatchModel {
			return core.Errorf(core.KindInvalid, "domain-model %q is not supported here; send a semantic patch (%s)", dm, semanticPatchModel)
		}
		r = r.WithContext(r.Context())
		r.Header = r.Header.Clone()
		r.Header.Set("Content-Type", mt)
	}
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	r = withIfMatch(r)
	t, err := s.svc.Teams.PatchTeam(r.Context(), r.PathValue("teamKey"), body)
	if err != nil {
		return err
	}
	s.auth.clear() // its members or roles may have changed
	return writeVersioned(w, r, http.StatusOK, t.VersionToken(), newTeamRep(t, expand), nil)
}

func (s *Server) deleteTeam(w http.ResponseWriter, r *http.Request) error {
	r = withIfMatch(r)
	if err := s.svc.Teams.DeleteTeam(r.Context(), r.PathValue("teamKey")); err != nil {
		return err
	}
	s.auth.clear()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// teamMaintainerPageRep is LaunchDarkly's TeamMaintainers as the
// maintainers listing answers it: one page with paging links.
type teamMaintainerPageRep struct {
	TotalCount int             `json:"totalCount"`
	Items      []memberSummary `json:"items"`
	Links      links           `json:"_links"`
}

func (s *Server) listTeamMaintainers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	page, err := parseTeamMaintainersPage(q.Get("limit"), q.Get("offset"))
	if err != nil {
		return err
	}
	key := r.PathValue("teamKey")
	ms, total, err := s.svc.Teams.ListTeamMaintainers(r.Context(), key, page)
	if err != nil {
		return err
	}
	rep := teamMaintainerPageRep{TotalCount: total, Items: make([]memberSummary, 0, len(ms)),
		Links: pageLinks(teamPath(key)+"/maintainers", q, page, total)}
	for i := range ms {
		rep.Items = append(rep.Items, *memberSummaryRep(&ms[i]))
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// listTeamRoles answers LaunchDarkly's getTeamRoles: one page of the
// custom roles the team holds (TeamCustomRoles), in the order of the
// roles expansion, with paging links.
func (s *Server) listTeamRoles(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	page, err := parseTeamMaintainersPage(q.Get("limit"), q.Get("offset"))
	if err != nil {
		return err
	}
	key := r.PathValue("teamKey")
	t, err := s.svc.Teams.GetTeam(r.Context(), key)
	if err != nil {
		return err
	}
	total := len(t.Roles)
	rep := teamRolesRep{TotalCount: total, Items: []teamRoleRep{}, Links: pageLinks(teamPath(key)+"/roles", q, page, total)}
	for i := page.Offset; i < total && i < page.Offset+page.Limit; i++ {
		ro := t.Roles[i]
		rep.Items = append(rep.Items, teamRoleRep{Key: ro.Key, Name: ro.Name, AppliedOn: epochMS(ro.AppliedAt)})
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
