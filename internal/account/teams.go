package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Paging limits of team lists (LaunchDarkly's current API version caps a
// page of teams at 100).
const (
	DefaultTeamLimit = 20
	MaxTeamLimit     = 100
)

// ActionSetMaintainTeam is the one permission grant metricsd stores: it
// makes members maintainers of a team.
const ActionSetMaintainTeam = "maintainTeam"

// Team is a named set of members that can maintain metrics and metric
// groups.
// VersionToken names the version of the team a representation shows (its
// key, creation time and version number); conditional requests compare it
// (core.CheckIfMatch).
func (t *Team) VersionToken() string {
	return t.Key + "-" + strconv.FormatInt(t.CreatedAt.UnixMilli(), 10) + "-" + strconv.Itoa(t.Version)
}

type Team struct {
	Key         string
	Name        string
	Description string
	Version     int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// MemberIDs and MaintainerIDs are sorted. Lists leave MemberIDs nil.
	MemberIDs     []string
	MaintainerIDs []string
	// MemberCount and Maintainers are filled in by reads.
	MemberCount int
	Maintainers []Member
	// Roles are the custom roles the team holds, which its members get,
	// in the order they were given.
	Roles []TeamRole
}

// TeamRole is a custom role a team holds.
type TeamRole struct {
	ID, Key, Name string
	// AppliedAt is when the team was given the role.
	AppliedAt time.Time
}

func (t *Team) roleKeys() []string {
	out := make([]string, 0, len(t.Roles))
	for _, r := range t.Roles {
		out = append(out, r.Key)
	}
	return out
}

// RoleIDs returns the IDs of the team's roles, in order.
func (t *Team) RoleIDs() []string {
	out := make([]string, 0, len(t.Roles))
	for _, r := range t.Roles {
		out = append(out, r.ID)
	}
	return out
}

// TeamPost is the body of a create-team request.
type TeamPost struct {
	Key              string                 `json:"key"`
	Name             string                 `json:"name"`
	Description      string                 `json:"description"`
	MemberIDs        []string               `json:"memberIDs"`
	CustomRoleKeys   []string               `json:"customRoleKeys"`
	PermissionGrants []PermissionGrantInput `json:"permissionGrants"`
	RoleAttributes   map[string][]string    `json:"roleAttributes"`
}

// PermissionGrantInput grants members an action set on a team.
type PermissionGrantInput struct {
	ActionSet string   `json:"actionSet"`
	Actions   []string `json:"actions"`
	MemberIDs []string `json:"memberIDs"`
}

// TeamQuery selects teams, evaluated in SQL.
type TeamQuery struct {
	core.Page
	// Query matches teams whose key or name contains it, ignoring case.
	Query     string
	NoMembers *bool
}

func validateTeamName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", invalid("%s is required", field)
	}
	if utf8.RuneCountInString(name) > 256 {
		return "", invalid("%s must be at most 256 characters", field)
	}
	return name, nil
}

func validateTeamDescription(field, d string) error {
	if utf8.RuneCountInString(d) > 4096 {
		return invalid("%s must be at most 4096 characters", field)
	}
	return nil
}

// grantMaintainers checks a permission grant and returns the members it
// makes maintainers. Only the maintainTeam action set is supported.
func grantMaintainers(field string, g PermissionGrantInput) ([]string, error) {
	switch {
	case len(g.Actions) > 0:
		return nil, invalid("%s.actions: individual actions are not supported yet; use actionSet %s", field, ActionSetMaintainTeam)
	case g.ActionSet == "":
		return nil, invalid("%s.actionSet is required", field)
	case g.ActionSet != ActionSetMaintainTeam:
		return nil, invalid("%s.actionSet must be %s; other permission grants are not supported yet", field, ActionSetMaintainTeam)
	case len(g.MemberIDs) == 0:
		return nil, invalid("%s.memberIDs must list at least one member", field)
	}
	return g.MemberIDs, nil
}

