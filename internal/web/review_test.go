package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/web"
)

// newRouteFixture is the fixture the route-table walks fill patterns
// against (fillPattern): metrics target and other in the default project,
// and group grp of both.
func newRouteFixture(t *testing.T, b testdb.Backend) *fixture {
	t.Helper()
	f := newFixture(t, b, web.Options{})
	f.metric("target", "Target")
	f.metric("other", "Other")
	if _, err := f.svc.Groups.CreateMetricGroup(f.admin, "default", catalog.MetricGroupPost{Key: "grp", GroupDef: catalog.GroupDef{Name: "Group", Kind: "standard",
		Metrics: []catalog.GroupMetricIn{{Key: "target"}, {Key: "other"}}}}); err != nil {
		t.Fatalf("CreateMetricGroup: %v", err)
	}
	return f
}

// fillPattern turns a route pattern into its method and a path naming
// the fixture's project, metric, group and environment.
func fillPattern(p string) (method, path string) {
	method, path, _ = strings.Cut(p, " ")
	path = strings.TrimSuffix(path, "{$}")
	r := strings.NewReplacer("{projectKey}", "default", "{metricKey}", "target", "{groupKey}", "grp",
		"{envKey}", "production", "{hash}", "0000000000000000", "{file...}", "app.css")
	return method, r.Replace(path)
}

// lastAudit is the ID of the newest audit entry.
func (f *fixture) lastAudit() string {
	f.t.Helper()
	es, _, err := f.svc.Audit.Entries(f.admin, audit.Query{Limit: 1})
	if err != nil || len(es) == 0 {
		f.t.Fatalf("audit entries: %v %v", es, err)
	}
	return es[0].ID
}

// TestCSRFOnEveryRoute walks the route table: every route that is not a
// GET refuses a post without the session's token, with another
// session's token, or from another site, and nothing changes.
func TestCSRFOnEveryRoute(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newRouteFixture(t, b)
		br := f.browser()
		br.mustSignIn(adminToken)
		token := csrfOf(t, br.do(http.MethodGet, "/projects/default/metrics/target", nil).body)
		other := f.browser()
		other.mustSignIn(adminToken)
		otherToken := csrfOf(t, other.do(http.MethodGet, "/projects/default/metrics/target", nil).body)
		if otherToken == token {
			t.Fatalf("two sessions share a CSRF token")
		}
		before := f.lastAudit()
		posts := 0
		for _, p := range web.RoutePatterns() {
			method, path := fillPattern(p)
			if method == http.MethodGet || method == http.MethodHead {
				continue
			}
			posts++
			full := url.Values{"key": {"made"}, "name": {"Made"}, "kind": {"custom"}, "eventKey": {"e"}, "op": {"save"},
				"token": {adminToken}, "confirm": {"1"}, "confirmed": {"1"}}
			for _, c := range []struct {
				what   string
				csrf   string
				header []string
			}{
				{"no token", "", nil},
				{"wrong token", token + "x", nil},
				{"another session's token", otherToken, nil},
				{"right token, Origin of another site", token, []string{"Origin", "https://evil.example"}},
				{"right token, Origin null", token, []string{"Origin", "null"}},
				{"right token, cross-site fetch", token, []string{"Sec-Fetch-Site", "cross-site"}},
				{"right token, same-site fetch", token, []string{"Sec-Fetch-Site", "same-site"}},
			} {
				form := url.Values{}
				for k, v := range full {
					form[k] = v
				}
				if c.csrf != "" {
					form.Set("csrf", c.csrf)
				}
				r := br.do(method, path, form, c.header...)
				if r.status != http.StatusForbidden {
					t.Errorf("%s %s, %s: %d, want 403", method, path, c.what, r.status)
				}
				if sc := sessionCookie(r.cookies); sc != nil && sc.MaxAge >= 0 {
					t.Errorf("%s %s, %s: set a session cookie", method, path, c.what)
				}
			}
		}
		if posts < 5 {
			t.Fatalf("only %d state-changing routes found", posts)
		}
		if after := f.lastAudit(); after != before {
			t.Errorf("refused posts wrote audit entries (newest %s, was %s)", after, before)
		}
		f.get("target")
		if keys := f.groupKeys("grp"); len(keys) != 2 {
			t.Errorf("group changed: %v", keys)
		}
		// The session still works after all that.
		if r := br.do(http.MethodGet, "/projects/default/metrics", nil); r.status != http.StatusOK {
			t.Errorf("session after refused posts: %d", r.status)
		}
	})
}

