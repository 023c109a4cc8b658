package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/openapi"
)

// clientModule is the module whose api/openapi.yaml describes the wire
// format metricsd speaks.
const clientModule = "github.com/launchdarkly/api-client-go/v22"

// spec is the OpenAPI document and its router, loaded once per test binary.
var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// ownSpec is metricsd's own OpenAPI document (GET /api/v2/openapi.json)
// and its router, loaded once per test binary.
var ownSpec struct {
	once   sync.Once
	router routers.Router
	err    error
}

// loadOwnSpec returns a router over metricsd's own document.
func loadOwnSpec(t testing.TB) routers.Router {
	t.Helper()
	ownSpec.once.Do(func() {
		b, err := openapi.Document("e2e")
		if err != nil {
			ownSpec.err = err
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(b)
		if err != nil {
			ownSpec.err = err
			return
		}
		if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
			ownSpec.err = err
			return
		}
		ownSpec.router, ownSpec.err = gorillamux.NewRouter(doc)
	})
	if ownSpec.err != nil {
		t.Fatalf("metricsd's OpenAPI document: %v", ownSpec.err)
	}
	return ownSpec.router
}

// loadSpec returns the OpenAPI document and a router over it, loading them
// on first use.
func loadSpec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	spec.once.Do(func() { spec.doc, spec.router, spec.err = buildSpec() })
	if spec.err != nil {
		t.Fatalf("OpenAPI document: %v", spec.err)
	}
	return spec.doc, spec.router
}

func specPath() (string, error) {
	if p := os.Getenv("METRICSD_OPENAPI_SPEC"); p != "" {
		return p, nil
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", clientModule).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("locate module %s: %w", clientModule, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not downloaded", clientModule)
	}
	return filepath.Join(dir, "api", "openapi.yaml"), nil
}

// metricKindSchemas are the schemas whose kind enum lacks "trace", which
// metricsd supports as LaunchDarkly's product documentation describes.
var metricKindSchemas = []string{"MetricRep", "MetricListingRep", "MetricPost", "MetricInGroupRep"}

func buildSpec() (*openapi3.T, routers.Router, error) {
	path, err := specPath()
	if err != nil {
		return nil, nil, err
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", path, err)
	}
	// The document's own examples do not all match its schemas; everything
	// else must be valid.
	if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
		return nil, nil, fmt.Errorf("validate %s: %w", path, err)
	}
	for _, name := range metricKindSchemas {
		ref := doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			return nil, nil, fmt.Errorf("%s: no schema %s", path, name)
		}
		kind := ref.Value.Properties["kind"]
		if kind == nil || kind.Value == nil || len(kind.Value.Enum) == 0 {
			return nil, nil, fmt.Errorf("%s: schema %s has no kind enum", path, name)
		}
		if !slices.Contains(kind.Value.Enum, any("trace")) {
			kind.Value.Enum = append(kind.Value.Enum, "trace")
		}
	}
	// Match requests to any host: the document names LaunchDarkly's.
	doc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("router: %w", err)
	}
	return doc, router, nil
}

func TestOpenAPIDocument(t *testing.T) {
	doc, router := loadSpec(t)
	for _, name := range metricKindSchemas {
		enum := doc.Components.Schemas[name].Value.Properties["kind"].Value.Enum
		if want := []any{"pageview", "click", "custom", "trace"}; !slices.Equal(enum, want) {
			t.Errorf("%s kind enum = %v, want %v", name, enum, want)
		}
	}
	for _, c := range []struct{ method, path, op string }{
		{"GET", "/api/v2/metrics/p", "getMetrics"},
		{"POST", "/api/v2/metrics/p", "postMetric"},
		{"GET", "/api/v2/metrics/p/m", "getMetric"},
		{"PATCH", "/api/v2/metrics/p/m", "patchMetric"},
		{"DELETE", "/api/v2/metrics/p/m", "deleteMetric"},
		{"GET", "/api/v2/projects", "getProjects"},
		{"POST", "/api/v2/projects", "postProject"},
		{"GET", "/api/v2/projects/p", "getProject"},
		{"DELETE", "/api/v2/projects/p", "deleteProject"},
		{"GET", "/api/v2/projects/p/environments", "getEnvironmentsByProject"},
		{"GET", "/api/v2/projects/p/environments/e", "getEnvironment"},
	} {
		req, _ := http.NewRequest(c.method, "http://127.0.0.1:1"+c.path, nil)
		route, _, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
			continue
		}
		if route.Operation.OperationID != c.op {
			t.Errorf("%s %s: operation %s, want %s", c.method, c.path, route.Operation.OperationID, c.op)
		}
	}
}

type ctxKey int

const (
	undocumentedOK ctxKey = iota
	extensionOK
)

// asExtension marks requests of a metricsd extension that reuses a
// documented operation with a different answer (a ?dryRun=true DELETE or
// PATCH): their responses get the generic checks (content type, error
// bodies) but not the operation's schema.
func asExtension(ctx context.Context) context.Context {
	return context.WithValue(ctx, extensionOK, true)
}

// allowUndocumented marks requests whose response status, method or path
// the test expects to be missing from the OpenAPI document (a 400 for a
// query parameter the document does not list errors for, a 405, a 404 for a
// path that does not exist). Such responses are still checked as errors;
// documented responses are still validated.
func allowUndocumented(ctx context.Context) context.Context {
	return context.WithValue(ctx, undocumentedOK, true)
}

// validatingTransport checks every /api/v2 response against the OpenAPI
// document and metricsd's error conventions, recording problems as errors of
// the test that owns it.
type validatingTransport struct {
	t      testing.TB
	base   http.RoundTripper
	router routers.Router
	// own routes over metricsd's own document, which every response must
	// match as well.
	own routers.Router
}

