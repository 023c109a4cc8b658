package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/web"
)

// editorForm is the state a group editor form posts.
type editorForm struct {
	name, kind, key string
	version         string
	steps           [][2]string // key, label
	pq              string
}

func (e editorForm) values(csrf, op string) url.Values {
	v := url.Values{"csrf": {csrf}, "name": {e.name}, "kind": {e.kind}, "key": {e.key}, "description": {""}, "tags": {""}, "pq": {e.pq}, "op": {op}}
	if e.version != "" {
		v.Set("version", e.version)
	}
	for _, s := range e.steps {
		v.Add("step", s[0])
		v.Add("stepName", s[1])
	}
	return v
}

var stepKeys = regexp.MustCompile(`<input type="hidden" name="step" value="([^"]+)">`)

// stepsOf returns the step keys an editor page shows, in order.
func stepsOf(page string) []string {
	var out []string
	for _, m := range stepKeys.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func (f *fixture) groupKeys(key string) []string {
	f.t.Helper()
	g, _, err := f.svc.Groups.GetMetricGroup(f.admin, "default", key, nil)
	if err != nil {
		f.t.Fatalf("GetMetricGroup(%s): %v", key, err)
	}
	var out []string
	for _, m := range g.Metrics {
		out = append(out, m.Key)
	}
	return out
}

// TestGroupEditorWithoutScript builds a funnel with the editor's buttons
// alone, as a browser without JavaScript does, and sees the catalog's
// messages next to their fields.
func TestGroupEditorWithoutScript(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		for _, k := range []string{"visit", "signup", "purchase"} {
			f.metric(k, "Step "+k)
		}
		if _, err := f.svc.Metrics.CreateMetric(f.admin, "default", catalog.MetricPost{Key: "revenue", Kind: "custom", MetricDef: catalog.MetricDef{Name: "Revenue", EventKey: "rev", IsNumeric: true, Unit: "USD", SuccessCriteria: "HigherThanBaseline"}}); err != nil {
			t.Fatal(err)
		}
		br := f.browser()
		br.mustSignIn(adminToken)
		list := br.do(http.MethodGet, "/projects/default/metric-groups", nil)
		if list.status != http.StatusOK || !strings.Contains(list.body, "No metric groups match") || !strings.Contains(list.body, "New metric group") {
			t.Fatalf("empty list: %d\n%s", list.status, list.body)
		}
		if !strings.Contains(list.body, `href="/projects/default/metric-groups" aria-current="page">Groups</a>`) {
			t.Errorf("no current Groups entry in the navigation:\n%s", list.body)
		}
		page := br.do(http.MethodGet, "/projects/default/metric-groups/_new", nil)
		if page.status != http.StatusOK {
			t.Fatalf("new form: %d\n%s", page.status, page.body)
		}
		// A funnel's picker offers conversion metrics only.
		if !strings.Contains(page.body, `value="add:visit"`) || strings.Contains(page.body, `value="add:revenue"`) || !strings.Contains(page.body, "3 metrics (conversion metrics") {
			t.Errorf("picker:\n%s", page.body)
		}
		csrf := csrfOf(t, page.body)
		form := editorForm{name: "Checkout funnel", kind: "funnel"}
		post := func(op string, want int) resp {
			t.Helper()
			r := br.do(http.MethodPost, "/projects/default/metric-groups/_new", form.values(csrf, op))
			if r.status != want {
				t.Fatalf("%s: %d, want %d\n%s", op, r.status, want, r.body)
			}
			return r
		}
		for _, k := range []string{"purchase", "visit", "signup"} {
			r := post("add:"+k, http.StatusOK)
			form.steps = append(form.steps, [2]string{k, "Step " + k})
			if got := strings.Join(stepsOf(r.body), ","); got != strings.Join(keysOf(form.steps), ",") {
				t.Fatalf("after add %s: steps %s", k, got)
			}
			if !strings.Contains(r.body, "Added Step "+k+" as step") {
				t.Errorf("add %s not announced:\n%s", k, r.body)
			}
		}
		// Down on the first step, up on the last: visit, signup, purchase.
		r := post("down:0", http.StatusOK)
		if got := strings.Join(stepsOf(r.body), ","); got != "visit,purchase,signup" {
			t.Fatalf("after down:0: %s", got)
		}
		if !strings.Contains(r.body, "Moved Step purchase to position 2 of 3.") {
			t.Errorf("move not announced:\n%s", r.body)
		}
		if !strings.Contains(r.body, `value="down:1" class="secondary" data-move="down" autofocus>`) {
			t.Errorf("focus does not follow the moved step:\n%s", r.body)
		}
		form.steps = [][2]string{{"visit", "Step visit"}, {"purchase", "Step purchase"}, {"signup", "Step signup"}}
		r = post("up:2", http.StatusOK)
		if got := strings.Join(stepsOf(r.body), ","); got != "visit,signup,purchase" {
			t.Fatalf("after up:2: %s", got)
		}
		form.steps = [][2]string{{"visit", "Step visit"}, {"signup", "Step signup"}, {"purchase", "Step purchase"}}

		// The catalog's rules, shown where they belong; nothing stored.
		form.steps[1][1] = " "
		r = post("save", http.StatusBadRequest)
		if !strings.Contains(r.body, `id="step-error-1" class="field-error">metrics[1].nameInGroup is required for each step of a funnel`) {
			t.Errorf("no step error next to step 2:\n%s", r.body)
		}
		form.steps[1][1] = "Signed up"
		form.steps = append(form.steps, [2]string{"revenue", "Revenue"})
		r = post("save", http.StatusBadRequest)
		if !strings.Contains(r.body, `id="step-error-3" class="field-error">metrics[3]: funnel steps must be conversion metrics; &#34;revenue&#34; is numeric`) {
			t.Errorf("no numeric-step error:\n%s", r.body)
		}
		form.steps = form.steps[:3]
		name := form.name
		form.name = ""
		r = post("save", http.StatusBadRequest)
		if !strings.Contains(r.body, `id="name-error" class="field-error">name is required`) {
			t.Errorf("no name error:\n%s", r.body)
		}
		form.name = name
		if _, total, err := f.svc.Groups.ListMetricGroups(f.admin, "default", catalog.GroupQuery{Page: core.Page{Limit: 10}}); err != nil || total != 0 {
			t.Fatalf("groups after refused saves: %d %v", total, err)
		}

		r = post("save", http.StatusSeeOther)
		if r.h.Get("Location") != "/projects/default/metric-groups/checkout-funnel" {
			t.Fatalf("save: Location %q", r.h.Get("Location"))
		}
		if got := strings.Join(f.groupKeys("checkout-funnel"), ","); got != "visit,signup,purchase" {
			t.Errorf("stored order %s", got)
		}
		gp := br.do(http.MethodGet, r.h.Get("Location"), nil)
		if gp.status != http.StatusOK || !strings.Contains(gp.body, "Metric group checkout-funnel was created.") || !strings.Contains(gp.body, "Edit group") {
			t.Fatalf("group page: %d\n%s", gp.status, gp.body)
		}
		if i, j := strings.Index(gp.body, ">Step visit<"), strings.Index(gp.body, ">Signed up<"); i < 0 || j < i {
			t.Errorf("group page order:\n%s", gp.body)
		}

		// An edit with a stale version is refused and changes nothing.
		edit := br.do(http.MethodGet, "/projects/default/metric-groups/checkout-funnel/edit", nil)
		if edit.status != http.StatusOK || strings.Join(stepsOf(edit.body), ",") != "visit,signup,purchase" {
			t.Fatalf("edit form: %d\n%s", edit.status, edit.body)
		}
		ef := editorForm{name: "Checkout funnel", kind: "funnel", version: "1", steps: [][2]string{{"signup", "Signed up"}, {"visit", "Step visit"}, {"purchase", "Step purchase"}}}
		r = br.do(http.MethodPost, "/projects/default/metric-groups/checkout-funnel/edit", ef.values(csrf, "save"))
		if r.status != http.StatusSeeOther {
			t.Fatalf("edit: %d\n%s", r.status, r.body)
		}
		if got := strings.Join(f.groupKeys("checkout-funnel"), ","); got != "signup,visit,purchase" {
			t.Errorf("order after edit %s", got)
		}
		ef.steps = ef.steps[1:]
		r = br.do(http.MethodPost, "/projects/default/metric-groups/checkout-funnel/edit", ef.values(csrf, "save"))
		if r.status != http.StatusConflict || !strings.Contains(r.body, "Someone changed this group since you opened the editor") {
			t.Errorf("stale edit: %d\n%s", r.status, r.body)
		}
		if got := strings.Join(f.groupKeys("checkout-funnel"), ","); got != "signup,visit,purchase" {
			t.Errorf("order after the stale edit %s", got)
		}

		// The list shows it with its counts; search and kind narrow it.
		list = br.do(http.MethodGet, "/projects/default/metric-groups?q=checkout&kind=funnel", nil)
		if !strings.Contains(list.body, "Showing 1–1 of 1 metric groups") || !strings.Contains(list.body, "<td>3</td>") {
			t.Errorf("list:\n%s", list.body)
		}
		if list = br.do(http.MethodGet, "/projects/default/metric-groups?kind=standard", nil); !strings.Contains(list.body, "No metric groups match") {
			t.Errorf("standard groups:\n%s", list.body)
		}
		if list = br.do(http.MethodGet, "/projects/default/metric-groups?used=false", nil); !strings.Contains(list.body, "of 1 metric groups") {
			t.Errorf("unused groups:\n%s", list.body)
		}
		if list = br.do(http.MethodGet, "/projects/default/metric-groups?used=true", nil); !strings.Contains(list.body, "No metric groups match") {
			t.Errorf("used groups:\n%s", list.body)
		}
		if r := br.do(http.MethodGet, "/projects/default/metric-groups?kind=odd", nil); r.status != http.StatusBadRequest {
			t.Errorf("bad kind: %d", r.status)
		}
		if r := br.do(http.MethodGet, "/projects/default/metric-groups/nope", nil); r.status != http.StatusNotFound {
			t.Errorf("unknown group: %d", r.status)
		}
		if r := br.do(http.MethodPost, "/projects/default/metric-groups/_new", form.values(csrf, "up:9")); r.status != http.StatusBadRequest {
			t.Errorf("bad step index: %d", r.status)
		}

		// Delete: nothing uses it, so the confirmation offers the button.
		del := br.do(http.MethodGet, "/projects/default/metric-groups/checkout-funnel/delete", nil)
		if del.status != http.StatusOK || !strings.Contains(del.body, "Nothing uses this group") {
			t.Fatalf("delete form: %d\n%s", del.status, del.body)
		}
		r = br.do(http.MethodPost, "/projects/default/metric-groups/checkout-funnel/delete", url.Values{"csrf": {csrf}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("delete: %d\n%s", r.status, r.body)
		}
		if _, _, err := f.svc.Groups.GetMetricGroup(f.admin, "default", "checkout-funnel", nil); core.KindOf(err) != core.KindNotFound {
			t.Errorf("group after delete: %v", err)
		}
	})
}

