package e2e

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/metricsd/metricsd/internal/testdb"
)

// TestConditionalMetricRequests covers the ETag extension on metrics: GET
// answers 304 to its own tag, the tag follows every change of the body (a
// new version, a group that starts using the metric), and PATCH and DELETE
// with a stale If-Match answer 412 and change nothing.
func TestConditionalMetricRequests(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"cond","name":"Cond","kind":"custom","eventKey":"c"}`)
		e.createMetric(t, "default", `{"key":"other","name":"Other","kind":"custom","eventKey":"o"}`)
		path := metricPath("default", "cond")

		// LaunchDarkly's client ignores the header; the body is the usual one.
		got, resp, err := e.api(t).MetricsApi.GetMetric(context.Background(), "default", "cond").Execute()
		if err != nil {
			t.Fatalf("GetMetric: %v", err)
		}
		tag1 := resp.Header.Get("ETag")
		if tag1 == "" || tag1[0] != '"' || got.Key != "cond" {
			t.Fatalf("ETag %q, key %q", tag1, got.Key)
		}
		st, body, h := e.do(t, http.MethodGet, path, "")
		if st != http.StatusOK || h.Get("ETag") != tag1 {
			t.Fatalf("second GET: %d, ETag %q, want %q: %s", st, h.Get("ETag"), tag1, body)
		}
		for _, inm := range []string{tag1, `"nope", ` + tag1, "W/" + tag1, "*"} {
			st, body, h = e.doUndoc(t, http.MethodGet, path, "", "If-None-Match: "+inm)
			if st != http.StatusNotModified || len(body) != 0 || h.Get("ETag") != tag1 {
				t.Errorf("If-None-Match %s: %d %q, ETag %q; want 304, no body", inm, st, body, h.Get("ETag"))
			}
		}
		st, _, _ = e.do(t, http.MethodGet, path, "", `If-None-Match: "nope"`)
		if st != http.StatusOK {
			t.Errorf("If-None-Match of another tag: %d, want 200", st)
		}
		st, _, h = e.do(t, http.MethodGet, path+"?expand=experiments", "", "If-None-Match: "+tag1)
		if st != http.StatusOK || h.Get("ETag") == tag1 {
			t.Errorf("another expansion: %d, ETag %q: a different body needs a different tag", st, h.Get("ETag"))
		}

		// A stale If-Match changes nothing.
		st, body, _ = e.do(t, http.MethodPatch, path, `[{"op":"replace","path":"/name","value":"Cond 2"}]`, "If-Match: "+tag1)
		if st != http.StatusOK {
			t.Fatalf("patch with the current tag: %d %s", st, body)
		}
		v2 := obj(t, body)
		if v2["_version"] != 2.0 {
			t.Fatalf("patch: version %v", v2["_version"])
		}
		for _, method := range []string{http.MethodPatch, http.MethodDelete} {
			payload := ""
			if method == http.MethodPatch {
				payload = `[{"op":"replace","path":"/name","value":"Lost update"}]`
			}
			for _, im := range []string{tag1, `"garbage"`, "W/" + tag1} {
				st, body, _ = e.doUndoc(t, method, path, payload, "If-Match: "+im)
				wantError(t, method+" If-Match "+im, st, body, http.StatusPreconditionFailed, "has changed")
			}
		}
		st, body, h = e.do(t, http.MethodGet, path, "")
		if st != http.StatusOK {
			t.Fatalf("GET after refused writes: %d %s", st, body)
		}
		after := obj(t, body)
		if after["name"] != "Cond 2" || after["_version"] != 2.0 || after["_versionId"] != v2["_versionId"] {
			t.Errorf("refused writes changed the metric: name %v, version %v", after["name"], after["_version"])
		}
		tag2 := h.Get("ETag")
		if tag2 == tag1 || tag2 == "" {
			t.Errorf("ETag after a new version %q, before %q", tag2, tag1)
		}
		st, body, _ = e.doUndoc(t, http.MethodGet, "/api/v2/auditlog", "")
		if st != http.StatusOK {
			t.Fatalf("audit log: %d %s", st, body)
		}
		if n := len(obj(t, body)["items"].([]any)); n != 3 {
			t.Errorf("audit entries %d, want 3 (two creates, one patch): refused writes must record nothing", n)
		}

		_, _, h = e.do(t, http.MethodGet, path+"?expand=metricGroupCount", "")
		counted := h.Get("ETag")
		// A group that starts using the metric changes its body (usage
		// counters) but not its version: GET's tag changes, If-Match still
		// holds.
		st, body, _ = e.do(t, http.MethodPost, mgCollectionPath("default"),
			`{"key":"g","name":"G","kind":"standard","metrics":[{"key":"cond"},{"key":"other"}]}`, betaHeader)
		if st != http.StatusCreated {
			t.Fatalf("create group: %d %s", st, body)
		}
		st, _, h = e.do(t, http.MethodGet, path+"?expand=metricGroupCount", "", "If-None-Match: "+counted)
		if st != http.StatusOK || h.Get("ETag") == counted {
			t.Errorf("after the metric joined a group: %d, ETag %q (was %q)", st, h.Get("ETag"), counted)
		}
		st, body, _ = e.do(t, http.MethodPatch, path, `[{"op":"replace","path":"/description","value":"d"}]`, "If-Match: "+tag2)
		if st != http.StatusOK {
			t.Errorf("If-Match of the same version after a usage change: %d %s", st, body)
		}

		st, body, _ = e.doUndoc(t, http.MethodDelete, metricPath("default", "other"), "", "If-Match: *")
		wantError(t, "delete a metric a group uses, If-Match *", st, body, http.StatusConflict, "used by")
		st, body, _ = e.doUndoc(t, http.MethodPatch, metricPath("default", "missing"), `[{"op":"replace","path":"/name","value":"x"}]`, "If-Match: *")
		wantError(t, "If-Match * on a missing metric", st, body, http.StatusNotFound)
	})
}

// TestConditionalGroupRequests covers the same extension on metric groups.
func TestConditionalGroupRequests(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"a","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","kind":"custom","eventKey":"b"}`)
		st, body, h := e.do(t, http.MethodPost, mgCollectionPath("default"),
			`{"key":"g","name":"G","kind":"standard","metrics":[{"key":"a"},{"key":"b"}]}`, betaHeader)
		if st != http.StatusCreated || h.Get("ETag") == "" {
			t.Fatalf("create group: %d, ETag %q: %s", st, h.Get("ETag"), body)
		}
		path := mgPath("default", "g")
		st, _, h = e.do(t, http.MethodGet, path, "", betaHeader)
		tag1 := h.Get("ETag")
		if st != http.StatusOK || tag1 == "" {
			t.Fatalf("GET group: %d, ETag %q", st, tag1)
		}
		st, body, _ = e.doUndoc(t, http.MethodGet, path, "", betaHeader, "If-None-Match: "+tag1)
		if st != http.StatusNotModified || len(body) != 0 {
			t.Errorf("If-None-Match: %d %q", st, body)
		}
		st, body, _ = e.do(t, http.MethodPatch, path, `[{"op":"replace","path":"/name","value":"G2"}]`, betaHeader, "If-Match: "+tag1)
		if st != http.StatusOK {
			t.Fatalf("patch with the current tag: %d %s", st, body)
		}
		st, body, _ = e.doUndoc(t, http.MethodPatch, path, `[{"op":"replace","path":"/name","value":"Lost"}]`, betaHeader, "If-Match: "+tag1)
		wantError(t, "patch with a stale tag", st, body, http.StatusPreconditionFailed)
		st, body, _ = e.doUndoc(t, http.MethodDelete, path, "", betaHeader, "If-Match: "+tag1)
		wantError(t, "delete with a stale tag", st, body, http.StatusPreconditionFailed)
		st, body, h = e.do(t, http.MethodGet, path, "", betaHeader)
		if st != http.StatusOK || obj(t, body)["name"] != "G2" || h.Get("ETag") == tag1 {
			t.Fatalf("after refused writes: %d %s, ETag %q", st, body, h.Get("ETag"))
		}
		st, body, _ = e.do(t, http.MethodDelete, path, "", betaHeader, "If-Match: "+h.Get("ETag"))
		if st != http.StatusNoContent {
			t.Errorf("delete with the current tag: %d %s", st, body)
		}
	})
}

