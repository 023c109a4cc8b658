package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
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

// APIVersion is the REST API version metricsd serves, the default API
// version of every token.
const APIVersion = 20240415

// TokenRoles are the base roles a token may be given.
var tokenRoles = []string{access.RoleReader, access.RoleWriter, access.RoleAdmin}

// HashToken returns the stored form of an access token value.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// NewTokenSecret returns a fresh access token value: "api-" and 48 hex
// digits of randomness.
func NewTokenSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "api-" + hex.EncodeToString(b[:])
}

// ending returns the last four characters of a token value.
func ending(secret string) string { return secret[len(secret)-min(4, len(secret)):] }

// TokenSpec is the resource specifier of a token: member/<id>:token/<id>
// for a personal token, service-token/<id> for a service token.
func TokenSpec(t *Token) resource.Spec {
	if t.ServiceToken {
		return resource.Spec{Segments: []resource.Segment{{Kind: "service-token", Name: t.ID}}}
	}
	return resource.Spec{Segments: []resource.Segment{{Kind: resource.KindMember, Name: t.MemberID}, {Kind: resource.KindToken, Name: t.ID}}}
}

// Credential is what authentication loads for a token value: the token,
// its member and the custom roles of both.
type Credential struct {
	Token       Token
	Member      Member
	MemberRoles []Role
	TokenRoles  []Role
}

// Grant returns what the credential allows: the token's own policy (its
// base role, or its custom roles and inline policy) and, for a personal
// token, its member's (base role plus custom roles), which must both
// allow an action. A token without a role of its own has its member's
// permissions. A stored policy that no longer compiles denies everything.
func (c *Credential) Grant() access.Grant {
	member, ok := access.BuiltIn(c.Member.Role, c.Member.ID)
	if !ok {
		return access.Grant{}
	}
	for _, r := range c.MemberRoles {
		p, err := r.Compile()
		if err != nil {
			return access.Grant{}
		}
		member = append(slices.Clip(member), p...)
	}
	t := &c.Token
	personal := c.Member.ID
	if t.ServiceToken {
		personal = ""
	}
	var own access.Policy
	switch {
	case t.Role != "":
		p, ok := access.BuiltIn(t.Role, personal)
		if !ok {
			return access.Grant{}
		}
		own = p
	case len(t.CustomRoleIDs) == 0 && len(t.InlineRole) == 0:
		return access.NewGrant(member)
	}
	for _, r := range c.TokenRoles {
		p, err := r.Compile()
		if err != nil {
			return access.Grant{}
		}
		own = append(slices.Clip(own), p...)
	}
	inline, err := CompilePolicy("inlineRole", t.InlineRole, "inline")
	if err != nil {
		return access.Grant{}
	}
	own = append(slices.Clip(own), inline...)
	if t.ServiceToken {
		return access.NewGrant(own)
	}
	return access.NewGrant(own, member)
}

// Principal returns the principal a request made with the credential acts
// as; secret is the presented value, for its ending.
func (c *Credential) Principal() core.Principal {
	m := &c.Member
	role := c.Token.Role
	if role == "" && len(c.Token.CustomRoleIDs) == 0 && len(c.Token.InlineRole) == 0 {
		role = m.Role
	}
	return core.Principal{
		MemberID: m.ID, Email: m.Email, FirstName: m.FirstName, LastName: m.LastName, Role: m.Role,
		TokenID: c.Token.ID, TokenName: c.Token.Name, TokenEnding: c.Token.Ending, ServiceToken: c.Token.ServiceToken,
		TokenRole: role, Grant: c.Grant(),
	}
}

// TokenStore is what token requests need.
type TokenStore interface {
	writer
	// GetToken returns a token with its member.
	GetToken(ctx context.Context, id string) (*Token, error)
	// ListTokens returns the tokens of a member, or of everybody when
	// memberID is empty, oldest first, with their members.
	ListTokens(ctx context.Context, memberID string) ([]Token, error)
}

// Tokens serves access tokens.
type Tokens struct {
	store TokenStore
	now   core.Clock
}

