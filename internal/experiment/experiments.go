package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
	"github.com/metricsd/metricsd/internal/resource"
)

// Paging limits of experiment lists (LaunchDarkly's defaults).
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Experiments serves experiments and their iterations.
type Experiments struct {
	store Store
	now   core.Clock
}

// NewExperiments returns the experiment service over s.
func NewExperiments(s Store, now core.Clock) *Experiments { return &Experiments{store: s, now: now} }

// scopeError turns a store's missing project or environment into a 404
// that names it.
func scopeError(err error, projectKey, envKey string) error {
	var se *ScopeError
	if errors.As(err, &se) {
		if se.Project {
			return core.Errorf(core.KindNotFound, "unknown project %q", projectKey)
		}
		return core.Errorf(core.KindNotFound, "unknown environment %q in project %q", envKey, projectKey)
	}
	return err
}

func notFound(s *Scope, key string) error {
	return core.Errorf(core.KindNotFound, "unknown experiment %q in environment %q of project %q", key, s.EnvironmentKey, s.ProjectKey)
}

// newIteration validates in against the project's metrics inside tx.
func (c *Experiments) newIteration(ctx context.Context, tx Tx, s *Scope, field string, in *IterationInput, number int) (*Iteration, error) {
	d, err := checkIterationShape(field, in)
	if err != nil {
		return nil, err
	}
	if _, err := resolveIn(ctx, tx, s, field, d); err != nil {
		return nil, err
	}
	return &Iteration{ID: core.NewObjectID(), Number: number, Status: StatusNotStarted, Def: *d, CreatedAt: c.now()}, nil
}

// resolveIn reads the iteration's metrics and groups and checks them.
func resolveIn(ctx context.Context, tx Tx, s *Scope, field string, d *IterationDef) ([]Entry, error) {
	mk, gk := keysOf(d)
	metrics, err := tx.MetricSnaps(ctx, s.ProjectID, mk)
	if err != nil {
		return nil, err
	}
	groups, err := tx.GroupSnaps(ctx, s.ProjectID, gk)
	if err != nil {
		return nil, err
	}
	return resolveMetrics(field, d, metrics, groups)
}

// CreateExperiment validates in and stores a new experiment whose first
// iteration is a draft (not_started).
func (c *Experiments) CreateExperiment(ctx context.Context, projectKey, envKey string, in ExperimentPost) (*Experiment, error) {
	if err := core.ValidateKey("key", in.Key); err != nil {
		return nil, err
	}
	name, err := validateName("name", in.Name)
	if err != nil {
		return nil, err
	}
	if err := validateDescription("description", in.Description); err != nil {
		return nil, err
	}
	tags, err := validateTags("tags", in.Tags)
	if err != nil {
		return nil, err
	}
	if len(in.HoldoutID) > maxName {
		return nil, invalid("holdoutId must be at most %d characters", maxName)
	}
	maintainer := in.MaintainerID
	if maintainer == "" {
		maintainer = core.PrincipalFrom(ctx).MemberID
	}
	var out *Experiment
	err = c.store.TransactExperiments(ctx, func(tx Tx) (*audit.Change, error) {
		s, err := tx.Scope(ctx, projectKey, envKey)
		if err != nil {
			return nil, scopeError(err, projectKey, envKey)
		}
		it, err := c.newIteration(ctx, tx, s, "iteration", in.Iteration, 1)
		if err != nil {
			return nil, err
		}
		now := c.now()
		e := &Experiment{
			ID: core.NewObjectID(), ProjectID: s.ProjectID, ProjectKey: s.ProjectKey,
			EnvironmentID: s.EnvironmentID, EnvironmentKey: s.EnvironmentKey,
			Key: in.Key, Name: name, Description: in.Description, MaintainerID: maintainer, HoldoutID: in.HoldoutID,
			Tags: tags, Version: 1, CreatedAt: now, UpdatedAt: now, Iterations: []Iteration{*it},
		}
		err = tx.SaveExperiment(ctx, e, 0)
		var missing *core.MissingRefsError
		switch {
		case errors.Is(err, core.ErrDuplicate):
			return nil, core.Errorf(core.KindConflict, "an experiment with key %q already exists in environment %q", in.Key, envKey)
		case errors.As(err, &missing):
			return nil, invalid("maintainerId: unknown member %q", maintainer)
		case err != nil:
			return nil, err
		}
		if out, err = tx.ExperimentForUpdate(ctx, s, in.Key); err != nil {
			return nil, err
		}
		return change(nil, out, nil, "", []action.Action{action.CreateExperiment}), nil
	})
	return out, err
}

