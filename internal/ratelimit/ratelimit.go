// Package ratelimit owns metricsd's request limits: LaunchDarkly's global
// window that all tokens of the account share, its route-level windows per
// route pattern and verb, and metricsd's cap on the share of the global
// window one token may take; and Failures, the per-address budget of
// failed authentications and sign-ins that the API and the web UI share.
//
// Every window is a fixed ten-second window aligned to the Unix epoch, as
// LaunchDarkly describes its limits: a count per window that resets when the
// window ends, whose end X-Ratelimit-Reset reports. A token bucket
// (golang.org/x/time/rate) has no window end to report and refills
// continuously, so its "remaining" would not be the requests left until a
// reset; the fixed window is what the headers mean. Aligning windows to the
// epoch lets replicas that share counters agree on them without talking.
//
// The package has no HTTP and no SQL: a Counter counts, in memory (Memory)
// or in the database for replicas that share one (the store implements it).
package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/metricsd/metricsd/internal/core"
)

// Window is the length of every rate limit window.
const Window = 10 * time.Second

// The defaults, per Window, in the order of magnitude of LaunchDarkly's.
const (
	DefaultGlobal     = 1000
	DefaultRouteRead  = 500
	DefaultRouteWrite = 100
	DefaultTokenShare = 50
)

// DefaultSharedTimeout bounds a call to the shared Counter unless
// Options.SharedTimeout says otherwise. Past it, or when it fails, the
// request is counted by this replica alone (see Limiter).
const DefaultSharedTimeout = 100 * time.Millisecond

// Config sets the windows. A zero field switches its window off.
type Config struct {
	// Global is the number of requests per Window that all tokens share.
	Global int
	// RouteRead and RouteWrite are the number of requests per Window to one
	// route pattern with one verb: GET (HEAD counts as GET), and POST,
	// PATCH, PUT or DELETE.
	RouteRead, RouteWrite int
	// TokenShare is the percentage of Global one token may use; 0 or 100
	// lets one token use all of it.
	TokenShare int
	// Address is the number of requests per Window from one client
	// address, whatever their tokens.
	Address int
}

// Defaults is the configuration metricsd starts with.
func Defaults() Config {
	return Config{Global: DefaultGlobal, RouteRead: DefaultRouteRead, RouteWrite: DefaultRouteWrite, TokenShare: DefaultTokenShare}
}

// Off reports whether c limits nothing.
func (c Config) Off() bool {
	return c.Global <= 0 && c.RouteRead <= 0 && c.RouteWrite <= 0 && c.Address <= 0
}

// TokenCap is the number of requests per Window one token may make, 0 when
// tokens are not capped.
func (c Config) TokenCap() int {
	if c.Global <= 0 || c.TokenShare <= 0 || c.TokenShare >= 100 {
		return 0
	}
	return max((c.Global*c.TokenShare+99)/100, 1)
}

// Scope names a window.
type Scope string

// The windows a request can be refused by.
const (
	ScopeAddress Scope = "address"
	ScopeToken   Scope = "token"
	ScopeRoute   Scope = "route"
	ScopeGlobal  Scope = "global"
)

// Rejection describes one refused request.
type Rejection struct {
	// Scope is the window that was spent.
	Scope Scope
	// Route is the route's verb and pattern ("POST /api/v2/metrics/{projectKey}"),
	// empty for a request that matched no route.
	Route string
}

// Observer hears about the limiter's decisions, for metrics. Its methods
// must be quick and safe for concurrent use.
type Observer interface {
	// Rejected is called once per request answered 429.
	Rejected(Rejection)
	// CounterFailed is called when the shared Counter failed or was too
	// slow and the request was counted by this replica alone.
	CounterFailed(error)
}

// Step is one window a request must fit in: its counter and its cap.
type Step struct {
	Bucket string
	Cap    int
}

// Count is a step's state after a Take.
type Count struct {
	// N is the step's count in its window, this request included when
	// Admitted.
	N int
	// Window is the start of the window counted, in Unix milliseconds. A
	// shared counter may be in a later window than the caller asked for
	// when replicas' clocks differ.
	Window int64
	// Admitted reports whether the step counted the request.
	Admitted bool
}

// A Counter counts requests per bucket and window. Take considers the steps
// in order: a step admits the request, raising its count, when every step
// before it admitted it and its count is below its cap; otherwise it reports
// its count unchanged. A count from a window before window is zero. So a
// request refused by one window is not counted by the windows after it: a
// token over its share costs the global window nothing.
type Counter interface {
	Take(ctx context.Context, window int64, steps []Step) ([]Count, error)
}

// Decision is the answer for one request.
type Decision struct {
	Allowed bool
	// Refused is the window that refused the request, when not Allowed.
	Refused Scope
	// Global and Route are the requests left in the global and route
	// windows, -1 when the request is not under such a window. Global is
	// never more than the token has left of its share.
	Global, Route int
	// Reset is when the window ends.
	Reset time.Time
	// RetryAfter is how long a refused request should wait, in whole
	// seconds, at least one.
	RetryAfter int
}

// Options configure a Limiter beyond its windows.
type Options struct {
	// Shared counts for every replica that shares it; nil counts in memory.
	Shared Counter
	// SharedTimeout bounds a call to Shared; 0 means DefaultSharedTimeout.
	SharedTimeout time.Duration
	// Clock tells the time; nil is the system clock.
	Clock    core.Clock
	Observer Observer
	Logger   *slog.Logger
}

