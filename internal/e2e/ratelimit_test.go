package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/testclock"
	"github.com/metricsd/metricsd/internal/testdb"
)

// secondTestToken is a second admin token of the owner, added with
// addToken.
const secondTestToken = "api-e2e-second-0a1b2c3d4e5f60718293a4b5c6d7e8f9"

// limitWindow is the start of the rate limit window the tests run in.
var limitWindow = time.Unix(1_900_000_000, 0)

// sharedTimeout replaces the default 100 ms bound of the shared count: on a
// loaded test machine a slow statement would be counted by the replica
// alone (as designed) and the exact counts the tests expect would differ.
// ratelimit's own tests cover the fallback.
const sharedTimeout = 10 * time.Second

// startLimited starts metricsd on b with limits and a clock one second into
// limitWindow, and adds secondTestToken.
func startLimited(t *testing.T, b testdb.Backend, limits ratelimit.Config) (*env, *testclock.Clock) {
	t.Helper()
	clk := testclock.New(limitWindow.Add(time.Second))
	a, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &limits, RateLimitSharedTimeout: sharedTimeout, Clock: clk.Now})
	addToken(t, a, secondTestToken)
	return newEnv(t, b, a, testAdminToken), clk
}

// addToken stores another admin token of the owner, as a start with that
// METRICSD_ADMIN_TOKEN would.
func addToken(t *testing.T, a *app.App, token string) {
	t.Helper()
	if _, err := catalog.New(a.Store()).Auth.Bootstrap(context.Background(), token); err != nil {
		t.Fatal(err)
	}
}

// limitHeaders checks the rate limit headers of an answer; "" means the
// header must be absent.
func limitHeaders(t *testing.T, what string, h http.Header, global, route, retry string) {
	t.Helper()
	reset := strconv.FormatInt(limitWindow.Add(ratelimit.Window).UnixMilli(), 10)
	if h.Get("X-Ratelimit-Global-Remaining") != global || h.Get("X-Ratelimit-Route-Remaining") != route ||
		h.Get("Retry-After") != retry || h.Get("X-Ratelimit-Reset") != reset {
		t.Errorf("%s: global %q route %q Retry-After %q reset %q; want %q %q %q %s", what,
			h.Get("X-Ratelimit-Global-Remaining"), h.Get("X-Ratelimit-Route-Remaining"), h.Get("Retry-After"), h.Get("X-Ratelimit-Reset"),
			global, route, retry, reset)
	}
}

func metricPost(key string) ldapi.MetricPost {
	return ldapi.MetricPost{Key: key, Kind: "custom", EventKey: ptr("e-" + key)}
}

