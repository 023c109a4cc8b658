package api

import (
	"net/http"
	"slices"
)

// route binds handlers to the methods of one path pattern.
type route struct {
	pattern string
	methods map[string]handlerFunc
}

// table is the whole REST API: every path pattern and the methods it
// serves, in one place.
func (s *Server) table() []route {
	return []route{
		{"/api/v2/projects", map[string]handlerFunc{
			http.MethodGet:  s.listProjects,
			http.MethodPost: s.createProject,
		}},
		{"/api/v2/projects/{projectKey}", map[string]handlerFunc{
			http.MethodGet:    s.getProject,
			http.MethodDelete: s.deleteProject,
		}},
		{"/api/v2/projects/{projectKey}/environments", map[string]handlerFunc{
			http.MethodGet: s.listEnvironments,
		}},
		{"/api/v2/projects/{projectKey}/environments/{environmentKey}", map[string]handlerFunc{
			http.MethodGet: s.getEnvironment,
		}},
		// SDK credentials of an environment (issue 10).
		{"/api/v2/projects/{projectKey}/environments/{environmentKey}/apiKey", map[string]handlerFunc{
			http.MethodPost: s.resetSDKKey,
		}},
		{"/api/v2/projects/{projectKey}/environments/{environmentKey}/mobileKey", map[string]handlerFunc{
			http.MethodPost: s.resetMobileKey,
		}},
		// The event explorer: metricsd's extension (issue 10).
		{"/api/v2/projects/{projectKey}/environments/{environmentKey}/event-keys", map[string]handlerFunc{
			http.MethodGet: s.listEventKeys,
		}},
		{"/api/v2/projects/{projectKey}/environments/{environmentKey}/event-keys/{kind}/{eventKey}/rollups", map[string]handlerFunc{
			http.MethodGet: s.listEventRollups,
		}},
		{"/api/v2/projects/{projectKey}/environments/{environmentKey}/event-health", map[string]handlerFunc{
			http.MethodGet: s.getEventHealth,
		}},
		{"/api/v2/metrics/{projectKey}", map[string]handlerFunc{
			http.MethodGet:  s.listMetrics,
			http.MethodPost: s.createMetric,
		}},
		{"/api/v2/metrics/{projectKey}/{metricKey}", map[string]handlerFunc{
			http.MethodGet:    s.getMetric,
			http.MethodPatch:  s.patchMetric,
			http.MethodDelete: s.deleteMetric,
		}},
		{"/api/v2/metrics/{projectKey}/{metricKey}/versions", map[string]handlerFunc{
			http.MethodGet: s.listMetricVersions,
		}},
		{"/api/v2/metrics/{projectKey}/{metricKey}/diff", map[string]handlerFunc{
			http.MethodGet: s.diffMetricVersions,
		}},
		{auditPath, map[string]handlerFunc{
			http.MethodGet: s.listAuditEntries,
		}},
		{auditPath + "/{id}", map[string]handlerFunc{
			http.MethodGet: s.getAuditEntry,
		}},
		// Members and teams.
		{"/api/v2/members", map[string]handlerFunc{
			http.MethodGet:  s.listMembers,
			http.MethodPost: s.createMembers,
		}},
		{"/api/v2/members/{id}", map[string]handlerFunc{
			http.MethodGet:    s.getMember,
			http.MethodPatch:  s.patchMember,
			http.MethodDelete: s.deleteMember,
		}},
		{"/api/v2/members/{id}/teams", map[string]handlerFunc{
			http.MethodPost: s.addMemberToTeams,
		}},
		{"/api/v2/teams", map[string]handlerFunc{
			http.MethodGet:  s.listTeams,
			http.MethodPost: s.createTeam,
		}},
		{"/api/v2/teams/{teamKey}", map[string]handlerFunc{
			http.MethodGet:    s.getTeam,
			http.MethodPatch:  s.patchTeam,
			http.MethodDelete: s.deleteTeam,
		}},
		{"/api/v2/teams/{teamKey}/maintainers", map[string]handlerFunc{
			http.MethodGet: s.listTeamMaintainers,
		}},
		{"/api/v2/teams/{teamKey}/roles", map[string]handlerFunc{
			http.MethodGet: s.listTeamRoles,
		}},
		// Metric groups (beta: LD-API-Version: beta).
		{"/api/v2/projects/{projectKey}/metric-groups", map[string]handlerFunc{
			http.MethodGet:  beta(s.listMetricGroups),
			http.MethodPost: beta(s.createMetricGroup),
		}},
		{"/api/v2/projects/{projectKey}/metric-groups/{metricGroupKey}", map[string]handlerFunc{
			http.MethodGet:    beta(s.getMetricGroup),
			http.MethodPatch:  beta(s.patchMetricGroup),
			http.MethodDelete: beta(s.deleteMetricGroup),
		}},
		// Experiments and their iterations.
		{"/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments", map[string]handlerFunc{
			http.MethodGet:  s.listExperiments,
			http.MethodPost: s.createExperiment,
		}},
		{"/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}", map[string]handlerFunc{
			http.MethodGet:   s.getExperiment,
			http.MethodPatch: s.patchExperiment,
		}},
		{"/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}/iterations", map[string]handlerFunc{
			http.MethodPost: s.createIteration,
		}},
		// Guarded rollouts (metricsd extension at LaunchDarkly's path).
		{"/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/measured-rollouts", map[string]handlerFunc{
			http.MethodGet:  s.listRollouts,
			http.MethodPost: s.createRollout,
		}},
		{"/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/measured-rollouts/{rolloutId}", map[string]handlerFunc{
			http.MethodGet:   s.getRollout,
			http.MethodPatch: s.patchRollout,
		}},
		// Access control: tokens, custom roles, the caller's identity.
		{tokensPath, map[string]handlerFunc{
			http.MethodGet:  s.listTokens,
			http.MethodPost: s.createToken,
		}},
		{tokensPath + "/{id}", map[string]handlerFunc{
			http.MethodGet:    s.getToken,
			http.MethodPatch:  s.patchToken,
			http.MethodDelete: s.deleteToken,
		}},
		{tokensPath + "/{id}/reset", map[string]handlerFunc{
			http.MethodPost: s.resetToken,
		}},
		{rolesPath, map[string]handlerFunc{
			http.MethodGet:  s.listRoles,
			http.MethodPost: s.createRole,
		}},
		{rolesPath + "/{customRoleKey}", map[string]handlerFunc{
			http.MethodGet:    s.getRole,
			http.MethodPatch:  s.patchRole,
			http.MethodDelete: s.deleteRole,
		}},
		{"/api/v2/caller-identity", map[string]handlerFunc{
			http.MethodGet: s.getCallerIdentity,
		}},
		// Views (beta: LD-API-Version: beta); views.go.
		{"/api/v2/projects/{projectKey}/views", map[string]handlerFunc{
			http.MethodGet:  beta(s.listViews),
			http.MethodPost: beta(s.createView),
		}},
		{"/api/v2/projects/{projectKey}/views/{viewKey}", map[string]handlerFunc{
			http.MethodGet:    beta(s.getView),
			http.MethodPatch:  beta(s.patchView),
			http.MethodDelete: beta(s.deleteView),
		}},
		{"/api/v2/projects/{projectKey}/views/{viewKey}/link/{resourceType}", map[string]handlerFunc{
			http.MethodPost:   beta(s.linkViewResources),
			http.MethodDelete: beta(s.unlinkViewResources),
		}},
		{"/api/v2/projects/{projectKey}/view-associations/{resourceType}/{resourceKey}", map[string]handlerFunc{
			http.MethodGet: beta(s.listLinkedViews),
		}},
		// The root resource and the API versions (root.go).
		{"/api/v2", map[string]handlerFunc{
			http.MethodGet: s.getRoot,
		}},
		{"/api/v2/versions", map[string]handlerFunc{
			http.MethodGet: s.getVersions,
		}},
		// metricsd's own OpenAPI document (internal/openapi).
		{openapiPath, map[string]handlerFunc{
			http.MethodGet: s.getOpenAPI,
		}},
	}
}

// Route is one path pattern of the API and the methods it serves.
type Route struct {
	Pattern string
	Methods []string
}

// Routes lists the API's routes, for tests that must cover every one.
func (s *Server) Routes() []Route {
	var out []Route
	for _, rt := range s.table() {
		r := Route{Pattern: rt.pattern}
		for m := range rt.methods {
			r.Methods = append(r.Methods, m)
		}
		slices.Sort(r.Methods)
		out = append(out, r)
	}
	return out
}
