package api

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
)

const (
	tokensPath = "/api/v2/tokens"
	rolesPath  = "/api/v2/roles"
)

func tokenPath(id string) string { return tokensPath + "/" + url.PathEscape(id) }
func rolePath(key string) string { return rolesPath + "/" + url.PathEscape(key) }

// tokenRep is LaunchDarkly's Token. token holds the whole value only in
// the answers to create and reset; otherwise its last four characters.
type tokenRep struct {
	ID                string              `json:"_id"`
	OwnerID           string              `json:"ownerId"`
	MemberID          string              `json:"memberId"`
	Member            *memberSummary      `json:"_member,omitempty"`
	Name              string              `json:"name,omitempty"`
	Description       string              `json:"description,omitempty"`
	CreationDate      int64               `json:"creationDate"`
	LastModified      int64               `json:"lastModified"`
	CustomRoleIDs     []string            `json:"customRoleIds"`
	InlineRole        []account.Statement `json:"inlineRole"`
	Role              string              `json:"role,omitempty"`
	Token             string              `json:"token"`
	ServiceToken      bool                `json:"serviceToken"`
	Links             links               `json:"_links"`
	DefaultAPIVersion int                 `json:"defaultApiVersion,omitempty"`
	LastUsed          int64               `json:"lastUsed,omitempty"`
}

func (s *Server) newTokenRep(r *http.Request, t *account.Token, secret string) (tokenRep, error) {
	owner, err := s.svc.Auth.AccountID(r.Context())
	if err != nil {
		return tokenRep{}, err
	}
	value := secret
	if value == "" {
		value = t.Ending
	}
	inline := t.InlineRole
	if inline == nil {
		inline = []account.Statement{}
	}
	var lastUsed int64
	if !t.LastUsed.IsZero() {
		lastUsed = epochMS(t.LastUsed)
	}
	return tokenRep{
		ID: t.ID, OwnerID: owner, MemberID: t.MemberID, Member: memberSummaryRep(t.Member),
		Name: t.Name, Description: t.Description, CreationDate: epochMS(t.CreatedAt), LastModified: epochMS(t.UpdatedAt),
		CustomRoleIDs: core.OrEmpty(t.CustomRoleIDs), InlineRole: inline, Role: t.Role, Token: value,
		ServiceToken: t.ServiceToken, Links: links{"parent": jsonLink(tokensPath), "self": jsonLink(tokenPath(t.ID))},
		DefaultAPIVersion: t.DefaultAPIVersion, LastUsed: lastUsed,
	}, nil
}

