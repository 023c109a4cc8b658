package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/perf/benchdata"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

const benchToken = "api-benchmark-token"

// benchFilter is the filtered, sorted page the list benchmarks fetch: about
// 5% of a project matches it.
var benchFilter = "?" + url.Values{
	"filter": {`tags contains ["t3"] and isNumeric equals true`},
	"sort":   {"-createdAt"},
	"limit":  {"20"},
}.Encode()

// seedProject creates a project holding n metrics of mixed kinds and tags
// (benchdata.Metric).
func seedProject(b *testing.B, ctx context.Context, cat *catalog.Services, db *store.DB, key string, n int) {
	b.Helper()
	p, _, err := cat.Projects.CreateProject(ctx, catalog.ProjectPost{Key: key, Name: key})
	if err != nil {
		b.Fatal(err)
	}
	owner, err := db.Owner(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := benchdata.Import(ctx, db, n, func(i int, at time.Time) *catalog.Metric { return benchMetric(p, owner.ID, i, at) }); err != nil {
		b.Fatal(err)
	}
}

// benchMetric is the i-th metric of a seeded project, created at at.
func benchMetric(p *catalog.Project, ownerID string, i int, at time.Time) *catalog.Metric {
	return benchdata.Metric(p, ownerID, i, at)
}

type benchEnv struct {
	srv http.Handler
	cat *catalog.Services
}

func (e benchEnv) do(b *testing.B, method, path, body string) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", benchToken)
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

func (e benchEnv) must(b *testing.B, want int, method, path, body string) {
	if w := e.do(b, method, path, body); w.Code != want {
		b.Fatalf("%s %s: status %d, want %d: %s", method, path, w.Code, want, w.Body.String())
	}
}

// timed runs fn b.N times and reports the 50th and 99th percentile latency.
func timed(b *testing.B, fn func(i int)) {
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		fn(i)
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(durs)
	if len(durs) > 0 {
		b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkAPI measures whole requests through the HTTP handler (routing,
// authentication, catalog, store, JSON) on each backend:
//
//	go test -run=^$ -bench=BenchmarkAPI -benchtime=2000x ./internal/api/
func BenchmarkAPI(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, cat := openBench(b, ctx, backend)
			seedProject(b, ctx, cat, db, "k1", 1_000)
			seedProject(b, ctx, cat, db, "k100", 100_000)
			// Rate limits off: these time the handlers (BenchmarkRateLimit times the limits).
			e := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}}), cat: cat}

			b.Run("get", func(b *testing.B) {
				timed(b, func(i int) { e.must(b, 200, "GET", "/api/v2/metrics/k100/metric-050000", "") })
			})
			b.Run("list-1k", func(b *testing.B) {
				timed(b, func(i int) { e.must(b, 200, "GET", "/api/v2/metrics/k1"+benchFilter, "") })
			})
			b.Run("list-100k", func(b *testing.B) {
				timed(b, func(i int) { e.must(b, 200, "GET", "/api/v2/metrics/k100"+benchFilter, "") })
			})
			// A tag on 20 of the 100k metrics, newest first.
			rare := "?" + url.Values{"filter": {`tags contains ["rare"]`}, "sort": {"-createdAt"}}.Encode()
			b.Run("list-100k-rare-tag", func(b *testing.B) {
				timed(b, func(i int) { e.must(b, 200, "GET", "/api/v2/metrics/k100"+rare, "") })
			})
			b.Run("create", func(b *testing.B) {
				run := uuid.NewString()[:8]
				timed(b, func(i int) {
					e.must(b, 201, "POST", "/api/v2/metrics/k1",
						fmt.Sprintf(`{"key":"new-%s-%d","kind":"custom","eventKey":"e","tags":["bench"]}`, run, i))
				})
			})
			b.Run("patch", func(b *testing.B) {
				timed(b, func(i int) {
					e.must(b, 200, "PATCH", "/api/v2/metrics/k1/metric-000500",
						fmt.Sprintf(`[{"op":"replace","path":"/description","value":"revision %d"}]`, i))
				})
			})
		})
	}
}

