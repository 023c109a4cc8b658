package ingest_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/ingest"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testclock"
	"github.com/metricsd/metricsd/internal/testdb"
)

const testToken = "api-ingest-test-0123456789abcdef"

// browserFixture is a store with the default project, a Browser over it
// served on 127.0.0.1, and the client-side IDs of the two environments.
type browserFixture struct {
	srv        *httptest.Server
	browser    *ingest.Browser
	cat        *catalog.Services
	ctx        context.Context  // carries the owner as principal
	clock      *testclock.Clock // the goal cache's
	production string           // client-side ID
	test       string
}

func newBrowserFixture(t *testing.T, b testdb.Backend) *browserFixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, b.URL)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	cat := catalog.New(db)
	if _, err := cat.Auth.Bootstrap(ctx, testToken); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	p, err := cat.Auth.Authenticate(ctx, testToken)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	clock := testclock.New(time.Now())
	mux := http.NewServeMux()
	browser := ingest.NewBrowser(events.NewKeys(db, nil, 0), events.NewGoals(db, clock.Now), ingest.BrowserOptions{MaxBodyBytes: 4096, MaxStreams: 2})
	browser.Register(mux)
	rest := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "rest "+r.URL.Path)
	})
	srv := httptest.NewServer(ingest.Mount(mux, rest))
	t.Cleanup(srv.Close)
	f := &browserFixture{srv: srv, browser: browser, clock: clock, cat: cat, ctx: core.WithPrincipal(ctx, p)}
	_, envs, err := cat.Projects.GetProject(ctx, "default")
	if err != nil {
		t.Fatalf("GetProject: %v", err)
	}
	for _, e := range envs {
		switch e.Key {
		case "production":
			f.production = e.ID
		case "test":
			f.test = e.ID
		}
	}
	if f.production == "" || f.test == "" {
		t.Fatalf("default environments: %+v", envs)
	}
	return f
}

func (f *browserFixture) createMetric(t *testing.T, project string, m catalog.MetricPost) {
	t.Helper()
	if _, err := f.cat.Metrics.CreateMetric(f.ctx, project, m); err != nil {
		t.Fatalf("CreateMetric(%s): %v", m.Key, err)
	}
}

