package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// The metric group editor: one form for a new group and for an edit. All of
// its state is in the form (the steps as repeated step/stepName fields, in
// order), so that without JavaScript every button — move up, move down,
// remove, add from the picker, the picker's search and pages — posts the form
// and gets it back changed; only "Save" writes, through the catalog's
// CreateMetricGroup or PatchMetricGroup, whose messages are shown next to
// the field they are about. static/group-editor.js does the moves in the
// page instead (drag and drop, and the keyboard), with announcements.

// pickerLimit is the number of metrics the picker shows at a time.
const pickerLimit = 8

// groupStep is one metric of the group being edited.
type groupStep struct {
	Key, Name string
	// Pos is the 1-based position shown.
	Pos   int
	Error string
}

// groupForm is the editor's data.
type groupForm struct {
	Project string
	// Editing is the key of the group edited, "" for a new group.
	Editing                            string
	Version                            int
	Key, Name, Kind, Description, Tags string
	Steps                              []groupStep
	// Errors are the server's messages by field (key, name, kind,
	// description, tags, steps); Error one about no field.
	Errors map[string]string
	Error  string
	// Announce says what the last button did, in the live region; Focus
	// is the op value of the button to focus on the new page (the moved
	// step's same button), "pq" for the picker's search.
	Announce, Focus string
	// The picker: its search, one page of metrics, and its paging.
	PickQ              string
	Picks              []catalog.Metric
	PickTotal, PickOff int
	PickPrev, PickNext int // -1 at the ends
	PickError          string
}

func (d *groupForm) PageTitle() string {
	if d.Editing != "" {
		return "Edit " + d.Editing + " · Metric groups"
	}
	return "New metric group · Metric groups"
}

// Action is the form's target.
func (d *groupForm) Action() string {
	if d.Editing != "" {
		return groupPath(d.Project, d.Editing) + "/edit"
	}
	return groupsPath(d.Project) + "/_new"
}

// HasStep reports whether the metric key is a step already.
func (d *groupForm) HasStep(key string) bool {
	return slices.ContainsFunc(d.Steps, func(s groupStep) bool { return s.Key == key })
}

// groupKindChoices are the kinds the editor offers.
func groupKindChoices() []sortOption {
	return []sortOption{{catalog.GroupFunnel, "Funnel: ordered steps, conversion metrics only"}, {catalog.GroupStandard, "Standard: metrics analysed together"}}
}

// KindChoices are the kinds the editor offers; a group of another kind
// (guardrail) keeps its own.
func (d *groupForm) KindChoices() []sortOption {
	opts := groupKindChoices()
	if !validOption(d.Kind, opts) && d.Kind != "" {
		opts = append(opts, sortOption{d.Kind, d.Kind})
	}
	return opts
}

// groupNewForm shows the editor for a new funnel.
func (u *UI) groupNewForm(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("projectKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	if !can(r.Context(), action.CreateMetricGroup, newGroupSpec(project)) {
		return forbidden("you may not create metric groups in project %q", project)
	}
	d := &groupForm{Project: project, Kind: catalog.GroupFunnel, Errors: map[string]string{}}
	return u.renderGroupForm(w, r, http.StatusOK, d)
}

