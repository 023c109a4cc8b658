package ingest

// The browser SDKs' endpoints other than events: what LaunchDarkly's
// JavaScript SDK calls when it starts (goals, flag evaluation, the flag
// stream). The package comment is in ingest.go.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
)

// Credentials resolves SDK credentials to environments (events.Keys).
type Credentials interface {
	// Resolve returns the environment of a credential of kind, or
	// events.ErrUnknownKey.
	Resolve(ctx context.Context, kind, value string) (*events.Env, error)
}

// Browser serves what LaunchDarkly's browser SDKs call besides the event
// endpoints: goals, flag evaluation (always no flags) and the flag stream.
type Browser struct {
	keys       Credentials
	goalSource GoalSource
	log        *slog.Logger
	timeout    time.Duration
	maxBody    int64
	streams    *streams
}

// BrowserOptions configure a Browser.
type BrowserOptions struct {
	Logger *slog.Logger
	// RequestTimeout bounds each request's database calls; 0 means 10 s.
	RequestTimeout time.Duration
	// MaxBodyBytes bounds REPORT bodies; 0 means 1 MiB.
	MaxBodyBytes int64
	// MaxStreams bounds the flag streams open at once; 0 means
	// DefaultMaxStreams.
	MaxStreams int
}

// NewBrowser returns the browser SDK endpoints over keys and goals.
func NewBrowser(keys Credentials, goals GoalSource, opts BrowserOptions) *Browser {
	b := &Browser{keys: keys, goalSource: goals, log: opts.Logger, timeout: opts.RequestTimeout, maxBody: opts.MaxBodyBytes,
		streams: newStreams(opts.MaxStreams)}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if b.timeout <= 0 {
		b.timeout = 10 * time.Second
	}
	if b.maxBody <= 0 {
		b.maxBody = 1 << 20
	}
	return b
}

// browserRoute is one path of the browser SDK endpoints and the methods
// it serves.
type browserRoute struct {
	pattern string
	methods map[string]browserHandler
}

type browserHandler func(w http.ResponseWriter, r *http.Request) error

// MethodReport is the HTTP method SDKs configured with useReport evaluate
// with: a GET with the context in the body.
const MethodReport = "REPORT"

func (b *Browser) table() []browserRoute {
	return []browserRoute{
		{"/sdk/goals/{clientSideId}", map[string]browserHandler{http.MethodGet: b.goals}},
		{"/sdk/evalx/{clientSideId}/contexts/{context}", map[string]browserHandler{http.MethodGet: b.evalContextPath}},
		{"/sdk/evalx/{clientSideId}/context", map[string]browserHandler{MethodReport: b.evalContextBody}},
		// The names older SDKs use for the same two endpoints.
		{"/sdk/evalx/{clientSideId}/users/{context}", map[string]browserHandler{http.MethodGet: b.evalContextPath}},
		{"/sdk/evalx/{clientSideId}/user", map[string]browserHandler{MethodReport: b.evalContextBody}},
		// The flag stream (see stream.go).
		{"/eval/{clientSideId}/{context}", map[string]browserHandler{http.MethodGet: b.streamContextPath}},
		{"/eval/{clientSideId}", map[string]browserHandler{MethodReport: b.streamContextBody}},
	}
}

// Register adds the browser SDK endpoints to mux, each behind BrowserCORS.
func (b *Browser) Register(mux *http.ServeMux) {
	for _, rt := range b.table() {
		methods := make([]string, 0, len(rt.methods))
		for m := range rt.methods {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		mux.Handle(rt.pattern, BrowserCORS(b.dispatch(rt, methods), methods...))
	}
}

// dispatch picks the handler for the request method, answering 405 with an
// Allow header for any other.
func (b *Browser) dispatch(rt browserRoute, methods []string) http.Handler {
	allow := strings.Join(append(append([]string{}, methods...), http.MethodOptions), ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := rt.methods[r.Method]
		if !ok && r.Method == http.MethodHead {
			h, ok = rt.methods[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", allow)
			b.writeError(w, r, core.Errorf(kindMethodNotAllowed, "method %s is not allowed here; use %s", r.Method, allow))
			return
		}
		if err := h(w, r); err != nil {
			b.writeError(w, r, err)
		}
	})
}

// environment resolves a client-side ID. An unknown one is 404, as
// LaunchDarkly answers browser SDKs (which stop asking after it).
func (b *Browser) environment(ctx context.Context, id string) (*events.Env, error) {
	env, err := b.keys.Resolve(ctx, catalog.CredentialClientSide, id)
	if errors.Is(err, events.ErrUnknownKey) || errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown client-side ID")
	}
	return env, err
}

// Error kinds only the SDK transport produces.
const (
	kindMethodNotAllowed = core.KindTransport + iota
	kindTooLarge
)

// browserErrorBody is LaunchDarkly's error representation.
type browserErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id"`
}

var browserStatus = map[core.ErrorKind]struct {
	status int
	code   string
}{
	core.KindInvalid:     {http.StatusBadRequest, "invalid_request"},
	core.KindNotFound:    {http.StatusNotFound, "not_found"},
	kindMethodNotAllowed: {http.StatusMethodNotAllowed, "method_not_allowed"},
	kindTooLarge:         {http.StatusRequestEntityTooLarge, "request_entity_too_large"},
	core.KindUnavailable: {http.StatusServiceUnavailable, "service_unavailable"},
}

// writeError writes err as LaunchDarkly error JSON; anything unclassified
// is logged and reaches the client as 503 (a database that did not answer
// in time) or 500, with only an id.
func (b *Browser) writeError(w http.ResponseWriter, r *http.Request, err error) {
	writeBrowserError(w, r, b.log, err)
}

// writeBrowserError is Browser.writeError for callers without a Browser;
// a nil log discards.
func writeBrowserError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	id := uuid.NewString()
	var ce *core.Error
	if st, ok := browserStatus[core.KindOf(err)]; ok && errors.As(err, &ce) {
		writeBrowserJSON(w, st.status, browserErrorBody{Code: st.code, Message: err.Error(), ID: id})
		return
	}
	if errors.Is(err, context.DeadlineExceeded) || core.KindOf(err) == core.KindUnavailable {
		log.Warn("SDK request failed", "id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		writeBrowserJSON(w, http.StatusServiceUnavailable, browserErrorBody{Code: "service_unavailable", Message: "the database did not answer in time; retry later", ID: id})
		return
	}
	log.Error("SDK request failed", "id", id, "method", r.Method, "path", r.URL.Path, "err", err)
	writeBrowserJSON(w, http.StatusInternalServerError, browserErrorBody{Code: "internal_server_error", Message: "an internal error occurred; quote this id when reporting it", ID: id})
}

func writeBrowserJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
