// Package core is the shared kernel of metricsd: classified errors, paging,
// identifiers, the clock and the principal a request acts as.
// It knows nothing of HTTP or SQL, and every other package may import it.
package core

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an error so that transports can choose a status.
type ErrorKind int

// Error kinds of the domain. Anything that is not a *Error is treated as
// KindInternal. Transports add kinds of their own (too large, method not
// allowed…) from KindTransport on.
const (
	KindInternal ErrorKind = iota
	KindInvalid
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindConflict
	// KindUnavailable means the database could not be reached or lost the
	// connection; the request may be retried.
	KindUnavailable

	// KindTransport is the first kind a transport may define for itself.
	KindTransport ErrorKind = 100
)

// Error is a classified domain error whose Message is safe to show to clients.
type Error struct {
	Kind    ErrorKind
	Message string
	// Field names the request field the error is about, when the domain
	// knows it: a path of wire names such as "eventKey" or "urls[2].url".
	// Forms show the message beside that field; the API's error bodies
	// leave it out.
	Field string
}

func (e *Error) Error() string { return e.Message }

// FieldErrorf builds an *Error of the given kind about one request field.
func FieldErrorf(kind ErrorKind, field, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Field: field}
}

// FieldOf returns the field err is about, "" when it names none.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// Errorf builds an *Error of the given kind.
func Errorf(kind ErrorKind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf reports the kind of err, KindInternal when err is not classified.
//
// Store sentinels that reach a transport unexplained are still the client's
// doing (a row it named vanished, or another writer won a race): they are
// conflicts, never internal errors. Services turn the ones they expect into
// messages; this is the one place that classifies the rest.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	for _, s := range []error{ErrDuplicate, ErrReference, ErrInUse, ErrStale} {
		if errors.Is(err, s) {
			return KindConflict
		}
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return KindNotFound
	case errors.Is(err, ErrUnstorable):
		return KindInvalid
	case errors.Is(err, ErrUnavailable):
		return KindUnavailable
	}
	return KindInternal
}

// Sentinel store errors. Store implementations translate driver errors into
// these once, at the driver boundary; the catalog turns them into messages.
var (
	// ErrNotFound means the addressed row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate means a unique constraint rejected the write.
	ErrDuplicate = errors.New("duplicate")
	// ErrStale means an optimistic version check failed.
	ErrStale = errors.New("stale version")
	// ErrReference means a foreign key named a row that does not exist.
	ErrReference = errors.New("dangling reference")
	// ErrInUse means a row cannot be removed because others refer to it.
	ErrInUse = errors.New("in use")
	// ErrUnstorable means the database refused text it cannot hold (U+0000,
	// invalid UTF-8), which the transports should have refused first.
	ErrUnstorable = errors.New("unstorable text")
	// ErrUnavailable means the connection to the database failed.
	ErrUnavailable = errors.New("database unavailable")
)
