package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/patch"
	"github.com/metricsd/metricsd/internal/resource"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"

	"github.com/metricsd/metricsd/internal/core"
)

// MetricGroupPost is the body of a create-metric-group request. key may be
// omitted: it is then derived from the name.
type MetricGroupPost struct {
	Key string `json:"key"`
	GroupDef
}

const (
	minGroupMetrics = 2
	maxGroupMetrics = 50
)

// groupReadOnly are the identity members of a group patch document.
var groupReadOnly = []string{"_id", "_version", "_creationDate", "_lastModified", "key"}

// CreateMetricGroup validates and stores a new group. The maintainer defaults
// to the acting member when neither a member nor a team is named.
func (c *Groups) CreateMetricGroup(ctx context.Context, projectKey string, in MetricGroupPost) (*MetricGroup, error) {
	def := in.GroupDef
	normalizeGroup(&def)
	if err := resolveMaintainer(&def, true); err != nil {
		return nil, err
	}
	if p := core.PrincipalFrom(ctx); def.MaintainerID == "" && def.MaintainerTeamKey == "" && p.MemberID != "" {
		def.MaintainerID = p.MemberID
	}
	deriveKey := in.Key == ""
	key := in.Key
	if deriveKey {
		var err error
		if key, err = deriveGroupKey(def.Name); err != nil {
			return nil, err
		}
	} else if err := core.ValidateKey("key", key); err != nil {
		return nil, err
	}
	if err := validateGroupShape(&def); err != nil {
		return nil, err
	}
	var out *MetricGroup
	// A concurrent create can take the key or the project's guardrail slot
	// between this write's checks and its insert; the second attempt sees
	// it and says which.
	err := retryOnDuplicate(func() error {
		return c.store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
			p, err := projectIn(ctx, tx, projectKey)
			if err != nil {
				return nil, err
			}
			metrics, err := groupMetrics(ctx, tx, p.ID, &def)
			if err != nil {
				return nil, err
			}
			gkey, err := freeGroupKey(ctx, tx, p, key, deriveKey)
			if err != nil {
				return nil, err
			}
			now := c.now()
			g := &MetricGroup{ID: uuid.NewString(), ProjectID: p.ID, ProjectKey: p.Key, Key: gkey, Version: 1, CreatedAt: now, UpdatedAt: now, Def: def, Metrics: metrics}
			if err := tx.CreateMetricGroup(ctx, g); err != nil {
				return nil, groupWriteError(err, projectKey)
			}
			if out, err = tx.GroupForUpdate(ctx, p.ID, g.Key); err != nil {
				return nil, err
			}
			return groupChange(p, nil, out, nil, "", []action.Action{action.CreateMetricGroup}), nil
		})
	})
	return out, err
}

// retryOnDuplicate runs write once more when a unique index refused it.
func retryOnDuplicate(write func() error) error {
	err := write()
	if errors.Is(err, core.ErrDuplicate) {
		err = write()
	}
	return err
}

// freeGroupKey returns key when no group of the project has it. A derived
// key takes the first free suffix instead (key-2, key-3, …).
func freeGroupKey(ctx context.Context, tx GroupTx, p *Project, key string, derived bool) (string, error) {
	candidate := key
	for attempt := 2; attempt <= 100; attempt++ {
		_, err := tx.GroupForUpdate(ctx, p.ID, candidate)
		if errors.Is(err, core.ErrNotFound) {
			return candidate, nil
		}
		if err != nil {
			return "", err
		}
		if !derived {
			break
		}
		candidate = fmt.Sprintf("%s-%d", key, attempt)
	}
	return "", core.Errorf(core.KindConflict, "a metric group with key %q already exists in project %q", candidate, p.Key)
}

func groupWriteError(err error, projectKey string) error {
	if errors.Is(err, ErrGuardrailTaken) {
		return core.Errorf(core.KindConflict, "project %q already has a guardrail metric group", projectKey)
	}
	var missing *core.MissingRefsError
	if errors.As(err, &missing) {
		return maintainerError(err)
	}
	return err
}