// TestRateLimitBurst: a burst from one token through the generated client
// gets 429 in LaunchDarkly's error format (validated against the OpenAPI
// document), with Retry-After and the headers, once it has used its share
// of the global window, while a second token is still served; a route
// window is shared by all tokens and leaves other routes alone.
func TestRateLimitBurst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()
		t.Run("token share", func(t *testing.T) {
			// A database each: on PostgreSQL the windows live there.
			e, _ := startLimited(t, testdb.New(t, b.Name), ratelimit.Config{Global: 20, RouteRead: 50, RouteWrite: 50, TokenShare: 50})
			first, second := e.api(t), e.apiWithToken(t, secondTestToken)
			for i := range 10 {
				_, resp, err := first.MetricsApi.PostMetric(ctx, "default").MetricPost(metricPost(fmt.Sprint("burst-", i))).Execute()
				if err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				limitHeaders(t, fmt.Sprint("request ", i+1), resp.Header, strconv.Itoa(9-i), strconv.Itoa(49-i), "")
			}
			for i := range 5 {
				_, resp, err := first.MetricsApi.PostMetric(ctx, "default").MetricPost(metricPost(fmt.Sprint("over-", i))).Execute()
				clientError(t, "over the share", resp, err, http.StatusTooManyRequests, "this access token used its share of the global rate limit (10 of 20 requests per 10s)")
				limitHeaders(t, "over the share", resp.Header, "0", "40", "9")
			}
			// The second token: the global window holds 10 more, 9 after this.
			ms, resp, err := second.MetricsApi.GetMetrics(ctx, "default").Execute()
			if err != nil || len(ms.Items) != 10 {
				t.Fatalf("second token: %v, %d metrics", err, len(ms.Items))
			}
			limitHeaders(t, "second token", resp.Header, "9", "49", "")
			// The rejected requests wrote nothing.
			if _, resp, err := second.MetricsApi.GetMetric(ctx, "default", "over-0").Execute(); status(resp) != http.StatusNotFound {
				t.Errorf("a metric of a refused request: %d %v", status(resp), err)
			}
		})
		t.Run("route window", func(t *testing.T) {
			e, _ := startLimited(t, testdb.New(t, b.Name), ratelimit.Config{Global: 100, RouteRead: 100, RouteWrite: 3})
			first, second := e.api(t), e.apiWithToken(t, secondTestToken)
			for i := range 3 {
				_, resp, err := first.MetricsApi.PostMetric(ctx, "default").MetricPost(metricPost(fmt.Sprint("r-", i))).Execute()
				if err != nil {
					t.Fatalf("write %d: %v", i+1, err)
				}
				limitHeaders(t, fmt.Sprint("write ", i+1), resp.Header, strconv.Itoa(99-i), strconv.Itoa(2-i), "")
			}
			for _, c := range []*ldapi.APIClient{first, second} {
				_, resp, err := c.MetricsApi.PostMetric(ctx, "default").MetricPost(metricPost("r-x")).Execute()
				clientError(t, "write over the route window", resp, err, http.StatusTooManyRequests, "rate limit of 3 requests per 10s for POST /api/v2/metrics/{projectKey} exceeded")
				limitHeaders(t, "write over the route window", resp.Header, "97", "0", "9")
			}
			// The window counts the route pattern, not the project.
			st, body, h := e.doUndoc(t, "POST", "/api/v2/metrics/other", `{"key":"k","kind":"custom","eventKey":"e"}`)
			wantError(t, "another project", st, body, http.StatusTooManyRequests, "POST /api/v2/metrics/{projectKey}")
			limitHeaders(t, "another project", h, "97", "0", "9")
			// Other routes and verbs are served.
			_, resp, err := second.MetricsApi.GetMetric(ctx, "default", "r-0").Execute()
			if err != nil {
				t.Fatal(err)
			}
			limitHeaders(t, "a read", resp.Header, "96", "99", "")
			resp, err = second.MetricsApi.DeleteMetric(ctx, "default", "r-0").Execute()
			if err != nil {
				t.Fatal(err)
			}
			limitHeaders(t, "a delete", resp.Header, "95", "2", "")
		})
	})
}

// TestRateLimitReset: at the end of the window (the injected clock moves,
// no sleep) a spent budget is whole again.
func TestRateLimitReset(t *testing.T) {
	e, clk := startLimited(t, testdb.New(t, "sqlite"), ratelimit.Config{Global: 2})
	for range 2 {
		if st, _, _ := e.do(t, "GET", "/api/v2/projects/default", ""); st != http.StatusOK {
			t.Fatalf("status %d", st)
		}
	}
	clk.Set(limitWindow.Add(9500 * time.Millisecond))
	st, body, h := e.doUndoc(t, "GET", "/api/v2/projects/default", "")
	wantError(t, "spent", st, body, http.StatusTooManyRequests, "global rate limit of 2 requests per 10s exceeded")
	limitHeaders(t, "spent", h, "0", "", "1")
	clk.Set(limitWindow.Add(ratelimit.Window))
	st, _, h = e.do(t, "GET", "/api/v2/projects/default", "")
	if st != http.StatusOK || h.Get("X-Ratelimit-Global-Remaining") != "1" || h.Get("X-Ratelimit-Reset") != strconv.FormatInt(limitWindow.Add(2*ratelimit.Window).UnixMilli(), 10) {
		t.Errorf("next window: %d %v", st, h)
	}
	resp, err := http.Get(e.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
}

// TestRateLimitDefaults: metricsd started with the default configuration
// (the flags' defaults, as `metricsd serve` has them) limits: a token gets
// its default share, 500 requests per window, then 429.
func TestRateLimitDefaults(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		cfg, err := app.ParseConfig([]string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string {
			return map[string]string{"METRICSD_DATABASE_URL": b.URL, "METRICSD_ADMIN_TOKEN": testAdminToken}[k]
		}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		clk := testclock.New(limitWindow)
		cfg.Clock = clk.Now
		cfg.RateLimitSharedTimeout = sharedTimeout
		a, _ := runApp(t, cfg)
		e := newEnv(t, b, a, testAdminToken)
		for i := range ratelimit.DefaultGlobal * ratelimit.DefaultTokenShare / 100 {
			if st, _, _ := e.do(t, "GET", "/api/v2/projects/default", ""); st != http.StatusOK {
				t.Fatalf("request %d: %d", i+1, st)
			}
		}
		st, body, h := e.doUndoc(t, "GET", "/api/v2/projects/default", "")
		wantError(t, "request 501", st, body, http.StatusTooManyRequests, "share of the global rate limit (500 of 1000 requests per 10s)")
		if h.Get("Retry-After") != "10" || h.Get("X-Ratelimit-Global-Remaining") != "0" || h.Get("X-Ratelimit-Route-Remaining") != "0" {
			t.Errorf("headers %v", h)
		}
	})
}