// TestConditionalTeamRequests covers the same extension on teams.
func TestConditionalTeamRequests(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		st, body, h := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"core","name":"Core"}`)
		if st != http.StatusCreated || h.Get("ETag") == "" {
			t.Fatalf("create team: %d, ETag %q: %s", st, h.Get("ETag"), body)
		}
		st, _, h = e.do(t, http.MethodGet, "/api/v2/teams/core", "")
		tag1 := h.Get("ETag")
		if st != http.StatusOK || tag1 == "" {
			t.Fatalf("GET team: %d, ETag %q", st, tag1)
		}
		st, body, _ = e.doUndoc(t, http.MethodGet, "/api/v2/teams/core", "", "If-None-Match: "+tag1)
		if st != http.StatusNotModified || len(body) != 0 {
			t.Errorf("If-None-Match: %d %q", st, body)
		}
		rename := func(name string) string { return `{"instructions":[{"kind":"updateName","value":"` + name + `"}]}` }
		st, body, _ = e.do(t, http.MethodPatch, "/api/v2/teams/core", rename("Core 2"), "If-Match: "+tag1)
		if st != http.StatusOK {
			t.Fatalf("patch with the current tag: %d %s", st, body)
		}
		st, body, _ = e.doUndoc(t, http.MethodPatch, "/api/v2/teams/core", rename("Lost"), "If-Match: "+tag1)
		wantError(t, "patch with a stale tag", st, body, http.StatusPreconditionFailed)
		st, body, _ = e.doUndoc(t, http.MethodDelete, "/api/v2/teams/core", "", "If-Match: "+tag1)
		wantError(t, "delete with a stale tag", st, body, http.StatusPreconditionFailed)
		st, body, h = e.do(t, http.MethodGet, "/api/v2/teams/core", "")
		if st != http.StatusOK || obj(t, body)["name"] != "Core 2" || obj(t, body)["_version"] != 2.0 {
			t.Fatalf("after refused writes: %d %s", st, body)
		}
		st, body, _ = e.do(t, http.MethodDelete, "/api/v2/teams/core", "", "If-Match: "+h.Get("ETag"))
		if st != http.StatusNoContent {
			t.Errorf("delete with the current tag: %d %s", st, body)
		}
	})
}

// TestConditionalViewAndExperimentRequests covers the ETag extension on
// views and experiments: GET answers 304 to its own tag, a write moves the
// tag, and PATCH (and, for views, DELETE) with a stale If-Match answer 412
// and change nothing.
func TestConditionalViewAndExperimentRequests(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"a","name":"A","kind":"custom","eventKey":"a"}`)
		if st, body, _ := e.do(t, http.MethodPost, viewsPath("default"), `{"key":"v","name":"V"}`, betaHeader); st != http.StatusOK {
			t.Fatalf("create view: %d %s", st, body)
		}
		e.createExperiment(t, "x", "X", simpleIteration("f", "a"))
		semantic := "Content-Type: application/json; domain-model=launchdarkly.semanticpatch"
		for _, c := range []struct {
			what, path, patch string
			headers           []string
			del               bool
		}{
			{"view", viewPath("default", "v"), `{"name":"V2"}`, []string{betaHeader}, true},
			{"experiment", expPath + "/x", `{"instructions":[{"kind":"updateName","value":"X2"}]}`, []string{semantic}, false},
		} {
			st, before, h := e.do(t, http.MethodGet, c.path, "", c.headers...)
			tag := h.Get("ETag")
			if st != http.StatusOK || tag == "" || tag[0] != '"' {
				t.Fatalf("%s GET: %d, ETag %q", c.what, st, tag)
			}
			st, body, h := e.doUndoc(t, http.MethodGet, c.path, "", append([]string{"If-None-Match: " + tag}, c.headers...)...)
			if st != http.StatusNotModified || len(body) != 0 || h.Get("ETag") != tag {
				t.Errorf("%s If-None-Match of its tag: %d %q, want 304 and no body", c.what, st, body)
			}
			st, body, h = e.do(t, http.MethodPatch, c.path, c.patch, append([]string{"If-Match: " + tag}, c.headers...)...)
			if st != http.StatusOK || h.Get("ETag") == "" || h.Get("ETag") == tag {
				t.Fatalf("%s PATCH with the current tag: %d, ETag %q (was %q): %s", c.what, st, h.Get("ETag"), tag, body)
			}
			_, current, h2 := e.do(t, http.MethodGet, c.path, "", c.headers...)
			if h2.Get("ETag") != h.Get("ETag") || bytes.Equal(current, before) {
				t.Errorf("%s: GET after the patch shows ETag %q, the patch answered %q", c.what, h2.Get("ETag"), h.Get("ETag"))
			}
			writes := []struct{ method, body string }{{http.MethodPatch, c.patch}}
			if c.del {
				writes = append(writes, struct{ method, body string }{http.MethodDelete, ""})
			}
			for _, wr := range writes {
				st, body, _ = e.doUndoc(t, wr.method, c.path, wr.body, append([]string{"If-Match: " + tag}, c.headers...)...)
				if st != http.StatusPreconditionFailed || obj(t, body)["code"] != "precondition_failed" {
					t.Errorf("%s %s with a stale If-Match: %d %s, want 412", c.what, wr.method, st, body)
				}
				_, after, h3 := e.do(t, http.MethodGet, c.path, "", c.headers...)
				if !bytes.Equal(after, current) || h3.Get("ETag") != h2.Get("ETag") {
					t.Errorf("%s: a refused %s changed the resource", c.what, wr.method)
				}
			}
			if c.del {
				st, body, _ = e.do(t, http.MethodDelete, c.path, "", append([]string{"If-Match: " + h2.Get("ETag")}, c.headers...)...)
				if st != http.StatusNoContent {
					t.Errorf("%s DELETE with the current tag: %d %s", c.what, st, body)
				}
			}
		}
	})
}
