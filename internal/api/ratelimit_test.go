package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/testclock"
)

// windowStart is the start of a rate limit window.
var windowStart = time.Unix(1_900_000_000, 0)

// rejections counts the Observer's calls.
type rejections struct {
	mu  sync.Mutex
	got []ratelimit.Rejection
}

func (r *rejections) Rejected(x ratelimit.Rejection) {
	r.mu.Lock()
	r.got = append(r.got, x)
	r.mu.Unlock()
}
func (r *rejections) CounterFailed(error) {}

const secondToken = "api-second-token-for-rate-limits"

func headerInt(t *testing.T, h http.Header, name string) int {
	t.Helper()
	v, err := strconv.Atoi(h.Get(name))
	if err != nil {
		t.Fatalf("header %s = %q, want an integer", name, h.Get(name))
	}
	return v
}

// TestRateLimitsOnByDefault: a server started without rate limit options
// limits: one token gets its 500 requests (its default share of the
// default global window of 1000) and then 429.
func TestRateLimitsOnByDefault(t *testing.T) {
	clk := testclock.New(windowStart.Add(2 * time.Second))
	srv, _, _ := newTestServer(t, api.Options{Clock: clk.Now})
	for i := range 500 {
		a := call(t, srv, "GET", "/api/v2/projects/default", "", benchToken, "192.0.2.1:1")
		if a.status != http.StatusOK {
			t.Fatalf("request %d: %d, want 200", i+1, a.status)
		}
		if i == 0 && (a.header.Get("X-Ratelimit-Global-Remaining") != "499" || a.header.Get("X-Ratelimit-Route-Remaining") != "499") {
			t.Errorf("first request: headers %v", a.header)
		}
	}
	a := call(t, srv, "GET", "/api/v2/projects/default", "", benchToken, "192.0.2.1:1")
	if a.status != http.StatusTooManyRequests || a.body.Code != "rate_limited" || a.header.Get("Retry-After") != "8" ||
		a.header.Get("X-Ratelimit-Global-Remaining") != "0" || a.header.Get("X-Ratelimit-Reset") != strconv.FormatInt(windowStart.Add(10*time.Second).UnixMilli(), 10) {
		t.Fatalf("request 501: %d %+v %v, want 429 with the headers", a.status, a.body, a.header)
	}
	if !strings.Contains(a.body.Message, "share of the global rate limit (500 of 1000 requests per 10s)") {
		t.Errorf("message %q", a.body.Message)
	}
}

