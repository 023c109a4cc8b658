package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// mgOwnerMaintainer is the maintainer object of a group the owner
// maintains: both LaunchDarkly shapes at once.
func mgOwnerMaintainer(e *env) map[string]any {
	return map[string]any{"key": e.ownerID, "kind": "member", "member": mgOwner(e), "_member": mgOwner(e)}
}

// teamMaintainerJSON is the maintainer object of a group a team maintains.
func teamMaintainerJSON(key, name string) string {
	team := fmt.Sprintf(`{"customRoleKeys": [], "key": %[1]q, "name": %[2]q,
		"_links": {"self": {"href": "/api/v2/teams/%[1]s", "type": "application/json"}}}`, key, name)
	return fmt.Sprintf(`{"key": %q, "kind": "team", "team": %s, "_team": %s}`, key, team, team)
}

// memberMaintainerJSON is the maintainer object of a group member id
// maintains, given that member's MemberSummary JSON.
func memberMaintainerJSON(id, summary string) string {
	return fmt.Sprintf(`{"key": %q, "kind": "member", "member": %s, "_member": %s}`, id, summary, summary)
}

func TestMetricGroupMaintainerShapes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		e.createMetric(t, "default", `{"key":"a","kind":"custom","eventKey":"a","analysisUnits":["user","account"]}`)
		e.createMetric(t, "default", `{"key":"b","kind":"custom","eventKey":"b"}`)
		if st, body, _ := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"growth","name":"Growth"}`); st != http.StatusCreated {
			t.Fatalf("create team: %d %s", st, body)
		}
		api := e.mgAPI(t)

		// A member maintainer, created through the generated client.
		g, resp, err := api.MetricsBetaApi.CreateMetricGroup(ctx, "default").MetricGroupPost(ldapi.MetricGroupPost{
			Key: ptr("by-member"), Name: "By member", Kind: "standard", Tags: []string{}, MaintainerId: e.ownerID,
			Metrics: []ldapi.MetricInMetricGroupInput{{Key: "a"}, {Key: "b"}},
		}).Execute()
		if err != nil {
			t.Fatalf("CreateMetricGroup: %v (status %d)", err, status(resp))
		}
		if m := g.Maintainer.Member; m.Id != e.ownerID || m.Email != "owner@metricsd.local" {
			t.Errorf("client maintainer.member = %+v", m)
		}
		created := obj(t, rawBody(t, resp))
		if d := cmp.Diff(roundTrip(t, mgOwnerMaintainer(e)), created["maintainer"]); d != "" {
			t.Errorf("member maintainer (-want +got):\n%s", d)
		}
		metrics := created["metrics"].([]any)
		for _, m := range metrics {
			units(t, "group metric", m.(map[string]any))
		}
		if d := cmp.Diff([]any{"user", "account"}, metrics[0].(map[string]any)["analysisUnits"]); d != "" {
			t.Errorf("group metric analysisUnits (-want +got):\n%s", d)
		}

		// A team maintainer.
		created = e.mgCreate(t, "default", `{"key":"by-team","name":"By team","kind":"standard","tags":[],"maintainerTeamKey":"growth","metrics":[{"key":"a"},{"key":"b"}]}`)
		diffJSON(t, "team maintainer", teamMaintainerJSON("growth", "Growth"), created["maintainer"])
		got, resp, err := api.MetricsBetaApi.GetMetricGroup(ctx, "default", "by-team").Execute()
		if err != nil {
			t.Fatalf("GetMetricGroup: %v (status %d)", err, status(resp))
		}
		if d := cmp.Diff(created, obj(t, rawBody(t, resp))); d != "" {
			t.Errorf("GET differs from POST (-post +get):\n%s", d)
		}
		if got.Maintainer.Member != nil {
			t.Errorf("a team-maintained group has a member: %+v", got.Maintainer.Member)
		}

		// Both shapes in the list, and after a patch that moves the group to
		// a member.
		list := e.mgList(t, "default", "sort=name")
		items := list["items"].([]any)
		diffJSON(t, "listed member maintainer", memberMaintainerJSON(e.ownerID, mustJSON(t, mgOwner(e))), items[0].(map[string]any)["maintainer"])
		diffJSON(t, "listed team maintainer", teamMaintainerJSON("growth", "Growth"), items[1].(map[string]any)["maintainer"])
		st, body := e.mgPatch(t, "default", "by-team", `[{"op":"remove","path":"/maintainerTeamKey"},{"op":"add","path":"/maintainerId","value":"`+e.ownerID+`"}]`)
		if st != http.StatusOK {
			t.Fatalf("patch: %d %s", st, body)
		}
		if d := cmp.Diff(roundTrip(t, mgOwnerMaintainer(e)), obj(t, body)["maintainer"]); d != "" {
			t.Errorf("patched maintainer (-want +got):\n%s", d)
		}

		// The maintainer may also be named in the shape of LaunchDarkly's
		// current representation, on create and in a patch.
		st, body = e.mgDo(t, http.MethodPost, mgCollectionPath("default"), `{"key":"obj","name":"Obj","kind":"standard","tags":[],"maintainer":{"key":"growth","kind":"team"},"metrics":[{"key":"a"},{"key":"b"}]}`)
		if st != http.StatusCreated {
			t.Fatalf("create with a maintainer object: %d %s", st, body)
		}
		diffJSON(t, "maintainer from an object", teamMaintainerJSON("growth", "Growth"), obj(t, body)["maintainer"])
		st, body = e.mgPatch(t, "default", "obj", `[{"op":"replace","path":"/maintainer","value":{"key":"`+e.ownerID+`","kind":"member"}}]`)
		if st != http.StatusOK {
			t.Fatalf("patch with a maintainer object: %d %s", st, body)
		}
		if d := cmp.Diff(roundTrip(t, mgOwnerMaintainer(e)), obj(t, body)["maintainer"]); d != "" {
			t.Errorf("maintainer patched by object (-want +got):\n%s", d)
		}
		for _, c := range []struct{ body, msg string }{
			{`"maintainerId":"` + e.ownerID + `","maintainer":{"key":"growth","kind":"team"}`, "maintainer names a different maintainer than maintainerId or maintainerTeamKey"},
			{`"maintainer":{"key":"growth","kind":"robot"}`, "maintainer.kind must be member or team"},
			{`"maintainer":{"kind":"team"}`, "maintainer.key is required"},
			{`"maintainer":{"key":"nope","kind":"team"}`, `maintainerTeamKey "nope" does not name a team`},
		} {
			st, body = e.mgDo(t, http.MethodPost, mgCollectionPath("default"), `{"key":"obj2","name":"Obj","kind":"standard",`+c.body+`,"metrics":[{"key":"a"},{"key":"b"}]}`)
			wantError(t, c.body, st, body, http.StatusBadRequest, c.msg)
		}
	})
}

func TestMetricGroupNameRequired(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"a","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","kind":"custom","eventKey":"b"}`)
		const metrics = `"metrics":[{"key":"a"},{"key":"b"}]`
		for _, c := range []struct{ name, body, msg string }{
			{"neither key nor name", `{"kind":"standard","tags":[],` + metrics + `}`, "name is required"},
			{"empty key and name", `{"key":"","name":"","kind":"standard","tags":[],` + metrics + `}`, "name is required"},
			{"blank name without key", `{"name":"   ","kind":"standard","tags":[],` + metrics + `}`, "name is required"},
			{"key without name", `{"key":"g","kind":"standard","tags":[],` + metrics + `}`, "name is required"},
			{"name without letters or digits, no key", `{"name":"!!!","kind":"standard","tags":[],` + metrics + `}`, "key is required when the name has no letters or digits"},
		} {
			st, body := e.mgDo(t, http.MethodPost, mgCollectionPath("default"), c.body)
			if got := wantError(t, c.name, st, body, http.StatusBadRequest); got.Message != c.msg {
				t.Errorf("%s: message %q, want %q", c.name, got.Message, c.msg)
			}
		}
		if n := e.mgCount(t, "default"); n != 0 {
			t.Errorf("%d groups created", n)
		}
	})
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
