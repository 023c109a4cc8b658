package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/view"
	"github.com/metricsd/metricsd/internal/web"
)

var listedKey = regexp.MustCompile(`<td data-label="Key"><code>([^<]+)</code></td>`)

// listed returns the metric keys a list page shows, in order.
func listed(body string) []string {
	var keys []string
	for _, m := range listedKey.FindAllStringSubmatch(body, -1) {
		keys = append(keys, m[1])
	}
	return keys
}

// TestMetricListFilters drives every field of the list's filter form and
// checks the exact metrics shown, the count, and that paging links and the
// form keep the filter.
func TestMetricListFilters(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		ctx := f.admin
		owner, err := f.db.Owner(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Teams.CreateTeam(ctx, account.TeamPost{Key: "growth", Name: "Growth team"}); err != nil {
			t.Fatal(err)
		}
		create := func(p catalog.MetricPost) {
			t.Helper()
			if _, err := f.svc.Metrics.CreateMetric(ctx, "default", p); err != nil {
				t.Fatalf("CreateMetric(%s): %v", p.Key, err)
			}
		}
		create(catalog.MetricPost{Key: "alpha", Kind: "custom", MetricDef: catalog.MetricDef{Name: "Alpha checkout", EventKey: "e-alpha", Tags: []string{"web", "pay"}, MaintainerID: owner.ID}})
		create(catalog.MetricPost{Key: "beta", Kind: "custom", MetricDef: catalog.MetricDef{Name: "Beta latency", EventKey: "e-beta", Tags: []string{"web"}, MaintainerID: owner.ID,
			IsNumeric: true, SuccessCriteria: "LowerThanBaseline", UnitAggregationType: "sum"}})
		create(catalog.MetricPost{Key: "gamma", Kind: "pageview", MetricDef: catalog.MetricDef{Name: "Gamma checkout page", Tags: []string{"pay"}, MaintainerTeamKey: "growth",
			URLs: []catalog.URLMatcher{{Kind: "substring", Substring: "/checkout"}}}})
		if _, err := f.svc.Views.Create(ctx, "default", view.Post{Key: "checkout-view", Name: "Checkout view", MaintainerID: owner.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Views.Link(ctx, "default", "checkout-view", view.Metrics, view.LinkRequest{Keys: &[]string{"alpha"}}); err != nil {
			t.Fatal(err)
		}

		br := f.browser()
		br.mustSignIn(adminToken)
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"sort=name", []string{"alpha", "beta", "gamma"}},
			{"q=checkout&sort=-name", []string{"gamma", "alpha"}},
			{"tags=web&sort=name", []string{"alpha", "beta"}},
			{"tags=web,+pay", []string{"alpha"}},
			{"kind=pageview", []string{"gamma"}},
			{"numeric=true", []string{"beta"}},
			{"numeric=false&sort=name", []string{"alpha", "gamma"}},
			{"aggregation=sum", []string{"beta"}},
			{"maintainer=" + owner.ID + "&sort=name", []string{"alpha", "beta"}},
			{"team=growth", []string{"gamma"}},
			{"view=checkout-view", []string{"alpha"}},
			{"connections=false&sort=-name", []string{"gamma", "beta", "alpha"}},
			{"connections=true", nil},
			{"usedIn=none&sort=name", []string{"alpha", "beta", "gamma"}},
			{"usedIn=experiments", nil},
			{"filter=" + url.QueryEscape(`eventKeys anyOf ["e-beta"]`), []string{"beta"}},
			{"q=checkout&tags=pay&kind=custom", []string{"alpha"}},
		} {
			r := br.do(http.MethodGet, "/projects/default/metrics?"+c.query, nil)
			if r.status != http.StatusOK {
				t.Errorf("%s: %d\n%s", c.query, r.status, r.body)
				continue
			}
			if got := listed(r.body); !slices.Equal(got, c.want) {
				t.Errorf("%s: listed %v, want %v", c.query, got, c.want)
			}
			wantCount := "No metrics match"
			if len(c.want) > 0 {
				wantCount = fmt.Sprintf("Showing 1–%d of %d metrics", len(c.want), len(c.want))
				if len(c.want) == 1 {
					wantCount = "Showing 1–1 of 1 metric<"
				}
			}
			if !strings.Contains(r.body, wantCount) {
				t.Errorf("%s: no %q", c.query, wantCount)
			}
		}

		// The form shows the filter it was given.
		r := br.do(http.MethodGet, "/projects/default/metrics?kind=pageview&team=growth&tags=pay", nil)
		for _, want := range []string{`<option value="pageview" selected>`, `<option value="growth" selected>Growth team</option>`, `id="tags" name="tags" type="text" value="pay"`, `Clear filters (3)`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("form does not show %q:\n%s", want, r.body)
			}
		}
		// A shared link naming a maintainer beyond the menu still shows it.
		r = br.do(http.MethodGet, "/projects/default/metrics?maintainer=someone-else", nil)
		if !strings.Contains(r.body, `<option value="someone-else" selected>`) || len(listed(r.body)) != 0 {
			t.Errorf("unknown maintainer in the URL:\n%s", r.body)
		}

		// Paging keeps every filter field.
		r = br.do(http.MethodGet, "/projects/default/metrics?tags=web&numeric=&sort=name&limit=1", nil)
		if got := listed(r.body); !slices.Equal(got, []string{"alpha"}) || !strings.Contains(r.body, "Showing 1–1 of 2 metrics") || !strings.Contains(r.body, "Page 1 of 2") {
			t.Fatalf("first page: %v\n%s", got, r.body)
		}
		next := `href="/projects/default/metrics?limit=1&amp;offset=1&amp;sort=name&amp;tags=web"`
		if !strings.Contains(r.body, next) {
			t.Errorf("next link does not keep the filter (want %s):\n%s", next, r.body)
		}
		r = br.do(http.MethodGet, "/projects/default/metrics?limit=1&offset=1&sort=name&tags=web", nil)
		if got := listed(r.body); !slices.Equal(got, []string{"beta"}) || !strings.Contains(r.body, "Page 2 of 2") || !strings.Contains(r.body, `rel="prev"`) {
			t.Errorf("second page: %v\n%s", got, r.body)
		}
	})
}

