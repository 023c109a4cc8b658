package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/access"
	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
	"github.com/metricsd/metricsd/internal/resource"
)

// Statement is a policy statement as requests carry it and as roles and
// tokens store and show it.
type Statement struct {
	Effect       string   `json:"effect"`
	Resources    []string `json:"resources,omitempty"`
	NotResources []string `json:"notResources,omitempty"`
	Actions      []string `json:"actions,omitempty"`
	NotActions   []string `json:"notActions,omitempty"`
}

// CompilePolicy validates statements and returns them as a policy whose
// statements name roleName. field names the statements in error messages.
func CompilePolicy(field string, stmts []Statement, roleName string) (access.Policy, error) {
	if len(stmts) > access.MaxStatements {
		return nil, invalid("%s: at most %d statements", field, access.MaxStatements)
	}
	p := make(access.Policy, 0, len(stmts))
	for i, s := range stmts {
		c, err := access.NewStatement(access.Effect(s.Effect), s.Resources, s.NotResources, s.Actions, s.NotActions, roleName)
		if err != nil {
			return nil, invalid("%s[%d].%s", field, i, err.Error())
		}
		p = append(p, c)
	}
	return p, nil
}

// Role is a custom role: a named policy members and tokens can hold.
type Role struct {
	ID              string
	Key             string
	Name            string
	Description     string
	Policy          []Statement
	BasePermissions string
	Version         int
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// MemberCount and TokenCount are how many members and tokens hold the
	// role, on reads.
	MemberCount int
	TokenCount  int
	TeamCount   int
}

// Compile returns the role's policy: its statements and, with base
// permissions reader, the reader's view statement (access.WithBase).
func (r *Role) Compile() (access.Policy, error) {
	p, err := CompilePolicy("policy", r.Policy, r.Key)
	if err != nil {
		return nil, err
	}
	base := r.BasePermissions
	if base == "" {
		base = access.BaseNone // stored before base permissions existed
	}
	full, ok := access.WithBase(p, base, r.Key)
	if !ok {
		return nil, invalid("basePermissions: must be %q or %q", access.BaseReader, access.BaseNone)
	}
	return full, nil
}

// Spec is the role's resource specifier, role/<key>.
func (r *Role) Spec() resource.Spec {
	return resource.Spec{Segments: []resource.Segment{{Kind: resource.KindRole, Name: r.Key}}}
}

// RoleStore is what custom role requests need.
type RoleStore interface {
	writer
	// GetRole returns the role with the given key or ID.
	GetRole(ctx context.Context, keyOrID string) (*Role, error)
	// ListRoles returns one page of roles by key, and the number of all.
	ListRoles(ctx context.Context, page core.Page) ([]Role, int, error)
}

// RoleInUseError reports that a role cannot be deleted because members or
// tokens hold it.
type RoleInUseError struct{ Members, Tokens, Teams int }

func (e *RoleInUseError) Error() string {
	if e.Teams > 0 {
		return fmt.Sprintf("held by %d members, %d teams and %d tokens", e.Members, e.Teams, e.Tokens)
	}
	return fmt.Sprintf("held by %d members and %d tokens", e.Members, e.Tokens)
}

// Is makes errors.Is(err, core.ErrInUse) hold.
func (e *RoleInUseError) Is(target error) bool { return target == core.ErrInUse }

// Roles serves custom roles.
type Roles struct {
	store RoleStore
	now   core.Clock
}

// NewRoles returns the custom role service over s.
func NewRoles(s RoleStore, now core.Clock) *Roles { return &Roles{store: s, now: now} }

// RolePost is LaunchDarkly's CustomRolePost.
type RolePost struct {
	Key              string      `json:"key"`
	Name             string      `json:"name"`
	Description      string      `json:"description"`
	Policy           []Statement `json:"policy"`
	BasePermissions  string      `json:"basePermissions"`
	ResourceCategory string      `json:"resourceCategory"`
}

// defaultBasePermissions is the base permissions of a role created
// without any: reader, so that the holders of a role can view the projects
// (and everything a reader views) unless one of its statements denies it,
// as LaunchDarkly's roles with "members can view all content" do. A role
// that should grant only its policy says "basePermissions": "no_access".
const defaultBasePermissions = access.BaseReader

func validateRole(r *Role) error {
	if err := core.ValidateKey("key", r.Key); err != nil {
		return err
	}
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" || utf8.RuneCountInString(r.Name) > 256 {
		return invalid("name is required and must be at most 256 characters")
	}
	if utf8.RuneCountInString(r.Description) > 1024 {
		return invalid("description must be at most 1024 characters")
	}
	if r.BasePermissions == "" {
		r.BasePermissions = defaultBasePermissions
	}
	if r.BasePermissions != access.BaseReader && r.BasePermissions != access.BaseNone {
		return invalid("basePermissions: must be %q or %q", access.BaseReader, access.BaseNone)
	}
	if r.Policy == nil {
		return invalid("policy is required")
	}
	_, err := r.Compile()
	return err
}

// roleDocument is the audit log's and JSON Patch's document of a role.
type roleDocument struct {
	ID              string      `json:"_id"`
	Key             string      `json:"key"`
	Name            string      `json:"name"`
	Description     string      `json:"description"`
	Policy          []Statement `json:"policy"`
	BasePermissions string      `json:"basePermissions"`
}

func roleDoc(r *Role) roleDocument {
	policy := r.Policy
	if policy == nil {
		policy = []Statement{}
	}
	return roleDocument{ID: r.ID, Key: r.Key, Name: r.Name, Description: r.Description, Policy: policy, BasePermissions: r.BasePermissions}
}

