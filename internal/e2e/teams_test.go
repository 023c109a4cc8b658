package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// teamJSON is the representation of a team without its dates; extra adds
// members (a JSON object body without braces).
func teamJSON(key, name, description string, version int, extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return fmt.Sprintf(`{"_links": {"self": {"href": "/api/v2/teams/%[1]s", "type": "application/json"}, "parent": {"href": "/api/v2/teams", "type": "application/json"}},
		"key": %[1]q, "name": %[2]q, "description": %[3]q, "_version": %[4]d, "_idpSynced": false%[5]s}`, key, name, description, version, extra)
}

// memberSummaryJSON is a MemberSummary without names.
func memberSummaryJSON(id, email, role string) string {
	return fmt.Sprintf(`{"_links": {"self": {"href": "/api/v2/members/%[1]s", "type": "application/json"}}, "_id": %[1]q, "email": %[2]q, "role": %[3]q}`, id, email, role)
}

// checkTeamDates checks a team's creation and modification dates and
// returns the representation without them.
func checkTeamDates(t testing.TB, rep map[string]any, since time.Time) map[string]any {
	t.Helper()
	for _, f := range []string{"_creationDate", "_lastModified"} {
		ms, ok := rep[f].(float64)
		if !ok || int64(ms) < since.UnixMilli()-1000 || int64(ms) > time.Now().UnixMilli()+1000 {
			t.Errorf("%s %v is not between %d and now", f, rep[f], since.UnixMilli())
		}
	}
	if rep["_lastModified"].(float64) < rep["_creationDate"].(float64) {
		t.Errorf("_lastModified %v before _creationDate %v", rep["_lastModified"], rep["_creationDate"])
	}
	return without(rep, "_creationDate", "_lastModified")
}

func (e *env) getTeam(t testing.TB, key, expand string) map[string]any {
	t.Helper()
	st, b, _ := e.do(t, http.MethodGet, "/api/v2/teams/"+key+"?expand="+expand, "")
	if st != http.StatusOK {
		t.Fatalf("get team %s: %d %s", key, st, b)
	}
	return obj(t, b)
}

func (e *env) teamCount(t testing.TB) int {
	t.Helper()
	st, b, _ := e.do(t, http.MethodGet, "/api/v2/teams?limit=1", "")
	if st != http.StatusOK {
		t.Fatalf("list teams: %d %s", st, b)
	}
	return int(obj(t, b)["totalCount"].(float64))
}

func semanticPatch(instructions ...map[string]any) ldapi.TeamPatchInput {
	return ldapi.TeamPatchInput{Instructions: instructions}
}

