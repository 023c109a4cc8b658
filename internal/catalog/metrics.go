package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"

	"github.com/metricsd/metricsd/internal/resource"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
)

// CreateMetric validates in and stores it as version 1 of a new metric.
// The maintainer defaults to the acting member.
func (c *Metrics) CreateMetric(ctx context.Context, projectKey string, in MetricPost) (*Metric, error) {
	if err := core.ValidateKey("key", in.Key); err != nil {
		return nil, err
	}
	if in.Kind == "" {
		return nil, invalidAt("kind", "kind is required")
	}
	def := in.MetricDef
	if p := core.PrincipalFrom(ctx); def.MaintainerID == "" && def.MaintainerTeamKey == "" && p.MemberID != "" {
		def.MaintainerID = p.MemberID
	}
	normalizeMetric(in.Key, &def)
	if err := validateMetric(in.Kind, &def); err != nil {
		return nil, err
	}
	if def.MaintainerID != "" && def.MaintainerTeamKey != "" {
		return nil, invalidAt("maintainerId", "name either maintainerId or maintainerTeamKey, not both")
	}
	var out *Metric
	err := c.store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
		p, err := projectIn(ctx, tx, projectKey)
		if err != nil {
			return nil, err
		}
		now := c.now()
		m := &Metric{
			ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key, Key: in.Key, Kind: in.Kind,
			Version: 1, VersionID: uuid.NewString(), CreatedAt: now, UpdatedAt: now, Def: def,
			MaintainerTeamKey: def.MaintainerTeamKey,
		}
		if def.Archived {
			m.ArchivedAt = &now
		}
		err = tx.CreateMetric(ctx, m)
		switch {
		case errors.Is(err, core.ErrDuplicate):
			return nil, core.FieldErrorf(core.KindConflict, "key", "a metric with key %q already exists in project %q", in.Key, projectKey)
		case err != nil:
			return nil, maintainerError(err)
		}
		// Answer with the version this request stored.
		if out, err = tx.Metric(ctx, p.ID, m.Key, m.VersionID); err != nil {
			return nil, err
		}
		return metricChange(p, nil, out, nil, "", []action.Action{action.CreateMetric}), nil
	})
	return out, err
}

// projectIn resolves a project key inside a write.
func projectIn(ctx context.Context, tx ProjectTx, key string) (*Project, error) {
	p, err := tx.Project(ctx, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown project %q", key)
	}
	return p, err
}

// maintainerError names the maintainer a write referred to that does not
// exist; other errors pass through.
func maintainerError(err error) error {
	var missing *core.MissingRefsError
	if errors.As(err, &missing) && len(missing.Keys) > 0 {
		if missing.What == "team" {
			return invalidAt("maintainerTeamKey", "maintainerTeamKey %q does not name a team", missing.Keys[0])
		}
		return invalidAt("maintainerId", "maintainerId %q does not name a member", missing.Keys[0])
	}
	return err
}

// metricTarget names a metric for the audit log.
func metricTarget(projectKey string, m *Metric) audit.Target {
	return audit.Target{Kind: "metric", Spec: resource.Metric(projectKey, m.Key, m.Def.Tags), Name: m.Def.Name}
}

// metricChange describes a metric write for the audit log; before or
// after is nil on create and delete. Nil actions are derived from the
// fields that changed.
func metricChange(p *Project, before, after *Metric, delta []patch.Op, comment string, actions []action.Action) *audit.Change {
	return childChange(p, before, after, metricTarget, MetricDocument, delta, comment, actions, metricFieldActions, action.UpdateMetric)
}

// childChange describes a write of a resource of project p (a metric or a
// metric group): target and doc render it, table and fallback name the
// actions of the fields a patch changed when actions is nil.
func childChange[T any](p *Project, before, after *T, target func(string, *T) audit.Target, doc func(*T) json.RawMessage,
	delta []patch.Op, comment string, actions []action.Action, table map[string]action.Action, fallback action.Action) *audit.Change {
	c := &audit.Change{
		Parent:  &audit.Parent{Resource: resource.Project(p.Key).String(), Name: p.Name},
		Actions: actions, Comment: comment,
	}
	if before != nil {
		c.Target, c.Before = target(p.Key, before), doc(before)
	}
	if after != nil {
		if before != nil {
			prior := c.Target.Spec
			c.Prior = &prior
		}
		c.Target, c.After = target(p.Key, after), doc(after)
	}
	if delta != nil {
		c.Delta, _ = json.Marshal(delta)
	}
	if actions == nil {
		c.Actions = action.ForChange(table, fallback, patch.ChangedDocumentFields(c.Before, c.After))
	}
	return c
}