// ErrGuardrailTaken reports that a project already has its one guardrail
// metric group.
var ErrGuardrailTaken = errors.New("project already has a guardrail metric group")

// groupTarget names a metric group for the audit log.
func groupTarget(projectKey string, g *MetricGroup) audit.Target {
	return audit.Target{Kind: "metric-group", Spec: resource.MetricGroup(projectKey, g.Key, g.Def.Tags), Name: g.Def.Name}
}

// GroupDocument renders the document a metric group patch applies to.
func GroupDocument(g *MetricGroup) json.RawMessage {
	raw, err := patch.Render(g.Def, groupIdentity(g)...)
	if err != nil {
		return nil
	}
	return raw
}

// groupIdentity are the read-only members of a group's patch document.
func groupIdentity(g *MetricGroup) []patch.Member {
	return []patch.Member{
		{Name: "_id", Value: g.ID}, {Name: "_version", Value: g.Version}, {Name: "_creationDate", Value: g.CreatedAt.UnixMilli()},
		{Name: "_lastModified", Value: g.UpdatedAt.UnixMilli()}, {Name: "key", Value: g.Key},
	}
}

func groupPatchDocument(g *MetricGroup) (map[string]json.RawMessage, error) {
	doc, err := patch.Document(g.Def)
	if err != nil {
		return nil, err
	}
	for _, m := range groupIdentity(g) {
		doc[m.Name], _ = json.Marshal(m.Value)
	}
	return doc, nil
}

func groupChange(p *Project, before, after *MetricGroup, delta []patch.Op, comment string, actions []action.Action) *audit.Change {
	return childChange(p, before, after, groupTarget, GroupDocument, delta, comment, actions, groupFieldActions, action.UpdateMetricGroupMetrics)
}

var groupFieldActions = map[string]action.Action{
	"name": action.UpdateMetricGroupName, "description": action.UpdateMetricGroupDescription,
	"tags": action.UpdateMetricGroupTags, "maintainerId": action.UpdateMetricGroupMaintainer,
	"maintainerTeamKey": action.UpdateMetricGroupMaintainer, "metrics": action.UpdateMetricGroupMetrics,
	"kind": action.UpdateMetricGroupKind,
}

// slugKey derives a key from a name: lower-case letters and digits, other
// runs of characters become one "-".
func slugKey(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 200 {
			break
		}
	}
	return b.String()
}

func normalizeGroup(d *GroupDef) {
	d.Name = strings.TrimSpace(d.Name)
	if d.Tags == nil {
		d.Tags = []string{}
	}
	d.Tags = core.Dedupe(d.Tags)
	if d.Metrics == nil {
		d.Metrics = []GroupMetricIn{}
	}
}

// groupMetrics reads, locked, the metrics a group definition names and
// returns them in group order, checked against the group's rules. The lock
// keeps them from being archived, changed or deleted until the write ends.
func groupMetrics(ctx context.Context, tx GroupTx, projectID string, d *GroupDef) ([]GroupMetric, error) {
	keys := make([]string, 0, len(d.Metrics))
	for _, m := range d.Metrics {
		keys = append(keys, m.Key)
	}
	found, err := tx.MetricsForShare(ctx, projectID, keys)
	if err != nil {
		return nil, err
	}
	metrics := make([]GroupMetric, 0, len(d.Metrics))
	for i, in := range d.Metrics {
		m, ok := found[in.Key]
		if !ok {
			return nil, groupInvalid(fmt.Sprintf("metrics[%d]", i), "metrics[%d]: no metric %q in this project", i, in.Key)
		}
		metrics = append(metrics, GroupMetric{Metric: *m, NameInGroup: in.NameInGroup})
	}
	return metrics, validateGroupMetrics(d.Kind, metrics)
}