func newValidatingTransport(t testing.TB, base http.RoundTripper) *validatingTransport {
	_, router := loadSpec(t)
	if base == nil {
		base = http.DefaultTransport
	}
	return &validatingTransport{t: t, base: base, router: router, own: loadOwnSpec(t)}
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.base.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/api/v2/") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	for _, p := range v.check(req, resp, body) {
		v.t.Errorf("%s %s -> %d: %s\nresponse body: %s", req.Method, req.URL.RequestURI(), resp.StatusCode, p, clip(body))
	}
	return resp, nil
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// errorCodes are the codes metricsd sends with each error status.
var errorCodes = map[int]string{
	400: "invalid_request",
	401: "unauthorized",
	403: "forbidden",
	404: "not_found",
	405: "method_not_allowed",
	409: "conflict",
	413: "request_entity_too_large",
	415: "unsupported_media_type",
	429: "rate_limited",
	500: "internal_server_error",
	503: "service_unavailable",
}

func (v *validatingTransport) check(req *http.Request, resp *http.Response, body []byte) []string {
	allow := req.Context().Value(undocumentedOK) != nil
	var problems []string
	if resp.Header.Get("X-Request-Id") == "" {
		problems = append(problems, "no X-Request-Id header")
	}
	switch st := resp.StatusCode; {
	case req.Method == http.MethodHead:
		if len(body) != 0 {
			problems = append(problems, "HEAD response has a body")
		}
		return problems
	case st == http.StatusNoContent:
		if len(body) != 0 {
			problems = append(problems, "204 response has a body")
		}
	case st >= 400:
		problems = append(problems, checkErrorBody(resp, body)...)
		var e struct{ ID string }
		if json.Unmarshal(body, &e) == nil && e.ID != resp.Header.Get("X-Request-Id") {
			problems = append(problems, fmt.Sprintf("error id %q differs from X-Request-Id %q", e.ID, resp.Header.Get("X-Request-Id")))
		}
	default:
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
			problems = append(problems, fmt.Sprintf("Content-Type %q, want application/json", resp.Header.Get("Content-Type")))
		}
	}

	if req.Context().Value(extensionOK) != nil {
		return problems
	}
	routeReq := req
	if req.Method == http.MethodPost {
		switch m := strings.ToUpper(strings.TrimSpace(req.Header.Get("X-HTTP-Method-Override"))); m {
		case http.MethodPatch, http.MethodPut, http.MethodDelete:
			routeReq = req.Clone(req.Context())
			routeReq.Method = m
		}
	}
	route, params, err := v.router.FindRoute(routeReq)
	ownRoute, ownParams, ownErr := v.own.FindRoute(routeReq)
	if ownErr != nil {
		if !allow {
			problems = append(problems, fmt.Sprintf("no operation in metricsd's OpenAPI document (internal/openapi) for %s %s: %v", routeReq.Method, req.URL.Path, ownErr))
		}
	} else {
		problems = append(problems, validateResponse(routeReq, resp, body, ownRoute, ownParams, allow, "metricsd's")...)
	}
	if err != nil {
		// An extension of metricsd's document is not LaunchDarkly's.
		if !allow && ownErr != nil {
			problems = append(problems, fmt.Sprintf("no operation in the OpenAPI document for %s %s: %v", routeReq.Method, req.URL.Path, err))
		}
		return problems
	}
	return append(problems, validateResponse(routeReq, resp, body, route, params, allow, "LaunchDarkly's")...)
}

// validateResponse checks a response against the operation of one
// document.
func validateResponse(routeReq *http.Request, resp *http.Response, body []byte, route *routers.Route, params map[string]string, allow bool, which string) []string {
	var problems []string
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		ExcludeRequestBody:    true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: routeReq, PathParams: params, Route: route, Options: opts,
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: opts,
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		var re *openapi3filter.ResponseError
		if allow && errors.As(err, &re) && re.Reason == "status is not supported" {
			return problems
		}
		problems = append(problems, fmt.Sprintf("response does not match operation %s of %s OpenAPI document: %v", route.Operation.OperationID, which, err))
	}
	return problems
}

// checkErrorBody checks LaunchDarkly's error representation: JSON with a
// code matching the status, a message and a UUID id.
func checkErrorBody(resp *http.Response, body []byte) []string {
	var problems []string
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		problems = append(problems, fmt.Sprintf("error Content-Type %q, want application/json", resp.Header.Get("Content-Type")))
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		return append(problems, fmt.Sprintf("error body is not a JSON object: %v", err))
	}
	for _, f := range []string{"code", "message", "id"} {
		if s, ok := e[f].(string); !ok || s == "" {
			problems = append(problems, fmt.Sprintf("error body field %q is %#v, want a non-empty string", f, e[f]))
		}
	}
	if len(e) != 3 {
		problems = append(problems, fmt.Sprintf("error body has %d fields, want code, message and id only", len(e)))
	}
	// A request that chose its ID gets it back; any other gets a UUID.
	if id, _ := e["id"].(string); id != "" && (resp.Request == nil || resp.Request.Header.Get("X-Request-Id") == "") {
		if _, err := uuid.Parse(id); err != nil {
			problems = append(problems, fmt.Sprintf("error id %q is not a UUID", id))
		}
	}
	if want, ok := errorCodes[resp.StatusCode]; ok && e["code"] != want {
		problems = append(problems, fmt.Sprintf("error code %#v, want %q for status %d", e["code"], want, resp.StatusCode))
	}
	return problems
}