// MetricDocument renders the document of one metric version that JSON
// Patch applies to: its identity and every editable field. The audit log
// keeps it before and after each change, and version diffs compare it.
func MetricDocument(m *Metric) json.RawMessage {
	if len(m.Def.AnalysisUnits) > 0 {
		// Not stored that way (both names would be members of the
		// definition); render it the general way.
		doc, err := patchDocument(m)
		if err != nil {
			return nil
		}
		raw, _ := json.Marshal(doc)
		return raw
	}
	raw, err := patch.Render(m.Def, metricIdentity(m)...)
	if err != nil {
		return nil
	}
	return raw
}

// metricIdentity are the read-only members of a metric's patch document,
// with analysisUnits shown beside randomizationUnits.
func metricIdentity(m *Metric) []patch.Member {
	return []patch.Member{
		{Name: "_id", Value: m.ID}, {Name: "_version", Value: m.Version}, {Name: "_versionId", Value: m.VersionID},
		{Name: "_creationDate", Value: m.CreatedAt.UnixMilli()}, {Name: "key", Value: m.Key}, {Name: "kind", Value: m.Kind},
		{Name: "analysisUnits", Value: m.Def.RandomizationUnits},
	}
}

// metricFieldActions maps the wire names of metric fields to the action a
// change of them is recorded as.
var metricFieldActions = map[string]action.Action{
	"name": action.UpdateName, "description": action.UpdateDescription, "tags": action.UpdateTags,
	"maintainerId": action.UpdateMaintainer, "maintainerTeamKey": action.UpdateMaintainer,
	"eventKey": action.UpdateEventKey, "isNumeric": action.UpdateNumeric, "unit": action.UpdateNumericUnit,
	"successCriteria": action.UpdateNumericSuccess, "selector": action.UpdateSelector, "urls": action.UpdateURLs,
	"randomizationUnits": action.UpdateRandomizationUnits, "unitAggregationType": action.UpdateUnitAggregationType,
	"analysisType": action.UpdateAnalysisType, "percentileValue": action.UpdateAnalysisType,
	"eventDefault": action.UpdateEventDefault, "dataSource": action.UpdateDataSource, "filters": action.UpdateFilters,
	"traceQuery": action.UpdateTraceQuery, "traceValueLocation": action.UpdateTraceQuery, "archived": action.UpdateArchived,
}

// GetMetric returns a metric, or one of its versions when versionID is set,
// with the expansions named in expand.
func (c *Metrics) GetMetric(ctx context.Context, projectKey, key, versionID string, expand ExpandSet) (*Metric, *MetricExpansions, error) {
	p, err := projectByKey(ctx, c.store, projectKey)
	if err != nil {
		return nil, nil, err
	}
	m, err := c.store.GetMetric(ctx, p.ID, key, versionID)
	if errors.Is(err, core.ErrNotFound) {
		if versionID != "" {
			return nil, nil, core.Errorf(core.KindNotFound, "unknown version %q of metric %q", versionID, key)
		}
		return nil, nil, core.Errorf(core.KindNotFound, "unknown metric %q in project %q", key, projectKey)
	}
	if err != nil {
		return nil, nil, err
	}
	want := ExpandSet{}
	for k, v := range expand {
		want[k] = v
	}
	if m.Usage != nil && m.Usage.AttachedFlagCount > 0 {
		want[ExpandAttachedFeatures] = true
	}
	if len(want) == 0 {
		return m, nil, nil
	}
	x, err := c.store.MetricExpansions(ctx, m.ID, want)
	return m, x, err
}

// ListMetrics returns one page of a project's metrics and the total count.
func (c *Metrics) ListMetrics(ctx context.Context, projectKey string, q MetricQuery) ([]Metric, int, error) {
	p, err := projectByKey(ctx, c.store, projectKey)
	if err != nil {
		return nil, 0, err
	}
	return c.store.ListMetrics(ctx, p.ID, q)
}

