// Package experiment owns the resources that connect metrics to flags:
// experiments with their iterations (which pin the versions of the metrics
// they measure when they start) and guarded rollouts. It holds their types,
// rules and services and the narrow store interfaces the SQL store
// implements. metricsd does not manage feature flags: flag keys are stored
// as given.
package experiment

import (
	"encoding/json"
	"strconv"
	"time"
)

// Iteration statuses, as LaunchDarkly names them.
const (
	StatusNotStarted = "not_started"
	StatusRunning    = "running"
	StatusStopped    = "stopped"
)

// VersionToken names the stored version of the experiment, as
// conditional requests compare it (core.CheckIfMatch).
func (e *Experiment) VersionToken() string { return e.ID + "-" + strconv.Itoa(e.Version) }

// VersionToken names the stored version of the guarded rollout, as
// conditional requests compare it (core.CheckIfMatch).
func (r *Rollout) VersionToken() string { return r.ID + "-" + strconv.Itoa(r.Version) }

// Experiment is an experiment of one environment with its iterations,
// oldest first.
type Experiment struct {
	ID             string
	ProjectID      string
	ProjectKey     string
	EnvironmentID  string
	EnvironmentKey string
	Key            string
	Name           string
	Description    string
	MaintainerID   string
	HoldoutID      string
	Tags           []string
	Version        int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ArchivedAt     *time.Time
	Iterations     []Iteration
}

// Current is the iteration the experiment reports as current: the latest
// one that has started, or the draft when none has.
func (e *Experiment) Current() *Iteration {
	for i := len(e.Iterations) - 1; i >= 0; i-- {
		if e.Iterations[i].Status != StatusNotStarted {
			return &e.Iterations[i]
		}
	}
	if len(e.Iterations) > 0 {
		return &e.Iterations[len(e.Iterations)-1]
	}
	return nil
}

// Draft is the iteration that has not started yet, if any; it is always
// the latest.
func (e *Experiment) Draft() *Iteration {
	if n := len(e.Iterations); n > 0 && e.Iterations[n-1].Status == StatusNotStarted {
		return &e.Iterations[n-1]
	}
	return nil
}

// Previous lists the iterations before the current one, newest first.
func (e *Experiment) Previous() []Iteration {
	cur := e.Current()
	var out []Iteration
	for i := len(e.Iterations) - 1; i >= 0; i-- {
		it := e.Iterations[i]
		if cur != nil && it.Number >= cur.Number {
			continue
		}
		out = append(out, it)
	}
	return out
}

// Status is the status of the current iteration.
func (e *Experiment) Status() string {
	if c := e.Current(); c != nil {
		return c.Status
	}
	return StatusNotStarted
}

// Iteration is one block of time of an experiment.
type Iteration struct {
	ID                 string
	Number             int
	Status             string
	Def                IterationDef
	WinningTreatmentID string
	WinningReason      string
	CreatedAt          time.Time
	StartedAt          *time.Time
	EndedAt            *time.Time
	// Pins are the metric versions recorded when the iteration started;
	// nil before it starts.
	Pins []Pin
	// Metrics are the iteration's metrics and groups as reads show them:
	// the pinned versions once started, the current ones before.
	Metrics []Entry
}

// IterationDef is what an iteration was created with, normalised. It is
// stored as JSON.
type IterationDef struct {
	Hypothesis             string               `json:"hypothesis"`
	CanReshuffleTraffic    bool                 `json:"canReshuffleTraffic"`
	Flags                  map[string]FlagInput `json:"flags"`
	Metrics                []MetricRef          `json:"metrics"`
	PrimarySingleMetricKey string               `json:"primarySingleMetricKey,omitempty"`
	PrimaryFunnelKey       string               `json:"primaryFunnelKey,omitempty"`
	RandomizationUnit      string               `json:"randomizationUnit"`
	Attributes             []string             `json:"attributes"`
	Treatments             []Treatment          `json:"treatments"`
}

// FlagKey is the key of the iteration's flag.
func (d *IterationDef) FlagKey() string {
	for k := range d.Flags {
		return k
	}
	return ""
}