// TestSignInNextControlCharacters: browsers drop tabs and newlines inside
// a URL, so "/\t/evil.example" would become "//evil.example".
func TestSignInNextControlCharacters(t *testing.T) {
	f := newFixture(t, testdb.New(t, "sqlite"), web.Options{})
	for _, next := range []string{"/\t/evil.example/x", "/\x00/evil.example", "/\x0b/evil.example", "/ /evil.example", "/x\\..\\\\evil.example",
		"/\\/evil.example", "https:/evil.example", "/a\x7f"} {
		br := f.browser()
		form := br.do(http.MethodGet, "/sign-in?next="+url.QueryEscape(next), nil)
		if form.status != http.StatusOK {
			t.Fatalf("form with next %q: %d", next, form.status)
		}
		if strings.Contains(form.body, "evil.example") {
			t.Errorf("the form keeps next %q:\n%s", next, form.body)
		}
		r := br.do(http.MethodPost, "/sign-in", url.Values{"csrf": {csrfOf(t, form.body)}, "token": {adminToken}, "next": {next}})
		loc := r.h.Get("Location")
		if r.status != http.StatusSeeOther || loc != "/" {
			t.Errorf("next %q: %d Location %q", next, r.status, loc)
		}
		if strings.ContainsAny(loc, "\t\x00\x0b\\ \x7f") {
			t.Errorf("next %q: Location %q keeps a character a browser rewrites", next, loc)
		}
	}
	// A path with a query stays as it is.
	br := f.browser()
	form := br.do(http.MethodGet, "/sign-in", nil)
	r := br.do(http.MethodPost, "/sign-in", url.Values{"csrf": {csrfOf(t, form.body)}, "token": {adminToken}, "next": {"/projects/default/metrics?q=a%20b&sort=name"}})
	if loc := r.h.Get("Location"); loc != "/projects/default/metrics?q=a%20b&sort=name" {
		t.Errorf("on-site next: Location %q", loc)
	}
}

