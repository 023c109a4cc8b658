package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/experiment"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/view"
	"github.com/metricsd/metricsd/internal/web"
)

// usedMetric makes metric "checkout" with two versions, used by an
// experiment, a group and a view, with events in production: three
// hours inside the chart's window and one before it.
func (f *fixture) usedMetric() {
	f.t.Helper()
	ctx := f.admin
	f.metric("checkout", "Checkout rate")
	f.metric("signup", "Signup rate")
	if _, err := f.svc.Metrics.PatchMetric(ctx, "default", "checkout", []byte(`{"comment":"rename and tag","patch":[
		{"op":"replace","path":"/name","value":"Checkout conversion"},{"op":"replace","path":"/tags","value":["funnel","web"]}]}`)); err != nil {
		f.t.Fatalf("PatchMetric: %v", err)
	}
	var exp experiment.ExperimentPost
	if err := json.Unmarshal([]byte(`{"key":"exp-checkout","name":"Checkout test","iteration":{"hypothesis":"h",
		"flags":{"f":{"ruleId":"fallthrough","flagConfigVersion":1}},"metrics":[{"key":"checkout"}],"primarySingleMetricKey":"checkout",
		"treatments":[{"name":"A","baseline":true,"allocationPercent":"100","parameters":[{"flagKey":"f","variationId":"v"}]}]}}`), &exp); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.svc.Experiments.CreateExperiment(ctx, "default", "production", exp); err != nil {
		f.t.Fatalf("CreateExperiment: %v", err)
	}
	if _, err := f.svc.Groups.CreateMetricGroup(ctx, "default", catalog.MetricGroupPost{Key: "checkout-funnel", GroupDef: catalog.GroupDef{
		Name: "Checkout funnel", Kind: "funnel", Metrics: []catalog.GroupMetricIn{{Key: "signup", NameInGroup: "Sign up"}, {Key: "checkout", NameInGroup: "Pay"}}}}); err != nil {
		f.t.Fatalf("CreateMetricGroup: %v", err)
	}
	if _, err := f.svc.Views.Create(ctx, "default", view.Post{Key: "growth", Name: "Growth team"}); err != nil {
		f.t.Fatalf("Views.Create: %v", err)
	}
	if _, err := f.svc.Views.Link(ctx, "default", "growth", view.Metrics, view.LinkRequest{Keys: &[]string{"checkout"}}); err != nil {
		f.t.Fatalf("Views.Link: %v", err)
	}
	p, env, err := f.svc.Projects.GetEnvironment(ctx, "default", "production")
	if err != nil {
		f.t.Fatal(err)
	}
	hour := f.clock.Now().UTC().Truncate(time.Hour)
	at := func(h int) int64 { return hour.Add(time.Duration(-h) * time.Hour).UnixMilli() }
	rollups := map[events.RollupKey]*events.Rollup{}
	for h, n := range map[int]int64{0: 5, 3: 1200, 50: 7, 24*30 + 5: 999} {
		rollups[events.RollupKey{EnvID: env.ID, Kind: "custom", Key: "e-checkout", Hour: at(h)}] = &events.Rollup{Count: n}
	}
	if err := f.db.TransactEvents(ctx, func(tx events.FlushTx) error {
		if err := events.LogRollups(ctx, tx, rollups); err != nil {
			return err
		}
		return tx.TouchSources(ctx, []events.Seen{{EnvID: env.ID, ProjectID: p.ID, Kind: "custom", Key: "e-checkout", First: at(24*30 + 5), Last: at(0)}})
	}); err != nil {
		f.t.Fatalf("TransactEvents: %v", err)
	}
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// TestMetricPage shows a reader everything about a metric: definition,
// usage, event activity, history with a diff, audit entries; no edit
// controls.
func TestMetricPage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.usedMetric()
		_, secret := f.token("reader")
		br := f.browser()
		br.mustSignIn(secret)

		page := br.do(http.MethodGet, "/projects/default/metrics/checkout", nil)
		if page.status != http.StatusOK {
			t.Fatalf("metric page: %d\n%s", page.status, page.body)
		}
		if d := os.Getenv("METRICSD_DUMP"); d != "" {
			_ = os.WriteFile(d, []byte(page.body), 0o644)
		}
		mustContain(t, "definition", page.body,
			"<h1>Checkout conversion</h1>", "<code>e-checkout</code>", "<li>funnel</li><li>web</li>", "about checkout", "Conversions", "average", "mean")
		mustContain(t, "usage", page.body,
			"Checkout test <code>exp-checkout</code>", `class="status status-not_started">Not started</span>`,
			`<a href="/projects/default/metric-groups/checkout-funnel">Checkout funnel</a>`, `href="/projects/default/metrics?filter=view&#43;equals&#43;%22growth%22">Growth team</a>`)
		// The view's link lists the view's metrics.
		if r := br.do(http.MethodGet, "/projects/default/metrics?filter=view+equals+%22growth%22", nil); r.status != http.StatusOK ||
			!strings.Contains(r.body, "Checkout conversion") || strings.Contains(r.body, "Signup rate") {
			t.Errorf("the view's metrics: %d\n%s", r.status, r.body)
		}
		// The events of the last 30 days: 5 + 1200 + 7, not the 999 of
		// the hour before the window.
		mustContain(t, "activity", page.body,
			"1,212 custom events &#34;e-checkout&#34; in Production in the last 30 days; the busiest hour",
			"had 1,200.", `<a href="/projects/default/environments/production/events">Events in Production</a>`, `<text class="label" x="40" y="12" text-anchor="end">1,200</text>`, ">Hourly events in Production, last 30 days</title>")
		if n := strings.Count(page.body, `<rect class="bar"`); n != 3 {
			t.Errorf("%d bars, want 3", n)
		}
		// The default diff is the latest change, version 1 to 2.
		mustContain(t, "history", page.body, "Changes from version 1 to version 2",
			`<th scope="row">Name</th>`, "<del>Checkout rate</del>", "<ins>Checkout conversion</ins>", "Added: funnel, web.",
			"rename and tag", "Changes in version 2</a>", "First version")
		if strings.Contains(page.body, `<th scope="row">Description</th>`) {
			t.Error("the diff shows an unchanged field")
		}
		mustContain(t, "audit", page.body, "updated the metric Checkout conversion", "created the metric Checkout rate")
		if strings.Contains(page.body, "Delete metric") {
			t.Error("reader sees a delete control")
		}

		// Any two versions by ID, in the URL; the reverse diff too.
		vs, _, err := f.svc.Metrics.ListMetricVersions(f.admin, "default", "checkout", core.Page{Limit: 10})
		if err != nil || len(vs) != 2 {
			t.Fatalf("versions: %v %v", vs, err)
		}
		r := br.do(http.MethodGet, "/projects/default/metrics/checkout?"+url.Values{"from": {vs[0].VersionID}, "to": {vs[1].VersionID}}.Encode(), nil)
		mustContain(t, "reverse diff", r.body, "Changes from version 2 to version 1", "<del>Checkout conversion</del>", "<ins>Checkout rate</ins>", "Removed: funnel, web.")
		if r.status != http.StatusOK {
			t.Errorf("reverse diff: %d", r.status)
		}
		// An unknown version: 404 with the message in the history
		// section; the rest of the page still shows.
		r = br.do(http.MethodGet, "/projects/default/metrics/checkout?from=nope", nil)
		if r.status != http.StatusNotFound {
			t.Errorf("unknown version: %d", r.status)
		}
		mustContain(t, "unknown version", r.body, `id="history-error">unknown version &#34;nope&#34; of metric &#34;checkout&#34;</p>`, "<h1>Checkout conversion</h1>", "Checkout funnel")
		for _, q := range []string{"vOffset=-1", "vOffset=x", "auditBefore=zz", "to=" + vs[0].VersionID, "from=%00", "from=%ff", "to=%00&from=" + vs[0].VersionID,
			"auditBefore=%00", "vOffset=99999999999999999999"} {
			if r := br.do(http.MethodGet, "/projects/default/metrics/checkout?"+q, nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, `role="alert"`) {
				t.Errorf("%s: %d, want 400 with the message", q, r.status)
			}
		}
	})
}

