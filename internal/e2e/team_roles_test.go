package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// TestTeamCustomRoles: a team's custom roles are its members'. Kim is a
// no_access member whose token holds the role too (a personal token is
// limited by its member), so what she may do comes from her team alone.
func TestTeamCustomRoles(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		uctx := allowUndocumented(ctx)
		e.createMetric(t, "default", `{"key":"m","name":"M","kind":"custom","eventKey":"m"}`)
		role := newRole(t, e.client, "team-renamer", allow([]string{"updateName"}, "proj/default:metric/*"))
		ms, _, err := e.client.AccountMembersApi.PostMembers(ctx).NewMemberForm([]ldapi.NewMemberForm{{Email: "kim@example.com", Role: ptr("no_access")}}).Execute()
		if err != nil || len(ms.Items) != 1 {
			t.Fatalf("create kim: %v", err)
		}
		kim := ms.Items[0].Id
		st, body, _ := e.do(t, "POST", "/api/v2/tokens", fmt.Sprintf(`{"customRoleIds":["team-renamer"],"memberId":%q}`, kim))
		if st != http.StatusCreated {
			t.Fatalf("token for kim: %d %s", st, body)
		}
		kc := e.apiWithToken(t, obj(t, body)["token"].(string))
		rename := func(name string) (*http.Response, error) {
			_, resp, err := kc.MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation(replaceOp("/name", name)).Execute()
			return resp, err
		}
		resp, err := rename("Before")
		clientError(t, "kim without a team", resp, err, http.StatusForbidden, "updateName")

		before := time.Now().UnixMilli()
		team, resp, err := e.client.TeamsApi.PostTeam(ctx).TeamPostInput(ldapi.TeamPostInput{Key: "renamers", Name: "Renamers",
			CustomRoleKeys: []string{"team-renamer"}, MemberIDs: []string{kim}}).Expand("roles").Execute()
		if err != nil {
			t.Fatalf("create team with a role: %v (status %d)", err, status(resp))
		}
		roles := team.GetRoles()
		if roles.GetTotalCount() != 1 || len(roles.Items) != 1 || roles.Items[0].GetKey() != "team-renamer" || roles.Items[0].GetAppliedOn() < before {
			t.Errorf("team roles: %+v", roles)
		}
		if resp, err := rename("By the team"); err != nil {
			t.Fatalf("kim renames through her team: %v (status %d)", err, status(resp))
		}
		m, _, err := kc.MetricsApi.GetMetric(ctx, "default", "m").Execute()
		if err != nil {
			t.Fatalf("kim reads through her team's role (reader base permissions): %v", err)
		}
		if !slices.ContainsFunc(m.Access.Allowed, func(a ldapi.AccessAllowedRep) bool { return a.Action == "updateName" }) ||
			!slices.ContainsFunc(m.Access.Denied, func(a ldapi.AccessDenied) bool { return a.Action == "updateTags" }) {
			t.Errorf("kim's _access: %+v", m.Access)
		}
		_, resp, err = kc.MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation(replaceOp("/tags", []string{"x"})).Execute()
		clientError(t, "kim retags", resp, err, http.StatusForbidden, "updateTags")

		got, _, err := e.client.CustomRolesApi.GetCustomRole(ctx, "team-renamer").Execute()
		if err != nil || got.AssignedTo == nil || got.AssignedTo.GetTeamsCount() != 1 || got.AssignedTo.GetMembersCount() != 0 {
			t.Errorf("assignedTo: %v %+v", err, got.AssignedTo)
		}
		resp, err = e.client.CustomRolesApi.DeleteCustomRole(uctx, role.Key).Execute()
		clientError(t, "delete a role a team holds", resp, err, http.StatusConflict, "1 teams")

		patchTeam := func(instr map[string]any) {
			t.Helper()
			if _, resp, err := e.client.TeamsApi.PatchTeam(ctx, "renamers").TeamPatchInput(semanticPatch(instr)).Execute(); err != nil {
				t.Fatalf("patch team %v: %v (status %d)", instr, err, status(resp))
			}
		}
		patchTeam(map[string]any{"kind": "removeCustomRoles", "values": []string{"team-renamer"}})
		resp, err = rename("Without the role")
		clientError(t, "kim after the team lost its role", resp, err, http.StatusForbidden, "updateName")
		patchTeam(map[string]any{"kind": "addCustomRoles", "values": []string{"team-renamer"}})
		if resp, err := rename("Role again"); err != nil {
			t.Fatalf("kim after the role came back: %v (status %d)", err, status(resp))
		}
		patchTeam(map[string]any{"kind": "removeMembers", "values": []string{kim}})
		resp, err = rename("Out of the team")
		clientError(t, "kim out of the team", resp, err, http.StatusForbidden, "updateName")

		if _, err := e.client.TeamsApi.DeleteTeam(ctx, "renamers").Execute(); err != nil {
			t.Fatalf("delete team: %v", err)
		}
		resp, err = e.client.CustomRolesApi.DeleteCustomRole(uctx, role.Key).Execute()
		clientError(t, "delete a role a token still holds", resp, err, http.StatusConflict, "0 members and 1 tokens")
	})
}