// do sends a request and returns status, headers and body.
func (f *browserFixture) do(t *testing.T, method, path, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(name, strings.TrimSpace(value))
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// errorOf decodes a LaunchDarkly error body, checking its id is set.
func errorOf(t *testing.T, body string) (code, message string) {
	t.Helper()
	var e struct{ Code, Message, ID string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.ID == "" {
		t.Fatalf("error body %q: want LaunchDarkly error JSON with an id (%v)", body, err)
	}
	return e.Code, e.Message
}

func TestGoals(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newBrowserFixture(t, b)
		// Empty project: an empty array, never null.
		st, h, body := f.do(t, "GET", "/sdk/goals/"+f.production, "")
		if st != 200 || body != "[]\n" || h.Get("Content-Type") != "application/json" {
			t.Fatalf("goals of an empty project = %d %q %q, want 200 []", st, h.Get("Content-Type"), body)
		}

		mk := func(key, kind string, urls []catalog.URLMatcher, selector string, mod ...func(*catalog.MetricDef)) catalog.MetricPost {
			m := catalog.MetricPost{Key: key, Kind: kind, MetricDef: catalog.MetricDef{URLs: urls, Selector: selector}}
			for _, fn := range mod {
				fn(&m.MetricDef)
			}
			return m
		}
		archived := func(d *catalog.MetricDef) { d.Archived = true }
		f.createMetric(t, "default", mk("signup-page", "pageview", []catalog.URLMatcher{{Kind: "exact", URL: "https://example.com/signup"}}, ""))
		f.createMetric(t, "default", mk("pricing-page", "pageview", []catalog.URLMatcher{{Kind: "canonical", URL: "https://example.com/pricing"}, {Kind: "substring", Substring: "/plans"}}, ""))
		f.createMetric(t, "default", mk("buy-click", "click", []catalog.URLMatcher{{Kind: "regex", Pattern: `^https://example\.com/(shop|cart)`}}, "#buy, .buy-button"))
		f.createMetric(t, "default", mk("any-click", "click", []catalog.URLMatcher{{Kind: "substring", Substring: "example"}}, "a"))
		f.createMetric(t, "default", mk("old-page", "pageview", []catalog.URLMatcher{{Kind: "exact", URL: "https://example.com/old"}}, "", archived))
		f.createMetric(t, "default", catalog.MetricPost{Key: "checkout", Kind: "custom", MetricDef: catalog.MetricDef{EventKey: "checkout-completed"}})
		// Another project's goals stay out.
		if _, _, err := f.cat.Projects.CreateProject(f.ctx, catalog.ProjectPost{Key: "other", Name: "Other"}); err != nil {
			t.Fatalf("CreateProject: %v", err)
		}
		f.createMetric(t, "other", mk("other-page", "pageview", []catalog.URLMatcher{{Kind: "substring", Substring: "/"}}, ""))

		// Goals are cached per project for events.GoalTTL.
		if st, _, body := f.do(t, "GET", "/sdk/goals/"+f.production, ""); st != 200 || body != "[]\n" {
			t.Fatalf("goals within the cache lifetime = %d %s, want the cached []", st, body)
		}
		f.clock.Add(events.GoalTTL)

		want := `[
			{"key":"any-click","kind":"click","urls":[{"kind":"substring","substring":"example"}],"selector":"a"},
			{"key":"buy-click","kind":"click","urls":[{"kind":"regex","pattern":"^https://example\\.com/(shop|cart)"}],"selector":"#buy, .buy-button"},
			{"key":"pricing-page","kind":"pageview","urls":[{"kind":"canonical","url":"https://example.com/pricing"},{"kind":"substring","substring":"/plans"}]},
			{"key":"signup-page","kind":"pageview","urls":[{"kind":"exact","url":"https://example.com/signup"}]}
		]`
		for _, env := range []string{f.production, f.test} {
			st, h, body = f.do(t, "GET", "/sdk/goals/"+env, "", "Origin: http://127.0.0.1:9999")
			if st != 200 {
				t.Fatalf("goals = %d %s", st, body)
			}
			if d := jsonDiff(t, want, body); d != "" {
				t.Errorf("goals (-want +got):\n%s", d)
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != "http://127.0.0.1:9999" {
				t.Errorf("Access-Control-Allow-Origin = %q", got)
			}
			if got := h.Get("Access-Control-Expose-Headers"); got != "Date" {
				t.Errorf("Access-Control-Expose-Headers = %q, want Date", got)
			}
		}
		// Byte-exact for one goal: nothing but the four fields.
		st, _, body = f.do(t, "GET", "/sdk/goals/"+f.production, "")
		if st != 200 || !strings.Contains(body, `{"key":"signup-page","kind":"pageview","urls":[{"kind":"exact","url":"https://example.com/signup"}]}`) {
			t.Errorf("goals body %s lacks the exact signup-page goal", body)
		}

		// Unknown client-side IDs are 404 with LaunchDarkly's error JSON.
		for _, id := range []string{"0123456789abcdef01234567", "nope", "sdk-" + f.production} {
			st, h, body := f.do(t, "GET", "/sdk/goals/"+id, "")
			if st != 404 {
				t.Fatalf("goals of %q = %d %s, want 404", id, st, body)
			}
			if code, msg := errorOf(t, body); code != "not_found" || msg != "unknown client-side ID" {
				t.Errorf("goals of %q: error %q %q", id, code, msg)
			}
			if h.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("404 without CORS headers: a browser could not read it")
			}
		}
		// Other methods: 405 with Allow.
		st, h, body = f.do(t, "POST", "/sdk/goals/"+f.production, "[]")
		if st != 405 || h.Get("Allow") != "GET, OPTIONS" {
			t.Errorf("POST goals = %d Allow %q %s", st, h.Get("Allow"), body)
		}
	})
}

