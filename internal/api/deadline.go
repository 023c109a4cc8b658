package api

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// errRequestTimeout is the cause of a request context whose deadline, set by
// withDeadline, has passed.
var errRequestTimeout = errors.New("request deadline exceeded")

// DefaultRequestTimeout bounds an API request, above all the database calls
// it makes, when Options.RequestTimeout is zero.
const DefaultRequestTimeout = 10 * time.Second

// withDeadline puts the request timeout on the context of every request it
// serves, so that a database that stops answering costs a request at most
// that long: writeError then answers 503.
func (s *Server) withDeadline(next http.Handler) http.Handler {
	if s.timeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeoutCause(r.Context(), s.timeout, errRequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// timedOut reports whether ctx ended because the request's own deadline
// passed, not because the client went away.
func timedOut(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errRequestTimeout)
}