// sortedSet returns the distinct entries of s, sorted.
func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// CreateTeam validates in and stores a new team.
func (c *Teams) CreateTeam(ctx context.Context, in TeamPost) (*Team, error) {
	if err := core.ValidateKey("key", in.Key); err != nil {
		return nil, err
	}
	name, err := validateTeamName("name", in.Name)
	if err != nil {
		return nil, err
	}
	if err := validateTeamDescription("description", in.Description); err != nil {
		return nil, err
	}
	if len(in.RoleAttributes) > 0 {
		return nil, invalid("roleAttributes: role attributes are not supported yet")
	}
	var maintainers []string
	for i, g := range in.PermissionGrants {
		ids, err := grantMaintainers(fmt.Sprintf("permissionGrants[%d]", i), g)
		if err != nil {
			return nil, err
		}
		maintainers = append(maintainers, ids...)
	}
	now := c.now()
	t := &Team{
		Key: in.Key, Name: name, Description: in.Description, Version: 1, CreatedAt: now, UpdatedAt: now,
		MemberIDs: sortedSet(in.MemberIDs), MaintainerIDs: sortedSet(maintainers),
	}
	var out *Team
	err = c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		rs, err := resolveRoles(ctx, tx, "customRoleKeys", in.CustomRoleKeys)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			t.Roles = append(t.Roles, TeamRole{ID: r.ID, Key: r.Key, Name: r.Name, AppliedAt: now})
		}
		err = tx.CreateTeam(ctx, t)
		var missing *core.MissingRefsError
		switch {
		case errors.Is(err, core.ErrDuplicate):
			return nil, core.Errorf(core.KindConflict, "a team with key %q already exists", in.Key)
		case errors.As(err, &missing):
			return nil, invalid("%s", describeMissing(missing))
		case err != nil:
			return nil, err
		}
		if out, err = tx.TeamForUpdate(ctx, t.Key); err != nil {
			return nil, err
		}
		actions := []action.Action{action.CreateTeam}
		if len(rs) > 0 {
			actions = append(actions, action.UpdateTeamCustomRoles)
		}
		return teamChange(nil, out, nil, "", actions), nil
	})
	return out, err
}