func jsonDiff(t *testing.T, want, got string) string {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want: %v", err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got %q: %v", got, err)
	}
	return cmp.Diff(w, g)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestEvalx(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newBrowserFixture(t, b)
		env := f.production
		good := []string{
			`{"kind":"user","key":"u1","name":"Ann"}`,
			`{"kind":"multi","user":{"key":"u1"},"org":{"key":"o1"}}`,
			`{"key":"legacy-user","email":"a@example.com"}`, // an old-style user
		}
		for _, c := range good {
			for _, seg := range []string{b64(c), base64.URLEncoding.EncodeToString([]byte(c))} {
				for _, p := range []string{"/contexts/", "/users/"} {
					st, h, body := f.do(t, "GET", "/sdk/evalx/"+env+p+seg+"?withReasons=true", "")
					if st != 200 || body != "{}\n" || h.Get("Content-Type") != "application/json" {
						t.Errorf("GET evalx %s%s = %d %q %s", p, c, st, h.Get("Content-Type"), body)
					}
				}
			}
			for _, p := range []string{"/context", "/user"} {
				st, _, body := f.do(t, "REPORT", "/sdk/evalx/"+env+p, c, "Content-Type: application/json")
				if st != 200 || body != "{}\n" {
					t.Errorf("REPORT evalx %s %s = %d %s", p, c, st, body)
				}
			}
		}

		bad := []struct{ name, seg, want string }{
			{"not base64", "%21%21%21", "the context in the path is not base64url-encoded"},
			{"standard base64 alphabet", base64.StdEncoding.EncodeToString([]byte(`{"kind":"user","key":">>>"}`)), "the context in the path is not base64url-encoded"},
			{"not JSON", b64("user-1"), "the context is not valid: "},
			{"JSON array", b64(`[1]`), "the context is not valid: "},
			{"no key", b64(`{"kind":"user"}`), "the context is not valid: "},
			{"empty key", b64(`{"kind":"user","key":""}`), "the context is not valid: "},
			{"kind kind", b64(`{"kind":"kind","key":"k"}`), "the context is not valid: "},
			{"bad kind chars", b64(`{"kind":"us er","key":"k"}`), "the context is not valid: "},
			{"multi without contexts", b64(`{"kind":"multi"}`), "the context is not valid: "},
		}
		for _, c := range bad {
			st, _, body := f.do(t, "GET", "/sdk/evalx/"+env+"/contexts/"+c.seg, "")
			if st != 400 {
				t.Errorf("%s: GET = %d %s, want 400", c.name, st, body)
				continue
			}
			if code, msg := errorOf(t, body); code != "invalid_request" || !strings.HasPrefix(msg, c.want) {
				t.Errorf("%s: error %q %q, want invalid_request %q…", c.name, code, msg, c.want)
			}
		}
		for _, body := range []string{"", "{", `"user"`, `{"kind":"user"}`, `{"kind":"user","key":1}`} {
			st, _, got := f.do(t, "REPORT", "/sdk/evalx/"+env+"/context", body, "Content-Type: application/json")
			if st != 400 {
				t.Errorf("REPORT %q = %d %s, want 400", body, st, got)
				continue
			}
			if code, _ := errorOf(t, got); code != "invalid_request" {
				t.Errorf("REPORT %q: code %q", body, code)
			}
		}
		big := `{"kind":"user","key":"u","name":"` + strings.Repeat("x", 5000) + `"}`
		if st, _, got := f.do(t, "REPORT", "/sdk/evalx/"+env+"/context", big); st != 413 {
			t.Errorf("REPORT of 5 kB with a 4 kB limit = %d %s, want 413", st, got)
		}

		// Unknown environment first: 404 even for a bad context.
		for _, req := range [][2]string{{"GET", "/sdk/evalx/nope/contexts/" + b64(good[0])}, {"GET", "/sdk/evalx/nope/contexts/!!"}, {"REPORT", "/sdk/evalx/nope/context"}} {
			st, _, body := f.do(t, req[0], req[1], good[0])
			if st != 404 {
				t.Errorf("%s %s = %d %s, want 404", req[0], req[1], st, body)
			}
		}
		// Wrong methods.
		for _, req := range [][3]string{
			{"REPORT", "/sdk/evalx/" + env + "/contexts/" + b64(good[0]), "GET, OPTIONS"},
			{"GET", "/sdk/evalx/" + env + "/context", "REPORT, OPTIONS"},
			{"POST", "/sdk/evalx/" + env + "/context", "REPORT, OPTIONS"},
		} {
			st, h, body := f.do(t, req[0], req[1], "")
			if st != 405 || h.Get("Allow") != req[2] {
				t.Errorf("%s %s = %d Allow %q %s, want 405 Allow %q", req[0], req[1], st, h.Get("Allow"), body, req[2])
			}
		}
	})
}

