package web

import (
	"net/http"
	"net/url"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// homeData is the data of / when the principal may see no project.
type homeData struct{}

func (homeData) PageTitle() string { return "No projects" }

// home sends the browser to the metrics of the first project it may see,
// by name.
func (u *UI) home(w http.ResponseWriter, r *http.Request) error {
	projects, _, err := u.svc.Projects.ListProjects(r.Context(), catalog.ProjectQuery{Page: core.Page{Limit: 1}, Sort: []core.SortKey{{Field: "name"}}})
	if err != nil {
		return err
	}
	if len(projects) == 0 {
		u.render(w, r, http.StatusOK, "home", homeData{})
		return nil
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(projects[0].Key)+"/metrics", http.StatusSeeOther)
	return nil
}

// switchProject is the project switcher's target: the form names the
// project, this sends the browser to the same section of it.
func (u *UI) switchProject(w http.ResponseWriter, r *http.Request) error {
	key := r.URL.Query().Get("project")
	if key == "" {
		return core.Errorf(core.KindInvalid, "choose a project")
	}
	// The switcher keeps the section the browser was in (the groups of
	// one project to the groups of another); the metrics otherwise.
	section := "metrics"
	for _, n := range navEntries() {
		if n.name == r.URL.Query().Get("section") {
			section = n.name
		}
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(key)+"/"+section, http.StatusSeeOther)
	return nil
}
