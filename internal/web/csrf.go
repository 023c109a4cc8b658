package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"time"
)

// CSRF protection. Every request that is not a GET or HEAD must
//   - come from this origin when the browser says where it comes from
//     (Sec-Fetch-Site "same-origin", an Origin naming this host), and
//   - carry the session's CSRF token, in the form field csrfField (every
//     form renders it from the page data) or, for JavaScript fetch calls,
//     the header csrfHeader;
//
// otherwise it gets 403. The sign-in form, used before there is a session,
// carries a random token that must match the signInCookie it was served
// with.
const (
	csrfField    = "csrf"
	csrfHeader   = "X-CSRF-Token"
	signInCookie = "metricsd_signin"
)

// sameOrigin reports whether the request's fetch metadata and Origin, when
// present, say it comes from this site's own pages.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// presentedCSRF is the token a request carries: the header, else the form
// field.
func presentedCSRF(r *http.Request) string {
	if h := r.Header.Get(csrfHeader); h != "" {
		return h
	}
	return r.PostFormValue(csrfField)
}

func tokensEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// checkCSRF returns a 403 error unless the state-changing request r is
// same-origin and carries want.
func checkCSRF(r *http.Request, want string) error {
	if !sameOrigin(r) {
		return forbidden("this form was sent from another site; open the page here and send it again")
	}
	if !tokensEqual(presentedCSRF(r), want) {
		return forbidden("the form's security token is missing or out of date; reload the page and send it again")
	}
	return nil
}

// signInToken returns the sign-in form's token, setting its cookie when the
// browser has none.
func signInToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(signInCookie); err == nil && len(c.Value) == 22 {
		return c.Value
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: v, Path: "/sign-in", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int((time.Hour).Seconds())})
	return v
}
