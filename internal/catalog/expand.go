package catalog

// Expand names a related resource, or a count of them, that a read embeds
// on request (the expand query parameter of LaunchDarkly's API).
type Expand string

// The expansions in use. Each read accepts the subset its allowed list
// names.
const (
	ExpandExperiments              Expand = "experiments"
	ExpandExperimentCount          Expand = "experimentCount"
	ExpandMetricGroups             Expand = "metricGroups"
	ExpandMetricGroupCount         Expand = "metricGroupCount"
	ExpandEventSources             Expand = "eventSources"
	ExpandGuardedRollouts          Expand = "guardedRollouts"
	ExpandGuardedRolloutCount      Expand = "guardedRolloutCount"
	ExpandLastUsedInExperiment     Expand = "lastUsedInExperiment"
	ExpandLastUsedInGuardedRollout Expand = "lastUsedInGuardedRollout"
	// ExpandAttachedFeatures is never asked for: GetMetric adds it when a
	// metric is attached to flags.
	ExpandAttachedFeatures Expand = "attachedFeatures"
	ExpandCustomRoles      Expand = "customRoles"
	ExpandRoleAttributes   Expand = "roleAttributes"
	ExpandMembers          Expand = "members"
	ExpandRoles            Expand = "roles"
	ExpandProjects         Expand = "projects"
	ExpandMaintainers      Expand = "maintainers"
	ExpandEnvironments     Expand = "environments"
)

// ExpandSet names the expansions a read should load.
type ExpandSet map[Expand]bool

// The expansions each read accepts, in the order error messages list them.
var (
	// MetricExpands: a single-metric read.
	MetricExpands = []Expand{
		ExpandExperiments, ExpandExperimentCount, ExpandMetricGroups, ExpandMetricGroupCount, ExpandEventSources,
		ExpandGuardedRollouts, ExpandGuardedRolloutCount, ExpandLastUsedInExperiment, ExpandLastUsedInGuardedRollout,
	}
	// MetricListExpands: the metric list.
	MetricListExpands = []Expand{ExpandExperimentCount}
	// GroupExpands: a single metric group read.
	GroupExpands = []Expand{ExpandExperiments, ExpandExperimentCount}
	// MemberExpands: member reads. Custom roles are always listed; role
	// attributes expand to an empty object, as metricsd stores none.
	MemberExpands = []Expand{ExpandCustomRoles, ExpandRoleAttributes}
	// TeamExpands: single-team requests.
	TeamExpands = []Expand{ExpandMembers, ExpandRoles, ExpandRoleAttributes, ExpandProjects, ExpandMaintainers}
	// TeamListExpands: the team list, which (in LaunchDarkly's current API
	// version) no longer expands roles or projects.
	TeamListExpands = []Expand{ExpandMembers, ExpandRoleAttributes, ExpandMaintainers}
	// ProjectExpands: project reads.
	ProjectExpands = []Expand{ExpandEnvironments}
)
