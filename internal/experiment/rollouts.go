package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
	"github.com/metricsd/metricsd/internal/resource"
)

// Rollouts serves guarded rollouts, a metricsd extension at the path
// LaunchDarkly's links name them by.
type Rollouts struct {
	store Store
	now   core.Clock
}

// NewRollouts returns the rollout service over s.
func NewRollouts(s Store, now core.Clock) *Rollouts { return &Rollouts{store: s, now: now} }

// RolloutPost is the body of a create-rollout request. The flag key is in
// the path; metricsd stores the flag's key and name as given.
type RolloutPost struct {
	FlagName        string   `json:"flagName"`
	FlagPurpose     string   `json:"flagPurpose"`
	MetricKeys      []string `json:"metricKeys"`
	MetricGroupKeys []string `json:"metricGroupKeys"`
	// UseGuardrailGroup adds the project's guardrail metric group.
	UseGuardrailGroup bool `json:"useGuardrailGroup"`
}

// rolloutTransitions says which statuses a rollout may move to from each.
var rolloutTransitions = map[string][]string{
	RolloutMonitoring: {RolloutCompleted, RolloutRolledBack},
	RolloutCompleted:  nil,
	RolloutRolledBack: nil,
}

// RolloutStatuses are the statuses a rollout can have.
var RolloutStatuses = []string{RolloutMonitoring, RolloutCompleted, RolloutRolledBack}

func rolloutNotFound(s *Scope, flagKey, id string) error {
	return core.Errorf(core.KindNotFound, "unknown guarded rollout %q of flag %q in environment %q", id, flagKey, s.EnvironmentKey)
}

// CreateRollout starts monitoring a flag change with metrics and groups.
// An environment runs at most one unfinished rollout per flag.
func (c *Rollouts) CreateRollout(ctx context.Context, projectKey, envKey, flagKey string, in RolloutPost) (*Rollout, error) {
	if err := core.ValidateKey("flagKey", flagKey); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.FlagName)
	if name == "" {
		name = flagKey
	}
	if _, err := validateName("flagName", name); err != nil {
		return nil, err
	}
	if len(in.FlagPurpose) > maxName {
		return nil, invalid("flagPurpose must be at most %d characters", maxName)
	}
	if len(in.MetricKeys)+len(in.MetricGroupKeys) > maxMetrics {
		return nil, invalid("a guarded rollout monitors at most %d metrics and groups", maxMetrics)
	}
	for i, k := range in.MetricKeys {
		if err := core.ValidateKey(fmt.Sprintf("metricKeys[%d]", i), k); err != nil {
			return nil, err
		}
	}
	for i, k := range in.MetricGroupKeys {
		if err := core.ValidateKey(fmt.Sprintf("metricGroupKeys[%d]", i), k); err != nil {
			return nil, err
		}
	}
	if len(in.MetricKeys) == 0 && len(in.MetricGroupKeys) == 0 && !in.UseGuardrailGroup {
		return nil, invalid("name at least one metric in metricKeys or metricGroupKeys, or set useGuardrailGroup")
	}
	var out *Rollout
	err := c.store.TransactExperiments(ctx, func(tx Tx) (*audit.Change, error) {
		s, err := tx.Scope(ctx, projectKey, envKey)
		if err != nil {
			return nil, scopeError(err, projectKey, envKey)
		}
		metrics, err := tx.MetricSnaps(ctx, s.ProjectID, core.Dedupe(in.MetricKeys))
		if err != nil {
			return nil, err
		}
		groups, err := tx.GroupSnaps(ctx, s.ProjectID, core.Dedupe(in.MetricGroupKeys))
		if err != nil {
			return nil, err
		}
		now := c.now()
		r := &Rollout{ID: core.NewObjectID(), ProjectID: s.ProjectID, ProjectKey: s.ProjectKey, EnvironmentID: s.EnvironmentID,
			EnvironmentKey: s.EnvironmentKey, EnvironmentName: s.EnvironmentName, FlagKey: flagKey, FlagName: name,
			FlagPurpose: in.FlagPurpose, Status: RolloutMonitoring, Version: 1, CreatedAt: now, UpdatedAt: now}
		for i, k := range core.Dedupe(in.MetricKeys) {
			m := metrics[k]
			if m == nil {
				return nil, invalid("metricKeys[%d]: unknown metric %q in project %q", i, k, projectKey)
			}
			if m.Archived {
				return nil, invalid("metricKeys[%d]: metric %q is archived", i, k)
			}
			r.Metrics = append(r.Metrics, RolloutMetric{Key: k, ID: m.ID, Name: m.Name, Kind: m.Kind})
		}
		for i, k := range core.Dedupe(in.MetricGroupKeys) {
			g := groups[k]
			if g == nil {
				return nil, invalid("metricGroupKeys[%d]: unknown metric group %q in project %q", i, k, projectKey)
			}
			r.Metrics = append(r.Metrics, RolloutMetric{Key: k, IsGroup: true, ID: g.ID, Name: g.Name, Kind: g.Kind})
		}
		if in.UseGuardrailGroup {
			g, err := guardrailGroup(ctx, tx, s)
			if err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(r.Metrics, func(m RolloutMetric) bool { return m.ID == g.ID }) {
				r.Metrics = append(r.Metrics, RolloutMetric{Key: g.Key, IsGroup: true, ID: g.ID, Name: g.Name, Kind: g.Kind})
			}
		}
		err = tx.SaveRollout(ctx, r, 0)
		if errors.Is(err, core.ErrDuplicate) {
			return nil, core.Errorf(core.KindConflict, "flag %q already has a guarded rollout in environment %q that is not finished; complete or roll it back first", flagKey, envKey)
		}
		if err != nil {
			return nil, err
		}
		if out, err = tx.RolloutForUpdate(ctx, s, flagKey, r.ID); err != nil {
			return nil, err
		}
		return rolloutChange(nil, out, nil, "", []action.Action{action.CreateMeasuredRollout}), nil
	})
	return out, err
}

