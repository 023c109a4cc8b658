package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/obs"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// BenchmarkCachedGetHandler is the handler's own cost of a cached GET of
// one metric (the path wrk-get.sh loads), with the Prometheus registry and
// the request deadline as metricsd serves them, no network: allocations
// per request and CPU, for profiles of the middleware.
//
//	go test -run='^$' -bench=BenchmarkCachedGetHandler/sqlite -benchmem -cpuprofile cpu.out ./internal/api/
func BenchmarkCachedGetHandler(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			_, cat := openBench(b, ctx, backend)
			srv := api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}, Observer: obs.NewMetrics("bench")})
			e := benchEnv{srv: srv, cat: cat}
			e.must(b, 201, "POST", "/api/v2/metrics/default", `{"key":"m","kind":"custom","eventKey":"e"}`)
			const path = "/api/v2/metrics/default/m"
			e.must(b, 200, "GET", path, "")
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Header.Set("Authorization", benchToken)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
