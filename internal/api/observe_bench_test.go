package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/metricsd/metricsd/internal/obs"
)

// BenchmarkObserve measures what the request-ID and metrics middleware adds
// to a request, against the bare handler it wraps:
//
//	go test -run=^$ -bench=BenchmarkObserve -benchmem ./internal/api/
func BenchmarkObserve(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routed(r, "/api/v2/metrics/{projectKey}/{metricKey}")
		w.WriteHeader(http.StatusOK)
	})
	req := httptest.NewRequest("GET", "/api/v2/metrics/default/m", nil)
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", bare},
		{"discard", func() http.Handler { s := &Server{obs: obs.Discard{}}; s.init(); return s.observe(bare) }()},
		{"prometheus", func() http.Handler { s := &Server{obs: obs.NewMetrics("bench")}; s.init(); return s.observe(bare) }()},
	} {
		b.Run(c.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			for b.Loop() {
				clear(w.Header())
				c.h.ServeHTTP(w, req)
			}
		})
	}
}