// guardrailGroup finds the project's guardrail group (there is at most
// one).
func guardrailGroup(ctx context.Context, tx Tx, s *Scope) (*GroupSnap, error) {
	g, err := tx.GuardrailGroup(ctx, s.ProjectID)
	if err == nil || !errors.Is(err, core.ErrNotFound) {
		return g, err
	}
	return nil, invalid("useGuardrailGroup: project %q has no guardrail metric group", s.ProjectKey)
}

// GetRollout returns one rollout of a flag.
func (c *Rollouts) GetRollout(ctx context.Context, projectKey, envKey, flagKey, id string) (*Rollout, error) {
	s, err := c.store.ResolveScope(ctx, projectKey, envKey)
	if err != nil {
		return nil, scopeError(err, projectKey, envKey)
	}
	r, err := c.store.GetRollout(ctx, s, flagKey, id)
	if errors.Is(err, core.ErrNotFound) {
		return nil, rolloutNotFound(s, flagKey, id)
	}
	return r, err
}

// ListRollouts returns one page of a flag's rollouts in an environment,
// newest first.
func (c *Rollouts) ListRollouts(ctx context.Context, projectKey, envKey, flagKey string, q RolloutQuery) ([]Rollout, int, error) {
	s, err := c.store.ResolveScope(ctx, projectKey, envKey)
	if err != nil {
		return nil, 0, scopeError(err, projectKey, envKey)
	}
	return c.store.ListRollouts(ctx, s, flagKey, q)
}

type statusInstruction struct {
	Kind  string  `json:"kind"`
	Value *string `json:"value"`
}

