package api_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// BenchmarkListAdversarial measures list pages whose matches are bunched far
// from the top of the sort order: a project of 100,000 metrics whose oldest
// 50,000 follow seedProject's pattern (10 rotating tags, a quarter numeric,
// four names) and whose newest 50,000 match none of the filters below
// (tag "bulk", pageview, sum, names without those words). Newest-first
// pages of each filter must skip 50,000 metrics before the first match when
// they walk the sort index. The project grows through the write seam, with
// no explicit ANALYZE (the store keeps PostgreSQL's statistics itself). For
// each filter it reports the first request (the count is not cached yet) and
// the p50/p99 of the following ones:
//
//	go test -run='^$' -bench=BenchmarkListAdversarial -benchtime=1x -timeout 30m ./internal/api/
func BenchmarkListAdversarial(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, cat := openBench(b, ctx, backend)
			owner, err := db.Owner(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p, _, err := cat.Projects.CreateProject(ctx, catalog.ProjectPost{Key: "adv", Name: "adv"})
			if err != nil {
				b.Fatal(err)
			}
			const n, bunch = 100_000, 50_000
			start := time.Now().Add(-time.Duration(n) * time.Second).UTC().Truncate(time.Millisecond)
			createInBatches(b, ctx, db, 0, n, func(i int) *catalog.Metric {
				m := benchMetric(p, owner.ID, i, start.Add(time.Duration(i)*time.Second))
				if i >= bunch {
					m.Kind = catalog.KindPageview
					m.Def = catalog.MetricDef{Name: fmt.Sprintf("Bulk %d", i), Tags: []string{"bulk"}, MaintainerID: owner.ID,
						RandomizationUnits: []string{"user"}, AnalysisType: "mean", UnitAggregationType: "sum",
						DataSource: catalog.DataSource{Key: "launchdarkly"}, URLs: []catalog.URLMatcher{{Kind: "substring", Substring: "/bulk"}}}
				}
				return m
			})
			// What an operator would see a few seconds after an import.
			time.Sleep(3 * time.Second)
			e := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}}), cat: cat}
			for _, c := range []struct{ name, filter string }{
				{"tag", `tags contains ["t3"]`},
				{"tag-numeric", `tags contains ["t3"] and isNumeric equals true`},
				{"numeric", `isNumeric equals true`},
				{"kind", `eventKind equals "custom"`},
				{"query", `query equals "checkout"`},
				{"unit-aggregation", `unitAggregationType equals "average"`},
				{"event-key", `eventKeys anyOf ["event-4000"]`},
				{"two-tags", `tags contains ["t3", "all"]`},
			} {
				b.Run(c.name, func(b *testing.B) {
					path := "/api/v2/metrics/adv?" + url.Values{"filter": {c.filter}, "sort": {"-createdAt"}, "limit": {"20"}}.Encode()
					t0 := time.Now()
					e.must(b, 200, "GET", path, "")
					first := time.Since(t0)
					var durs []time.Duration
					for b.Loop() {
						for range 50 {
							t0 := time.Now()
							e.must(b, 200, "GET", path, "")
							durs = append(durs, time.Since(t0))
						}
					}
					slices.Sort(durs)
					b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
					b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
				})
			}
		})
	}
}
