package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/web"
)

// get returns the current version of a metric, failing the test when it
// is gone.
func (f *fixture) get(key string) *catalog.Metric {
	f.t.Helper()
	m, _, err := f.svc.Metrics.GetMetric(f.admin, "default", key, "", nil)
	if err != nil {
		f.t.Fatalf("GetMetric(%s): %v", key, err)
	}
	return m
}

// fieldError returns the message rendered beside form field id, "" for
// none.
func fieldError(page, id string) string {
	m := regexp.MustCompile(`<p id="` + regexp.QuoteMeta(id) + `-error" class="field-error[^"]*">([^<]*)</p>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// newForm is a complete create form of kind with the session's token.
func newForm(csrf, kind, key string) url.Values {
	return url.Values{
		"csrf": {csrf}, "kind": {kind}, "key": {key}, "name": {"Metric " + key}, "description": {"about " + key},
		"measure": {"conversion"}, "successCriteria": {""}, "unitAggregation": {"average"}, "analysisType": {"mean"},
		"units": {"user"}, "tags": {"ui, web"}, "maintainerKind": {"member"}, "maintainer": {""},
		"urlKind": {"exact", "regex"}, "urlValue": {"", ""},
	}
}

func TestMetricCreateForm(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		br := f.browser()
		br.mustSignIn(adminToken)
		list := br.do(http.MethodGet, "/projects/default/metrics", nil)
		if !strings.Contains(list.body, `href="/projects/default/metrics/new"`) {
			t.Errorf("the list offers no New metric link to the admin:\n%s", list.body)
		}
		page := br.do(http.MethodGet, "/projects/default/metrics/new?kind=pageview", nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, `<option value="pageview" selected>`) {
			t.Fatalf("new form: %d\n%s", page.status, page.body)
		}
		csrf := csrfOf(t, page.body)

		// A numeric custom metric without success criteria: the catalog's
		// message beside the field, the input kept, nothing stored.
		form := newForm(csrf, "custom", "latency")
		form.Set("eventKey", "request-done")
		form.Set("measure", "numeric")
		form.Set("unit", "ms")
		r := br.do(http.MethodPost, "/projects/default/metrics/new", form)
		if r.status != http.StatusBadRequest {
			t.Fatalf("invalid create: %d\n%s", r.status, r.body)
		}
		if got := fieldError(r.body, "successCriteria"); got != "successCriteria is required when isNumeric is true" {
			t.Errorf("successCriteria error %q\n%s", got, r.body)
		}
		for _, kept := range []string{`value="latency"`, `value="request-done"`, `value="ms"`, `value="numeric" id="measure-numeric" checked`} {
			if !strings.Contains(r.body, kept) {
				t.Errorf("input %s not kept", kept)
			}
		}
		if _, _, err := f.svc.Metrics.GetMetric(f.admin, "default", "latency", "", nil); core.KindOf(err) != core.KindNotFound {
			t.Errorf("refused create stored a metric: %v", err)
		}

		// A URL the catalog refuses is marked on its row.
		form = newForm(csrf, "pageview", "visits")
		form["urlValue"] = []string{"https://shop.example/checkout", "("}
		r = br.do(http.MethodPost, "/projects/default/metrics/new", form)
		if r.status != http.StatusBadRequest || !strings.Contains(fieldError(r.body, "urlValue-1"), "urls[1].pattern is not a valid regular expression") {
			t.Errorf("bad regex row: %d %q\n%s", r.status, fieldError(r.body, "urlValue-1"), r.body)
		}

		// Without JavaScript, "Add a URL" posts the form back with one more
		// row and stores nothing.
		form = newForm(csrf, "pageview", "visits")
		form["urlValue"] = []string{"https://shop.example/", ""}
		form.Set("op", "add-url")
		r = br.do(http.MethodPost, "/projects/default/metrics/new", form)
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="urlValue-1"`) || !strings.Contains(r.body, `value="https://shop.example/"`) {
			t.Errorf("add-url: %d\n%s", r.status, r.body)
		}

		// One metric of each kind; fields of other kinds are ignored.
		custom := newForm(csrf, "custom", "latency")
		custom.Set("eventKey", "request-done")
		custom.Set("measure", "numeric")
		custom.Set("unit", "ms")
		custom.Set("successCriteria", "LowerThanBaseline")
		custom.Set("analysisType", "percentile")
		custom.Set("percentile", "95")
		custom.Set("selector", "#ignored")
		pageview := newForm(csrf, "pageview", "visits")
		pageview["urlValue"] = []string{"https://shop.example/checkout", "^https://shop\\.example/p/"}
		pageview.Set("eventKey", "ignored")
		click := newForm(csrf, "click", "buy-clicks")
		click["urlKind"], click["urlValue"] = []string{"substring"}, []string{"/product/"}
		click.Set("selector", "button.buy")
		click.Set("maintainerKind", "member")
		click.Set("maintainer", "") // the acting member
		trace := newForm(csrf, "trace", "db-time")
		trace.Set("traceQuery", "service.name = api")
		trace.Set("measure", "numeric")
		trace.Set("successCriteria", "LowerThanBaseline")
		trace.Set("traceValueLocation", "duration")
		for _, c := range []url.Values{custom, pageview, click, trace} {
			r := br.do(http.MethodPost, "/projects/default/metrics/new", c)
			if r.status != http.StatusSeeOther || r.h.Get("Location") != "/projects/default/metrics/"+c.Get("key") {
				t.Fatalf("create %s: %d %q\n%s", c.Get("kind"), r.status, r.h.Get("Location"), r.body)
			}
		}
		m := f.get("latency")
		if m.Kind != "custom" || m.Def.EventKey != "request-done" || !m.Def.IsNumeric || m.Def.Unit != "ms" || m.Def.SuccessCriteria != "LowerThanBaseline" ||
			m.Def.AnalysisType != "percentile" || m.Def.PercentileValue == nil || *m.Def.PercentileValue != 95 || m.Def.Selector != "" ||
			strings.Join(m.Def.Tags, ",") != "ui,web" || m.Def.Description != "about latency" {
			t.Errorf("custom metric stored as %+v", m.Def)
		}
		m = f.get("visits")
		if len(m.Def.URLs) != 2 || m.Def.URLs[0] != (catalog.URLMatcher{Kind: "exact", URL: "https://shop.example/checkout"}) ||
			m.Def.URLs[1] != (catalog.URLMatcher{Kind: "regex", Pattern: `^https://shop\.example/p/`}) || m.Def.EventKey != "" || m.Def.IsNumeric {
			t.Errorf("pageview metric stored as %+v", m.Def)
		}
		m = f.get("buy-clicks")
		if m.Def.Selector != "button.buy" || len(m.Def.URLs) != 1 || m.Def.URLs[0].Substring != "/product/" || m.Def.MaintainerID == "" {
			t.Errorf("click metric stored as %+v", m.Def)
		}
		m = f.get("db-time")
		if m.Def.TraceQuery != "service.name = api" || m.Def.TraceValueLocation != "duration" || !m.Def.IsNumeric {
			t.Errorf("trace metric stored as %+v", m.Def)
		}

		// The same key again: a conflict shown beside the key.
		r = br.do(http.MethodPost, "/projects/default/metrics/new", custom)
		if r.status != http.StatusConflict || !strings.Contains(fieldError(r.body, "key"), `a metric with key &#34;latency&#34; already exists`) {
			t.Errorf("duplicate: %d %q", r.status, fieldError(r.body, "key"))
		}
	})
}

