// Package obs holds metricsd's Prometheus metrics: one registry per
// process, owned by whoever calls NewMetrics, never a global one. Other
// packages feed it through the small observer interfaces declared here, so
// that they depend on an interface, not on Prometheus.
package obs

import (
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metricsd series.
const namespace = "metricsd"

// RequestObserver learns about every HTTP request the API serves.
type RequestObserver interface {
	// RequestStarted and RequestFinished bracket one request; route is the
	// route table's pattern (never the raw path), so the series stay few.
	RequestStarted()
	RequestFinished(route, method string, status int, d time.Duration)
}

// AuditObserver learns about committed audit entries: the write seam calls
// it once per entry after its transaction committed; kind is the entry's
// target kind (metric, metric-group, project, ...).
type AuditObserver interface {
	AuditWritten(kind string)
}

// CacheObserver learns whether a cache lookup found its entry. cache names
// the cache ("auth", "metric", ...); the hit ratio is
// rate(hits) / rate(hits + misses).
type CacheObserver interface {
	CacheLookup(cache string, hit bool)
}

// RateLimitObserver learns about requests refused by a limiter; limiter
// names the window that was spent ("global", "route", "token", "address",
// "auth_failures").
type RateLimitObserver interface {
	RateLimited(limiter string)
}

// IngestObserver learns about SDK events accepted for ingestion and about
// each flush of accepted events to the store.
type IngestObserver interface {
	EventsIngested(n int)
	Flushed(events int, d time.Duration, err error)
}

// Metrics is the set of metricsd's Prometheus series and the registry that
// serves them. It implements every observer interface of this package.
type Metrics struct {
	reg *prometheus.Registry

	inFlight  prometheus.Gauge
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	audit     *prometheus.CounterVec
	cache     *prometheus.CounterVec
	limited   *prometheus.CounterVec
	rateFails prometheus.Counter
	events    prometheus.Counter
	flushes   *prometheus.CounterVec
	flushTime prometheus.Histogram

	// series remembers the request series of each route, method and
	// status already seen, and lookups the cache counters: a request
	// finds its series with one map read, not a hash of its label values
	// per vector. Both stay as few as the series themselves.
	mu      sync.RWMutex
	series  map[requestKey]requestSeries
	lookups map[lookupKey]prometheus.Counter
}

type requestKey struct {
	route, method string
	status        int
}

type requestSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

type lookupKey struct {
	cache string
	hit   bool
}

var (
	_ RequestObserver   = (*Metrics)(nil)
	_ AuditObserver     = (*Metrics)(nil)
	_ CacheObserver     = (*Metrics)(nil)
	_ RateLimitObserver = (*Metrics)(nil)
	_ IngestObserver    = (*Metrics)(nil)
)

// NewMetrics returns a fresh registry holding metricsd's series and the Go
// runtime and process collectors. version is reported by metricsd_build_info.
func NewMetrics(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), series: map[requestKey]requestSeries{}, lookups: map[lookupKey]prometheus.Counter{}}
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "http_requests_in_flight",
		Help: "HTTP requests being served.",
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests served, by route pattern, method and status code.",
	}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time to serve an HTTP request, by route pattern, method and status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "status"})
	m.audit = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "audit_entries_written_total",
		Help: "Audit entries committed with their change, by target kind.",
	}, []string{"kind"})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cache_lookups_total",
		Help: "Cache lookups by cache and result (hit or miss).",
	}, []string{"cache", "result"})
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limit_rejections_total",
		Help: "Requests refused with 429, by limiter.",
	}, []string{"limiter"})
	m.rateFails = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limit_shared_counter_failures_total",
		Help: "Requests counted by this replica alone because the shared rate-limit counter failed or was too slow.",
	})
	m.events = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "events_ingested_total",
		Help: "SDK events accepted for ingestion.",
	})
	m.flushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "event_flushes_total",
		Help: "Flushes of ingested events to the store, by result (ok or error).",
	}, []string{"result"})
	m.flushTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "event_flush_duration_seconds",
		Help:    "Time to flush a batch of ingested events to the store.",
		Buckets: prometheus.ExponentialBuckets(.001, 2.5, 10),
	})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the version label is metricsd's version.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	// Known label values start at 0, so that their series exist before
	// the first event and rate() sees the first one.
	for _, l := range []string{"global", "route", "token", "address", "auth_failures"} {
		m.limited.WithLabelValues(l)
	}
	for _, r := range []string{"ok", "error"} {
		m.flushes.WithLabelValues(r)
	}
	m.reg.MustRegister(m.inFlight, m.requests, m.latency, m.audit, m.cache, m.limited, m.rateFails,
		m.events, m.flushes, m.flushTime, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry the series are registered with.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Pool is a database connection pool whose sql.DBStats are exported under
// go_sql_*{db_name=Name}.
type Pool struct {
	Name string
	DB   *sql.DB
}

// WatchPools exports the statistics of each pool, read at every scrape.
func (m *Metrics) WatchPools(pools []Pool) {
	for _, p := range pools {
		m.reg.MustRegister(collectors.NewDBStatsCollector(p.DB, p.Name))
	}
}

// RequestStarted implements RequestObserver.
func (m *Metrics) RequestStarted() { m.inFlight.Inc() }

// RequestFinished implements RequestObserver.
func (m *Metrics) RequestFinished(route, method string, status int, d time.Duration) {
	m.inFlight.Dec()
	method = boundedMethod(method)
	k := requestKey{route, method, status}
	m.mu.RLock()
	rs, ok := m.series[k]
	m.mu.RUnlock()
	if !ok {
		st := strconv.Itoa(status)
		rs = requestSeries{
			requests: m.requests.WithLabelValues(route, method, st),
			latency:  m.latency.WithLabelValues(route, method, st),
		}
		m.mu.Lock()
		m.series[k] = rs
		m.mu.Unlock()
	}
	rs.requests.Inc()
	rs.latency.Observe(d.Seconds())
}

// boundedMethod keeps the method label to the methods HTTP defines, so that
// a client inventing methods cannot add series.
func boundedMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// AuditWritten implements AuditObserver.
func (m *Metrics) AuditWritten(kind string) { m.audit.WithLabelValues(kind).Inc() }

// CacheLookup implements CacheObserver.
func (m *Metrics) CacheLookup(cache string, hit bool) {
	k := lookupKey{cache, hit}
	m.mu.RLock()
	c, ok := m.lookups[k]
	m.mu.RUnlock()
	if !ok {
		result := "miss"
		if hit {
			result = "hit"
		}
		c = m.cache.WithLabelValues(cache, result)
		m.mu.Lock()
		m.lookups[k] = c
		m.mu.Unlock()
	}
	c.Inc()
}

// RateLimited implements RateLimitObserver.
func (m *Metrics) RateLimited(limiter string) { m.limited.WithLabelValues(limiter).Inc() }

// RateCounterFailed counts a request the shared rate-limit counter could
// not count.
func (m *Metrics) RateCounterFailed() { m.rateFails.Inc() }

// EventsIngested implements IngestObserver.
func (m *Metrics) EventsIngested(n int) { m.events.Add(float64(n)) }

// Flushed implements IngestObserver.
func (m *Metrics) Flushed(events int, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.flushes.WithLabelValues(result).Inc()
	m.flushTime.Observe(d.Seconds())
}

// Discard is an observer of every kind that records nothing, for code run
// without metrics (tests, tools).
type Discard struct{}

// RequestStarted implements RequestObserver.
func (Discard) RequestStarted() {}

// RequestFinished implements RequestObserver.
func (Discard) RequestFinished(string, string, int, time.Duration) {}

// AuditWritten implements AuditObserver.
func (Discard) AuditWritten(string) {}

// CacheLookup implements CacheObserver.
func (Discard) CacheLookup(string, bool) {}

// RateLimited implements RateLimitObserver.
func (Discard) RateLimited(string) {}

// EventsIngested implements IngestObserver.
func (Discard) EventsIngested(int) {}

// Flushed implements IngestObserver.
func (Discard) Flushed(int, time.Duration, error) {}