// teamDocument is the audit log's document of a team.
type teamDocument struct {
	Key         string   `json:"key"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Version     int      `json:"_version"`
	Members     []string `json:"memberIDs"`
	Maintainers []string `json:"maintainerIDs"`
	RoleKeys    []string `json:"customRoleKeys"`
}

func teamChange(before, after *Team, delta json.RawMessage, comment string, actions []action.Action) *audit.Change {
	doc := func(t *Team) json.RawMessage {
		raw, _ := json.Marshal(teamDocument{Key: t.Key, Name: t.Name, Description: t.Description, Version: t.Version,
			Members: core.OrEmpty(t.MemberIDs), Maintainers: core.OrEmpty(t.MaintainerIDs), RoleKeys: t.roleKeys()})
		return raw
	}
	c := &audit.Change{Actions: actions, Delta: delta, Comment: comment}
	for _, t := range []*Team{before, after} {
		if t != nil {
			c.Target = audit.Target{Kind: "team", Spec: resource.Team(t.Key), Name: t.Name}
		}
	}
	if before != nil {
		c.Before = doc(before)
	}
	if after != nil {
		c.After = doc(after)
	}
	return c
}

// GetTeam returns a team.
func (c *Teams) GetTeam(ctx context.Context, key string) (*Team, error) {
	t, err := c.store.GetTeam(ctx, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown team %q", key)
	}
	return t, err
}

// ListTeams returns one page of teams and the number of all matches.
func (c *Teams) ListTeams(ctx context.Context, q TeamQuery) ([]Team, int, error) {
	return c.store.ListTeams(ctx, q)
}

// DeleteTeam removes a team unless it maintains metrics or metric groups.
func (c *Teams) DeleteTeam(ctx context.Context, key string) error {
	return c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		cur, err := tx.TeamForUpdate(ctx, key)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown team %q", key)
		}
		if err != nil {
			return nil, err
		}
		if err := core.CheckIfMatch(ctx, cur.VersionToken()); err != nil {
			return nil, err
		}
		err = tx.DeleteTeam(ctx, key)
		var maint *MaintainsError
		switch {
		case errors.Is(err, core.ErrNotFound):
			return nil, core.Errorf(core.KindNotFound, "unknown team %q", key)
		case errors.As(err, &maint):
			return nil, core.Errorf(core.KindConflict, "team %q maintains %s; give them another maintainer first", key, describeMaintained(maint.Refs))
		case err != nil:
			return nil, err
		}
		return teamChange(cur, nil, nil, "", []action.Action{action.DeleteTeam}), nil
	})
}

// The instruction shapes, by the parameters they take.
type (
	valueInstruction struct {
		Kind  string  `json:"kind"`
		Value *string `json:"value"`
	}
	valuesInstruction struct {
		Kind   string    `json:"kind"`
		Values *[]string `json:"values"`
	}
	grantInstruction struct {
		Kind string `json:"kind"`
		PermissionGrantInput
	}
)

// teamInstructionKinds are the semantic patch instructions metricsd applies
// to teams.
var teamInstructionKinds = []string{"updateName", "updateDescription", "addMembers", "removeMembers", "replaceMembers", "addPermissionGrants", "removePermissionGrants", "addCustomRoles", "removeCustomRoles"}

// teamState is the editable part of a team while instructions apply.
type teamState struct {
	name, description    string
	members, maintainers map[string]bool
	// roles are the keys or IDs of the team's custom roles in order;
	// PatchTeam resolves the ones instructions add.
	roles []string
}

func setOf(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// applyTeamInstructions applies the instructions of a semantic patch in
// order to t. It reports the first problem as a KindInvalid error; the
// caller stores nothing then.
func applyTeamInstructions(t *Team, sp *patch.Semantic) (*teamState, error) {
	st := &teamState{name: t.Name, description: t.Description, members: setOf(t.MemberIDs), maintainers: setOf(t.MaintainerIDs), roles: t.roleKeys()}
	for _, in := range sp.Instructions {
		if err := st.apply(in); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (st *teamState) apply(in patch.Instruction) error {
	field, kind, decode := in.Field, in.Kind, in.Decode
	switch kind {
	case "updateName", "updateDescription":
		var in valueInstruction
		if err := decode(&in); err != nil {
			return err
		}
		if in.Value == nil {
			return invalid("%s.value is required for %s", field, kind)
		}
		if kind == "updateName" {
			name, err := validateTeamName(field+".value", *in.Value)
			if err != nil {
				return err
			}
			st.name = name
			return nil
		}
		if err := validateTeamDescription(field+".value", *in.Value); err != nil {
			return err
		}
		st.description = *in.Value
	case "addMembers", "removeMembers", "replaceMembers":
		var in valuesInstruction
		if err := decode(&in); err != nil {
			return err
		}
		if in.Values == nil {
			return invalid("%s.values is required for %s", field, kind)
		}
		ids := *in.Values
		if len(ids) == 0 && kind != "replaceMembers" {
			return invalid("%s.values must list at least one member ID", field)
		}
		if kind == "replaceMembers" {
			st.members = map[string]bool{}
		}
		for _, id := range ids {
			if kind == "removeMembers" {
				delete(st.members, id)
			} else {
				st.members[id] = true
			}
		}
	case "addPermissionGrants", "removePermissionGrants":
		var in grantInstruction
		if err := decode(&in); err != nil {
			return err
		}
		ids, err := grantMaintainers(field, in.PermissionGrantInput)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if kind == "addPermissionGrants" {
				st.maintainers[id] = true
			} else {
				delete(st.maintainers, id)
			}
		}
	case "addCustomRoles", "removeCustomRoles":
		var in valuesInstruction
		if err := decode(&in); err != nil {
			return err
		}
		if in.Values == nil || len(*in.Values) == 0 {
			return invalid("%s.values must list at least one custom role key", field)
		}
		for _, k := range *in.Values {
			if kind == "addCustomRoles" {
				if !slices.Contains(st.roles, k) {
					st.roles = append(st.roles, k)
				}
			} else {
				st.roles = slices.DeleteFunc(st.roles, func(have string) bool { return have == k })
			}
		}
	case "addRoleAttribute", "updateRoleAttribute", "removeRoleAttribute", "replaceRoleAttributes":
		return invalid("%s (%s): role attributes are not supported yet", field, kind)
	default:
		return invalid("%s.kind %q is not supported; use one of %s", field, kind, strings.Join(teamInstructionKinds, ", "))
	}
	return nil
}

// PatchTeam applies a semantic patch to a team: all of its instructions or,
// on any error, none. A patch that changes nothing stores nothing. The team
// is locked while its instructions apply, so concurrent patches apply one
// after the other, each to the state the one before it left.
func (c *Teams) PatchTeam(ctx context.Context, key string, body []byte) (*Team, error) {
	sp, err := patch.ParseSemantic(body)
	if err != nil {
		return nil, err
	}
	var out *Team
	err = c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		cur, err := tx.TeamForUpdate(ctx, key)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown team %q", key)
		}
		if err != nil {
			return nil, err
		}
		if err := core.CheckIfMatch(ctx, cur.VersionToken()); err != nil {
			return nil, err
		}
		st, err := applyTeamInstructions(cur, sp)
		if err != nil {
			return nil, err
		}
		next := *cur
		next.Name, next.Description = st.name, st.description
		next.MemberIDs, next.MaintainerIDs = keysOf(st.members), keysOf(st.maintainers)
		var actions []action.Action
		if next.Name != cur.Name {
			actions = append(actions, action.UpdateTeamName)
		}
		if next.Description != cur.Description {
			actions = append(actions, action.UpdateTeamDescription)
		}
		if !slices.Equal(next.MemberIDs, cur.MemberIDs) {
			actions = append(actions, action.UpdateTeamMembers)
		}
		if !slices.Equal(next.MaintainerIDs, cur.MaintainerIDs) {
			actions = append(actions, action.UpdateTeamMaintainers)
		}
		rs, err := resolveRoles(ctx, tx, "customRoleKeys", st.roles)
		if err != nil {
			return nil, err
		}
		next.Roles = make([]TeamRole, 0, len(rs))
		now := c.now()
		for _, r := range rs {
			at := now
			if i := slices.IndexFunc(cur.Roles, func(have TeamRole) bool { return have.ID == r.ID }); i >= 0 {
				at = cur.Roles[i].AppliedAt
			}
			next.Roles = append(next.Roles, TeamRole{ID: r.ID, Key: r.Key, Name: r.Name, AppliedAt: at})
		}
		if !slices.Equal(next.RoleIDs(), cur.RoleIDs()) {
			actions = append(actions, action.UpdateTeamCustomRoles)
		}
		if len(actions) == 0 {
			out = cur
			return nil, nil
		}
		next.Version = cur.Version + 1
		next.UpdatedAt = now
		err = tx.UpdateTeam(ctx, &next, cur.Version)
		var missing *core.MissingRefsError
		switch {
		case errors.As(err, &missing):
			return nil, invalid("%s", describeMissing(missing))
		case err != nil:
			return nil, err
		}
		if out, err = tx.TeamForUpdate(ctx, key); err != nil {
			return nil, err
		}
		return teamChange(cur, out, sp.Delta(), sp.Comment, actions), nil
	})
	return out, err
}

// memberTeamsPost is the body of POST /members/{id}/teams.
type memberTeamsPost struct {
	TeamKeys *[]string `json:"teamKeys"`
}

// maxMemberTeams bounds the teams one request adds a member to.
const maxMemberTeams = 100

// AddMemberToTeams adds the member id ("me" for the acting member) to every
// team that body's teamKeys name, all or none, and returns the member with
// its teams. Teams the member already belongs to are left as they are; when
// it belongs to all of them nothing is stored. Keys that name no team are
// refused together, naming each. The teams are locked in key order, so
// concurrent requests and team patches apply one after the other.
func (c *Teams) AddMemberToTeams(ctx context.Context, id string, body []byte) (*MemberDetail, error) {
	var in memberTeamsPost
	if err := patch.DecodeStrict(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.TeamKeys == nil:
		return nil, invalid("teamKeys is required")
	case len(*in.TeamKeys) == 0:
		return nil, invalid("teamKeys must list at least one team key")
	case len(*in.TeamKeys) > maxMemberTeams:
		return nil, invalid("teamKeys may list at most %d team keys", maxMemberTeams)
	}
	keys := sortedSet(*in.TeamKeys)
	if p := core.PrincipalFrom(ctx); id == "me" && p.MemberID != "" {
		id = p.MemberID
	}
	var out *MemberDetail
	err := c.store.TransactAccounts(ctx, func(tx Tx) (*audit.Change, error) {
		teams := make([]*Team, 0, len(keys))
		var missing []string
		for _, k := range keys {
			t, err := tx.TeamForUpdate(ctx, k)
			switch {
			case errors.Is(err, core.ErrNotFound):
				missing = append(missing, k)
				continue
			case err != nil:
				return nil, err
			}
			teams = append(teams, t)
		}
		if _, err := tx.MemberDetail(ctx, id); errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown member %q", id)
		} else if err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			return nil, invalid("teamKeys: %s", describeMissing(&core.MissingRefsError{What: "team", Keys: missing}))
		}
		var before, after []*Team
		for _, cur := range teams {
			if slices.Contains(cur.MemberIDs, id) {
				continue
			}
			next := *cur
			next.MemberIDs = sortedSet(append(slices.Clone(cur.MemberIDs), id))
			next.Version = cur.Version + 1
			next.UpdatedAt = c.now()
			if err := tx.UpdateTeam(ctx, &next, cur.Version); err != nil {
				return nil, err
			}
			before, after = append(before, cur), append(after, &next)
		}
		var err error
		if out, err = tx.MemberDetail(ctx, id); err != nil {
			return nil, err
		}
		if len(after) == 0 {
			// Nothing to store; the caller must still be allowed to make
			// the change it asked for.
			for _, t := range teams {
				if err := core.Authorize(ctx, action.UpdateTeamMembers, resource.Team(t.Key)); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}
		return teamsChange(before, after, action.UpdateTeamMembers), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// teamsChange records one update of several teams as one entry: the first
// team is its target and the others are named with it. A single team's
// documents are the team document itself; several are arrays.
func teamsChange(before, after []*Team, a action.Action) *audit.Change {
	if len(after) == 1 {
		return teamChange(before[0], after[0], nil, "", []action.Action{a})
	}
	c := teamChange(before[0], after[0], nil, "", []action.Action{a})
	c.Target.Name = fmt.Sprintf("%s and %d more", after[0].Name, len(after)-1)
	docs := func(ts []*Team) json.RawMessage {
		raws := make([]json.RawMessage, len(ts))
		for i, t := range ts {
			raws[i] = teamChange(nil, t, nil, "", nil).After
		}
		raw, _ := json.Marshal(raws)
		return raw
	}
	c.Before, c.After = docs(before), docs(after)
	for _, t := range after[1:] {
		c.Target.Others = append(c.Target.Others, resource.Team(t.Key).String())
	}
	return c
}
