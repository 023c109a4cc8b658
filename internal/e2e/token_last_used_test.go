package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestTokenLastUsed checks LaunchDarkly's lastUsed: absent before a token's
// first use, then the time of its latest use, on GET /tokens/{id} and in
// the list; uses a replica has not written yet are written when it stops.
func TestTokenLastUsed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		const interval = 100 * time.Millisecond
		a, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}, TokenUseInterval: interval})
		e := newEnv(t, b, a, testAdminToken)
		ctx := context.Background()
		tok, v := newToken(t, e.client, ldapi.AccessTokenPost{Name: ptr("used"), Role: ptr("reader")})
		if tok.HasLastUsed() {
			t.Errorf("a new token has lastUsed %d", tok.GetLastUsed())
		}
		time.Sleep(3 * interval)
		if got, _, err := e.client.AccessTokensApi.GetToken(ctx, tok.Id).Execute(); err != nil || got.HasLastUsed() {
			t.Fatalf("unused token: %v, lastUsed %d", err, got.GetLastUsed())
		}

		before := time.Now().UnixMilli()
		c := e.apiWithToken(t, v)
		for range 5 {
			if _, resp, err := c.MetricsApi.GetMetrics(ctx, "default").Execute(); err != nil {
				t.Fatalf("use the token: %v (status %d)", err, status(resp))
			}
		}
		after := time.Now().UnixMilli()
		var got *ldapi.Token
		for deadline := time.Now().Add(5 * time.Second); ; {
			var err error
			got, _, err = e.client.AccessTokensApi.GetToken(ctx, tok.Id).Execute()
			if err != nil {
				t.Fatalf("get token: %v", err)
			}
			if got.HasLastUsed() || time.Now().After(deadline) {
				break
			}
			time.Sleep(interval)
		}
		if lu := got.GetLastUsed(); lu < before || lu > after {
			t.Fatalf("lastUsed = %d, want within [%d, %d]", lu, before, after)
		}
		list, _, err := e.client.AccessTokensApi.GetTokens(ctx).Execute()
		if err != nil {
			t.Fatalf("list tokens: %v", err)
		}
		for _, it := range list.Items {
			if it.Id == tok.Id && it.GetLastUsed() != got.GetLastUsed() {
				t.Errorf("list lastUsed %d, GET %d", it.GetLastUsed(), got.GetLastUsed())
			}
		}
		// A refused use (403) is a use all the same; the time only grows.
		_, resp, err := c.MetricsApi.PatchMetric(allowUndocumented(ctx), "default", "nope").PatchOperation(replaceOp("/name", "x")).Execute()
		if status(resp) == 0 {
			t.Fatalf("refused request: %v", err)
		}
		time.Sleep(3 * interval)
		again, _, err := e.client.AccessTokensApi.GetToken(ctx, tok.Id).Execute()
		if err != nil || again.GetLastUsed() < got.GetLastUsed() {
			t.Errorf("lastUsed went from %d to %d (%v)", got.GetLastUsed(), again.GetLastUsed(), err)
		}
	})
}

// TestTokenLastUsedAtShutdown: a replica whose interval has not come yet
// writes the uses it holds when it stops.
func TestTokenLastUsedAtShutdown(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		a, stop := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}, TokenUseInterval: time.Hour})
		e := newEnv(t, b, a, testAdminToken)
		ctx := context.Background()
		tok, v := newToken(t, e.client, ldapi.AccessTokenPost{Role: ptr("reader")})
		if st, body, _ := e.do(t, "GET", "/api/v2/caller-identity", "", "Authorization: "+v); st != http.StatusOK {
			t.Fatalf("use the token: %d %s", st, body)
		}
		if got, _, err := e.client.AccessTokensApi.GetToken(ctx, tok.Id).Execute(); err != nil || got.HasLastUsed() {
			t.Fatalf("before the interval: %v, lastUsed %d", err, got.GetLastUsed())
		}
		stop()
		a2, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}, TokenUseInterval: time.Hour})
		got, _, err := newEnv(t, b, a2, testAdminToken).client.AccessTokensApi.GetToken(ctx, tok.Id).Execute()
		if err != nil || !got.HasLastUsed() {
			t.Fatalf("after stopping the replica: %v, lastUsed set %v", err, got.HasLastUsed())
		}
	})
}
