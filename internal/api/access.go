package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/metricsd/metricsd/internal/access"
	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// Reads are authorized here, by route pattern, before the handler runs;
// writes are authorized in the services' write seam, where the change's
// actions and its resource before and after are known (catalog.Enforce).
// Both call the same evaluator as _access.

// readRule returns the action and resource a read of the route pattern
// needs, and false for reads the services filter themselves (the project
// list, tokens) or that need nothing (caller-identity). Every route under
// a project — those of other resources added later included — needs
// viewProject on it.
func readRule(ctx context.Context, pattern string, r *http.Request) (action.Action, resource.Spec, bool) {
	if strings.Contains(pattern, "{projectKey}") {
		return action.ViewProject, resource.Project(r.PathValue("projectKey")), true
	}
	one := func(k resource.Kind, name string) resource.Spec {
		return resource.Spec{Segments: []resource.Segment{{Kind: k, Name: name}}}
	}
	switch {
	case pattern == membersPath:
		return action.ViewMember, one(resource.KindMember, "*"), true
	case strings.HasPrefix(pattern, membersPath+"/{id}"):
		id := r.PathValue("id")
		if p := core.PrincipalFrom(ctx); id == "me" || id == p.MemberID {
			return "", resource.Spec{}, false // everybody may see themselves
		}
		return action.ViewMember, resource.Member(id), true
	case pattern == teamsPath:
		return action.ViewTeam, one(resource.KindTeam, "*"), true
	case strings.HasPrefix(pattern, teamsPath+"/{teamKey}"):
		return action.ViewTeam, resource.Team(r.PathValue("teamKey")), true
	case pattern == rolesPath:
		return action.ViewRole, one(resource.KindRole, "*"), true
	case strings.HasPrefix(pattern, rolesPath+"/{customRoleKey}"):
		return action.ViewRole, one(resource.KindRole, r.PathValue("customRoleKey")), true
	case strings.HasPrefix(pattern, auditPath):
		return action.ViewAuditLog, resource.Spec{Segments: []resource.Segment{{Kind: "acct"}}}, true
	}
	return "", resource.Spec{}, false
}

// authorizeRead enforces the read rule of a GET or HEAD of the route.
func authorizeRead(pattern string, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil
	}
	a, spec, ok := readRule(r.Context(), pattern, r)
	if !ok {
		return nil
	}
	return core.Authorize(r.Context(), a, spec)
}

// accessRep is LaunchDarkly's Access: the actions the caller may and may
// not take on one resource, each with the statement that decided it.
type accessRep struct {
	Denied  []accessEntryRep `json:"denied"`
	Allowed []accessEntryRep `json:"allowed"`
}

type accessEntryRep struct {
	Action string           `json:"action"`
	Reason *accessReasonRep `json:"reason"`
}

// accessReasonRep is the deciding statement. An action no statement
// allows is denied with a reason of effect "deny" and nothing else.
type accessReasonRep struct {
	Effect       string   `json:"effect"`
	Resources    []string `json:"resources,omitempty"`
	NotResources []string `json:"notResources,omitempty"`
	Actions      []string `json:"actions,omitempty"`
	NotActions   []string `json:"notActions,omitempty"`
	RoleName     string   `json:"role_name,omitempty"`
}

// accessRenderer renders _access for the resources of one response,
// rendering each deciding statement once.
type accessRenderer struct {
	grant   access.Grant
	system  bool
	reasons map[*access.Statement]*accessReasonRep
	denied  *accessReasonRep
}

func newAccessRenderer(ctx context.Context) *accessRenderer {
	p := core.PrincipalFrom(ctx)
	return &accessRenderer{grant: p.Grant, system: p.IsZero(), reasons: map[*access.Statement]*accessReasonRep{},
		denied: &accessReasonRep{Effect: string(access.Deny)}}
}

// render returns the _access of resource r for actions, decided by the
// evaluator that enforcement uses (core.Decide).
func (a *accessRenderer) render(r resource.Spec, actions []action.Action) *accessRep {
	if a.system {
		return nil
	}
	rep := a.grant.Report(r, actions)
	out := &accessRep{Denied: make([]accessEntryRep, len(rep.Denied)), Allowed: make([]accessEntryRep, len(rep.Allowed))}
	for i, e := range rep.Denied {
		out.Denied[i] = accessEntryRep{Action: string(e.Action), Reason: a.reason(e.Statement)}
	}
	for i, e := range rep.Allowed {
		out.Allowed[i] = accessEntryRep{Action: string(e.Action), Reason: a.reason(e.Statement)}
	}
	return out
}

func (a *accessRenderer) reason(s *access.Statement) *accessReasonRep {
	if s == nil {
		return a.denied
	}
	if r, ok := a.reasons[s]; ok {
		return r
	}
	r := &accessReasonRep{Effect: string(s.Effect), Resources: s.Resources, NotResources: s.NotResources,
		Actions: s.Actions, NotActions: s.NotActions, RoleName: s.RoleName}
	a.reasons[s] = r
	return r
}
