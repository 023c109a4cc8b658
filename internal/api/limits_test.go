package api_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// newTestServer returns a server over a fresh SQLite database whose admin
// token is benchToken, and the store.
func newTestServer(t *testing.T, opts api.Options) (*api.Server, *store.DB, string) {
	t.Helper()
	ctx := context.Background()
	b := testdb.New(t, "sqlite")
	db, err := store.Open(ctx, b.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat := catalog.New(db)
	if _, err := cat.Auth.Bootstrap(ctx, benchToken); err != nil {
		t.Fatal(err)
	}
	return api.New(cat, opts), db, strings.TrimPrefix(b.URL, "sqlite:")
}

type answer struct {
	status int
	header http.Header
	body   struct{ Code, Message, ID string }
}

func call(t *testing.T, srv http.Handler, method, path, body, token, remote string) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header()}
	if rec.Code >= 400 {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil || a.body.Code == "" || a.body.ID == "" {
			t.Errorf("%s %s: error body %q is not LaunchDarkly error JSON (%v)", method, path, rec.Body, err)
		}
	}
	return a
}

// TestAuthFailureLimit: an address that presented more wrong tokens than its
// budget gets 429 with Retry-After and X-Ratelimit-Reset for every API
// request, a valid token included, without the store being asked; other
// addresses are unaffected, and requests without a token do not count.
func TestAuthFailureLimit(t *testing.T) {
	srv, db, _ := newTestServer(t, api.Options{AuthFailureLimit: 5, RateLimits: &ratelimit.Config{Global: 1}})
	const attacker, other = "192.0.2.7:40000", "198.51.100.9:1234"
	// The global budget is spent: a wrong token is still a 401, not a 429.
	if a := call(t, srv, "GET", "/api/v2/projects/default", "", benchToken, other); a.status != 200 {
		t.Fatalf("valid token: %d", a.status)
	}
	for i := range 5 {
		a := call(t, srv, "GET", "/api/v2/projects/default", "", "api-wrong-"+strconv.Itoa(i), attacker)
		if a.status != http.StatusUnauthorized || a.body.Code != "unauthorized" {
			t.Fatalf("wrong token %d: %d %+v, want 401", i, a.status, a.body)
		}
	}
	for range 3 {
		if a := call(t, srv, "GET", "/api/v2/projects/default", "", "", attacker); a.status != http.StatusTooManyRequests {
			t.Fatalf("no token from the limited address: %d, want 429", a.status)
		}
	}
	before := db.Statements()
	for i, token := range []string{"api-wrong-99", benchToken} {
		// A different port of the same host is the same client.
		a := call(t, srv, "GET", "/api/v2/projects/default", "", token, "192.0.2.7:40001")
		if a.status != http.StatusTooManyRequests || a.body.Code != "rate_limited" || !strings.Contains(a.body.Message, "too many failed authentications") {
			t.Fatalf("request %d from the limited address: %d %+v, want 429", i, a.status, a.body)
		}
		retry, err := strconv.Atoi(a.header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 60 {
			t.Errorf("Retry-After %q, want 1..60 seconds", a.header.Get("Retry-After"))
		}
		reset, err := strconv.ParseInt(a.header.Get("X-Ratelimit-Reset"), 10, 64)
		if now := time.Now(); err != nil || reset < now.UnixMilli() || reset > now.Add(61*time.Second).UnixMilli() {
			t.Errorf("X-Ratelimit-Reset %q is not a time within the next minute", a.header.Get("X-Ratelimit-Reset"))
		}
	}
	if n := db.Statements() - before; n != 0 {
		t.Errorf("requests from a limited address cost %d statements, want 0", n)
	}
	// Another address: its wrong token is a 401, its valid token works (the
	// global budget refills one request per ten seconds, so it is 429 from
	// that limiter, with the global headers, not the failure limiter).
	if a := call(t, srv, "GET", "/api/v2/projects/default", "", "api-wrong-0", other); a.status != http.StatusUnauthorized {
		t.Errorf("wrong token from another address: %d, want 401", a.status)
	}
	if a := call(t, srv, "GET", "/api/v2/projects/default", "", benchToken, other); a.status != http.StatusTooManyRequests || a.header.Get("X-Ratelimit-Global-Remaining") != "0" {
		t.Errorf("valid token from another address: %d, want the global limiter's 429", a.status)
	}
	// IPv6 clients are counted by /64.
	for i := range 5 {
		call(t, srv, "GET", "/api/v2/projects/default", "", "api-wrong-"+strconv.Itoa(i), "[2001:db8:1:2::"+strconv.Itoa(i+1)+"]:443")
	}
	if a := call(t, srv, "GET", "/api/v2/projects/default", "", "api-wrong-x", "[2001:db8:1:2:ffff::1]:443"); a.status != http.StatusTooManyRequests {
		t.Errorf("another address of a limited /64: %d, want 429", a.status)
	}
	if a := call(t, srv, "GET", "/api/v2/projects/default", "", "api-wrong-x", "[2001:db8:1:3::1]:443"); a.status != http.StatusUnauthorized {
		t.Errorf("an address of another /64: %d, want 401", a.status)
	}
}

// TestWrongTokenCostsOneQuery: a wrong token repeated, from any number of
// addresses, is looked up in the store once, then answered 401 from memory;
// a valid token still authenticates.
func TestWrongTokenCostsOneQuery(t *testing.T) {
	srv, db, _ := newTestServer(t, api.Options{AuthFailureLimit: -1})
	before := db.Statements()
	for i := range 300 {
		a := call(t, srv, "GET", "/api/v2/projects/default", "", "Bearer api-revoked-token", "203.0.113."+strconv.Itoa(i%250)+":5000")
		if a.status != http.StatusUnauthorized || a.body.Message != "invalid access token" {
			t.Fatalf("request %d: %d %+v, want 401 invalid access token", i, a.status, a.body)
		}
	}
	if n := db.Statements() - before; n != 1 {
		t.Errorf("300 requests with one wrong token cost %d statements, want 1", n)
	}
	if a := call(t, srv, "GET", "/api/v2/projects/default", "", benchToken, "203.0.113.1:5000"); a.status != http.StatusOK {
		t.Errorf("valid token: %d, want 200", a.status)
	}
}

// TestAuthFailureLimitDefault: without options, the eleventh wrong token
// from one address within a minute is refused with 429.
func TestAuthFailureLimitDefault(t *testing.T) {
	srv, _, _ := newTestServer(t, api.Options{})
	for i := range api.DefaultAuthFailureLimit {
		if a := call(t, srv, "GET", "/api/v2/metrics/default", "", "wrong"+strconv.Itoa(i), "192.0.2.1:1"); a.status != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i, a.status)
		}
	}
	if a := call(t, srv, "GET", "/api/v2/metrics/default", "", "wrong", "192.0.2.1:1"); a.status != http.StatusTooManyRequests {
		t.Errorf("wrong token past the default budget: %d, want 429", a.status)
	}
}

// TestSQLiteRequestTimeout: while another process holds SQLite's write lock
// (the writer's busy timeout is 10 s), writes answer 503 within the request
// timeout plus slack, and reads are unaffected.
func TestSQLiteRequestTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv, _, path := newTestServer(t, api.Options{RequestTimeout: timeout})
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK")

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			start := time.Now()
			a := call(t, srv, "POST", "/api/v2/metrics/default", `{"key":"locked-`+strconv.Itoa(i)+`","kind":"custom","eventKey":"e"}`, benchToken, "192.0.2.1:1")
			if d := time.Since(start); d > timeout+3*time.Second {
				t.Errorf("write %d answered after %s", i, d)
			}
			if a.status != http.StatusServiceUnavailable || a.body.Code != "service_unavailable" || !strings.Contains(a.body.Message, "did not answer within 300ms") {
				t.Errorf("write %d under a held lock: %d %+v, want 503", i, a.status, a.body)
			}
		})
	}
	wg.Wait()
	if a := call(t, srv, "GET", "/api/v2/metrics/default", "", benchToken, "192.0.2.1:1"); a.status != http.StatusOK {
		t.Errorf("read under a held write lock: %d, want 200", a.status)
	}
}