// TestUIBadInput: odd paths, queries and forms on UI routes get a 4xx
// page (or a redirect), never a 500, on both stores.
func TestUIBadInput(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("target", "Target")
		br := f.browser()
		br.mustSignIn(adminToken)
		token := csrfOf(t, br.do(http.MethodGet, "/projects/default/metrics", nil).body)
		huge := strings.Repeat("a", 2<<20)
		for _, path := range []string{
			"/projects/%00/metrics", "/projects/%ff%fe/metrics", "/projects/default/metrics/%00", "/projects/default/metrics/%ff",
			"/projects/" + strings.Repeat("p", 5000) + "/metrics",
			"/projects/default/metrics?limit=-1&offset=-5", "/projects/default/metrics?limit=abc&offset=1e99&sort=%ff",
			"/projects/default/metrics?filter=%00", "/projects/default/metrics?filter=name%20equals%20%ff", "/projects/default/metrics?offset=99999999999999999999",
			"/projects/default/metrics?q=%ff%00&q=a&limit=1&limit=2",
			"/projects/default/metric-groups?sort=%ff&kind=%00&offset=-1", "/projects/default/metric-groups/%00", "/projects/default/metric-groups/%ff/edit",
			"/projects/default/metric-groups/_new?pq=%ff&poffset=-9", "/projects/default/metric-groups/grp/delete",
			"/projects/default/events?env=%00", "/projects/default/environments/%ff/events?days=99999999999999999999",
			"/projects/default/environments/production/events?days=-1&offset=%00&silent=x&unused=-4",
			"/projects/nope/metrics/new", "/projects/default/metrics/target/edit?x=%ff", "/experiments/metrics/%00/edit",
			"/switch-project?project=%00", "/switch-project?project=..", "/static/x/../../etc/passwd", "/static/0000/%00",
			"/sign-in?next=%ff%00",
		} {
			r := br.do(http.MethodGet, path, nil)
			if r.status >= 500 {
				t.Errorf("GET %s: %d\n%.400s", path, r.status, r.body)
			}
		}
		for _, c := range []struct {
			path string
			form url.Values
		}{
			{"/projects/default/metrics/new", url.Values{"key": {"k\x00"}, "name": {"\xff"}, "kind": {"custom", "click"}, "eventKey": {"e", "f"}, "urlKind": {"exact"}, "urlValue": {"a", "b", "c"}}},
			{"/projects/default/metrics/new", url.Values{"key": {"k2"}, "name": {huge}}},
			{"/projects/default/metrics/target/edit", url.Values{"version": {"\xff"}, "name": {"x\x00"}, "kind": {"\xff"}}},
			{"/projects/default/metrics/target/edit", url.Values{"version": {"99999999999999999999"}, "tags": {strings.Repeat("t,", 5000)}}},
			{"/projects/default/metrics/%00/delete", url.Values{}},
			{"/projects/default/metric-groups/_new", url.Values{"key": {"\xff"}, "kind": {"\x00"}, "step": {"target", "target", "\xff"}, "stepName": {"a"}, "op": {"up:99", "down:-1"}}},
			{"/projects/default/metric-groups/_new", url.Values{"op": {"remove:abc"}, "step": {strings.Repeat("s", 100000)}}},
			{"/projects/default/metric-groups/nope/edit", url.Values{"version": {"-1"}, "op": {"save"}}},
			{"/projects/default/metric-groups/nope/delete", url.Values{}},
		} {
			form := url.Values{"csrf": {token}}
			for k, v := range c.form {
				form[k] = v
			}
			r := br.do(http.MethodPost, c.path, form)
			if r.status >= 500 {
				t.Errorf("POST %s %.200v: %d\n%.400s", c.path, c.form, r.status, r.body)
			}
		}
		// The sign-in form with odd tokens: refused, no session.
		anon := f.browser()
		signInTok := csrfOf(t, anon.do(http.MethodGet, "/sign-in", nil).body)
		for _, tok := range []string{"\x00", "\xff\xfe", "api-\x00" + adminToken, strings.Repeat("x", 100000)} {
			r := anon.do(http.MethodPost, "/sign-in", url.Values{"csrf": {signInTok}, "token": {tok, adminToken}, "next": {"\xff"}})
			if r.status != http.StatusUnauthorized || sessionCookie(r.cookies) != nil {
				t.Errorf("sign-in with token %.20q: %d", tok, r.status)
			}
		}
		if r := anon.do(http.MethodPost, "/sign-in", url.Values{"csrf": {signInTok}, "token": {huge}}); r.status != http.StatusBadRequest {
			t.Errorf("sign-in with a 2 MB form: %d, want 400", r.status)
		}
		// A body past the bound with the token in the header.
		r := br.do(http.MethodPost, "/projects/default/metrics/new", url.Values{"key": {"big"}, "description": {huge}}, "X-CSRF-Token", token)
		if r.status >= 500 || r.status < 400 {
			t.Errorf("2 MB form: %d", r.status)
		}
		if m, _, err := f.svc.Metrics.GetMetric(f.admin, "default", "big", "", nil); err == nil {
			t.Errorf("2 MB form stored %s", m.Key)
		}
	})
}

