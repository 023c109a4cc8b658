package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/filter"
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
func (c *Catalog) CreateMetricGroup(ctx context.Context, projectKey string, in MetricGroupPost) (*MetricGroup, error) {
	p, err := c.project(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	def := in.GroupDef
	if p := core.PrincipalFrom(ctx); def.MaintainerID == "" && def.MaintainerTeamKey == "" && p.MemberID != "" {
		def.MaintainerID = p.MemberID
	}
	normalizeGroup(&def)
	deriveKey := in.Key == ""
	key := in.Key
	if deriveKey {
		if key, err = deriveGroupKey(def.Name); err != nil {
			return nil, err
		}
	} else if err := ValidateKey("key", key); err != nil {
		return nil, err
	}
	metrics, err := c.checkGroup(ctx, p.ID, &def)
	if err != nil {
		return nil, err
	}
	now := c.now()
	g := &MetricGroup{ID: uuid.NewString(), ProjectID: p.ID, ProjectKey: p.Key, Key: key, Version: 1, CreatedAt: now, UpdatedAt: now, Def: def, Metrics: metrics}
	// A derived key takes the first free suffix; the unique index decides.
	for attempt := 2; ; attempt++ {
		err = c.store.CreateMetricGroup(ctx, g)
		if !errors.Is(err, core.ErrDuplicate) {
			break
		}
		_, gerr := c.store.GetMetricGroup(ctx, p.ID, g.Key)
		if errors.Is(gerr, core.ErrNotFound) {
			// The key is free, so the other unique rule refused the row.
			return nil, core.Errorf(core.KindConflict, "project %q already has a guardrail metric group", projectKey)
		}
		if gerr != nil {
			return nil, gerr
		}
		if !deriveKey || attempt > 100 {
			return nil, core.Errorf(core.KindConflict, "a metric group with key %q already exists in project %q", g.Key, projectKey)
		}
		g.Key = fmt.Sprintf("%s-%d", key, attempt)
	}
	if err != nil {
		return nil, groupWriteError(err)
	}
	return c.store.GetMetricGroup(ctx, p.ID, g.Key)
}

func groupWriteError(err error) error {
	if errors.Is(err, core.ErrReference) {
		return invalid("a metric or the maintainer of the group no longer exists; retry with current data")
	}
	return err
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
	d.Tags = dedupe(d.Tags)
	if d.Metrics == nil {
		d.Metrics = []GroupMetricIn{}
	}
}

// checkGroup validates a group definition against the project's metrics
// and returns them in group order.
func (c *Catalog) checkGroup(ctx context.Context, projectID string, d *GroupDef) ([]GroupMetric, error) {
	if err := validateGroupShape(d); err != nil {
		return nil, err
	}
	if d.MaintainerID != "" {
		if err := c.checkMaintainer(ctx, d.MaintainerID); err != nil {
			return nil, err
		}
	}
	if d.MaintainerTeamKey != "" {
		ok, err := c.store.TeamExists(ctx, d.MaintainerTeamKey)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalid("maintainerTeamKey %q does not name a team", d.MaintainerTeamKey)
		}
	}
	keys := make([]string, 0, len(d.Metrics))
	for _, m := range d.Metrics {
		keys = append(keys, m.Key)
	}
	found, err := c.store.MetricsByKey(ctx, projectID, keys)
	if err != nil {
		return nil, err
	}
	metrics := make([]GroupMetric, 0, len(d.Metrics))
	for i, in := range d.Metrics {
		m, ok := found[in.Key]
		if !ok {
			return nil, invalid("metrics[%d]: no metric %q in this project", i, in.Key)
		}
		metrics = append(metrics, GroupMetric{Metric: *m, NameInGroup: in.NameInGroup})
	}
	return metrics, validateGroupMetrics(d.Kind, metrics)
}

