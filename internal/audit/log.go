package audit

import (
	"context"
	"errors"

	"github.com/metricsd/metricsd/internal/core"
)

// Reader reads recorded entries.
type Reader interface {
	// AuditEntries returns the entries q selects, newest first, without
	// their documents and delta.
	AuditEntries(ctx context.Context, q Query) ([]Entry, error)
	// AuditEntry returns one entry in full.
	AuditEntry(ctx context.Context, id string) (*Entry, error)
}

// Page sizes of the audit log listing, as LaunchDarkly sets them.
const (
	DefaultLimit = 10
	MaxLimit     = 20
)

// Log is the audit log's read service.
type Log struct{ r Reader }

// NewLog returns the audit log read through r.
func NewLog(r Reader) *Log { return &Log{r: r} }

// Entries returns one page of entries.
func (l *Log) Entries(ctx context.Context, q Query) ([]Entry, error) {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return nil, core.Errorf(core.KindInvalid, "limit must be between 1 and %d", MaxLimit)
	}
	if q.Before < 0 || q.After < 0 {
		return nil, core.Errorf(core.KindInvalid, "before and after must be epoch milliseconds")
	}
	return l.r.AuditEntries(ctx, q)
}

// Entry returns one entry with its documents.
func (l *Log) Entry(ctx context.Context, id string) (*Entry, error) {
	e, err := l.r.AuditEntry(ctx, id)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown audit log entry %q", id)
	}
	return e, err
}
