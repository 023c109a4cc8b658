package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/metricsd/metricsd/internal/core"
)

// Error kinds only the HTTP transport produces.
const (
	kindMethodNotAllowed = core.KindTransport + iota
	kindTooLarge
	kindUnsupportedMedia
	kindRateLimited
)

// errorBody is LaunchDarkly's error representation.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id"`
}

// statusOf maps an error kind to its HTTP status and LaunchDarkly code.
var statusOf = map[core.ErrorKind]struct {
	status int
	code   string
}{
	core.KindInvalid:      {http.StatusBadRequest, "invalid_request"},
	core.KindUnauthorized: {http.StatusUnauthorized, "unauthorized"},
	core.KindForbidden:    {http.StatusForbidden, "forbidden"},
	core.KindNotFound:     {http.StatusNotFound, "not_found"},
	kindMethodNotAllowed:  {http.StatusMethodNotAllowed, "method_not_allowed"},
	core.KindConflict:     {http.StatusConflict, "conflict"},
	core.KindUnavailable:  {http.StatusServiceUnavailable, "service_unavailable"},
	kindTooLarge:          {http.StatusRequestEntityTooLarge, "request_entity_too_large"},
	kindUnsupportedMedia:  {http.StatusUnsupportedMediaType, "unsupported_media_type"},
	kindRateLimited:       {http.StatusTooManyRequests, "rate_limited"},
	core.KindInternal:     {http.StatusInternalServerError, "internal_server_error"},
}

// writeError writes err as LaunchDarkly error JSON. Unclassified errors are
// logged with their id and reach the client only as an internal error.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	id := RequestID(r.Context())
	if id == "" {
		id = uuid.NewString()
	}
	kind := core.KindOf(err)
	st := statusOf[kind]
	msg := "an internal error occurred; quote this id when reporting it"
	if kind == core.KindInternal && timedOut(r.Context()) {
		// The request's own deadline passed: whatever the driver made of
		// the cancellation, the database did not answer in time.
		s.log.WarnContext(r.Context(), "request deadline exceeded", "method", r.Method, "path", r.URL.Path, "timeout", s.timeout, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Code: "service_unavailable",
			Message: fmt.Sprintf("the database did not answer within %s; retry later", s.timeout), ID: id})
		return
	}
	if kind == core.KindInternal {
		if errors.Is(err, r.Context().Err()) && r.Context().Err() != nil {
			// The client went away; nobody reads this response.
			s.log.DebugContext(r.Context(), "request cancelled", "method", r.Method, "path", r.URL.Path)
		} else {
			s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	} else if errors.As(err, new(*core.Error)) {
		msg = err.Error()
	} else {
		// A store sentinel: its text comes from the driver, not for clients.
		msg = map[core.ErrorKind]string{
			core.KindConflict:    "the request conflicts with a concurrent change; fetch the resource and retry",
			core.KindNotFound:    "the resource does not exist",
			core.KindInvalid:     "text must not contain U+0000 (NUL) or invalid UTF-8",
			core.KindUnavailable: "the database connection failed; retry later",
		}[kind]
		s.log.InfoContext(r.Context(), "unexplained store error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, st.status, errorBody{Code: st.code, Message: msg, ID: id})
}

// handlerFunc is an HTTP handler that reports failure by returning an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) adapt(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}