// TestSignInReplacesSession: signing in again (an attacker's planted
// cookie included) gives a new session ID and ends the old one.
func TestSignInReplacesSession(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		br := f.browser()
		first := sessionCookie(br.signIn(adminToken).cookies)
		_, secret := f.token("reader")
		// A signed-in browser's GET /sign-in goes on; the form it kept
		// (the sign-in cookie's token) can still post.
		var signInTok string
		for _, c := range br.c.Jar.Cookies(mustURL(t, f.srv.URL+"/sign-in")) {
			if c.Name == "metricsd_signin" {
				signInTok = c.Value
			}
		}
		r := br.do(http.MethodPost, "/sign-in", url.Values{"csrf": {signInTok}, "token": {secret}, "next": {"/projects/default/metrics"}})
		second := sessionCookie(r.cookies)
		if first == nil || second == nil || first.Value == second.Value {
			t.Fatalf("sign-in kept the session ID: %v %v", first, second)
		}
		replay := f.browser()
		u, _ := url.Parse(f.srv.URL)
		replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: first.Name, Value: first.Value}})
		if r := replay.do(http.MethodGet, "/projects/default/metrics", nil); r.status != http.StatusSeeOther {
			t.Errorf("the replaced session still works: %d", r.status)
		}
		if r := br.do(http.MethodGet, "/projects/default/metrics", nil); r.status != http.StatusOK || strings.Contains(r.body, "New metric") {
			t.Errorf("the new session is not the reader's: %d", r.status)
		}
	})
}

// TestSignOutEveryReplica: a second UI over the same database (another
// replica) stops honouring a signed-out session once its session cache
// (the API auth cache's TTL) has run out.
func TestSignOutEveryReplica(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		other := web.New(f.svc, web.Options{Sessions: f.db, ParseMetricQuery: api.ParseMetricQuery, Clock: f.clock.Now, SessionCacheTTL: 2 * time.Second})
		srv2 := httptest.NewServer(other.Handler())
		t.Cleanup(srv2.Close)
		br := f.browser()
		br.mustSignIn(adminToken)
		page := br.do(http.MethodGet, "/projects/default/metrics", nil)
		c := sessionCookie(br.c.Jar.Cookies(mustURL(t, f.srv.URL)))
		get2 := func() int {
			req, _ := http.NewRequest(http.MethodGet, srv2.URL+"/projects/default/metrics", nil)
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			res, err := br.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if s := get2(); s != http.StatusOK {
			t.Fatalf("the session on the second replica: %d", s)
		}
		if r := br.do(http.MethodPost, "/sign-out", url.Values{"csrf": {csrfOf(t, page.body)}}); r.status != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", r.status)
		}
		f.clock.Add(2 * time.Second)
		if s := get2(); s != http.StatusSeeOther {
			t.Errorf("signed-out session on the second replica after its cache TTL: %d, want 303", s)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestHostileTextIsEscaped: names, descriptions, tags, group labels and
// event keys are shown as text on every page that shows them.
func TestHostileTextIsEscaped(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		const evil = `"><img src=x onerror=alert(1)><script>alert(2)</script>javascript:alert(3)`
		for _, k := range []string{"m1", "m2"} {
			if _, err := f.svc.Metrics.CreateMetric(f.admin, "default", catalog.MetricPost{Key: k, Kind: "custom", MetricDef: catalog.MetricDef{
				Name: evil + k, EventKey: "ev-" + k, Description: evil}}); err != nil {
				t.Fatalf("CreateMetric: %v", err)
			}
		}
		if _, err := f.svc.Groups.CreateMetricGroup(f.admin, "default", catalog.MetricGroupPost{Key: "g", GroupDef: catalog.GroupDef{Name: evil, Kind: "standard", Description: evil,
			Metrics: []catalog.GroupMetricIn{{Key: "m1", NameInGroup: evil}, {Key: "m2"}}}}); err != nil {
			t.Fatalf("CreateMetricGroup: %v", err)
		}
		br := f.browser()
		br.mustSignIn(adminToken)
		for _, p := range []string{"/projects/default/metrics", "/projects/default/metrics?q=" + url.QueryEscape(evil), "/projects/default/metrics/m1",
			"/projects/default/metrics/m1/edit", "/projects/default/metrics/m1/delete", "/projects/default/metric-groups", "/projects/default/metric-groups/g",
			"/projects/default/metric-groups/g/edit", "/projects/default/metric-groups/g/delete", "/experiments/metrics/m1/edit",
			"/projects/default/metric-groups?q=" + url.QueryEscape(evil), "/projects/default/environments/production/events"} {
			r := br.do(http.MethodGet, p, nil)
			if r.status >= 500 {
				t.Errorf("GET %s: %d", p, r.status)
			}
			for _, raw := range []string{"<img src=x", "<script>alert", `href="javascript:`} {
				if strings.Contains(r.body, raw) {
					t.Errorf("GET %s shows %q unescaped", p, raw)
				}
			}
		}
	})
}