// GetExperiment returns an experiment with its iterations.
func (c *Experiments) GetExperiment(ctx context.Context, projectKey, envKey, key string) (*Experiment, error) {
	s, err := c.store.ResolveScope(ctx, projectKey, envKey)
	if err != nil {
		return nil, scopeError(err, projectKey, envKey)
	}
	e, err := c.store.GetExperiment(ctx, s, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, notFound(s, key)
	}
	return e, err
}

// ListExperiments returns one page of an environment's experiments, oldest
// first, and the number of all matches.
func (c *Experiments) ListExperiments(ctx context.Context, projectKey, envKey string, q Query) ([]Experiment, int, error) {
	s, err := c.store.ResolveScope(ctx, projectKey, envKey)
	if err != nil {
		return nil, 0, scopeError(err, projectKey, envKey)
	}
	return c.store.ListExperiments(ctx, s, q)
}

// experimentForUpdate resolves the scope and locks an experiment.
func experimentForUpdate(ctx context.Context, tx Tx, projectKey, envKey, key string) (*Scope, *Experiment, error) {
	s, err := tx.Scope(ctx, projectKey, envKey)
	if err != nil {
		return nil, nil, scopeError(err, projectKey, envKey)
	}
	e, err := tx.ExperimentForUpdate(ctx, s, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil, notFound(s, key)
	}
	return s, e, err
}

// CreateIteration adds a draft iteration to an experiment, replacing the
// draft it has, if any. It returns the experiment and the new iteration.
func (c *Experiments) CreateIteration(ctx context.Context, projectKey, envKey, key string, in IterationInput) (*Experiment, *Iteration, error) {
	var out *Experiment
	var it *Iteration
	err := c.store.TransactExperiments(ctx, func(tx Tx) (*audit.Change, error) {
		s, cur, err := experimentForUpdate(ctx, tx, projectKey, envKey, key)
		if err != nil {
			return nil, err
		}
		if cur.ArchivedAt != nil {
			return nil, invalid("experiment %q is archived; restore it before creating an iteration", key)
		}
		next := *cur
		next.Iterations = append([]Iteration(nil), cur.Iterations...)
		number := 1
		if n := len(next.Iterations); n > 0 {
			number = next.Iterations[n-1].Number + 1
			if next.Iterations[n-1].Status == StatusNotStarted {
				number = next.Iterations[n-1].Number
				next.Iterations = next.Iterations[:n-1]
			}
		}
		fresh, err := c.newIteration(ctx, tx, s, "iteration", &in, number)
		if err != nil {
			return nil, err
		}
		next.Iterations = append(next.Iterations, *fresh)
		next.Version, next.UpdatedAt = cur.Version+1, c.now()
		if err := tx.SaveExperiment(ctx, &next, cur.Version); err != nil {
			return nil, err
		}
		if out, err = tx.ExperimentForUpdate(ctx, s, key); err != nil {
			return nil, err
		}
		it = out.Draft()
		return change(cur, out, nil, "", []action.Action{action.CreateIteration}), nil
	})
	return out, it, err
}

// The experiment instructions, by the parameters they take.
type (
	valueInstruction struct {
		Kind  string  `json:"kind"`
		Value *string `json:"value"`
	}
	startInstruction struct {
		Kind                string `json:"kind"`
		ChangeJustification string `json:"changeJustification"`
	}
	stopInstruction struct {
		Kind               string `json:"kind"`
		WinningTreatmentID string `json:"winningTreatmentId"`
		WinningReason      string `json:"winningReason"`
	}
	bareInstruction struct {
		Kind string `json:"kind"`
	}
)

// instructionKinds are the semantic patch instructions experiments take.
var instructionKinds = []string{"updateName", "updateDescription", "startIteration", "stopIteration", "archiveExperiment", "restoreExperiment"}

