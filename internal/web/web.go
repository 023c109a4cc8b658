// Package web serves metricsd's web UI: server-rendered html/template pages
// over the catalog services, with a little plain ES-module JavaScript where
// it helps, every asset embedded in the binary (docs/UI.md). It signs a
// browser in with an access token, keeps a server-side session, and decides
// what a page offers with the same evaluator as the API's _access.
package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// Defaults of Options.
const (
	DefaultIdleTimeout     = 12 * time.Hour
	DefaultAbsoluteTimeout = 7 * 24 * time.Hour
	DefaultRequestTimeout  = 30 * time.Second
	// DefaultSignInFailures is the number of failed sign-ins a client
	// address may make per minute, as the API's DefaultAuthFailureLimit.
	DefaultSignInFailures = 10
)

// Options configure the UI.
type Options struct {
	Logger *slog.Logger
	// Sessions keeps the sessions (store.DB).
	Sessions account.SessionStore
	// ParseMetricQuery reads the metrics list's limit, offset, sort and
	// filter parameters into a query, in the API's language (app passes
	// api.ParseMetricQuery).
	ParseMetricQuery func(limit, offset, sort, filter string) (catalog.MetricQuery, error)
	// Explorer reads the hourly event rollups (events.NewExplorer over
	// the store); nil when event ingestion is off, and pages say so.
	Explorer *events.Explorer
	// Clock is the time sessions expire by; nil is the system clock.
	Clock core.Clock
	// IdleTimeout ends a session that served no request for this long;
	// AbsoluteTimeout ends any session this long after sign-in. 0 means
	// the defaults.
	IdleTimeout, AbsoluteTimeout time.Duration
	// SessionCacheTTL is how long a session checked against its token is
	// trusted before the store is asked again (as the API's auth cache);
	// 0 asks on every request.
	SessionCacheTTL time.Duration
	// RequestTimeout bounds a page's work, its database calls included. 0
	// means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// SignInFailures is the number of failed sign-ins per minute a client
	// address may make before sign-ins from it get 429. 0 means
	// DefaultSignInFailures, a negative value no limit.
	SignInFailures int
}

// UI is the web UI's handler and what its pages share.
type UI struct {
	svc      *catalog.Services
	log      *slog.Logger
	parseQ   func(limit, offset, sort, filter string) (catalog.MetricQuery, error)
	explorer *events.Explorer
	now      core.Clock
	timeout  time.Duration
	sessions *sessions
	limiter  *ratelimit.Failures
	assets   *assets
	pages    map[string]*pageTemplate
	handler  http.Handler
	// exact and prefixes are the paths the route table claims (Owns).
	exact    map[string]bool
	prefixes []string
}

// New returns the UI over the catalog services.
func New(svc *catalog.Services, opts Options) *UI {
	u := &UI{svc: svc, log: opts.Logger, parseQ: opts.ParseMetricQuery, explorer: opts.Explorer, now: opts.Clock, timeout: opts.RequestTimeout}
	if u.log == nil {
		u.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if u.now == nil {
		u.now = core.SystemClock
	}
	if u.timeout <= 0 {
		u.timeout = DefaultRequestTimeout
	}
	idle, absolute := opts.IdleTimeout, opts.AbsoluteTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if absolute <= 0 {
		absolute = DefaultAbsoluteTimeout
	}
	u.sessions = newSessions(opts.Sessions, svc.Auth, u.now, idle, absolute, opts.SessionCacheTTL)
	u.limiter = ratelimit.NewFailures(opts.SignInFailures, DefaultSignInFailures)
	u.assets = loadAssets()
	u.pages = parsePages(u.assets)
	u.handler = u.routes()
	return u
}

// Handler serves the UI's paths (those Owns reports).
func (u *UI) Handler() http.Handler { return u.handler }

// withDeadline bounds the request's context.
func (u *UI) withDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), u.timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverPanics turns a panicking page into the error page.
func (u *UI) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				u.log.ErrorContext(r.Context(), "web: panic", "method", r.Method, "path", r.URL.Path, "panic", p)
				u.writeError(w, r, errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets what every UI response carries: a content security
// policy that allows only the UI's own embedded assets, and no framing.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
