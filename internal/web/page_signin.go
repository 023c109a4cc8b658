package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// signInData is the sign-in page's data.
type signInData struct {
	Token string // the form's CSRF token (before there is a session)
	Next  string
	Error string
}

func (signInData) PageTitle() string { return "Sign in" }

// safeNext returns next when it is a path on this site, else "/". Browsers
// drop tabs and newlines inside a URL and read a backslash as a slash, so
// "/\t/evil.example" or "/\\evil.example" would leave the site: next may
// hold no control character, space or backslash, and must parse as a path
// with neither scheme nor host.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return next
}

// signInForm shows the sign-in form; a signed-in browser goes on.
func (u *UI) signInForm(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if stateFrom(r.Context()).session != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	u.render(w, r, http.StatusOK, "signin", signInData{Token: signInToken(w, r), Next: next})
	return nil
}

// signIn exchanges an access token for a session. The token is checked by
// the same code as the API's Authorization header; the session remembers
// the token's ID and stored hash, never its value.
func (u *UI) signIn(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return core.Errorf(core.KindInvalid, "the form could not be read")
	}
	want := ""
	if c, err := r.Cookie(signInCookie); err == nil {
		want = c.Value
	}
	if err := checkCSRF(r, want); err != nil {
		return err
	}
	next := safeNext(r.PostFormValue("next"))
	addr := ratelimit.ClientAddr(r.RemoteAddr)
	if blocked, wait, _ := u.limiter.Blocked(addr, time.Now()); blocked {
		w.Header().Set("Retry-After", fmt.Sprint(max(1, int(wait.Seconds()+0.999))))
		return core.Errorf(kindRateLimited, "too many failed sign-ins from this address; wait a minute and try again")
	}
	secret := strings.TrimSpace(r.PostFormValue("token"))
	p, err := u.svc.Auth.Authenticate(r.Context(), secret)
	if core.KindOf(err) == core.KindUnauthorized {
		if secret != "" {
			u.limiter.Fail(addr, time.Now())
		}
		msg := "That access token is not valid. Check that you copied all of it, and that it has not been deleted or reset."
		if secret == "" {
			msg = "Enter an access token."
		}
		u.render(w, r, http.StatusUnauthorized, "signin", signInData{Token: want, Next: next, Error: msg})
		return nil
	}
	if err != nil {
		return err
	}
	if old := stateFrom(r.Context()).session; old != nil {
		if err := u.sessions.end(r.Context(), old.idHash); err != nil {
			return err
		}
	}
	value, err := u.sessions.open(r.Context(), p, catalog.HashToken(secret))
	if err != nil {
		return err
	}
	if err := u.sessions.sweep(r.Context()); err != nil {
		u.log.WarnContext(r.Context(), "web: deleting ended sessions failed", "err", err)
	}
	setSessionCookie(w, r, value, u.sessions.absolute)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// signOut ends the session.
func (u *UI) signOut(w http.ResponseWriter, r *http.Request) error {
	if err := u.sessions.end(r.Context(), stateFrom(r.Context()).session.idHash); err != nil {
		return err
	}
	clearSessionCookie(w, r)
	setFlash(w, r, "You are signed out.")
	http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
	return nil
}
