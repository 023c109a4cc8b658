package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// BenchmarkWriteGrowth measures whether writes stay flat as a project
// grows, on each backend. Two projects start at 100 metrics each and take
// writes through the handler, so that prepared statements and their plans
// are made while the tables are small; then one project grows to 1,000 and
// the other to 100,000
// through the write seam (batches of CreateMetric, no ANALYZE, as an import
// through the API would leave it). Then creates and patches alternate
// between the small and the large project (ABBA), so that load from other
// jobs on the machine hits both alike, and it reports the median latency of
// each and the large project's throughput relative to the small one's
// (≥ 0.8 is flat). Stale plans made every create read the whole project on
// PostgreSQL.
//
//	go test -run='^$' -bench=BenchmarkWriteGrowth -benchtime=1x -timeout 30m ./internal/api/
func BenchmarkWriteGrowth(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, cat := openBench(b, ctx, backend)
			owner, err := db.Owner(ctx)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now().Add(-200 * time.Hour).UTC().Truncate(time.Millisecond)
			grow := func(p *catalog.Project, from, to int) {
				createInBatches(b, ctx, db, from, to, func(i int) *catalog.Metric {
					return benchMetric(p, owner.ID, i, start.Add(time.Duration(i)*time.Second))
				})
			}
			small, _, err := cat.Projects.CreateProject(ctx, catalog.ProjectPost{Key: "small", Name: "small"})
			if err != nil {
				b.Fatal(err)
			}
			large, _, err := cat.Projects.CreateProject(ctx, catalog.ProjectPost{Key: "large", Name: "large"})
			if err != nil {
				b.Fatal(err)
			}
			grow(small, 0, 100)
			grow(large, 0, 100)
			e := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}}), cat: cat}
			n := 0
			write := func(project string) (create, patch time.Duration) {
				n++
				t0 := time.Now()
				e.must(b, 201, "POST", "/api/v2/metrics/"+project, fmt.Sprintf(`{"key":"new-%d","kind":"custom","eventKey":"e","tags":["bench"]}`, n))
				create = time.Since(t0)
				t0 = time.Now()
				e.must(b, 200, "PATCH", fmt.Sprintf("/api/v2/metrics/%s/metric-%06d", project, n%100),
					fmt.Sprintf(`[{"op":"replace","path":"/description","value":"revision %d"}]`, n))
				return create, time.Since(t0)
			}
			// Plans are made now, over small tables.
			for range 50 {
				write("small")
				write("large")
			}
			grow(small, 100, 1_000)
			grow(large, 100, 100_000)
			const pairs = 500
			var cs, cl, ps, pl []time.Duration
			for b.Loop() {
				for i := range pairs {
					order := []string{"small", "large"}
					if i%2 == 1 {
						order = []string{"large", "small"}
					}
					for _, project := range order {
						c, p := write(project)
						if project == "small" {
							cs, ps = append(cs, c), append(ps, p)
						} else {
							cl, pl = append(cl, c), append(pl, p)
						}
					}
				}
			}
			med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
			b.ReportMetric(float64(med(cs).Microseconds())/1000, "create-1k-p50-ms")
			b.ReportMetric(float64(med(cl).Microseconds())/1000, "create-100k-p50-ms")
			b.ReportMetric(float64(med(ps).Microseconds())/1000, "patch-1k-p50-ms")
			b.ReportMetric(float64(med(pl).Microseconds())/1000, "patch-100k-p50-ms")
			b.ReportMetric(float64(med(cs))/float64(med(cl)), "create-100k/1k-throughput")
			b.ReportMetric(float64(med(ps))/float64(med(pl)), "patch-100k/1k-throughput")
		})
	}
}

// BenchmarkGetCached measures GET of one metric through the handler with
// the representation cache and without it (RepCacheEntries < 0), requests
// alternating between the two servers over one database, and reports the
// median of each, the ratio and the statements per cached GET:
//
//	go test -run='^$' -bench=BenchmarkGetCached -benchtime=4000x ./internal/api/
func BenchmarkGetCached(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, cat := openBench(b, ctx, backend)
			cached := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}}), cat: cat}
			uncached := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}, RepCacheEntries: -1}), cat: cat}
			cached.must(b, 201, "POST", "/api/v2/metrics/default", `{"key":"m","kind":"custom","eventKey":"e","tags":["a","b"]}`)
			const path = "/api/v2/metrics/default/m"
			var with, without []time.Duration
			var statements int64
			for i := 0; b.Loop(); i++ {
				envs := []benchEnv{cached, uncached}
				if i%2 == 1 {
					envs = []benchEnv{uncached, cached}
				}
				for _, e := range envs {
					s0 := db.Statements()
					t0 := time.Now()
					e.must(b, 200, "GET", path, "")
					d := time.Since(t0)
					if e == cached {
						with = append(with, d)
						statements += db.Statements() - s0
					} else {
						without = append(without, d)
					}
				}
			}
			med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
			b.ReportMetric(float64(med(with).Microseconds()), "cached-p50-µs")
			b.ReportMetric(float64(med(without).Microseconds()), "uncached-p50-µs")
			b.ReportMetric(float64(med(without))/float64(med(with)), "speedup")
			b.ReportMetric(float64(statements)/float64(len(with)), "cached-stmts/op")
		})
	}
}
