package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestRateLimit: with --rate-limit 5 the sixth request within ten seconds
// gets 429 with LaunchDarkly's error JSON and headers; every answer reports
// the remaining budget; the health check is not limited.
func TestRateLimit(t *testing.T) {
	b := testdb.New(t, "sqlite")
	a, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimit: 5})
	e := newEnv(t, b, a, testAdminToken)
	for i := range 5 {
		st, _, h := e.do(t, "GET", "/api/v2/projects/default", "")
		if st != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200", i+1, st)
		}
		if got, want := h.Get("X-Ratelimit-Global-Remaining"), strconv.Itoa(4-i); got != want {
			t.Errorf("request %d: X-Ratelimit-Global-Remaining %q, want %q", i+1, got, want)
		}
		reset, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64)
		if err != nil || reset < time.Now().UnixMilli() || reset > time.Now().Add(11*time.Second).UnixMilli() {
			t.Errorf("request %d: X-Ratelimit-Reset %q is not a time within the next ten seconds", i+1, h.Get("X-Ratelimit-Reset"))
		}
	}
	st, body, h := e.doUndoc(t, "GET", "/api/v2/projects/default", "")
	wantError(t, "sixth request", st, body, http.StatusTooManyRequests, "rate limit of 5 requests per 10s exceeded")
	if h.Get("Retry-After") != "2" || h.Get("X-Ratelimit-Global-Remaining") != "0" {
		t.Errorf("429 headers: Retry-After %q, remaining %q; want 2 and 0", h.Get("Retry-After"), h.Get("X-Ratelimit-Global-Remaining"))
	}
	resp, err := http.Get(e.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz under a spent budget: %d, want 200", resp.StatusCode)
	}
}