// PrimaryKey is the key of the primary metric or funnel group.
func (d *IterationDef) PrimaryKey() (key string, isGroup bool) {
	if d.PrimaryFunnelKey != "" {
		return d.PrimaryFunnelKey, true
	}
	return d.PrimarySingleMetricKey, false
}

// MetricRef is a metric or metric group of an iteration, resolved to its ID
// when the iteration was created.
type MetricRef struct {
	Key     string `json:"key"`
	IsGroup bool   `json:"isGroup"`
	ID      string `json:"id"`
}

// Treatment is one arm of an iteration. Its ID is the variation ID of its
// first parameter, as LaunchDarkly identifies treatments by variation.
type Treatment struct {
	ID                string      `json:"id"`
	Name              string      `json:"name"`
	Baseline          bool        `json:"baseline"`
	AllocationPercent string      `json:"allocationPercent"`
	Parameters        []Parameter `json:"parameters"`
}

// Parameter is the flag variation a treatment serves.
type Parameter struct {
	FlagKey     string `json:"flagKey"`
	VariationID string `json:"variationId"`
}

// FlagInput is LaunchDarkly's flag reference of an iteration.
type FlagInput struct {
	RuleID                     *string `json:"ruleId"`
	FlagConfigVersion          *int    `json:"flagConfigVersion"`
	NotInExperimentVariationID string  `json:"notInExperimentVariationId,omitempty"`
}

// Pin records the version of one iteration metric, or of a group and the
// metrics it held, when the iteration started.
type Pin struct {
	Key     string      `json:"key"`
	IsGroup bool        `json:"isGroup"`
	ID      string      `json:"id"`
	Version string      `json:"versionId"`
	Name    string      `json:"name,omitempty"`
	Kind    string      `json:"kind,omitempty"`
	Members []PinMember `json:"metrics,omitempty"`
}

// PinMember is a metric of a pinned group.
type PinMember struct {
	ID          string `json:"id"`
	Key         string `json:"key"`
	VersionID   string `json:"versionId"`
	NameInGroup string `json:"nameInGroup,omitempty"`
}

// Entry is a metric or group of an iteration as a read shows it.
type Entry struct {
	Key     string
	IsGroup bool
	Metric  *MetricSnap
	Group   *GroupSnap
}

// VersionID is the version the entry shows: a metric's version ID, or a
// group's version number.
func (e Entry) VersionID() string {
	if e.Group != nil {
		return e.Group.VersionID
	}
	if e.Metric != nil {
		return e.Metric.VersionID
	}
	return ""
}

// MetricSnap is one version of a metric, as experiments need it.
type MetricSnap struct {
	ID                  string
	Key                 string
	Kind                string
	VersionID           string
	Name                string
	EventKey            string
	IsNumeric           bool
	UnitAggregationType string
	RandomizationUnits  []string
	Archived            bool
}

// GroupSnap is a metric group with its metrics, as experiments need it.
type GroupSnap struct {
	ID        string
	Key       string
	Kind      string
	Name      string
	VersionID string
	Metrics   []GroupMember
}

// GroupMember is a metric of a group.
type GroupMember struct {
	MetricSnap
	NameInGroup string
}

// Query selects experiments of one environment.
type Query struct {
	Limit, Offset int
	// Lifecycle says which experiments to list: active, archived or both.
	Active, Archived bool
	FlagKey          string
	MetricKey        string
	Status           string
}

// Rollout is a guarded rollout: a flag change in one environment that is
// monitored with metrics and may be rolled back.
type Rollout struct {
	ID              string
	ProjectID       string
	ProjectKey      string
	EnvironmentID   string
	EnvironmentKey  string
	EnvironmentName string
	FlagKey         string
	FlagName        string
	FlagPurpose     string
	Status          string
	Version         int
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Metrics         []RolloutMetric
}

// RolloutMetric is a metric or metric group a rollout monitors.
type RolloutMetric struct {
	Key     string
	IsGroup bool
	ID      string
	Name    string
	Kind    string
}

// Rollout statuses. Monitoring is the only active one.
const (
	RolloutMonitoring = "monitoring"
	RolloutCompleted  = "completed"
	RolloutRolledBack = "rolled_back"
)

// RolloutQuery selects rollouts of one flag in one environment.
type RolloutQuery struct {
	Limit, Offset int
	Status        string
}

// document marshals v for the audit log.
func document(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
