package account

import (
	"context"

	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
)

// writer is the write seam member and team writes run through: one
// transaction that records the change's audit entry with it.
type writer interface {
	TransactAccounts(ctx context.Context, fn func(tx Tx) (*audit.Change, error)) error
}

// Members serves account members.
type Members struct {
	store MemberStore
	now   core.Clock
}

// NewMembers returns the member service over s.
func NewMembers(s MemberStore, now core.Clock) *Members { return &Members{store: s, now: now} }

// Teams serves teams.
type Teams struct {
	store TeamStore
	now   core.Clock
}

// NewTeams returns the team service over s.
func NewTeams(s TeamStore, now core.Clock) *Teams { return &Teams{store: s, now: now} }

// invalid builds the KindInvalid error of a rule a request broke.
func invalid(format string, args ...any) error { return core.Errorf(core.KindInvalid, format, args...) }