// seedGroups creates n groups of size metrics each (every third a funnel)
// over a pool of conversion metrics in project key.
func seedGroups(b *testing.B, ctx context.Context, db *store.DB, cat *catalog.Services, key string, n, size int) {
	b.Helper()
	seedProject(b, ctx, cat, db, key, 40)
	p, _, err := cat.Projects.GetProject(ctx, key)
	if err != nil {
		b.Fatal(err)
	}
	owner, err := db.Owner(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// seedProject's metrics with i%4 == 0 are custom conversion metrics.
	var pool []string
	for i := 0; i < 40; i += 4 {
		pool = append(pool, fmt.Sprintf("metric-%06d", i))
	}
	found := map[string]*catalog.Metric{}
	for _, k := range pool {
		m, err := db.GetMetric(ctx, p.ID, k, "")
		if err != nil {
			b.Fatal(err)
		}
		found[k] = m
	}
	start := time.Now().Add(-time.Duration(n) * time.Second).UTC().Truncate(time.Millisecond)
	for g := range n {
		kind := catalog.GroupStandard
		if g%3 == 0 {
			kind = catalog.GroupFunnel
		}
		at := start.Add(time.Duration(g) * time.Second)
		grp := &catalog.MetricGroup{ID: uuid.NewString(), ProjectID: p.ID, ProjectKey: p.Key, Key: fmt.Sprintf("group-%05d", g), Version: 1,
			CreatedAt: at, UpdatedAt: at,
			Def: catalog.GroupDef{Name: fmt.Sprintf("Group %d %s", g, []string{"checkout", "signup"}[g%2]), Kind: kind, Tags: []string{}, MaintainerID: owner.ID}}
		for i := range size {
			m := found[pool[(g+i)%len(pool)]]
			grp.Metrics = append(grp.Metrics, catalog.GroupMetric{Metric: *m, NameInGroup: fmt.Sprintf("step %d", i+1)})
		}
		if err := db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) { return nil, tx.CreateMetricGroup(ctx, grp) }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGroups measures metric group reads through the HTTP handler:
//
//	go test -run=^$ -bench=BenchmarkGroups -benchtime=2000x ./internal/api/
func BenchmarkGroups(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, cat := openBench(b, ctx, backend)
			seedGroups(b, ctx, db, cat, "g10k", 10_000, 5)
			seedGroups(b, ctx, db, cat, "g10", 1, 10)
			// Steady state: statistics as autovacuum would have left them.
			if err := db.Analyze(ctx); err != nil {
				b.Fatal(err)
			}
			// Rate limits off: these time the handlers (BenchmarkRateLimit times the limits).
			e := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}}), cat: cat}
			list := "/api/v2/projects/g10k/metric-groups?" + url.Values{
				"filter": {`kind equals funnel and query equals 'checkout'`}, "sort": {"-createdAt"}, "limit": {"20"},
			}.Encode()
			b.Run("list-10k", func(b *testing.B) {
				timed(b, func(i int) { e.mustBeta(b, 200, "GET", list) })
			})
			b.Run("get-10-metrics", func(b *testing.B) {
				timed(b, func(i int) { e.mustBeta(b, 200, "GET", "/api/v2/projects/g10/metric-groups/group-00000") })
			})
		})
	}
}

func (e benchEnv) mustBeta(b *testing.B, want int, method, path string) {
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Authorization", benchToken)
	r.Header.Set("LD-API-Version", "beta")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: status %d, want %d: %s", method, path, w.Code, want, w.Body.String())
	}
}

// BenchmarkRateLimit measures a small GET with the rate limits off, counted
// in memory, and (on PostgreSQL) counted in the database the replicas
// share. The variants alternate request by request in one loop, so that
// load from other jobs on the machine hits them alike; it reports each
// one's median and its ratio to "off":
//
//	go test -run=^$ -bench=BenchmarkRateLimit -benchtime=3000x ./internal/api/
func BenchmarkRateLimit(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, cat := openBench(b, ctx, backend)
			// Windows too large to be spent: the cost of counting, not of 429s.
			huge := &ratelimit.Config{Global: 1 << 30, RouteRead: 1 << 30, RouteWrite: 1 << 30, TokenShare: 50}
			names := []string{"off", "memory"}
			envs := []benchEnv{
				{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}})},
				{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: huge})},
			}
			if c := db.RateCounter(); c != nil {
				names = append(names, "shared")
				envs = append(envs, benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: huge, RateCounter: c})})
			}
			const path = "/api/v2/projects/default"
			for _, e := range envs {
				// Warm: prepared statements and the token cache.
				for range 50 {
					e.must(b, 200, "GET", path, "")
				}
			}
			durs := make([][]time.Duration, len(envs))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				for j := range envs {
					k := (i + j) % len(envs)
					t0 := time.Now()
					envs[k].must(b, 200, "GET", path, "")
					durs[k] = append(durs[k], time.Since(t0))
				}
			}
			b.StopTimer()
			medians := make([]time.Duration, len(envs))
			for k := range durs {
				slices.Sort(durs[k])
				medians[k] = durs[k][len(durs[k])/2]
				b.ReportMetric(float64(medians[k].Microseconds())/1000, names[k]+"-p50-ms")
				if k > 0 {
					b.ReportMetric(float64(medians[k])/float64(medians[0]), names[k]+"/off")
				}
			}
		})
	}
}

// openBench opens a fresh database of backend for one benchmark, closed
// when it ends, with the services over it and the bench token bootstrapped.
func openBench(b *testing.B, ctx context.Context, backend string) (*store.DB, *catalog.Services) {
	b.Helper()
	return openBenchURL(b, ctx, testdb.New(b, backend).URL)
}

// openBenchURL is openBench on a given database.
func openBenchURL(b *testing.B, ctx context.Context, url string) (*store.DB, *catalog.Services) {
	b.Helper()
	db, cat, err := benchdata.Open(ctx, url, benchToken)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db, cat
}

// createInBatches creates the metrics metric(from) … metric(to-1) through
// the write seam, 2,000 to a transaction, as a bulk import would.
func createInBatches(b *testing.B, ctx context.Context, db *store.DB, from, to int, metric func(i int) *catalog.Metric) {
	b.Helper()
	for lo := from; lo < to; lo += 2000 {
		err := db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) {
			for i := lo; i < min(lo+2000, to); i++ {
				if err := tx.CreateMetric(ctx, metric(i)); err != nil {
					return nil, err
				}
			}
			return nil, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
