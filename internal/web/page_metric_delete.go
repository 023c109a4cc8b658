package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// deleteData is the delete page's data: the metric and what keeps it.
type deleteData struct {
	Project  string
	Metric   *catalog.Metric
	Blockers []catalog.Blocker
	// Refused is the catalog's refusal when a delete was tried.
	Refused string
}

func (d deleteData) PageTitle() string { return "Delete " + d.Metric.Def.Name + " · Metrics" }

// blockerHref links a blocker to its page in the UI, "" when the UI has
// none.
func (d deleteData) BlockerHref(b catalog.Blocker) string {
	if b.Kind == catalog.BlockerMetricGroup {
		return "/projects/" + url.PathEscape(d.Project) + "/metric-groups/" + url.PathEscape(b.Key)
	}
	return ""
}

// BlockerKind names a blocker's kind for people.
func (deleteData) BlockerKind(b catalog.Blocker) string {
	switch b.Kind {
	case catalog.BlockerMetricGroup:
		return "Metric group"
	case catalog.BlockerExperiment:
		return "Experiment"
	case catalog.BlockerRollout:
		return "Guarded rollout of flag"
	}
	return b.Kind
}

// deletable reads the metric and refuses a principal that may not delete
// it (the dry run alone would not: it writes nothing to enforce).
func (u *UI) deletable(r *http.Request) (*catalog.Metric, error) {
	project, key := r.PathValue("projectKey"), r.PathValue("metricKey")
	if err := viewProject(r, project); err != nil {
		return nil, err
	}
	m, _, err := u.svc.Metrics.GetMetric(r.Context(), project, key, "", nil)
	if err != nil {
		return nil, err
	}
	if err := core.Authorize(r.Context(), action.DeleteMetric, resource.Metric(project, key, m.Def.Tags)); err != nil {
		return nil, err
	}
	return m, nil
}

// deleteMetricForm shows what keeps a metric (DeleteMetricDryRun) before
// its delete is offered; a blocked metric gets no delete button.
func (u *UI) deleteMetricForm(w http.ResponseWriter, r *http.Request) error {
	m, err := u.deletable(r)
	if err != nil {
		return err
	}
	blockers, err := u.svc.Metrics.DeleteMetricDryRun(r.Context(), m.ProjectKey, m.Key)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "metric_delete", deleteData{Project: m.ProjectKey, Metric: m, Blockers: blockers})
	return nil
}

// deleteMetric deletes a metric through the catalog, which refuses a
// principal that may not and a metric still in use; a refusal for use
// shows the delete page with the blockers.
func (u *UI) deleteMetric(w http.ResponseWriter, r *http.Request) error {
	project, key := r.PathValue("projectKey"), r.PathValue("metricKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	err := u.svc.Metrics.DeleteMetric(r.Context(), project, key)
	if core.KindOf(err) == core.KindConflict {
		m, _, gerr := u.svc.Metrics.GetMetric(r.Context(), project, key, "", nil)
		blockers, berr := u.svc.Metrics.DeleteMetricDryRun(r.Context(), project, key)
		if err := errors.Join(gerr, berr); err != nil {
			return err
		}
		u.render(w, r, http.StatusConflict, "metric_delete", deleteData{Project: project, Metric: m, Blockers: blockers, Refused: err.Error()})
		return nil
	}
	if err != nil {
		return err
	}
	setFlash(w, r, "Metric "+key+" was deleted.")
	http.Redirect(w, r, "/projects/"+url.PathEscape(project)+"/metrics", http.StatusSeeOther)
	return nil
}
