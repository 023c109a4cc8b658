package web_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testclock"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/web"
)

const adminToken = "api-web-test-admin-token-0123456789"

// fixture is a UI over a fresh database, served by httptest.
type fixture struct {
	t     testing.TB
	db    *store.DB
	svc   *catalog.Services
	srv   *httptest.Server
	clock *testclock.Clock
	admin context.Context // carries the admin's principal
}

func newFixture(t testing.TB, b testdb.Backend, opts web.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, b.URL)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	svc := catalog.New(db)
	if _, err := svc.Auth.Bootstrap(ctx, adminToken); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	p, err := svc.Auth.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	c := testclock.New(time.Now().UTC().Truncate(time.Millisecond))
	opts.Sessions, opts.ParseMetricQuery, opts.Clock = db, api.ParseMetricQuery, c.Now
	if opts.Explorer == nil {
		opts.Explorer = events.NewExplorer(db, c.Now)
	}
	ui := web.New(svc, opts)
	srv := httptest.NewServer(ui.Handler())
	t.Cleanup(srv.Close)
	return &fixture{t: t, db: db, svc: svc, srv: srv, clock: c, admin: core.WithPrincipal(ctx, p)}
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	f *fixture
	c *http.Client
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	status  int
	body    string
	h       http.Header
	cookies []*http.Cookie
}

func (b *browser) do(method, path string, form url.Values, header ...string) resp {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.f.srv.URL+path, body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: string(out), h: res.Header, cookies: res.Cookies()}
}

var hiddenCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token a page's forms carry.
func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := hiddenCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", page)
	}
	return m[1]
}

// signIn signs the browser in with token and returns the response.
func (b *browser) signIn(token string) resp {
	b.f.t.Helper()
	form := b.do(http.MethodGet, "/sign-in", nil)
	if form.status != http.StatusOK {
		b.f.t.Fatalf("GET /sign-in: %d %s", form.status, form.body)
	}
	return b.do(http.MethodPost, "/sign-in", url.Values{"csrf": {csrfOf(b.f.t, form.body)}, "token": {token}, "next": {"/projects/default/metrics"}})
}

func (b *browser) mustSignIn(token string) {
	b.f.t.Helper()
	if r := b.signIn(token); r.status != http.StatusSeeOther || r.h.Get("Location") != "/projects/default/metrics" {
		b.f.t.Fatalf("sign-in: %d Location %q\n%s", r.status, r.h.Get("Location"), r.body)
	}
}

func (f *fixture) metric(key, name string) {
	f.t.Helper()
	_, err := f.svc.Metrics.CreateMetric(f.admin, "default", catalog.MetricPost{Key: key, Kind: "custom", MetricDef: catalog.MetricDef{Name: name, EventKey: "e-" + key, Description: "about " + key}})
	if err != nil {
		f.t.Fatalf("CreateMetric(%s): %v", key, err)
	}
}

func (f *fixture) token(role string) (*account.Token, string) {
	f.t.Helper()
	tok, secret, err := f.svc.Tokens.CreateToken(f.admin, account.TokenPost{Name: role + " token", Role: role})
	if err != nil {
		f.t.Fatalf("CreateToken: %v", err)
	}
	return tok, secret
}

func sessionCookie(cs []*http.Cookie) *http.Cookie {
	for _, c := range cs {
		if c.Name == "metricsd_session" {
			return c
		}
	}
	return nil
}

func TestSignIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("checkout", "Checkout rate")

		// Signed out, a page sends the browser to sign in and back.
		anon := f.browser()
		if r := anon.do(http.MethodGet, "/projects/default/metrics?q=x", nil); r.status != http.StatusSeeOther || r.h.Get("Location") != "/sign-in?next=%2Fprojects%2Fdefault%2Fmetrics%3Fq%3Dx" {
			t.Errorf("signed out: %d Location %q", r.status, r.h.Get("Location"))
		}

		// A wrong token: 401, the form again, no session.
		bad := f.browser()
		r := bad.signIn("api-not-a-token")
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "That access token is not valid") || sessionCookie(r.cookies) != nil {
			t.Errorf("bad token: %d cookie %v\n%s", r.status, sessionCookie(r.cookies), r.body)
		}

		// The good token: a session cookie with the right attributes.
		good := f.browser()
		r = good.signIn(adminToken)
		c := sessionCookie(r.cookies)
		if r.status != http.StatusSeeOther || c == nil {
			t.Fatalf("good token: %d cookies %v\n%s", r.status, r.cookies, r.body)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
			t.Errorf("cookie over plain HTTP: HttpOnly %v SameSite %v Path %q Secure %v", c.HttpOnly, c.SameSite, c.Path, c.Secure)
		}
		if strings.Contains(c.Value, adminToken) {
			t.Errorf("cookie holds the token")
		}
		page := good.do(http.MethodGet, "/projects/default/metrics", nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, "Checkout rate") || !strings.Contains(page.body, "Sign out") {
			t.Errorf("metrics list: %d\n%s", page.status, page.body)
		}
		if home := good.do(http.MethodGet, "/", nil); home.status != http.StatusSeeOther || home.h.Get("Location") != "/projects/default/metrics" {
			t.Errorf("/: %d Location %q", home.status, home.h.Get("Location"))
		}

		// A revoked token cannot sign in.
		tok, secret := f.token("reader")
		if err := f.svc.Tokens.DeleteToken(f.admin, tok.ID); err != nil {
			t.Fatal(err)
		}
		if r := f.browser().signIn(secret); r.status != http.StatusUnauthorized {
			t.Errorf("revoked token: %d", r.status)
		}

		// Sign-out deletes the session: the old cookie no longer works.
		out := good.do(http.MethodPost, "/sign-out", url.Values{"csrf": {csrfOf(t, page.body)}})
		if out.status != http.StatusSeeOther || out.h.Get("Location") != "/sign-in" {
			t.Errorf("sign-out: %d Location %q", out.status, out.h.Get("Location"))
		}
		replay := f.browser()
		u, _ := url.Parse(f.srv.URL)
		replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value}})
		if r := replay.do(http.MethodGet, "/projects/default/metrics", nil); r.status != http.StatusSeeOther {
			t.Errorf("old cookie after sign-out: %d", r.status)
		}
	})
}

func TestSecureCookieOverTLS(t *testing.T) {
	b := testdb.New(t, "sqlite")
	f := newFixture(t, b, web.Options{})
	tlsSrv := httptest.NewUnstartedServer(f.srv.Config.Handler)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	br := f.browser()
	br.c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	f.srv = tlsSrv
	r := br.signIn(adminToken)
	if c := sessionCookie(r.cookies); r.status != http.StatusSeeOther || c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("over TLS: %d cookie %+v", r.status, c)
	}
}

