package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
	"github.com/metricsd/metricsd/internal/resource"
)

// metricFormData is the create and edit forms' data.
type metricFormData struct {
	Project string
	// Metric is the version an edit started from; nil on create.
	Metric   *catalog.Metric
	F        metricForm
	Errs     formErrors
	Kinds    []string
	URLKinds []string
	Choices  choices
	// Stale says that the metric changed since the form was made.
	Stale bool
	// Impact is what the edit would affect, shown for confirmation.
	Impact *catalog.Impact
}

func (d metricFormData) PageTitle() string {
	if d.Metric != nil {
		return "Edit " + d.Metric.Def.Name + " · Metrics"
	}
	return "New metric · Metrics"
}

// Err is the message refusing form field name, "" for none.
func (d metricFormData) Err(name string) string { return d.Errs.Fields[name] }

// Shows reports whether the form's section for kinds (space-separated)
// applies to the form's kind; without JavaScript every section shows.
func (d metricFormData) Shows(kinds string) bool {
	return strings.Contains(" "+kinds+" ", " "+d.F.Kind+" ")
}

// metricUpdateActions are the actions any of which lets a principal edit
// some field of a metric.
func metricUpdateActions() []action.Action {
	var out []action.Action
	for _, a := range action.MetricActions() {
		if a != action.CreateMetric && a != action.DeleteMetric {
			out = append(out, a)
		}
	}
	return out
}

// canEditMetric reports whether the principal may change some field of m;
// the catalog still decides each field on save.
func canEditMetric(p *Page, m *catalog.Metric) bool {
	spec := resource.Metric(m.ProjectKey, m.Key, m.Def.Tags)
	for _, a := range metricUpdateActions() {
		if can(p.ctx, a, spec) {
			return true
		}
	}
	return false
}

// anyMetricSpec names every metric of a project, for offering creation.
func anyMetricSpec(project string) resource.Spec { return resource.Metric(project, "*", nil) }

// formAction says what a post of the form asks for: "" saves; "add-url"
// and "remove-url" (with its row) change the rows and show the form
// again, for browsers without JavaScript.
func formAction(r *http.Request, f *metricForm) bool {
	switch op := r.PostFormValue("op"); {
	case op == "add-url":
		f.URLs = append(f.URLs, urlRow{Kind: "exact"})
		return true
	case strings.HasPrefix(op, "remove-url-"):
		if i, err := strconv.Atoi(strings.TrimPrefix(op, "remove-url-")); err == nil && i >= 0 && i < len(f.URLs) {
			f.URLs = append(f.URLs[:i], f.URLs[i+1:]...)
		}
		return true
	}
	return false
}

// parseForm reads a posted form body.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return core.Errorf(core.KindInvalid, "the form could not be read")
	}
	return nil
}

// newMetric shows the create form.
func (u *UI) newMetric(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("projectKey")
	if err := u.mayCreate(r, project); err != nil {
		return err
	}
	d := metricFormData{Project: project, F: newForm(r.URL.Query().Get("kind"))}
	u.renderForm(w, r, http.StatusOK, &d)
	return nil
}

func (u *UI) mayCreate(r *http.Request, project string) error {
	if err := viewProject(r, project); err != nil {
		return err
	}
	if _, _, err := u.svc.Projects.GetProject(r.Context(), project); err != nil {
		return err
	}
	return core.Authorize(r.Context(), action.CreateMetric, anyMetricSpec(project))
}

// renderForm shows the form with its suggestions.
func (u *UI) renderForm(w http.ResponseWriter, r *http.Request, status int, d *metricFormData) {
	d.Kinds, d.URLKinds = metricFormKinds(), urlKinds()
	d.Choices = u.maintainerChoices(r.Context())
	if len(d.F.URLs) == 0 {
		d.F.URLs = []urlRow{{Kind: "exact"}}
	}
	u.render(w, r, status, "metric_form", *d)
}

// createMetric creates the metric the form describes with the catalog's
// CreateMetric: its rules, messages and enforcement.
func (u *UI) createMetric(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("projectKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	if err := parseForm(r); err != nil {
		return err
	}
	d := metricFormData{Project: project, F: readForm(r)}
	if formAction(r, &d.F) {
		u.renderForm(w, r, http.StatusOK, &d)
		return nil
	}
	checkText(r.PostForm, &d.Errs)
	def := u.definition(r.Context(), &d.F, d.F.Kind, catalog.MetricDef{}, nil, &d.Errs)
	if d.Errs.any() {
		u.renderForm(w, r, http.StatusBadRequest, &d)
		return nil
	}
	m, err := u.svc.Metrics.CreateMetric(r.Context(), project, catalog.MetricPost{Key: d.F.Key, Kind: d.F.Kind, MetricDef: def})
	if err != nil {
		return u.refuse(w, r, &d, err)
	}
	setFlash(w, r, "Metric "+m.Key+" was created.")
	http.Redirect(w, r, metricPath(project, m.Key), http.StatusSeeOther)
	return nil
}

// refuse shows the form again with a refusal beside its field: invalid
// input and conflicts keep the person's input; other errors (forbidden,
// not found, unavailable) are the error page.
//
// A principal that may change some fields of a metric but not all (or
// create some metrics but not this one) is refused by the catalog with
// 403; the form then stays, with the refusal above it, so that the input
// is not lost. Anybody else gets the error page.
func (u *UI) refuse(w http.ResponseWriter, r *http.Request, d *metricFormData, err error) error {
	switch core.KindOf(err) {
	case core.KindInvalid, core.KindConflict:
		d.Errs.place(&d.F, err)
		u.renderForm(w, r, statusOf(err), d)
		return nil
	case core.KindForbidden:
		p := &Page{ctx: r.Context()}
		if (d.Metric != nil && canEditMetric(p, d.Metric)) || (d.Metric == nil && can(r.Context(), action.CreateMetric, anyMetricSpec(d.Project))) {
			d.Errs.Other = err.Error()
			u.renderForm(w, r, http.StatusForbidden, d)
			return nil
		}
	}
	return err
}