// PatchExperiment applies a semantic patch to an experiment: all of its
// instructions in order or, on any error, none.
func (c *Experiments) PatchExperiment(ctx context.Context, projectKey, envKey, key string, body []byte) (*Experiment, error) {
	sp, err := patch.ParseSemantic(body)
	if err != nil {
		return nil, err
	}
	var out *Experiment
	err = c.store.TransactExperiments(ctx, func(tx Tx) (*audit.Change, error) {
		s, cur, err := experimentForUpdate(ctx, tx, projectKey, envKey, key)
		if err != nil {
			return nil, err
		}
		if err := core.CheckIfMatch(ctx, cur.VersionToken()); err != nil {
			return nil, err
		}
		next := *cur
		next.Iterations = append([]Iteration(nil), cur.Iterations...)
		var actions []action.Action
		for _, in := range sp.Instructions {
			a, err := c.apply(ctx, tx, s, &next, in)
			if err != nil {
				return nil, err
			}
			if a != "" && !containsAction(actions, a) {
				actions = append(actions, a)
			}
		}
		if len(actions) == 0 {
			out = cur
			return nil, nil
		}
		next.Version, next.UpdatedAt = cur.Version+1, c.now()
		if err := tx.SaveExperiment(ctx, &next, cur.Version); err != nil {
			return nil, err
		}
		if out, err = tx.ExperimentForUpdate(ctx, s, key); err != nil {
			return nil, err
		}
		return change(cur, out, sp.Delta(), sp.Comment, actions), nil
	})
	return out, err
}

func containsAction(as []action.Action, a action.Action) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// apply applies one instruction to e and returns the action it records,
// or "" when it changed nothing.
func (c *Experiments) apply(ctx context.Context, tx Tx, s *Scope, e *Experiment, in patch.Instruction) (action.Action, error) {
	field, kind := in.Field, in.Kind
	switch kind {
	case "updateName", "updateDescription":
		var v valueInstruction
		if err := in.Decode(&v); err != nil {
			return "", err
		}
		if v.Value == nil {
			return "", invalid("%s.value is required for %s", field, kind)
		}
		if kind == "updateName" {
			name, err := validateName(field+".value", *v.Value)
			if err != nil {
				return "", err
			}
			if name == e.Name {
				return "", nil
			}
			e.Name = name
			return action.UpdateExperimentName, nil
		}
		if err := validateDescription(field+".value", *v.Value); err != nil {
			return "", err
		}
		if *v.Value == e.Description {
			return "", nil
		}
		e.Description = *v.Value
		return action.UpdateExperimentDescription, nil
	case "startIteration":
		var v startInstruction
		if err := in.Decode(&v); err != nil {
			return "", err
		}
		return action.StartIteration, c.start(ctx, tx, s, e, field, v)
	case "stopIteration":
		var v stopInstruction
		if err := in.Decode(&v); err != nil {
			return "", err
		}
		cur := e.Current()
		if cur == nil || cur.Status != StatusRunning {
			return "", invalid("%s (stopIteration): experiment %q has no running iteration (its status is %s)", field, e.Key, e.Status())
		}
		if v.WinningTreatmentID != "" && !hasTreatment(cur, v.WinningTreatmentID) {
			return "", invalid("%s.winningTreatmentId %q is not a treatment of the running iteration", field, v.WinningTreatmentID)
		}
		if err := validateDescription(field+".winningReason", v.WinningReason); err != nil {
			return "", err
		}
		now := c.now()
		cur.Status, cur.EndedAt = StatusStopped, &now
		cur.WinningTreatmentID, cur.WinningReason = v.WinningTreatmentID, v.WinningReason
		return action.StopIteration, nil
	case "archiveExperiment":
		if err := in.Decode(&bareInstruction{}); err != nil {
			return "", err
		}
		if e.ArchivedAt != nil {
			return "", invalid("%s (archiveExperiment): experiment %q is already archived", field, e.Key)
		}
		if e.Status() == StatusRunning {
			return "", invalid("%s (archiveExperiment): experiment %q is running; stop its iteration before archiving it", field, e.Key)
		}
		now := c.now()
		e.ArchivedAt = &now
		return action.ArchiveExperiment, nil
	case "restoreExperiment":
		if err := in.Decode(&bareInstruction{}); err != nil {
			return "", err
		}
		if e.ArchivedAt == nil {
			return "", invalid("%s (restoreExperiment): experiment %q is not archived", field, e.Key)
		}
		e.ArchivedAt = nil
		return action.RestoreExperiment, nil
	}
	return "", invalid("%s.kind %q is not supported; use one of %s", field, kind, strings.Join(instructionKinds, ", "))
}

