package catalog

import (
	"errors"
	"strings"

	"github.com/metricsd/metricsd/internal/core"
)

// errDryRun rolls back the transaction of a dry run: the write ran to its
// end, checks and all, and nothing of it is kept.
var errDryRun = errors.New("dry run")

// Kinds of the resources that can keep a metric or group from being
// deleted.
const (
	BlockerMetricGroup = "metric-group"
	BlockerExperiment  = "experiment"
	BlockerRollout     = "measured-rollout"
)

// Blocker is a resource that uses a metric or group and so keeps it from
// being deleted: a metric group, an experiment (any of its iterations) or
// an active guarded rollout (Key is its flag's key).
type Blocker struct {
	Kind           string
	Key            string
	EnvironmentKey string
	Status         string
}

func (b Blocker) describe() string {
	switch b.Kind {
	case BlockerMetricGroup:
		return "metric group " + b.Key
	case BlockerExperiment:
		return "experiment " + b.Key
	case BlockerRollout:
		return "guarded rollout of flag " + b.Key
	}
	return b.Kind + " " + b.Key
}

// InUseError lists the resources that keep a row from being deleted.
type InUseError struct{ Blockers []Blocker }

func (e *InUseError) describe() string {
	var parts []string
	for _, b := range e.Blockers {
		parts = append(parts, b.describe())
	}
	return strings.Join(parts, ", ")
}

func (e *InUseError) Error() string { return "in use by " + e.describe() }

// Is makes errors.Is(err, core.ErrInUse) hold.
func (e *InUseError) Is(target error) bool { return target == core.ErrInUse }

// Impact is what an edit of a metric or group would affect: the running
// experiments and active guarded rollouts that use it (directly or, for a
// metric, through a group). Running iterations keep the metric versions
// they pinned when they started; rollouts see edits at once.
type Impact struct {
	RunningExperiments    []ExperimentRef
	ActiveGuardedRollouts []GuardedRolloutRef
}
