package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/version"
)

// TestOwnOpenAPIDocument fetches metricsd's document through LaunchDarkly's
// client and checks that it is a valid OpenAPI document with metricsd's
// extensions and the server's version.
func TestOwnOpenAPIDocument(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		resp, err := e.client.OtherApi.GetOpenapiSpec(context.Background()).Execute()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GetOpenapiSpec: %v (status %d)", err, status(resp))
		}
		body := rawBody(t, resp)
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(body)
		if err != nil {
			t.Fatalf("load the served document: %v", err)
		}
		if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
			t.Errorf("served document is not valid: %v", err)
		}
		if doc.Info.Version != version.Read().String() {
			t.Errorf("info.version %q, want %q", doc.Info.Version, version.Read().String())
		}
		for _, p := range []string{"/api/v2/metrics/{projectKey}/{metricKey}/versions", "/api/v2/metrics/{projectKey}/{metricKey}", "/api/v2/openapi.json"} {
			if doc.Paths.Find(p) == nil {
				t.Errorf("served document lacks %s", p)
			}
		}
	})
}

// TestRequestIDRoundTrip checks, over HTTP, that a client's sane
// X-Request-Id comes back in the header and as the error body's id, and
// that an unsafe one is replaced.
func TestRequestIDRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		st, body, h := e.do(t, "GET", "/api/v2/metrics/default/absent", "", "X-Request-Id: 0b6f1c9e-3a1d-4b8e-9f7a-2c5d8e1f4a3b")
		got := wantError(t, "missing metric", st, body, http.StatusNotFound)
		if got.ID != "0b6f1c9e-3a1d-4b8e-9f7a-2c5d8e1f4a3b" || h.Get("X-Request-Id") != got.ID {
			t.Errorf("id %q, X-Request-Id %q; want the client's", got.ID, h.Get("X-Request-Id"))
		}
		st, body, h = e.do(t, "GET", "/api/v2/metrics/default/absent", "", "X-Request-Id: build-42:step_7.retry")
		got = wantError(t, "missing metric", st, body, http.StatusNotFound)
		if got.ID != "build-42:step_7.retry" || h.Get("X-Request-Id") != got.ID {
			t.Errorf("id %q, X-Request-Id %q; want the client's build-42:step_7.retry", got.ID, h.Get("X-Request-Id"))
		}
		st, body, h = e.do(t, "GET", "/api/v2/metrics/default/absent", "", "X-Request-Id: "+strings.Repeat("x", 200))
		got = wantError(t, "missing metric", st, body, http.StatusNotFound)
		if len(got.ID) != 36 || h.Get("X-Request-Id") != got.ID {
			t.Errorf("id %q, X-Request-Id %q; want a fresh UUID in both", got.ID, h.Get("X-Request-Id"))
		}
		_, _, h = e.do(t, "GET", "/api/v2/projects", "")
		if len(h.Get("X-Request-Id")) != 36 {
			t.Errorf("success: X-Request-Id %q, want a UUID", h.Get("X-Request-Id"))
		}
	})
}
