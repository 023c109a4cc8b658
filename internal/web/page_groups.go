package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// The metric groups' pages: the list, a group's page, and its delete
// confirmation. The editor is in page_group_edit.go.

// groupsPath is the UI path of a project's groups, groupPath of one.
func groupsPath(projectKey string) string {
	return "/projects/" + url.PathEscape(projectKey) + "/metric-groups"
}

func groupPath(projectKey, key string) string {
	return groupsPath(projectKey) + "/" + url.PathEscape(key)
}

// groupListLimit is the number of groups a list page shows.
const groupListLimit = 20

// groupListData is the groups list's data.
type groupListData struct {
	Project string
	Groups  []catalog.MetricGroup
	Pager   pager
	// Q searches keys and names, Kind narrows to one kind; both stay in
	// the URL with Sort.
	Q, Kind, Sort, Used string
	Kinds, Sorts, Uses  []sortOption
	CanCreate           bool
}

func (d groupListData) PageTitle() string { return "Metric groups · " + d.Project }

func groupKinds() []sortOption {
	return []sortOption{{"", "Any kind"}, {catalog.GroupFunnel, "Funnel"}, {catalog.GroupStandard, "Standard"}, {catalog.GroupGuardrail, "Guardrail"}}
}

// groupUses are the choices of the "used" filter (the API's
// hasConnections).
func groupUses() []sortOption {
	return []sortOption{{"", "Used or not"}, {"true", "Used by experiments or rollouts"}, {"false", "Not used"}}
}

func groupSorts() []sortOption {
	return []sortOption{{"", "Name A–Z"}, {"-name", "Name Z–A"}, {"-createdAt", "Newest first"}, {"createdAt", "Oldest first"}, {"-connectionCount", "Most used first"}}
}

// validOption reports whether v is one of the options' values.
func validOption(v string, opts []sortOption) bool {
	for _, o := range opts {
		if o.Value == v {
			return true
		}
	}
	return false
}

// newGroupSpec is the resource a create is checked against before the key
// is known.
func newGroupSpec(projectKey string) resource.Spec { return resource.MetricGroup(projectKey, "*", nil) }