func newRoleDocument(r *Role) json.RawMessage {
	raw, _ := json.Marshal(roleDoc(r))
	return raw
}

var roleFieldActions = map[string]action.Action{
	"name": action.UpdateRoleName, "description": action.UpdateRoleDescription, "policy": action.UpdateRolePolicy,
	"basePermissions": action.UpdateRolePolicy,
}

func roleChange(before, after *Role, a []action.Action, delta []patch.Op, comment string) *audit.Change {
	c := &audit.Change{Actions: a, Comment: comment}
	for _, r := range []*Role{before, after} {
		if r != nil {
			c.Target = audit.Target{Kind: "role", Spec: r.Spec(), Name: r.Name}
		}
	}
	if before != nil {
		c.Before = newRoleDocument(before)
	}
	if after != nil {
		c.After = newRoleDocument(after)
	}
	if delta != nil {
		c.Delta, _ = json.Marshal(delta)
	}
	return c
}

// CreateRole validates and stores a new custom role.
func (c *Roles) CreateRole(ctx context.Context, in RolePost) (*Role, error) {
	now := c.now()
	r := &Role{ID: core.NewObjectID(), Key: in.Key, Name: in.Name, Description: in.Description, Policy: in.Policy,
		BasePermissions: in.BasePermissions, Version: 1, CreatedAt: now, UpdatedAt: now}
	if in.ResourceCategory != "" {
		return nil, invalid("resourceCategory is not supported")
	}
	if err := validateRole(r); err != nil {
		return nil, err
	}
	err := c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		if err := tx.CreateRole(ctx, r); err != nil {
			if errors.Is(err, core.ErrDuplicate) {
				return nil, core.Errorf(core.KindConflict, "a custom role with key %q already exists", r.Key)
			}
			return nil, err
		}
		return roleChange(nil, r, []action.Action{action.CreateRole}, nil, ""), nil
	})
	if err != nil {
		return nil, err
	}
	return c.GetRole(ctx, r.Key)
}

// GetRole returns the role with the given key or ID.
func (c *Roles) GetRole(ctx context.Context, keyOrID string) (*Role, error) {
	r, err := c.store.GetRole(ctx, keyOrID)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown custom role %q", keyOrID)
	}
	return r, err
}

// ListRoles returns one page of roles.
func (c *Roles) ListRoles(ctx context.Context, page core.Page) ([]Role, int, error) {
	return c.store.ListRoles(ctx, page)
}

// PatchRole applies a JSON Patch (optionally wrapped with a comment) to a
// role's name, description, policy and basePermissions.
func (c *Roles) PatchRole(ctx context.Context, key string, body []byte) (*Role, error) {
	ops, comment, err := patch.Parse(body)
	if err != nil {
		return nil, err
	}
	var out *Role
	err = c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		cur, err := tx.RoleForUpdate(ctx, key)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown custom role %q", key)
		}
		if err != nil {
			return nil, err
		}
		src, err := patch.Document(roleDoc(cur))
		if err != nil {
			return nil, err
		}
		var doc roleDocument
		if err := patch.Apply(src, []string{"_id", "key"}, ops, &doc); err != nil {
			return nil, err
		}
		next := *cur
		next.Name, next.Description, next.Policy, next.BasePermissions = doc.Name, doc.Description, doc.Policy, doc.BasePermissions
		if err := validateRole(&next); err != nil {
			return nil, err
		}
		if reflect.DeepEqual(newRoleDocument(cur), newRoleDocument(&next)) {
			out = cur
			return nil, nil
		}
		next.Version++
		next.UpdatedAt = c.now()
		if err := tx.UpdateRole(ctx, &next); err != nil {
			return nil, err
		}
		out = &next
		before, after := newRoleDocument(cur), newRoleDocument(&next)
		ch := roleChange(cur, &next, nil, ops, comment)
		ch.Actions = action.ForChange(roleFieldActions, action.UpdateRolePolicy, patch.ChangedDocumentFields(before, after))
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	return c.GetRole(ctx, out.Key)
}

// DeleteRole removes a role no member or token holds. A role in use is a
// 409 that says how many hold it: take it away from them first, so that
// nobody's permissions change by surprise.
func (c *Roles) DeleteRole(ctx context.Context, key string) error {
	return c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		cur, err := tx.RoleForUpdate(ctx, key)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown custom role %q", key)
		}
		if err != nil {
			return nil, err
		}
		var inUse *RoleInUseError
		if err := tx.DeleteRole(ctx, cur.ID); errors.As(err, &inUse) {
			return nil, core.Errorf(core.KindConflict, "custom role %q is %s; remove it from them first", cur.Key, inUse.Error())
		} else if err != nil {
			return nil, err
		}
		return roleChange(cur, nil, []action.Action{action.DeleteRole}, nil, ""), nil
	})
}

// resolveRoles returns the IDs of the roles refs name (keys or IDs), in
// order, each once.
func resolveRoles(ctx context.Context, tx Tx, field string, refs []string) ([]Role, error) {
	refs = core.Dedupe(refs)
	if len(refs) == 0 {
		return nil, nil
	}
	rs, err := tx.RolesByRef(ctx, refs)
	var missing *core.MissingRefsError
	if errors.As(err, &missing) {
		return nil, invalid("%s: %s", field, describeMissing(missing))
	}
	return rs, err
}

func roleIDs(rs []Role) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}