func keysOf(steps [][2]string) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s[0])
	}
	return out
}

// TestGroupPagesReader: a reader sees groups without edit controls, and
// forged posts with the reader's valid CSRF token get 403 and change
// nothing.
func TestGroupPagesReader(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("a", "A")
		f.metric("b", "B")
		if _, err := f.svc.Groups.CreateMetricGroup(f.admin, "default", catalog.MetricGroupPost{Key: "kept", GroupDef: catalog.GroupDef{Name: "Kept", Kind: "standard",
			Metrics: []catalog.GroupMetricIn{{Key: "a"}, {Key: "b"}}}}); err != nil {
			t.Fatal(err)
		}
		_, secret := f.token("reader")
		br := f.browser()
		br.mustSignIn(secret)
		list := br.do(http.MethodGet, "/projects/default/metric-groups", nil)
		if list.status != http.StatusOK || !strings.Contains(list.body, ">Kept</a>") || strings.Contains(list.body, "New metric group") {
			t.Errorf("reader's list: %d\n%s", list.status, list.body)
		}
		page := br.do(http.MethodGet, "/projects/default/metric-groups/kept", nil)
		if page.status != http.StatusOK || strings.Contains(page.body, "Edit group") || strings.Contains(page.body, "/delete") || strings.Contains(page.body, "/edit") {
			t.Errorf("reader's group page: %d\n%s", page.status, page.body)
		}
		for _, p := range []string{"/projects/default/metric-groups/_new", "/projects/default/metric-groups/kept/edit", "/projects/default/metric-groups/kept/delete"} {
			if r := br.do(http.MethodGet, p, nil); r.status != http.StatusForbidden {
				t.Errorf("reader GET %s: %d, want 403", p, r.status)
			}
		}
		csrf := csrfOf(t, page.body)
		form := editorForm{name: "Forged", kind: "standard", key: "forged", steps: [][2]string{{"b", ""}, {"a", ""}}}
		if r := br.do(http.MethodPost, "/projects/default/metric-groups/_new", form.values(csrf, "save")); r.status != http.StatusForbidden {
			t.Errorf("reader's create: %d, want 403\n%s", r.status, r.body)
		}
		form.version = "1"
		if r := br.do(http.MethodPost, "/projects/default/metric-groups/kept/edit", form.values(csrf, "save")); r.status != http.StatusForbidden {
			t.Errorf("reader's edit: %d, want 403\n%s", r.status, r.body)
		}
		if r := br.do(http.MethodPost, "/projects/default/metric-groups/kept/delete", url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
			t.Errorf("reader's delete: %d, want 403\n%s", r.status, r.body)
		}
		if got := strings.Join(f.groupKeys("kept"), ","); got != "a,b" {
			t.Errorf("group after the reader's posts: %s", got)
		}
		if _, total, _ := f.svc.Groups.ListMetricGroups(f.admin, "default", catalog.GroupQuery{Page: core.Page{Limit: 10}}); total != 1 {
			t.Errorf("%d groups after the reader's create, want 1", total)
		}
		// Without a CSRF token even the admin's post is refused.
		admin := f.browser()
		admin.mustSignIn(adminToken)
		if r := admin.do(http.MethodPost, "/projects/default/metric-groups/kept/delete", url.Values{}); r.status != http.StatusForbidden {
			t.Errorf("delete without a CSRF token: %d", r.status)
		}
		if got := strings.Join(f.groupKeys("kept"), ","); got != "a,b" {
			t.Errorf("group after a post without a token: %s", got)
		}
	})
}

