// Package api serves LaunchDarkly's REST API v2 wire format for metricsd:
// routing, authentication, request decoding, representations and errors.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/obs"
	"github.com/metricsd/metricsd/internal/openapi"
	"github.com/metricsd/metricsd/internal/patch"
	"github.com/metricsd/metricsd/internal/ratelimit"
)

// DefaultMaxBodyBytes bounds request bodies.
const DefaultMaxBodyBytes = 1 << 20

// Server holds what handlers need. It has no package-level state.
type Server struct {
	svc      *catalog.Services
	log      *slog.Logger
	maxBody  int64
	auth     *authCache
	limit    *ratelimit.Limiter
	authFail *ratelimit.Failures
	timeout  time.Duration
	handler  http.Handler
	explorer *events.Explorer
	obs      Observer
	version  string
	// openapiDoc is metricsd's OpenAPI document, built once by New.
	openapiDoc []byte
	openapiErr error
	// apiMux routes the table; observe asks it for a request's pattern
	// before authentication, so that refused requests are labelled too.
	apiMux *http.ServeMux
	reps   *repCache
	// pages holds encoded metric list pages (pagecache.go).
	pages *pageCache
	// accessMemo remembers the encoded _access of list pages.
	accessMemo *accessMemo
}

// Options configure a Server.
type Options struct {
	Logger       *slog.Logger
	MaxBodyBytes int64
	// AuthCacheTTL is how long a resolved token is trusted without asking the
	// store again; 0 disables caching.
	AuthCacheTTL time.Duration
	// RateLimits are the rate limit windows of authenticated API requests;
	// nil means ratelimit.Defaults(), a zero Config no limits.
	RateLimits *ratelimit.Config
	// RateCounter counts the windows for every replica that shares it
	// (store.DB.RateCounter on PostgreSQL); nil counts in this process.
	RateCounter ratelimit.Counter
	// RateCounterTimeout bounds a call to RateCounter, past which the
	// request is counted in this process; 0 means
	// ratelimit.DefaultSharedTimeout.
	RateCounterTimeout time.Duration
	// RateObserver hears of every 429 of the rate limits, for metrics.
	RateObserver ratelimit.Observer
	// Clock tells the rate limiter the time; nil is the system clock.
	Clock core.Clock
	// RequestTimeout bounds every API request, above all its database
	// calls; past it the client gets 503. 0 means DefaultRequestTimeout,
	// a negative value no bound.
	RequestTimeout time.Duration
	// AuthFailureLimit is the number of failed authentications a client
	// address may make per minute before its API requests get 429. 0 means
	// DefaultAuthFailureLimit, a negative value no limit.
	AuthFailureLimit int
	// Explorer answers the event explorer's routes (metricsd's extension).
	Explorer *events.Explorer
	// Observer receives the request, cache and rate-limit metrics; nil
	// means none.
	Observer Observer
	// Version is the build's version, shown by /healthz and /readyz.
	Version string
	// RepCacheEntries bounds the cache of encoded metric and metric group
	// representations (repcache.go). 0 means the default, a negative value
	// no cache.
	RepCacheEntries int
	// PageCacheBytes bounds the cache of encoded metric list pages
	// (pagecache.go). 0 means the default, a negative value no cache.
	PageCacheBytes int
}

