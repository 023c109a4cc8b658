package api

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/obs"
)

// Observer is what the API reports to the metrics: obs.Metrics, or
// obs.Discard when there are none.
type Observer interface {
	obs.RequestObserver
	obs.RateLimitObserver
	obs.CacheObserver
}

// requestIDHeader carries the request's ID in both directions.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an ID a client may choose.
const maxRequestIDLen = 128

// routeUnmatched is the route label of a request no route pattern matched:
// the raw path never becomes a label.
const routeUnmatched = "unmatched"

// requestInfo is what the outermost middleware knows of a request and the
// route dispatch learns; it travels in the request's context.
type requestInfo struct {
	id     string
	route  string
	method string
}

type requestInfoKey struct{}

// infoContext is a request's context carrying its requestInfo: what
// context.WithValue(parent, requestInfoKey{}, info) would be, in the one
// allocation observe makes for a request (observed).
type infoContext struct {
	context.Context
	info requestInfo
}

func (c *infoContext) Value(key any) any {
	if _, ok := key.(requestInfoKey); ok {
		return &c.info
	}
	return c.Context.Value(key)
}

func (c *infoContext) String() string { return "api.infoContext" }

// observed is what observe keeps of one request.
type observed struct {
	ctx infoContext
	rec statusRecorder
}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// RequestID returns the ID of the request ctx belongs to, "" outside one.
func RequestID(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// saneRequestID reports whether a client-chosen ID may be used as the
// request's ID: 1 to maxRequestIDLen characters of letters, digits and
// "-_.:", so that it is safe in headers, logs and JSON as it is.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// observe gives every request its ID (the client's X-Request-Id when sane,
// else a fresh UUID), sends it back in X-Request-Id, and reports the request
// to the observer under its route pattern once it is served.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		// The route is set by dispatch (or named); a request refused
		// before routing (401, 429) is labelled with patternOf once it
		// is served, which spares routed requests a second match.
		o := &observed{ctx: infoContext{Context: r.Context(), info: requestInfo{id: id, method: r.Method}}, rec: statusRecorder{ResponseWriter: w}}
		info, rec := &o.ctx.info, &o.rec
		start := time.Now()
		s.obs.RequestStarted()
		defer func() {
			st := rec.status
			if st == 0 {
				st = http.StatusOK
			}
			if info.route == "" {
				info.route = s.patternOf(r)
			}
			s.obs.RequestFinished(info.route, info.method, st, time.Since(start))
		}()
		next.ServeHTTP(rec, r.WithContext(&o.ctx))
	})
}

// newRequestID is a fresh random (version 4) UUID, as uuid.NewString
// returns, read from crypto/rand into the stack: one allocation, the
// string, where uuid.NewString makes two.
func newRequestID() string {
	var u uuid.UUID
	_, _ = rand.Read(u[:])  // crypto/rand.Read does not fail (it aborts the process instead)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

// patternOf is the route table's pattern for r's path, routeUnmatched if
// none: dispatch sets it again, but a request refused before routing (401,
// 429) is labelled with it.
func (s *Server) patternOf(r *http.Request) string {
	if s.apiMux == nil || !strings.HasPrefix(r.URL.Path, "/api/") {
		return routeUnmatched
	}
	if _, p := s.apiMux.Handler(r); p != "" && p != "/" {
		return p
	}
	return routeUnmatched
}

// routed labels the request with its route pattern and the method it was
// dispatched with (after X-HTTP-Method-Override).
func routed(r *http.Request, pattern string) {
	if info := infoFrom(r.Context()); info != nil {
		info.route = pattern
		info.method = r.Method
	}
}

// named is h labelled with pattern for the metrics.
func named(pattern string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		routed(r, pattern)
		h(w, r)
	}
}

// requestIDHandler adds the request's ID to every record logged with the
// request's context (the *Context logging methods).
type requestIDHandler struct{ slog.Handler }

// LogHandler wraps h so that every record logged with a request's context,
// by any package, carries the request's ID as request_id. New does this to
// Options.Logger itself; wrapping twice adds the ID once.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec = rec.Clone()
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// readyTimeout bounds the database ping of /readyz: a load balancer asks
// often and must get its answer quickly.
const readyTimeout = time.Second

// healthz is the liveness check: 200 while the process serves and the
// store answers, with the build's version.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Auth.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "version": s.version})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.version})
}

// readyz is the readiness check: 200 when the store answers within
// readyTimeout. Before the store is migrated the start-up handler
// (Starting) answers it instead, with 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.svc.Auth.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "version": s.version})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "version": s.version})
}

// Starting returns the handler that serves while the store is opened and
// migrated: /healthz answers 200 with status "starting" (the process is
// alive; a liveness probe must not kill a long migration), /readyz 503, and
// every other path 503 service_unavailable in LaunchDarkly's error JSON.
// Requests get IDs and are reported to opts.Observer like the real server's.
func Starting(opts Options) http.Handler {
	s := &Server{log: opts.Logger, obs: opts.Observer, version: opts.Version}
	s.init()
	state := func(w http.ResponseWriter, status int) {
		writeJSON(w, status, map[string]string{"status": "starting", "version": s.version})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", named("/healthz", func(w http.ResponseWriter, r *http.Request) { state(w, http.StatusOK) }))
	mux.HandleFunc("GET /readyz", named("/readyz", func(w http.ResponseWriter, r *http.Request) { state(w, http.StatusServiceUnavailable) }))
	mux.Handle("/", s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Retry-After", "1")
		return core.Errorf(core.KindUnavailable, "metricsd is starting (opening and migrating the database); retry shortly")
	}))
	return s.observe(s.recoverPanics(mux))
}