// TestEventsPage: the explorer of an environment, its switcher and health
// lists, and its refusals.
func TestEventsPage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("quiet", "Quiet")
		_, secret := f.token("reader")
		br := f.browser()
		br.mustSignIn(secret)
		r := br.do(http.MethodGet, "/projects/default/events", nil)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/projects/default/environments/") {
			t.Fatalf("events home: %d Location %q", r.status, r.h.Get("Location"))
		}
		r = br.do(http.MethodGet, "/projects/default/events?env=test&days=14", nil)
		if r.status != http.StatusSeeOther || r.h.Get("Location") != "/projects/default/environments/test/events?days=14" {
			t.Fatalf("switcher: %d Location %q", r.status, r.h.Get("Location"))
		}
		page := br.do(http.MethodGet, r.h.Get("Location"), nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, "No events were seen in the last 90 days.") ||
			!strings.Contains(page.body, "Metrics with no events in 14 days <span class=\"muted\">(1)</span>") || !strings.Contains(page.body, `/projects/default/metrics/quiet">quiet</a>`) {
			t.Errorf("events page: %d\n%s", page.status, page.body)
		}
		if !strings.Contains(page.body, `<option value="production">`) || !strings.Contains(page.body, `<option value="test" selected>`) {
			t.Errorf("environment switcher:\n%s", page.body)
		}
		for p, want := range map[string]int{
			"/projects/default/environments/nope/events":           http.StatusNotFound,
			"/projects/default/events?env=nope":                    http.StatusNotFound,
			"/projects/nope/environments/test/events":              http.StatusNotFound,
			"/projects/default/environments/test/events?days=0":    http.StatusBadRequest,
			"/projects/default/environments/test/events?days=x":    http.StatusBadRequest,
			"/projects/default/environments/test/events?silent=-1": http.StatusBadRequest,
		} {
			if r := br.do(http.MethodGet, p, nil); r.status != want {
				t.Errorf("GET %s: %d, want %d", p, r.status, want)
			}
		}
	})
}

