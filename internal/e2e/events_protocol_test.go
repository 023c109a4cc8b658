package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/testdb"
)

// postEvents posts a raw event body and returns the status and body.
func (e *env) postEvents(t *testing.T, path, body string, headers ...string) (int, string) {
	t.Helper()
	st, b, _ := e.doUndoc(t, "POST", path, body, headers...)
	return st, string(b)
}

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// rollupCount is the number of events of kind and key counted in env.
func (e *env) rollupCount(t *testing.T, env, kind, key string) float64 {
	t.Helper()
	return e.getJSON(t, rollupsPath(env, kind, key))["totals"].(map[string]any)["count"].(float64)
}

func customEvents(key string, n int) string {
	now := time.Now().UnixMilli()
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"kind":"custom","key":%q,"creationDate":%d,"context":{"kind":"user","key":"u%d"}}`, key, now, i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestEventProtocol checks the event endpoints' answers to what SDKs and
// others send: credentials, bodies, encodings, retries and event kinds.
func TestEventProtocol(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		a, _ := runApp(t, app.Config{Addr: "127.0.0.1:0", DatabaseURL: b.URL, AdminToken: testAdminToken, EventsMaxBody: 64 << 10})
		e := newEnv(t, b, a, testAdminToken)
		ctx := context.Background()
		prod, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "production").Execute()
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}
		sdk := "Authorization: " + prod.ApiKey

		t.Run("credentials", func(t *testing.T) {
			body := customEvents("cred", 1)
			for _, tc := range []struct {
				path, auth string
				want       int
			}{
				{"/bulk", sdk, 202},
				{"/bulk", "Authorization: " + testAdminToken, 401},
				{"/bulk", "Authorization: Bearer " + testAdminToken, 401},
				{"/bulk", "Authorization:", 401},
				{"/bulk", "Authorization: sdk-00000000-0000-0000-0000-000000000000", 401},
				{"/bulk", "Authorization: " + prod.MobileKey, 401},
				{"/bulk", "Authorization: " + prod.Id, 401},
				{"/diagnostic", "Authorization: " + testAdminToken, 401},
				{"/mobile/events/bulk", sdk, 401},
				{"/mobile/events/bulk", "Authorization: api_key " + prod.MobileKey, 202},
				{"/mobile/events", "Authorization: " + prod.MobileKey, 202},
				{"/mobile", "Authorization: api_key " + prod.MobileKey, 202},
				{"/events/bulk/" + prod.Id, "Authorization:", 202},
				{"/events/bulk/000000000000000000000000", "Authorization:", 401},
				{"/events/bulk/" + prod.ApiKey, "Authorization:", 401},
			} {
				st, resp := e.postEvents(t, tc.path, body, tc.auth)
				if st != tc.want {
					t.Errorf("POST %s (%s): %d %s, want %d", tc.path, tc.auth, st, resp, tc.want)
				}
				if st == 401 {
					wantError(t, "POST "+tc.path, st, []byte(resp), 401)
				}
			}
			if n := e.rollupCount(t, "production", "custom", "cred"); n != 5 {
				t.Errorf("cred events counted = %v, want 5 (one per accepted post)", n)
			}
		})

		t.Run("gzip", func(t *testing.T) {
			st, resp := e.postEvents(t, "/bulk", gzipped(t, customEvents("zipped", 7)), sdk, "Content-Encoding: gzip")
			if st != 202 {
				t.Fatalf("gzip post: %d %s", st, resp)
			}
			if n := e.rollupCount(t, "production", "custom", "zipped"); n != 7 {
				t.Errorf("zipped events = %v, want 7", n)
			}
			st, resp = e.postEvents(t, "/bulk", customEvents("zipped", 1), sdk, "Content-Encoding: gzip")
			wantError(t, "gzip header on a plain body", st, []byte(resp), 400, "gzip")
			st, resp = e.postEvents(t, "/bulk", customEvents("zipped", 1), sdk, "Content-Encoding: br")
			wantError(t, "brotli", st, []byte(resp), 400, "Content-Encoding")
		})

		t.Run("malformed and odd batches", func(t *testing.T) {
			for _, body := range []string{"{", `{"kind":"custom","key":"x"}`, `[{"kind":"custom"`, `[] []`, `"events"`} {
				st, resp := e.postEvents(t, "/bulk", body, sdk)
				wantError(t, "malformed "+body, st, []byte(resp), 400, "JSON array")
			}
			// Well formed: elements of other shapes and kinds are skipped,
			// the rest counted, and the answer is 202.
			odd := `[1, "x", null, {"kind":"custom","key":5}, {"kind":"identify","context":{"kind":"user","key":"a"}},
				{"kind":"summary","features":{}}, {"kind":"feature","key":"flag"}, {"kind":"index"}, {"kind":"migration_op"},
				{"kind":"click_pageview","key":"odd"}, {"kind":"something-new","key":"odd"}, {"kind":"custom","key":"odd","metricValue":"NaN"},
				{"kind":"custom","key":"odd","userKey":"legacy"}, {"kind":"custom","key":"odd","user":{"key":"older"},"metricValue":2}]`
			st, resp := e.postEvents(t, "/bulk", odd, sdk)
			if st != 202 {
				t.Fatalf("odd batch: %d %s", st, resp)
			}
			r := e.getJSON(t, rollupsPath("production", "custom", "odd"))["totals"].(map[string]any)
			if r["count"] != 3.0 || r["valueCount"] != 1.0 || r["sum"] != 2.0 {
				t.Errorf("odd totals = %v, want 3 events (a string metricValue is no value), one value 2", r)
			}
			if r := e.getJSON(t, rollupsPath("production", "click", "odd")); r["totalCount"] != 0.0 {
				t.Errorf("a click_pageview counted as a click: %v", r)
			}
			st, resp = e.postEvents(t, "/diagnostic", `{"kind":"diagnostic","id":{}}`, sdk)
			if st != 202 {
				t.Errorf("diagnostic: %d %s", st, resp)
			}
			st, resp = e.postEvents(t, "/events/diagnostic/"+prod.Id, `{"kind":"diagnostic-init"}`, "Authorization:")
			if st != 202 {
				t.Errorf("browser diagnostic: %d %s", st, resp)
			}
			st, _, _ = e.doUndoc(t, "GET", "/bulk", "", sdk)
			if st != 405 {
				t.Errorf("GET /bulk: %d, want 405", st)
			}
		})

		t.Run("oversized", func(t *testing.T) {
			big := customEvents("big", 1000) // more than 64 KiB
			st, resp := e.postEvents(t, "/bulk", big, sdk)
			wantError(t, "oversized", st, []byte(resp), 413)
			// Small on the wire, too large decompressed.
			st, resp = e.postEvents(t, "/bulk", gzipped(t, big), sdk, "Content-Encoding: gzip")
			wantError(t, "oversized decompressed", st, []byte(resp), 413)
			if r := e.getJSON(t, rollupsPath("production", "custom", "big")); r["totalCount"] != 0.0 {
				t.Errorf("an oversized post was counted: %v", r)
			}
		})

		t.Run("retried payload IDs count once", func(t *testing.T) {
			body := customEvents("retried", 3)
			id := "Payload-ID-header"
			for range 3 {
				st, resp := e.postEvents(t, "/bulk", body, sdk, "X-LaunchDarkly-Payload-ID: 7b3c1f4e-retry-one")
				if st != 202 {
					t.Fatalf("%s: %d %s", id, st, resp)
				}
			}
			// Concurrent retries of another payload.
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, _, _, err := e.send(t, allowUndocumented(ctx), "POST", "/bulk", body, sdk, "X-LaunchDarkly-Payload-ID: 7b3c1f4e-retry-two")
					if err != nil || st != 202 {
						t.Errorf("concurrent retry: %d %v", st, err)
					}
				}()
			}
			wg.Wait()
			// The same ID in another environment is another payload; no ID
			// at all is always counted.
			testEnv, _, _ := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "test").Execute()
			e.postEvents(t, "/bulk", body, "Authorization: "+testEnv.ApiKey, "X-LaunchDarkly-Payload-ID: 7b3c1f4e-retry-one")
			e.postEvents(t, "/bulk", body, sdk)
			if n := e.rollupCount(t, "production", "custom", "retried"); n != 9 {
				t.Errorf("production retried = %v, want 9 (two payloads and one without ID)", n)
			}
			if n := e.rollupCount(t, "test", "custom", "retried"); n != 3 {
				t.Errorf("test retried = %v, want 3", n)
			}
		})

		t.Run("payload IDs that are not UTF-8", func(t *testing.T) {
			// Header values may hold any byte but controls; PostgreSQL's
			// text only UTF-8. Such an ID is kept hashed, so the post is
			// stored (and its retry counted once) on both stores.
			body := customEvents("latin1-id", 2)
			for range 2 {
				if st, resp := e.postEvents(t, "/bulk", body, sdk, "X-LaunchDarkly-Payload-ID: caf\xe9-\xff"); st != 202 {
					t.Fatalf("payload ID not UTF-8: %d %s", st, resp)
				}
			}
			if n := e.rollupCount(t, "production", "custom", "latin1-id"); n != 2 {
				t.Errorf("latin1-id = %v, want 2 (one payload, retried)", n)
			}
		})

		t.Run("creation dates", func(t *testing.T) {
			now := time.Now()
			old := now.Add(-3 * time.Hour).UnixMilli()
			body := fmt.Sprintf(`[{"kind":"custom","key":"dated","creationDate":%d},{"kind":"custom","key":"dated","creationDate":%d},
				{"kind":"custom","key":"dated","creationDate":%d},{"kind":"custom","key":"dated"}]`,
				old, now.Add(400*24*time.Hour).UnixMilli(), now.Add(-400*24*time.Hour).UnixMilli())
			if st, resp := e.postEvents(t, "/bulk", body, sdk); st != 202 {
				t.Fatalf("dated: %d %s", st, resp)
			}
			r := e.getJSON(t, rollupsPath("production", "custom", "dated")+fmt.Sprintf("?from=%d", now.Add(-5*time.Hour).UnixMilli()))
			items := r["items"].([]any)
			if len(items) != 2 {
				t.Fatalf("dated rollups = %v, want two hours", r)
			}
			first, second := items[0].(map[string]any), items[1].(map[string]any)
			if first["hour"] != float64(hourMS(time.UnixMilli(old))) || first["count"] != 1.0 || second["count"] != 3.0 {
				t.Errorf("dated rollups = %v; want 1 event 3 hours ago and 3 (far future, far past, undated) now", items)
			}
		})
	})
}

// TestURLMatchers checks server-sent page views and clicks without a goal
// key against every URL matcher kind, and browser-style events with one.
func TestURLMatchers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		for _, m := range []string{
			`{"key":"exact-page","kind":"pageview","urls":[{"kind":"exact","url":"https://shop.example.com/cart"}]}`,
			`{"key":"canonical-page","kind":"pageview","urls":[{"kind":"canonical","url":"https://shop.example.com/checkout"}]}`,
			`{"key":"substring-page","kind":"pageview","urls":[{"kind":"substring","substring":"/docs/"}]}`,
			`{"key":"regex-page","kind":"pageview","urls":[{"kind":"regex","pattern":"^https://shop\\.example\\.com/items/[0-9]+$"}]}`,
			`{"key":"buy-click","kind":"click","selector":"#buy","urls":[{"kind":"substring","substring":"/items/"}]}`,
			`{"key":"never-page","kind":"pageview","urls":[{"kind":"exact","url":"https://elsewhere.example.com/"}]}`,
		} {
			e.createMetric(t, "default", m)
		}
		prod, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "production").Execute()
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}
		pv := func(url string) string {
			return fmt.Sprintf(`{"kind":"pageview","url":%q,"creationDate":%d,"contextKeys":{"user":"u"}}`, url, time.Now().UnixMilli())
		}
		batch := "[" + strings.Join([]string{
			pv("https://shop.example.com/cart"),                // exact
			pv("https://shop.example.com/cart/"),               // exact, trailing slash
			pv("https://shop.example.com/cart?x=1"),            // not exact: query
			pv("https://shop.example.com/checkout?step=2#pay"), // canonical
			pv("https://shop.example.com/checkoutx"),           // nothing
			pv("https://help.example.com/docs/start"),          // substring
			pv("https://help.example.com/?page=/docs/"),        // not substring: in the query
			pv("https://shop.example.com/items/42?ref=mail"),   // regex
			pv("https://shop.example.com/items/abc"),           // not regex
			`{"kind":"click","url":"https://shop.example.com/items/42","selector":"#buy"}`,
			`{"kind":"click","url":"https://shop.example.com/about","selector":"#buy"}`,
		}, ",") + "]"
		if st, resp := e.postEvents(t, "/bulk", batch, "Authorization: "+prod.ApiKey); st != 202 {
			t.Fatalf("pageviews: %d %s", st, resp)
		}
		want := map[string]float64{"exact-page": 2, "canonical-page": 1, "substring-page": 1, "regex-page": 1}
		for key, n := range want {
			if got := e.rollupCount(t, "production", "pageview", key); got != n {
				t.Errorf("%s: %v page views, want %v", key, got, n)
			}
		}
		if got := e.rollupCount(t, "production", "click", "buy-click"); got != 1 {
			t.Errorf("buy-click: %v clicks, want 1", got)
		}
		now := hourMS(time.Now())
		for _, key := range []string{"exact-page", "canonical-page", "substring-page", "regex-page", "buy-click"} {
			if m := e.getMetric(t, "default", key, ""); m["lastSeen"] != float64(now) && m["lastSeen"] != float64(hourMS(time.Now().Add(-time.Minute))) {
				t.Errorf("%s lastSeen = %v, want %d", key, m["lastSeen"], now)
			}
		}
		if m := e.getMetric(t, "default", "never-page", ""); m["lastSeen"] != nil {
			t.Errorf("never-page lastSeen = %v, want none", m["lastSeen"])
		}

		// Browser SDKs send the goal key themselves.
		st, resp := e.postEvents(t, "/events/bulk/"+prod.Id, `[{"kind":"pageview","key":"never-page","url":"https://x.example.com/"},
			{"kind":"click","key":"buy-click","url":"https://x.example.com/","selector":"#buy"},{"kind":"click_pageview","key":"buy-click"}]`, "Authorization:")
		if st != 202 {
			t.Fatalf("browser events: %d %s", st, resp)
		}
		if got := e.rollupCount(t, "production", "pageview", "never-page"); got != 1 {
			t.Errorf("never-page by goal key: %v, want 1", got)
		}
		if got := e.rollupCount(t, "production", "click", "buy-click"); got != 2 {
			t.Errorf("buy-click after a keyed click: %v, want 2", got)
		}
		if m := e.getMetric(t, "default", "never-page", ""); m["lastSeen"] == nil {
			t.Errorf("never-page has no lastSeen after a keyed page view")
		}
		_ = http.StatusAccepted
	})
}
