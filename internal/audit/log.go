package audit

import (
	"context"
	"errors"

	"github.com/metricsd/metricsd/internal/core"
)

// Reader reads recorded entries.
type Reader interface {
	// AuditEntries returns up to q.Limit of the entries q selects, newest
	// first, without their documents and delta, and, when more may follow,
	// the ID to continue before (Query.BeforeID).
	AuditEntries(ctx context.Context, q Query) ([]Entry, string, error)
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

// MaxDate is the latest date, in epoch ms, that an entry ID can hold (its
// first 12 hex digits): the year 10889.
const MaxDate = 1<<48 - 1

// Entries returns one page of entries and the cursor of the next page, ""
// when there is none.
func (l *Log) Entries(ctx context.Context, q Query) ([]Entry, string, error) {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return nil, "", core.Errorf(core.KindInvalid, "limit must be between 1 and %d", MaxLimit)
	}
	if q.Before < 0 || q.After < 0 || q.Before > MaxDate || q.After > MaxDate {
		return nil, "", core.Errorf(core.KindInvalid, "before and after must be epoch milliseconds between 0 and %d", int64(MaxDate))
	}
	if q.BeforeID != "" && !validID(q.BeforeID) {
		return nil, "", core.Errorf(core.KindInvalid, "beforeId must be an audit log entry ID (24 hexadecimal digits)")
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

// validID reports whether s has the shape of an entry ID.
func validID(s string) bool {
	if len(s) != 24 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