// PatchRollout applies a semantic patch to a rollout. Its one instruction
// kind, updateStatus, moves it from monitoring to completed or
// rolled_back; both are final.
func (c *Rollouts) PatchRollout(ctx context.Context, projectKey, envKey, flagKey, id string, body []byte) (*Rollout, error) {
	sp, err := patch.ParseSemantic(body)
	if err != nil {
		return nil, err
	}
	var out *Rollout
	err = c.store.TransactExperiments(ctx, func(tx Tx) (*audit.Change, error) {
		s, err := tx.Scope(ctx, projectKey, envKey)
		if err != nil {
			return nil, scopeError(err, projectKey, envKey)
		}
		cur, err := tx.RolloutForUpdate(ctx, s, flagKey, id)
		if errors.Is(err, core.ErrNotFound) {
			return nil, rolloutNotFound(s, flagKey, id)
		}
		if err != nil {
			return nil, err
		}
		if err := core.CheckIfMatch(ctx, cur.VersionToken()); err != nil {
			return nil, err
		}
		next := *cur
		for _, in := range sp.Instructions {
			if in.Kind != "updateStatus" {
				return nil, invalid("%s.kind %q is not supported; use updateStatus", in.Field, in.Kind)
			}
			var v statusInstruction
			if err := in.Decode(&v); err != nil {
				return nil, err
			}
			if v.Value == nil {
				return nil, invalid("%s.value is required for updateStatus", in.Field)
			}
			if _, ok := rolloutTransitions[*v.Value]; !ok {
				return nil, invalid("%s.value %q is not a rollout status; use one of %s", in.Field, *v.Value, strings.Join(RolloutStatuses, ", "))
			}
			if *v.Value == next.Status {
				continue
			}
			if !slices.Contains(rolloutTransitions[next.Status], *v.Value) {
				return nil, invalid("%s: a %s rollout cannot become %s", in.Field, next.Status, *v.Value)
			}
			next.Status = *v.Value
		}
		if next.Status == cur.Status {
			out = cur
			return nil, nil
		}
		next.Version, next.UpdatedAt = cur.Version+1, c.now()
		err = tx.SaveRollout(ctx, &next, cur.Version)
		if errors.Is(err, core.ErrDuplicate) {
			return nil, core.Errorf(core.KindConflict, "flag %q already has another unfinished guarded rollout in environment %q", flagKey, envKey)
		}
		if err != nil {
			return nil, err
		}
		if out, err = tx.RolloutForUpdate(ctx, s, flagKey, id); err != nil {
			return nil, err
		}
		return rolloutChange(cur, out, sp.Delta(), sp.Comment, []action.Action{action.UpdateMeasuredRolloutStatus}), nil
	})
	return out, err
}

type rolloutDocument struct {
	ID          string   `json:"_id"`
	FlagKey     string   `json:"flagKey"`
	FlagName    string   `json:"flagName"`
	FlagPurpose string   `json:"flagPurpose,omitempty"`
	Status      string   `json:"status"`
	Metrics     []string `json:"metricKeys"`
	Groups      []string `json:"metricGroupKeys"`
}

// RolloutDocument is the audit log's document of a rollout.
func RolloutDocument(r *Rollout) json.RawMessage {
	d := rolloutDocument{ID: r.ID, FlagKey: r.FlagKey, FlagName: r.FlagName, FlagPurpose: r.FlagPurpose, Status: r.Status, Metrics: []string{}, Groups: []string{}}
	for _, m := range r.Metrics {
		if m.IsGroup {
			d.Groups = append(d.Groups, m.Key)
		} else {
			d.Metrics = append(d.Metrics, m.Key)
		}
	}
	return document(d)
}

func rolloutChange(before, after *Rollout, delta json.RawMessage, comment string, actions []action.Action) *audit.Change {
	c := &audit.Change{Actions: actions, Delta: delta, Comment: comment}
	for _, r := range []*Rollout{before, after} {
		if r != nil {
			c.Target = audit.Target{Kind: string(resource.KindMeasuredRollout), Spec: resource.MeasuredRollout(r.ProjectKey, r.EnvironmentKey, r.ID), Name: r.FlagName}
		}
	}
	if before != nil {
		c.Before = RolloutDocument(before)
	}
	if after != nil {
		c.After = RolloutDocument(after)
	}
	return c
}
