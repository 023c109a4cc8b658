package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/version"
)

const observeToken = "api-observe-0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"

// openServe opens and serves an App, stopping it when t ends.
func openServe(t *testing.T, cfg Config, log *slog.Logger) *App {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Open(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return a
}

func send(t *testing.T, method, url, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", observeToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// scrape fetches /metrics and parses the text format.
func scrape(t *testing.T, a *App) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + a.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return families, string(body)
}

// value is the value of the series of family name whose labels include
// want, and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsEndpoint serves a few requests and checks that the scrape of
// the metrics listener parses and counts them under their route patterns,
// with the pool, audit and auth-cache series, and holds no secret.
func TestMetricsEndpoint(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		a := openServe(t, Config{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", DatabaseURL: b.URL,
			AdminToken: observeToken, AuthCacheTTL: time.Minute, RequestTimeout: 10 * time.Second,
			RateLimits: &ratelimit.Config{Global: 1000, RouteRead: 2, RouteWrite: 100},
			// A clock that stands still keeps the three GETs in one window
			// however slow the machine is.
			Clock: func() time.Time { return time.UnixMilli(1_700_000_005_000).UTC() }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		base := "http://" + a.Addr().String()
		for i := range 3 {
			// The third one spends the route's window of 2.
			if st, _, body := send(t, "GET", base+"/api/v2/projects", ""); st != 200 && i < 2 || st != 429 && i == 2 {
				t.Fatalf("GET projects #%d: %d %s", i+1, st, body)
			}
		}
		if st, _, body := send(t, "POST", base+"/api/v2/metrics/default", `{"key":"m1","name":"M1","kind":"custom","eventKey":"e1","isNumeric":false}`); st != 201 {
			t.Fatalf("POST metric: %d %s", st, body)
		}
		if st, _, _ := send(t, "GET", base+"/api/v2/metrics/default/nope", ""); st != 404 {
			t.Fatalf("GET missing metric: %d", st)
		}
		// Through the method override the route's method is PATCH.
		if st, _, body := send(t, "POST", base+"/api/v2/metrics/default/nope", `[]`); st != 405 {
			t.Fatalf("POST to a metric: %d %s", st, body)
		}
		if st, _, _ := send(t, "GET", base+"/no/such/path/secret-ish", ""); st != 404 {
			t.Fatalf("GET unknown path: %d", st)
		}
		if st, _, _ := send(t, "GET", base+"/healthz", ""); st != 200 {
			t.Fatalf("healthz: %d", st)
		}

		families, text := scrape(t, a)
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"metricsd_http_requests_total", map[string]string{"route": "/api/v2/projects", "method": "GET", "status": "200"}, 2},
			{"metricsd_http_request_duration_seconds", map[string]string{"route": "/api/v2/projects", "method": "GET", "status": "200"}, 2},
			{"metricsd_http_requests_total", map[string]string{"route": "/api/v2/projects", "method": "GET", "status": "429"}, 1},
			{"metricsd_http_requests_total", map[string]string{"route": "/api/v2/metrics/{projectKey}", "method": "POST", "status": "201"}, 1},
			{"metricsd_http_requests_total", map[string]string{"route": "/api/v2/metrics/{projectKey}/{metricKey}", "method": "GET", "status": "404"}, 1},
			{"metricsd_http_requests_total", map[string]string{"route": "/api/v2/metrics/{projectKey}/{metricKey}", "method": "POST", "status": "405"}, 1},
			{"metricsd_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "status": "404"}, 1},
			{"metricsd_http_requests_total", map[string]string{"route": "/healthz", "method": "GET", "status": "200"}, 1},
			{"metricsd_http_requests_in_flight", nil, 0},
			{"metricsd_audit_entries_written_total", map[string]string{"kind": "metric"}, 1},
			// The first API request of the token missed the cache; the
			// other five found it.
			{"metricsd_cache_lookups_total", map[string]string{"cache": "auth", "result": "miss"}, 1},
			{"metricsd_cache_lookups_total", map[string]string{"cache": "auth", "result": "hit"}, 5},
			{"metricsd_rate_limit_rejections_total", map[string]string{"limiter": "route"}, 1},
			{"metricsd_rate_limit_rejections_total", map[string]string{"limiter": "global"}, 0},
			{"metricsd_rate_limit_shared_counter_failures_total", nil, 0},
			{"metricsd_rate_limit_rejections_total", map[string]string{"limiter": "auth_failures"}, 0},
			{"metricsd_events_ingested_total", nil, 0},
			{"metricsd_event_flush_duration_seconds", nil, 0},
			{"metricsd_build_info", map[string]string{"version": version.Read().String()}, 1},
		} {
			got, ok := value(families, c.name, c.labels)
			if !ok || got != c.want {
				t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
			}
		}
		pools := []string{"sqlite_read", "sqlite_write"}
		if b.Name == "postgres" {
			pools = []string{"postgres"}
		}
		for _, p := range pools {
			if n, ok := value(families, "go_sql_max_open_connections", map[string]string{"db_name": p}); !ok || n < 1 {
				t.Errorf("go_sql_max_open_connections{db_name=%q} = %v (present %v), want ≥ 1", p, n, ok)
			}
		}
		for _, secret := range []string{observeToken, b.URL, "secret-ish"} {
			if strings.Contains(text, secret) {
				t.Errorf("scrape contains %q", secret)
			}
		}
		if strings.Contains(text, "/no/such") {
			t.Errorf("scrape contains a raw path")
		}
	})
}

