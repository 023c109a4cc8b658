package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/metricsd/metricsd/internal/testdb"
)

func TestProtocol(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		const metric = "/api/v2/metrics/default/proto"
		e.createMetric(t, "default", `{"key":"proto","kind":"custom","eventKey":"e"}`)
		count := func(t *testing.T) int { return e.metricCount(t, "default") }

		t.Run("authentication", func(t *testing.T) {
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/metrics/default", "", "Authorization:")
			wantError(t, "no Authorization", st, body, http.StatusUnauthorized, "Authorization")
			_, resp, err := e.apiWithToken(t, "").MetricsApi.GetMetrics(ctx, "default").Execute()
			clientError(t, "client without token", resp, err, http.StatusUnauthorized)
			_, resp, err = e.apiWithToken(t, "api-00000000000000000000000000000000").MetricsApi.GetMetric(ctx, "default", "proto").Execute()
			clientError(t, "wrong token", resp, err, http.StatusUnauthorized, "invalid access token")
			_, resp, err = e.apiWithToken(t, testAdminToken+"x").ProjectsApi.GetProjects(ctx).Execute()
			clientError(t, "token with a suffix", resp, err, http.StatusUnauthorized)

			for _, h := range []string{"Bearer " + testAdminToken, "bearer " + testAdminToken, "BEARER   " + testAdminToken} {
				if _, resp, err := e.apiWithToken(t, h).MetricsApi.GetMetric(ctx, "default", "proto").Execute(); err != nil {
					t.Errorf("Authorization %q: %v (status %d)", h[:7], err, status(resp))
				}
			}
			for _, h := range []string{"Bearer wrong", "Bearer", "Basic " + testAdminToken, strings.Repeat("a", 600), "Bearer " + strings.Repeat("a", 600)} {
				st, body, _ := e.do(t, http.MethodGet, metric, "", "Authorization: "+h)
				wantError(t, "Authorization "+clipString(h), st, body, http.StatusUnauthorized)
			}

			before := count(t)
			st, body, _ = e.do(t, http.MethodPost, "/api/v2/metrics/default", `{"key":"sneaky","kind":"custom","eventKey":"e"}`, "Authorization:")
			wantError(t, "create without token", st, body, http.StatusUnauthorized)
			st, body, _ = e.do(t, http.MethodPatch, metric, `[{"op":"replace","path":"/name","value":"sneaky"}]`, "Authorization: wrong")
			wantError(t, "patch with a wrong token", st, body, http.StatusUnauthorized)
			st, body, _ = e.do(t, http.MethodDelete, "/api/v2/projects/default", "", "Authorization:")
			wantError(t, "delete project without token", st, body, http.StatusUnauthorized)
			st, body, _ = e.doUndoc(t, http.MethodGet, "/api/v2/nope", "", "Authorization:")
			wantError(t, "unknown path without token", st, body, http.StatusUnauthorized)
			if n := count(t); n != before {
				t.Errorf("totalCount %d after unauthenticated writes, want %d", n, before)
			}
			if got := e.getMetric(t, "default", "proto", ""); got["name"] != "proto" {
				t.Errorf("name %v after an unauthenticated patch", got["name"])
			}
		})

		t.Run("HEAD answers like GET without a body", func(t *testing.T) {
			st, body, hdr := e.doUndoc(t, http.MethodHead, metric, "")
			if st != http.StatusOK || len(body) != 0 || hdr.Get("Content-Type") != "application/json" {
				t.Errorf("HEAD %s: %d %q %q", metric, st, body, hdr.Get("Content-Type"))
			}
			st, _, _ = e.doUndoc(t, http.MethodHead, "/api/v2/metrics/default/none", "")
			if st != http.StatusNotFound {
				t.Errorf("HEAD of an unknown metric: %d", st)
			}
		})

		t.Run("JSON Merge Patch is 415", func(t *testing.T) {
			st, body, _ := e.doUndoc(t, http.MethodPatch, metric, `{"description":"m"}`, "Content-Type: application/merge-patch+json")
			wantError(t, "merge patch", st, body, http.StatusUnsupportedMediaType, "JSON Merge Patch")
		})

		t.Run("method not allowed", func(t *testing.T) {
			for _, c := range []struct{ method, path, allow string }{
				{http.MethodPut, metric, "DELETE, GET, HEAD, PATCH"},
				{http.MethodPost, metric, "DELETE, GET, HEAD, PATCH"},
				{http.MethodPut, "/api/v2/metrics/default", "GET, HEAD, POST"},
				{http.MethodPatch, "/api/v2/metrics/default", "GET, HEAD, POST"},
				{http.MethodDelete, "/api/v2/projects", "GET, HEAD, POST"},
				{http.MethodPost, "/api/v2/projects/default", "DELETE, GET, HEAD"},
				{http.MethodPut, "/api/v2/projects/default/environments", "GET, HEAD"},
				{http.MethodDelete, "/api/v2/projects/default/environments/test", "GET, HEAD"},
			} {
				body := ""
				if c.method != http.MethodDelete {
					body = `{"key":"proto","kind":"custom","eventKey":"x"}`
				}
				st, resp, hdr := e.doUndoc(t, c.method, c.path, body)
				wantError(t, c.method+" "+c.path, st, resp, http.StatusMethodNotAllowed, c.method)
				if got := hdr.Get("Allow"); got != c.allow {
					t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
				}
			}
			if got := e.getMetric(t, "default", "proto", ""); got["eventKey"] != "e" || got["_version"] != 1.0 {
				t.Errorf("metric changed by a PUT: %v", got)
			}
			if _, resp, err := e.api(t).EnvironmentsApi.GetEnvironment(ctx, "default", "test").Execute(); err != nil {
				t.Errorf("environment after DELETE was refused: %v (status %d)", err, status(resp))
			}
		})

		t.Run("content type", func(t *testing.T) {
			before := count(t)
			for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json; charset", "json"} {
				st, body, _ := e.doUndoc(t, http.MethodPost, "/api/v2/metrics/default", `{"key":"typed","kind":"custom","eventKey":"e"}`, "Content-Type: "+ct)
				wantError(t, "POST as "+ct, st, body, http.StatusUnsupportedMediaType, "Content-Type")
			}
			st, body, _ := e.doUndoc(t, http.MethodPatch, metric, `[{"op":"replace","path":"/name","value":"typed"}]`, "Content-Type: text/plain")
			wantError(t, "PATCH as text/plain", st, body, http.StatusUnsupportedMediaType, "Content-Type")
			if n := count(t); n != before {
				t.Errorf("totalCount %d after rejected media types, want %d", n, before)
			}
			st, body, _ = e.do(t, http.MethodPatch, metric, `[{"op":"replace","path":"/name","value":"typed"}]`, "Content-Type: application/json; domain-model=launchdarkly.semanticpatch")
			wantError(t, "semantic patch", st, body, http.StatusBadRequest, "domain-model")
			if got := e.getMetric(t, "default", "proto", ""); got["name"] != "proto" {
				t.Errorf("name %v after rejected patches", got["name"])
			}
			st, body, _ = e.do(t, http.MethodPost, "/api/v2/metrics/default", `{"key":"typed","kind":"custom","eventKey":"e"}`, "Content-Type: application/json; charset=utf-8")
			if st != http.StatusCreated {
				t.Errorf("POST as application/json; charset=utf-8: status %d: %s", st, body)
			}
		})

		t.Run("body size", func(t *testing.T) {
			before := count(t)
			huge := `{"key":"huge","kind":"custom","eventKey":"e","description":"` + strings.Repeat("x", 1<<20) + `"}`
			st, body, _ := e.doUndoc(t, http.MethodPost, "/api/v2/metrics/default", huge)
			wantError(t, "1 MiB create", st, body, http.StatusRequestEntityTooLarge, "larger than")
			hugePatch := `[{"op":"replace","path":"/description","value":"` + strings.Repeat("x", 1<<20) + `"}]`
			st, body, _ = e.doUndoc(t, http.MethodPatch, metric, hugePatch)
			wantError(t, "1 MiB patch", st, body, http.StatusRequestEntityTooLarge, "larger than")
			// Just under the limit the body is read and judged on its merits.
			big := `{"key":"big","kind":"custom","eventKey":"e","description":"` + strings.Repeat("x", 1<<20-100) + `"}`
			st, body, _ = e.do(t, http.MethodPost, "/api/v2/metrics/default", big)
			wantError(t, "almost 1 MiB create", st, body, http.StatusBadRequest, "description")
			if n := count(t); n != before {
				t.Errorf("totalCount %d after oversized bodies, want %d", n, before)
			}
		})

		t.Run("method override", func(t *testing.T) {
			e.createMetric(t, "default", `{"key":"tunnel","kind":"custom","eventKey":"e"}`)
			path := metricPath("default", "tunnel")
			st, body, _ := e.do(t, http.MethodPost, path, `[{"op":"replace","path":"/name","value":"Tunnelled"}]`, "X-HTTP-Method-Override: PATCH")
			if st != http.StatusOK {
				t.Fatalf("POST with X-HTTP-Method-Override: PATCH: %d %s", st, body)
			}
			if got := obj(t, body); got["name"] != "Tunnelled" || got["_version"] != 2.0 {
				t.Errorf("after tunnelled PATCH: name %v _version %v", got["name"], got["_version"])
			}
			st, body, _ = e.do(t, http.MethodPost, path, `{"comment":"c","patch":[{"op":"replace","path":"/description","value":"d"}]}`, "X-HTTP-Method-Override: patch")
			if st != http.StatusOK || obj(t, body)["_version"] != 3.0 {
				t.Errorf("POST with X-HTTP-Method-Override: patch: %d %s", st, body)
			}
			// The header tunnels through POST only.
			st, body, _ = e.do(t, http.MethodGet, path, "", "X-HTTP-Method-Override: DELETE")
			if st != http.StatusOK {
				t.Errorf("GET with X-HTTP-Method-Override: DELETE: %d %s", st, body)
			}
			st, body, _ = e.doUndoc(t, http.MethodPost, path, `{}`, "X-HTTP-Method-Override: GET")
			wantError(t, "POST with X-HTTP-Method-Override: GET", st, body, http.StatusMethodNotAllowed)
			st, body, _ = e.do(t, http.MethodPost, path, "", "X-HTTP-Method-Override: DELETE")
			if st != http.StatusNoContent {
				t.Errorf("POST with X-HTTP-Method-Override: DELETE: %d %s", st, body)
			}
			st, body, _ = e.do(t, http.MethodGet, path, "")
			wantError(t, "GET after tunnelled DELETE", st, body, http.StatusNotFound)
		})

		t.Run("CORS", func(t *testing.T) {
			wantCORS := func(t *testing.T, what string, hdr http.Header, origin string) {
				t.Helper()
				if got := hdr.Get("Access-Control-Allow-Origin"); got != origin {
					t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", what, got, origin)
				}
				methods := hdr.Get("Access-Control-Allow-Methods")
				for _, m := range []string{"GET", "POST", "PATCH", "DELETE", "OPTIONS"} {
					if !strings.Contains(methods, m) {
						t.Errorf("%s: Access-Control-Allow-Methods %q lacks %s", what, methods, m)
					}
				}
				allowed := strings.ToLower(hdr.Get("Access-Control-Allow-Headers"))
				for _, h := range []string{"authorization", "content-type", "ld-api-version", "x-http-method-override"} {
					if !strings.Contains(allowed, h) {
						t.Errorf("%s: Access-Control-Allow-Headers %q lacks %s", what, allowed, h)
					}
				}
				if got := hdr.Get("Access-Control-Max-Age"); got != "300" {
					t.Errorf("%s: Access-Control-Max-Age %q, want 300", what, got)
				}
				if origin != "*" && !strings.Contains(strings.Join(hdr.Values("Vary"), ","), "Origin") {
					t.Errorf("%s: Vary %q lacks Origin", what, hdr.Values("Vary"))
				}
			}
			st, body, hdr := e.doUndoc(t, http.MethodOptions, metric, "", "Authorization:", "Origin: https://app.example",
				"Access-Control-Request-Method: PATCH", "Access-Control-Request-Headers: authorization, content-type")
			if st != http.StatusNoContent || len(body) != 0 {
				t.Errorf("preflight: status %d body %q, want 204 and no body", st, body)
			}
			wantCORS(t, "preflight", hdr, "https://app.example")
			st, _, hdr = e.doUndoc(t, http.MethodOptions, "/api/v2/metrics/default", "", "Authorization:")
			if st != http.StatusNoContent {
				t.Errorf("preflight without Origin: status %d", st)
			}
			wantCORS(t, "preflight without Origin", hdr, "*")
			st, _, hdr = e.do(t, http.MethodGet, metric, "", "Origin: https://app.example")
			if st != http.StatusOK {
				t.Errorf("GET with Origin: status %d", st)
			}
			wantCORS(t, "GET with Origin", hdr, "https://app.example")
			st, body, hdr = e.do(t, http.MethodGet, metric, "", "Origin: https://app.example", "Authorization:")
			wantError(t, "unauthenticated GET with Origin", st, body, http.StatusUnauthorized)
			wantCORS(t, "401 with Origin", hdr, "https://app.example")
		})

		t.Run("not found", func(t *testing.T) {
			for _, p := range []string{"/api/v2/nope", "/api/v2/metrics", "/api/v2/metrics/default/proto/extra", "/api/v1/metrics/default", "/api/v2/projects/default/environments/test/extra"} {
				st, body, _ := e.doUndoc(t, http.MethodGet, p, "")
				wantError(t, p, st, body, http.StatusNotFound)
			}
			// Outside the API, without a token.
			st, body, hdr := e.do(t, http.MethodGet, "/nope", "", "Authorization:")
			wantError(t, "/nope", st, body, http.StatusNotFound)
			resp := &http.Response{StatusCode: st, Header: hdr}
			for _, p := range checkErrorBody(resp, body) {
				t.Errorf("/nope: %s", p)
			}
		})
	})
}

func clipString(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}
