package ingest

import (
	"net/http"
	"path"
	"strings"

	"github.com/metricsd/metricsd/internal/core"
)

// sdkPrefixes are the paths LaunchDarkly's SDKs call: everything else is
// the REST API's.
func sdkPrefixes() [6]string {
	return [...]string{"/sdk/", "/eval/", "/events/", "/bulk", "/diagnostic", "/mobile"}
}

// IsSDKPath reports whether p is one of the SDK protocols' paths.
func IsSDKPath(p string) bool {
	for _, prefix := range sdkPrefixes() {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// Mount sends requests for SDK paths to sdk and all others to rest. An
// SDK path that is not canonical ("//", "." or ".." segments) is a 404 with
// error JSON, as on the REST API, never a redirect; so is an SDK path sdk
// has no route for.
func Mount(sdk *http.ServeMux, rest http.Handler) http.Handler {
	notFound := BrowserCORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeBrowserError(w, r, nil, core.Errorf(core.KindNotFound, "no resource at %s", r.URL.Path))
	}), http.MethodGet, http.MethodPost, MethodReport)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if !IsSDKPath(p) {
			rest.ServeHTTP(w, r)
			return
		}
		if c := path.Clean(p); c != p && c+"/" != p {
			notFound.ServeHTTP(w, r)
			return
		}
		if _, pattern := sdk.Handler(r); pattern == "" {
			notFound.ServeHTTP(w, r)
			return
		}
		sdk.ServeHTTP(w, r)
	})
}
