package core

import (
	"context"

	"github.com/metricsd/metricsd/internal/access"
	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/resource"
)

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
	// TokenRole is the base role the token acts with: its own, or its
	// member's for a token without one; "" for a token limited by custom
	// roles or an inline policy. Tokens it creates may not exceed it.
	TokenRole string
	// Grant is what the principal may do: the token's policy and, for a
	// personal token, its member's. Every write and read is decided by it.
	Grant access.Grant
}

// AccessKey is a short fingerprint of the principal's effective policy:
// two principals with the same key are allowed and denied the same
// actions, so a cache of representations that carry _access can key on
// it.
func (p Principal) AccessKey() string { return p.Grant.Key() }

// IsZero reports whether p names nobody, as for start-up work.
func (p Principal) IsZero() bool { return p.MemberID == "" && p.TokenID == "" }

type principalKey struct{}

// WithPrincipal returns a context that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, &p)
}

// WithSharedPrincipal is WithPrincipal for a principal that p points to
// and that nobody changes any more (a cache's entry), which it does not
// copy. PrincipalFrom hands out copies only.
func WithSharedPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries, or the zero Principal.
func PrincipalFrom(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(*Principal); ok && p != nil {
		return *p
	}
	return Principal{}
}

// Decide evaluates action a on the resources (a resource before and after
// a change) for the principal in ctx. A context without a principal is
// start-up or maintenance work and may do anything.
func Decide(ctx context.Context, a action.Action, resources ...resource.Spec) access.Decision {
	p := PrincipalFrom(ctx)
	if p.IsZero() {
		return access.Decision{Allowed: true}
	}
	return p.Grant.DecideAll(resources, a)
}

// Allowed reports whether the principal in ctx may take action a on every
// one of resources.
func Allowed(ctx context.Context, a action.Action, resources ...resource.Spec) bool {
	return Decide(ctx, a, resources...).Allowed
}

// Authorize returns nil when the principal in ctx may take action a on
// every one of resources, and otherwise a KindForbidden error naming the
// action and the resource.
func Authorize(ctx context.Context, a action.Action, resources ...resource.Spec) error {
	d := Decide(ctx, a, resources...)
	if d.Allowed {
		return nil
	}
	return Forbidden(a, resources[0], d)
}

// Forbidden is the error of a denied decision: it names the action, the
// resource (without tags) and, when a deny statement decided, its role.
func Forbidden(a action.Action, r resource.Spec, d access.Decision) error {
	name := resource.Spec{Segments: make([]resource.Segment, len(r.Segments))}
	for i, g := range r.Segments {
		name.Segments[i] = resource.Segment{Kind: g.Kind, Name: g.Name}
	}
	by := "no policy statement allows it"
	if d.Statement != nil {
		by = "denied by a statement of role " + d.RoleName
	}
	if d.Viewing {
		// Nobody may change what they may not view.
		by = "it needs viewProject on " + string(resource.KindProject) + "/" + r.Segments[0].Name + ", and " + by
	}
	return Errorf(KindForbidden, "access denied: action %s on %s is not allowed (%s)", a, name, by)
}
