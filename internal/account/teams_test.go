package account

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
)

func TestGrantMaintainers(t *testing.T) {
	tests := []struct {
		g       PermissionGrantInput
		want    []string
		wantErr string
	}{
		{PermissionGrantInput{ActionSet: "maintainTeam", MemberIDs: []string{"a", "b"}}, []string{"a", "b"}, ""},
		{PermissionGrantInput{ActionSet: "maintainTeam", Actions: []string{}, MemberIDs: []string{"a"}}, []string{"a"}, ""},
		{PermissionGrantInput{Actions: []string{"updateTeamName"}, MemberIDs: []string{"a"}}, nil, "g.actions: individual actions are not supported yet; use actionSet maintainTeam"},
		{PermissionGrantInput{MemberIDs: []string{"a"}}, nil, "g.actionSet is required"},
		{PermissionGrantInput{ActionSet: "admin", MemberIDs: []string{"a"}}, nil, "g.actionSet must be maintainTeam; other permission grants are not supported yet"},
		{PermissionGrantInput{ActionSet: "maintainTeam"}, nil, "g.memberIDs must list at least one member"},
	}
	for _, tt := range tests {
		got, err := grantMaintainers("g", tt.g)
		if d := cmp.Diff(tt.wantErr, errText(err)); d != "" {
			t.Errorf("grantMaintainers(%+v) error (-want +got):\n%s", tt.g, d)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("grantMaintainers(%+v) (-want +got):\n%s", tt.g, d)
		}
	}
}

