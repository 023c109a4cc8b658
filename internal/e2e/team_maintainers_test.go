package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/testdb"
)

func TestTeamMaintainersList(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		ids := e.createMembers(t, `[{"email":"cy@example.com","firstName":"Cy","lastName":"Lee"},{"email":"ann@example.com","role":"writer"},{"email":"bob@example.com"},{"email":"dee@example.com"}]`)
		cy, ann, bob := ids[0], ids[1], ids[2]
		body := fmt.Sprintf(`{"key":"core","name":"Core","memberIDs":[%q],"permissionGrants":[{"actionSet":"maintainTeam","memberIDs":[%q,%q,%q]}]}`, ids[3], cy, ann, bob)
		if st, b, _ := e.do(t, http.MethodPost, "/api/v2/teams", body); st != http.StatusCreated {
			t.Fatalf("create team: %d %s", st, b)
		}
		if st, b, _ := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"empty","name":"Empty"}`); st != http.StatusCreated {
			t.Fatalf("create team: %d %s", st, b)
		}
		api := e.api(t)

		t.Run("all", func(t *testing.T) {
			got, resp, err := api.TeamsApi.GetTeamMaintainers(ctx, "core").Execute()
			if err != nil {
				t.Fatalf("GetTeamMaintainers: %v (status %d)", err, status(resp))
			}
			self := "/api/v2/teams/core/maintainers?limit=20&offset=0"
			diffJSON(t, "maintainers", `{"totalCount": 3, "items": [`+
				memberSummaryJSON(ann, "ann@example.com", "writer")+`, `+
				memberSummaryJSON(bob, "bob@example.com", "reader")+`, `+
				`{"_links": {"self": {"href": "/api/v2/members/`+cy+`", "type": "application/json"}}, "_id": "`+cy+`", "email": "cy@example.com", "role": "reader", "firstName": "Cy", "lastName": "Lee"}],
				"_links": {"self": {"href": "`+self+`", "type": "application/json"}, "first": {"href": "`+self+`", "type": "application/json"}, "last": {"href": "`+self+`", "type": "application/json"}}}`,
				obj(t, rawBody(t, resp)))
			if got.GetTotalCount() != 3 || len(got.GetItems()) != 3 || got.GetItems()[0].Id != ann {
				t.Errorf("decoded by the client: %+v", got)
			}
		})

		t.Run("pages", func(t *testing.T) {
			for _, c := range []struct {
				limit, offset int64
				want          []string
				links         []string
			}{
				{1, 0, []string{ann}, []string{"first", "last", "next", "self"}},
				{2, 1, []string{bob, cy}, []string{"first", "last", "prev", "self"}},
				{2, 3, []string{}, []string{"first", "last", "prev", "self"}},
			} {
				got, resp, err := api.TeamsApi.GetTeamMaintainers(ctx, "core").Limit(c.limit).Offset(c.offset).Execute()
				if err != nil {
					t.Fatalf("GetTeamMaintainers: %v (status %d)", err, status(resp))
				}
				ids := []string{}
				for _, m := range got.GetItems() {
					ids = append(ids, m.Id)
				}
				if d := cmp.Diff(c.want, ids); d != "" {
					t.Errorf("limit %d offset %d (-want +got):\n%s", c.limit, c.offset, d)
				}
				if got.GetTotalCount() != 3 {
					t.Errorf("totalCount %d, want 3", got.GetTotalCount())
				}
				names := []string{}
				for name := range got.GetLinks() {
					names = append(names, name)
				}
				slices.Sort(names)
				if d := cmp.Diff(c.links, names); d != "" {
					t.Errorf("limit %d offset %d links (-want +got):\n%s", c.limit, c.offset, d)
				}
			}
			got, _, err := api.TeamsApi.GetTeamMaintainers(ctx, "core").Limit(1).Offset(1).Execute()
			if err != nil {
				t.Fatal(err)
			}
			if l := got.GetLinks()["next"]; l.GetHref() != "/api/v2/teams/core/maintainers?limit=1&offset=2" {
				t.Errorf("next = %q", l.GetHref())
			}
		})

		t.Run("a team without maintainers", func(t *testing.T) {
			got, resp, err := api.TeamsApi.GetTeamMaintainers(ctx, "empty").Execute()
			if err != nil {
				t.Fatalf("GetTeamMaintainers: %v (status %d)", err, status(resp))
			}
			if got.GetTotalCount() != 0 || len(got.GetItems()) != 0 || obj(t, rawBody(t, resp))["items"] == nil {
				t.Errorf("got %s", rawBody(t, resp))
			}
		})

		t.Run("errors", func(t *testing.T) {
			_, resp, err := api.TeamsApi.GetTeamMaintainers(ctx, "nope").Execute()
			clientError(t, "unknown team", resp, err, http.StatusNotFound, `unknown team "nope"`)
			_, resp, err = api.TeamsApi.GetTeamMaintainers(ctx, "core").Limit(101).Execute()
			clientError(t, "limit", resp, err, http.StatusBadRequest, "limit must be an integer between 1 and 100")
			_, resp, err = api.TeamsApi.GetTeamMaintainers(ctx, "core").Offset(-1).Execute()
			clientError(t, "offset", resp, err, http.StatusBadRequest, "offset must be a non-negative integer")
			st, b, _ := e.doUndoc(t, http.MethodPost, "/api/v2/teams/core/maintainers", `{}`)
			wantError(t, "POST", st, b, http.StatusMethodNotAllowed, "use GET")
		})
	})
}
