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

// IsActive reports whether a running experiment or an active guarded rollout
// currently measures the metric.
func (u MetricUsage) IsActive() bool {
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

// EventSource is a source of events seen for a metric.
type EventSource struct {
	Key      string
	LastSeen time.Time
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
