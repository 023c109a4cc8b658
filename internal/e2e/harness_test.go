package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/testdb"
)

// testAdminToken is the admin token the test servers are started with.
const testAdminToken = "api-e2e-5f0c2d1e9a8b7c6d5e4f3a2b1c0d9e8f"

// env is one running metricsd and the means to talk to it.
type env struct {
	backend testdb.Backend
	app     *app.App
	base    string // http://127.0.0.1:PORT
	token   string
	ownerID string // the bootstrap owner's member ID
	// client is the generated client of the test that started the server;
	// subtests take their own from api(t).
	client *ldapi.APIClient
	// transport is the connection pool every client of this server shares.
	transport *http.Transport
}

// startServer starts metricsd on a fresh database of backend b with the
// admin token testAdminToken, and stops it when t ends.
func startServer(t *testing.T, b testdb.Backend) *env {
	t.Helper()
	// Rate limits off: these tests are not about them, and some make more
	// requests in ten seconds than the default windows hold. The tests of
	// the limits (ratelimit_test.go) start servers with their own.
	a, _ := runApp(t, app.Config{Addr: "127.0.0.1:0", DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}})
	e := newEnv(t, b, a, testAdminToken)
	owner, err := a.Store().Owner(context.Background())
	if err != nil {
		t.Fatalf("owner: %v", err)
	}
	e.ownerID = owner.ID
	return e
}

// newEnv returns an env for a running app that authenticates with token.
func newEnv(t testing.TB, b testdb.Backend, a *app.App, token string) *env {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	e := &env{backend: b, app: a, base: "http://" + a.Addr().String(), token: token, transport: tr}
	e.client = e.api(t)
	return e
}

// runApp opens and serves metricsd with cfg. The returned stop function
// cancels it, waits for Serve to return and fails t unless it returned nil;
// it runs at the end of t too if not called before.
func runApp(t testing.TB, cfg app.Config) (*app.App, func()) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	logw := &testLogWriter{t: t}
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, logger)
	if err != nil {
		cancel()
		t.Fatalf("app.Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve returned %v, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Serve did not return within 30s of cancellation")
			}
			logw.close()
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// testLogWriter sends the server's log to the test log until closed.
type testLogWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Logf("server: %s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// httpClient returns an HTTP client whose responses are validated against
// the OpenAPI document, failing t.
func (e *env) httpClient(t testing.TB) *http.Client {
	return &http.Client{Transport: newValidatingTransport(t, e.transport)}
}

// api returns a generated client for e whose responses are validated,
// failing t.
func (e *env) api(t testing.TB) *ldapi.APIClient {
	return e.apiWithToken(t, e.token)
}

func (e *env) apiWithToken(t testing.TB, token string) *ldapi.APIClient {
	cfg := ldapi.NewConfiguration()
	cfg.Servers = ldapi.ServerConfigurations{{URL: e.base}}
	if token != "" {
		cfg.AddDefaultHeader("Authorization", token)
	}
	cfg.HTTPClient = e.httpClient(t)
	return ldapi.NewAPIClient(cfg)
}

// do sends a raw request and returns the status, body and headers of the
// response. A non-empty body is sent as application/json. Headers are
// "Name: value" strings; they replace the defaults, and a header with an
// empty value removes it (so "Authorization:" sends no token).
func (e *env) do(t testing.TB, method, path, body string, headers ...string) (int, []byte, http.Header) {
	t.Helper()
	return e.doCtx(t, context.Background(), method, path, body, headers...)
}

// doUndoc is do for a request whose response the OpenAPI document does not
// describe; see allowUndocumented.
func (e *env) doUndoc(t testing.TB, method, path, body string, headers ...string) (int, []byte, http.Header) {
	t.Helper()
	return e.doCtx(t, allowUndocumented(context.Background()), method, path, body, headers...)
}

func (e *env) doCtx(t testing.TB, ctx context.Context, method, path, body string, headers ...string) (int, []byte, http.Header) {
	t.Helper()
	st, b, h, err := e.send(t, ctx, method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return st, b, h
}

// send is do without t.Fatal, for goroutines.
func (e *env) send(t testing.TB, ctx context.Context, method, path, body string, headers ...string) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", e.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return 0, nil, nil, fmt.Errorf("header %q is not Name: value", h)
		}
		value = strings.TrimSpace(value)
		if value == "" {
			req.Header.Del(name)
		} else {
			req.Header.Set(name, value)
		}
	}
	resp, err := e.httpClient(t).Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, b, resp.Header, nil
}

