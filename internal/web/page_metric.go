package web

import (
	"net/http"
	"net/url"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// metricData is a metric page's data.
type metricData struct {
	Project string
	Metric  *catalog.Metric
}

func (d metricData) PageTitle() string { return d.Metric.Def.Name + " · Metrics" }

// metricPath is the UI path of a metric's page.
func metricPath(projectKey, key string) string {
	return "/projects/" + url.PathEscape(projectKey) + "/metrics/" + url.PathEscape(key)
}

// metricPage shows a metric: its name, key, kind and description.
func (u *UI) metricPage(w http.ResponseWriter, r *http.Request) error {
	project, key := r.PathValue("projectKey"), r.PathValue("metricKey")
	if err := viewProject(r, project); err != nil {
		return err
	}
	m, _, err := u.svc.Metrics.GetMetric(r.Context(), project, key, "", nil)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "metric", metricData{Project: project, Metric: m})
	return nil
}

// siteData is the data of the _site link's page when the key names a
// metric in more than one project.
type siteData struct {
	Key     string
	Choices []catalog.Metric
}

func (d siteData) PageTitle() string { return "Metric " + d.Key }

// metricSite serves the _site link of the API's metric representation,
// which names the metric's key but not its project: it sends the browser to
// the metric's page in the one project the principal may see that has it,
// or lets it choose among several.
func (u *UI) metricSite(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("metricKey")
	var found []catalog.Metric
	const pageSize = 100
	for offset := 0; ; offset += pageSize {
		projects, total, err := u.svc.Projects.ListProjects(r.Context(), catalog.ProjectQuery{Page: core.Page{Limit: pageSize, Offset: offset}, Sort: []core.SortKey{{Field: "name"}}})
		if err != nil {
			return err
		}
		for _, p := range projects {
			m, _, err := u.svc.Metrics.GetMetric(r.Context(), p.Key, key, "", nil)
			if core.KindOf(err) == core.KindNotFound {
				continue
			}
			if err != nil {
				return err
			}
			found = append(found, *m)
		}
		if offset+pageSize >= total || len(projects) == 0 {
			break
		}
	}
	switch len(found) {
	case 0:
		return notFound("no project you may see has a metric %q", key)
	case 1:
		http.Redirect(w, r, metricPath(found[0].ProjectKey, key), http.StatusSeeOther)
		return nil
	}
	u.render(w, r, http.StatusOK, "site", siteData{Key: key, Choices: found})
	return nil
}
