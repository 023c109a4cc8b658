package e2e

import (
	"context"
	"regexp"
	"testing"
	"time"

	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

var (
	sdkKeyPattern    = regexp.MustCompile(`^sdk-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	mobileKeyPattern = regexp.MustCompile(`^mob-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// TestSDKKeys checks the credentials of environments: generated at
// creation, reset with LaunchDarkly's endpoints, and never valid on the
// REST API.
func TestSDKKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		prod, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "production").Execute()
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}
		test, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "test").Execute()
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}
		for _, env := range []struct{ sdk, mob string }{{prod.ApiKey, prod.MobileKey}, {test.ApiKey, test.MobileKey}} {
			if !sdkKeyPattern.MatchString(env.sdk) || !mobileKeyPattern.MatchString(env.mob) {
				t.Errorf("keys %q, %q do not look like LaunchDarkly's", env.sdk, env.mob)
			}
		}
		if prod.ApiKey == test.ApiKey || prod.MobileKey == test.MobileKey || prod.Id == test.Id {
			t.Errorf("environments share credentials: %+v %+v", prod, test)
		}

		t.Run("SDK credentials are not access tokens", func(t *testing.T) {
			for _, cred := range []string{prod.ApiKey, prod.MobileKey, prod.Id, "api_key " + prod.MobileKey} {
				st, body, _ := e.do(t, "GET", "/api/v2/projects/default", "", "Authorization: "+cred)
				wantError(t, "REST API with an SDK credential", st, body, 401)
			}
		})

		t.Run("reset SDK key without expiry", func(t *testing.T) {
			// Resolved once, the key is cached; the reset must end that.
			assertEventKey(t, e, prod.ApiKey, 202)
			env, resp, err := e.client.EnvironmentsApi.ResetEnvironmentSDKKey(ctx, "default", "production").Execute()
			if err != nil {
				t.Fatalf("ResetEnvironmentSDKKey: %v (status %d)", err, status(resp))
			}
			if env.ApiKey == prod.ApiKey || !sdkKeyPattern.MatchString(env.ApiKey) || env.MobileKey != prod.MobileKey || env.Id != prod.Id {
				t.Errorf("after reset: apiKey %q (was %q), mobileKey %q (was %q)", env.ApiKey, prod.ApiKey, env.MobileKey, prod.MobileKey)
			}
			got, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "production").Execute()
			if err != nil || got.ApiKey != env.ApiKey {
				t.Errorf("GetEnvironment after reset: apiKey %q, err %v; want %q", got.ApiKey, err, env.ApiKey)
			}
			assertEventKey(t, e, prod.ApiKey, 401)
			assertEventKey(t, e, env.ApiKey, 202)
			prod.ApiKey = env.ApiKey
		})

		t.Run("reset SDK key with expiry", func(t *testing.T) {
			expiry := time.Now().Add(time.Hour).UnixMilli()
			env, resp, err := e.client.EnvironmentsApi.ResetEnvironmentSDKKey(ctx, "default", "production").Expiry(expiry).Execute()
			if err != nil {
				t.Fatalf("ResetEnvironmentSDKKey: %v (status %d)", err, status(resp))
			}
			// Both keys work until the old one expires.
			assertEventKey(t, e, prod.ApiKey, 202)
			assertEventKey(t, e, env.ApiKey, 202)
			old := prod.ApiKey
			prod.ApiKey = env.ApiKey
			// Resetting again without expiry retires the key in use; the
			// one kept until expiry still works.
			env2, _, err := e.client.EnvironmentsApi.ResetEnvironmentSDKKey(ctx, "default", "production").Execute()
			if err != nil {
				t.Fatalf("ResetEnvironmentSDKKey: %v", err)
			}
			assertEventKey(t, e, old, 202)
			assertEventKey(t, e, env.ApiKey, 401)
			assertEventKey(t, e, env2.ApiKey, 202)
			prod.ApiKey = env2.ApiKey
		})

		t.Run("reset mobile key", func(t *testing.T) {
			assertMobileKey(t, e, prod.MobileKey, 202)
			env, resp, err := e.client.EnvironmentsApi.ResetEnvironmentMobileKey(ctx, "default", "production").Execute()
			if err != nil {
				t.Fatalf("ResetEnvironmentMobileKey: %v (status %d)", err, status(resp))
			}
			if env.MobileKey == prod.MobileKey || !mobileKeyPattern.MatchString(env.MobileKey) || env.ApiKey != prod.ApiKey {
				t.Errorf("after reset: mobileKey %q (was %q), apiKey %q (was %q)", env.MobileKey, prod.MobileKey, env.ApiKey, prod.ApiKey)
			}
			assertMobileKey(t, e, prod.MobileKey, 401)
			assertMobileKey(t, e, env.MobileKey, 202)
		})

		t.Run("reset errors", func(t *testing.T) {
			st, body, _ := e.do(t, "POST", "/api/v2/projects/default/environments/nope/apiKey", "")
			wantError(t, "unknown environment", st, body, 404)
			st, body, _ = e.do(t, "POST", "/api/v2/projects/nope/environments/production/mobileKey", "")
			wantError(t, "unknown project", st, body, 404)
			st, body, _ = e.do(t, "POST", "/api/v2/projects/default/environments/production/apiKey?expiry=soon", "")
			wantError(t, "bad expiry", st, body, 400, "expiry")
			st, body, _ = e.do(t, "POST", "/api/v2/projects/default/environments/production/apiKey", "", "Authorization: "+prod.ApiKey)
			wantError(t, "reset with an SDK key", st, body, 401)
			// A reader may see the keys but not reset them; the key stays.
			_, reader := newToken(t, e.client, ldapi.AccessTokenPost{Name: ldapi.PtrString("reader"), Role: ldapi.PtrString("reader")})
			for _, path := range []string{"apiKey", "mobileKey"} {
				st, body, _ = e.do(t, "POST", "/api/v2/projects/default/environments/production/"+path, "", "Authorization: "+reader)
				wantError(t, "reset "+path+" as a reader", st, body, 403)
			}
			got, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "production").Execute()
			if err != nil || got.ApiKey != prod.ApiKey {
				t.Errorf("after refused resets: apiKey %q, err %v; want %q", got.ApiKey, err, prod.ApiKey)
			}
		})
	})
}

// assertEventKey posts an empty batch with an SDK key and checks the status.
func assertEventKey(t *testing.T, e *env, key string, want int) {
	t.Helper()
	st, body, _ := e.doUndoc(t, "POST", "/bulk", "[]", "Authorization: "+key)
	if st != want {
		t.Errorf("POST /bulk with key %q: status %d (%s), want %d", key, st, body, want)
	}
}

// assertMobileKey posts an empty batch with a mobile key.
func assertMobileKey(t *testing.T, e *env, key string, want int) {
	t.Helper()
	st, body, _ := e.doUndoc(t, "POST", "/mobile/events/bulk", "[]", "Authorization: api_key "+key)
	if st != want {
		t.Errorf("POST /mobile/events/bulk with key %q: status %d (%s), want %d", key, st, body, want)
	}
}