func TestApplyTeamInstructions(t *testing.T) {
	cur := &Team{Key: "core", Name: "Core", Description: "the core team", MemberIDs: []string{"m1", "m2"}, MaintainerIDs: []string{"m1"}}
	type state struct {
		Name, Description    string
		Members, Maintainers []string
	}
	unchanged := state{"Core", "the core team", []string{"m1", "m2"}, []string{"m1"}}
	long := strings.Repeat("x", 257)
	tests := []struct {
		name, body string
		want       state
		wantErr    string
	}{
		{"update name", `{"instructions":[{"kind":"updateName","value":" New name "}]}`, state{"New name", "the core team", []string{"m1", "m2"}, []string{"m1"}}, ""},
		{"update description with comment", `{"comment":"why","instructions":[{"kind":"updateDescription","value":""}]}`, state{"Core", "", []string{"m1", "m2"}, []string{"m1"}}, ""},
		{"add members", `{"instructions":[{"kind":"addMembers","values":["m3","m1"]}]}`, state{"Core", "the core team", []string{"m1", "m2", "m3"}, []string{"m1"}}, ""},
		{"remove members, absent ones ignored", `{"instructions":[{"kind":"removeMembers","values":["m2","zz"]}]}`, state{"Core", "the core team", []string{"m1"}, []string{"m1"}}, ""},
		{"replace members", `{"instructions":[{"kind":"replaceMembers","values":["m9"]}]}`, state{"Core", "the core team", []string{"m9"}, []string{"m1"}}, ""},
		{"replace members with none", `{"instructions":[{"kind":"replaceMembers","values":[]}]}`, state{"Core", "the core team", []string{}, []string{"m1"}}, ""},
		{"grant and revoke maintainers", `{"instructions":[{"kind":"addPermissionGrants","actionSet":"maintainTeam","memberIDs":["m5","m6"]},{"kind":"removePermissionGrants","actionSet":"maintainTeam","memberIDs":["m1","m6"]}]}`,
			state{"Core", "the core team", []string{"m1", "m2"}, []string{"m5"}}, ""},
		{"instructions apply in order", `{"instructions":[{"kind":"addMembers","values":["m3"]},{"kind":"removeMembers","values":["m3"]},{"kind":"updateName","value":"A"},{"kind":"updateName","value":"B"}]}`,
			state{"B", "the core team", []string{"m1", "m2"}, []string{"m1"}}, ""},
		{"no-op", `{"instructions":[{"kind":"addMembers","values":["m1"]}]}`, unchanged, ""},

		{"empty body", ``, state{}, "request body is empty"},
		{"JSON Patch array", `[{"op":"replace","path":"/name","value":"x"}]`, state{}, "request body must be an object, not array"},
		{"no instructions", `{"comment":"x"}`, state{}, "instructions is required"},
		{"null instructions", `{"instructions":null}`, state{}, "instructions is required"},
		{"empty instructions", `{"instructions":[]}`, state{}, "instructions must list at least one instruction"},
		{"too many instructions", `{"instructions":[` + strings.TrimSuffix(strings.Repeat(`{"kind":"updateName","value":"x"},`, 101), ",") + `]}`, state{}, "instructions must list at most 100 instructions"},
		{"long comment", `{"comment":"` + strings.Repeat("c", 1025) + `","instructions":[{"kind":"updateName","value":"x"}]}`, state{}, "comment must be at most 1024 characters"},
		{"unknown top-level field", `{"instructions":[{"kind":"updateName","value":"x"}],"patch":[]}`, state{}, `unknown field "patch"`},
		{"instruction not an object", `{"instructions":["updateName"]}`, state{}, "instructions[0] must be an object"},
		{"missing kind", `{"instructions":[{"value":"x"}]}`, state{}, "instructions[0].kind is required and must be a string"},
		{"kind not a string", `{"instructions":[{"kind":1}]}`, state{}, "instructions[0].kind is required and must be a string"},
		{"unknown kind", `{"instructions":[{"kind":"updateName","value":"x"},{"kind":"updateKey","value":"y"}]}`, state{},
			`instructions[1].kind "updateKey" is not supported; use one of updateName, updateDescription, addMembers, removeMembers, replaceMembers, addPermissionGrants, removePermissionGrants, addCustomRoles, removeCustomRoles`},
		{"unknown parameter", `{"instructions":[{"kind":"updateName","value":"x","values":["y"]}]}`, state{}, `instructions[0] (updateName): unknown field "values"`},
		{"value of the wrong type", `{"instructions":[{"kind":"updateName","value":5}]}`, state{}, "instructions[0] (updateName): field value must be a string, not number"},
		{"updateName without value", `{"instructions":[{"kind":"updateName"}]}`, state{}, "instructions[0].value is required for updateName"},
		{"updateName blank", `{"instructions":[{"kind":"updateName","value":"  "}]}`, state{}, "instructions[0].value is required"},
		{"updateName too long", `{"instructions":[{"kind":"updateName","value":"` + long + `"}]}`, state{}, "instructions[0].value must be at most 256 characters"},
		{"updateDescription null", `{"instructions":[{"kind":"updateDescription","value":null}]}`, state{}, "instructions[0].value is required for updateDescription"},
		{"updateDescription too long", `{"instructions":[{"kind":"updateDescription","value":"` + strings.Repeat("d", 4097) + `"}]}`, state{}, "instructions[0].value must be at most 4096 characters"},
		{"addMembers without values", `{"instructions":[{"kind":"addMembers"}]}`, state{}, "instructions[0].values is required for addMembers"},
		{"addMembers with value", `{"instructions":[{"kind":"addMembers","value":"m3"}]}`, state{}, `instructions[0] (addMembers): unknown field "value"`},
		{"addMembers empty", `{"instructions":[{"kind":"addMembers","values":[]}]}`, state{}, "instructions[0].values must list at least one member ID"},
		{"removeMembers empty", `{"instructions":[{"kind":"removeMembers","values":[]}]}`, state{}, "instructions[0].values must list at least one member ID"},
		{"replaceMembers without values", `{"instructions":[{"kind":"replaceMembers"}]}`, state{}, "instructions[0].values is required for replaceMembers"},
		{"values of the wrong type", `{"instructions":[{"kind":"addMembers","values":"m3"}]}`, state{}, "instructions[0] (addMembers): field values must be an array, not string"},
		{"grant with actions", `{"instructions":[{"kind":"addPermissionGrants","actions":["updateTeamName"],"memberIDs":["m1"]}]}`, state{},
			"instructions[0].actions: individual actions are not supported yet; use actionSet maintainTeam"},
		{"grant without members", `{"instructions":[{"kind":"removePermissionGrants","actionSet":"maintainTeam"}]}`, state{}, "instructions[0].memberIDs must list at least one member"},
		{"custom roles without values", `{"instructions":[{"kind":"addCustomRoles"}]}`, state{}, "instructions[0].values must list at least one custom role key"},
		{"remove no custom roles", `{"instructions":[{"kind":"removeCustomRoles","values":[]}]}`, state{}, "instructions[0].values must list at least one custom role key"},
		{"role attributes", `{"instructions":[{"kind":"replaceRoleAttributes","value":{}}]}`, state{}, "instructions[0] (replaceRoleAttributes): role attributes are not supported yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := applyTeamBody(cur, []byte(tt.body))
			if d := cmp.Diff(tt.wantErr, errText(err)); d != "" {
				t.Fatalf("error (-want +got):\n%s", d)
			}
			if err != nil {
				if core.KindOf(err) != core.KindInvalid {
					t.Errorf("core.KindOf = %v, want core.KindInvalid", core.KindOf(err))
				}
				return
			}
			got := state{st.name, st.description, keysOf(st.members), keysOf(st.maintainers)}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("state (-want +got):\n%s", d)
			}
		})
	}
	if d := cmp.Diff(&Team{Key: "core", Name: "Core", Description: "the core team", MemberIDs: []string{"m1", "m2"}, MaintainerIDs: []string{"m1"}}, cur); d != "" {
		t.Errorf("the current team changed (-want +got):\n%s", d)
	}
}