// New returns a Server over the catalog services.
func New(svc *catalog.Services, opts Options) *Server {
	s := &Server{svc: svc, log: opts.Logger, maxBody: opts.MaxBodyBytes, obs: opts.Observer, version: opts.Version, explorer: opts.Explorer}
	s.init()
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.auth = newAuthCache(opts.AuthCacheTTL)
	limits := ratelimit.Defaults()
	if opts.RateLimits != nil {
		limits = *opts.RateLimits
	}
	s.limit = ratelimit.New(limits, ratelimit.Options{Shared: opts.RateCounter, SharedTimeout: opts.RateCounterTimeout, Clock: opts.Clock, Observer: opts.RateObserver, Logger: s.log})
	s.authFail = ratelimit.NewFailures(opts.AuthFailureLimit, DefaultAuthFailureLimit)
	s.timeout = opts.RequestTimeout
	if s.timeout == 0 {
		s.timeout = DefaultRequestTimeout
	}
	s.openapiDoc, s.openapiErr = openapi.Document(s.version)
	s.reps = newRepCache(opts.RepCacheEntries)
	s.pages = newPageCache(opts.PageCacheBytes)
	s.accessMemo = newAccessMemo()
	s.handler = s.routes()
	return s
}

// init sets the defaults New and Starting share: a logger that adds the
// request ID to every record logged with a request's context, and an
// observer.
func (s *Server) init() {
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.log = slog.New(LogHandler(s.log.Handler()))
	if s.obs == nil {
		s.obs = obs.Discard{}
	}
	if s.version == "" {
		s.version = "devel"
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes serves the route table.
func (s *Server) routes() http.Handler {
	table := s.table()
	api := http.NewServeMux()
	for _, rt := range table {
		api.Handle(rt.pattern, s.dispatch(rt))
	}
	api.Handle("/", s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.limitRequest(w, r, r.Method, ""); err != nil {
			return err
		}
		return core.Errorf(core.KindNotFound, "no resource at %s", r.URL.Path)
	}))
	s.apiMux = api

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", named("/healthz", s.healthz))
	root.HandleFunc("GET /readyz", named("/readyz", s.readyz))
	apiChain := s.authenticate(s.checkInput(api))
	root.Handle("/api/", apiChain)
	notFound := s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		return core.Errorf(core.KindNotFound, "no resource at %s", r.URL.Path)
	})
	// Without it ServeMux would redirect /api to /api/ with an HTML body.
	root.Handle("/api", notFound)
	root.Handle("/", notFound)
	// A clean path under /api/ is root's "/api/" whatever the method or
	// host: it goes there without a second match (api matches it again).
	// Any other path, an unclean one that root redirects among them, goes
	// through root.
	top := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasPrefix(p, "/api/") && cleanPath(p) == p {
			apiChain.ServeHTTP(w, r)
			return
		}
		root.ServeHTTP(w, r)
	})
	return s.observe(s.recoverPanics(s.logRequests(s.cors(s.methodOverride(s.canonicalPath(top))))))
}

// dispatch picks the handler for the request method, answering 405 with an
// Allow header for any other method.
func (s *Server) dispatch(rt route) http.Handler {
	allowed := make([]string, 0, len(rt.methods)+1)
	for m := range rt.methods {
		allowed = append(allowed, m)
	}
	get, readable := rt.methods[http.MethodGet]
	if readable {
		allowed = append(allowed, http.MethodHead)
	}
	slices.Sort(allowed)
	allow := strings.Join(allowed, ", ")
	return s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		routed(r, rt.pattern)
		h, ok := rt.methods[r.Method]
		if r.Method == http.MethodHead && readable {
			// A HEAD is the GET without its body (net/http drops it).
			h, ok = get, true
		}
		if !ok {
			if err := s.limitRequest(w, r, r.Method, ""); err != nil {
				return err
			}
			w.Header().Set("Allow", allow)
			return core.Errorf(kindMethodNotAllowed, "method %s is not allowed here; use %s", r.Method, allow)
		}
		// Route windows key on the pattern of the route table and the verb.
		if err := s.limitRequest(w, r, r.Method, rt.pattern); err != nil {
			return err
		}
		if err := authorizeRead(rt.pattern, r); err != nil {
			return err
		}
		return h(w, r)
	})
}

