package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/openapi"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRequestIDs checks that every response carries X-Request-Id, that an
// error body's id is that ID, that a sane client ID is kept and any other
// replaced by a fresh UUID, and that the request's log lines name it.
func TestRequestIDs(t *testing.T) {
	var logs syncBuffer
	// Wrapped as internal/app wraps its logger; New wraps it again.
	log := slog.New(api.LogHandler(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	srv, _, _ := newTestServer(t, api.Options{Logger: log})
	for _, c := range []struct {
		name, method, path, token, incoming string
		status                              int
		keep                                bool
	}{
		{"success", "GET", "/api/v2/projects", benchToken, "", 200, false},
		{"not found", "GET", "/api/v2/metrics/default/nope", benchToken, "", 404, false},
		{"unauthorized", "GET", "/api/v2/projects", "", "", 401, false},
		{"unknown path", "GET", "/nowhere", "", "", 404, false},
		{"method not allowed", "PUT", "/api/v2/projects", benchToken, "", 405, false},
		{"healthz", "GET", "/healthz", "", "", 200, false},
		{"sane client id", "GET", "/api/v2/metrics/default/nope", benchToken, "trace-01:abc_DEF.9", 404, true},
		{"uuid client id", "GET", "/api/v2/metrics/default/nope", benchToken, "0b6f1c9e-3a1d-4b8e-9f7a-2c5d8e1f4a3b", 404, true},
		{"client id with a space", "GET", "/api/v2/metrics/default/nope", benchToken, "a b", 404, false},
		{"client id with a quote", "GET", "/api/v2/metrics/default/nope", benchToken, `a"b`, 404, false},
		{"client id too long", "GET", "/api/v2/metrics/default/nope", benchToken, strings.Repeat("a", 129), 404, false},
		{"client id of the longest length", "GET", "/api/v2/metrics/default/nope", benchToken, strings.Repeat("a", 128), 404, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, nil)
			if c.token != "" {
				req.Header.Set("Authorization", c.token)
			}
			if c.incoming != "" {
				req.Header.Set("X-Request-Id", c.incoming)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, c.status, rec.Body)
			}
			id := rec.Header().Get("X-Request-Id")
			if c.keep {
				if id != c.incoming {
					t.Errorf("X-Request-Id %q, want the client's %q", id, c.incoming)
				}
			} else if _, err := uuid.Parse(id); err != nil {
				t.Errorf("X-Request-Id %q is not a fresh UUID", id)
			}
			if c.status >= 400 {
				var e struct{ Code, Message, ID string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
					t.Fatalf("error body %s: %v", rec.Body, err)
				}
				if e.ID != id {
					t.Errorf("error body id %q, X-Request-Id %q: want them equal", e.ID, id)
				}
			}
			if exposed := rec.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(exposed, "X-Request-Id") {
				t.Errorf("Access-Control-Expose-Headers %q lacks X-Request-Id", exposed)
			}
			// The debug request line names the request's ID.
			found := false
			for _, line := range strings.Split(logs.String(), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" && rec["request_id"] == id {
					found = true
				}
			}
			if !found {
				t.Errorf("no request log line with request_id %q:\n%s", id, logs.String())
			}
		})
	}
	// Every log line written while serving a request has its ID.
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if id, _ := rec["request_id"].(string); id == "" || strings.Count(line, `"request_id"`) != 1 {
			t.Errorf("log line without request_id, or with two: %s", line)
		}
	}
}

// TestStartingHandler checks what is served while the store is migrated.
func TestStartingHandler(t *testing.T) {
	h := api.Starting(api.Options{Version: "v9.9.9"})
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/healthz", 200, `{"status":"starting","version":"v9.9.9"}`},
		{"/readyz", 503, `{"status":"starting","version":"v9.9.9"}`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != c.status || strings.TrimSpace(rec.Body.String()) != c.body {
			t.Errorf("GET %s: %d %s, want %d %s", c.path, rec.Code, rec.Body, c.status, c.body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v2/projects", nil))
	var e struct{ Code, Message, ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusServiceUnavailable || e.Code != "service_unavailable" || e.ID != rec.Header().Get("X-Request-Id") {
		t.Errorf("GET /api/v2/projects while starting: %d %s, want 503 service_unavailable with the X-Request-Id as id", rec.Code, rec.Body)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Errorf("no Retry-After while starting")
	}
}

// TestOpenAPIServed checks that GET /api/v2/openapi.json serves metricsd's
// document with the server's version, to authenticated callers.
func TestOpenAPIServed(t *testing.T) {
	srv, _, _ := newTestServer(t, api.Options{Version: "v1.2.3"})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v2/openapi.json", nil)
	req.Header.Set("Authorization", benchToken)
	srv.ServeHTTP(rec, req)
	want, err := openapi.Document("v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("GET /api/v2/openapi.json: %d %s, %d bytes; want 200 application/json, Document(v1.2.3)", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
	var doc struct {
		Info struct{ Version string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc.Info.Version != "v1.2.3" {
		t.Errorf("info.version %q (%v), want v1.2.3", doc.Info.Version, err)
	}
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v2/openapi.json", nil))
	if rec.Code != 401 {
		t.Errorf("GET /api/v2/openapi.json without a token: %d, want 401", rec.Code)
	}
}

// countingObserver records what the API reports.
type countingObserver struct {
	mu       sync.Mutex
	started  int
	finished []string // "route method status"
	limited  map[string]int
	cache    map[string]int // "cache hit|miss"
}

func (o *countingObserver) RequestStarted() { o.mu.Lock(); o.started++; o.mu.Unlock() }
func (o *countingObserver) RequestFinished(route, method string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, fmt.Sprintf("%s %s %d", route, method, status))
}
func (o *countingObserver) RateLimited(l string) { o.mu.Lock(); o.limited[l]++; o.mu.Unlock() }
func (o *countingObserver) CacheLookup(c string, hit bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cache[fmt.Sprintf("%s %v", c, hit)]++
}

// TestObserverFed checks the route labels and the cache reports the API
// gives its observer (rate-limit rejections reach the metrics through
// Options.RateObserver; internal/app tests them).
func TestObserverFed(t *testing.T) {
	o := &countingObserver{limited: map[string]int{}, cache: map[string]int{}}
	srv, _, _ := newTestServer(t, api.Options{Observer: o, RateLimits: &ratelimit.Config{Global: 1}, AuthCacheTTL: time.Minute})
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v2/metrics/default/m1", 404},
		{"GET", "/api/v2/projects", 429},
		{"GET", "/healthz", 200},
		{"GET", "/x/y", 404},
		{"GET", "/api/v2/nowhere", 429},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		req.Header.Set("Authorization", benchToken)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Fatalf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.status)
		}
	}
	want := []string{
		"/api/v2/metrics/{projectKey}/{metricKey} GET 404",
		// Refused before routing, yet labelled with its pattern.
		"/api/v2/projects GET 429",
		"/healthz GET 200",
		"unmatched GET 404",
		"unmatched GET 429",
	}
	if fmt.Sprint(o.finished) != fmt.Sprint(want) || o.started != len(want) {
		t.Errorf("requests reported %q (%d started), want %q", o.finished, o.started, want)
	}
	if o.cache["auth false"] != 1 || o.cache["auth true"] != 2 {
		t.Errorf("auth cache lookups %v, want one miss and two hits", o.cache)
	}
}