// apiError is LaunchDarkly's error body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id"`
}

// wantError checks that a response is the error status with code and a
// message containing each of msgParts.
func wantError(t testing.TB, what string, gotStatus int, body []byte, wantStatus int, msgParts ...string) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: error body %q: %v", what, body, err)
	}
	if gotStatus != wantStatus {
		t.Errorf("%s: status %d, want %d; body %s", what, gotStatus, wantStatus, body)
	}
	if want := errorCodes[wantStatus]; e.Code != want {
		t.Errorf("%s: code %q, want %q", what, e.Code, want)
	}
	if e.ID == "" {
		t.Errorf("%s: error id is empty", what)
	}
	for _, p := range msgParts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("%s: message %q does not contain %q", what, e.Message, p)
		}
	}
	return e
}

// clientError unpacks the response body of a failed generated-client call
// and checks its status.
func clientError(t testing.TB, what string, resp *http.Response, err error, wantStatus int, msgParts ...string) apiError {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want status %d", what, wantStatus)
		return apiError{}
	}
	var oe *ldapi.GenericOpenAPIError
	if !errors.As(err, &oe) || resp == nil {
		t.Errorf("%s: error %v, want an HTTP %d", what, err, wantStatus)
		return apiError{}
	}
	return wantError(t, what, resp.StatusCode, oe.Body(), wantStatus, msgParts...)
}

// status returns resp's status code, 0 for none.
func status(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// rawBody returns the body of a response the generated client has read (it
// puts the bytes back).
func rawBody(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	if resp == nil {
		t.Fatalf("no response")
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

// obj decodes a JSON object.
func obj(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", clip(b), err)
	}
	return m
}

// jsonValue decodes a JSON text written in a test.
func jsonValue(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON in test: %v\n%s", err, s)
	}
	return v
}

// diffJSON compares a decoded JSON value with the JSON text want.
func diffJSON(t testing.TB, what, want string, got any) {
	t.Helper()
	if d := cmp.Diff(jsonValue(t, want), roundTrip(t, got)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// roundTrip normalizes v to what encoding/json decodes into any.
func roundTrip(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

// without returns a copy of m without the named fields.
func without(m map[string]any, fields ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, f := range fields {
		delete(out, f)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// raceResult is the answer one racing writer got.
type raceResult struct {
	status int
	body   []byte
	err    error
}

// race sends n requests at once, body(i) for writer i, and returns every
// writer's answer.
func (e *env) race(t testing.TB, ctx context.Context, n int, method, path string, body func(i int) string, headers ...string) []raceResult {
	results := make([]raceResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			st, b, _, err := e.send(t, ctx, method, path, body(i), headers...)
			results[i] = raceResult{st, b, err}
		})
	}
	close(start)
	wg.Wait()
	return results
}

// soleWinner checks that exactly one racing writer got 200 and every other
// one 409, and returns the winner.
func soleWinner(t testing.TB, results []raceResult) int {
	t.Helper()
	winner := -1
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("writer %d: %v", i, r.err)
		case r.status == http.StatusOK:
			if winner >= 0 {
				t.Errorf("writers %d and %d both succeeded", winner, i)
			}
			winner = i
		default:
			wantError(t, fmt.Sprintf("writer %d", i), r.status, r.body, http.StatusConflict)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer succeeded")
	}
	return winner
}