// validateGroupShape checks what needs no other resource.
func validateGroupShape(d *GroupDef) error {
	if d.Name == "" {
		return invalid("name is required")
	}
	if utf8.RuneCountInString(d.Name) > 256 {
		return invalid("name must be at most 256 characters")
	}
	if utf8.RuneCountInString(d.Description) > 4096 {
		return invalid("description must be at most 4096 characters")
	}
	switch d.Kind {
	case GroupFunnel, GroupStandard, GroupGuardrail:
	case "":
		return invalid("kind is required")
	default:
		return invalid("kind must be one of funnel, standard, guardrail")
	}
	if err := validateTags("tags", d.Tags); err != nil {
		return err
	}
	if d.MaintainerID != "" && d.MaintainerTeamKey != "" {
		return invalid("name either maintainerId or maintainerTeamKey, not both")
	}
	if d.MaintainerID == "" && d.MaintainerTeamKey == "" {
		return invalid("maintainerId is required")
	}
	if len(d.Metrics) < minGroupMetrics {
		return invalid("metrics must list at least %d metrics", minGroupMetrics)
	}
	if len(d.Metrics) > maxGroupMetrics {
		return invalid("metrics must list at most %d metrics", maxGroupMetrics)
	}
	seen := map[string]int{}
	for i, m := range d.Metrics {
		if m.Key == "" {
			return invalid("metrics[%d].key is required", i)
		}
		if j, dup := seen[m.Key]; dup {
			return invalid("metrics[%d]: metric %q is already metrics[%d]", i, m.Key, j)
		}
		seen[m.Key] = i
		if d.Kind == GroupFunnel && strings.TrimSpace(m.NameInGroup) == "" {
			return invalid("metrics[%d].nameInGroup is required for each step of a funnel", i)
		}
		if utf8.RuneCountInString(m.NameInGroup) > 256 {
			return invalid("metrics[%d].nameInGroup must be at most 256 characters", i)
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
			return invalid("metrics[%d]: metric %q is archived", i, m.Key)
		}
		if kind == GroupFunnel {
			if m.Def.IsNumeric {
				return invalid("metrics[%d]: funnel steps must be conversion metrics; %q is numeric", i, m.Key)
			}
			if m.Def.AnalysisType == "percentile" {
				return invalid("metrics[%d]: funnel steps cannot use percentile analysis; %q does", i, m.Key)
			}
		}
		if i == 0 {
			shared = slices.Clone(m.Def.RandomizationUnits)
			continue
		}
		shared = slices.DeleteFunc(shared, func(u string) bool { return !slices.Contains(m.Def.RandomizationUnits, u) })
		if len(shared) == 0 {
			return invalid("metrics[%d]: metric %q shares no randomization unit with the metrics before it", i, m.Key)
		}
	}
	return nil
}

// GetMetricGroup returns a group; expand may ask for experiments and
// experimentCount.
func (c *Catalog) GetMetricGroup(ctx context.Context, projectKey, key string, expand ExpandSet) (*MetricGroup, []ExperimentRef, error) {
	p, err := c.project(ctx, projectKey)
	if err != nil {
		return nil, nil, err
	}
	g, err := c.store.GetMetricGroup(ctx, p.ID, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil, core.Errorf(core.KindNotFound, "unknown metric group %q in project %q", key, projectKey)
	}
	if err != nil || !expand["experiments"] {
		return g, nil, err
	}
	exps, err := c.store.GroupExperiments(ctx, g.ID)
	return g, exps, err
}

// ParseGroupExpand parses expand for a single group read.
func ParseGroupExpand(s string) (ExpandSet, error) {
	return ParseExpand(s, []string{"experiments", "experimentCount"})
}

// ListMetricGroups returns one page of a project's groups and the total.
func (c *Catalog) ListMetricGroups(ctx context.Context, projectKey string, q GroupQuery) ([]MetricGroup, int, error) {
	p, err := c.project(ctx, projectKey)
	if err != nil {
		return nil, 0, err
	}
	return c.store.ListMetricGroups(ctx, p.ID, q)
}

// DeleteMetricGroup removes a group that no experiment or rollout uses.
func (c *Catalog) DeleteMetricGroup(ctx context.Context, projectKey, key string) error {
	p, err := c.project(ctx, projectKey)
	if err != nil {
		return err
	}
	err = c.store.DeleteMetricGroup(ctx, p.ID, key)
	var inUse *InUseError
	switch {
	case errors.Is(err, core.ErrNotFound):
		return core.Errorf(core.KindNotFound, "unknown metric group %q in project %q", key, projectKey)
	case errors.As(err, &inUse):
		return core.Errorf(core.KindConflict, "metric group %q is used by %s; remove it from them first", key, strings.Join(inUse.Users, ", "))
	}
	return err
}

