package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// TestMetricGroupMetricRules checks what a metric's membership in groups
// does to the metric endpoints.
func TestMetricGroupMetricRules(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		a := e.createMetric(t, "default", `{"key":"a","name":"Metric A","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","name":"Metric B","kind":"custom","eventKey":"b"}`)
		e.createMetric(t, "default", `{"key":"c","name":"Metric C","kind":"custom","eventKey":"c"}`)
		e.createMetric(t, "default", `{"key":"d","name":"Metric D","kind":"custom","eventKey":"d"}`)
		e.mgCreate(t, "default", `{"key":"f-funnel","name":"F funnel","kind":"funnel","tags":[],"metrics":[{"key":"a","nameInGroup":"Step A"},{"key":"b","nameInGroup":"Step B"}]}`)
		// Groups are checked and listed in creation order; keep the two
		// creation times apart.
		time.Sleep(5 * time.Millisecond)
		e.mgCreate(t, "default", `{"key":"s-standard","name":"S standard","kind":"standard","tags":[],"metrics":[{"key":"a"},{"key":"c"}]}`)
		groupRef := func(key, name, kind string) string {
			return fmt.Sprintf(`{"key": %q, "name": %q, "kind": %q, "_links": {
				"parent": {"href": "/api/v2/projects/default", "type": "application/json"},
				"self": {"href": "/api/v2/projects/default/metric-groups/%s", "type": "application/json"}}}`, key, name, kind, key)
		}
		patchMetric := func(t *testing.T, key, patch string) (int, []byte) {
			t.Helper()
			st, body, _ := e.doUndoc(t, http.MethodPatch, metricPath("default", key), patch)
			return st, body
		}

		t.Run("renamed metric", func(t *testing.T) {
			renamed, resp, err := e.api(t).MetricsApi.PatchMetric(ctx, "default", "a").PatchOperation([]ldapi.PatchOperation{
				{Op: "replace", Path: "/name", Value: "Renamed A"},
			}).Execute()
			if err != nil {
				t.Fatalf("PatchMetric: %v (status %d)", err, status(resp))
			}
			if renamed.VersionId == a["_versionId"] {
				t.Fatalf("renaming kept _versionId %v", a["_versionId"])
			}
			for _, g := range []map[string]any{e.mgGet(t, "default", "f-funnel", ""), e.mgGet(t, "default", "s-standard", "")} {
				m := g["metrics"].([]any)[0].(map[string]any)
				if m["name"] != "Renamed A" || m["_versionId"] != renamed.VersionId {
					t.Errorf("group %v: metrics[0] name %v, _versionId %v; want Renamed A, %s", g["key"], m["name"], m["_versionId"], renamed.VersionId)
				}
			}
			if m := e.mgGet(t, "default", "f-funnel", "")["metrics"].([]any)[0].(map[string]any); m["nameInGroup"] != "Step A" {
				t.Errorf("nameInGroup %v, want Step A", m["nameInGroup"])
			}
			for _, it := range e.mgList(t, "default", "")["items"].([]any) {
				if m := it.(map[string]any)["metrics"].([]any)[0].(map[string]any); m["name"] != "Renamed A" {
					t.Errorf("list: group %v metrics[0] name %v", it.(map[string]any)["key"], m["name"])
				}
			}
		})
		t.Run("metric expansions and counts", func(t *testing.T) {
			got := e.getMetric(t, "default", "b", "expand=metricGroups,metricGroupCount")
			diffJSON(t, "b metricGroups", `[`+groupRef("f-funnel", "F funnel", "funnel")+`]`, got["metricGroups"])
			if got["metricGroupCount"] != 1.0 {
				t.Errorf("b metricGroupCount %v, want 1", got["metricGroupCount"])
			}
			got = e.getMetric(t, "default", "a", "expand=metricGroups,metricGroupCount")
			diffJSON(t, "a metricGroups", `[`+groupRef("f-funnel", "F funnel", "funnel")+`, `+groupRef("s-standard", "S standard", "standard")+`]`, got["metricGroups"])
			if got["metricGroupCount"] != 2.0 {
				t.Errorf("a metricGroupCount %v, want 2", got["metricGroupCount"])
			}
			got = e.getMetric(t, "default", "d", "expand=metricGroups,metricGroupCount")
			diffJSON(t, "d metricGroups", `[]`, got["metricGroups"])
			if got["metricGroupCount"] != 0.0 {
				t.Errorf("d metricGroupCount %v, want 0", got["metricGroupCount"])
			}
			got = e.getMetric(t, "default", "b", "")
			for _, f := range []string{"metricGroups", "metricGroupCount"} {
				if _, ok := got[f]; ok {
					t.Errorf("%s present without expand", f)
				}
			}
			counts := map[string]float64{}
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/metrics/default", "")
			if st != http.StatusOK {
				t.Fatalf("list metrics: status %d: %s", st, body)
			}
			for _, it := range obj(t, body)["items"].([]any) {
				m := it.(map[string]any)
				counts[m["key"].(string)] = m["metricGroupCount"].(float64)
			}
			if d := cmp.Diff(map[string]float64{"a": 2, "b": 1, "c": 1, "d": 0}, counts); d != "" {
				t.Errorf("list metricGroupCount (-want +got):\n%s", d)
			}
		})
		t.Run("delete a metric in a group", func(t *testing.T) {
			for key, msg := range map[string]string{
				"b": `metric "b" is used by metric group f-funnel; remove it from them first`,
				"a": `metric "a" is used by metric group f-funnel, metric group s-standard; remove it from them first`,
			} {
				resp, err := e.api(t).MetricsApi.DeleteMetric(allowUndocumented(ctx), "default", key).Execute()
				if got := clientError(t, "delete "+key, resp, err, http.StatusConflict); got.Message != msg {
					t.Errorf("delete %s: message %q, want %q", key, got.Message, msg)
				}
				e.getMetric(t, "default", key, "")
			}
		})
		t.Run("archive a metric in a group", func(t *testing.T) {
			for key, msg := range map[string]string{
				"b": `metric "b" is in metric groups f-funnel; remove it from them before archiving it`,
				"a": `metric "a" is in metric groups f-funnel, s-standard; remove it from them before archiving it`,
			} {
				before := e.getMetric(t, "default", key, "")
				st, body := patchMetric(t, key, `[{"op":"replace","path":"/archived","value":true}]`)
				if got := wantError(t, "archive "+key, st, body, http.StatusConflict); got.Message != msg {
					t.Errorf("archive %s: message %q, want %q", key, got.Message, msg)
				}
				if d := cmp.Diff(before, e.getMetric(t, "default", key, "")); d != "" {
					t.Errorf("the refused archive changed %s (-before +after):\n%s", key, d)
				}
			}
		})
		t.Run("metric changes that break a group", func(t *testing.T) {
			for _, c := range []struct{ name, key, patch, msg string }{
				{"numeric funnel step", "b", `[{"op":"replace","path":"/isNumeric","value":true},{"op":"replace","path":"/successCriteria","value":"HigherThanBaseline"}]`,
					`the change would break metric group "f-funnel": metrics[1]: funnel steps must be conversion metrics; "b" is numeric`},
				{"percentile funnel step", "b", `[{"op":"replace","path":"/isNumeric","value":true},{"op":"replace","path":"/successCriteria","value":"LowerThanBaseline"},` +
					`{"op":"replace","path":"/analysisType","value":"percentile"},{"op":"replace","path":"/percentileValue","value":90}]`,
					`the change would break metric group "f-funnel": metrics[1]: funnel steps must be conversion metrics; "b" is numeric`},
				{"no shared unit", "a", `[{"op":"replace","path":"/randomizationUnits","value":["organization"]}]`,
					`the change would break metric group "f-funnel": metrics[1]: metric "b" shares no randomization unit with the metrics before it`},
				{"no shared unit in the standard group", "c", `[{"op":"replace","path":"/randomizationUnits","value":["device"]}]`,
					`the change would break metric group "s-standard": metrics[1]: metric "c" shares no randomization unit with the metrics before it`},
			} {
				before := e.getMetric(t, "default", c.key, "")
				st, body := patchMetric(t, c.key, c.patch)
				if got := wantError(t, c.name, st, body, http.StatusBadRequest); got.Message != c.msg {
					t.Errorf("%s: message %q, want %q", c.name, got.Message, c.msg)
				}
				if d := cmp.Diff(before, e.getMetric(t, "default", c.key, "")); d != "" {
					t.Errorf("%s: the refused patch changed the metric (-before +after):\n%s", c.name, d)
				}
			}
			// A numeric metric is fine in a standard group; a shared unit
			// may be added.
			for key, patch := range map[string]string{
				"c": `[{"op":"replace","path":"/isNumeric","value":true},{"op":"replace","path":"/successCriteria","value":"HigherThanBaseline"}]`,
				"a": `[{"op":"replace","path":"/randomizationUnits","value":["user","organization"]}]`,
			} {
				if st, body := patchMetric(t, key, patch); st != http.StatusOK {
					t.Errorf("patch %s %s: status %d: %s", key, patch, st, body)
				}
			}
			g := e.mgGet(t, "default", "s-standard", "")
			if m := g["metrics"].([]any)[1].(map[string]any); m["isNumeric"] != true {
				t.Errorf("s-standard metrics[1].isNumeric %v, want true", m["isNumeric"])
			}
		})
		t.Run("allowed once the group is deleted", func(t *testing.T) {
			if st, body := e.mgDo(t, http.MethodDelete, mgPath("default", "f-funnel"), ""); st != http.StatusNoContent {
				t.Fatalf("delete f-funnel: status %d: %s", st, body)
			}
			for _, p := range []string{
				`[{"op":"replace","path":"/isNumeric","value":true},{"op":"replace","path":"/successCriteria","value":"HigherThanBaseline"}]`,
				`[{"op":"replace","path":"/archived","value":true}]`,
			} {
				if st, body := patchMetric(t, "b", p); st != http.StatusOK {
					t.Errorf("patch b %s: status %d: %s", p, st, body)
				}
			}
			if resp, err := e.api(t).MetricsApi.DeleteMetric(ctx, "default", "b").Execute(); err != nil {
				t.Errorf("delete b: %v (status %d)", err, status(resp))
			}
			// a is still in s-standard.
			st, body := patchMetric(t, "a", `[{"op":"replace","path":"/archived","value":true}]`)
			if got := wantError(t, "archive a", st, body, http.StatusConflict); got.Message != `metric "a" is in metric groups s-standard; remove it from them before archiving it` {
				t.Errorf("message %q", got.Message)
			}
			if got := e.getMetric(t, "default", "a", "expand=metricGroupCount"); got["metricGroupCount"] != 1.0 {
				t.Errorf("a metricGroupCount %v, want 1", got["metricGroupCount"])
			}
			if st, body := e.mgDo(t, http.MethodDelete, mgPath("default", "s-standard"), ""); st != http.StatusNoContent {
				t.Fatalf("delete s-standard: status %d: %s", st, body)
			}
			if st, body := patchMetric(t, "a", `[{"op":"replace","path":"/archived","value":true}]`); st != http.StatusOK {
				t.Errorf("archive a: status %d: %s", st, body)
			}
			for _, key := range []string{"a", "c"} {
				if resp, err := e.api(t).MetricsApi.DeleteMetric(ctx, "default", key).Execute(); err != nil {
					t.Errorf("delete %s: %v (status %d)", key, err, status(resp))
				}
			}
			// An archived metric cannot join a group.
			e.createMetric(t, "default", `{"key":"e","kind":"custom","eventKey":"e","archived":true}`)
			st, body = e.mgDo(t, http.MethodPost, mgCollectionPath("default"), `{"key":"g","name":"G","kind":"standard","tags":[],"metrics":[{"key":"d"},{"key":"e"}]}`)
			wantError(t, "archived metric", st, body, http.StatusBadRequest, `metrics[1]: metric "e" is archived`)
		})
	})
}