// NewTokens returns the token service over s.
func NewTokens(s TokenStore, now core.Clock) *Tokens { return &Tokens{store: s, now: now} }

// TokenPost is LaunchDarkly's AccessTokenPost.
type TokenPost struct {
	Name              string      `json:"name"`
	Description       string      `json:"description"`
	Role              string      `json:"role"`
	CustomRoleIDs     []string    `json:"customRoleIds"`
	InlineRole        []Statement `json:"inlineRole"`
	ServiceToken      bool        `json:"serviceToken"`
	DefaultAPIVersion int         `json:"defaultApiVersion"`
	// MemberID is a metricsd extension: the member a personal token is
	// for, the caller when empty. Making one for somebody else needs
	// createAccessToken on member/<id>:token/*, which only admins have.
	MemberID string `json:"memberId"`
}

// tokenDocument is the JSON Patch and audit document of a token; never its
// value or hash.
type tokenDocument struct {
	ID                string      `json:"_id"`
	MemberID          string      `json:"memberId"`
	Name              string      `json:"name"`
	Description       string      `json:"description"`
	Role              string      `json:"role"`
	CustomRoleIDs     []string    `json:"customRoleIds"`
	InlineRole        []Statement `json:"inlineRole"`
	ServiceToken      bool        `json:"serviceToken"`
	DefaultAPIVersion int         `json:"defaultApiVersion"`
}

func tokenDoc(t *Token) tokenDocument {
	inline := t.InlineRole
	if inline == nil {
		inline = []Statement{}
	}
	return tokenDocument{ID: t.ID, MemberID: t.MemberID, Name: t.Name, Description: t.Description, Role: t.Role,
		CustomRoleIDs: core.OrEmpty(t.CustomRoleIDs), InlineRole: inline, ServiceToken: t.ServiceToken, DefaultAPIVersion: t.DefaultAPIVersion}
}

var tokenFieldActions = map[string]action.Action{
	"name": action.UpdateAccessTokenName, "description": action.UpdateAccessTokenDescription,
	"role": action.UpdateAccessTokenPolicy, "customRoleIds": action.UpdateAccessTokenPolicy,
	"inlineRole": action.UpdateAccessTokenPolicy, "defaultApiVersion": action.UpdateAccessTokenAPIVersion,
}

func tokenChange(before, after *Token, actions []action.Action, delta []patch.Op) *audit.Change {
	c := &audit.Change{Actions: actions}
	for _, t := range []*Token{before, after} {
		if t != nil {
			c.Target = audit.Target{Kind: "token", Spec: TokenSpec(t), Name: t.Name}
		}
	}
	if before != nil {
		c.Before, _ = json.Marshal(tokenDoc(before))
	}
	if after != nil {
		c.After, _ = json.Marshal(tokenDoc(after))
	}
	if delta != nil {
		c.Delta, _ = json.Marshal(delta)
	}
	return c
}