// editForm is the edit form of m as the page renders it, read back.
func editForm(t *testing.T, br *browser, key string) (url.Values, string) {
	t.Helper()
	page := br.do(http.MethodGet, "/projects/default/metrics/"+key+"/edit", nil)
	if page.status != http.StatusOK {
		t.Fatalf("edit form of %s: %d\n%s", key, page.status, page.body)
	}
	get := func(name string) string {
		m := regexp.MustCompile(`name="` + name + `"[^>]*value="([^"]*)"`).FindStringSubmatch(page.body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	return url.Values{
		"csrf": {csrfOf(t, page.body)}, "version": {get("version")}, "kind": {get("kind")}, "name": {get("name")},
		"eventKey": {get("eventKey")}, "measure": {"conversion"}, "unitAggregation": {"average"}, "analysisType": {"mean"},
		"units": {get("units")}, "tags": {get("tags")}, "maintainerKind": {"member"}, "maintainer": {get("maintainer")},
		"description": {"about " + key},
	}, page.body
}

func TestMetricEditForm(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		zero := 0.0
		_, err := f.svc.Metrics.CreateMetric(f.admin, "default", catalog.MetricPost{Key: "checkout", Kind: "custom", MetricDef: catalog.MetricDef{
			Name: "Checkout", EventKey: "checkout", Description: "about checkout",
			EventDefault: &catalog.EventDefault{Value: &zero},
			Filters:      &catalog.EventFilter{Type: "eventProperty", Attribute: "plan", Op: "in", Values: []any{"pro"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		br := f.browser()
		br.mustSignIn(adminToken)
		if page := br.do(http.MethodGet, "/projects/default/metrics/checkout", nil); !strings.Contains(page.body, `href="/projects/default/metrics/checkout/edit"`) {
			t.Errorf("metric page offers no edit link:\n%s", page.body)
		}
		form, _ := editForm(t, br, "checkout")
		if form.Get("version") != "1" || form.Get("name") != "Checkout" || form.Get("eventKey") != "checkout" {
			t.Fatalf("edit form starts from %v", form)
		}

		// Without the CSRF token: 403, nothing changes.
		noToken := url.Values{}
		for k, v := range form {
			noToken[k] = v
		}
		noToken.Del("csrf")
		noToken.Set("name", "Forged")
		if r := br.do(http.MethodPost, "/projects/default/metrics/checkout/edit", noToken); r.status != http.StatusForbidden {
			t.Errorf("edit without csrf: %d", r.status)
		}

		// Invalid: the message beside the field, nothing changes.
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("measure", "numeric")
		bad.Set("name", "Checkout value")
		r := br.do(http.MethodPost, "/projects/default/metrics/checkout/edit", bad)
		if r.status != http.StatusBadRequest || fieldError(r.body, "successCriteria") != "successCriteria is required when isNumeric is true" || !strings.Contains(r.body, `value="Checkout value"`) {
			t.Errorf("invalid edit: %d %q\n%s", r.status, fieldError(r.body, "successCriteria"), r.body)
		}
		if m := f.get("checkout"); m.Version != 1 || m.Def.Name != "Checkout" {
			t.Errorf("refused edits changed the metric: v%d %q", m.Version, m.Def.Name)
		}

		// A good edit: a new version with the form's fields and the rest kept.
		form.Set("name", "Checkout done")
		form.Set("tags", "checkout, money")
		form.Set("comment", "renamed in the UI")
		r = br.do(http.MethodPost, "/projects/default/metrics/checkout/edit", form)
		if r.status != http.StatusSeeOther || r.h.Get("Location") != "/projects/default/metrics/checkout" {
			t.Fatalf("edit: %d\n%s", r.status, r.body)
		}
		m := f.get("checkout")
		if m.Version != 2 || m.Def.Name != "Checkout done" || strings.Join(m.Def.Tags, ",") != "checkout,money" || m.Comment != "renamed in the UI" ||
			m.Def.Filters == nil || m.Def.Filters.Attribute != "plan" || m.Def.EventDefault == nil || m.Def.EventKey != "checkout" {
			t.Errorf("after the edit: v%d %+v comment %q", m.Version, m.Def, m.Comment)
		}

		// The same form again, made from version 1: reported, not applied.
		form.Set("name", "Stale name")
		r = br.do(http.MethodPost, "/projects/default/metrics/checkout/edit", form)
		if r.status != http.StatusConflict || !strings.Contains(r.body, "Someone else changed this metric") || !strings.Contains(r.body, `value="Stale name"`) ||
			!strings.Contains(r.body, `name="version" value="2"`) {
			t.Errorf("stale edit: %d\n%s", r.status, r.body)
		}
		if m := f.get("checkout"); m.Version != 2 || m.Def.Name != "Checkout done" {
			t.Errorf("stale edit changed the metric: v%d %q", m.Version, m.Def.Name)
		}

		// A metric an active guarded rollout monitors: the impact first,
		// nothing saved until confirmed.
		if _, err := f.svc.Rollouts.CreateRollout(f.admin, "default", "production", "new-checkout", experiment.RolloutPost{FlagName: "New checkout", MetricKeys: []string{"checkout"}}); err != nil {
			t.Fatal(err)
		}
		form, _ = editForm(t, br, "checkout")
		form.Set("name", "Checkout finished")
		r = br.do(http.MethodPost, "/projects/default/metrics/checkout/edit", form)
		if r.status != http.StatusOK || !strings.Contains(r.body, "This edit affects what is running") || !strings.Contains(r.body, "<code>new-checkout</code>") ||
			!strings.Contains(r.body, `name="confirm" value="yes"`) || !strings.Contains(r.body, "Confirm and save") {
			t.Fatalf("impact: %d\n%s", r.status, r.body)
		}
		if m := f.get("checkout"); m.Version != 2 {
			t.Errorf("the dry run saved: v%d", m.Version)
		}
		form.Set("confirm", "yes")
		if r := br.do(http.MethodPost, "/projects/default/metrics/checkout/edit", form); r.status != http.StatusSeeOther {
			t.Fatalf("confirmed edit: %d\n%s", r.status, r.body)
		}
		if m := f.get("checkout"); m.Version != 3 || m.Def.Name != "Checkout finished" {
			t.Errorf("confirmed edit: v%d %q", m.Version, m.Def.Name)
		}
	})
}

func TestMetricDeletePage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("step-a", "Step A")
		f.metric("step-b", "Step B")
		f.metric("loose", "Loose")
		if _, err := f.svc.Groups.CreateMetricGroup(f.admin, "default", catalog.MetricGroupPost{Key: "funnel", GroupDef: catalog.GroupDef{
			Name: "Funnel", Kind: "funnel", Metrics: []catalog.GroupMetricIn{{Key: "step-a", NameInGroup: "A"}, {Key: "step-b", NameInGroup: "B"}},
		}}); err != nil {
			t.Fatal(err)
		}
		br := f.browser()
		br.mustSignIn(adminToken)

		page := br.do(http.MethodGet, "/projects/default/metrics/step-a/delete", nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, "cannot be deleted while these use it") || !strings.Contains(page.body, "<code>funnel</code>") ||
			strings.Contains(page.body, "confirm-delete") {
			t.Fatalf("blocked delete page: %d\n%s", page.status, page.body)
		}
		// Posted anyway: refused with the blockers, nothing deleted.
		r := br.do(http.MethodPost, "/projects/default/metrics/step-a/delete", url.Values{"csrf": {csrfOf(t, page.body)}})
		if r.status != http.StatusConflict || !strings.Contains(r.body, "<code>funnel</code>") || !strings.Contains(r.body, "metric group funnel") {
			t.Errorf("blocked delete: %d\n%s", r.status, r.body)
		}
		f.get("step-a")

		page = br.do(http.MethodGet, "/projects/default/metrics/loose/delete", nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, `id="confirm-delete"`) {
			t.Fatalf("free delete page: %d\n%s", page.status, page.body)
		}
		r = br.do(http.MethodPost, "/projects/default/metrics/loose/delete", url.Values{"csrf": {csrfOf(t, page.body)}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("delete: %d\n%s", r.status, r.body)
		}
		if _, _, err := f.svc.Metrics.GetMetric(f.admin, "default", "loose", "", nil); core.KindOf(err) != core.KindNotFound {
			t.Errorf("after delete: %v", err)
		}
	})
}

func TestReaderGetsNoMetricForms(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("kept", "Kept")
		_, secret := f.token("reader")
		br := f.browser()
		br.mustSignIn(secret)
		list := br.do(http.MethodGet, "/projects/default/metrics", nil)
		page := br.do(http.MethodGet, "/projects/default/metrics/kept", nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, "Kept") {
			t.Fatalf("reader's metric page: %d\n%s", page.status, page.body)
		}
		if strings.Contains(page.body, "/edit") || strings.Contains(page.body, "Delete metric") || strings.Contains(page.body, "/delete") ||
			strings.Contains(list.body, "/metrics/new") {
			t.Errorf("reader is offered edit, delete or create:\n%s\n%s", page.body, list.body)
		}
		for _, p := range []string{"/projects/default/metrics/new", "/projects/default/metrics/kept/edit", "/projects/default/metrics/kept/delete"} {
			if r := br.do(http.MethodGet, p, nil); r.status != http.StatusForbidden {
				t.Errorf("reader GET %s: %d, want 403", p, r.status)
			}
		}
		csrf := csrfOf(t, page.body)
		// Forged posts with the reader's valid token: 403, nothing changes.
		create := newForm(csrf, "custom", "forged")
		create.Set("eventKey", "forged")
		if r := br.do(http.MethodPost, "/projects/default/metrics/new", create); r.status != http.StatusForbidden {
			t.Errorf("reader create: %d, want 403\n%s", r.status, r.body)
		}
		if _, _, err := f.svc.Metrics.GetMetric(f.admin, "default", "forged", "", nil); core.KindOf(err) != core.KindNotFound {
			t.Errorf("reader's create stored a metric: %v", err)
		}
		edit := url.Values{"csrf": {csrf}, "version": {"1"}, "name": {"Forged"}, "eventKey": {"e-kept"}, "measure": {"conversion"},
			"unitAggregation": {"average"}, "analysisType": {"mean"}, "units": {"user"}, "maintainerKind": {"member"}}
		if r := br.do(http.MethodPost, "/projects/default/metrics/kept/edit", edit); r.status != http.StatusForbidden {
			t.Errorf("reader edit: %d, want 403\n%s", r.status, r.body)
		}
		if m := f.get("kept"); m.Version != 1 || m.Def.Name != "Kept" {
			t.Errorf("reader's edit changed the metric: v%d %q", m.Version, m.Def.Name)
		}
		if r := br.do(http.MethodPost, "/projects/default/metrics/kept/delete", url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
			t.Errorf("reader delete: %d, want 403\n%s", r.status, r.body)
		}
		if _, _, err := f.svc.Metrics.GetMetric(f.admin, "default", "kept", "", nil); err != nil {
			t.Errorf("metric after the reader's delete: %v", err)
		}
	})
}

// Bad input of every sort is refused beside its field with 400 on both
// stores: never a 500, nothing stored.
func TestMetricFormBadInput(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		br := f.browser()
		br.mustSignIn(adminToken)
		csrf := csrfOf(t, br.do(http.MethodGet, "/projects/default/metrics/new", nil).body)
		for _, c := range []struct {
			what, field string
			set         map[string]string
		}{
			{"no key", "key", map[string]string{"key": ""}},
			{"bad key", "key", map[string]string{"key": "no spaces"}},
			{"unknown kind", "kind", map[string]string{"kind": "bogus"}},
			{"no event key", "eventKey", map[string]string{}},
			{"NUL in the name", "name", map[string]string{"eventKey": "e", "name": "a\x00b"}},
			{"invalid UTF-8", "description", map[string]string{"eventKey": "e", "description": "\xff\xfe"}},
			{"percentile not a number", "percentile", map[string]string{"eventKey": "e", "measure": "numeric", "successCriteria": "HigherThanBaseline", "analysisType": "percentile", "percentile": "ninety"}},
			{"percentile of a conversion", "analysisType", map[string]string{"eventKey": "e", "analysisType": "percentile", "percentile": "90"}},
			{"bad tag", "tags", map[string]string{"eventKey": "e", "tags": "ok, not/ok"}},
			{"bad unit", "units", map[string]string{"eventKey": "e", "units": "user, user"}},
			{"unknown team", "maintainerTeam", map[string]string{"eventKey": "e", "maintainerKind": "team", "maintainerTeam": "nobody"}},
			{"unknown member", "maintainer", map[string]string{"eventKey": "e", "maintainer": "nobody@example.com"}},
			{"unknown measure", "measure", map[string]string{"eventKey": "e", "measure": "lots"}},
			{"bad unit aggregation", "unitAggregation", map[string]string{"eventKey": "e", "unitAggregation": "max"}},
		} {
			form := newForm(csrf, "custom", "bad-one")
			for k, v := range c.set {
				form.Set(k, v)
			}
			r := br.do(http.MethodPost, "/projects/default/metrics/new", form)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400\n%s", c.what, r.status, r.body)
				continue
			}
			if c.field != "" && fieldError(r.body, c.field) == "" {
				t.Errorf("%s: no message beside %s\n%s", c.what, c.field, r.body)
			}
			if c.field == "" && !strings.Contains(r.body, `class="notice error-box" role="alert"`) {
				t.Errorf("%s: no message\n%s", c.what, r.body)
			}
		}
		if ms, total, err := f.svc.Metrics.ListMetrics(f.admin, "default", catalog.MetricQuery{Page: core.Page{Limit: 10}}); err != nil || total != 0 {
			t.Errorf("refused forms stored metrics: %d %v %v", total, ms, err)
		}
	})
}