// TestGroupDeleteBlocked: the delete page lists what uses the group and
// offers no button; a post anyway gets the catalog's 409 and keeps it.
func TestGroupDeleteBlocked(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("a", "A")
		f.metric("b", "B")
		if _, err := f.svc.Groups.CreateMetricGroup(f.admin, "default", catalog.MetricGroupPost{Key: "used", GroupDef: catalog.GroupDef{Name: "Used", Kind: "funnel",
			Metrics: []catalog.GroupMetricIn{{Key: "a", NameInGroup: "A"}, {Key: "b", NameInGroup: "B"}}}}); err != nil {
			t.Fatal(err)
		}
		var post experiment.ExperimentPost
		if err := json.Unmarshal([]byte(`{"key":"exp","name":"Exp","iteration":{"hypothesis":"h","flags":{"flag-x":{"ruleId":"fallthrough","flagConfigVersion":1}},
			"metrics":[{"key":"used","isGroup":true}],"primaryFunnelKey":"used",
			"treatments":[{"name":"A","baseline":true,"allocationPercent":"100","parameters":[{"flagKey":"flag-x","variationId":"v"}]}]}}`), &post); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Experiments.CreateExperiment(f.admin, "default", "production", post); err != nil {
			t.Fatalf("CreateExperiment: %v", err)
		}
		br := f.browser()
		br.mustSignIn(adminToken)
		if list := br.do(http.MethodGet, "/projects/default/metric-groups?used=true", nil); !strings.Contains(list.body, "of 1 metric groups") || !strings.Contains(list.body, ">Used</a>") || !strings.Contains(list.body, "<td>1</td>") {
			t.Errorf("used groups:\n%s", list.body)
		}
		page := br.do(http.MethodGet, "/projects/default/metric-groups/used/delete", nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, "This group cannot be deleted yet.") || !strings.Contains(page.body, "Experiment <code>exp</code>") ||
			strings.Contains(page.body, "Delete metric group</button>") {
			t.Fatalf("blocked delete page: %d\n%s", page.status, page.body)
		}
		r := br.do(http.MethodPost, "/projects/default/metric-groups/used/delete", url.Values{"csrf": {csrfOf(t, page.body)}})
		if r.status != http.StatusConflict || !strings.Contains(r.body, "experiment exp") {
			t.Errorf("blocked delete post: %d\n%s", r.status, r.body)
		}
		if got := strings.Join(f.groupKeys("used"), ","); got != "a,b" {
			t.Errorf("group after a blocked delete: %s", got)
		}
	})
}