func TestTeams(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		start := time.Now()
		ids := e.createMembers(t, `[{"email":"ann@example.com"},{"email":"bob@example.com","role":"writer"},{"email":"cat@example.com"}]`)
		ann, bob, cat := ids[0], ids[1], ids[2]

		t.Run("create", func(t *testing.T) {
			post := ldapi.TeamPostInput{Key: "core", Name: " Core ", Description: ptr("The core team"), MemberIDs: []string{ann, bob, ann},
				CustomRoleKeys:   []string{},
				PermissionGrants: []ldapi.PermissionGrantInput{{ActionSet: ptr("maintainTeam"), MemberIDs: []string{cat}}}}
			team, resp, err := e.api(t).TeamsApi.PostTeam(ctx).TeamPostInput(post).Expand("members,maintainers").Execute()
			if err != nil {
				t.Fatalf("PostTeam: %v (status %d)", err, status(resp))
			}
			if resp.StatusCode != http.StatusCreated || team.GetKey() != "core" || team.Members == nil || team.Members.GetTotalCount() != 2 {
				t.Errorf("status %d, client model %+v", resp.StatusCode, team)
			}
			diffJSON(t, "201 representation", teamJSON("core", "Core", "The core team", 1,
				`"members": {"totalCount": 2}, "maintainers": {"totalCount": 1, "items": [`+memberSummaryJSON(cat, "cat@example.com", "reader")+`]}`),
				checkTeamDates(t, obj(t, rawBody(t, resp)), start))

			_, resp, err = e.api(t).TeamsApi.PostTeam(ctx).TeamPostInput(ldapi.TeamPostInput{Key: "web.team_2", Name: "Web"}).Execute()
			if err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("PostTeam minimal: %v (status %d)", err, status(resp))
			}
			diffJSON(t, "minimal team", teamJSON("web.team_2", "Web", "", 1, ""), checkTeamDates(t, obj(t, rawBody(t, resp)), start))
			time.Sleep(2 * time.Millisecond) // distinct creation times order the list
			e.api(t).TeamsApi.PostTeam(ctx).TeamPostInput(ldapi.TeamPostInput{Key: "ops", Name: "Operations", MemberIDs: []string{bob}}).Execute()
		})
		if e.teamCount(t) != 3 {
			t.Fatalf("creates failed")
		}

		t.Run("create validation", func(t *testing.T) {
			long := strings.Repeat("k", 257)
			cases := []struct {
				name, body string
				msg        []string
			}{
				{"missing key", `{"name":"X"}`, []string{"key is required"}},
				{"bad key", `{"key":"bad key!","name":"X"}`, []string{`key "bad key!" must start with a letter or digit`}},
				{"key too long", `{"key":"` + long + `","name":"X"}`, []string{"key must be at most 256 characters"}},
				{"missing name", `{"key":"new"}`, []string{"name is required"}},
				{"blank name", `{"key":"new","name":"  "}`, []string{"name is required"}},
				{"name too long", `{"key":"new","name":"` + long + `"}`, []string{"name must be at most 256 characters"}},
				{"description too long", `{"key":"new","name":"X","description":"` + strings.Repeat("d", 4097) + `"}`, []string{"description must be at most 4096 characters"}},
				{"unknown custom role", `{"key":"new","name":"X","customRoleKeys":["devops"]}`, []string{"customRoleKeys", `"devops"`}},
				{"role attributes", `{"key":"new","name":"X","roleAttributes":{"k":["v"]}}`, []string{"roleAttributes: role attributes are not supported yet"}},
				{"grant with actions", `{"key":"new","name":"X","permissionGrants":[{"actions":["updateTeamName"],"memberIDs":["` + ann + `"]}]}`, []string{"permissionGrants[0].actions: individual actions are not supported yet"}},
				{"grant of another action set", `{"key":"new","name":"X","permissionGrants":[{"actionSet":"admin","memberIDs":["` + ann + `"]}]}`, []string{"permissionGrants[0].actionSet must be maintainTeam"}},
				{"grant without members", `{"key":"new","name":"X","permissionGrants":[{"actionSet":"maintainTeam"}]}`, []string{"permissionGrants[0].memberIDs must list at least one member"}},
				{"unknown member", `{"key":"new","name":"X","memberIDs":["` + ann + `","ghost"]}`, []string{`no member has the ID "ghost"`}},
				{"unknown maintainers", `{"key":"new","name":"X","permissionGrants":[{"actionSet":"maintainTeam","memberIDs":["b-ghost","a-ghost"]}]}`, []string{`no members have the IDs "a-ghost", "b-ghost"`}},
				{"unknown field", `{"key":"new","name":"X","owner":"me"}`, []string{`unknown field "owner"`}},
				{"wrongly-cased field", `{"key":"new","name":"X","memberIds":[]}`, []string{`unknown field "memberIds"`}},
				{"wrong type", `{"key":"new","name":"X","memberIDs":"` + ann + `"}`, []string{"field memberIDs must be an array, not string"}},
				{"array body", `[{"key":"new","name":"X"}]`, []string{"request body must be an object, not array"}},
				{"empty body", ``, []string{"request body is empty"}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					st, body, _ := e.do(t, http.MethodPost, "/api/v2/teams", c.body)
					wantError(t, c.name, st, body, http.StatusBadRequest, c.msg...)
				})
			}
			// LaunchDarkly documents no 409 for creating a team.
			_, resp, err := e.api(t).TeamsApi.PostTeam(allowUndocumented(ctx)).TeamPostInput(ldapi.TeamPostInput{Key: "core", Name: "Again"}).Execute()
			clientError(t, "duplicate key", resp, err, http.StatusConflict, `a team with key "core" already exists`)
			if n := e.teamCount(t); n != 3 {
				t.Errorf("%d teams after rejected creates, want 3", n)
			}
			if got := e.getTeam(t, "core", ""); got["name"] != "Core" {
				t.Errorf("duplicate create changed the team: %v", got)
			}
		})

		t.Run("get", func(t *testing.T) {
			api := e.api(t)
			team, resp, err := api.TeamsApi.GetTeam(ctx, "core").Execute()
			if err != nil {
				t.Fatalf("GetTeam: %v (status %d)", err, status(resp))
			}
			if team.Members != nil || team.Maintainers != nil {
				t.Errorf("expansions without expand: %+v", team)
			}
			diffJSON(t, "GET", teamJSON("core", "Core", "The core team", 1, ""), checkTeamDates(t, obj(t, rawBody(t, resp)), start))

			_, resp, err = api.TeamsApi.GetTeam(ctx, "core").Expand("members,roles,roleAttributes,projects,maintainers").Execute()
			if err != nil {
				t.Fatalf("GetTeam expanded: %v (status %d)", err, status(resp))
			}
			diffJSON(t, "GET expanded", teamJSON("core", "Core", "The core team", 1,
				`"members": {"totalCount": 2}, "roles": {"totalCount": 0, "items": []}, "projects": {"totalCount": 0, "items": []}, "roleAttributes": {},
				"maintainers": {"totalCount": 1, "items": [`+memberSummaryJSON(cat, "cat@example.com", "reader")+`]}`),
				checkTeamDates(t, obj(t, rawBody(t, resp)), start))

			_, resp, err = api.TeamsApi.GetTeam(ctx, "nope").Execute()
			clientError(t, "unknown team", resp, err, http.StatusNotFound, `unknown team "nope"`)
			_, resp, err = api.TeamsApi.GetTeam(ctx, "core").Expand("bogus").Execute()
			clientError(t, "expand=bogus", resp, err, http.StatusBadRequest, `expand "bogus" is not supported`)
		})

		t.Run("member representation shows teams", func(t *testing.T) {
			for _, c := range []struct{ id, teams, grants string }{
				{ann, "[" + memberTeamJSON("core", "Core") + "]", "[]"},
				{bob, "[" + memberTeamJSON("core", "Core") + "," + memberTeamJSON("ops", "Operations") + "]", "[]"},
				{cat, "[]", `[{"resource": "team/core", "actionSet": "maintainTeam"}]`},
			} {
				m, resp, err := e.api(t).AccountMembersApi.GetMember(ctx, c.id).Execute()
				if err != nil {
					t.Fatalf("GetMember: %v (status %d)", err, status(resp))
				}
				got := obj(t, rawBody(t, resp))
				diffJSON(t, m.Email+" teams", c.teams, got["teams"])
				diffJSON(t, m.Email+" permissionGrants", c.grants, got["permissionGrants"])
			}
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/members?filter=team:CORE", "")
			if st != http.StatusOK || cmp.Diff([]string{ann, bob}, itemIDs(t, obj(t, body))) != "" {
				t.Errorf("filter team:CORE: %d %s", st, body)
			}
		})

		t.Run("list", func(t *testing.T) {
			api := e.api(t)
			list, resp, err := api.TeamsApi.GetTeams(ctx).Limit(1).Offset(1).Expand("members,maintainers").Execute()
			if err != nil {
				t.Fatalf("GetTeams: %v (status %d)", err, status(resp))
			}
			got := obj(t, rawBody(t, resp))
			if d := cmp.Diff([]string{"web.team_2"}, itemKeys(t, got)); d != "" || list.GetTotalCount() != 3 {
				t.Errorf("page (-want +got):\n%s\ntotal %d", d, list.GetTotalCount())
			}
			diffJSON(t, "item", teamJSON("web.team_2", "Web", "", 1, `"members": {"totalCount": 0}, "maintainers": {"totalCount": 0, "items": []}`),
				checkTeamDates(t, items(t, got)[0], start))
			wantLinks := map[string]url.Values{
				"self": page(1, 1, "expand", "members,maintainers"), "first": page(1, 0, "expand", "members,maintainers"),
				"prev": page(1, 0, "expand", "members,maintainers"), "next": page(1, 2, "expand", "members,maintainers"),
				"last": page(1, 2, "expand", "members,maintainers"),
			}
			if d := cmp.Diff(wantLinks, linkQueries(t, got, "/api/v2/teams")); d != "" {
				t.Errorf("links (-want +got):\n%s", d)
			}
			for _, c := range []struct {
				filter string
				want   []string
			}{
				{"", []string{"core", "web.team_2", "ops"}},
				{"query:OPER", []string{"ops"}},
				{"query:team_", []string{"web.team_2"}},
				{"nomembers:true", []string{"web.team_2"}},
				{"nomembers:false", []string{"core", "ops"}},
			} {
				_, resp, err := api.TeamsApi.GetTeams(ctx).Filter(c.filter).Execute()
				if err != nil {
					t.Errorf("filter %q: %v", c.filter, err)
					continue
				}
				got := obj(t, rawBody(t, resp))
				if d := cmp.Diff(c.want, itemKeys(t, got)); d != "" || got["totalCount"] != float64(len(c.want)) {
					t.Errorf("filter %q (-want +got):\n%s\ntotalCount %v", c.filter, d, got["totalCount"])
				}
			}
			for _, c := range []struct{ query, msg string }{
				{"limit=101", "limit must be an integer between 1 and 100"},
				{"limit=0", "limit must be an integer between 1 and 100"},
				{"offset=x", "offset must be a non-negative integer"},
				{"filter=name:core", `filter field "name" is not supported; use query, nomembers`},
				{"expand=roles", `expand "roles" is not supported`},
			} {
				st, body, _ := e.doUndoc(t, http.MethodGet, "/api/v2/teams?"+c.query, "")
				wantError(t, c.query, st, body, http.StatusBadRequest, c.msg)
			}
		})

		t.Run("patch", func(t *testing.T) {
			api := e.api(t)
			before := e.getTeam(t, "core", "members,maintainers")
			patch := semanticPatch(
				map[string]any{"kind": "updateName", "value": "Core platform"},
				map[string]any{"kind": "updateDescription", "value": "Owns checkout"},
				map[string]any{"kind": "addMembers", "values": []string{cat}},
				map[string]any{"kind": "removeMembers", "values": []string{ann}},
				map[string]any{"kind": "addPermissionGrants", "actionSet": "maintainTeam", "memberIDs": []string{bob}},
			)
			patch.Comment = ptr("reorganise")
			team, resp, err := api.TeamsApi.PatchTeam(ctx, "core").TeamPatchInput(patch).Expand("members,maintainers").Execute()
			if err != nil {
				t.Fatalf("PatchTeam: %v (status %d)", err, status(resp))
			}
			if team.GetVersion() != 2 {
				t.Errorf("version %d, want 2", team.GetVersion())
			}
			got := obj(t, rawBody(t, resp))
			diffJSON(t, "200 representation", teamJSON("core", "Core platform", "Owns checkout", 2, `"members": {"totalCount": 2},
				"maintainers": {"totalCount": 2, "items": [`+memberSummaryJSON(bob, "bob@example.com", "writer")+`,`+memberSummaryJSON(cat, "cat@example.com", "reader")+`]}`),
				checkTeamDates(t, got, start))
			if got["_creationDate"] != before["_creationDate"] || got["_lastModified"].(float64) < before["_lastModified"].(float64) {
				t.Errorf("dates before %v/%v, after %v/%v", before["_creationDate"], before["_lastModified"], got["_creationDate"], got["_lastModified"])
			}
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/members?filter=team:core", "")
			if st != http.StatusOK || cmp.Diff([]string{bob, cat}, itemIDs(t, obj(t, body))) != "" {
				t.Errorf("members of core after the patch: %d %s", st, body)
			}

			// A patch that changes nothing stores no new version.
			_, resp, err = api.TeamsApi.PatchTeam(ctx, "core").TeamPatchInput(semanticPatch(map[string]any{"kind": "addMembers", "values": []string{cat}})).Execute()
			if err != nil {
				t.Fatalf("no-op PatchTeam: %v", err)
			}
			if got := obj(t, rawBody(t, resp)); got["_version"] != 2.0 || got["_lastModified"] != e.getTeam(t, "core", "")["_lastModified"] {
				t.Errorf("no-op patch: %v", got)
			}

			// The semantic patch Content-Type of LaunchDarkly's documentation works too.
			st, body, _ = e.do(t, http.MethodPatch, "/api/v2/teams/core", `{"instructions":[{"kind":"replaceMembers","values":["`+ann+`"]}]}`,
				"Content-Type: application/json; domain-model=launchdarkly.semanticpatch")
			if st != http.StatusOK || obj(t, body)["_version"] != 3.0 {
				t.Errorf("semantic patch Content-Type: %d %s", st, body)
			}
			if n := e.getTeam(t, "core", "members")["members"]; cmp.Diff(map[string]any{"totalCount": 1.0}, n) != "" {
				t.Errorf("members after replaceMembers: %v", n)
			}
			// X-HTTP-Method-Override tunnels the PATCH through POST.
			st, body, _ = e.do(t, http.MethodPost, "/api/v2/teams/core", `{"instructions":[{"kind":"updateDescription","value":"tunnelled"}]}`,
				"X-HTTP-Method-Override: PATCH")
			if st != http.StatusOK || obj(t, body)["description"] != "tunnelled" {
				t.Errorf("method override: %d %s", st, body)
			}
		})

		t.Run("patch errors change nothing", func(t *testing.T) {
			before := e.getTeam(t, "core", "members,maintainers")
			cases := []struct {
				name, body string
				msg        []string
			}{
				{"unknown kind", `{"instructions":[{"kind":"updateName","value":"X"},{"kind":"updateKey","value":"y"}]}`, []string{`instructions[1].kind "updateKey" is not supported`}},
				{"unknown member is all or nothing", `{"instructions":[{"kind":"updateName","value":"X"},{"kind":"addMembers","values":["ghost"]}]}`, []string{`no member has the ID "ghost"`}},
				{"unknown maintainer", `{"instructions":[{"kind":"addPermissionGrants","actionSet":"maintainTeam","memberIDs":["ghost"]}]}`, []string{`no member has the ID "ghost"`}},
				{"unknown custom role", `{"instructions":[{"kind":"updateName","value":"X"},{"kind":"addCustomRoles","values":["r"]}]}`, []string{"customRoleKeys", `"r"`}},
				{"custom roles without values", `{"instructions":[{"kind":"addCustomRoles","values":[]}]}`, []string{"instructions[0].values must list at least one custom role key"}},
				{"role attributes", `{"instructions":[{"kind":"updateRoleAttribute","key":"k","values":["v"]}]}`, []string{"role attributes are not supported yet"}},
				{"missing value", `{"instructions":[{"kind":"updateName"}]}`, []string{"instructions[0].value is required for updateName"}},
				{"blank name", `{"instructions":[{"kind":"updateName","value":" "}]}`, []string{"instructions[0].value is required"}},
				{"unknown parameter", `{"instructions":[{"kind":"addMembers","values":["` + ann + `"],"teamKeys":["x"]}]}`, []string{`instructions[0] (addMembers): unknown field "teamKeys"`}},
				{"no instructions", `{"comment":"nothing"}`, []string{"instructions is required"}},
				{"empty instructions", `{"instructions":[]}`, []string{"instructions must list at least one instruction"}},
				{"JSON Patch", `[{"op":"replace","path":"/name","value":"X"}]`, []string{"request body must be an object, not array"}},
				{"unknown field", `{"instructions":[{"kind":"updateName","value":"X"}],"environmentKey":"production"}`, []string{`unknown field "environmentKey"`}},
				{"malformed", `{"instructions":[`, []string{"not valid JSON"}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					st, body, _ := e.do(t, http.MethodPatch, "/api/v2/teams/core", c.body)
					wantError(t, c.name, st, body, http.StatusBadRequest, c.msg...)
				})
			}
			st, body, _ := e.do(t, http.MethodPatch, "/api/v2/teams/core", `{"instructions":[{"kind":"updateName","value":"X"}]}`,
				"Content-Type: application/json; domain-model=launchdarkly.jsonpatch")
			wantError(t, "other domain model", st, body, http.StatusBadRequest, `domain-model "launchdarkly.jsonpatch" is not supported here`)
			_, resp, err := e.api(t).TeamsApi.PatchTeam(ctx, "nope").TeamPatchInput(semanticPatch(map[string]any{"kind": "updateName", "value": "X"})).Execute()
			clientError(t, "unknown team", resp, err, http.StatusNotFound, `unknown team "nope"`)
			if d := cmp.Diff(before, e.getTeam(t, "core", "members,maintainers")); d != "" {
				t.Errorf("rejected patches changed the team (-before +after):\n%s", d)
			}
		})

		t.Run("delete", func(t *testing.T) {
			api := e.api(t)
			seed := openSeedDB(t, e.backend)
			e.createMetric(t, "default", `{"key":"checkout","kind":"custom","eventKey":"checkout"}`)
			seed.exec(t, `UPDATE metrics SET maintainer_team_key = 'ops' WHERE key = 'checkout'`)
			projectID := seedString(t, seed, `SELECT id FROM projects WHERE key = 'default'`)
			seed.exec(t, `INSERT INTO metric_groups (id, project_id, key, key_lower, name, name_lower, kind, maintainer_team_key, version, created_at, updated_at)
				VALUES ('grp-ops', ?, 'guardrails', 'guardrails', 'Guardrails', 'guardrails', 'standard', 'ops', 1, 0, 0)`, projectID)
			// LaunchDarkly documents no 409 for deleting a team.
			resp, err := api.TeamsApi.DeleteTeam(allowUndocumented(ctx), "ops").Execute()
			clientError(t, "delete a maintaining team", resp, err, http.StatusConflict,
				`team "ops" maintains metrics checkout (project default); metric groups guardrails (project default)`)
			if got := e.getTeam(t, "ops", "members"); got["members"].(map[string]any)["totalCount"] != 1.0 {
				t.Errorf("refused delete changed the team: %v", got)
			}

			resp, err = api.TeamsApi.DeleteTeam(ctx, "core").Execute()
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DeleteTeam: %v (status %d)", err, status(resp))
			}
			_, resp, err = api.TeamsApi.GetTeam(ctx, "core").Execute()
			clientError(t, "deleted team", resp, err, http.StatusNotFound, `unknown team "core"`)
			resp, err = api.TeamsApi.DeleteTeam(ctx, "core").Execute()
			clientError(t, "delete twice", resp, err, http.StatusNotFound, `unknown team "core"`)
			m, _, err := api.AccountMembersApi.GetMember(ctx, ann).Execute()
			if err != nil || len(m.Teams) != 0 {
				t.Errorf("member of a deleted team: %+v, %v", m, err)
			}

			// A member's deletion takes its memberships along.
			if resp, err := api.AccountMembersApi.DeleteMember(ctx, bob).Execute(); err != nil {
				t.Fatalf("DeleteMember: %v (status %d)", err, status(resp))
			}
			if got := e.getTeam(t, "ops", "members"); got["members"].(map[string]any)["totalCount"] != 0.0 {
				t.Errorf("team of a deleted member: %v", got)
			}
		})
	})
}

