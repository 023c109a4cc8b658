package api_test

import (
	"context"
	"net/url"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// scaleFilters are the list pages of the one-million-metric measurements
// (internal/perf/scale-1m.sh fetches the same ones over loopback), on the
// default project seeded by internal/perf/seed. The counts are of 1M
// metrics in benchdata.Metric's pattern.
var scaleFilters = []struct{ name, query string }{
	// 50,000 matches.
	{"tag-numeric", url.Values{"filter": {`tags contains ["t3"] and isNumeric equals true`}, "sort": {"-createdAt"}, "limit": {"20"}}.Encode()},
	// 100,000: the largest cached match list.
	{"tag", url.Values{"filter": {`tags contains ["t3"]`}, "sort": {"-createdAt"}, "limit": {"20"}}.Encode()},
	// 200.
	{"rare-tag", url.Values{"filter": {`tags contains ["rare"]`}, "sort": {"-createdAt"}, "limit": {"20"}}.Encode()},
	// 50,000, three conditions.
	{"combined", url.Values{"filter": {`query equals "latency" and tags contains ["t2"] and eventKind equals "pageview"`}, "sort": {"-createdAt"}, "limit": {"20"}}.Encode()},
	// 250,000: more than a list holds, so the sort index is walked.
	{"numeric", url.Values{"filter": {`isNumeric equals true`}, "sort": {"-createdAt"}, "limit": {"20"}}.Encode()},
	// 1,000,000 by name.
	{"all-by-name", url.Values{"filter": {`tags contains ["all"]`}, "sort": {"name"}, "limit": {"20"}}.Encode()},
	// No filter, the first page.
	{"unfiltered", url.Values{"limit": {"20"}}.Encode()},
}

// BenchmarkScale1M measures GET one metric and the list pages of
// scaleFilters through the handler on an existing SQLite database of a
// million metrics (internal/perf/scale-1m.sh builds it), named by
// METRICSD_BENCH_1M_DB; without it the benchmark is skipped, so CI never
// builds one:
//
//	METRICSD_BENCH_1M_DB=/tmp/scale-1m.db go test -run='^$' -bench=BenchmarkScale1M -benchtime=2000x -timeout 30m ./internal/api/
//
// For each page it reports the p50/p99 and the time of its first request
// (all first requests run before any sub-benchmark, so each found nothing
// cached), and last the Go heap in use and the memory the Go runtime holds.
func BenchmarkScale1M(b *testing.B) {
	path := os.Getenv("METRICSD_BENCH_1M_DB")
	if path == "" {
		b.Skip("METRICSD_BENCH_1M_DB names no database (internal/perf/scale-1m.sh builds one)")
	}
	ctx := context.Background()
	_, cat := openBenchURL(b, ctx, "sqlite:"+path)
	e := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}}), cat: cat}
	// The first request of each page, in order, before any is cached.
	first := map[string]float64{}
	for _, c := range scaleFilters {
		t0 := time.Now()
		e.must(b, 200, "GET", "/api/v2/metrics/default?"+c.query, "")
		first[c.name] = float64(time.Since(t0).Microseconds()) / 1000
	}
	b.Run("get", func(b *testing.B) {
		timed(b, func(i int) { e.must(b, 200, "GET", "/api/v2/metrics/default/metric-500000", "") })
	})
	for _, c := range scaleFilters {
		b.Run(c.name, func(b *testing.B) {
			p := "/api/v2/metrics/default?" + c.query
			timed(b, func(i int) { e.must(b, 200, "GET", p, "") })
			b.ReportMetric(first[c.name], "first-ms")
		})
	}
	b.Run("memory", func(b *testing.B) {
		for b.Loop() {
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MiB")
		b.ReportMetric(float64(ms.Sys)/(1<<20), "go-sys-MiB")
	})
}