type tokensRep struct {
	Items      []tokenRep `json:"items"`
	Links      links      `json:"_links"`
	TotalCount int        `json:"totalCount"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	page, err := parsePage(qv.Get("limit"), qv.Get("offset"), 25, 1000)
	if err != nil {
		return err
	}
	all := false
	if v := qv.Get("showAll"); v != "" {
		if all, err = strconv.ParseBool(v); err != nil {
			return core.Errorf(core.KindInvalid, "showAll must be true or false")
		}
	}
	ts, total, err := s.svc.Tokens.ListTokens(r.Context(), all, page)
	if err != nil {
		return err
	}
	rep := tokensRep{Items: make([]tokenRep, 0, len(ts)), Links: pageLinks(tokensPath, qv, page, total), TotalCount: total}
	for i := range ts {
		t, err := s.newTokenRep(r, &ts[i], "")
		if err != nil {
			return err
		}
		rep.Items = append(rep.Items, t)
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var in account.TokenPost
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	t, secret, err := s.svc.Tokens.CreateToken(r.Context(), in)
	if err != nil {
		return err
	}
	rep, err := s.newTokenRep(r, t, secret)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rep)
	return nil
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.svc.Tokens.GetToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	rep, err := s.newTokenRep(r, t, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) patchToken(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	t, err := s.svc.Tokens.PatchToken(r.Context(), r.PathValue("id"), body)
	if err != nil {
		return err
	}
	s.auth.clear()
	rep, err := s.newTokenRep(r, t, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Tokens.DeleteToken(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	s.auth.clear()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) resetToken(w http.ResponseWriter, r *http.Request) error {
	var expiry *time.Time
	if v := r.URL.Query().Get("expiry"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			return core.Errorf(core.KindInvalid, "expiry must be a Unix time in milliseconds")
		}
		e := time.UnixMilli(ms).UTC()
		expiry = &e
	}
	t, secret, err := s.svc.Tokens.ResetToken(r.Context(), r.PathValue("id"), expiry)
	if err != nil {
		return err
	}
	s.auth.clear()
	rep, err := s.newTokenRep(r, t, secret)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// roleRep is LaunchDarkly's CustomRole.
type roleRep struct {
	ID              string              `json:"_id"`
	Links           links               `json:"_links"`
	Key             string              `json:"key"`
	Name            string              `json:"name"`
	Description     string              `json:"description,omitempty"`
	Policy          []account.Statement `json:"policy"`
	BasePermissions string              `json:"basePermissions,omitempty"`
	AssignedTo      assignedToRep       `json:"assignedTo"`
}

// assignedToRep counts the members and teams that hold a role (the
// members who get it through a team are not counted as members).
type assignedToRep struct {
	MembersCount int `json:"membersCount"`
	TeamsCount   int `json:"teamsCount"`
}

func newRoleRep(ro *account.Role) roleRep {
	policy := ro.Policy
	if policy == nil {
		policy = []account.Statement{}
	}
	return roleRep{
		ID: ro.ID, Links: links{"parent": jsonLink(rolesPath), "self": jsonLink(rolePath(ro.Key))},
		Key: ro.Key, Name: ro.Name, Description: ro.Description, Policy: policy, BasePermissions: ro.BasePermissions,
		AssignedTo: assignedToRep{MembersCount: ro.MemberCount, TeamsCount: ro.TeamCount},
	}
}

type rolesRep struct {
	Items      []roleRep `json:"items"`
	Links      links     `json:"_links"`
	TotalCount int       `json:"totalCount"`
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	page, err := parsePage(qv.Get("limit"), qv.Get("offset"), 20, 1000)
	if err != nil {
		return err
	}
	rs, total, err := s.svc.Roles.ListRoles(r.Context(), page)
	if err != nil {
		return err
	}
	rep := rolesRep{Items: make([]roleRep, 0, len(rs)), Links: pageLinks(rolesPath, qv, page, total), TotalCount: total}
	for i := range rs {
		rep.Items = append(rep.Items, newRoleRep(&rs[i]))
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request) error {
	var in account.RolePost
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	ro, err := s.svc.Roles.CreateRole(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, newRoleRep(ro))
	return nil
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request) error {
	ro, err := s.svc.Roles.GetRole(r.Context(), r.PathValue("customRoleKey"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newRoleRep(ro))
	return nil
}

func (s *Server) patchRole(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	ro, err := s.svc.Roles.PatchRole(r.Context(), r.PathValue("customRoleKey"), body)
	if err != nil {
		return err
	}
	s.auth.clear()
	writeJSON(w, http.StatusOK, newRoleRep(ro))
	return nil
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Roles.DeleteRole(r.Context(), r.PathValue("customRoleKey")); err != nil {
		return err
	}
	s.auth.clear()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// callerIdentityRep is LaunchDarkly's CallerIdentityRep for an access
// token (metricsd has no OAuth clients and no SDK-key callers here).
type callerIdentityRep struct {
	AccountID    string `json:"accountId"`
	AuthKind     string `json:"authKind"`
	TokenKind    string `json:"tokenKind"`
	TokenName    string `json:"tokenName,omitempty"`
	TokenID      string `json:"tokenId"`
	MemberID     string `json:"memberId"`
	ServiceToken bool   `json:"serviceToken"`
}

func (s *Server) getCallerIdentity(w http.ResponseWriter, r *http.Request) error {
	p := core.PrincipalFrom(r.Context())
	acct, err := s.svc.Auth.AccountID(r.Context())
	if err != nil {
		return err
	}
	kind := "personal"
	if p.ServiceToken {
		kind = "service"
	}
	writeJSON(w, http.StatusOK, callerIdentityRep{AccountID: acct, AuthKind: "token", TokenKind: kind,
		TokenName: p.TokenName, TokenID: p.TokenID, MemberID: p.MemberID, ServiceToken: p.ServiceToken})
	return nil
}

func (s *Server) patchMember(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	m, err := s.svc.Members.PatchMember(r.Context(), r.PathValue("id"), body)
	if err != nil {
		return err
	}
	s.auth.clear()
	writeJSON(w, http.StatusOK, newMemberRep(m, nil))
	return nil
}