// resolveMaintainer turns a maintainer given as {"key", "kind"} into
// maintainerId or maintainerTeamKey. On a create, naming the maintainer in
// both forms is allowed only when they agree; in a patch the object, when
// the patch set it, replaces the maintainer.
func resolveMaintainer(d *GroupDef, create bool) error {
	m := d.Maintainer
	if m == nil {
		return nil
	}
	d.Maintainer = nil
	if m.Key == "" {
		return groupInvalid("maintainer.key", "maintainer.key is required")
	}
	id, team := "", ""
	switch m.Kind {
	case "member":
		id = m.Key
	case "team":
		team = m.Key
	default:
		return groupInvalid("maintainer.kind", "maintainer.kind must be member or team")
	}
	if create && (d.MaintainerID != "" || d.MaintainerTeamKey != "") && (d.MaintainerID != id || d.MaintainerTeamKey != team) {
		return groupInvalid("maintainerId", "maintainer names a different maintainer than maintainerId or maintainerTeamKey; name it once")
	}
	d.MaintainerID, d.MaintainerTeamKey = id, team
	return nil
}

// groupInvalid is a KindInvalid error about one field of a group
// definition (core.Error.Field), so that a form can show it beside the
// field.
func groupInvalid(field, format string, args ...any) error {
	return core.FieldErrorf(core.KindInvalid, field, format, args...)
}

// validateGroupShape checks what needs no other resource.
func validateGroupShape(d *GroupDef) error {
	if d.Name == "" {
		return groupInvalid("name", "name is required")
	}
	if utf8.RuneCountInString(d.Name) > 256 {
		return groupInvalid("name", "name must be at most 256 characters")
	}
	if utf8.RuneCountInString(d.Description) > 4096 {
		return groupInvalid("description", "description must be at most 4096 characters")
	}
	switch d.Kind {
	case GroupFunnel, GroupStandard, GroupGuardrail:
	case "":
		return groupInvalid("kind", "kind is required")
	default:
		return groupInvalid("kind", "kind must be one of funnel, standard, guardrail")
	}
	if err := validateTags("tags", d.Tags); err != nil {
		return err
	}
	if d.MaintainerID != "" && d.MaintainerTeamKey != "" {
		return groupInvalid("maintainerId", "name either maintainerId or maintainerTeamKey, not both")
	}
	if d.MaintainerID == "" && d.MaintainerTeamKey == "" {
		return groupInvalid("maintainerId", "maintainerId is required")
	}
	if len(d.Metrics) < minGroupMetrics {
		return groupInvalid("metrics", "metrics must list at least %d metrics", minGroupMetrics)
	}
	if len(d.Metrics) > maxGroupMetrics {
		return groupInvalid("metrics", "metrics must list at most %d metrics", maxGroupMetrics)
	}
	seen := map[string]int{}
	for i, m := range d.Metrics {
		if m.Key == "" {
			return groupInvalid(fmt.Sprintf("metrics[%d].key", i), "metrics[%d].key is required", i)
		}
		if j, dup := seen[m.Key]; dup {
			return groupInvalid(fmt.Sprintf("metrics[%d]", i), "metrics[%d]: metric %q is already metrics[%d]", i, m.Key, j)
		}
		seen[m.Key] = i
		if d.Kind == GroupFunnel && strings.TrimSpace(m.NameInGroup) == "" {
			return groupInvalid(fmt.Sprintf("metrics[%d].nameInGroup", i), "metrics[%d].nameInGroup is required for each step of a funnel", i)
		}
		if utf8.RuneCountInString(m.NameInGroup) > 256 {
			return groupInvalid(fmt.Sprintf("metrics[%d].nameInGroup", i), "metrics[%d].nameInGroup must be at most 256 characters", i)
		}
	}
	return nil
}

// validateGroupMetrics checks the rules that depend on the metrics
// themselves: not archived, a shared randomization unit, and conversion
// metrics only in funnels.
func validateGroupMetrics(kind string, metrics []GroupMetric) error {
	var shared []string
	for i, m := range metrics {
		if m.Def.Archived {
			return groupInvalid(fmt.Sprintf("metrics[%d]", i), "metrics[%d]: metric %q is archived", i, m.Key)
		}
		if kind == GroupFunnel {
			if m.Def.IsNumeric {
				return groupInvalid(fmt.Sprintf("metrics[%d]", i), "metrics[%d]: funnel steps must be conversion metrics; %q is numeric", i, m.Key)
			}
			if m.Def.AnalysisType == "percentile" {
				return groupInvalid(fmt.Sprintf("metrics[%d]", i), "metrics[%d]: funnel steps cannot use percentile analysis; %q does", i, m.Key)
			}
		}
		if i == 0 {
			shared = slices.Clone(m.Def.RandomizationUnits)
			continue
		}
		shared = slices.DeleteFunc(shared, func(u string) bool { return !slices.Contains(m.Def.RandomizationUnits, u) })
		if len(shared) == 0 {
			return groupInvalid(fmt.Sprintf("metrics[%d]", i), "metrics[%d]: metric %q shares no randomization unit with the metrics before it", i, m.Key)
		}
	}
	return nil
}