// DeleteMetric removes a metric and its history; its audit entries stay.
// A metric that a group, an experiment iteration or an active guarded
// rollout uses stays, and the error names what uses it.
func (c *Metrics) DeleteMetric(ctx context.Context, projectKey, key string) error {
	_, err := c.deleteMetric(ctx, projectKey, key, false)
	return err
}

// DeleteMetricDryRun answers what DeleteMetric would: the blockers that
// keep the metric (none when it could be deleted), deleting nothing.
func (c *Metrics) DeleteMetricDryRun(ctx context.Context, projectKey, key string) ([]Blocker, error) {
	return c.deleteMetric(ctx, projectKey, key, true)
}

func (c *Metrics) deleteMetric(ctx context.Context, projectKey, key string, dry bool) ([]Blocker, error) {
	var blockers []Blocker
	err := c.store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
		p, err := projectIn(ctx, tx, projectKey)
		if err != nil {
			return nil, err
		}
		cur, err := tx.MetricForUpdate(ctx, p.ID, key)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown metric %q in project %q", key, projectKey)
		}
		if err != nil {
			return nil, err
		}
		if err := core.CheckIfMatch(ctx, cur.VersionToken()); err != nil {
			return nil, err
		}
		err = tx.DeleteMetric(ctx, p.ID, key)
		var inUse *InUseError
		if errors.As(err, &inUse) {
			if dry {
				blockers = inUse.Blockers
				return nil, errDryRun
			}
			return nil, core.Errorf(core.KindConflict, "metric %q is used by %s; remove it from them first", key, inUse.describe())
		}
		if err != nil {
			return nil, err
		}
		if dry {
			return nil, errDryRun
		}
		return metricChange(p, cur, nil, nil, "", []action.Action{action.DeleteMetric}), nil
	})
	if errors.Is(err, errDryRun) {
		if blockers == nil {
			blockers = []Blocker{}
		}
		return blockers, nil
	}
	return nil, err
}

// VersionToken names the version of the metric a representation shows:
// the version ID, which no other version of any metric shares. Conditional
// requests compare it (core.CheckIfMatch).
func (m *Metric) VersionToken() string { return m.VersionID }

// metricReadOnly are the fields of the patch document that clients may test
// but never change.
var metricReadOnly = []string{"_id", "_version", "_versionId", "_creationDate", "key", "kind"}

// patchDocument renders the document a metric patch applies to: every
// editable field plus the read-only identity fields.
func patchDocument(m *Metric) (map[string]json.RawMessage, error) {
	doc, err := patch.Document(m.Def)
	if err != nil {
		return nil, err
	}
	for _, f := range metricIdentity(m) {
		doc[f.Name], _ = json.Marshal(f.Value)
	}
	return doc, nil
}

// PatchMetric applies a JSON Patch to the current version of a metric,
// validates the result like a create and stores it as a new version. The
// metric is locked while the patch applies, so concurrent patches apply one
// after the other; a failed "test" operation is a core.KindConflict.
// Nothing is written on any error.
func (c *Metrics) PatchMetric(ctx context.Context, projectKey, key string, body []byte) (*Metric, error) {
	m, _, err := c.patchMetric(ctx, projectKey, key, body, false)
	return m, err
}

// PatchMetricDryRun validates and applies a patch like PatchMetric and
// answers with the metric it would store and what the edit would affect,
// storing nothing.
func (c *Metrics) PatchMetricDryRun(ctx context.Context, projectKey, key string, body []byte) (*Metric, *Impact, error) {
	return c.patchMetric(ctx, projectKey, key, body, true)
}

