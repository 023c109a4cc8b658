package account

import (
	"context"
	"fmt"
	"strings"

	"github.com/metricsd/metricsd/internal/core"
)

// MemberStore is what member requests need.
type MemberStore interface {
	writer
	// GetMemberDetail returns a member with its teams.
	GetMemberDetail(ctx context.Context, id string) (*MemberDetail, error)
	// ListMembers returns one page of members and the number of all matches.
	ListMembers(ctx context.Context, q MemberQuery) ([]MemberDetail, int, error)
}

// TeamStore is what team requests need.
type TeamStore interface {
	writer
	// GetTeam returns a team with its member IDs, member count and
	// maintainers.
	GetTeam(ctx context.Context, key string) (*Team, error)
	// ListTeams returns one page of teams, each with its member count and
	// maintainers but without member IDs, and the number of all matches.
	ListTeams(ctx context.Context, q TeamQuery) ([]Team, int, error)
	// ListTeamMaintainers returns one page of the members who maintain the
	// team, and the number of all of them.
	ListTeamMaintainers(ctx context.Context, teamKey string, page core.Page) ([]Member, int, error)
}

// Tx is what member and team writes need: the unit of work of one write.
type Tx interface {
	// CreateMembers stores new members and the team memberships they start
	// with, all or none. An email already taken (ignoring case) is a
	// *RowError wrapping core.ErrDuplicate; team keys that name no team are a
	// *core.MissingRefsError.
	CreateMembers(ctx context.Context, ms []NewMember) error
	// MemberDetail returns a member with its teams.
	MemberDetail(ctx context.Context, id string) (*MemberDetail, error)
	// DeleteMember removes a member that is not an owner, with its tokens
	// and team memberships. A member that maintains metrics or metric
	// groups is refused with a *MaintainsError.
	DeleteMember(ctx context.Context, id string) error
	// CreateTeam stores a team with its members and maintainers. A taken
	// key is core.ErrDuplicate; member IDs that name no member are a
	// *core.MissingRefsError.
	CreateTeam(ctx context.Context, t *Team) error
	// TeamForUpdate returns a team with its members and maintainers,
	// locked.
	TeamForUpdate(ctx context.Context, key string) (*Team, error)
	// UpdateTeam stores t's name, description, members and maintainers when
	// its version is still prevVersion, and core.ErrStale otherwise.
	UpdateTeam(ctx context.Context, t *Team, prevVersion int) error
	// DeleteTeam removes a team unless it maintains metrics or metric
	// groups (*MaintainsError).
	DeleteTeam(ctx context.Context, key string) error
	// UpdateMember stores a member's names, role and custom roles.
	UpdateMember(ctx context.Context, m *Member) error

	// CreateRole stores a custom role; a taken key is core.ErrDuplicate.
	CreateRole(ctx context.Context, r *Role) error
	// RoleForUpdate returns a role by key or ID, locked.
	RoleForUpdate(ctx context.Context, keyOrID string) (*Role, error)
	// UpdateRole stores a role's name, description, policy, base
	// permissions, version and update time.
	UpdateRole(ctx context.Context, r *Role) error
	// DeleteRole removes a role nobody holds, else *RoleInUseError.
	DeleteRole(ctx context.Context, id string) error
	// RolesByRef returns the roles that refs name by key or ID, in the
	// order of refs; refs that name none are a *core.MissingRefsError
	// (What "custom role").
	RolesByRef(ctx context.Context, refs []string) ([]Role, error)

	// CreateToken stores a token with its custom roles.
	CreateToken(ctx context.Context, t *Token) error
	// TokenForUpdate returns a token, locked.
	TokenForUpdate(ctx context.Context, id string) (*Token, error)
	// UpdateToken stores every field of a token and its custom roles.
	UpdateToken(ctx context.Context, t *Token) error
	// DeleteToken removes a token.
	DeleteToken(ctx context.Context, id string) error
}

// RowError ties a store error to the position of the row that caused it
// in a batch write.
type RowError struct {
	Index int
	Err   error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Index, e.Err) }

// Unwrap returns the row's error.
func (e *RowError) Unwrap() error { return e.Err }

// MaintainedRef names a metric or metric group that a member or team
// maintains.
type MaintainedRef struct {
	Kind       string // "metric", "metric group" or "view"
	ProjectKey string
	Key        string
}

// MaintainsError reports that a member or team cannot be deleted because it
// still maintains metrics, metric groups or views.
type MaintainsError struct{ Refs []MaintainedRef }

func (e *MaintainsError) Error() string { return "maintains " + describeMaintained(e.Refs) }

// Is makes errors.Is(err, core.ErrInUse) hold.
func (e *MaintainsError) Is(target error) bool { return target == core.ErrInUse }

// maxListedRefs bounds how many resources a conflict message names.
const maxListedRefs = 20

// describeMaintained lists refs for a message, grouped by kind and project
// in the order given ("metrics a, b (project p), c (project q); metric
// groups g (project p)"), naming at most maxListedRefs of them.
func describeMaintained(refs []MaintainedRef) string {
	type group struct {
		kind, project string
		keys          []string
	}
	var groups []*group
	shown := min(len(refs), maxListedRefs)
	for _, r := range refs[:shown] {
		if n := len(groups); n > 0 && groups[n-1].kind == r.Kind && groups[n-1].project == r.ProjectKey {
			groups[n-1].keys = append(groups[n-1].keys, r.Key)
			continue
		}
		groups = append(groups, &group{kind: r.Kind, project: r.ProjectKey, keys: []string{r.Key}})
	}
	var b strings.Builder
	for i, g := range groups {
		switch {
		case i == 0:
			b.WriteString(g.kind + "s ")
		case groups[i-1].kind != g.kind:
			b.WriteString("; " + g.kind + "s ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(strings.Join(g.keys, ", ") + " (project " + g.project + ")")
	}
	out := b.String()
	if rest := len(refs) - shown; rest > 0 {
		out += fmt.Sprintf(" and %d more", rest)
	}
	return out
}
