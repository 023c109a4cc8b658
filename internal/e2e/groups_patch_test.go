package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

func TestMetricGroupPatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		s1 := e.createMetric(t, "default", `{"key":"s1","name":"First metric","kind":"custom","eventKey":"s1"}`)
		s2 := e.createMetric(t, "default", `{"key":"s2","name":"Second metric","kind":"custom","eventKey":"s2"}`)
		s3 := e.createMetric(t, "default", `{"key":"s3","name":"Third metric","kind":"click","selector":"#buy","urls":[{"kind":"substring","substring":"/shop"}]}`)
		e.createMetric(t, "default", `{"key":"n1","kind":"custom","eventKey":"n1","isNumeric":true,"successCriteria":"HigherThanBaseline"}`)
		e.createMetric(t, "default", `{"key":"o1","kind":"custom","eventKey":"o1","randomizationUnits":["organization"]}`)
		e.mgCreate(t, "default", `{"key":"guards","name":"Guards","kind":"guardrail","tags":[],"metrics":[{"key":"n1"},{"key":"s1"}]}`)
		created := e.mgCreate(t, "default", `{"key":"steps","name":"Steps","kind":"funnel","description":"d","tags":["a"],
			"metrics":[{"key":"s1","nameInGroup":"First"},{"key":"s2","nameInGroup":"Second"},{"key":"s3","nameInGroup":"Third"}]}`)
		api := e.mgAPI(t)
		// patch applies ops with the generated client and returns the raw
		// representation.
		patch := func(t *testing.T, ops ...ldapi.PatchOperation) map[string]any {
			t.Helper()
			_, resp, err := api.MetricsBetaApi.PatchMetricGroup(ctx, "default", "steps").PatchOperation(ops).Execute()
			if err != nil {
				t.Fatalf("PatchMetricGroup %+v: %v (status %d)", ops, err, status(resp))
			}
			return obj(t, rawBody(t, resp))
		}
		order := func(t *testing.T, what string, rep map[string]any, want ...string) {
			t.Helper()
			if d := cmp.Diff(want, mgMetricKeys(t, rep)); d != "" {
				t.Errorf("%s: metric order (-want +got):\n%s", what, d)
			}
		}
		// read checks the order on GET and on the list.
		read := func(t *testing.T, want ...string) {
			t.Helper()
			order(t, "GET", e.mgGet(t, "default", "steps", ""), want...)
			for _, it := range e.mgList(t, "default", "filter=query+equals+steps")["items"].([]any) {
				order(t, "list", it.(map[string]any), want...)
			}
		}
		version := func(rep map[string]any) int { return int(rep["_version"].(float64)) }

		t.Run("order on create", func(t *testing.T) {
			order(t, "create", created, "s1:First", "s2:Second", "s3:Third")
			read(t, "s1:First", "s2:Second", "s3:Third")
		})
		t.Run("move reorders steps", func(t *testing.T) {
			got := patch(t, ldapi.PatchOperation{Op: "move", Path: "/metrics/0", AdditionalProperties: map[string]any{"from": "/metrics/2"}})
			order(t, "move", got, "s3:Third", "s1:First", "s2:Second")
			if version(got) != 2 {
				t.Errorf("_version %v, want 2", got["_version"])
			}
			read(t, "s3:Third", "s1:First", "s2:Second")
			got = patch(t, ldapi.PatchOperation{Op: "move", Path: "/metrics/2", AdditionalProperties: map[string]any{"from": "/metrics/0"}})
			order(t, "move back", got, "s1:First", "s2:Second", "s3:Third")
			read(t, "s1:First", "s2:Second", "s3:Third")
		})
		t.Run("replace metrics", func(t *testing.T) {
			got := patch(t, ldapi.PatchOperation{Op: "replace", Path: "/metrics", Value: []map[string]any{
				{"key": "s3", "nameInGroup": "Click"}, {"key": "s2", "nameInGroup": "Two"},
			}})
			order(t, "replace", got, "s3:Click", "s2:Two")
			read(t, "s3:Click", "s2:Two")
			got = patch(t, ldapi.PatchOperation{Op: "add", Path: "/metrics/1", Value: map[string]any{"key": "s1", "nameInGroup": "One"}})
			order(t, "add in the middle", got, "s3:Click", "s1:One", "s2:Two")
			read(t, "s3:Click", "s1:One", "s2:Two")
			want := mgExpect(e, "default", "steps", "Steps", "funnel", "d", []string{"a"}, version(got),
				mgEntry("default", s3, "Click"), mgEntry("default", s1, "One"), mgEntry("default", s2, "Two"))
			mgCompare(t, "after replacing metrics", want, got)
		})
		t.Run("replace name, description and tags", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			since := time.Now()
			got := patch(t,
				ldapi.PatchOperation{Op: "replace", Path: "/name", Value: "Renamed steps"},
				ldapi.PatchOperation{Op: "replace", Path: "/description", Value: "New description"},
				ldapi.PatchOperation{Op: "replace", Path: "/tags", Value: []string{"b", "a", "b"}},
			)
			want := without(prev, mgVolatile...)
			want["name"], want["description"], want["tags"], want["_version"] = "Renamed steps", "New description", []any{"b", "a"}, prev["_version"].(float64)+1
			mgCompare(t, "after renaming", want, got)
			if got["_creationDate"] != prev["_creationDate"] || got["_id"] != prev["_id"] {
				t.Errorf("_id/_creationDate changed: %v/%v -> %v/%v", prev["_id"], prev["_creationDate"], got["_id"], got["_creationDate"])
			}
			mgCheckVolatile(t, got, since)
			if d := cmp.Diff(got, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("GET differs from the PATCH response (-patched +read):\n%s", d)
			}
			// The list searches the new name.
			if got := itemKeys(t, e.mgList(t, "default", "filter=query+equals+RENAMED")); !slices.Equal(got, []string{"steps"}) {
				t.Errorf("query for the new name: %v", got)
			}
		})
		t.Run("comment envelope", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			st, body := e.mgDo(t, http.MethodPatch, mgPath("default", "steps"),
				`{"comment":"why not","patch":[{"op":"replace","path":"/description","value":"Via envelope"}]}`)
			if st != http.StatusOK {
				t.Fatalf("status %d: %s", st, body)
			}
			got := obj(t, body)
			if got["description"] != "Via envelope" || got["_version"] != prev["_version"].(float64)+1 {
				t.Errorf("description %v, _version %v", got["description"], got["_version"])
			}
		})
		t.Run("optimistic concurrency", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			v := prev["_version"].(float64)
			st, body := e.mgPatch(t, "default", "steps", fmt.Sprintf(`[{"op":"test","path":"/_version","value":%d},{"op":"replace","path":"/name","value":"Lost"}]`, int(v)-1))
			wantError(t, "stale _version", st, body, http.StatusConflict, "test")
			st, body = e.mgPatch(t, "default", "steps", `[{"op":"test","path":"/name","value":"Not the name"},{"op":"replace","path":"/name","value":"Lost"}]`)
			wantError(t, "failed test of name", st, body, http.StatusConflict, "test")
			if d := cmp.Diff(prev, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("failed tests changed the group (-before +after):\n%s", d)
			}
			got := patch(t,
				ldapi.PatchOperation{Op: "test", Path: "/_version", Value: int(v)},
				ldapi.PatchOperation{Op: "replace", Path: "/name", Value: "Tested"},
			)
			if got["name"] != "Tested" || got["_version"] != v+1 {
				t.Errorf("name %v, _version %v; want Tested, %v", got["name"], got["_version"], v+1)
			}
		})
		t.Run("no change", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			got := patch(t, ldapi.PatchOperation{Op: "replace", Path: "/name", Value: prev["name"]},
				ldapi.PatchOperation{Op: "add", Path: "/tags/-", Value: prev["tags"].([]any)[0]})
			if d := cmp.Diff(prev, got); d != "" {
				t.Errorf("a patch that changes nothing changed the group (-before +after):\n%s", d)
			}
		})
		t.Run("refused patches", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			for _, c := range []struct{ name, patch, msg string }{
				{"replace _id", `[{"op":"replace","path":"/_id","value":"x"}]`, "_id is read-only"},
				{"replace key", `[{"op":"replace","path":"/key","value":"other"}]`, "key is read-only"},
				{"remove key", `[{"op":"remove","path":"/key"}]`, "key is read-only"},
				{"replace _version", `[{"op":"replace","path":"/_version","value":99}]`, "_version is read-only"},
				{"replace _creationDate", `[{"op":"replace","path":"/_creationDate","value":1}]`, "_creationDate is read-only"},
				{"replace _lastModified", `[{"op":"replace","path":"/_lastModified","value":1}]`, "_lastModified is read-only"},
				{"add _links", `[{"op":"add","path":"/_links","value":{}}]`, "_links is read-only"},
				{"leave one metric", `[{"op":"remove","path":"/metrics/2"},{"op":"remove","path":"/metrics/1"}]`, "metrics must list at least 2 metrics"},
				{"unknown metric", `[{"op":"replace","path":"/metrics/0/key","value":"nope"}]`, `metrics[0]: no metric "nope" in this project`},
				{"duplicate metric", `[{"op":"add","path":"/metrics/-","value":{"key":"s1","nameInGroup":"Again"}}]`, `metrics[3]: metric "s1" is already metrics[1]`},
				{"numeric step", `[{"op":"add","path":"/metrics/-","value":{"key":"n1","nameInGroup":"Revenue"}}]`,
					`metrics[3]: funnel steps must be conversion metrics; "n1" is numeric`},
				{"no shared unit", `[{"op":"add","path":"/metrics/-","value":{"key":"o1","nameInGroup":"Org"}}]`,
					`metrics[3]: metric "o1" shares no randomization unit with the metrics before it`},
				{"step without nameInGroup", `[{"op":"replace","path":"/metrics/1/nameInGroup","value":""}]`,
					"metrics[1].nameInGroup is required for each step of a funnel"},
				{"unknown kind", `[{"op":"replace","path":"/kind","value":"pipeline"}]`, "kind must be one of funnel, standard, guardrail"},
				{"remove name", `[{"op":"remove","path":"/name"}]`, "name is required"},
				{"bad tag", `[{"op":"add","path":"/tags/-","value":"bad tag"}]`, `tags[2] "bad tag" must be 1-64 letters, digits, '.', '_', ':' or '-'`},
				{"unknown maintainer", `[{"op":"replace","path":"/maintainerId","value":"nobody"}]`, `maintainerId "nobody" does not name a member`},
				{"unknown team", `[{"op":"remove","path":"/maintainerId"},{"op":"replace","path":"/maintainerTeamKey","value":"ghost"}]`,
					`maintainerTeamKey "ghost" does not name a team`},
				{"unknown field", `[{"op":"add","path":"/colour","value":"red"}]`, `unknown field "colour"`},
				{"unknown field of a metric", `[{"op":"add","path":"/metrics/0/weight","value":1}]`, `unknown field "weight"`},
				{"wrong type", `[{"op":"replace","path":"/tags","value":"a"}]`, "field tags must be an array, not string"},
			} {
				st, body := e.mgPatch(t, "default", "steps", c.patch)
				if got := wantError(t, c.name, st, body, http.StatusBadRequest); got.Message != c.msg {
					t.Errorf("%s: message %q, want %q", c.name, got.Message, c.msg)
				}
			}
			for _, c := range []struct{ name, patch string }{
				{"not JSON Patch", `{"op":"replace"}`},
				{"empty body", ``},
				{"unknown op", `[{"op":"rename","path":"/name","value":"x"}]`},
				{"path not a pointer", `[{"op":"replace","path":"name","value":"x"}]`},
				{"missing path", `[{"op":"remove","path":"/description/x"}]`},
			} {
				st, body := e.mgPatch(t, "default", "steps", c.patch)
				wantError(t, c.name, st, body, http.StatusBadRequest)
			}
			if d := cmp.Diff(prev, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("refused patches changed the group (-before +after):\n%s", d)
			}
			st, body := e.mgPatch(t, "default", "nope", `[{"op":"replace","path":"/name","value":"x"}]`)
			wantError(t, "unknown group", st, body, http.StatusNotFound, `unknown metric group "nope"`)
		})
		t.Run("kind", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			st, body := e.mgPatch(t, "default", "steps", `[{"op":"replace","path":"/kind","value":"guardrail"}]`)
			if got := wantError(t, "second guardrail group", st, body, http.StatusConflict); got.Message != `project "default" already has a guardrail metric group` {
				t.Errorf("message %q", got.Message)
			}
			if d := cmp.Diff(prev, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("the refused patch changed the group (-before +after):\n%s", d)
			}
			got := patch(t, ldapi.PatchOperation{Op: "replace", Path: "/kind", Value: "standard"},
				ldapi.PatchOperation{Op: "add", Path: "/metrics/-", Value: map[string]any{"key": "n1", "nameInGroup": ""}})
			if got["kind"] != "standard" || got["_version"] != prev["_version"].(float64)+1 {
				t.Errorf("kind %v, _version %v", got["kind"], got["_version"])
			}
			st, body = e.mgPatch(t, "default", "steps", `[{"op":"replace","path":"/kind","value":"funnel"}]`)
			if got := wantError(t, "back to funnel with a numeric metric", st, body, http.StatusBadRequest); got.Message != "metrics[3].nameInGroup is required for each step of a funnel" {
				t.Errorf("message %q", got.Message)
			}
			got = patch(t, ldapi.PatchOperation{Op: "remove", Path: "/metrics/3"}, ldapi.PatchOperation{Op: "replace", Path: "/kind", Value: "funnel"})
			if got["kind"] != "funnel" {
				t.Errorf("kind %v", got["kind"])
			}
		})
		t.Run("maintainer team", func(t *testing.T) {
			db := openSeedDB(t, b)
			db.exec(t, `INSERT INTO teams (key, name, description, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				"team-growth", "Growth", "", 1, int64(1700000000000), int64(1700000000000))
			prev := e.mgGet(t, "default", "steps", "")
			got := patch(t, ldapi.PatchOperation{Op: "remove", Path: "/maintainerId"},
				ldapi.PatchOperation{Op: "replace", Path: "/maintainerTeamKey", Value: "team-growth"})
			diffJSON(t, "team maintainer", teamMaintainerJSON("team-growth", "Growth"), got["maintainer"])
			if got["_version"] != prev["_version"].(float64)+1 {
				t.Errorf("_version %v", got["_version"])
			}
			if d := cmp.Diff(got, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("GET differs (-patched +read):\n%s", d)
			}
			st, body := e.mgPatch(t, "default", "steps", fmt.Sprintf(`[{"op":"add","path":"/maintainerId","value":%q}]`, e.ownerID))
			if got := wantError(t, "both maintainers", st, body, http.StatusBadRequest); got.Message != "name either maintainerId or maintainerTeamKey, not both" {
				t.Errorf("message %q", got.Message)
			}
			st, body = e.mgPatch(t, "default", "steps", `[{"op":"remove","path":"/maintainerTeamKey"}]`)
			if got := wantError(t, "no maintainer", st, body, http.StatusBadRequest); got.Message != "maintainerId is required" {
				t.Errorf("message %q", got.Message)
			}
			got = patch(t, ldapi.PatchOperation{Op: "remove", Path: "/maintainerTeamKey"},
				ldapi.PatchOperation{Op: "add", Path: "/maintainerId", Value: e.ownerID})
			if d := cmp.Diff(roundTrip(t, mgOwnerMaintainer(e)), got["maintainer"]); d != "" {
				t.Errorf("member maintainer (-want +got):\n%s", d)
			}
		})
	})
}