func (c *Metrics) patchMetric(ctx context.Context, projectKey, key string, body []byte, dry bool) (*Metric, *Impact, error) {
	ops, comment, err := patch.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	var out *Metric
	var impact *Impact
	// settle ends a dry run: it reads what the edit affects and rolls
	// everything back.
	settle := func(ctx context.Context, tx Tx, metricID string, change *audit.Change) (*audit.Change, error) {
		if !dry {
			return change, nil
		}
		var err error
		if impact, err = tx.MetricImpact(ctx, metricID); err != nil {
			return nil, err
		}
		return nil, errDryRun
	}
	err = c.store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
		p, err := projectIn(ctx, tx, projectKey)
		if err != nil {
			return nil, err
		}
		cur, err := tx.MetricForUpdate(ctx, p.ID, key)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown metric %q in project %q", key, projectKey)
		}
		if err != nil {
			return nil, err
		}
		if err := core.CheckIfMatch(ctx, cur.VersionToken()); err != nil {
			return nil, err
		}
		def, err := applyMetricPatch(cur, ops)
		if err != nil {
			return nil, err
		}
		normalizeMetric(cur.Key, &def)
		if err := validateMetric(cur.Kind, &def); err != nil {
			return nil, err
		}
		if def.MaintainerID != "" && def.MaintainerTeamKey != "" {
			return nil, invalidAt("maintainerId", "name either maintainerId or maintainerTeamKey, not both")
		}
		if reflect.DeepEqual(def, cur.Def) {
			out = cur
			if err := enforceNoOp(ctx, metricTarget(p.Key, cur).Spec, ops, metricFieldActions, action.UpdateMetric); err != nil {
				return nil, err
			}
			return settle(ctx, tx, cur.ID, nil)
		}
		if err := checkMetricInGroups(ctx, tx, cur, def); err != nil {
			return nil, err
		}
		now := c.now()
		next := *cur
		next.Def = def
		next.MaintainerTeamKey = def.MaintainerTeamKey
		next.Version = cur.Version + 1
		next.VersionID = uuid.NewString()
		next.UpdatedAt = now
		next.Comment = comment
		switch {
		case def.Archived && !cur.Def.Archived:
			next.ArchivedAt = &now
		case !def.Archived:
			next.ArchivedAt = nil
		}
		if err := tx.UpdateMetric(ctx, &next, cur.Version); err != nil {
			return nil, maintainerError(err)
		}
		if out, err = tx.Metric(ctx, p.ID, cur.Key, next.VersionID); err != nil {
			return nil, err
		}
		return settle(ctx, tx, cur.ID, metricChange(p, cur, out, ops, comment, nil))
	})
	if errors.Is(err, errDryRun) {
		return out, impact, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

func applyMetricPatch(cur *Metric, ops []patch.Op) (MetricDef, error) {
	doc, err := patchDocument(cur)
	if err != nil {
		return MetricDef{}, err
	}
	var def MetricDef
	if err := patch.Apply(doc, metricReadOnly, ops, &def); err != nil {
		return MetricDef{}, err
	}
	reconcilePatchedUnits(&def, cur.Def.RandomizationUnits)
	return def, nil
}

// ListMetricVersions returns one page of a metric's versions, newest first.
func (c *Metrics) ListMetricVersions(ctx context.Context, projectKey, key string, page core.Page) ([]MetricVersion, int, error) {
	m, _, err := c.GetMetric(ctx, projectKey, key, "", nil)
	if err != nil {
		return nil, 0, err
	}
	return c.store.MetricVersions(ctx, m.ID, page)
}

// VersionDiff is the change between two versions of a metric.
type VersionDiff struct {
	From, To *Metric
	// Patch turns the definition of From into that of To: a JSON Patch over
	// the editable fields (identity and version fields left out).
	Patch []patch.Op
}

// DiffMetricVersions compares two versions of a metric; an empty toID
// names the current version.
func (c *Metrics) DiffMetricVersions(ctx context.Context, projectKey, key, fromID, toID string) (*VersionDiff, error) {
	if fromID == "" {
		return nil, invalid("from is required: the _versionId of the older version")
	}
	from, _, err := c.GetMetric(ctx, projectKey, key, fromID, nil)
	if err != nil {
		return nil, err
	}
	to, _, err := c.GetMetric(ctx, projectKey, key, toID, nil)
	if err != nil {
		return nil, err
	}
	a, err := json.Marshal(from.Def)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(to.Def)
	if err != nil {
		return nil, err
	}
	ops, err := patch.Diff(a, b)
	if err != nil {
		return nil, err
	}
	return &VersionDiff{From: from, To: to, Patch: ops}, nil
}