// TestMetricListFieldErrors checks that a refused query is a 400 whose
// message, the API's own, stands next to the field it is about.
func TestMetricListFieldErrors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("alpha", "Alpha")
		br := f.browser()
		br.mustSignIn(adminToken)
		for _, c := range []struct{ query, field, says string }{
			{"kind=bogus", "kind", "bogus"},
			{"numeric=maybe", "numeric", "expected true or false"},
			{"connections=maybe", "connections", "expected true or false"},
			{"usedIn=flags", "usedIn", "flags"},
			{"aggregation=median", "aggregation", "median"},
			{"sort=color", "sort", "color"},
			{"limit=5000", "limit", "limit"},
			{"filter=nonsense+equals+1", "filter", "nonsense"},
			// Each clause alone is fine; together they repeat a field.
			{"kind=custom&filter=" + url.QueryEscape(`eventKind equals "click"`), "filter", "eventKind"},
		} {
			r := br.do(http.MethodGet, "/projects/default/metrics?"+c.query, nil)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400", c.query, r.status)
				continue
			}
			m := regexp.MustCompile(`<p class="field-error" id="([a-zA-Z]+)-error">([^<]*)</p>`).FindAllStringSubmatch(r.body, -1)
			if len(m) != 1 || m[0][1] != c.field || !strings.Contains(m[0][2], c.says) {
				t.Errorf("%s: field errors %v, want one on %s saying %q", c.query, m, c.field, c.says)
				continue
			}
			if !strings.Contains(r.body, `id="`+c.field+`" name="`+c.field+`"`) || !strings.Contains(r.body, `aria-describedby="`) || !strings.Contains(r.body, `aria-invalid="true"`) {
				t.Errorf("%s: the field is not marked invalid", c.query)
			}
			if len(listed(r.body)) != 0 {
				t.Errorf("%s: a refused filter lists metrics", c.query)
			}
		}
		if r := br.do(http.MethodGet, "/projects/default/metrics?q=zzz", nil); !strings.Contains(r.body, "No metrics match") {
			t.Errorf("no match:\n%s", r.body)
		}
		if r := br.do(http.MethodGet, "/projects/default/metrics?offset=-1", nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, "offset") {
			t.Errorf("offset=-1: %d\n%s", r.status, r.body)
		}
	})
}

// TestMetricListStatementsFixed checks that a list page costs the same
// number of SQL statements over 3 metrics as over 3,000: it reads one page,
// never the project's metrics.
func TestMetricListStatementsFixed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		ctx := context.Background()
		owner, err := f.db.Owner(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seed := func(key string, n int) {
			t.Helper()
			p, _, err := f.svc.Projects.CreateProject(f.admin, catalog.ProjectPost{Key: key, Name: key})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now().Add(-time.Duration(n) * time.Second).UTC().Truncate(time.Millisecond)
			var batch []*catalog.Metric
			for i := range n {
				at := start.Add(time.Duration(i) * time.Second)
				batch = append(batch, &catalog.Metric{ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key, Key: fmt.Sprintf("m-%05d", i), Kind: catalog.KindCustom,
					Version: 1, VersionID: uuid.NewString(), CreatedAt: at, UpdatedAt: at,
					Def: catalog.MetricDef{Name: fmt.Sprintf("Metric %d", i), EventKey: fmt.Sprintf("e-%d", i), Tags: []string{fmt.Sprintf("t%d", i%3)}, MaintainerID: owner.ID,
						RandomizationUnits: []string{"user"}, AnalysisType: "mean", UnitAggregationType: "average", DataSource: catalog.DataSource{Key: "launchdarkly"}}})
			}
			if err := f.db.ImportMetrics(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		seed("small", 3)
		seed("large", 3000)
		br := f.browser()
		br.mustSignIn(adminToken)
		cost := func(path string, rows int) int64 {
			t.Helper()
			br.do(http.MethodGet, path, nil) // warms the count cache
			// and starts reading the filter's match list in the
			// background. Measured once the list is there: until then a
			// page costs one statement more (its IDs, then its rows),
			// so a request racing the read would count either.
			f.db.WaitListReads()
			before := f.db.Statements()
			r := br.do(http.MethodGet, path, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d\n%s", path, r.status, r.body)
			}
			if n := len(listed(r.body)); n != rows {
				t.Errorf("%s: %d rows, want %d", path, n, rows)
			}
			return f.db.Statements() - before
		}
		for _, c := range []struct {
			q           string
			small, rows int
		}{{"", 3, 20}, {"?tags=t1&sort=name", 1, 20}, {"?limit=50&offset=1", 2, 50}} {
			q := c.q
			small, large := cost("/projects/small/metrics"+q, c.small), cost("/projects/large/metrics"+q, c.rows)
			if small != large || large > 16 {
				t.Errorf("list%s: %d statements over 3 metrics, %d over 3,000; want the same, at most 16", q, small, large)
			}
			t.Logf("list%s: %d statements", q, large)
		}
	})
}