// validateToken checks a token's fields and resolves its custom roles
// inside tx; owner is its member.
func validateToken(ctx context.Context, tx Tx, t *Token, owner *Member) error {
	t.Name = strings.TrimSpace(t.Name)
	if utf8.RuneCountInString(t.Name) > 256 || utf8.RuneCountInString(t.Description) > 1024 {
		return invalid("name must be at most 256 characters and description at most 1024")
	}
	kinds := 0
	if t.Role != "" {
		kinds++
	}
	if len(t.CustomRoleIDs) > 0 {
		kinds++
	}
	if len(t.InlineRole) > 0 {
		kinds++
	}
	switch {
	case kinds > 1:
		return invalid("give a token one of role, customRoleIds or inlineRole")
	case kinds == 0:
		t.Role = access.RoleReader
	}
	if t.Role != "" && !slices.Contains(tokenRoles, t.Role) {
		return invalid("role must be one of %s", strings.Join(tokenRoles, ", "))
	}
	if t.Role != "" && !t.ServiceToken && !access.RoleAtMost(t.Role, owner.Role) {
		return core.Errorf(core.KindForbidden, "a %s cannot create or hold a token with role %s", owner.Role, t.Role)
	}
	// A token cannot make a token that can do more than it can: one with a
	// base role makes tokens of that role or lower, custom roles and inline
	// policies need an admin token, and a token limited by a policy of its
	// own makes none.
	if p := core.PrincipalFrom(ctx); !p.IsZero() {
		switch {
		case t.Role != "" && !access.RoleAtMost(t.Role, p.TokenRole):
			return core.Errorf(core.KindForbidden, "a token acting as %s cannot create or change a token to role %s", orNone(p.TokenRole), t.Role)
		case t.Role == "" && !access.RoleAtMost(access.RoleAdmin, p.TokenRole):
			return core.Errorf(core.KindForbidden, "only an admin token can give tokens custom roles or an inline policy")
		}
	}
	if _, err := CompilePolicy("inlineRole", t.InlineRole, "inline"); err != nil {
		return err
	}
	rs, err := resolveRoles(ctx, tx, "customRoleIds", t.CustomRoleIDs)
	if err != nil {
		return err
	}
	t.CustomRoleIDs = roleIDs(rs)
	switch t.DefaultAPIVersion {
	case 0:
		t.DefaultAPIVersion = APIVersion
	case APIVersion:
	default:
		return invalid("defaultApiVersion must be %d, the version metricsd serves", APIVersion)
	}
	return nil
}

func orNone(role string) string {
	if role == "" {
		return "a custom policy"
	}
	return role
}

// CreateToken makes a token for the calling member and returns it with
// its value, which is shown only now.
func (c *Tokens) CreateToken(ctx context.Context, in TokenPost) (*Token, string, error) {
	p := core.PrincipalFrom(ctx)
	if p.MemberID == "" {
		return nil, "", core.Errorf(core.KindForbidden, "tokens are created by members")
	}
	member := p.MemberID
	if in.MemberID != "" {
		member = in.MemberID
	}
	now := c.now()
	secret := NewTokenSecret()
	t := &Token{ID: core.NewObjectID(), MemberID: member, Name: in.Name, Description: in.Description,
		Hash: HashToken(secret), Role: in.Role, CustomRoleIDs: in.CustomRoleIDs, InlineRole: in.InlineRole,
		ServiceToken: in.ServiceToken, DefaultAPIVersion: in.DefaultAPIVersion, Ending: ending(secret), CreatedAt: now, UpdatedAt: now}
	err := c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		owner, err := tx.MemberDetail(ctx, member)
		if errors.Is(err, core.ErrNotFound) {
			return nil, invalid("memberId: unknown member %q", member)
		}
		if err != nil {
			return nil, err
		}
		if err := validateToken(ctx, tx, t, &owner.Member); err != nil {
			return nil, err
		}
		if err := tx.CreateToken(ctx, t); err != nil {
			return nil, err
		}
		return tokenChange(nil, t, []action.Action{action.CreateAccessToken}, nil), nil
	})
	if err != nil {
		return nil, "", err
	}
	out, err := c.store.GetToken(ctx, t.ID)
	return out, secret, err
}

// GetToken returns a token the caller may view.
func (c *Tokens) GetToken(ctx context.Context, id string) (*Token, error) {
	t, err := c.store.GetToken(ctx, id)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown access token %q", id)
	}
	if err != nil {
		return nil, err
	}
	if !core.Allowed(ctx, action.ViewToken, TokenSpec(t)) {
		// Others' token IDs do not leak.
		return nil, core.Errorf(core.KindNotFound, "unknown access token %q", id)
	}
	return t, nil
}