// TestMetricPageAccess: unknown projects and metrics are 404 pages, a
// token without access gets the 403 page, and a reader without the audit
// log is told so instead of the entries.
func TestMetricPageAccess(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("checkout", "Checkout rate")
		admin := f.browser()
		admin.mustSignIn(adminToken)
		// Keys no key can be: refused, never a server error.
		for _, p := range []string{"/projects/default/metrics/%00", "/projects/default/metrics/%ff", "/projects/%00/metrics/checkout"} {
			if r := admin.do(http.MethodGet, p, nil); r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
				t.Errorf("%s: %d, want 400 or 404", p, r.status)
			}
		}
		for _, p := range []string{"/projects/nope/metrics/checkout", "/projects/default/metrics/nope"} {
			if r := admin.do(http.MethodGet, p, nil); r.status != http.StatusNotFound || !strings.Contains(r.body, "unknown") {
				t.Errorf("%s: %d\n%s", p, r.status, r.body)
			}
		}
		if r := admin.do(http.MethodGet, "/projects/default/metrics/checkout", nil); r.status != http.StatusOK || !strings.Contains(r.body, "Delete metric") {
			t.Errorf("admin: %d, delete control %v", r.status, strings.Contains(r.body, "Delete metric"))
		}

		// A token whose policy grants nothing on projects (a no_access
		// member can hold no token at all).
		_, secret, err := f.svc.Tokens.CreateToken(f.admin, account.TokenPost{Name: "no access",
			InlineRole: []account.Statement{{Effect: "allow", Actions: []string{"viewMember"}, Resources: []string{"member/*"}}}})
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		none := f.browser()
		if r := none.signIn(secret); r.status != http.StatusSeeOther {
			t.Fatalf("no_access sign-in: %d", r.status)
		}
		r := none.do(http.MethodGet, "/projects/default/metrics/checkout", nil)
		if r.status != http.StatusForbidden || strings.Contains(r.body, "Checkout rate") {
			t.Errorf("no_access: %d\n%s", r.status, r.body)
		}

		// A token that may see the project but not the audit log sees
		// the page without the entries.
		_, secret, err = f.svc.Tokens.CreateToken(f.admin, account.TokenPost{Name: "project only",
			InlineRole: []account.Statement{{Effect: "allow", Actions: []string{"viewProject"}, Resources: []string{"proj/*"}}}})
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		viewer := f.browser()
		viewer.mustSignIn(secret)
		r = viewer.do(http.MethodGet, "/projects/default/metrics/checkout", nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Your role may not read the audit log.") || strings.Contains(r.body, "created the metric") || strings.Contains(r.body, "Delete metric") {
			t.Errorf("project-only token: %d\n%s", r.status, r.body)
		}
	})
}

