package e2e

import (
	"net/http"
	"testing"

	"github.com/metricsd/metricsd/internal/testdb"
)

func TestMetricVersionHistory(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		v1 := e.createMetric(t, "default", `{"key":"hist","name":"History","kind":"custom","eventKey":"h","tags":["a"]}`)
		st, body, _ := e.do(t, http.MethodPatch, metricPath("default", "hist"),
			`{"comment":"rename","patch":[{"op":"replace","path":"/name","value":"History 2"}]}`)
		if st != http.StatusOK {
			t.Fatalf("patch: %d %s", st, body)
		}
		v2 := obj(t, body)
		st, body, _ = e.do(t, http.MethodPatch, metricPath("default", "hist"), `[{"op":"add","path":"/tags/-","value":"b"},{"op":"add","path":"/description","value":"d"}]`)
		if st != http.StatusOK {
			t.Fatalf("patch: %d %s", st, body)
		}
		v3 := obj(t, body)

		st, body, _ = e.doUndoc(t, http.MethodGet, metricPath("default", "hist")+"/versions", "")
		if st != http.StatusOK {
			t.Fatalf("versions: %d %s", st, body)
		}
		list := obj(t, body)
		if list["totalCount"] != 3.0 {
			t.Errorf("totalCount %v, want 3", list["totalCount"])
		}
		items := list["items"].([]any)
		var got []any
		for _, it := range items {
			m := it.(map[string]any)
			got = append(got, []any{m["_version"], m["_versionId"], m["comment"], m["memberId"], m["memberEmail"]})
			if m["_member"].(map[string]any)["_id"] != e.ownerID {
				t.Errorf("version %v: _member %v", m["_version"], m["_member"])
			}
		}
		diffJSON(t, "versions, newest first", mustJSON(t, []any{
			[]any{3, v3["_versionId"], "", e.ownerID, "owner@metricsd.local"},
			[]any{2, v2["_versionId"], "rename", e.ownerID, "owner@metricsd.local"},
			[]any{1, v1["_versionId"], "", e.ownerID, "owner@metricsd.local"},
		}), got)

		st, body, _ = e.doUndoc(t, http.MethodGet, metricPath("default", "hist")+"/versions?limit=1&offset=1", "")
		if st != http.StatusOK || len(obj(t, body)["items"].([]any)) != 1 || obj(t, body)["items"].([]any)[0].(map[string]any)["_version"] != 2.0 {
			t.Errorf("second page of one: %d %s", st, body)
		}

		st, body, _ = e.doUndoc(t, http.MethodGet, metricPath("default", "hist")+"/diff?from="+v1["_versionId"].(string), "")
		if st != http.StatusOK {
			t.Fatalf("diff: %d %s", st, body)
		}
		d := obj(t, body)
		diffJSON(t, "patch from v1 to the current version",
			`[{"op":"add","path":"/description","value":"d"},{"op":"replace","path":"/name","value":"History 2"},{"op":"replace","path":"/tags","value":["a","b"]}]`, d["patch"])
		if d["from"].(map[string]any)["_version"] != 1.0 || d["to"].(map[string]any)["_version"] != 3.0 {
			t.Errorf("from/to: %v %v", d["from"], d["to"])
		}
		st, body, _ = e.doUndoc(t, http.MethodGet, metricPath("default", "hist")+"/diff?from="+v2["_versionId"].(string)+"&to="+v1["_versionId"].(string), "")
		if st != http.StatusOK {
			t.Fatalf("diff back: %d %s", st, body)
		}
		diffJSON(t, "patch from v2 back to v1", `[{"op":"replace","path":"/name","value":"History"}]`, obj(t, body)["patch"])

		for _, c := range []struct {
			query, msg string
			status     int
		}{
			{"", "from is required", 400},
			{"?from=nope", `unknown version "nope"`, 404},
		} {
			st, body, _ := e.doUndoc(t, http.MethodGet, metricPath("default", "hist")+"/diff"+c.query, "")
			wantError(t, "diff"+c.query, st, body, c.status, c.msg)
		}
		st, body, _ = e.doUndoc(t, http.MethodGet, metricPath("default", "nope")+"/versions", "")
		wantError(t, "versions of an unknown metric", st, body, 404, `unknown metric "nope"`)
	})
}
