package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/patch"
	"github.com/metricsd/metricsd/internal/resource"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"

	"github.com/metricsd/metricsd/internal/core"
)

// RoleOwner is the role of the member a fresh database starts with. Owners
// cannot be created through the API, nor deleted.
const RoleOwner = "owner"

// MemberRoles are the base roles a new member may be given.
var MemberRoles = []string{"reader", "writer", "admin", "no_access"}

// Paging limits of member lists.
const (
	DefaultMemberLimit = 20
	MaxMemberLimit     = 1000
)

// maxNewMembers bounds the members one create request may add.
const maxNewMembers = 50

// NewMemberForm is one entry of a create-members request.
type NewMemberForm struct {
	Email          string              `json:"email"`
	Password       string              `json:"password"`
	FirstName      string              `json:"firstName"`
	LastName       string              `json:"lastName"`
	Role           string              `json:"role"`
	CustomRoles    []string            `json:"customRoles"`
	TeamKeys       []string            `json:"teamKeys"`
	RoleAttributes map[string][]string `json:"roleAttributes"`
}

// NewMember is a member to store together with the teams it joins; its
// Member.CustomRoleIDs are the roles it starts with.
type NewMember struct {
	Member
	TeamKeys []string
	// roleRefs are the custom role keys or IDs the request named.
	roleRefs []string
}

// MemberDetail is a member with the teams it belongs to and the teams it
// maintains.
type MemberDetail struct {
	Member
	Teams           []TeamRef
	MaintainedTeams []TeamRef
}

// MemberQuery selects members. Every set field narrows the result; store
// implementations evaluate it in SQL.
type MemberQuery struct {
	core.Page
	Sort []core.SortKey // displayName
	// Query matches members whose email, first or last name contains it,
	// ignoring case.
	Query string
	// Roles matches members with one of the roles; owners count as admins.
	Roles   []string
	IDs     []string
	Emails  []string // compared ignoring case
	TeamKey string   // compared ignoring case
	NoTeam  *bool
}

// validateEmail checks that s is a bare email address.
func validateEmail(field, s string) error {
	if s == "" {
		return invalid("%s is required", field)
	}
	if utf8.RuneCountInString(s) > 254 {
		return invalid("%s must be at most 254 characters", field)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return invalid("%s %q is not a valid email address", field, s)
	}
	return nil
}

// parseMemberForms decodes a create-members body: a JSON array of 1 to 50
// NewMemberForm objects, each decoded strictly.
func parseMemberForms(body []byte) ([]NewMemberForm, error) {
	var raws []json.RawMessage
	if err := patch.DecodeStrict(body, &raws); err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, invalid("request body must list at least one member")
	}
	if len(raws) > maxNewMembers {
		return nil, invalid("at most %d members can be created in one request", maxNewMembers)
	}
	forms := make([]NewMemberForm, len(raws))
	for i, raw := range raws {
		if err := patch.DecodeStrict(raw, &forms[i]); err != nil {
			return nil, invalid("[%d]: %s", i, err.Error())
		}
	}
	return forms, nil
}

// newMember validates form i and returns the member it describes.
func newMember(i int, f NewMemberForm, now time.Time) (NewMember, error) {
	field := fmt.Sprintf("[%d]", i)
	email := strings.TrimSpace(f.Email)
	if err := validateEmail(field+".email", email); err != nil {
		return NewMember{}, err
	}
	role := f.Role
	if role == "" {
		role = "reader"
	}
	if !slices.Contains(MemberRoles, role) {
		return NewMember{}, invalid("%s.role must be one of %s", field, strings.Join(MemberRoles, ", "))
	}
	first, last := strings.TrimSpace(f.FirstName), strings.TrimSpace(f.LastName)
	if utf8.RuneCountInString(first) > 256 || utf8.RuneCountInString(last) > 256 {
		return NewMember{}, invalid("%s.firstName and lastName must be at most 256 characters each", field)
	}
	switch {
	case f.Password != "":
		return NewMember{}, invalid("%s.password is not supported: members use access tokens", field)
	case len(f.RoleAttributes) > 0:
		return NewMember{}, invalid("%s.roleAttributes: role attributes are not supported yet", field)
	}
	return NewMember{
		// Creation times keep the order the members were given in.
		Member: Member{
			ID: core.NewObjectID(), Email: email, FirstName: first, LastName: last, Role: role,
			CreatedAt: now.Add(time.Duration(i) * time.Millisecond),
		},
		TeamKeys: core.Dedupe(core.OrEmpty(f.TeamKeys)),
		roleRefs: f.CustomRoles,
	}, nil
}