var (
	olderAudit    = regexp.MustCompile(`href="([^"]*auditBefore=[0-9a-f]{24}[^"]*)" rel="next">Older entries`)
	olderVersions = regexp.MustCompile(`href="([^"]*vOffset=10[^"]*)" rel="next">Older versions`)
)

// TestMetricPagePages pages through a metric's versions and its audit
// entries, which leave out the entries of other metrics.
func TestMetricPagePages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("checkout", "Checkout rate")
		f.metric("other", "Other metric")
		for i := 2; i <= 12; i++ {
			body := fmt.Sprintf(`[{"op":"replace","path":"/name","value":"Checkout v%d"}]`, i)
			if _, err := f.svc.Metrics.PatchMetric(f.admin, "default", "checkout", []byte(body)); err != nil {
				t.Fatalf("PatchMetric: %v", err)
			}
		}
		br := f.browser()
		br.mustSignIn(adminToken)
		page := br.do(http.MethodGet, "/projects/default/metrics/checkout", nil)
		if page.status != http.StatusOK {
			t.Fatalf("page: %d", page.status)
		}
		if n := strings.Count(page.body, "updated the metric"); n != 10 {
			t.Errorf("first audit page: %d updates, want 10", n)
		}
		mustContain(t, "first page", page.body, "Versions 1–10 of 12", "Changes from version 11 to version 12")
		if strings.Contains(page.body, "Other metric") {
			t.Error("the audit entries of another metric show")
		}
		m := olderAudit.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("no link to older audit entries")
		}
		older := br.do(http.MethodGet, html.UnescapeString(m[1]), nil)
		if n := strings.Count(older.body, "updated the metric"); older.status != http.StatusOK || n != 1 || !strings.Contains(older.body, "created the metric Checkout rate") || !strings.Contains(older.body, "Newest entries") {
			t.Errorf("older audit entries: %d, %d updates\n%s", older.status, n, older.body)
		}
		m = olderVersions.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("no link to older versions")
		}
		vs := br.do(http.MethodGet, html.UnescapeString(m[1]), nil)
		mustContain(t, "older versions", vs.body, "Versions 11–12 of 12", "Changes in version 2</a>", "First version", "Newer versions",
			// The diff shown stays chosen in the menus.
			"Version 12 · ", "Changes from version 11 to version 12")
	})
}