func TestBrowserCORSPreflight(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newBrowserFixture(t, b)
		env := f.production
		cases := []struct {
			path, method, allow string
		}{
			{"/sdk/goals/" + env, "GET", "GET, OPTIONS"},
			{"/sdk/evalx/" + env + "/contexts/" + b64(`{"kind":"user","key":"u"}`), "GET", "GET, OPTIONS"},
			{"/sdk/evalx/" + env + "/context", "REPORT", "REPORT, OPTIONS"},
			{"/sdk/evalx/" + env + "/user", "REPORT", "REPORT, OPTIONS"},
			// A preflight never needs a valid ID: the browser sends no
			// credentials with it, and the real request gets the 404.
			{"/sdk/goals/unknown", "GET", "GET, OPTIONS"},
		}
		for _, c := range cases {
			st, h, body := f.do(t, "OPTIONS", c.path, "",
				"Origin: http://127.0.0.1:5000",
				"Access-Control-Request-Method: "+c.method,
				"Access-Control-Request-Headers: content-type,x-launchdarkly-user-agent,x-launchdarkly-wrapper,x-launchdarkly-instance-id,x-launchdarkly-brand-new, x-evil, x-launchdarkly-bad name")
			want := map[string]string{
				"Access-Control-Allow-Origin":      "http://127.0.0.1:5000",
				"Access-Control-Allow-Methods":     c.allow,
				"Access-Control-Allow-Headers":     "Cache-Control, Content-Type, Content-Length, Accept-Encoding, X-LaunchDarkly-User-Agent, X-LaunchDarkly-Payload-ID, X-LaunchDarkly-Wrapper, X-LaunchDarkly-Event-Schema, X-LaunchDarkly-Tags, X-LaunchDarkly-Instance-Id, x-launchdarkly-brand-new",
				"Access-Control-Allow-Credentials": "false",
				"Access-Control-Expose-Headers":    "Date",
				"Access-Control-Max-Age":           "300",
			}
			if st != 200 || body != "" {
				t.Errorf("OPTIONS %s = %d %q, want 200 and no body", c.path, st, body)
			}
			got := map[string]string{}
			for k := range want {
				got[k] = h.Get(k)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("OPTIONS %s headers (-want +got):\n%s", c.path, d)
			}
			if v := strings.Join(h.Values("Vary"), ", "); !strings.Contains(v, "Origin") {
				t.Errorf("Vary = %q, want Origin in it", v)
			}
		}
		// Without Origin (not a browser), any origin.
		st, h, _ := f.do(t, "OPTIONS", "/sdk/goals/"+env, "")
		if st != 200 || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("OPTIONS without Origin = %d %q", st, h.Get("Access-Control-Allow-Origin"))
		}
	})
}