// TestRateLimitReplicas: two replicas on one PostgreSQL database share the
// windows: requests spread over both spend one global window, and a route
// window spent through one replica is spent on the other. With
// RateLimitPerReplica each counts its own.
func TestRateLimitReplicas(t *testing.T) {
	b := testdb.New(t, "postgres")
	start := func(t *testing.T, perReplica bool) []*env {
		clk := testclock.New(limitWindow.Add(time.Second))
		limits := ratelimit.Config{Global: 12, RouteRead: 100, RouteWrite: 2}
		var envs []*env
		for range 2 {
			a, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &limits, RateLimitPerReplica: perReplica, RateLimitSharedTimeout: sharedTimeout, Clock: clk.Now})
			envs = append(envs, newEnv(t, b, a, testAdminToken))
		}
		return envs
	}
	t.Run("shared", func(t *testing.T) {
		rs := start(t, false)
		for i := range 2 {
			st, _, h := rs[i].do(t, "POST", "/api/v2/metrics/default", fmt.Sprintf(`{"key":"rep-%d","kind":"custom","eventKey":"e"}`, i))
			if st != http.StatusCreated {
				t.Fatalf("write %d: %d", i, st)
			}
			limitHeaders(t, fmt.Sprint("write ", i), h, strconv.Itoa(11-i), strconv.Itoa(1-i), "")
		}
		st, body, h := rs[0].doUndoc(t, "POST", "/api/v2/metrics/default", `{"key":"rep-x","kind":"custom","eventKey":"e"}`)
		wantError(t, "third write", st, body, http.StatusTooManyRequests, "POST /api/v2/metrics/{projectKey}")
		limitHeaders(t, "third write", h, "10", "0", "9")
		for i := range 10 {
			st, _, h := rs[i%2].do(t, "GET", "/api/v2/projects/default", "")
			if st != http.StatusOK {
				t.Fatalf("read %d: %d", i, st)
			}
			limitHeaders(t, fmt.Sprint("read ", i), h, strconv.Itoa(9-i), strconv.Itoa(99-i), "")
		}
		for i := range 2 {
			st, body, h := rs[i].doUndoc(t, "GET", "/api/v2/projects/default", "")
			wantError(t, "read past the global window", st, body, http.StatusTooManyRequests, "global rate limit of 12 requests per 10s exceeded")
			// The route window, asked first, counts the refused reads.
			limitHeaders(t, "read past the global window", h, "0", strconv.Itoa(89-i), "9")
		}
	})
	t.Run("per replica", func(t *testing.T) {
		rs := start(t, true)
		for _, r := range rs {
			for i := range 12 {
				if st, _, _ := r.do(t, "GET", "/api/v2/projects/default", ""); st != http.StatusOK {
					t.Fatalf("read %d: %d", i, st)
				}
			}
			if st, _, _ := r.doUndoc(t, "GET", "/api/v2/projects/default", ""); st != http.StatusTooManyRequests {
				t.Errorf("13th read of a replica: %d", st)
			}
		}
	})
}
