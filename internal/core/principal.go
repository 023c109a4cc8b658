package core

import "context"

// Principal is who a request acts as: the member an access token belongs
// to, and the token itself. Every service method finds it in its context.
type Principal struct {
	MemberID  string
	Email     string
	FirstName string
	LastName  string
	// Role is the member's base role: owner, admin, writer, reader or
	// no_access.
	Role string
	// TokenID and TokenName identify the access token; never its value.
	TokenID      string
	TokenName    string
	TokenEnding  string
	ServiceToken bool
}

// IsZero reports whether p names nobody, as for start-up work.
func (p Principal) IsZero() bool { return p.MemberID == "" && p.TokenID == "" }

type principalKey struct{}

// WithPrincipal returns a context that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries, or the zero Principal.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