// ListTokens returns one page of the caller's tokens, or with all of
// everybody's tokens the caller may view, and the number of them.
func (c *Tokens) ListTokens(ctx context.Context, all bool, page core.Page) ([]Token, int, error) {
	p := core.PrincipalFrom(ctx)
	member := p.MemberID
	if all {
		member = ""
	}
	ts, err := c.store.ListTokens(ctx, member)
	if err != nil {
		return nil, 0, err
	}
	visible := ts[:0]
	for _, t := range ts {
		if core.Allowed(ctx, action.ViewToken, TokenSpec(&t)) {
			visible = append(visible, t)
		}
	}
	total := len(visible)
	lo := min(page.Offset, total)
	hi := min(lo+page.Limit, total)
	return visible[lo:hi], total, nil
}

// PatchToken applies a JSON Patch to a token's name, description, role,
// customRoleIds, inlineRole and defaultApiVersion.
func (c *Tokens) PatchToken(ctx context.Context, id string, body []byte) (*Token, error) {
	ops, _, err := patch.Parse(body)
	if err != nil {
		return nil, err
	}
	err = c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		cur, err := c.tokenForUpdate(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		src, err := patch.Document(tokenDoc(cur))
		if err != nil {
			return nil, err
		}
		var doc tokenDocument
		if err := patch.Apply(src, []string{"_id", "memberId", "serviceToken"}, ops, &doc); err != nil {
			return nil, err
		}
		next := *cur
		next.Name, next.Description, next.Role, next.CustomRoleIDs, next.InlineRole, next.DefaultAPIVersion =
			doc.Name, doc.Description, doc.Role, doc.CustomRoleIDs, doc.InlineRole, doc.DefaultAPIVersion
		owner, err := tx.MemberDetail(ctx, cur.MemberID)
		if err != nil {
			return nil, err
		}
		if err := validateToken(ctx, tx, &next, &owner.Member); err != nil {
			return nil, err
		}
		before, _ := json.Marshal(tokenDoc(cur))
		after, _ := json.Marshal(tokenDoc(&next))
		if reflect.DeepEqual(before, after) {
			return nil, nil
		}
		next.UpdatedAt = c.now()
		if err := tx.UpdateToken(ctx, &next); err != nil {
			return nil, err
		}
		return tokenChange(cur, &next, action.ForChange(tokenFieldActions, action.UpdateAccessTokenPolicy, patch.ChangedDocumentFields(before, after)), ops), nil
	})
	if err != nil {
		return nil, err
	}
	return c.GetToken(ctx, id)
}

// ResetToken gives a token a new value, returned once. The old value stops
// working at once, or at expiry when that is in the future.
func (c *Tokens) ResetToken(ctx context.Context, id string, expiry *time.Time) (*Token, string, error) {
	secret := NewTokenSecret()
	err := c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		cur, err := c.tokenForUpdate(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		now := c.now()
		next := *cur
		next.OldHash, next.OldExpiresAt = nil, nil
		if expiry != nil && expiry.After(now) {
			next.OldHash, next.OldExpiresAt = cur.Hash, expiry
		}
		next.Hash, next.Ending, next.UpdatedAt = HashToken(secret), ending(secret), now
		if err := tx.UpdateToken(ctx, &next); err != nil {
			return nil, err
		}
		return tokenChange(cur, &next, []action.Action{action.ResetAccessToken}, nil), nil
	})
	if err != nil {
		return nil, "", err
	}
	t, err := c.GetToken(ctx, id)
	return t, secret, err
}

// DeleteToken revokes a token.
func (c *Tokens) DeleteToken(ctx context.Context, id string) error {
	return c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		cur, err := c.tokenForUpdate(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteToken(ctx, id); err != nil {
			return nil, err
		}
		return tokenChange(cur, nil, []action.Action{action.DeleteAccessToken}, nil), nil
	})
}

// tokenForUpdate locks a token, answering 404 for one the caller may not
// even view, so that token IDs of others do not leak.
func (c *Tokens) tokenForUpdate(ctx context.Context, tx Tx, id string) (*Token, error) {
	t, err := tx.TokenForUpdate(ctx, id)
	if errors.Is(err, core.ErrNotFound) || (err == nil && !core.Allowed(ctx, action.ViewToken, TokenSpec(t))) {
		return nil, core.Errorf(core.KindNotFound, "unknown access token %q", id)
	}
	return t, err
}
