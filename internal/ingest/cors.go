package ingest

import (
	"net/http"
	"strings"
)

// browserAllowedHeaders are the request headers browser SDKs send to the
// SDK and event endpoints. A preflight that asks for other X-LaunchDarkly-*
// headers (SDKs add new ones from time to time) gets those allowed too.
var browserAllowedHeaders = []string{
	"Cache-Control",
	"Content-Type",
	"Content-Length",
	"Accept-Encoding",
	"X-LaunchDarkly-User-Agent",
	"X-LaunchDarkly-Payload-ID",
	"X-LaunchDarkly-Wrapper",
	"X-LaunchDarkly-Event-Schema",
	"X-LaunchDarkly-Tags",
	"X-LaunchDarkly-Instance-Id",
}

// corsMaxAge is how long, in seconds, a browser may reuse a preflight
// answer.
const corsMaxAge = "300"

// BrowserCORS lets web pages of any origin call next, the way LaunchDarkly's
// client-side endpoints do: it answers preflights (OPTIONS) itself, allowing
// methods and the SDKs' headers, and marks every answer readable by the
// page, its Date header included (the SDKs read it to learn the server's
// clock). methods are the methods next serves, e.g. "GET" or "REPORT".
// Credentials are never allowed: browser SDKs send none.
func BrowserCORS(next http.Handler, methods ...string) http.Handler {
	allowMethods := strings.Join(append(append([]string{}, methods...), http.MethodOptions), ", ")
	fixed := strings.Join(browserAllowedHeaders, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		origin := r.Header.Get("Origin")
		if origin == "" {
			origin = "*"
		} else {
			h.Add("Vary", "Origin")
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "false")
		h.Set("Access-Control-Expose-Headers", "Date")
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		allowHeaders := fixed
		if extra := extraSDKHeaders(r.Header.Values("Access-Control-Request-Headers")); extra != "" {
			allowHeaders += ", " + extra
		}
		h.Set("Access-Control-Allow-Methods", allowMethods)
		h.Set("Access-Control-Allow-Headers", allowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
		w.WriteHeader(http.StatusOK)
	})
}

// maxExtraHeaders bounds how many unlisted headers one preflight answer
// allows.
const maxExtraHeaders = 16

// extraSDKHeaders returns, comma-separated, the X-LaunchDarkly-* headers a
// preflight asks for that browserAllowedHeaders does not list (at most
// maxExtraHeaders).
func extraSDKHeaders(requested []string) string {
	var extra []string
	for _, v := range requested {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if !strings.HasPrefix(strings.ToLower(name), "x-launchdarkly-") || len(name) > 64 || !isToken(name) {
				continue
			}
			if len(extra) < maxExtraHeaders && !listed(name, browserAllowedHeaders) && !listed(name, extra) {
				extra = append(extra, name)
			}
		}
	}
	return strings.Join(extra, ", ")
}

func listed(name string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// isToken reports whether s is an HTTP token (RFC 9110), so that nothing
// but a header name is ever echoed into a response header.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return s != ""
}