// groupList shows one page of a project's groups, read with the catalog's
// list query (search, kind, sort, limit and offset in SQL).
func (u *UI) groupList(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("projectKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	in := r.URL.Query()
	d := groupListData{Project: project, Q: strings.TrimSpace(in.Get("q")), Kind: in.Get("kind"), Sort: in.Get("sort"), Used: in.Get("used"),
		Kinds: groupKinds(), Sorts: groupSorts(), Uses: groupUses(), CanCreate: can(r.Context(), action.CreateMetricGroup, newGroupSpec(project))}
	if !validOption(d.Kind, d.Kinds) {
		return core.Errorf(core.KindInvalid, "kind must be one of funnel, standard, guardrail")
	}
	if !validOption(d.Sort, d.Sorts) {
		return core.Errorf(core.KindInvalid, "sort must be one of name, -name, createdAt, -createdAt, -connectionCount")
	}
	if !validOption(d.Used, d.Uses) {
		return core.Errorf(core.KindInvalid, "used must be true or false")
	}
	offset, err := parseOffset(in.Get("offset"))
	if err != nil {
		return err
	}
	q := catalog.GroupQuery{Page: core.Page{Limit: groupListLimit, Offset: offset}, Kind: d.Kind}
	if d.Q != "" {
		q.Queries = [][]string{{d.Q}}
	}
	if d.Used != "" {
		used := d.Used == "true"
		q.HasConnections = &used
	}
	sort := d.Sort
	if sort == "" {
		sort = "name"
	}
	q.Sort = []core.SortKey{{Field: strings.TrimPrefix(sort, "-"), Desc: strings.HasPrefix(sort, "-")}}
	groups, total, err := u.svc.Groups.ListMetricGroups(r.Context(), project, q)
	if err != nil {
		return err
	}
	keep := url.Values{}
	for _, k := range []string{"q", "kind", "used", "sort"} {
		if v := in.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	d.Groups = groups
	d.Pager = newPager(r.URL.Path, keep, total, offset, groupListLimit)
	u.render(w, r, http.StatusOK, "groups", d)
	return nil
}

// groupData is a group's page's data.
type groupData struct {
	Project     string
	Group       *catalog.MetricGroup
	Experiments []catalog.ExperimentRef
	// CanEdit: the principal may change some part of the group the editor
	// edits; CanDelete: may delete it.
	CanEdit, CanDelete bool
}

func (d groupData) PageTitle() string { return d.Group.Def.Name + " · Metric groups" }

// canEditGroup reports whether the principal in ctx may change any part of
// g that the editor edits.
func canEditGroup(ctx context.Context, g *catalog.MetricGroup) bool {
	spec := resource.MetricGroup(g.ProjectKey, g.Key, g.Def.Tags)
	for _, a := range []action.Action{action.UpdateMetricGroupName, action.UpdateMetricGroupDescription, action.UpdateMetricGroupTags,
		action.UpdateMetricGroupMetrics, action.UpdateMetricGroupKind} {
		if can(ctx, a, spec) {
			return true
		}
	}
	return false
}

// parseOffset reads a list's offset parameter.
func parseOffset(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxListOffset {
		return 0, core.Errorf(core.KindInvalid, "offset must be an integer between 0 and %d", maxListOffset)
	}
	return n, nil
}

// maxListOffset bounds the offsets of the UI's own lists.
const maxListOffset = 1_000_000

// groupPage shows a group: its kind, its metrics in order and what uses it.
func (u *UI) groupPage(w http.ResponseWriter, r *http.Request) error {
	project, key := r.PathValue("projectKey"), r.PathValue("groupKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	g, exps, err := u.svc.Groups.GetMetricGroup(r.Context(), project, key, catalog.ExpandSet{catalog.ExpandExperiments: true})
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "group", groupData{Project: project, Group: g, Experiments: exps, CanEdit: canEditGroup(r.Context(), g),
		CanDelete: can(r.Context(), action.DeleteMetricGroup, resource.MetricGroup(project, g.Key, g.Def.Tags))})
	return nil
}

// groupDeleteData is the delete confirmation's data.
type groupDeleteData struct {
	Project  string
	Group    *catalog.MetricGroup
	Blockers []catalog.Blocker
}

func (d groupDeleteData) PageTitle() string {
	return "Delete " + d.Group.Def.Name + " · Metric groups"
}

// groupDeleteForm shows what keeps a group from being deleted (the
// catalog's dry run), or asks to confirm when nothing does.
func (u *UI) groupDeleteForm(w http.ResponseWriter, r *http.Request) error {
	project, key := r.PathValue("projectKey"), r.PathValue("groupKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	g, _, err := u.svc.Groups.GetMetricGroup(r.Context(), project, key, nil)
	if err != nil {
		return err
	}
	if !can(r.Context(), action.DeleteMetricGroup, resource.MetricGroup(project, g.Key, g.Def.Tags)) {
		return forbidden("you may not delete metric group %q", key)
	}
	blockers, err := u.svc.Groups.DeleteMetricGroupDryRun(r.Context(), project, key)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "group_delete", groupDeleteData{Project: project, Group: g, Blockers: blockers})
	return nil
}

// groupDelete deletes a group through the catalog, which refuses a
// principal that may not and a group still in use.
func (u *UI) groupDelete(w http.ResponseWriter, r *http.Request) error {
	project, key := r.PathValue("projectKey"), r.PathValue("groupKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	if err := u.svc.Groups.DeleteMetricGroup(r.Context(), project, key); err != nil {
		return err
	}
	setFlash(w, r, "Metric group "+key+" was deleted.")
	http.Redirect(w, r, groupsPath(project), http.StatusSeeOther)
	return nil
}