// groupEditForm shows the editor for a group.
func (u *UI) groupEditForm(w http.ResponseWriter, r *http.Request) error {
	project, key := r.PathValue("projectKey"), r.PathValue("groupKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	g, _, err := u.svc.Groups.GetMetricGroup(r.Context(), project, key, nil)
	if err != nil {
		return err
	}
	if !canEditGroup(r.Context(), g) {
		return forbidden("you may not change metric group %q", key)
	}
	d := &groupForm{Project: project, Editing: g.Key, Version: g.Version, Key: g.Key, Name: g.Def.Name, Kind: g.Def.Kind,
		Description: g.Def.Description, Tags: strings.Join(g.Def.Tags, ", "), Errors: map[string]string{}}
	for _, m := range g.Metrics {
		d.Steps = append(d.Steps, groupStep{Key: m.Key, Name: m.NameInGroup})
	}
	return u.renderGroupForm(w, r, http.StatusOK, d)
}

// renderGroupForm fills the picker and shows the editor.
func (u *UI) renderGroupForm(w http.ResponseWriter, r *http.Request, status int, d *groupForm) error {
	filter := metricListFilter(d.PickQ, "")
	if d.Kind == catalog.GroupFunnel {
		filter = metricListFilter(d.PickQ, "isNumeric equals false")
	}
	q, err := u.parseQ(strconv.Itoa(pickerLimit), strconv.Itoa(d.PickOff), "name", filter)
	if err != nil {
		return err
	}
	picks, total, err := u.svc.Metrics.ListMetrics(r.Context(), d.Project, q)
	if err != nil {
		return err
	}
	for i := range d.Steps {
		d.Steps[i].Pos = i + 1
	}
	d.Picks, d.PickTotal, d.PickPrev, d.PickNext = picks, total, -1, -1
	if d.PickOff > 0 {
		d.PickPrev = max(0, d.PickOff-pickerLimit)
	}
	if d.PickOff+pickerLimit < total {
		d.PickNext = d.PickOff + pickerLimit
	}
	u.render(w, r, status, "group_edit", d)
	return nil
}

// readGroupForm reads the editor's fields from a posted form.
func readGroupForm(r *http.Request, project, editing string) (*groupForm, error) {
	if err := r.ParseForm(); err != nil {
		return nil, core.Errorf(core.KindInvalid, "the form could not be read")
	}
	f := r.PostForm
	d := &groupForm{Project: project, Editing: editing, Key: strings.TrimSpace(f.Get("key")), Name: f.Get("name"), Kind: f.Get("kind"),
		Description: f.Get("description"), Tags: f.Get("tags"), PickQ: strings.TrimSpace(f.Get("pq")), Errors: map[string]string{}}
	if editing != "" {
		d.Key = editing
		v, err := strconv.Atoi(f.Get("version"))
		if err != nil || v < 1 {
			return nil, core.Errorf(core.KindInvalid, "the form has no valid version; open the editor again")
		}
		d.Version = v
	}
	if off := f.Get("poff"); off != "" {
		n, err := parseOffset(off)
		if err != nil {
			return nil, err
		}
		d.PickOff = n
	}
	keys, names := f["step"], f["stepName"]
	if len(keys) != len(names) {
		return nil, core.Errorf(core.KindInvalid, "the form's steps are incomplete; open the editor again")
	}
	if len(keys) > 200 {
		return nil, core.Errorf(core.KindInvalid, "a metric group has at most 50 metrics")
	}
	for i := range keys {
		d.Steps = append(d.Steps, groupStep{Key: keys[i], Name: names[i]})
	}
	return d, nil
}

// groupFormPost handles every button of the editor.
func (u *UI) groupFormPost(w http.ResponseWriter, r *http.Request) error {
	project, editing := r.PathValue("projectKey"), r.PathValue("groupKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	d, err := readGroupForm(r, project, editing)
	if err != nil {
		return err
	}
	op, arg, _ := strings.Cut(r.PostForm.Get("op"), ":")
	switch op {
	case "save":
		return u.saveGroup(w, r, d)
	case "up", "down", "remove":
		i, err := strconv.Atoi(arg)
		if err != nil || i < 0 || i >= len(d.Steps) {
			return core.Errorf(core.KindInvalid, "there is no step %q", arg)
		}
		d.Announce = moveStep(d, op, i)
		d.Focus = "pq"
		if op == "up" && i > 0 {
			d.Focus = fmt.Sprintf("up:%d", i-1)
		} else if op == "down" && i < len(d.Steps)-1 {
			d.Focus = fmt.Sprintf("down:%d", i+1)
		} else if op != "remove" {
			d.Focus = op + ":" + arg
		}
	case "add":
		if err := u.addStep(r, d, arg); err != nil {
			return err
		}
		d.Focus = "pq"
	case "pick":
		n, err := parseOffset(arg)
		if err != nil {
			return err
		}
		d.PickOff, d.Focus = n, "pq"
	case "search":
		d.PickOff, d.Focus = 0, "pq"
	case "refresh", "":
		// Enter in a field: the form again, as it was, picker search applied.
		d.PickOff = 0
	default:
		return core.Errorf(core.KindInvalid, "unknown button %q", op)
	}
	return u.renderGroupForm(w, r, http.StatusOK, d)
}

// moveStep moves or removes step i and says what it did.
func moveStep(d *groupForm, op string, i int) string {
	s := d.Steps[i]
	label := s.Name
	if label == "" {
		label = s.Key
	}
	switch op {
	case "up":
		if i == 0 {
			return label + " is already the first step."
		}
		d.Steps[i-1], d.Steps[i] = d.Steps[i], d.Steps[i-1]
		return fmt.Sprintf("Moved %s to position %d of %d.", label, i, len(d.Steps))
	case "down":
		if i == len(d.Steps)-1 {
			return label + " is already the last step."
		}
		d.Steps[i+1], d.Steps[i] = d.Steps[i], d.Steps[i+1]
		return fmt.Sprintf("Moved %s to position %d of %d.", label, i+2, len(d.Steps))
	}
	d.Steps = slices.Delete(d.Steps, i, i+1)
	return fmt.Sprintf("Removed %s.", label)
}

// addStep appends the metric key as a step labelled with its name.
func (u *UI) addStep(r *http.Request, d *groupForm, key string) error {
	if d.HasStep(key) {
		d.Announce = key + " is already a step."
		return nil
	}
	m, _, err := u.svc.Metrics.GetMetric(r.Context(), d.Project, key, "", nil)
	if core.KindOf(err) == core.KindNotFound {
		d.PickError = fmt.Sprintf("There is no metric %q in this project.", key)
		return nil
	}
	if err != nil {
		return err
	}
	d.Steps = append(d.Steps, groupStep{Key: m.Key, Name: m.Def.Name})
	d.Announce = fmt.Sprintf("Added %s as step %d.", m.Def.Name, len(d.Steps))
	return nil
}

// groupInput is the group definition the form describes.
func (d *groupForm) groupInput() catalog.GroupDef {
	def := catalog.GroupDef{Name: d.Name, Kind: d.Kind, Description: d.Description, Tags: splitTags(d.Tags), Metrics: []catalog.GroupMetricIn{}}
	for _, s := range d.Steps {
		def.Metrics = append(def.Metrics, catalog.GroupMetricIn{Key: s.Key, NameInGroup: s.Name})
	}
	return def
}

// splitTags reads a comma-separated tag list.
func splitTags(s string) []string {
	tags := []string{}
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// saveGroup writes the group through the catalog; its refusals come back
// as the editor with the message next to its field.
func (u *UI) saveGroup(w http.ResponseWriter, r *http.Request, d *groupForm) error {
	def := d.groupInput()
	var g *catalog.MetricGroup
	var err error
	if d.Editing == "" {
		g, err = u.svc.Groups.CreateMetricGroup(r.Context(), d.Project, catalog.MetricGroupPost{Key: d.Key, GroupDef: def})
	} else {
		var body []byte
		if body, err = groupPatch(d.Version, def); err == nil {
			g, err = u.svc.Groups.PatchMetricGroup(r.Context(), d.Project, d.Editing, body)
		}
	}
	if err != nil {
		switch core.KindOf(err) {
		case core.KindConflict:
			d.Error = err.Error()
			if strings.Contains(d.Error, "already exists") {
				d.Errors["key"], d.Error = d.Error, ""
			} else if d.Editing != "" && strings.HasPrefix(d.Error, "patch test failed") {
				d.Error = "Someone changed this group since you opened the editor (" + d.Error + "). Open it again to see their change."
			}
			return u.renderGroupForm(w, r, http.StatusConflict, d)
		case core.KindInvalid:
			placeGroupError(d, err)
			return u.renderGroupForm(w, r, http.StatusBadRequest, d)
		}
		return err
	}
	if d.Editing == "" {
		setFlash(w, r, "Metric group "+g.Key+" was created.")
	} else {
		setFlash(w, r, "Metric group "+g.Key+" was saved.")
	}
	http.Redirect(w, r, groupPath(d.Project, g.Key), http.StatusSeeOther)
	return nil
}

// groupPatch is the JSON Patch an edit sends: a test of the version the
// editor was opened on, so that a concurrent edit is reported rather than
// overwritten, and a replace of every field the editor has. The catalog
// records only what changed.
func groupPatch(version int, def catalog.GroupDef) ([]byte, error) {
	ops := []map[string]any{{"op": "test", "path": "/_version", "value": version}}
	for _, f := range []struct {
		path  string
		value any
	}{{"/name", def.Name}, {"/kind", def.Kind}, {"/description", def.Description}, {"/tags", def.Tags}, {"/metrics", def.Metrics}} {
		ops = append(ops, map[string]any{"op": "replace", "path": f.path, "value": f.value})
	}
	return json.Marshal(ops)
}

// stepField matches a field about one metric of a group: metrics[2],
// metrics[2].nameInGroup.
var stepField = regexp.MustCompile(`^metrics\[(\d+)\]`)

// placeGroupError puts a validation message next to the field it is about:
// the field the catalog names (core.Error.Field), else the one its message
// starts with (tags …).
func placeGroupError(d *groupForm, err error) {
	msg, field := err.Error(), core.FieldOf(err)
	if field == "" {
		for _, f := range []string{"name", "kind", "description", "tags", "key", "metrics"} {
			if strings.HasPrefix(msg, f) {
				field = f
				break
			}
		}
	}
	if m := stepField.FindStringSubmatch(field); m != nil {
		if i, err := strconv.Atoi(m[1]); err == nil && i < len(d.Steps) {
			d.Steps[i].Error = msg
			d.Errors["steps"] = "Step " + strconv.Itoa(i+1) + ": see the message there."
			return
		}
	}
	switch {
	case field == "metrics" || strings.HasPrefix(field, "metrics["):
		d.Errors["steps"] = msg
	case field == "name", field == "kind", field == "description", field == "key":
		d.Errors[field] = msg
	case strings.HasPrefix(field, "tags"):
		d.Errors["tags"] = msg
	default:
		d.Error = msg
	}
}