// GetMetricGroup returns a group; expand may ask for experiments and
// experimentCount.
func (c *Groups) GetMetricGroup(ctx context.Context, projectKey, key string, expand ExpandSet) (*MetricGroup, []ExperimentRef, error) {
	p, err := projectByKey(ctx, c.store, projectKey)
	if err != nil {
		return nil, nil, err
	}
	g, err := c.store.GetMetricGroup(ctx, p.ID, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil, core.Errorf(core.KindNotFound, "unknown metric group %q in project %q", key, projectKey)
	}
	if err != nil || !expand[ExpandExperiments] {
		return g, nil, err
	}
	exps, err := c.store.GroupExperiments(ctx, g.ID)
	return g, exps, err
}

// ListMetricGroups returns one page of a project's groups and the total.
func (c *Groups) ListMetricGroups(ctx context.Context, projectKey string, q GroupQuery) ([]MetricGroup, int, error) {
	p, err := projectByKey(ctx, c.store, projectKey)
	if err != nil {
		return nil, 0, err
	}
	return c.store.ListMetricGroups(ctx, p.ID, q)
}

// DeleteMetricGroup removes a group that no experiment iteration or
// active guarded rollout uses; the error names what uses it.
func (c *Groups) DeleteMetricGroup(ctx context.Context, projectKey, key string) error {
	_, err := c.deleteGroup(ctx, projectKey, key, false)
	return err
}

// DeleteMetricGroupDryRun answers what DeleteMetricGroup would: the
// blockers that keep the group, deleting nothing.
func (c *Groups) DeleteMetricGroupDryRun(ctx context.Context, projectKey, key string) ([]Blocker, error) {
	return c.deleteGroup(ctx, projectKey, key, true)
}

func (c *Groups) deleteGroup(ctx context.Context, projectKey, key string, dry bool) ([]Blocker, error) {
	blockers := []Blocker{}
	err := c.store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
		p, cur, err := groupForUpdate(ctx, tx, projectKey, key)
		if err != nil {
			return nil, err
		}
		err = tx.DeleteMetricGroup(ctx, p.ID, key)
		var inUse *InUseError
		if errors.As(err, &inUse) {
			if dry {
				blockers = inUse.Blockers
				return nil, errDryRun
			}
			return nil, core.Errorf(core.KindConflict, "metric group %q is used by %s; remove it from them first", key, inUse.describe())
		}
		if err != nil {
			return nil, err
		}
		if dry {
			return nil, errDryRun
		}
		return groupChange(p, cur, nil, nil, "", []action.Action{action.DeleteMetricGroup}), nil
	})
	if errors.Is(err, errDryRun) {
		return blockers, nil
	}
	return nil, err
}

