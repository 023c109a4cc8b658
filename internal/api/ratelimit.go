package api

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/metricsd/metricsd/internal/core"
	"golang.org/x/time/rate"
)

// rateWindow is the period LaunchDarkly states its limits in.
const rateWindow = 10 * time.Second

// rateLimiter applies one budget of requests per ten seconds to every
// authenticated API request of this replica, like LaunchDarkly's global
// limit that all tokens of an account share, and reports it in LaunchDarkly's
// headers.
type rateLimiter struct {
	lim   *rate.Limiter
	burst int
}

// newRateLimiter returns nil when perWindow is not positive: no limit.
func newRateLimiter(perWindow int) *rateLimiter {
	if perWindow <= 0 {
		return nil
	}
	return &rateLimiter{lim: rate.NewLimiter(rate.Limit(float64(perWindow)/rateWindow.Seconds()), perWindow), burst: perWindow}
}

// allow spends one request and sets the rate limit headers. It returns a
// KindRateLimited error when the budget is spent.
func (rl *rateLimiter) allow(w http.ResponseWriter) error {
	if rl == nil {
		return nil
	}
	now := time.Now()
	ok := rl.lim.AllowN(now, 1)
	tokens := rl.lim.TokensAt(now)
	// The budget is whole again once the missing tokens have refilled.
	full := now.Add(time.Duration((float64(rl.burst) - tokens) / float64(rl.lim.Limit()) * float64(time.Second)))
	h := w.Header()
	h.Set("X-Ratelimit-Global-Remaining", strconv.Itoa(max(int(math.Floor(tokens)), 0)))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(full.UnixMilli(), 10))
	if ok {
		return nil
	}
	wait := time.Duration((1 - tokens) / float64(rl.lim.Limit()) * float64(time.Second))
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return core.Errorf(kindRateLimited, "rate limit of %d requests per %s exceeded; retry after the time in Retry-After", rl.burst, rateWindow)
}