func TestMount(t *testing.T) {
	f := newBrowserFixture(t, testdb.New(t, "sqlite"))
	// Everything but the SDK paths is the REST API's.
	for _, p := range []string{"/api/v2/projects", "/", "/healthz", "/sdkx", "//sdk/goals/x"} {
		st, _, body := f.do(t, "GET", p, "")
		if st != http.StatusTeapot || body != "rest "+p {
			t.Errorf("GET %s = %d %q, want the REST handler", p, st, body)
		}
	}
	// Unknown and non-canonical SDK paths: 404 error JSON a browser can
	// read, never a redirect.
	for _, p := range []string{"/sdk/nothing", "/sdk/goals", "/sdk//goals/" + f.production, "/sdk/goals/../goals/" + f.production,
		"/sdk/./goals/" + f.production, "/sdk/evalx/" + f.production + "/contexts/"} {
		st, h, body := f.do(t, "GET", p, "")
		if st != 404 || h.Get("Location") != "" || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s = %d Location %q ACAO %q %s, want 404", p, st, h.Get("Location"), h.Get("Access-Control-Allow-Origin"), body)
			continue
		}
		if code, _ := errorOf(t, body); code != "not_found" {
			t.Errorf("GET %s: code %q", p, code)
		}
	}
	if st, _, _ := f.do(t, "GET", "/sdk/goals/"+f.production, ""); st != 200 {
		t.Errorf("GET goals through Mount = %d", st)
	}
}

func TestFlagStream(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newBrowserFixture(t, b)
		ctxSeg := b64(`{"kind":"user","key":"u1"}`)
		open := func(method, path, body string) (*http.Response, *bufio.Reader) {
			t.Helper()
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			req, _ := http.NewRequest(method, f.srv.URL+path, rd)
			req.Header.Set("Origin", "http://127.0.0.1:1234")
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			return resp, bufio.NewReader(resp.Body)
		}
		readPut := func(what string, resp *http.Response, rd *bufio.Reader) {
			t.Helper()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" ||
				resp.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:1234" {
				t.Fatalf("%s: %d %q ACAO %q", what, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Access-Control-Allow-Origin"))
			}
			var got string
			for range 3 {
				line, err := rd.ReadString('\n')
				if err != nil {
					t.Fatalf("%s: reading the put: %v", what, err)
				}
				got += line
			}
			if got != "event: put\ndata: {}\n\n" {
				t.Fatalf("%s: first event %q, want a put of no flags", what, got)
			}
		}
		r1, rd1 := open("GET", "/eval/"+f.production+"/"+ctxSeg, "")
		readPut("GET stream", r1, rd1)
		r2, rd2 := open("REPORT", "/eval/"+f.production, `{"kind":"user","key":"u1"}`)
		readPut("REPORT stream", r2, rd2)

		// Past MaxStreams (2): 503 with Retry-After.
		st, h, body := f.do(t, "GET", "/eval/"+f.production+"/"+ctxSeg, "")
		if st != 503 || h.Get("Retry-After") == "" {
			t.Errorf("third stream = %d Retry-After %q %s, want 503", st, h.Get("Retry-After"), body)
		}
		// Bad input is refused before any stream starts.
		for _, c := range []struct {
			method, path, body string
			want               int
		}{
			{"GET", "/eval/nope/" + ctxSeg, "", 404},
			{"GET", "/eval/" + f.production + "/" + b64(`{"kind":"user"}`), "", 400},
			{"REPORT", "/eval/" + f.production, `{"key":`, 400},
			{"GET", "/eval/" + f.production, "", 405},
		} {
			if st, _, body := f.do(t, c.method, c.path, c.body); st != c.want {
				t.Errorf("%s %s = %d %s, want %d", c.method, c.path, st, body, c.want)
			}
		}

		// Close ends the open streams, and refuses new ones.
		f.browser.Close()
		for i, rd := range []*bufio.Reader{rd1, rd2} {
			done := make(chan error, 1)
			go func() { _, err := io.ReadAll(rd); done <- err }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("stream %d after Close: %v, want a clean end", i+1, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("stream %d still open 10s after Close", i+1)
			}
		}
		if st, _, _ := f.do(t, "GET", "/eval/"+f.production+"/"+ctxSeg, ""); st != 503 {
			t.Errorf("stream after Close = %d, want 503", st)
		}
	})
}