// A principal that may change some fields but not others keeps the form
// (and its input) when the catalog refuses a field, and saves the fields
// it may change.
func TestMetricEditPartlyAllowed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("checkout", "Checkout")
		_, secret, err := f.svc.Tokens.CreateToken(f.admin, account.TokenPost{Name: "renamer", InlineRole: []account.Statement{
			{Effect: "allow", Resources: []string{"proj/default"}, Actions: []string{"viewProject"}},
			{Effect: "allow", Resources: []string{"proj/default:metric/*"}, Actions: []string{"updateName"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		br := f.browser()
		br.mustSignIn(secret)
		if page := br.do(http.MethodGet, "/projects/default/metrics/checkout", nil); !strings.Contains(page.body, "/checkout/edit") || strings.Contains(page.body, "/checkout/delete") {
			t.Errorf("renamer's metric page: edit link %v, delete link %v", strings.Contains(page.body, "/checkout/edit"), strings.Contains(page.body, "/checkout/delete"))
		}
		form, _ := editForm(t, br, "checkout")
		form.Set("tags", "not-allowed")
		form.Set("name", "Renamed")
		r := br.do(http.MethodPost, "/projects/default/metrics/checkout/edit", form)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "action updateTags") || !strings.Contains(r.body, `value="not-allowed"`) {
			t.Errorf("refused field: %d\n%s", r.status, r.body)
		}
		if m := f.get("checkout"); m.Version != 1 {
			t.Errorf("a refused edit changed the metric: v%d", m.Version)
		}
		form.Set("tags", "")
		if r := br.do(http.MethodPost, "/projects/default/metrics/checkout/edit", form); r.status != http.StatusSeeOther {
			t.Errorf("allowed rename: %d\n%s", r.status, r.body)
		}
		if m := f.get("checkout"); m.Version != 2 || m.Def.Name != "Renamed" {
			t.Errorf("after the rename: v%d %q", m.Version, m.Def.Name)
		}
	})
}
