package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/perf/benchdata"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/web"
)

// BenchmarkUIMetricList times the metrics list page through the UI's
// handler (session, switcher, filter menus, one page of the list) over a
// project of 1,000 metrics and one of 100,000, alternating the two in the
// same loop so that both see the same load:
//
//	go test -run='^$' -bench=BenchmarkUIMetricList -benchtime=400x -timeout 30m ./internal/web/
func BenchmarkUIMetricList(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, svc, err := benchdata.Open(ctx, testdb.New(b, backend).URL, adminToken)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			p, err := svc.Auth.Authenticate(ctx, adminToken)
			if err != nil {
				b.Fatal(err)
			}
			admin := core.WithPrincipal(ctx, p)
			owner, err := db.Owner(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for key, n := range map[string]int{"k1": 1_000, "k100": 100_000} {
				seedBenchProject(b, admin, svc, db, owner.ID, key, n)
			}
			ui := web.New(svc, web.Options{Sessions: db, ParseMetricQuery: api.ParseMetricQuery, SessionCacheTTL: 2 * time.Second})
			srv := httptest.NewServer(ui.Handler())
			b.Cleanup(srv.Close)
			c := benchSignIn(b, srv.URL)

			pages := map[string]string{
				"newest":            "",
				"kind-tag-by-name":  "?kind=custom&tags=t3&sort=name",
				"search-numeric-50": "?q=latency&numeric=true&limit=50",
				"page-50-of-newest": "?offset=980",
			}
			names := []string{"newest", "kind-tag-by-name", "search-numeric-50", "page-50-of-newest"}
			for _, name := range names {
				b.Run(name, func(b *testing.B) {
					var small, large []time.Duration
					get := func(key string) time.Duration {
						t0 := time.Now()
						res, err := c.Get(srv.URL + "/projects/" + key + "/metrics" + pages[name])
						if err != nil {
							b.Fatal(err)
						}
						body, _ := io.ReadAll(res.Body)
						res.Body.Close()
						d := time.Since(t0)
						if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="metric-count"`) {
							b.Fatalf("%s %s: %d", key, name, res.StatusCode)
						}
						return d
					}
					get("k1")
					get("k100")
					b.ResetTimer()
					for b.Loop() {
						small = append(small, get("k1"))
						large = append(large, get("k100"))
					}
					b.StopTimer()
					slices.Sort(small)
					slices.Sort(large)
					p50 := func(d []time.Duration) float64 { return float64(d[len(d)/2].Microseconds()) / 1000 }
					p99 := func(d []time.Duration) float64 { return float64(d[len(d)*99/100].Microseconds()) / 1000 }
					b.ReportMetric(p50(small), "1k-p50-ms")
					b.ReportMetric(p50(large), "100k-p50-ms")
					b.ReportMetric(p99(large), "100k-p99-ms")
					b.ReportMetric(p50(large)/p50(small), "100k/1k-p50")
				})
			}
		})
	}
}

// seedBenchProject creates project key with n metrics: all custom, a
// quarter numeric (those named "latency"), ten rotating tags.
func seedBenchProject(b *testing.B, ctx context.Context, svc *catalog.Services, db *store.DB, ownerID, key string, n int) {
	b.Helper()
	p, _, err := svc.Projects.CreateProject(ctx, catalog.ProjectPost{Key: key, Name: key})
	if err != nil {
		b.Fatal(err)
	}
	err = benchdata.Import(ctx, db, n, func(i int, at time.Time) *catalog.Metric {
		def := catalog.MetricDef{Name: fmt.Sprintf("Metric %d %s", i, []string{"checkout", "signup", "latency", "errors"}[i%4]),
			EventKey: fmt.Sprintf("e-%d", i), Tags: []string{fmt.Sprintf("t%d", i%10), "all"}, MaintainerID: ownerID,
			RandomizationUnits: []string{"user"}, AnalysisType: "mean", UnitAggregationType: "average", DataSource: catalog.DataSource{Key: "launchdarkly"}}
		if i%4 == 2 {
			def.IsNumeric, def.SuccessCriteria = true, "LowerThanBaseline"
		}
		return &catalog.Metric{ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key, Key: fmt.Sprintf("metric-%06d", i),
			Kind: catalog.KindCustom, Version: 1, VersionID: uuid.NewString(), CreatedAt: at, UpdatedAt: at, Def: def}
	})
	if err != nil {
		b.Fatal(err)
	}
}

// benchSignIn returns a client signed in to the UI at base.
func benchSignIn(b *testing.B, base string) *http.Client {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/sign-in")
	if err != nil {
		b.Fatal(err)
	}
	form, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(form)
	if m == nil {
		b.Fatalf("no csrf field on the sign-in form")
	}
	res, err = c.PostForm(base+"/sign-in", url.Values{"csrf": {string(m[1])}, "token": {adminToken}})
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", res.StatusCode)
	}
	return c
}
