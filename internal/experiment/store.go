package experiment

import (
	"context"

	"github.com/metricsd/metricsd/internal/audit"
)

// Scope is the project and environment a request names, resolved.
type Scope struct {
	ProjectID       string
	ProjectKey      string
	EnvironmentID   string
	EnvironmentKey  string
	EnvironmentName string
}

// Tx is the unit of work of one experiment or rollout write. Scope locks
// the project, as every catalog write of the project does, so writes that
// check rules across its metrics, groups and experiments apply one after
// the other.
type Tx interface {
	// Scope resolves and locks a project and resolves one of its
	// environments; a missing one is core.ErrNotFound (*ScopeError says
	// which).
	Scope(ctx context.Context, projectKey, envKey string) (*Scope, error)
	// MetricSnaps returns the current versions of the named metrics of a
	// project, by key; missing keys are absent.
	MetricSnaps(ctx context.Context, projectID string, keys []string) (map[string]*MetricSnap, error)
	// GroupSnaps returns the named groups of a project with their current
	// metrics, by key; missing keys are absent.
	GroupSnaps(ctx context.Context, projectID string, keys []string) (map[string]*GroupSnap, error)
	// GuardrailGroup returns the project's guardrail group, or
	// core.ErrNotFound.
	GuardrailGroup(ctx context.Context, projectID string) (*GroupSnap, error)
	// ExperimentForUpdate returns an experiment with its iterations,
	// locked.
	ExperimentForUpdate(ctx context.Context, scope *Scope, key string) (*Experiment, error)
	// SaveExperiment stores e: a new experiment when prevVersion is 0,
	// otherwise the next version of one whose version is still
	// prevVersion (core.ErrStale if not). Its iterations and the rows that
	// say which metrics and groups they use are replaced with e's.
	SaveExperiment(ctx context.Context, e *Experiment, prevVersion int) error
	// RolloutForUpdate returns a rollout of a flag, locked.
	RolloutForUpdate(ctx context.Context, scope *Scope, flagKey, id string) (*Rollout, error)
	// SaveRollout stores r: new when prevVersion is 0, otherwise the next
	// version of one still at prevVersion.
	SaveRollout(ctx context.Context, r *Rollout, prevVersion int) error
}

// Store is what the experiment and rollout services need.
type Store interface {
	TransactExperiments(ctx context.Context, fn func(tx Tx) (*audit.Change, error)) error
	// ResolveScope resolves a project and environment outside writes.
	ResolveScope(ctx context.Context, projectKey, envKey string) (*Scope, error)
	GetExperiment(ctx context.Context, scope *Scope, key string) (*Experiment, error)
	ListExperiments(ctx context.Context, scope *Scope, q Query) ([]Experiment, int, error)
	GetRollout(ctx context.Context, scope *Scope, flagKey, id string) (*Rollout, error)
	ListRollouts(ctx context.Context, scope *Scope, flagKey string, q RolloutQuery) ([]Rollout, int, error)
}

// ScopeError says which part of a scope does not exist.
type ScopeError struct {
	Project     bool // the project is missing; otherwise the environment
	Key         string
	NotFoundErr error
}

func (e *ScopeError) Error() string {
	if e.Project {
		return "unknown project " + e.Key
	}
	return "unknown environment " + e.Key
}

// Unwrap makes errors.Is(err, core.ErrNotFound) hold.
func (e *ScopeError) Unwrap() error { return e.NotFoundErr }