func TestCSRF(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("doomed", "Doomed")
		br := f.browser()
		br.mustSignIn(adminToken)
		page := br.do(http.MethodGet, "/projects/default/metrics/doomed", nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, "Delete metric") {
			t.Fatalf("metric page: %d\n%s", page.status, page.body)
		}
		token := csrfOf(t, page.body)
		del := "/projects/default/metrics/doomed/delete"
		for _, c := range []struct {
			what   string
			form   url.Values
			header []string
		}{
			{"no token", url.Values{}, nil},
			{"wrong token", url.Values{"csrf": {token + "x"}}, nil},
			{"right token from another site (Origin)", url.Values{"csrf": {token}}, []string{"Origin", "https://evil.example"}},
			{"right token from another site (Sec-Fetch-Site)", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
		} {
			if r := br.do(http.MethodPost, del, c.form, c.header...); r.status != http.StatusForbidden {
				t.Errorf("%s: %d, want 403\n%s", c.what, r.status, r.body)
			}
		}
		if _, _, err := f.svc.Metrics.GetMetric(f.admin, "default", "doomed", "", nil); err != nil {
			t.Fatalf("the metric went away after refused posts: %v", err)
		}
		// The header form, as fetch sends it, and the same origin.
		r := br.do(http.MethodPost, del, url.Values{}, "X-CSRF-Token", token, "Origin", f.srv.URL, "Sec-Fetch-Site", "same-origin")
		if r.status != http.StatusSeeOther {
			t.Fatalf("delete with the token: %d\n%s", r.status, r.body)
		}
		if _, _, err := f.svc.Metrics.GetMetric(f.admin, "default", "doomed", "", nil); core.KindOf(err) != core.KindNotFound {
			t.Errorf("metric after delete: %v", err)
		}
		list := br.do(http.MethodGet, r.h.Get("Location"), nil)
		if !strings.Contains(list.body, "Metric doomed was deleted.") {
			t.Errorf("no flash after delete:\n%s", list.body)
		}

		// The sign-in form needs the token of its own cookie.
		fresh := f.browser()
		if r := fresh.do(http.MethodPost, "/sign-in", url.Values{"csrf": {"forged-forged-forged-0"}, "token": {adminToken}}); r.status != http.StatusForbidden || sessionCookie(r.cookies) != nil {
			t.Errorf("sign-in without its cookie: %d", r.status)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{IdleTimeout: time.Hour, AbsoluteTimeout: 3 * time.Hour})
		list := "/projects/default/metrics"
		br := f.browser()
		br.mustSignIn(adminToken)
		// Active every 50 minutes, the session outlives the idle timeout...
		for range 3 {
			f.clock.Add(50 * time.Minute)
			if r := br.do(http.MethodGet, list, nil); r.status != http.StatusOK {
				t.Fatalf("active session at %v: %d", f.clock.Now(), r.status)
			}
		}
		// ...until its absolute end.
		f.clock.Add(31 * time.Minute)
		if r := br.do(http.MethodGet, list, nil); r.status != http.StatusSeeOther {
			t.Errorf("past the absolute end: %d, want 303", r.status)
		}
		// Idle for an hour ends a session too.
		br2 := f.browser()
		br2.mustSignIn(adminToken)
		f.clock.Add(time.Hour)
		if r := br2.do(http.MethodGet, list, nil); r.status != http.StatusSeeOther {
			t.Errorf("idle for an hour: %d, want 303", r.status)
		}
	})
}

func TestTokenChangesEndSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		list := "/projects/default/metrics"
		for _, c := range []struct {
			what   string
			change func(id string) error
		}{
			{"revoked", func(id string) error { return f.svc.Tokens.DeleteToken(f.admin, id) }},
			{"reset", func(id string) error { _, _, err := f.svc.Tokens.ResetToken(f.admin, id, nil); return err }},
		} {
			tok, secret := f.token("writer")
			br := f.browser()
			br.mustSignIn(secret)
			if r := br.do(http.MethodGet, list, nil); r.status != http.StatusOK {
				t.Fatalf("%s: before: %d", c.what, r.status)
			}
			if err := c.change(tok.ID); err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			if r := br.do(http.MethodGet, list, nil); r.status != http.StatusSeeOther {
				t.Errorf("%s token: %d, want 303 to sign in", c.what, r.status)
			}
		}
	})
}

