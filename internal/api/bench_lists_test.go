package api_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// BenchmarkListAdversarial measures list pages whose matches are bunched far
// from the top of the sort order: a project of 100,000 metrics whose oldest
// 50,000 follow seedProject's pattern (10 rotating tags, a quarter numeric,
// four names) and whose newest 50,000 match none of the filters below
// (tag "bulk", pageview, sum, names without those words). Newest-first
// pages of each filter must skip 50,000 metrics before the first match when
// they walk the sort index. The project grows through the write seam, with
// no explicit ANALYZE (the store keeps PostgreSQL's statistics itself). For
// each filter it reports the first request (nothing of the filter is cached
// yet; the median of three, through new DBs on the same database), the
// first request of a new filter of the same shape through the benchmark's
// own, warm DB (median of three, where the data has such twins), and the
// p50/p99 of the following ones, and the first
// request through DBs that read the whole match list before answering it
// (store.WithListReadFirst, the way before firstPage; median of three,
// alternating with the others); then, for each filter again, under a
// stream of creates (one every 2 ms), the p50/p99 of requests through a DB
// that patches its cached lists and, alternating with them, through one
// that reads them again after every write (store.WithoutListPatches, with
// store.WithListReadFirst so that it reads them before answering):
//
//	go test -run='^$' -bench=BenchmarkListAdversarial -benchtime=1x -timeout 30m ./internal/api/
func BenchmarkListAdversarial(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			dbURL := testdb.New(b, backend).URL
			db, cat := openBenchURL(b, ctx, dbURL)
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
			// Without the page cache: these runs measure the list itself
			// (a repeated page would be a memory copy).
			e := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}, PageCacheBytes: -1}), cat: cat}
			// Authenticated once, so that a first request costs its list
			// and nothing else.
			e.must(b, 200, "GET", "/api/v2/metrics/adv/metric-000001", "")
			// lists answers from cached match lists alone, as before the
			// project index: its steady pages, alternating with e's, are
			// the comparison (lists-p50-ms).
			listsDB, err := store.Open(ctx, dbURL, store.WithoutMetricIndex())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { listsDB.Close() })
			lists := benchEnv{srv: api.New(catalog.New(listsDB), api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}, PageCacheBytes: -1}), cat: catalog.New(listsDB)}
			lists.must(b, 200, "GET", "/api/v2/metrics/adv/metric-000001", "")
			// fresh opens the same database through a new DB (nothing
			// cached), reading new filters' lists before their first
			// page when readFirst (store.WithListReadFirst, as before
			// firstPage), authenticated once.
			fresh := func(readFirst bool) (*store.DB, benchEnv) {
				var opts []store.Option
				if readFirst {
					opts = append(opts, store.WithListReadFirst())
				}
				d, err := store.Open(ctx, dbURL, opts...)
				if err != nil {
					b.Fatal(err)
				}
				c := catalog.New(d)
				env := benchEnv{srv: api.New(c, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}, PageCacheBytes: -1}), cat: c}
				env.must(b, 200, "GET", "/api/v2/metrics/adv/metric-000001", "")
				return d, env
			}
			// variants are filters of the same shape that nothing has
			// asked for yet, with as many matches bunched the same way
			// where the data has such a twin (tags, queries, event keys),
			// else another value of the same condition: their first
			// requests through the benchmark's own DB, warm from the
			// requests before, are a new filter's first request in a
			// server that has been serving (warm-first-ms).
			filters := []struct {
				name, filter string
				variants     []string
			}{
				{"tag", `tags contains ["t3"]`, []string{`tags contains ["t5"]`, `tags contains ["t7"]`, `tags contains ["t9"]`}},
				{"tag-numeric", `tags contains ["t3"] and isNumeric equals true`, []string{`tags contains ["t5"] and isNumeric equals true`, `tags contains ["t7"] and isNumeric equals true`, `tags contains ["t1"] and isNumeric equals true`}},
				{"numeric", `isNumeric equals true`, []string{`isNumeric equals false`}},
				{"kind", `eventKind equals "custom"`, []string{`eventKind equals "click"`, `eventKind equals "pageview"`}},
				{"query", `query equals "checkout"`, []string{`query equals "signup"`, `query equals "latency"`, `query equals "errors"`}},
				{"unit-aggregation", `unitAggregationType equals "average"`, []string{`unitAggregationType equals "sum"`}},
				{"event-key", `eventKeys anyOf ["event-4000"]`, []string{`eventKeys anyOf ["event-4004"]`, `eventKeys anyOf ["event-4008"]`, `eventKeys anyOf ["event-4012"]`}},
				{"two-tags", `tags contains ["t3", "all"]`, []string{`tags contains ["t5", "all"]`, `tags contains ["t7", "all"]`, `tags contains ["t9", "all"]`}},
			}
			// A server that has been serving: its statements prepared
			// and planned, the project's index built.
			for range 10 {
				e.must(b, 200, "GET", "/api/v2/metrics/adv?limit=20&sort=-createdAt", "")
				lists.must(b, 200, "GET", "/api/v2/metrics/adv?limit=20&sort=-createdAt", "")
			}
			db.WaitListReads()
			listsDB.WaitListReads()
			for i, c := range filters {
				b.Run(c.name, func(b *testing.B) {
					path := "/api/v2/metrics/adv?" + url.Values{"filter": {c.filter}, "sort": {"-createdAt"}, "limit": {"20"}}.Encode()
					// The first request of the filter through fresh DBs of
					// both kinds, alternating; the medians of three.
					timeFirst := func(env benchEnv, path string) time.Duration {
						t0 := time.Now()
						env.must(b, 200, "GET", path, "")
						return time.Since(t0)
					}
					// New filters through the warm DB, one at a time, before
					// the new DBs below: opening one on PostgreSQL checks the
					// planner statistics and may run VACUUM (ANALYZE), which
					// also invalidates every prepared statement's plan.
					// Each also a second time: what the same page costs
					// once it is not new, outside the steady loop below.
					var warmFirsts, warmAgains []time.Duration
					for _, v := range c.variants {
						db.WaitListReads()
						vpath := "/api/v2/metrics/adv?" + url.Values{"filter": {v}, "sort": {"-createdAt"}, "limit": {"20"}}.Encode()
						warmFirsts = append(warmFirsts, timeFirst(e, vpath))
						warmAgains = append(warmAgains, timeFirst(e, vpath))
					}
					// Not while the previous filter's list is being read.
					db.WaitListReads()
					var firsts, readFirsts []time.Duration
					for rep := range 3 {
						nd, ne := fresh(false)
						od, oe := fresh(true)
						if (i+rep)%2 == 0 {
							readFirsts = append(readFirsts, timeFirst(oe, path))
							firsts = append(firsts, timeFirst(ne, path))
						} else {
							firsts = append(firsts, timeFirst(ne, path))
							readFirsts = append(readFirsts, timeFirst(oe, path))
						}
						// Not while that DB's list is being read.
						nd.Close()
						od.Close()
					}
					db.WaitListReads()
					// This DB's first request (not timed) starts its
					// list, as any first request does.
					e.must(b, 200, "GET", path, "")
					lists.must(b, 200, "GET", path, "")
					listsDB.WaitListReads()
					slices.Sort(firsts)
					slices.Sort(readFirsts)
					first, readFirst := firsts[1], readFirsts[1]
					var durs, listDurs []time.Duration
					for b.Loop() {
						for range 50 {
							t0 := time.Now()
							e.must(b, 200, "GET", path, "")
							durs = append(durs, time.Since(t0))
							t0 = time.Now()
							lists.must(b, 200, "GET", path, "")
							listDurs = append(listDurs, time.Since(t0))
						}
					}
					slices.Sort(durs)
					slices.Sort(listDurs)
					p50 := durs[len(durs)/2]
					b.ReportMetric(float64(listDurs[len(listDurs)/2].Microseconds())/1000, "lists-p50-ms")
					b.ReportMetric(float64(readFirst.Microseconds())/1000, "readfirst-first-ms")
					b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
					b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(first)/float64(p50), "first/p50")
					if len(warmFirsts) > 0 {
						slices.Sort(warmFirsts)
						slices.Sort(warmAgains)
						b.ReportMetric(float64(warmAgains[len(warmAgains)/2].Microseconds())/1000, "warm-again-ms")
						warm := warmFirsts[len(warmFirsts)/2]
						b.ReportMetric(float64(warm.Microseconds())/1000, "warm-first-ms")
						b.ReportMetric(float64(warm)/float64(p50), "warm-first/p50")
					}
				})
			}
			// Under a stream of writes (a create every 2 ms through the
			// write seam, each a new generation): requests through the
			// DB with the project index alternate with requests through
			// one that patches its cached match lists (lists-*) and one
			// (same database) that reads them again after every write,
			// as before the change log (reread-*).
			reread, err := store.Open(ctx, dbURL, store.WithoutListPatches(), store.WithListReadFirst())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { reread.Close() })
			r := benchEnv{srv: api.New(catalog.New(reread), api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}, PageCacheBytes: -1}), cat: catalog.New(reread)}
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
					m := benchMetric(p, owner.ID, n+i, time.Now().UTC().Truncate(time.Millisecond))
					m.Def.Tags = []string{"stream"}
					if err := db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) { return nil, tx.CreateMetric(ctx, m) }); err != nil {
						panic(err)
					}
				}
			}()
			defer func() { close(stop); <-done }()
			for _, c := range filters {
				b.Run("writes/"+c.name, func(b *testing.B) {
					path := "/api/v2/metrics/adv?" + url.Values{"filter": {c.filter}, "sort": {"-createdAt"}, "limit": {"20"}}.Encode()
					e.must(b, 200, "GET", path, "")
					lists.must(b, 200, "GET", path, "")
					var patched, listed, reread []time.Duration
					for b.Loop() {
						for range 30 {
							t0 := time.Now()
							e.must(b, 200, "GET", path, "")
							patched = append(patched, time.Since(t0))
							t0 = time.Now()
							lists.must(b, 200, "GET", path, "")
							listed = append(listed, time.Since(t0))
							t0 = time.Now()
							r.must(b, 200, "GET", path, "")
							reread = append(reread, time.Since(t0))
						}
					}
					slices.Sort(patched)
					slices.Sort(listed)
					slices.Sort(reread)
					b.ReportMetric(float64(listed[len(listed)/2].Microseconds())/1000, "lists-p50-ms")
					b.ReportMetric(float64(listed[len(listed)*99/100].Microseconds())/1000, "lists-p99-ms")
					b.ReportMetric(float64(patched[len(patched)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(patched[len(patched)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(reread[len(reread)/2].Microseconds())/1000, "reread-p50-ms")
					b.ReportMetric(float64(reread[len(reread)*99/100].Microseconds())/1000, "reread-p99-ms")
				})
			}
		})
	}
}
