package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// resetSDKKey answers POST …/environments/{environmentKey}/apiKey: a new
// SDK key, the old one kept until ?expiry (epoch ms) when given.
func (s *Server) resetSDKKey(w http.ResponseWriter, r *http.Request) error {
	var expiry *time.Time
	if raw := strings.TrimSpace(r.URL.Query().Get("expiry")); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			return invalid("expiry must be a time in UNIX milliseconds")
		}
		t := time.UnixMilli(n).UTC()
		expiry = &t
	}
	p, e, err := s.svc.Projects.ResetSDKKey(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"), expiry)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newEnvironmentRep(p, e))
	return nil
}

// resetMobileKey answers POST …/environments/{environmentKey}/mobileKey;
// the old mobile key stops working at once, as in LaunchDarkly.
func (s *Server) resetMobileKey(w http.ResponseWriter, r *http.Request) error {
	p, e, err := s.svc.Projects.ResetMobileKey(r.Context(), r.PathValue("projectKey"), r.PathValue("environmentKey"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newEnvironmentRep(p, e))
	return nil
}
