// Package action is the vocabulary of what can be done to a resource:
// the action names the audit log records and that access policies will
// allow or deny. Each is declared once here, as LaunchDarkly names it where
// LaunchDarkly has a name for it.
package action

// Action names one kind of change (or read) of a resource.
type Action string

// Project and environment actions.
const (
	CreateProject     Action = "createProject"
	DeleteProject     Action = "deleteProject"
	CreateEnvironment Action = "createEnvironment"
	// UpdateAPIKey and UpdateMobileKey reset an environment's SDK key and
	// mobile key.
	UpdateAPIKey    Action = "updateApiKey"
	UpdateMobileKey Action = "updateMobileKey"
)

// Metric actions. A patch records one update action per changed field
// group; changes to fields without an action of their own record
// UpdateMetric.
const (
	CreateMetric         Action = "createMetric"
	DeleteMetric         Action = "deleteMetric"
	UpdateMetric         Action = "updateMetric"
	UpdateName           Action = "updateName"
	UpdateDescription    Action = "updateDescription"
	UpdateTags           Action = "updateTags"
	UpdateMaintainer     Action = "updateMaintainer"
	UpdateEventKey       Action = "updateEventKey"
	UpdateNumeric        Action = "updateNumeric"
	UpdateNumericUnit    Action = "updateNumericUnit"
	UpdateNumericSuccess Action = "updateNumericSuccess"
	// UpdateOn is LaunchDarkly's action for turning a metric on or off; no
	// metricsd field maps to it, but policies may name it.
	UpdateOn                  Action = "updateOn"
	UpdateSelector            Action = "updateSelector"
	UpdateURLs                Action = "updateUrls"
	UpdateRandomizationUnits  Action = "updateRandomizationUnits"
	UpdateUnitAggregationType Action = "updateUnitAggregationType"
	UpdateAnalysisType        Action = "updateAnalysisType"
	UpdateEventDefault        Action = "updateEventDefault"
	UpdateDataSource          Action = "updateDataSource"
	UpdateFilters             Action = "updateFilters"
	UpdateTraceQuery          Action = "updateTraceQuery"
	UpdateArchived            Action = "updateArchived"
)

// Metric group actions.
const (
	CreateMetricGroup            Action = "createMetricGroup"
	DeleteMetricGroup            Action = "deleteMetricGroup"
	UpdateMetricGroupName        Action = "updateMetricGroupName"
	UpdateMetricGroupDescription Action = "updateMetricGroupDescription"
	UpdateMetricGroupTags        Action = "updateMetricGroupTags"
	UpdateMetricGroupMaintainer  Action = "updateMetricGroupMaintainer"
	UpdateMetricGroupMetrics     Action = "updateMetricGroupMetrics"
	UpdateMetricGroupKind        Action = "updateMetricGroupKind"
)

// Experiment actions. Renames and description edits of an experiment
// record the same updateName and updateDescription LaunchDarkly uses for
// every resource kind.
const (
	CreateExperiment            Action = "createExperiment"
	UpdateExperimentName        Action = UpdateName
	UpdateExperimentDescription Action = UpdateDescription
	CreateIteration             Action = "createIteration"
	StartIteration              Action = "startIteration"
	StopIteration               Action = "stopIteration"
	ArchiveExperiment           Action = "archiveExperiment"
	RestoreExperiment           Action = "restoreExperiment"
)

// Guarded rollout actions (a metricsd extension: LaunchDarkly changes
// guarded rollouts through flag changes).
const (
	CreateMeasuredRollout       Action = "createMeasuredRollout"
	UpdateMeasuredRolloutStatus Action = "updateMeasuredRolloutStatus"
)

// View actions, as LaunchDarkly names them. Every edit of a view's own
// fields (name, description, tags, maintainer, archived, generateSdkKeys)
// is UpdateView; linking and unlinking have one action per resource type.
// LinkMetricToView and UnlinkMetricFromView are metricsd's, for the
// metrics resource type it adds.
const (
	CreateView            Action = "createView"
	UpdateView            Action = "updateView"
	DeleteView            Action = "deleteView"
	LinkFlagToView        Action = "linkFlagToView"
	UnlinkFlagFromView    Action = "unlinkFlagFromView"
	LinkSegmentToView     Action = "linkSegmentToView"
	UnlinkSegmentFromView Action = "unlinkSegmentFromView"
	LinkMetricToView      Action = "linkMetricToView"
	UnlinkMetricFromView  Action = "unlinkMetricFromView"
)