func TestMaintainsErrorIs(t *testing.T) {
	var err error = &MaintainsError{Refs: []MaintainedRef{{Kind: "metric", ProjectKey: "p", Key: "m"}}}
	if got := fmt.Sprint(err); got != "maintains metrics m (project p)" {
		t.Errorf("Error() = %q", got)
	}
	if !isErr(err, core.ErrInUse) || isErr(err, core.ErrReference) {
		t.Errorf("MaintainsError must be core.ErrInUse only")
	}
	var missing error = &core.MissingRefsError{What: "member", Keys: []string{"a"}}
	if !isErr(missing, core.ErrReference) || isErr(missing, core.ErrInUse) {
		t.Errorf("core.MissingRefsError must be core.ErrReference only")
	}
	row := &RowError{Index: 3, Err: core.ErrDuplicate}
	if !isErr(row, core.ErrDuplicate) || row.Error() != "row 3: duplicate" {
		t.Errorf("RowError: %v", row)
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }

// applyTeamBody parses a semantic patch body and applies it to t, as
// PatchTeam does.
func applyTeamBody(t *Team, body []byte) (*teamState, error) {
	sp, err := patch.ParseSemantic(body)
	if err != nil {
		return nil, err
	}
	return applyTeamInstructions(t, sp)
}

func TestApplyTeamRoleInstructions(t *testing.T) {
	cur := &Team{Key: "core", Roles: []TeamRole{{ID: "i1", Key: "a"}, {ID: "i2", Key: "b"}}}
	for _, tt := range []struct{ body, want string }{
		{`{"instructions":[{"kind":"addCustomRoles","values":["c","a"]}]}`, "a,b,c"},
		{`{"instructions":[{"kind":"removeCustomRoles","values":["a","zz"]}]}`, "b"},
		{`{"instructions":[{"kind":"removeCustomRoles","values":["a","b"]},{"kind":"addCustomRoles","values":["b"]}]}`, "b"},
	} {
		st, err := applyTeamBody(cur, []byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if got := strings.Join(st.roles, ","); got != tt.want {
			t.Errorf("%s: roles %q, want %q", tt.body, got, tt.want)
		}
	}
	if len(cur.Roles) != 2 {
		t.Error("the instructions changed the current team")
	}
}
