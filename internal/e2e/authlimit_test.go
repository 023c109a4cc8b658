package e2e

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestWrongTokenFlood: after the request budget is spent, a flood of wrong
// tokens from one client gets 401 for the first api.DefaultAuthFailureLimit
// and 429 with Retry-After after that, and costs at most one store query
// per distinct token that got a 401.
func TestWrongTokenFlood(t *testing.T) {
	b := testdb.New(t, "sqlite")
	a, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{Global: 5}})
	e := newEnv(t, b, a, testAdminToken)
	for range 6 {
		e.doUndoc(t, "GET", "/api/v2/projects/default", "")
	}
	before := a.Store().Statements()
	counts := map[int]int{}
	for i := range 300 {
		token := "api-wrong-" + strconv.Itoa(i%3)
		st, body, h := e.doUndoc(t, "GET", "/api/v2/projects/default", "", "Authorization: "+token)
		counts[st]++
		switch {
		case i < api.DefaultAuthFailureLimit:
			wantError(t, "wrong token "+strconv.Itoa(i), st, body, http.StatusUnauthorized, "invalid access token")
		default:
			wantError(t, "wrong token "+strconv.Itoa(i), st, body, http.StatusTooManyRequests, "too many failed authentications")
			if h.Get("Retry-After") == "" || h.Get("X-Ratelimit-Reset") == "" {
				t.Fatalf("429 without Retry-After and X-Ratelimit-Reset: %v", h)
			}
		}
	}
	if n := a.Store().Statements() - before; n > 3 {
		t.Errorf("300 requests with 3 wrong tokens cost %d statements, want at most 3", n)
	}
	t.Logf("statuses: %v", counts)
}
