package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/web"
)

// TestResetTokenGraceEndsSession: after a reset that keeps the old value
// working for a while, a session signed in with the old value lasts until
// that grace period ends, and not after.
func TestResetTokenGraceEndsSession(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		list := "/projects/default/metrics"
		tok, secret := f.token("writer")
		br := f.browser()
		br.mustSignIn(secret)
		// The token's grace period runs on the catalog's (system) clock.
		grace := time.Now().Add(1500 * time.Millisecond)
		if _, _, err := f.svc.Tokens.ResetToken(f.admin, tok.ID, &grace); err != nil {
			t.Fatal(err)
		}
		if r := br.do(http.MethodGet, list, nil); r.status != http.StatusOK {
			t.Fatalf("within the grace period: %d, want 200", r.status)
		}
		time.Sleep(time.Until(grace) + 100*time.Millisecond)
		if r := br.do(http.MethodGet, list, nil); r.status != http.StatusSeeOther {
			t.Errorf("after the grace period: %d, want 303 to sign in", r.status)
		}
		if r := f.browser().signIn(secret); r.status != http.StatusUnauthorized {
			t.Errorf("the old value signs in after its grace period: %d", r.status)
		}
	})
}

// TestSessionCache: with the session cache on, a revoked token's session
// ends once the cache's time is up, and sign-out ends a session at once,
// even for another client holding the same cookie.
func TestSessionCache(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{SessionCacheTTL: 2 * time.Second})
		list := "/projects/default/metrics"
		tok, secret := f.token("writer")
		br := f.browser()
		br.mustSignIn(secret)
		if r := br.do(http.MethodGet, list, nil); r.status != http.StatusOK {
			t.Fatalf("signed in: %d", r.status)
		}
		if err := f.svc.Tokens.DeleteToken(f.admin, tok.ID); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(3 * time.Second)
		if r := br.do(http.MethodGet, list, nil); r.status != http.StatusSeeOther {
			t.Errorf("revoked token past the cache time: %d, want 303", r.status)
		}

		// Sign-out, while a second client holds a copy of the cookie.
		br.mustSignIn(adminToken)
		page := br.do(http.MethodGet, list, nil)
		u, _ := url.Parse(f.srv.URL)
		copyOf := f.browser()
		copyOf.c.Jar.SetCookies(u, br.c.Jar.Cookies(u))
		if r := copyOf.do(http.MethodGet, list, nil); r.status != http.StatusOK {
			t.Fatalf("copied cookie before sign-out: %d", r.status)
		}
		if r := br.do(http.MethodPost, "/sign-out", url.Values{"csrf": {csrfOf(t, page.body)}}); r.status != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", r.status)
		}
		if r := copyOf.do(http.MethodGet, list, nil); r.status != http.StatusSeeOther {
			t.Errorf("copied cookie right after sign-out: %d, want 303", r.status)
		}
	})
}

// TestCSRFTokenOfAnotherSession: a CSRF token is bound to its session;
// another session's valid token is refused and nothing changes.
func TestCSRFTokenOfAnotherSession(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		f := newFixture(t, b, web.Options{})
		f.metric("kept", "Kept")
		a, other := f.browser(), f.browser()
		a.mustSignIn(adminToken)
		other.mustSignIn(adminToken)
		theirs := csrfOf(t, other.do(http.MethodGet, "/projects/default/metrics/kept", nil).body)
		if r := a.do(http.MethodPost, "/projects/default/metrics/kept/delete", url.Values{"csrf": {theirs}}); r.status != http.StatusForbidden {
			t.Errorf("another session's CSRF token: %d, want 403", r.status)
		}
		if _, _, err := f.svc.Metrics.GetMetric(f.admin, "default", "kept", "", nil); err != nil {
			t.Errorf("the metric after a refused delete: %v", err)
		}
		// Signed out, a post is refused before anything else.
		anon := f.browser()
		if r := anon.do(http.MethodPost, "/projects/default/metrics/kept/delete", url.Values{"csrf": {theirs}}); r.status != http.StatusForbidden {
			t.Errorf("signed-out post: %d, want 403", r.status)
		}
	})
}
