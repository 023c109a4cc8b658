package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// metricListData is the metrics list's data.
type metricListData struct {
	Project string
	Metrics []catalog.Metric
	Pager   pager
	// Q is the search box, Sort the sort parameter, Filter the rest of
	// the filter in the API's language; all three stay in the URL.
	Q, Sort, Filter string
	Sorts           []sortOption
	// Error is why the query was refused (400), shown above the list.
	Error string
}

func (d metricListData) PageTitle() string { return "Metrics · " + d.Project }

type sortOption struct{ Value, Label string }

// metricSorts are the sort menu's choices; "" is the default, newest first.
func metricSorts() []sortOption {
	return []sortOption{{"", "Newest first"}, {"createdAt", "Oldest first"}, {"name", "Name A–Z"}, {"-name", "Name Z–A"}}
}

// viewProject refuses a principal that may not see the project, as the
// API refuses its routes under the project.
func viewProject(r *http.Request, key string) error {
	return core.Authorize(r.Context(), action.ViewProject, resource.Project(key))
}

// metricListFilter is the API filter of the list's query: the search box
// as a query clause, and the filter parameter.
func metricListFilter(q, filter string) string {
	var clauses []string
	if q = strings.TrimSpace(q); q != "" {
		b, _ := json.Marshal(q)
		clauses = append(clauses, "query equals "+string(b))
	}
	if filter = strings.TrimSpace(filter); filter != "" {
		clauses = append(clauses, filter)
	}
	return strings.Join(clauses, " and ")
}

// metricList shows one page of a project's metrics: the catalog's list
// query, with the API's filter language, sort, limit and offset, so that
// only the page is read.
func (u *UI) metricList(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("projectKey")
	if err := viewProject(r, key); err != nil {
		return err
	}
	in := r.URL.Query()
	d := metricListData{Project: key, Q: in.Get("q"), Sort: in.Get("sort"), Filter: in.Get("filter"), Sorts: metricSorts()}
	sort := d.Sort
	if sort == "" {
		sort = "-createdAt"
	}
	query, err := u.parseQ(in.Get("limit"), in.Get("offset"), sort, metricListFilter(d.Q, d.Filter))
	if core.KindOf(err) == core.KindInvalid {
		d.Error = err.Error()
		d.Pager = newPager(r.URL.Path, url.Values{}, 0, 0, catalog.DefaultMetricLimit)
		u.render(w, r, http.StatusBadRequest, "metrics", d)
		return nil
	}
	if err != nil {
		return err
	}
	metrics, total, err := u.svc.Metrics.ListMetrics(r.Context(), key, query)
	if err != nil {
		return err
	}
	keep := url.Values{}
	for _, k := range []string{"q", "sort", "filter", "limit"} {
		if v := in.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	d.Metrics = metrics
	d.Pager = newPager(r.URL.Path, keep, total, query.Offset, query.Limit)
	u.render(w, r, http.StatusOK, "metrics", d)
	return nil
}
