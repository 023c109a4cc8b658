// Package account owns the people side of metricsd: members, teams and
// the access tokens members hold; their types, rules, store interfaces and
// one service per aggregate.
package account

import "time"

// Member is an account member: a person who owns tokens and maintains metrics.
type Member struct {
	ID        string
	Email     string
	FirstName string
	LastName  string
	Role      string
	CreatedAt time.Time
	// CustomRoleIDs are the IDs of the custom roles the member holds.
	CustomRoleIDs []string
}

// Token is an API access token. Only a hash of its secret is stored.
type Token struct {
	ID          string
	MemberID    string
	Name        string
	Description string
	Hash        []byte
	// Role is the token's base role; "" means its member's permissions
	// (tokens made at start-up).
	Role              string
	CustomRoleIDs     []string
	InlineRole        []Statement
	ServiceToken      bool
	DefaultAPIVersion int
	// Ending is the last four characters of the value.
	Ending    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// OldHash stays valid until OldExpiresAt after a reset that asked for
	// it.
	OldHash      []byte
	OldExpiresAt *time.Time
	// LastUsed is when the token was last used, as recorded by TokenUses
	// (zero before its first recorded use).
	LastUsed time.Time
	// Member is the member the token belongs to, on reads.
	Member *Member
}

// TeamRef summarises a team.
type TeamRef struct {
	Key  string
	Name string
}
