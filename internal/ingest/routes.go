package ingest

import (
	"net/http"
	"path"
)

// routes adds the event protocol's paths to mux. Every one is an SDK path
// (IsSDKPath), which lets Handler pass other requests on without a match.
func (s *Server) routes(mux *http.ServeMux) {
	// Server-side SDKs: Authorization holds the SDK key.
	mux.Handle("/bulk", s.handler(serverKey, true))
	mux.Handle("/diagnostic", s.handler(serverKey, false))
	// Mobile SDKs: Authorization holds the mobile key ("api_key mob-…").
	mux.Handle("/mobile", s.handler(mobileKey, true))
	mux.Handle("/mobile/events", s.handler(mobileKey, true))
	mux.Handle("/mobile/events/bulk", s.handler(mobileKey, true))
	mux.Handle("/mobile/events/diagnostic", s.handler(mobileKey, false))
	// Browser SDKs: the client-side ID is in the path; pages of any origin
	// may post (see cors.go).
	mux.Handle("/events/bulk/{clientSideId}", BrowserCORS(s.handler(clientSide, true), http.MethodPost))
	mux.Handle("/events/diagnostic/{clientSideId}", BrowserCORS(s.handler(clientSide, false), http.MethodPost))
}

// Handler serves the event protocol's paths and passes every other
// request to next (the REST API), on the same listener. None of the event
// paths passes through next's access-token authentication. Paths that are
// not canonical go to next too, which answers them with its own 404.
func (s *Server) Handler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p != "" && IsSDKPath(p) && path.Clean(p) == p {
			if _, pattern := mux.Handler(r); pattern != "" {
				// ServeHTTP, not the handler found: it sets the path values.
				mux.ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
