package api

import (
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/core"
)

// canonicalPath answers 404 (LaunchDarkly error JSON) for a request whose
// path is not canonical: empty segments ("//"), "." or ".." segments. Go's
// ServeMux would otherwise redirect them with an HTML body; metricsd never
// guesses which resource such a path means.
func (s *Server) canonicalPath(next http.Handler) http.Handler {
	return s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		p := r.URL.EscapedPath()
		if c := cleanPath(p); c != p {
			return core.Errorf(core.KindNotFound, "no resource at %q: the path is not canonical (use %q)", p, c)
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

// cleanPath is ServeMux's canonical form of p: rooted, no "." or ".."
// segments, no repeated slashes, a trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// checkInput refuses text that no store can hold before any handler sees
// it: U+0000 or invalid UTF-8 in the (decoded) path is a 404, since no
// resource can have such a key; in a query parameter name or value it is a
// 400 naming the parameter. Request bodies are checked by
// catalog.DecodeStrict.
func (s *Server) checkInput(next http.Handler) http.Handler {
	return s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		if badText(r.URL.Path) {
			return core.Errorf(core.KindNotFound, "no resource at %q", r.URL.EscapedPath())
		}
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				// Go drops what it cannot parse (a bad %-escape, a ";"):
				// refuse the query instead of answering for part of it.
				return core.Errorf(core.KindInvalid, "the query string is malformed: escape %%, ; and other reserved characters in parameter values")
			}
			for _, k := range slices.Sorted(maps.Keys(q)) {
				if badText(k) {
					return core.Errorf(core.KindInvalid, "query parameter name %q contains U+0000 (NUL) or invalid UTF-8", k)
				}
				for _, v := range q[k] {
					if !utf8.ValidString(v) {
						return core.Errorf(core.KindInvalid, "query parameter %s is not valid UTF-8", k)
					}
					if strings.IndexByte(v, 0) >= 0 {
						return core.Errorf(core.KindInvalid, "query parameter %s must not contain U+0000 (NUL)", k)
					}
				}
			}
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

// badText reports whether s holds U+0000 or is not valid UTF-8.
func badText(s string) bool { return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 }
