package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/testdb"
)

// TestTeamRolesList drives LaunchDarkly's getTeamRoles (TeamsApi.GetTeamRoles),
// which the TypeScript client offers as teams.getTeamRoles: the custom
// roles a team holds, paged, as the roles expansion of the team lists them.
func TestTeamRolesList(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		for _, k := range []string{"alpha", "beta", "gamma"} {
			body := `{"key":"` + k + `","name":"Role ` + k + `","policy":[{"effect":"allow","resources":["proj/*:metric/*"],"actions":["updateName"]}]}`
			if st, b, _ := e.do(t, http.MethodPost, "/api/v2/roles", body); st != http.StatusCreated {
				t.Fatalf("create role %s: %d %s", k, st, b)
			}
		}
		if st, b, _ := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"core","name":"Core","customRoleKeys":["alpha","gamma","beta"]}`); st != http.StatusCreated {
			t.Fatalf("create team: %d %s", st, b)
		}
		if st, b, _ := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"empty","name":"Empty"}`); st != http.StatusCreated {
			t.Fatalf("create team: %d %s", st, b)
		}
		api := e.api(t)
		team, resp, err := api.TeamsApi.GetTeam(ctx, "core").Expand("roles").Execute()
		if err != nil {
			t.Fatalf("GetTeam: %v (status %d)", err, status(resp))
		}
		expanded := obj(t, rawBody(t, resp))["roles"].(map[string]any)["items"]
		want := []string{}
		for _, r := range team.Roles.GetItems() {
			want = append(want, r.GetKey())
		}
		if len(want) != 3 {
			t.Fatalf("roles expansion: %v", want)
		}

		t.Run("all", func(t *testing.T) {
			got, resp, err := api.TeamsApi.GetTeamRoles(ctx, "core").Execute()
			if err != nil {
				t.Fatalf("GetTeamRoles: %v (status %d)", err, status(resp))
			}
			raw := obj(t, rawBody(t, resp))
			if d := cmp.Diff(map[string]any{"totalCount": 3.0, "items": expanded}, map[string]any{"totalCount": raw["totalCount"], "items": raw["items"]}); d != "" {
				t.Errorf("roles differ from the team's roles expansion (-want +got):\n%s", d)
			}
			self := "/api/v2/teams/core/roles?limit=20&offset=0"
			links := raw["_links"].(map[string]any)
			for _, n := range []string{"self", "first", "last"} {
				if l, _ := links[n].(map[string]any); l == nil || l["href"] != self {
					t.Errorf("_links.%s = %v, want %s", n, links[n], self)
				}
			}
			if got.GetTotalCount() != 3 || len(got.GetItems()) != 3 || got.GetItems()[0].GetKey() != want[0] || got.GetItems()[0].GetName() != "Role "+want[0] || got.GetItems()[0].GetAppliedOn() == 0 {
				t.Errorf("decoded by the client: %+v", got)
			}
		})

		t.Run("pages", func(t *testing.T) {
			for _, c := range []struct {
				limit, offset int64
				want          []string
			}{
				{1, 0, want[:1]},
				{2, 1, want[1:]},
				{2, 3, []string{}},
			} {
				got, resp, err := api.TeamsApi.GetTeamRoles(ctx, "core").Limit(c.limit).Offset(c.offset).Execute()
				if err != nil {
					t.Fatalf("GetTeamRoles: %v (status %d)", err, status(resp))
				}
				keys := []string{}
				for _, r := range got.GetItems() {
					keys = append(keys, r.GetKey())
				}
				if d := cmp.Diff(c.want, keys); d != "" {
					t.Errorf("limit %d offset %d (-want +got):\n%s", c.limit, c.offset, d)
				}
				if got.GetTotalCount() != 3 {
					t.Errorf("totalCount %d, want 3", got.GetTotalCount())
				}
			}
		})

		t.Run("follows addCustomRoles and removeCustomRoles", func(t *testing.T) {
			if st, b, _ := e.do(t, http.MethodPatch, "/api/v2/teams/empty", `{"instructions":[{"kind":"addCustomRoles","values":["beta","alpha"]},{"kind":"removeCustomRoles","values":["beta"]}]}`); st != http.StatusOK {
				t.Fatalf("patch team: %d %s", st, b)
			}
			got, resp, err := api.TeamsApi.GetTeamRoles(ctx, "empty").Execute()
			if err != nil {
				t.Fatalf("GetTeamRoles: %v (status %d)", err, status(resp))
			}
			if got.GetTotalCount() != 1 || len(got.GetItems()) != 1 || got.GetItems()[0].GetKey() != "alpha" {
				t.Errorf("got %s", rawBody(t, resp))
			}
		})

		t.Run("errors", func(t *testing.T) {
			_, resp, err := api.TeamsApi.GetTeamRoles(ctx, "nope").Execute()
			clientError(t, "unknown team", resp, err, http.StatusNotFound, `unknown team "nope"`)
			_, resp, err = api.TeamsApi.GetTeamRoles(ctx, "core").Limit(101).Execute()
			clientError(t, "limit", resp, err, http.StatusBadRequest, "limit must be an integer between 1 and 100")
			_, resp, err = api.TeamsApi.GetTeamRoles(ctx, "core").Offset(-1).Execute()
			clientError(t, "offset", resp, err, http.StatusBadRequest, "offset must be a non-negative integer")
			st, b, _ := e.doUndoc(t, http.MethodPost, "/api/v2/teams/core/roles", `{}`)
			wantError(t, "POST", st, b, http.StatusMethodNotAllowed, "use GET")
		})
	})
}