// CreateMembers validates a create-members body and stores the members in
// it, all or none. It returns them in the order given.
func (c *Members) CreateMembers(ctx context.Context, body []byte) ([]MemberDetail, error) {
	forms, err := parseMemberForms(body)
	if err != nil {
		return nil, err
	}
	now := c.now()
	ms := make([]NewMember, len(forms))
	seen := map[string]int{}
	for i, f := range forms {
		if ms[i], err = newMember(i, f, now); err != nil {
			return nil, err
		}
		lower := strings.ToLower(ms[i].Email)
		if j, ok := seen[lower]; ok {
			return nil, core.Errorf(core.KindConflict, "[%d].email %q is listed twice in the request (also at [%d])", i, ms[i].Email, j)
		}
		seen[lower] = i
	}
	err = c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		for i := range ms {
			rs, err := resolveRoles(ctx, tx, fmt.Sprintf("[%d].customRoles", i), ms[i].roleRefs)
			if err != nil {
				return nil, err
			}
			ms[i].CustomRoleIDs = roleIDs(rs)
		}
		if err := tx.CreateMembers(ctx, ms); err != nil {
			return nil, err
		}
		docs := make([]memberDocument, len(ms))
		for i, m := range ms {
			docs[i] = newMemberDocument(&m.Member, m.TeamKeys)
		}
		return membersChange(nil, docs, action.CreateMember), nil
	})
	var row *RowError
	var missing *core.MissingRefsError
	switch {
	case errors.As(err, &row) && errors.Is(err, core.ErrDuplicate):
		return nil, core.Errorf(core.KindConflict, "a member with email %q already exists", ms[row.Index].Email)
	case errors.As(err, &missing):
		return nil, invalid("teamKeys: %s", describeMissing(missing))
	case err != nil:
		return nil, err
	}
	q := MemberQuery{Page: core.Page{Limit: len(ms)}}
	for _, m := range ms {
		q.IDs = append(q.IDs, m.ID)
	}
	out, _, err := c.store.ListMembers(ctx, q)
	return out, err
}

// memberDocument is the audit log's document of a member.
type memberDocument struct {
	ID        string   `json:"_id"`
	Email     string   `json:"email"`
	FirstName string   `json:"firstName"`
	LastName  string   `json:"lastName"`
	Role      string   `json:"role"`
	Teams     []string `json:"teams"`
	// CustomRoles are role IDs; left out when there are none.
	CustomRoles []string `json:"customRoles,omitempty"`
}

func newMemberDocument(m *Member, teams []string) memberDocument {
	return memberDocument{ID: m.ID, Email: m.Email, FirstName: m.FirstName, LastName: m.LastName, Role: m.Role, Teams: core.OrEmpty(teams), CustomRoles: m.CustomRoleIDs}
}

// membersChange records the creation or deletion of members: one entry for
// the whole write, naming every member in it. A single member is the
// document itself; several are an array.
func membersChange(before, after []memberDocument, a action.Action) *audit.Change {
	docs := after
	if docs == nil {
		docs = before
	}
	first := docs[0]
	name := first.Email
	if len(docs) > 1 {
		name = fmt.Sprintf("%s and %d more", first.Email, len(docs)-1)
	}
	var raw json.RawMessage
	if len(docs) == 1 {
		raw, _ = json.Marshal(first)
	} else {
		raw, _ = json.Marshal(docs)
	}
	c := &audit.Change{
		Target:  audit.Target{Kind: "member", Spec: resource.Member(first.ID), Name: name},
		Actions: []action.Action{a},
	}
	for _, d := range docs[1:] {
		c.Target.Others = append(c.Target.Others, resource.Member(d.ID).String())
	}
	if before != nil {
		c.Before = raw
	}
	if after != nil {
		c.After = raw
	}
	return c
}

// describeMissing names the keys of a core.MissingRefsError for a message.
func describeMissing(e *core.MissingRefsError) string {
	quoted := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		quoted[i] = strconv.Quote(k)
	}
	if len(quoted) == 1 {
		return fmt.Sprintf("no %s has the %s %s", e.What, idWord(e.What), quoted[0])
	}
	return fmt.Sprintf("no %ss have the %ss %s", e.What, idWord(e.What), strings.Join(quoted, ", "))
}

func idWord(what string) string {
	switch what {
	case "team":
		return "key"
	case "custom role":
		return "key or ID"
	}
	return "ID"
}

// GetMember returns a member with its teams. The ID "me" names the acting
// member.
func (c *Members) GetMember(ctx context.Context, id string) (*MemberDetail, error) {
	if p := core.PrincipalFrom(ctx); id == "me" && p.MemberID != "" {
		id = p.MemberID
	}
	m, err := c.store.GetMemberDetail(ctx, id)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown member %q", id)
	}
	return m, err
}

// ListMembers returns one page of members and the number of all matches.
func (c *Members) ListMembers(ctx context.Context, q MemberQuery) ([]MemberDetail, int, error) {
	return c.store.ListMembers(ctx, q)
}

