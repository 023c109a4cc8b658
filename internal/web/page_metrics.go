package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
	"github.com/metricsd/metricsd/internal/view"
)

// metricListData is the metrics list's data.
type metricListData struct {
	Project string
	Metrics []catalog.Metric
	Pager   pager
	// Form is the filter form as the URL gives it: every field is a query
	// parameter, so that a filtered list can be shared by its URL.
	Form metricFilterForm
	// Active counts the filter fields in use; Clear is the list without them.
	Active int
	Clear  string
	// Choices fill the form's menus.
	Sorts, Limits, Kinds, YesNo, Aggregations, UsedIn []option
	Members, Teams, Views                             []option
	// Errors are the server's messages about the query, by the name of the
	// field they are about; Error is one no field can be blamed for.
	Errors map[string]string
	Error  string
}

func (d metricListData) PageTitle() string { return "Metrics · " + d.Project }

// moreFields are the form's fields under "More filters".
func moreFields() []string {
	return []string{"numeric", "maintainer", "team", "connections", "usedIn", "view", "aggregation", "limit", "filter"}
}

// MoreActive counts the fields under "More filters" that are set.
func (d metricListData) MoreActive() int {
	n := 0
	for _, name := range moreFields() {
		if d.Form.get(name) != "" {
			n++
		}
	}
	return n
}

// MoreOpen reports whether "More filters" starts open: one of its fields
// is set or has an error.
func (d metricListData) MoreOpen() bool {
	if d.MoreActive() > 0 {
		return true
	}
	for _, name := range moreFields() {
		if d.Errors[name] != "" {
			return true
		}
	}
	return false
}

// option is one choice of a menu.
type option struct{ Value, Label string }

// sortOption is the name the other list pages use for a menu's choice.
type sortOption = option

// metricListFilter is an API filter of a search box's text q (a query
// clause) and further clauses filter, for pages that search metrics.
func metricListFilter(q, filter string) string {
	return metricFilterForm{Q: strings.TrimSpace(q), Filter: strings.TrimSpace(filter)}.filter()
}

// metricFilterForm is the list's filter form. Each field is one query
// parameter and, when set, one clause of the API's filter language.
type metricFilterForm struct {
	Q           string // query equals "…"
	Tags        string // tags contains [...] (comma-separated)
	Kind        string // eventKind equals …
	Numeric     string // isNumeric equals true|false
	Aggregation string // unitAggregationType equals sum|average
	Maintainer  string // maintainerIds anyOf [member ID]
	Team        string // maintainerTeamKey equals …
	Connections string // hasConnections equals true|false
	UsedIn      string // metricUsedIn equals …
	View        string // view equals …
	// Filter is further clauses in the API's language, for what the form
	// has no field for (dataSourceKeys, eventKeys, versionIds).
	Filter string
	Sort   string
	Limit  string
}

// metricFilterParams are the form's filter parameters, in form order.
func metricFilterParams() []string {
	return []string{"q", "tags", "kind", "numeric", "aggregation", "maintainer", "team", "connections", "usedIn", "view", "filter"}
}

// readMetricFilterForm reads the form from the query string.
func readMetricFilterForm(in url.Values) metricFilterForm {
	g := func(k string) string { return strings.TrimSpace(in.Get(k)) }
	return metricFilterForm{Q: g("q"), Tags: g("tags"), Kind: g("kind"), Numeric: g("numeric"), Aggregation: g("aggregation"),
		Maintainer: g("maintainer"), Team: g("team"), Connections: g("connections"), UsedIn: g("usedIn"), View: g("view"),
		Filter: g("filter"), Sort: g("sort"), Limit: g("limit")}
}

// get returns the field of parameter name.
func (f metricFilterForm) get(name string) string {
	switch name {
	case "q":
		return f.Q
	case "tags":
		return f.Tags
	case "kind":
		return f.Kind
	case "numeric":
		return f.Numeric
	case "aggregation":
		return f.Aggregation
	case "maintainer":
		return f.Maintainer
	case "team":
		return f.Team
	case "connections":
		return f.Connections
	case "usedIn":
		return f.UsedIn
	case "view":
		return f.View
	case "filter":
		return f.Filter
	case "sort":
		return f.Sort
	case "limit":
		return f.Limit
	}
	return ""
}

