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
}

// Token is an API access token. Only a hash of its secret is stored.
type Token struct {
	ID        string
	MemberID  string
	Name      string
	Hash      []byte
	CreatedAt time.Time
}

// TeamRef summarises a team.
type TeamRef struct {
	Key  string
	Name string
}
