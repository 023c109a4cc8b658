package catalog

import (
	"time"

	"github.com/metricsd/metricsd/internal/account"
)

// Project groups environments and metrics.
type Project struct {
	ID                        string
	Key                       string
	Name                      string
	Tags                      []string
	IncludeInSnippetByDefault bool
	UsingMobileKey            bool
	UsingEnvironmentID        bool
	CreatedAt                 time.Time
}

// Environment is one deployment stage of a project.
type Environment struct {
	ID                 string
	ProjectID          string
	Key                string
	Name               string
	Color              string
	APIKey             string
	MobileKey          string
	DefaultTTL         int
	SecureMode         bool
	DefaultTrackEvents bool
	RequireComments    bool
	ConfirmChanges     bool
	Critical           bool
	Tags               []string
	CreatedAt          time.Time
}

// Metric is one stored version of a metric together with facts computed
// from the rest of the catalog at read time.
type Metric struct {
	ID                string
	ProjectID         string
	ProjectKey        string
	Key               string
	Kind              string
	Version           int
	VersionID         string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	ArchivedAt        *time.Time
	MaintainerTeamKey string
	Def               MetricDef
	// Comment is the change comment stored with this version.
	Comment    string
	Maintainer *account.Member
	// Usage is what refers to the metric, computed at read time; nil for
	// a metric read as a member of a group, whose usage is not loaded.
	Usage *MetricUsage
}

// MetricUsage holds counters derived from experiments, metric groups,
// guarded rollouts and ingested events that refer to a metric.
type MetricUsage struct {
	ExperimentCount           int
	ActiveExperimentCount     int
	MetricGroupCount          int
	GuardedRolloutCount       int
	ActiveGuardedRolloutCount int
	AttachedFlagCount         int
	LastSeen                  *time.Time
}

// ActiveDataWindow is how recent a metric's latest events must be for the
// metric to count as active.
const ActiveDataWindow = 7 * 24 * time.Hour

// IsActive reports whether the metric had events within ActiveDataWindow
// before now, or a running experiment or an active guarded rollout
// currently measures it.
func (u MetricUsage) IsActive(now time.Time) bool {
	if u.LastSeen != nil && now.Sub(*u.LastSeen) <= ActiveDataWindow {
		return true
	}
	return u.ActiveExperimentCount > 0 || u.ActiveGuardedRolloutCount > 0
}

// ExperimentRef summarises an experiment that uses a metric or metric group.
type ExperimentRef struct {
	Key            string
	Name           string
	ProjectKey     string
	EnvironmentID  string
	EnvironmentKey string
	CreatedAt      time.Time
	ArchivedAt     *time.Time
	// Status is the status of the experiment's current iteration:
	// not_started, running or stopped.
	Status string
}

// MetricGroupRef summarises a metric group that contains a metric.
type MetricGroupRef struct {
	Key        string
	Name       string
	Kind       string
	ProjectKey string
}

// GuardedRolloutRef summarises a guarded rollout that monitors a metric.
type GuardedRolloutRef struct {
	ID              string
	ProjectKey      string
	FlagKey         string
	FlagName        string
	FlagPurpose     string
	EnvironmentKey  string
	EnvironmentName string
	Status          string
	CreatedAt       time.Time
}

// EventSource is the events of one environment that feed a metric.
type EventSource struct {
	EnvironmentKey string
	// Kind and Key are the event kind (custom, pageview, click) and key.
	Kind      string
	Key       string
	FirstSeen time.Time
	// LastSeen is the start of the latest hour with events.
	LastSeen time.Time
	// Volume30d counts the events of the last 30 days.
	Volume30d int64
}

// FlagRef names a flag attached to a metric through an experiment or rollout.
type FlagRef struct {
	Key  string
	Name string
}

// MetricExpansions holds the related resources that `expand` can add to a
// single metric.
type MetricExpansions struct {
	Experiments              []ExperimentRef
	MetricGroups             []MetricGroupRef
	GuardedRollouts          []GuardedRolloutRef
	EventSources             []EventSource
	AttachedFlags            []FlagRef
	LastUsedInExperiment     *ExperimentRef
	LastUsedInGuardedRollout *GuardedRolloutRef
}