func hasTreatment(it *Iteration, id string) bool {
	for _, t := range it.Def.Treatments {
		if t.ID == id {
			return true
		}
	}
	return false
}

// start starts the draft iteration: it re-checks its metrics as they are
// now and pins their versions. A running iteration is stopped first, which
// needs a change justification, as in LaunchDarkly.
func (c *Experiments) start(ctx context.Context, tx Tx, s *Scope, e *Experiment, field string, v startInstruction) error {
	if e.ArchivedAt != nil {
		return invalid("%s (startIteration): experiment %q is archived; restore it first", field, e.Key)
	}
	draft := e.Draft()
	if draft == nil {
		return invalid("%s (startIteration): experiment %q has no draft iteration to start (its status is %s); create one first", field, e.Key, e.Status())
	}
	now := c.now()
	if cur := e.Current(); cur != nil && cur.Status == StatusRunning {
		if strings.TrimSpace(v.ChangeJustification) == "" {
			return invalid("%s.changeJustification is required to start a new iteration while one is running", field)
		}
		cur.Status, cur.EndedAt = StatusStopped, &now
	}
	def := draft.Def
	def.Metrics = append([]MetricRef(nil), def.Metrics...)
	entries, err := resolveIn(ctx, tx, s, fmt.Sprintf("%s (startIteration): iteration", field), &def)
	if err != nil {
		return err
	}
	pins := make([]Pin, 0, len(entries))
	for _, en := range entries {
		if en.Group != nil {
			g := en.Group
			p := Pin{Key: g.Key, IsGroup: true, ID: g.ID, Version: g.VersionID, Name: g.Name, Kind: g.Kind, Members: []PinMember{}}
			for _, m := range g.Metrics {
				p.Members = append(p.Members, PinMember{ID: m.ID, Key: m.Key, VersionID: m.VersionID, NameInGroup: m.NameInGroup})
			}
			pins = append(pins, p)
			continue
		}
		pins = append(pins, Pin{Key: en.Metric.Key, ID: en.Metric.ID, Version: en.Metric.VersionID})
	}
	// The draft is the last iteration; Current may have pointed elsewhere.
	last := &e.Iterations[len(e.Iterations)-1]
	last.Status, last.StartedAt, last.Pins = StatusRunning, &now, pins
	return nil
}

// iterationDocument is the audit log's document of an iteration.
type iterationDocument struct {
	ID                 string       `json:"_id"`
	Status             string       `json:"status"`
	Def                IterationDef `json:"definition"`
	Pins               []Pin        `json:"pinnedMetrics,omitempty"`
	WinningTreatmentID string       `json:"winningTreatmentId,omitempty"`
	WinningReason      string       `json:"winningReason,omitempty"`
}

// experimentDocument is the audit log's document of an experiment.
type experimentDocument struct {
	Key          string              `json:"key"`
	Name         string              `json:"name"`
	Description  string              `json:"description"`
	MaintainerID string              `json:"_maintainerId"`
	Tags         []string            `json:"tags"`
	Archived     bool                `json:"archived"`
	Iterations   []iterationDocument `json:"iterations"`
}

// Document is the audit log's document of an experiment.
func Document(e *Experiment) json.RawMessage {
	d := experimentDocument{Key: e.Key, Name: e.Name, Description: e.Description, MaintainerID: e.MaintainerID,
		Tags: core.OrEmpty(e.Tags), Archived: e.ArchivedAt != nil, Iterations: []iterationDocument{}}
	for _, it := range e.Iterations {
		d.Iterations = append(d.Iterations, iterationDocument{ID: it.ID, Status: it.Status, Def: it.Def, Pins: it.Pins,
			WinningTreatmentID: it.WinningTreatmentID, WinningReason: it.WinningReason})
	}
	return document(d)
}

func change(before, after *Experiment, delta json.RawMessage, comment string, actions []action.Action) *audit.Change {
	c := &audit.Change{Actions: actions, Delta: delta, Comment: comment}
	for _, e := range []*Experiment{before, after} {
		if e != nil {
			c.Target = audit.Target{Kind: string(resource.KindExperiment), Spec: resource.Experiment(e.ProjectKey, e.EnvironmentKey, e.Key, e.Tags), Name: e.Name}
		}
	}
	if before != nil {
		c.Before = Document(before)
	}
	if after != nil {
		c.After = Document(after)
	}
	return c
}
