package e2e

import (
	"context"
	"net/http"
	"slices"
	"testing"

	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// memberTeams returns the keys of a member's teams as the API shows them.
func memberTeams(t *testing.T, e *env, id string) []string {
	t.Helper()
	st, body, _ := e.do(t, http.MethodGet, "/api/v2/members/"+id, "")
	if st != http.StatusOK {
		t.Fatalf("get member %s: %d %s", id, st, body)
	}
	keys := []string{}
	teams, _ := obj(t, body)["teams"].([]any)
	for _, tm := range teams {
		keys = append(keys, tm.(map[string]any)["key"].(string))
	}
	slices.Sort(keys)
	return keys
}

// teamSize returns a team's member count.
func teamSize(t *testing.T, e *env, key string) float64 {
	t.Helper()
	st, body, _ := e.do(t, http.MethodGet, "/api/v2/teams/"+key+"?expand=members", "")
	if st != http.StatusOK {
		t.Fatalf("get team %s: %d %s", key, st, body)
	}
	return obj(t, body)["members"].(map[string]any)["totalCount"].(float64)
}

// TestPostMemberTeams drives LaunchDarkly's postMemberTeams
// (AccountMembersApi.PostMemberTeams): one member added to several teams
// in one write, all or none, with one audit entry.
func TestPostMemberTeams(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		api := e.api(t)
		for _, k := range []string{"core", "ops", "web"} {
			if st, body, _ := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"`+k+`","name":"Team `+k+`"}`); st != http.StatusCreated {
				t.Fatalf("create team %s: %d %s", k, st, body)
			}
		}
		id := e.createMembers(t, `[{"email":"kim@example.com","role":"writer"}]`)[0]

		t.Run("adds to every team", func(t *testing.T) {
			before := len(e.auditEntries(t, "", 20))
			m, resp, err := api.AccountMembersApi.PostMemberTeams(ctx, id).MemberTeamsPostInput(ldapi.MemberTeamsPostInput{TeamKeys: []string{"ops", "core"}}).Execute()
			if err != nil || status(resp) != http.StatusCreated {
				t.Fatalf("PostMemberTeams: %v (status %d)", err, status(resp))
			}
			var keys []string
			for _, tm := range m.GetTeams() {
				keys = append(keys, tm.GetKey())
			}
			slices.Sort(keys)
			if m.GetId() != id || !slices.Equal(keys, []string{"core", "ops"}) {
				t.Errorf("member %s teams %v, want %s in core, ops", m.GetId(), keys, id)
			}
			if got := memberTeams(t, e, id); !slices.Equal(got, []string{"core", "ops"}) {
				t.Errorf("stored teams %v, want core, ops", got)
			}
			for k, want := range map[string]float64{"core": 1, "ops": 1, "web": 0} {
				if got := teamSize(t, e, k); got != want {
					t.Errorf("team %s has %v members, want %v", k, got, want)
				}
			}
			entries := e.auditEntries(t, "", 20)
			if len(entries) != before+1 {
				t.Fatalf("%d new audit entries, want 1", len(entries)-before)
			}
			got := entries[0]
			res, _ := got["target"].(map[string]any)["resources"].([]any)
			if got["kind"] != "team" || !slices.Equal(accesses(got), []string{"updateTeamMembers team/core", "updateTeamMembers team/ops"}) || len(res) != 2 || res[0] != "team/core" || res[1] != "team/ops" {
				t.Errorf("audit entry kind %v accesses %v resources %v", got["kind"], accesses(got), res)
			}
		})

		t.Run("already a member stores nothing", func(t *testing.T) {
			before := len(e.auditEntries(t, "", 20))
			st, body, _ := e.do(t, http.MethodPost, "/api/v2/members/"+id+"/teams", `{"teamKeys":["core"]}`)
			if st != http.StatusCreated {
				t.Fatalf("status %d %s", st, body)
			}
			if n := len(e.auditEntries(t, "", 20)); n != before {
				t.Errorf("%d new audit entries, want none", n-before)
			}
		})

		t.Run("refusals change nothing", func(t *testing.T) {
			_, reader := newToken(t, api, ldapi.AccessTokenPost{Role: ptr("reader")})
			for _, c := range []struct {
				name, member, body string
				headers            []string
				status             int
				msg                string
			}{
				{"unknown team", id, `{"teamKeys":["web","nope","gone"]}`, nil, 400, `no teams have the keys "gone", "nope"`},
				{"unknown member", "nobody", `{"teamKeys":["web"]}`, nil, 404, `unknown member "nobody"`},
				{"no teamKeys", id, `{}`, nil, 400, "teamKeys is required"},
				{"empty teamKeys", id, `{"teamKeys":[]}`, nil, 400, "at least one team key"},
				{"unknown field", id, `{"teamKeys":["web"],"role":"admin"}`, nil, 400, `unknown field "role"`},
				{"not JSON", id, `{"teamKeys":`, nil, 400, ""},
				{"reader", id, `{"teamKeys":["web"]}`, []string{"Authorization: " + reader}, 403, "updateTeamMembers"},
			} {
				before := len(e.auditEntries(t, "", 20))
				st, body, _ := e.do(t, http.MethodPost, "/api/v2/members/"+c.member+"/teams", c.body, c.headers...)
				wantError(t, c.name, st, body, c.status, c.msg)
				if got := teamSize(t, e, "web"); got != 0 {
					t.Errorf("%s: team web has %v members, want none", c.name, got)
				}
				if got := memberTeams(t, e, id); !slices.Equal(got, []string{"core", "ops"}) {
					t.Errorf("%s: member's teams %v, want core, ops", c.name, got)
				}
				if n := len(e.auditEntries(t, "", 20)); n != before {
					t.Errorf("%s: %d new audit entries", c.name, n-before)
				}
			}
		})
	})
}

// TestRootAndVersions drives LaunchDarkly's getRoot and getVersions.
func TestRootAndVersions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		api := e.api(t)
		root, resp, err := api.OtherApi.GetRoot(ctx).Execute()
		if err != nil || status(resp) != http.StatusOK {
			t.Fatalf("GetRoot: %v (status %d)", err, status(resp))
		}
		for name, want := range map[string]string{"projects": "/api/v2/projects", "members": "/api/v2/members", "teams": "/api/v2/teams", "versions": "/api/v2/versions"} {
			if l, ok := root.Links[name]; !ok || l.GetHref() != want || l.GetType() != "application/json" {
				t.Errorf("root link %s = %+v, want %s", name, l, want)
			}
		}
		// Every link the root lists answers 200.
		for name, l := range root.Links {
			if st, body, _ := e.do(t, http.MethodGet, l.GetHref(), "", "LD-API-Version: beta"); st != http.StatusOK {
				t.Errorf("root link %s (%s): %d %s", name, l.GetHref(), st, body)
			}
		}
		v, resp, err := api.OtherApi.GetVersions(ctx).Execute()
		if err != nil || status(resp) != http.StatusOK {
			t.Fatalf("GetVersions: %v (status %d)", err, status(resp))
		}
		if !slices.Equal(v.ValidVersions, []int32{20240415}) || v.LatestVersion != 20240415 || v.CurrentVersion != 20240415 || v.GetBeta() {
			t.Errorf("versions %+v", v)
		}
		st, body, _ := e.do(t, http.MethodGet, "/api/v2/versions", "", "LD-API-Version: 20240415, beta")
		if st != http.StatusOK || obj(t, body)["beta"] != true {
			t.Errorf("versions with beta: %d %s", st, body)
		}
		st, body, _ = e.do(t, http.MethodGet, "/api/v2", "", "Authorization:")
		wantError(t, "root without a token", st, body, http.StatusUnauthorized)
	})
}