// TestTeamPatchConcurrent: semantic patches state intent, so racing
// patches that each add a member all succeed and none is lost.
func TestTeamPatchConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		const n = 8
		var forms []string
		for i := range n {
			forms = append(forms, fmt.Sprintf(`{"email":"m%d@example.com"}`, i))
		}
		ids := e.createMembers(t, "["+strings.Join(forms, ",")+"]")
		if st, body, _ := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"crowd","name":"Crowd"}`); st != http.StatusCreated {
			t.Fatalf("create team: %d %s", st, body)
		}
		statuses := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				body := `{"instructions":[{"kind":"addMembers","values":["` + ids[i] + `"]}]}`
				statuses[i], _, _, errs[i] = e.send(t, context.Background(), http.MethodPatch, "/api/v2/teams/crowd", body)
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || statuses[i] != http.StatusOK {
				t.Errorf("patch %d: status %d, %v", i, statuses[i], errs[i])
			}
		}
		got := e.getTeam(t, "crowd", "members")
		if got["members"].(map[string]any)["totalCount"] != float64(n) || got["_version"] != float64(n+1) {
			t.Errorf("after %d racing additions: members %v, version %v", n, got["members"], got["_version"])
		}
	})
}

// TestMetricMaintainerTeamFilter proves the metric list filter
// maintainerTeamKey against teams made through the API.
func TestMetricMaintainerTeamFilter(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		for _, key := range []string{"core", "web"} {
			if st, body, _ := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"`+key+`","name":"`+key+`"}`); st != http.StatusCreated {
				t.Fatalf("create team %s: %d %s", key, st, body)
			}
		}
		st, body, _ := e.do(t, http.MethodPost, "/api/v2/metrics/default", `{"key":"team-metric","kind":"custom","eventKey":"e","maintainerTeamKey":"core"}`)
		if st != http.StatusCreated {
			t.Fatalf("create a team-maintained metric: %d %s", st, body)
		}
		e.createMetric(t, "default", `{"key":"member-metric","kind":"custom","eventKey":"e"}`)
		e.createMetric(t, "default", `{"key":"web-metric","kind":"custom","eventKey":"e","maintainerTeamKey":"web"}`)
		for _, c := range []struct {
			team string
			want []string
		}{
			{"core", []string{"team-metric"}},
			{"web", []string{"web-metric"}},
			{"nobody", []string{}},
		} {
			q := url.Values{"filter": {`maintainerTeamKey equals "` + c.team + `"`}}
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/metrics/default?"+q.Encode(), "")
			if st != http.StatusOK {
				t.Fatalf("list: %d %s", st, body)
			}
			if d := cmp.Diff(c.want, itemKeys(t, obj(t, body))); d != "" {
				t.Errorf("maintainerTeamKey %s (-want +got):\n%s", c.team, d)
			}
		}
		st, body, _ = e.doUndoc(t, http.MethodDelete, "/api/v2/teams/core", "")
		wantError(t, "delete a maintaining team", st, body, http.StatusConflict, `team "core" maintains metrics team-metric (project default)`)
	})
}