// quote is s as a double-quoted string of the filter language.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// boolOrString is a yes/no field's value: a bare true or false, anything
// else quoted so that the API's parser refuses it with its own message.
func boolOrString(s string) string {
	if s == "true" || s == "false" {
		return s
	}
	return quote(s)
}

// clause is the filter clause of form field name, "" when it is unset.
func (f metricFilterForm) clause(name string) string {
	v := f.get(name)
	if v == "" {
		return ""
	}
	switch name {
	case "q":
		return "query equals " + quote(v)
	case "tags":
		var tags []string
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
		if len(tags) == 0 {
			return ""
		}
		b, _ := json.Marshal(tags)
		return "tags contains " + string(b)
	case "kind":
		return "eventKind equals " + quote(v)
	case "numeric":
		return "isNumeric equals " + boolOrString(v)
	case "aggregation":
		return "unitAggregationType equals " + quote(v)
	case "maintainer":
		return "maintainerIds anyOf [" + quote(v) + "]"
	case "team":
		return "maintainerTeamKey equals " + quote(v)
	case "connections":
		return "hasConnections equals " + boolOrString(v)
	case "usedIn":
		return "metricUsedIn equals " + quote(v)
	case "view":
		return "view equals " + quote(v)
	case "filter":
		return v
	}
	return ""
}

// filter is the whole form as one filter of the API's language.
func (f metricFilterForm) filter() string {
	var clauses []string
	for _, name := range metricFilterParams() {
		if c := f.clause(name); c != "" {
			clauses = append(clauses, c)
		}
	}
	return strings.Join(clauses, " and ")
}

// values are the form's set fields as query parameters.
func (f metricFilterForm) values() url.Values {
	v := url.Values{}
	for _, name := range append(metricFilterParams(), "sort", "limit") {
		if s := f.get(name); s != "" {
			v.Set(name, s)
		}
	}
	return v
}

// metricSorts are the sort menu's choices; "" is the default, newest first.
func metricSorts() []option {
	return []option{{"", "Newest first"}, {"createdAt", "Oldest first"}, {"name", "Name A–Z"}, {"-name", "Name Z–A"}}
}

// viewProject refuses a principal that may not see the project, as the
// API refuses its routes under the project.
func viewProject(r *http.Request, key string) error {
	return core.Authorize(r.Context(), action.ViewProject, resource.Project(key))
}

// menuSize bounds the maintainer, team and view menus: the first ones by
// name; a value the URL names that is not among them is added, so that a
// shared link still shows its filter.
const menuSize = 100