// PatchMetricGroup applies a JSON Patch to a group, validates the result
// like a create and stores it as the next version.
func (c *Catalog) PatchMetricGroup(ctx context.Context, projectKey, key string, body []byte) (*MetricGroup, error) {
	ops, _, err := ParsePatch(body)
	if err != nil {
		return nil, err
	}
	cur, _, err := c.GetMetricGroup(ctx, projectKey, key, nil)
	if err != nil {
		return nil, err
	}
	doc, err := editableDocument(cur.Def)
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]any{
		"_id": cur.ID, "_version": cur.Version, "_creationDate": cur.CreatedAt.UnixMilli(),
		"_lastModified": cur.UpdatedAt.UnixMilli(), "key": cur.Key,
	} {
		b, _ := json.Marshal(v)
		doc[k] = b
	}
	var def GroupDef
	if err := applyPatch(doc, groupReadOnly, ops, &def); err != nil {
		return nil, err
	}
	normalizeGroup(&def)
	if reflect.DeepEqual(def, cur.Def) {
		return cur, nil
	}
	metrics, err := c.checkGroup(ctx, cur.ProjectID, &def)
	if err != nil {
		return nil, err
	}
	next := *cur
	next.Def, next.Metrics = def, metrics
	next.Version, next.UpdatedAt = cur.Version+1, c.now()
	err = c.store.UpdateMetricGroup(ctx, &next, cur.Version)
	switch {
	case errors.Is(err, core.ErrStale):
		return nil, core.Errorf(core.KindConflict, "metric group %q was changed by another request; fetch it and retry", key)
	case errors.Is(err, core.ErrDuplicate) && def.Kind == GroupGuardrail:
		return nil, core.Errorf(core.KindConflict, "project %q already has a guardrail metric group", projectKey)
	case err != nil:
		return nil, groupWriteError(err)
	}
	return c.store.GetMetricGroup(ctx, cur.ProjectID, cur.Key)
}

// checkMetricInGroups re-checks the groups containing a metric with its
// proposed definition: a metric in a group cannot be archived, and must keep
// satisfying each group's rules.
func (c *Catalog) checkMetricInGroups(ctx context.Context, cur *Metric, def MetricDef) error {
	if cur.Usage.MetricGroupCount == 0 {
		return nil
	}
	groups, err := c.store.GroupsOfMetric(ctx, cur.ID)
	if err != nil {
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

var groupFilterSpec = filter.Spec{
	"query":             {"equals"},
	"kind":              {"equals"},
	"hasConnections":    {"equals"},
	"experimentStatus":  {"equals"},
	"maintainerIds":     {"anyOf"},
	"maintainerTeamKey": {"equals"},
}

// ParseGroupQuery reads the list parameters of the metric groups endpoint.
func ParseGroupQuery(limit, offset, sort, filterText string) (GroupQuery, error) {
	var q GroupQuery
	page, err := ParsePage(limit, offset, DefaultMetricLimit, MaxMetricLimit)
	if err != nil {
		return q, err
	}
	q.Page = page
	if q.Sort, err = ParseSort(sort, "name", "createdAt", "connectionCount"); err != nil {
		return q, err
	}
	expr, err := filter.Parse(filterText)
	if err != nil {
		return q, invalid("%s", err.Error())
	}
	if err := expr.Check(groupFilterSpec); err != nil {
		return q, invalid("%s", err.Error())
	}
	seen := map[string]bool{}
	for _, cl := range expr.Clauses {
		if seen[cl.Field] && cl.Field != "query" {
			return q, invalid("%s", (&filter.Error{Pos: cl.FieldPos, Msg: fmt.Sprintf("field %q may appear only once", cl.Field)}).Error())
		}
		seen[cl.Field] = true
		if err := applyGroupClause(&q, cl); err != nil {
			return q, invalid("%s", err.Error())
		}
	}
	return q, nil
}

func applyGroupClause(q *GroupQuery, cl filter.Clause) error {
	v := cl.Value
	var err error
	switch cl.Field {
	case "query":
		var s []string
		if s, err = v.AsStrings(); err == nil {
			q.Queries = append(q.Queries, s)
		}
	case "kind":
		q.Kind, err = v.OneOf(GroupFunnel, GroupStandard, GroupGuardrail)
	case "hasConnections":
		var b bool
		if b, err = v.AsBool(); err == nil {
			q.HasConnections = &b
		}
	case "experimentStatus":
		q.ExperimentStatus, err = v.OneOf("not_started", "running", "stopped", "started")
	case "maintainerIds":
		q.MaintainerIDs, err = v.AsStrings()
	case "maintainerTeamKey":
		q.MaintainerTeamKey, err = v.AsString()
	}
	return err
}
