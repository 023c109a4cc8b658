package access

// The base roles, as LaunchDarkly names them.
const (
	RoleOwner    = "owner"
	RoleAdmin    = "admin"
	RoleWriter   = "writer"
	RoleReader   = "reader"
	RoleNoAccess = "no_access"
)

// roleRank orders the base roles by what they allow; unknown roles rank
// as no_access.
func roleRank(role string) int {
	switch role {
	case RoleReader:
		return 1
	case RoleWriter:
		return 2
	case RoleAdmin:
		return 3
	case RoleOwner:
		return 4
	}
	return 0
}

// RoleAtMost reports whether base role a allows no more than base role b.
func RoleAtMost(a, b string) bool { return roleRank(a) <= roleRank(b) }

// administered are the resources only admins manage: members, their
// tokens, service tokens, teams, custom roles and the account.
func administered() []string {
	return []string{"member/*", "member/*:token/*", "service-token/*", "team/*", "role/*", "acct"}
}

// BuiltIn returns the policy of a base role for the member with the given
// ID (empty for a service token, which owns no personal tokens), and false
// for a role that is not a base role.
//
//   - owner and admin: every action on every resource;
//   - writer: every action except on administered resources (members,
//     tokens, teams, roles, the account), which it may only view;
//   - reader: the view actions only;
//   - no_access: nothing.
//
// Every role but no_access may view and manage the member's own personal
// tokens and view everything except other members' tokens.
func BuiltIn(role, memberID string) (Policy, bool) {
	mk := func(effect Effect, resources, notResources, actions []string) Statement {
		s, err := NewStatement(effect, resources, notResources, actions, nil, role)
		if err != nil {
			panic("access: invalid built-in statement: " + err.Error())
		}
		return s
	}
	everything := []string{AnyResource}
	view := mk(Allow, nil, []string{"member/*:token/*", "service-token/*"}, []string{"view*"})
	var p Policy
	switch role {
	case RoleOwner, RoleAdmin:
		return Policy{mk(Allow, everything, nil, []string{"*"})}, true
	case RoleWriter:
		p = Policy{mk(Allow, nil, administered(), []string{"*"}), view}
	case RoleReader:
		p = Policy{view}
	case RoleNoAccess:
		return Policy{}, true
	default:
		return nil, false
	}
	if memberID != "" {
		p = append(p, mk(Allow, []string{"member/" + memberID + ":token/*"}, nil, []string{"*"}))
	}
	return p, true
}

// The base permissions a custom role may declare (LaunchDarkly's
// basePermissions): what its holders may do besides its policy.
const (
	// BaseReader: the holders may also view everything a reader may,
	// unless a statement of the role denies it (a deny of viewProject on
	// proj/secret hides that project).
	BaseReader = RoleReader
	// BaseNone: the holders may do only what the policy allows.
	BaseNone = RoleNoAccess
)

// WithBase returns the policy of a custom role named roleName whose
// statements are p and whose base permissions are base: for BaseReader, p
// followed by the reader's view statement, named after the role so that
// _access and error messages say which role allowed a read; for BaseNone,
// p. The view statement is an allow, so every deny of p still wins over it.
// It returns false for any other base.
func WithBase(p Policy, base, roleName string) (Policy, bool) {
	switch base {
	case BaseNone:
		return p, true
	case BaseReader:
		s, err := NewStatement(Allow, nil, []string{"member/*:token/*", "service-token/*"}, []string{"view*"}, nil, roleName)
		if err != nil {
			panic("access: invalid base statement: " + err.Error())
		}
		return append(p[:len(p):len(p)], s), true
	}
	return nil, false
}