// groupForUpdate resolves a project and locks one of its groups.
func groupForUpdate(ctx context.Context, tx Tx, projectKey, key string) (*Project, *MetricGroup, error) {
	p, err := projectIn(ctx, tx, projectKey)
	if err != nil {
		return nil, nil, err
	}
	g, err := tx.GroupForUpdate(ctx, p.ID, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil, core.Errorf(core.KindNotFound, "unknown metric group %q in project %q", key, projectKey)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := core.CheckIfMatch(ctx, g.VersionToken()); err != nil {
		return nil, nil, err
	}
	return p, g, nil
}

// VersionToken names the version of the group a representation shows: its
// ID and version number. Conditional requests compare it
// (core.CheckIfMatch).
func (g *MetricGroup) VersionToken() string { return g.ID + "-" + strconv.Itoa(g.Version) }

// PatchMetricGroup applies a JSON Patch to a group, validates the result
// like a create and stores it as the next version.
func (c *Groups) PatchMetricGroup(ctx context.Context, projectKey, key string, body []byte) (*MetricGroup, error) {
	g, _, err := c.patchGroup(ctx, projectKey, key, body, false)
	return g, err
}

// PatchMetricGroupDryRun validates and applies a patch like
// PatchMetricGroup and answers with the group it would store and what the
// edit would affect, storing nothing.
func (c *Groups) PatchMetricGroupDryRun(ctx context.Context, projectKey, key string, body []byte) (*MetricGroup, *Impact, error) {
	return c.patchGroup(ctx, projectKey, key, body, true)
}

func (c *Groups) patchGroup(ctx context.Context, projectKey, key string, body []byte, dry bool) (*MetricGroup, *Impact, error) {
	ops, comment, err := patch.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	var out *MetricGroup
	var impact *Impact
	settle := func(ctx context.Context, tx Tx, groupID string, change *audit.Change) (*audit.Change, error) {
		if !dry {
			return change, nil
		}
		var err error
		if impact, err = tx.GroupImpact(ctx, groupID); err != nil {
			return nil, err
		}
		return nil, errDryRun
	}
	err = retryOnDuplicate(func() error {
		return c.store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
			p, cur, err := groupForUpdate(ctx, tx, projectKey, key)
			if err != nil {
				return nil, err
			}
			doc, err := groupPatchDocument(cur)
			if err != nil {
				return nil, err
			}
			var def GroupDef
			if err := patch.Apply(doc, groupReadOnly, ops, &def); err != nil {
				return nil, err
			}
			normalizeGroup(&def)
			if err := resolveMaintainer(&def, false); err != nil {
				return nil, err
			}
			if reflect.DeepEqual(def, cur.Def) {
				out = cur
				if err := enforceNoOp(ctx, groupTarget(p.Key, cur).Spec, ops, groupFieldActions, action.UpdateMetricGroupMetrics); err != nil {
					return nil, err
				}
				return settle(ctx, tx, cur.ID, nil)
			}
			if err := validateGroupShape(&def); err != nil {
				return nil, err
			}
			metrics, err := groupMetrics(ctx, tx, cur.ProjectID, &def)
			if err != nil {
				return nil, err
			}
			next := *cur
			next.Def, next.Metrics = def, metrics
			next.Version, next.UpdatedAt = cur.Version+1, c.now()
			if err := tx.UpdateMetricGroup(ctx, &next, cur.Version); err != nil {
				return nil, groupWriteError(err, projectKey)
			}
			if out, err = tx.GroupForUpdate(ctx, p.ID, key); err != nil {
				return nil, err
			}
			return settle(ctx, tx, cur.ID, groupChange(p, cur, out, ops, comment, nil))
		})
	})
	if errors.Is(err, errDryRun) {
		return out, impact, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// checkMetricInGroups re-checks the groups containing a metric with its
// proposed definition: a metric in a group cannot be archived, and must keep
// satisfying each group's rules.
func checkMetricInGroups(ctx context.Context, tx MetricTx, cur *Metric, def MetricDef) error {
	groups, err := tx.GroupsOfMetric(ctx, cur.ID)
	if err != nil || len(groups) == 0 {
		return err
	}
	var keys []string
	for _, g := range groups {
		keys = append(keys, g.Key)
	}
	if def.Archived && !cur.Def.Archived {
		return core.Errorf(core.KindConflict, "metric %q is in metric groups %s; remove it from them before archiving it", cur.Key, strings.Join(keys, ", "))
	}
	for _, g := range groups {
		ms := slices.Clone(g.Metrics)
		for i := range ms {
			if ms[i].ID == cur.ID {
				ms[i].Def = def
			}
		}
		if err := validateGroupMetrics(g.Def.Kind, ms); err != nil {
			return invalid("the change would break metric group %q: %s", g.Key, err.Error())
		}
	}
	return nil
}
