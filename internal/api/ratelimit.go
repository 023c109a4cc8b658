package api

import (
	"net/http"
	"strconv"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// limitRequest counts an authenticated API request against the rate limit
// windows of the route with verb method and pattern (empty pattern: a
// request no route serves, which only the global window governs), sets
// LaunchDarkly's headers for the windows that govern it, and returns a
// KindRateLimited error with Retry-After when one of them is spent.
func (s *Server) limitRequest(w http.ResponseWriter, r *http.Request, method, pattern string) error {
	if s.limit == nil {
		return nil
	}
	p := core.PrincipalFrom(r.Context())
	token := p.TokenID
	if token == "" {
		token = "member:" + p.MemberID
	}
	d := s.limit.Take(r.Context(), ratelimit.Request{Token: token, Address: clientAddr(r), Method: method, Pattern: pattern})
	h := w.Header()
	if d.Global >= 0 {
		h.Set("X-Ratelimit-Global-Remaining", strconv.Itoa(d.Global))
	}
	if d.Route >= 0 {
		h.Set("X-Ratelimit-Route-Remaining", strconv.Itoa(d.Route))
	}
	if d.Global >= 0 || d.Route >= 0 {
		h.Set("X-Ratelimit-Reset", strconv.FormatInt(d.Reset.UnixMilli(), 10))
	}
	if d.Allowed {
		return nil
	}
	h.Set("Retry-After", strconv.Itoa(d.RetryAfter))
	cfg := s.limit.Config()
	switch d.Refused {
	case ratelimit.ScopeAddress:
		return core.Errorf(kindRateLimited, "too many requests from this client address (more than %d per %s); retry after the time in Retry-After", cfg.Address, ratelimit.Window)
	case ratelimit.ScopeToken:
		return core.Errorf(kindRateLimited, "this access token used its share of the global rate limit (%d of %d requests per %s); retry after the time in Retry-After", cfg.TokenCap(), cfg.Global, ratelimit.Window)
	case ratelimit.ScopeRoute:
		n := cfg.RouteWrite
		if method == http.MethodGet || method == http.MethodHead {
			n = cfg.RouteRead
		}
		return core.Errorf(kindRateLimited, "rate limit of %d requests per %s for %s %s exceeded; retry after the time in Retry-After", n, ratelimit.Window, method, pattern)
	}
	return core.Errorf(kindRateLimited, "global rate limit of %d requests per %s exceeded; retry after the time in Retry-After", cfg.Global, ratelimit.Window)
}