// DeleteMember removes a member with its tokens and team memberships. The
// owner cannot be deleted, and neither can a member who maintains metrics
// or metric groups: deleting them would leave those without a maintainer.
func (c *Members) DeleteMember(ctx context.Context, id string) error {
	err := c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		m, err := tx.MemberDetail(ctx, id)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown member %q", id)
		}
		if err != nil {
			return nil, err
		}
		if m.Role == RoleOwner {
			return nil, core.Errorf(core.KindForbidden, "member %q (%s) is the account owner and cannot be deleted", m.ID, m.Email)
		}
		err = tx.DeleteMember(ctx, id)
		var maint *MaintainsError
		switch {
		case errors.As(err, &maint):
			return nil, core.Errorf(core.KindConflict, "member %q (%s) maintains %s; give them another maintainer first", m.ID, m.Email, describeMaintained(maint.Refs))
		case errors.Is(err, core.ErrNotFound):
			return nil, core.Errorf(core.KindNotFound, "unknown member %q", id)
		case err != nil:
			return nil, err
		}
		teams := make([]string, 0, len(m.Teams))
		for _, t := range m.Teams {
			teams = append(teams, t.Key)
		}
		return membersChange([]memberDocument{newMemberDocument(&m.Member, teams)}, nil, action.DeleteMember), nil
	})
	return err
}

// memberPatchDocument is what a member's JSON Patch applies to.
type memberPatchDocument struct {
	ID          string   `json:"_id"`
	Email       string   `json:"email"`
	FirstName   string   `json:"firstName"`
	LastName    string   `json:"lastName"`
	Role        string   `json:"role"`
	CustomRoles []string `json:"customRoles"`
}

var memberFieldActions = map[string]action.Action{
	"role": action.UpdateMemberRole, "customRoles": action.UpdateCustomRoles,
	"firstName": action.UpdateMemberName, "lastName": action.UpdateMemberName,
}

// PatchMember applies a JSON Patch to a member's role, customRoles (keys or
// IDs; stored and shown as IDs), firstName and lastName. The owner's role
// cannot change, and no member can be made an owner.
func (c *Members) PatchMember(ctx context.Context, id string, body []byte) (*MemberDetail, error) {
	ops, comment, err := patch.Parse(body)
	if err != nil {
		return nil, err
	}
	if p := core.PrincipalFrom(ctx); id == "me" && p.MemberID != "" {
		id = p.MemberID
	}
	err = c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		cur, err := tx.MemberDetail(ctx, id)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown member %q", id)
		}
		if err != nil {
			return nil, err
		}
		src, err := patch.Document(memberPatchDocument{ID: cur.ID, Email: cur.Email, FirstName: cur.FirstName,
			LastName: cur.LastName, Role: cur.Role, CustomRoles: core.OrEmpty(cur.CustomRoleIDs)})
		if err != nil {
			return nil, err
		}
		var doc memberPatchDocument
		if err := patch.Apply(src, []string{"_id", "email"}, ops, &doc); err != nil {
			return nil, err
		}
		next := cur.Member
		next.FirstName, next.LastName, next.Role = strings.TrimSpace(doc.FirstName), strings.TrimSpace(doc.LastName), doc.Role
		if utf8.RuneCountInString(next.FirstName) > 256 || utf8.RuneCountInString(next.LastName) > 256 {
			return nil, invalid("firstName and lastName must be at most 256 characters each")
		}
		switch {
		case cur.Role == RoleOwner && next.Role != RoleOwner:
			return nil, core.Errorf(core.KindForbidden, "the account owner's role cannot change")
		case next.Role != cur.Role && !slices.Contains(MemberRoles, next.Role):
			return nil, invalid("role must be one of %s", strings.Join(MemberRoles, ", "))
		}
		rs, err := resolveRoles(ctx, tx, "customRoles", doc.CustomRoles)
		if err != nil {
			return nil, err
		}
		next.CustomRoleIDs = roleIDs(rs)
		teams := make([]string, 0, len(cur.Teams))
		for _, t := range cur.Teams {
			teams = append(teams, t.Key)
		}
		before, _ := json.Marshal(newMemberDocument(&cur.Member, teams))
		after, _ := json.Marshal(newMemberDocument(&next, teams))
		if string(before) == string(after) {
			return nil, nil
		}
		if err := tx.UpdateMember(ctx, &next); err != nil {
			return nil, err
		}
		ch := &audit.Change{
			Target:  audit.Target{Kind: "member", Spec: resource.Member(cur.ID), Name: cur.Email},
			Actions: action.ForChange(memberFieldActions, action.UpdateMemberRole, patch.ChangedDocumentFields(before, after)),
			Before:  before, After: after, Comment: comment,
		}
		ch.Delta, _ = json.Marshal(ops)
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	return c.GetMember(ctx, id)
}
