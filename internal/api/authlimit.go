package api

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// Failed authentication is limited per client address (ratelimit.Failures):
// a client that presented DefaultAuthFailureLimit wrong tokens in a
// ratelimit.FailWindow gets 429 for every API request until its budget
// refills, whatever token it sends, and the store is not asked. A valid
// token from that address waits too, so a blocked address cannot keep
// testing guesses.

// DefaultAuthFailureLimit is the number of failed authentications an
// address may make per ratelimit.FailWindow.
const DefaultAuthFailureLimit = 10

// checkAuthFailures answers KindRateLimited, with Retry-After and
// X-Ratelimit-Reset, when addr has no failed authentication left in its
// budget.
func checkAuthFailures(l *ratelimit.Failures, w http.ResponseWriter, addr string) error {
	blocked, wait, full := l.Blocked(addr, time.Now())
	if !blocked {
		return nil
	}
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1)))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(full.UnixMilli(), 10))
	return core.Errorf(kindRateLimited, "too many failed authentications from this address (more than %d per %s); retry after the time in Retry-After", l.Limit(), ratelimit.FailWindow)
}

// clientAddr is the address failures and requests are counted against.
func clientAddr(r *http.Request) string { return ratelimit.ClientAddr(r.RemoteAddr) }