// metricList shows one page of a project's metrics: the catalog's list
// query, with the API's filter language, sort, limit and offset, so that
// only the page is read. The statements a page costs do not grow with the
// number of metrics (TestMetricListStatementsFixed).
func (u *UI) metricList(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("projectKey")
	if err := viewProject(r, key); err != nil {
		return err
	}
	in := r.URL.Query()
	form := readMetricFilterForm(in)
	d := metricListData{Project: key, Form: form, Errors: map[string]string{},
		Sorts: metricSorts(), Limits: []option{{"", fmt.Sprint(catalog.DefaultMetricLimit)}, {"50", "50"}},
		YesNo:        []option{{"", "Any"}, {"true", "Yes"}, {"false", "No"}},
		Aggregations: []option{{"", "Any"}, {"sum", "Sum"}, {"average", "Average"}},
		UsedIn:       []option{{"", "Anywhere or nowhere"}, {"experiments", "Experiments"}, {"guarded_rollouts", "Guarded rollouts"}, {"any", "Experiments or guarded rollouts"}, {"none", "Nothing"}},
	}
	d.Kinds = []option{{"", "Any"}}
	for _, k := range catalog.MetricKinds {
		d.Kinds = append(d.Kinds, option{k, k})
	}
	for _, name := range metricFilterParams() {
		if form.clause(name) != "" {
			d.Active++
		}
	}
	d.Clear = r.URL.Path
	if d.Active > 0 {
		d.Clear += "?" + (metricFilterForm{Sort: form.Sort, Limit: form.Limit}).values().Encode()
		d.Clear = strings.TrimSuffix(d.Clear, "?")
	}
	u.fillMenus(r, key, &d)

	sort := form.Sort
	if sort == "" {
		sort = "-createdAt"
	}
	query, err := u.parseQ(form.Limit, in.Get("offset"), sort, form.filter())
	if core.KindOf(err) == core.KindInvalid {
		u.blame(&d, in.Get("offset"), sort, err)
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
	d.Metrics = metrics
	d.Pager = newPager(r.URL.Path, form.values(), total, query.Offset, query.Limit)
	u.render(w, r, http.StatusOK, "metrics", d)
	return nil
}

// blame puts the message of a refused query next to the field it is
// about: each field's clause is parsed alone, the first refused one gets
// its own message. A query refused only as a whole (two clauses on one
// field, say) shows err beside the filter expression.
func (u *UI) blame(d *metricListData, offset, sort string, err error) {
	msg := func(e error) string {
		var ce *core.Error
		if errors.As(e, &ce) {
			return ce.Message
		}
		return e.Error()
	}
	if _, e := u.parseQ(d.Form.Limit, "", "", ""); e != nil {
		d.Errors["limit"] = msg(e)
		return
	}
	if _, e := u.parseQ("", "", sort, ""); e != nil {
		d.Errors["sort"] = msg(e)
		return
	}
	if _, e := u.parseQ("", offset, "", ""); e != nil {
		d.Error = msg(e)
		return
	}
	for _, name := range metricFilterParams() {
		c := d.Form.clause(name)
		if c == "" {
			continue
		}
		if _, e := u.parseQ("", "", "", c); e != nil {
			m := msg(e)
			if name != "filter" {
				// The position is in a clause the form wrote, not in
				// anything the user typed.
				m = clausePosition.ReplaceAllString(m, "")
			}
			d.Errors[name] = m
			return
		}
	}
	d.Errors["filter"] = msg(err)
}

// clausePosition is where the API's parser says a filter error is.
var clausePosition = regexp.MustCompile(`^invalid filter at position \d+: `)

// fillMenus fills the maintainer, team and view menus with the first
// menuSize of each by name. A list the principal may not read leaves its
// menu with only the current value rather than failing the page.
func (u *UI) fillMenus(r *http.Request, key string, d *metricListData) {
	ctx := r.Context()
	d.Members = []option{{"", "Anyone"}}
	if ms, _, err := u.svc.Members.ListMembers(ctx, account.MemberQuery{Page: core.Page{Limit: menuSize}, Sort: []core.SortKey{{Field: "displayName"}}}); err == nil {
		for _, m := range ms {
			d.Members = append(d.Members, option{m.ID, memberLabel(m.Member)})
		}
	}
	d.Teams = []option{{"", "Any team"}}
	if ts, _, err := u.svc.Teams.ListTeams(ctx, account.TeamQuery{Page: core.Page{Limit: menuSize}}); err == nil {
		for _, t := range ts {
			d.Teams = append(d.Teams, option{t.Key, t.Name})
		}
	}
	d.Views = []option{{"", "All metrics"}}
	if vs, _, err := u.svc.Views.List(ctx, key, view.Query{Page: core.Page{Limit: menuSize}, Sort: []core.SortKey{{Field: "name"}}}); err == nil {
		for _, v := range vs {
			d.Views = append(d.Views, option{v.Key, v.Name})
		}
	}
	d.Limits = withCurrent(d.Limits, d.Form.Limit)
	d.Members = withCurrent(d.Members, d.Form.Maintainer)
	d.Teams = withCurrent(d.Teams, d.Form.Team)
	d.Views = withCurrent(d.Views, d.Form.View)
}

// withCurrent adds the value cur to a menu that does not offer it.
func withCurrent(opts []option, cur string) []option {
	for _, o := range opts {
		if o.Value == cur {
			return opts
		}
	}
	return append(opts, option{cur, cur})
}

// memberLabel is how a member is named in menus and lists.
func memberLabel(m account.Member) string {
	if n := strings.TrimSpace(m.FirstName + " " + m.LastName); n != "" {
		return n + " (" + m.Email + ")"
	}
	return m.Email
}