// Limiter decides whether a request fits its windows.
type Limiter struct {
	cfg    Config
	shared Counter
	// timeout bounds a call to shared.
	timeout time.Duration
	local   *Memory
	clock   core.Clock
	obs     Observer
	log     *slog.Logger
	// warned is the last window a shared counter failure was logged in.
	warned atomic.Int64
}

// New returns a Limiter for cfg, nil when cfg limits nothing.
func New(cfg Config, opts Options) *Limiter {
	if cfg.Off() {
		return nil
	}
	l := &Limiter{cfg: cfg, shared: opts.Shared, timeout: opts.SharedTimeout, local: NewMemory(), clock: opts.Clock, obs: opts.Observer, log: opts.Logger}
	if l.timeout <= 0 {
		l.timeout = DefaultSharedTimeout
	}
	if l.clock == nil {
		l.clock = core.SystemClock
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l
}

// Config returns the limiter's windows.
func (l *Limiter) Config() Config { return l.cfg }

// Bucket names, exported for tests that look at a Counter.
const (
	GlobalBucket        = "global"
	tokenBucketPrefix   = "token:"
	routeBucketPrefix   = "route:"
	addressBucketPrefix = "address:"
)

// Request is what the windows know of a request.
type Request struct {
	// Token identifies the access token (its ID, never its value).
	Token string
	// Address is the client's address as the failed-authentication limit
	// counts it (an IPv4 address, an IPv6 /64).
	Address string
	// Method and Pattern are the route's verb and pattern; Pattern is empty
	// for a request that matched no route, which no route window governs.
	Method, Pattern string
}

// Take counts one request against the windows, in order: the client
// address, the token's share, the route, the global window. A nil Limiter
// allows everything.
func (l *Limiter) Take(ctx context.Context, req Request) Decision {
	if l == nil {
		return Decision{Allowed: true, Global: -1, Route: -1}
	}
	method, pattern := req.Method, req.Pattern
	now := l.clock()
	window := now.UnixMilli() - now.UnixMilli()%Window.Milliseconds()
	steps := make([]Step, 0, 4)
	scopes := make([]Scope, 0, 4)
	if l.cfg.Address > 0 {
		steps = append(steps, Step{Bucket: addressBucketPrefix + req.Address, Cap: l.cfg.Address})
		scopes = append(scopes, ScopeAddress)
	}
	tokenCap := l.cfg.TokenCap()
	if tokenCap > 0 {
		steps = append(steps, Step{Bucket: tokenBucketPrefix + req.Token, Cap: tokenCap})
		scopes = append(scopes, ScopeToken)
	}
	route := ""
	if pattern != "" {
		if method == "HEAD" {
			// A HEAD is the GET without its body.
			method = "GET"
		}
		route = method + " " + pattern
		routeCap := l.cfg.RouteWrite
		if method == "GET" {
			routeCap = l.cfg.RouteRead
		}
		if routeCap > 0 {
			steps = append(steps, Step{Bucket: routeBucketPrefix + route, Cap: routeCap})
			scopes = append(scopes, ScopeRoute)
		}
	}
	if l.cfg.Global > 0 {
		steps = append(steps, Step{Bucket: GlobalBucket, Cap: l.cfg.Global})
		scopes = append(scopes, ScopeGlobal)
	}
	if len(steps) == 0 {
		return Decision{Allowed: true, Global: -1, Route: -1}
	}
	counts := l.count(ctx, window, steps)

	d := Decision{Allowed: true, Global: -1, Route: -1}
	end := window
	tokenLeft := -1
	for i, c := range counts {
		end = max(end, c.Window)
		left := max(steps[i].Cap-c.N, 0)
		if c.Window < window {
			left = steps[i].Cap
		}
		switch scopes[i] {
		case ScopeToken:
			tokenLeft = left
		case ScopeRoute:
			d.Route = left
		case ScopeGlobal:
			d.Global = left
		}
		if !c.Admitted && d.Allowed {
			d.Allowed, d.Refused = false, scopes[i]
		}
	}
	if tokenLeft >= 0 && d.Global > tokenLeft {
		d.Global = tokenLeft
	}
	d.Reset = time.UnixMilli(end + Window.Milliseconds())
	if !d.Allowed {
		wait := d.Reset.Sub(now)
		d.RetryAfter = max(int((wait+time.Second-1)/time.Second), 1)
		if l.obs != nil {
			l.obs.Rejected(Rejection{Scope: d.Refused, Route: route})
		}
	}
	return d
}

// count takes from the shared counter, or from this replica's memory when
// there is none or it fails: a slow or unreachable database then limits
// each replica on its own rather than refusing every request (failing
// closed) or none (failing open without bound).
func (l *Limiter) count(ctx context.Context, window int64, steps []Step) []Count {
	if l.shared != nil {
		sctx, cancel := context.WithTimeout(ctx, l.timeout)
		counts, err := l.shared.Take(sctx, window, steps)
		cancel()
		if err == nil && len(counts) == len(steps) {
			return counts
		}
		if err == nil {
			err = errShortAnswer
		}
		if ctx.Err() != nil {
			// The request itself ended (the client left, or its deadline
			// passed): no fault of the counter.
			counts, _ := l.local.Take(ctx, window, steps)
			return counts
		}
		if l.obs != nil {
			l.obs.CounterFailed(err)
		}
		if l.warned.Swap(window) != window {
			l.log.Warn("shared rate limit counter failed; counting on this replica alone", "err", err)
		}
	}
	counts, _ := l.local.Take(ctx, window, steps)
	return counts
}

var errShortAnswer = errors.New("shared rate limit counter answered for fewer windows than asked")