// editMetric shows the edit form of a metric's current version.
func (u *UI) editMetric(w http.ResponseWriter, r *http.Request) error {
	project, key := r.PathValue("projectKey"), r.PathValue("metricKey")
	m, err := u.editable(r, project, key)
	if err != nil {
		return err
	}
	d := metricFormData{Project: project, Metric: m, F: formOf(m)}
	u.renderForm(w, r, http.StatusOK, &d)
	return nil
}

// editable reads the metric an edit is of, refusing a principal that may
// change none of its fields.
func (u *UI) editable(r *http.Request, project, key string) (*catalog.Metric, error) {
	if err := viewProject(r, project); err != nil {
		return nil, err
	}
	m, _, err := u.svc.Metrics.GetMetric(r.Context(), project, key, "", nil)
	if err != nil {
		return nil, err
	}
	if !canEditMetric(&Page{ctx: r.Context()}, m) {
		return nil, core.Authorize(r.Context(), action.UpdateMetric, resource.Metric(project, key, m.Def.Tags))
	}
	return m, nil
}

// editPatch is the JSON Patch that turns the current definition into the
// form's, led by a test of the version the form was made from, so that an
// edit made meanwhile fails the patch instead of being overwritten.
func editPatch(cur *catalog.Metric, def catalog.MetricDef, version int, comment string) ([]byte, int, error) {
	before, err := patch.Render(cur.Def)
	if err != nil {
		return nil, 0, err
	}
	after, err := patch.Render(def)
	if err != nil {
		return nil, 0, err
	}
	ops, err := patch.Diff(before, after)
	if err != nil {
		return nil, 0, err
	}
	v, _ := json.Marshal(version)
	all := append([]patch.Op{{Op: "test", Path: "/_version", Value: v}}, ops...)
	body, err := json.Marshal(struct {
		Comment string     `json:"comment,omitempty"`
		Patch   []patch.Op `json:"patch"`
	}{comment, all})
	return body, len(ops), err
}

// updateMetric saves the edit form. A metric that running experiments or
// active guarded rollouts use is first tried as a dry run, whose impact is
// shown for confirmation; the confirmed form then saves.
func (u *UI) updateMetric(w http.ResponseWriter, r *http.Request) error {
	project, key := r.PathValue("projectKey"), r.PathValue("metricKey")
	if err := parseForm(r); err != nil {
		return err
	}
	cur, err := u.editable(r, project, key)
	if err != nil {
		return err
	}
	d := metricFormData{Project: project, Metric: cur, F: readForm(r)}
	d.F.Key, d.F.Kind = cur.Key, cur.Kind
	if formAction(r, &d.F) {
		u.renderForm(w, r, http.StatusOK, &d)
		return nil
	}
	if d.F.Version != cur.Version {
		return u.stale(w, r, &d, cur)
	}
	checkText(r.PostForm, &d.Errs)
	def := u.definition(r.Context(), &d.F, cur.Kind, cur.Def, cur, &d.Errs)
	if d.Errs.any() {
		u.renderForm(w, r, http.StatusBadRequest, &d)
		return nil
	}
	body, changes, err := editPatch(cur, def, d.F.Version, d.F.Comment)
	if err != nil {
		return err
	}
	if changes == 0 {
		setFlash(w, r, "Nothing changed; metric "+key+" stays as it was.")
		http.Redirect(w, r, metricPath(project, key), http.StatusSeeOther)
		return nil
	}
	if r.PostFormValue("confirm") != "yes" {
		_, impact, err := u.svc.Metrics.PatchMetricDryRun(r.Context(), project, key, body)
		if err != nil {
			return u.patchRefused(w, r, &d, err)
		}
		if impact != nil && len(impact.RunningExperiments)+len(impact.ActiveGuardedRollouts) > 0 {
			d.Impact = impact
			u.renderForm(w, r, http.StatusOK, &d)
			return nil
		}
	}
	if _, err := u.svc.Metrics.PatchMetric(r.Context(), project, key, body); err != nil {
		return u.patchRefused(w, r, &d, err)
	}
	setFlash(w, r, "Metric "+key+" was saved.")
	http.Redirect(w, r, metricPath(project, key), http.StatusSeeOther)
	return nil
}

// patchRefused shows a refused patch: a conflict is a stale form when the
// metric's version moved on.
func (u *UI) patchRefused(w http.ResponseWriter, r *http.Request, d *metricFormData, err error) error {
	if core.KindOf(err) == core.KindConflict {
		now, _, gerr := u.svc.Metrics.GetMetric(r.Context(), d.Project, d.Metric.Key, "", nil)
		if gerr == nil && now.Version != d.F.Version {
			return u.stale(w, r, d, now)
		}
	}
	return u.refuse(w, r, d, err)
}

// stale shows the form with the person's input and says that the metric
// changed meanwhile; nothing was saved. The form now carries the current
// version, so that sending it again replaces the other change knowingly.
func (u *UI) stale(w http.ResponseWriter, r *http.Request, d *metricFormData, now *catalog.Metric) error {
	d.Stale, d.Metric = true, now
	d.F.Version = now.Version
	u.renderForm(w, r, http.StatusConflict, d)
	return nil
}