func TestMetricList(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		for _, k := range []string{"alpha", "beta", "gamma", "alpine"} {
			f.metric(k, "Metric "+k)
		}
		br := f.browser()
		br.mustSignIn(adminToken)
		r := br.do(http.MethodGet, "/projects/default/metrics?sort=name&limit=2", nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Showing 1–2 of 4 metrics") || !strings.Contains(r.body, "Page 1 of 2") {
			t.Fatalf("first page: %d\n%s", r.status, r.body)
		}
		if i, j := strings.Index(r.body, "Metric alpha"), strings.Index(r.body, "Metric alpine"); i < 0 || j < i || strings.Contains(r.body, "Metric gamma") {
			t.Errorf("first page by name holds the wrong metrics:\n%s", r.body)
		}
		if !strings.Contains(r.body, `href="/projects/default/metrics?limit=2&amp;offset=2&amp;sort=name"`) {
			t.Errorf("next link does not keep the query:\n%s", r.body)
		}
		r = br.do(http.MethodGet, "/projects/default/metrics?q=alp", nil)
		if !strings.Contains(r.body, "of 2 metrics") || strings.Contains(r.body, "Metric beta") {
			t.Errorf("search alp:\n%s", r.body)
		}
		r = br.do(http.MethodGet, "/projects/default/metrics?filter=nonsense+equals+1", nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("bad filter: %d, want 400\n%s", r.status, r.body)
		}
		if r := br.do(http.MethodGet, "/projects/nope/metrics", nil); r.status != http.StatusNotFound {
			t.Errorf("unknown project: %d, want 404", r.status)
		}
		// The _site link of the API's representation.
		if r := br.do(http.MethodGet, "/experiments/metrics/beta/edit", nil); r.status != http.StatusSeeOther || r.h.Get("Location") != "/projects/default/metrics/beta" {
			t.Errorf("_site: %d Location %q", r.status, r.h.Get("Location"))
		}
		if r := br.do(http.MethodGet, "/experiments/metrics/none/edit", nil); r.status != http.StatusNotFound {
			t.Errorf("_site of an unknown metric: %d", r.status)
		}
	})
}

func TestSignInRateLimit(t *testing.T) {
	f := newFixture(t, testdb.New(t, "sqlite"), web.Options{SignInFailures: 3})
	br := f.browser()
	for i := range 3 {
		if r := br.signIn("api-wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	r := br.signIn(adminToken)
	if r.status != http.StatusTooManyRequests || r.h.Get("Retry-After") == "" || sessionCookie(r.cookies) != nil {
		t.Errorf("after 3 failures: %d Retry-After %q", r.status, r.h.Get("Retry-After"))
	}
}

func TestStaticAssets(t *testing.T) {
	f := newFixture(t, testdb.New(t, "sqlite"), web.Options{})
	br := f.browser()
	page := br.do(http.MethodGet, "/sign-in", nil)
	m := regexp.MustCompile(`href="(/static/[0-9a-f]{16}/app\.css)"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no hashed stylesheet:\n%s", page.body)
	}
	r := br.do(http.MethodGet, m[1], nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.h.Get("Content-Type"), "text/css") || !strings.Contains(r.h.Get("Cache-Control"), "immutable") {
		t.Errorf("stylesheet: %d %q %q", r.status, r.h.Get("Content-Type"), r.h.Get("Cache-Control"))
	}
	if r := br.do(http.MethodGet, "/static/0000000000000000/app.css", nil); r.status != http.StatusNotFound {
		t.Errorf("stale hash: %d", r.status)
	}
	if csp := page.h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestOwns(t *testing.T) {
	ui := web.New(catalog.New(nil), web.Options{})
	for p, want := range map[string]bool{
		"/": true, "/sign-in": true, "/sign-out": true, "/projects/default/metrics": true, "/projects/default/metrics/m": true,
		"/experiments/metrics/m/edit": true, "/static/abc/app.css": true,
		"//projects/default/metrics": false, "/projects/./default/metrics": false, "/projects/default/metrics/": false,
		"/api/v2/projects": false, "/api": false, "/healthz": false, "/bulk": false, "/sign-in/x": false, "/nope": false,
	} {
		if got := ui.Owns(p); got != want {
			t.Errorf("Owns(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestSignInNextStaysOnSite(t *testing.T) {
	f := newFixture(t, testdb.New(t, "sqlite"), web.Options{})
	br := f.browser()
	form := br.do(http.MethodGet, "/sign-in?next=//evil.example/x", nil)
	if strings.Contains(form.body, "evil.example") {
		t.Errorf("the form keeps an off-site next:\n%s", form.body)
	}
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		r := br.do(http.MethodPost, "/sign-in", url.Values{"csrf": {csrfOf(t, form.body)}, "token": {adminToken}, "next": {next}})
		if r.status != http.StatusSeeOther || r.h.Get("Location") != "/" {
			t.Errorf("next %q: %d Location %q", next, r.status, r.h.Get("Location"))
		}
	}
}