func TestMetricsOffByDefault(t *testing.T) {
	cfg, err := ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsAddr != "" {
		t.Errorf("MetricsAddr default %q, want empty (no metrics listener)", cfg.MetricsAddr)
	}
	a := openServe(t, Config{Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + t.TempDir() + "/m.db"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if a.MetricsAddr() != nil {
		t.Errorf("metrics listener at %v without --metrics-addr", a.MetricsAddr())
	}
	if st, _, _ := send(t, "GET", "http://"+a.Addr().String()+"/metrics", ""); st != 404 {
		t.Errorf("GET /metrics on the API listener: %d, want 404", st)
	}
}

func TestMainVersion(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := Main(context.Background(), []string{"version"}, func(string) string { return "" }, &stdout, &stderr); code != 0 {
		t.Fatalf("metricsd version: exit %d; stderr %s", code, stderr.String())
	}
	if first, _, _ := strings.Cut(stdout.String(), "\n"); first != "metricsd "+version.Read().String() {
		t.Errorf("metricsd version printed %q, want first line %q", stdout.String(), "metricsd "+version.Read().String())
	}
	if code := Main(context.Background(), []string{"version", "extra"}, func(string) string { return "" }, &stdout, &stderr); code != 2 {
		t.Errorf("metricsd version extra: exit %d, want 2", code)
	}
}

// TestReadinessDuringMigrations holds PostgreSQL's migration lock, so that
// start-up waits in its migrations, and checks the start-up contract: the
// listener answers at once, /healthz 200 "starting", /readyz 503, the API
// 503 in LaunchDarkly's error JSON; once the lock is released Open returns
// and /readyz answers 200.
func TestReadinessDuringMigrations(t *testing.T) {
	b := testdb.New(t, "postgres")
	locker, err := sql.Open("pgx", os.Getenv(testdb.EnvPostgres))
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	ctx := context.Background()
	tx, err := locker.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(727274)"); err != nil {
		t.Fatal(err)
	}
	// The address must be known before Open returns.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	opened := make(chan *App, 1)
	openErr := make(chan error, 1)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		a, err := Open(sctx, Config{Addr: addr, DatabaseURL: b.URL, AdminToken: observeToken, RequestTimeout: 10 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			openErr <- err
			return
		}
		opened <- a
	}()
	base := "http://" + addr
	// Wait for the listener.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listener at %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantStatus := func(path string, status int, state string) {
		t.Helper()
		st, h, body := send(t, "GET", base+path, "")
		var got map[string]string
		_ = json.Unmarshal(body, &got)
		if st != status || got["status"] != state || got["version"] != version.Read().String() {
			t.Errorf("GET %s: %d %s, want %d with status %q and the version", path, st, body, status, state)
		}
		if h.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no X-Request-Id", path)
		}
	}
	wantStatus("/healthz", 200, "starting")
	wantStatus("/readyz", 503, "starting")
	st, h, body := send(t, "GET", base+"/api/v2/projects", "")
	var e struct{ Code, Message, ID string }
	if err := json.Unmarshal(body, &e); err != nil || st != 503 || e.Code != "service_unavailable" || e.ID != h.Get("X-Request-Id") || e.ID == "" {
		t.Errorf("GET /api/v2/projects while migrating: %d %s (X-Request-Id %q), want 503 service_unavailable with the request's id", st, body, h.Get("X-Request-Id"))
	}
	select {
	case err := <-openErr:
		t.Fatalf("Open failed while migrations waited: %v", err)
	case <-opened:
		t.Fatal("Open returned while the migration lock was held")
	default:
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	var a *App
	select {
	case err := <-openErr:
		t.Fatalf("Open: %v", err)
	case a = <-opened:
	case <-time.After(30 * time.Second):
		t.Fatal("Open did not return within 30s of the lock's release")
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx) }()
	wantStatus("/readyz", 200, "ready")
	wantStatus("/healthz", 200, "ok")
	if st, _, body := send(t, "GET", base+"/api/v2/projects", ""); st != 200 {
		t.Errorf("GET /api/v2/projects once ready: %d %s", st, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