// TestOutsiderRefusedEverywhere walks the route table as a principal that
// may not see the project: every page under it is refused, every post
// with a valid CSRF token is refused, and nothing changes.
func TestOutsiderRefusedEverywhere(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newRouteFixture(t, b)
		_, secret, err := f.svc.Tokens.CreateToken(f.admin, account.TokenPost{Name: "outsider", InlineRole: []account.Statement{
			{Effect: "allow", Resources: []string{"proj/elsewhere"}, Actions: []string{"*"}},
			{Effect: "allow", Resources: []string{"proj/elsewhere:metric/*"}, Actions: []string{"*"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		br := f.browser()
		if r := br.signIn(secret); r.status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", r.status)
		}
		home := br.do(http.MethodGet, "/", nil)
		if home.status != http.StatusOK || strings.Contains(home.body, `value="default"`) {
			t.Fatalf("outsider's home: %d\n%s", home.status, home.body)
		}
		token := csrfOf(t, home.body)
		before := f.lastAudit()
		for _, p := range web.RoutePatterns() {
			method, path := fillPattern(p)
			if !strings.HasPrefix(path, "/projects/") && !strings.HasPrefix(path, "/experiments/") {
				continue
			}
			var form url.Values
			if method != http.MethodGet {
				form = url.Values{"csrf": {token}, "key": {"made"}, "name": {"Made"}, "kind": {"custom"}, "eventKey": {"e"}, "op": {"save"},
					"version": {"1"}, "step": {"target", "other"}, "stepName": {"", ""}, "confirmed": {"1"}}
			}
			r := br.do(method, path, form)
			want := http.StatusForbidden
			if strings.HasPrefix(path, "/experiments/") {
				want = http.StatusNotFound // no project it may see has the metric
			}
			if r.status != want {
				t.Errorf("outsider %s %s: %d, want %d", method, path, r.status, want)
			}
			if strings.Contains(r.body, "Target") || strings.Contains(r.body, "about target") || strings.Contains(r.body, "&#34;grp&#34;") {
				t.Errorf("outsider %s %s shows the project's data", method, path)
			}
		}
		if after := f.lastAudit(); after != before {
			t.Errorf("the outsider's posts wrote audit entries")
		}
		f.get("target")
		if keys := f.groupKeys("grp"); len(keys) != 2 {
			t.Errorf("group changed: %v", keys)
		}
	})
}

// TestSecurityHeaders: pages, error pages and the sign-in form are not
// stored by caches, may not be framed and load nothing inline.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, testdb.New(t, "sqlite"), web.Options{})
	f.metric("target", "Target")
	anon := f.browser()
	br := f.browser()
	br.mustSignIn(adminToken)
	for _, c := range []struct {
		b      *browser
		path   string
		status int
	}{
		{anon, "/sign-in", http.StatusOK},
		{br, "/projects/default/metrics", http.StatusOK},
		{br, "/projects/default/metrics/target", http.StatusOK},
		{br, "/projects/default/metrics/nope", http.StatusNotFound},
		{br, "/projects/nope/metrics", http.StatusNotFound},
		{br, "/nope", http.StatusNotFound},
	} {
		r := c.b.do(http.MethodGet, c.path, nil)
		if r.status != c.status {
			t.Errorf("GET %s: %d, want %d", c.path, r.status, c.status)
		}
		if got := r.h.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", c.path, got)
		}
		csp := r.h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s: CSP %q lacks %q", c.path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("GET %s: CSP %q allows unsafe sources", c.path, csp)
		}
		if r.h.Get("X-Frame-Options") != "DENY" || r.h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: X-Frame-Options %q, X-Content-Type-Options %q", c.path, r.h.Get("X-Frame-Options"), r.h.Get("X-Content-Type-Options"))
		}
		if !strings.Contains(r.body, `<html lang="en">`) || !strings.Contains(r.body, `href="#main"`) {
			t.Errorf("GET %s: no lang attribute or skip link", c.path)
		}
	}
}