// TestGroupPicker: the editor's picker reads one page of metrics at a time,
// searches, and pages with its buttons, keeping the steps.
func TestGroupPicker(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		for i := range 11 {
			f.metric(fmt.Sprintf("m%02d", i), fmt.Sprintf("Metric %02d", i))
		}
		br := f.browser()
		br.mustSignIn(adminToken)
		page := br.do(http.MethodGet, "/projects/default/metric-groups/_new", nil)
		if n := strings.Count(page.body, `value="add:`); n != 8 || !strings.Contains(page.body, `value="pick:8"`) || strings.Contains(page.body, "Previous metrics") {
			t.Fatalf("first picker page: %d add buttons\n%s", n, page.body)
		}
		form := editorForm{name: "G", kind: "standard", steps: [][2]string{{"m00", "Metric 00"}}}
		r := br.do(http.MethodPost, "/projects/default/metric-groups/_new", form.values(csrfOf(t, page.body), "pick:8"))
		if r.status != http.StatusOK || strings.Count(r.body, `value="add:`) != 3 || !strings.Contains(r.body, `value="add:m10"`) || !strings.Contains(r.body, `value="pick:0"`) {
			t.Errorf("second picker page: %d\n%s", r.status, r.body)
		}
		if got := strings.Join(stepsOf(r.body), ","); got != "m00" {
			t.Errorf("steps after paging the picker: %s", got)
		}
		form.pq = "Metric 07"
		r = br.do(http.MethodPost, "/projects/default/metric-groups/_new", form.values(csrfOf(t, page.body), "search"))
		if strings.Count(r.body, `value="add:`) != 1 || !strings.Contains(r.body, `value="add:m07"`) {
			t.Errorf("picker search:\n%s", r.body)
		}
		// The step already added shows as added, not as a button.
		form.pq = "Metric 00"
		r = br.do(http.MethodPost, "/projects/default/metric-groups/_new", form.values(csrfOf(t, page.body), "search"))
		if strings.Contains(r.body, `value="add:m00"`) || !strings.Contains(r.body, `<span class="muted">added</span>`) {
			t.Errorf("added metric in the picker:\n%s", r.body)
		}
		if r := br.do(http.MethodPost, "/projects/default/metric-groups/_new", form.values(csrfOf(t, page.body), "add:nope")); !strings.Contains(r.body, "There is no metric &#34;nope&#34; in this project.") {
			t.Errorf("adding an unknown metric:\n%s", r.body)
		}
	})
}