// authenticate requires a valid access token on every API request except
// CORS preflights. It also puts the request deadline (newLazyDeadline) on the
// context of the token lookup and of the request it passes on, in the one
// copy of the request that carries the principal.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		ctx := r.Context()
		if s.timeout > 0 {
			dl := newLazyDeadline(ctx, time.Now().Add(s.timeout))
			defer dl.release()
			ctx = dl
		}
		p, err := s.principal(ctx, w, r)
		if err != nil {
			// With the deadline: a token lookup past it is a 503.
			s.writeError(w, r.WithContext(ctx), err)
			return
		}
		s.svc.TokenUses.Record(p.TokenID, time.Now())
		next.ServeHTTP(w, r.WithContext(core.WithSharedPrincipal(ctx, p)))
	})
}

// principal is the caller the request's Authorization header names, from
// the cache or the store; nobody changes it.
func (s *Server) principal(ctx context.Context, w http.ResponseWriter, r *http.Request) (*core.Principal, error) {
	addr := clientAddr(r)
	if err := checkAuthFailures(s.authFail, w, addr); err != nil {
		s.obs.RateLimited("auth_failures")
		return nil, err
	}
	header := r.Header.Get("Authorization")
	p, ok := s.auth.get(header)
	if s.auth.ttl > 0 {
		s.obs.CacheLookup("auth", ok)
	}
	if ok {
		return p, nil
	}
	var (
		found core.Principal
		err   error
	)
	if s.auth.failedRecently(header) {
		err = core.Errorf(core.KindUnauthorized, "invalid access token")
	} else {
		found, err = s.svc.Auth.Authenticate(ctx, header)
	}
	if err != nil {
		// A token that was presented and refused counts against
		// the address; a missing one is no guess.
		if core.KindOf(err) == core.KindUnauthorized && strings.TrimSpace(header) != "" {
			s.auth.putFailed(header)
			s.authFail.Fail(addr, time.Now())
		}
		return nil, err
	}
	s.auth.put(header, &found)
	return &found, nil
}

// methodOverride tunnels PATCH, PUT and DELETE through POST with the
// X-HTTP-Method-Override header.
func (s *Server) methodOverride(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			switch m := strings.ToUpper(strings.TrimSpace(r.Header.Get("X-HTTP-Method-Override"))); m {
			case http.MethodPatch, http.MethodPut, http.MethodDelete:
				r.Method = m
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cors allows any origin, echoing it back when one is given.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if o := r.Header.Get("Origin"); o != "" {
			h.Set("Access-Control-Allow-Origin", o)
			h.Add("Vary", "Origin")
		} else {
			h.Set("Access-Control-Allow-Origin", "*")
		}
		h.Set("Access-Control-Allow-Headers", "Accept, Content-Type, Content-Length, Accept-Encoding, Authorization, LD-API-Version, X-HTTP-Method-Override, X-Request-Id")
		h.Set("Access-Control-Expose-Headers", "X-Request-Id")
		h.Set("Access-Control-Allow-Methods", "OPTIONS, GET, POST, DELETE, PATCH")
		h.Set("Access-Control-Max-Age", "300")
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		// Never log headers: they carry access tokens.
		s.log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", p)
				s.writeError(w, r, errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// readJSON reads a bounded JSON request body.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if mt == "application/merge-patch+json" {
			return nil, core.Errorf(kindUnsupportedMedia, "JSON Merge Patch (application/merge-patch+json) is not supported; send a JSON Patch array as application/json")
		}
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, core.Errorf(kindUnsupportedMedia, "Content-Type must be application/json")
		}
		if dm := params["domain-model"]; dm != "" {
			return nil, core.Errorf(core.KindInvalid, "domain-model %q is not supported here; send a JSON Patch", dm)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, core.Errorf(kindTooLarge, "request body is larger than %d bytes", s.maxBody)
	}
	if err != nil {
		return nil, core.Errorf(core.KindInvalid, "request body could not be read")
	}
	return body, nil
}

// decodeBody reads the request body strictly into v.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	return patch.DecodeStrict(body, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