// TestMetricPageKinds shows each kind's own fields.
func TestMetricPageKinds(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		p90 := 90
		for _, in := range []catalog.MetricPost{
			{Key: "latency", Kind: "custom", MetricDef: catalog.MetricDef{Name: "Latency", EventKey: "page-latency", IsNumeric: true, Unit: "ms",
				SuccessCriteria: "LowerThanBaseline", UnitAggregationType: "sum", AnalysisType: "percentile", PercentileValue: &p90, RandomizationUnits: []string{"user", "device"}}},
			{Key: "buy-click", Kind: "click", MetricDef: catalog.MetricDef{Name: "Buy click", Selector: "#buy", URLs: []catalog.URLMatcher{{Kind: "substring", Substring: "/checkout"}}}},
			{Key: "home-view", Kind: "pageview", MetricDef: catalog.MetricDef{Name: "Home view", URLs: []catalog.URLMatcher{{Kind: "exact", URL: "https://example.com/"}}}},
			{Key: "db-time", Kind: "trace", MetricDef: catalog.MetricDef{Name: "DB time", TraceQuery: "service:db", IsNumeric: true, TraceValueLocation: "duration", SuccessCriteria: "LowerThanBaseline"}},
		} {
			if _, err := f.svc.Metrics.CreateMetric(f.admin, "default", in); err != nil {
				t.Fatalf("CreateMetric(%s): %v", in.Key, err)
			}
		}
		br := f.browser()
		br.mustSignIn(adminToken)
		get := func(key string) string {
			r := br.do(http.MethodGet, "/projects/default/metrics/"+key, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d\n%s", key, r.status, r.body)
			}
			return r.body
		}
		latency := get("latency")
		mustContain(t, "numeric custom", latency, "<code>page-latency</code>", "A value (numeric)", "<dt>Unit</dt><dd>ms</dd>",
			"Lower than the baseline is better", "<dd>sum</dd>", "percentile (percentile 90)", "user, device", "Only one version", "No events in Production")
		if strings.Contains(latency, "CSS selector") || strings.Contains(latency, "<dt>URLs</dt>") {
			t.Error("a custom metric shows click or pageview fields")
		}
		if _, err := f.svc.Metrics.PatchMetric(f.admin, "default", "latency", []byte(`[{"op":"replace","path":"/archived","value":true}]`)); err != nil {
			t.Fatalf("archive: %v", err)
		}
		mustContain(t, "archived", get("latency"), `<span class="badge badge-warn">Archived</span>`, "<dt>Archived</dt><dd>Yes, since", "<th scope=\"row\">Archived</th>")
		if strings.Contains(latency, "badge-warn") || !strings.Contains(latency, "<dt>Archived</dt><dd>No</dd>") {
			t.Error("an unarchived metric shows as archived")
		}
		click := get("buy-click")
		mustContain(t, "click", click, "<dt>CSS selector</dt><dd><code>#buy</code></dd>", "substring: <code>/checkout</code>")
		mustContain(t, "pageview", get("home-view"), "exact: <code>https://example.com/</code>")
		mustContain(t, "trace", get("db-time"), "<dt>Trace query</dt><dd><code>service:db</code></dd>", "<code>duration</code>",
			"Trace metrics are not fed by SDK events")
		if strings.Contains(click, "<dt>Event key</dt>") {
			t.Error("a click metric shows an event key")
		}
	})
}

// TestMetricPageMaintainerDiff names the members of a maintainer change.
func TestMetricPageMaintainerDiff(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("checkout", "Checkout rate")
		ms, err := f.svc.Members.CreateMembers(f.admin, []byte(`[{"email":"ana@example.com","firstName":"Ana","lastName":"Lima","role":"writer"}]`))
		if err != nil {
			t.Fatalf("CreateMembers: %v", err)
		}
		if _, err := f.svc.Metrics.PatchMetric(f.admin, "default", "checkout", []byte(`[{"op":"replace","path":"/maintainerId","value":"`+ms[0].ID+`"}]`)); err != nil {
			t.Fatalf("PatchMetric: %v", err)
		}
		br := f.browser()
		br.mustSignIn(adminToken)
		r := br.do(http.MethodGet, "/projects/default/metrics/checkout", nil)
		mustContain(t, "maintainer diff", r.body, `<th scope="row">Maintainer</th>`, "<del>Metricsd Owner (owner@metricsd.local)</del>", "<ins>Ana Lima (ana@example.com)</ins>",
			"<dt>Maintainer</dt><dd>Ana Lima (ana@example.com)</dd>")
	})
}