// Member and team actions.
const (
	CreateMember          Action = "createMember"
	DeleteMember          Action = "deleteMember"
	CreateTeam            Action = "createTeam"
	DeleteTeam            Action = "deleteTeam"
	UpdateTeamName        Action = "updateTeamName"
	UpdateTeamDescription Action = "updateTeamDescription"
	UpdateTeamMembers     Action = "updateTeamMembers"
	UpdateTeamMaintainers Action = "updateTeamMaintainers"
	UpdateTeamCustomRoles Action = "updateTeamCustomRoles"
	ViewAuditLog          Action = "viewAuditLog"
	// UpdateMemberRole changes a member's base role, UpdateCustomRoles
	// the custom roles they hold; UpdateMemberName their names.
	UpdateMemberRole  Action = "updateRole"
	UpdateCustomRoles Action = "updateCustomRole"
	UpdateMemberName  Action = "updateMemberName"
)

// Access token actions, on member/<id>:token/<id> for personal tokens and
// service-token/<id> for service tokens.
const (
	CreateAccessToken            Action = "createAccessToken"
	DeleteAccessToken            Action = "deleteAccessToken"
	UpdateAccessTokenName        Action = "updateAccessTokenName"
	UpdateAccessTokenDescription Action = "updateAccessTokenDescription"
	UpdateAccessTokenPolicy      Action = "updateAccessTokenPolicy"
	UpdateAccessTokenAPIVersion  Action = "updateAccessTokenApiVersion"
	ResetAccessToken             Action = "resetAccessToken"
)

// Custom role actions, on role/<key>.
const (
	CreateRole            Action = "createRole"
	DeleteRole            Action = "deleteRole"
	UpdateRoleName        Action = "updateName"
	UpdateRoleDescription Action = "updateDescription"
	UpdateRolePolicy      Action = "updatePolicy"
)

// Read actions. LaunchDarkly names only viewProject (and viewAuditLog
// above); the others are metricsd's, so that a policy can hide members,
// teams, roles and tokens too. Every base role but no_access allows them
// all.
const (
	ViewProject Action = "viewProject"
	ViewMember  Action = "viewMember"
	ViewTeam    Action = "viewTeam"
	ViewRole    Action = "viewRole"
	ViewToken   Action = "viewToken"
)

// ForFields returns the actions for a change of the named top-level fields
// (wire names), in the order of table, each action once. Fields the table
// does not name map to fallback.
func ForFields(table map[string]Action, fallback Action, fields []string) []Action {
	var out []Action
	seen := map[Action]bool{}
	for _, f := range fields {
		a, ok := table[f]
		if !ok {
			a = fallback
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// ForChange is ForFields for a change of the given fields, or fallback
// alone when no field is named (a change ForFields cannot attribute).
func ForChange(table map[string]Action, fallback Action, fields []string) []Action {
	if len(fields) == 0 {
		return []Action{fallback}
	}
	return ForFields(table, fallback, fields)
}

// MetricActions returns the actions a metric representation's _access
// reports: creating, deleting and every field update of a metric.
func MetricActions() []Action {
	return []Action{
		CreateMetric, DeleteMetric, UpdateName, UpdateDescription, UpdateTags, UpdateMaintainer,
		UpdateEventKey, UpdateEventDefault, UpdateNumeric, UpdateNumericSuccess, UpdateNumericUnit,
		UpdateOn, UpdateRandomizationUnits, UpdateSelector, UpdateURLs, UpdateUnitAggregationType,
		UpdateAnalysisType, UpdateDataSource, UpdateFilters, UpdateTraceQuery, UpdateArchived, UpdateMetric,
	}
}

// ViewActions returns the actions a view representation's _access
// reports.
func ViewActions() []Action {
	return []Action{
		CreateView, UpdateView, DeleteView, LinkFlagToView, UnlinkFlagFromView,
		LinkSegmentToView, UnlinkSegmentFromView, LinkMetricToView, UnlinkMetricFromView,
	}
}

// MetricGroupActions returns the actions a metric group representation's
// _access reports.
func MetricGroupActions() []Action {
	return []Action{
		CreateMetricGroup, DeleteMetricGroup, UpdateMetricGroupName, UpdateMetricGroupDescription,
		UpdateMetricGroupTags, UpdateMetricGroupMaintainer, UpdateMetricGroupMetrics, UpdateMetricGroupKind,
	}
}