// TestRateLimitWindows: route windows count a route pattern and verb; the
// global window counts every authenticated request, those that match no
// route or method too; each answer carries the headers of the windows that
// govern it; a new window starts with the whole budget (clock injected).
func TestRateLimitWindows(t *testing.T) {
	clk := testclock.New(windowStart.Add(4500 * time.Millisecond))
	obs := &rejections{}
	srv, _, _ := newTestServer(t, api.Options{Clock: clk.Now, RateObserver: obs,
		RateLimits: &ratelimit.Config{Global: 8, RouteRead: 3, RouteWrite: 2}})
	reset := strconv.FormatInt(windowStart.Add(10*time.Second).UnixMilli(), 10)
	steps := []struct {
		method, path, body string
		status             int
		global, route      string // "" when the header must be absent
		retry              string
	}{
		{"GET", "/api/v2/metrics/default", "", 200, "7", "2", ""},
		{"GET", "/api/v2/metrics/default?limit=1", "", 200, "6", "1", ""},
		{"HEAD", "/api/v2/metrics/default", "", 200, "5", "0", ""},
		{"GET", "/api/v2/metrics/default", "", 429, "5", "0", "6"},
		// Another project is the same route pattern.
		{"GET", "/api/v2/metrics/other", "", 429, "5", "0", "6"},
		// POST on the pattern is another route.
		{"POST", "/api/v2/metrics/default", `{"key":"m1","kind":"custom","eventKey":"e"}`, 201, "4", "1", ""},
		{"GET", "/api/v2/metrics/default/m1", "", 200, "3", "2", ""},
		// No route, and a method the route does not serve: global only.
		{"GET", "/api/v2/nothing-here", "", 404, "2", "", ""},
		{"PUT", "/api/v2/metrics/default", "{}", 405, "1", "", ""},
		{"GET", "/api/v2/projects/default", "", 200, "0", "2", ""},
		{"GET", "/api/v2/projects", "", 429, "0", "2", "6"},
	}
	for i, s := range steps {
		a := call(t, srv, s.method, s.path, s.body, benchToken, "192.0.2.1:1")
		h := a.header
		if a.status != s.status || h.Get("X-Ratelimit-Global-Remaining") != s.global || h.Get("X-Ratelimit-Route-Remaining") != s.route ||
			h.Get("Retry-After") != s.retry || h.Get("X-Ratelimit-Reset") != reset {
			t.Errorf("step %d %s %s: %d, global %q route %q retry %q reset %q; want %d, %q %q %q %s", i, s.method, s.path, a.status,
				h.Get("X-Ratelimit-Global-Remaining"), h.Get("X-Ratelimit-Route-Remaining"), h.Get("Retry-After"), h.Get("X-Ratelimit-Reset"),
				s.status, s.global, s.route, s.retry, reset)
		}
		if s.status == 429 && a.body.Code != "rate_limited" {
			t.Errorf("step %d: code %q", i, a.body.Code)
		}
	}
	if a := call(t, srv, "GET", "/api/v2/metrics/default", "", benchToken, "192.0.2.1:1"); !strings.Contains(a.body.Message, "rate limit of 3 requests per 10s for GET /api/v2/metrics/{projectKey} exceeded") {
		t.Errorf("route 429 message %q", a.body.Message)
	}
	want := []ratelimit.Rejection{
		{Scope: ratelimit.ScopeRoute, Route: "GET /api/v2/metrics/{projectKey}"},
		{Scope: ratelimit.ScopeRoute, Route: "GET /api/v2/metrics/{projectKey}"},
		{Scope: ratelimit.ScopeGlobal, Route: "GET /api/v2/projects"},
		{Scope: ratelimit.ScopeRoute, Route: "GET /api/v2/metrics/{projectKey}"},
	}
	if len(obs.got) != len(want) {
		t.Fatalf("observer heard %v, want %v", obs.got, want)
	}
	for i := range want {
		if obs.got[i] != want[i] {
			t.Errorf("rejection %d: %v, want %v", i, obs.got[i], want[i])
		}
	}
	// Just before the window ends, Retry-After is one second; at its end
	// the budget is whole again.
	clk.Set(windowStart.Add(9999 * time.Millisecond))
	if a := call(t, srv, "GET", "/api/v2/projects", "", benchToken, "192.0.2.1:1"); a.status != 429 || a.header.Get("Retry-After") != "1" {
		t.Errorf("at the end of the window: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	clk.Set(windowStart.Add(10 * time.Second))
	a := call(t, srv, "GET", "/api/v2/metrics/default", "", benchToken, "192.0.2.1:1")
	if a.status != 200 || headerInt(t, a.header, "X-Ratelimit-Global-Remaining") != 7 || headerInt(t, a.header, "X-Ratelimit-Route-Remaining") != 2 ||
		a.header.Get("X-Ratelimit-Reset") != strconv.FormatInt(windowStart.Add(20*time.Second).UnixMilli(), 10) {
		t.Errorf("next window: %d %v", a.status, a.header)
	}
	// Neither the health check nor a CORS preflight is limited.
	if a := call(t, srv, "GET", "/healthz", "", "", "192.0.2.1:1"); a.status != 200 || a.header.Get("X-Ratelimit-Global-Remaining") != "" {
		t.Errorf("healthz: %d %v", a.status, a.header)
	}
}

// TestTokenShare: one token that bursts is refused at its share of the
// global window and its refused requests cost the others nothing: a second
// token is served until the global window is spent.
func TestTokenShare(t *testing.T) {
	clk := testclock.New(windowStart)
	srv, db, _ := newTestServer(t, api.Options{Clock: clk.Now, RateLimits: &ratelimit.Config{Global: 10, TokenShare: 40}})
	if _, err := catalog.New(db).Auth.Bootstrap(context.Background(), secondToken); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if a := call(t, srv, "GET", "/api/v2/projects/default", "", benchToken, "192.0.2.1:1"); a.status != 200 || headerInt(t, a.header, "X-Ratelimit-Global-Remaining") != 3-i {
			t.Fatalf("first token, request %d: %d %v", i+1, a.status, a.header)
		}
	}
	for range 50 {
		a := call(t, srv, "GET", "/api/v2/projects/default", "", benchToken, "192.0.2.1:1")
		if a.status != 429 || a.header.Get("X-Ratelimit-Global-Remaining") != "0" || a.header.Get("Retry-After") != "10" {
			t.Fatalf("first token over its share: %d %v", a.status, a.header)
		}
	}
	for i := range 4 {
		a := call(t, srv, "GET", "/api/v2/projects/default", "", secondToken, "192.0.2.2:1")
		if a.status != 200 || headerInt(t, a.header, "X-Ratelimit-Global-Remaining") != 3-i {
			t.Fatalf("second token, request %d: %d %v", i+1, a.status, a.header)
		}
	}
	// 8 of 10 are spent: a third token, if there were one, would have 2;
	// the second token is at its share.
	if a := call(t, srv, "GET", "/api/v2/projects/default", "", secondToken, "192.0.2.2:1"); a.status != 429 {
		t.Errorf("second token over its share: %d", a.status)
	}
}

// TestAddressWindow: with --rate-limit-ip, one client address gets 429 with
// Retry-After past its window whatever token it sends (IPv6 by /64), and
// another address is served.
func TestAddressWindow(t *testing.T) {
	clk := testclock.New(windowStart.Add(3 * time.Second))
	srv, db, _ := newTestServer(t, api.Options{Clock: clk.Now, RateLimits: &ratelimit.Config{Global: 100, Address: 3}})
	if _, err := catalog.New(db).Auth.Bootstrap(context.Background(), secondToken); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ token, addr string }{
		{benchToken, "[2001:db8:1:2::1]:1"}, {secondToken, "[2001:db8:1:2::2]:2"}, {benchToken, "[2001:db8:1:2::3]:3"},
	} {
		if a := call(t, srv, "GET", "/api/v2/projects/default", "", c.token, c.addr); a.status != 200 {
			t.Fatalf("request %d: %d", i, a.status)
		}
	}
	a := call(t, srv, "GET", "/api/v2/projects/default", "", secondToken, "[2001:db8:1:2::4]:4")
	if a.status != 429 || a.header.Get("Retry-After") != "7" || a.header.Get("X-Ratelimit-Global-Remaining") != "97" ||
		!strings.Contains(a.body.Message, "too many requests from this client address (more than 3 per 10s)") {
		t.Errorf("fourth request from the /64: %d %+v %v", a.status, a.body, a.header)
	}
	if a := call(t, srv, "GET", "/api/v2/projects/default", "", secondToken, "[2001:db8:1:3::1]:1"); a.status != 200 || a.header.Get("X-Ratelimit-Global-Remaining") != "96" {
		t.Errorf("another /64: %d %v", a.status, a.header)
	}
}
