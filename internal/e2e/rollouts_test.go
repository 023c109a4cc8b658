package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// checkSchema validates a decoded JSON value against a schema of the
// OpenAPI document.
func checkSchema(t *testing.T, what, schema string, v any) {
	t.Helper()
	doc, _ := loadSpec(t)
	ref := doc.Components.Schemas[schema]
	if ref == nil || ref.Value == nil {
		t.Fatalf("schema %s is not in the document", schema)
	}
	if err := ref.Value.VisitJSON(roundTrip(t, v)); err != nil {
		t.Errorf("%s does not match %s: %v", what, schema, err)
	}
}

// TestGuardedRollouts covers the measured-rollouts extension: create with
// metrics and the guardrail group, list, get, status changes, one unfinished
// rollout per flag, and what metrics and groups show of them.
func TestGuardedRollouts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		e.createMetric(t, "default", `{"key":"latency","kind":"custom","eventKey":"latency"}`)
		e.createMetric(t, "default", `{"key":"errors","kind":"custom","eventKey":"errors"}`)
		e.createMetric(t, "default", `{"key":"idle","kind":"custom","eventKey":"idle"}`)
		e.createMetric(t, "default", `{"key":"crashes","kind":"custom","eventKey":"crashes"}`)
		e.mgCreate(t, "default", `{"key":"health","name":"Health","kind":"guardrail","metrics":[{"key":"errors"},{"key":"crashes"}]}`)

		// Refusals name the problem.
		for _, c := range []struct{ body, msg string }{
			{`{}`, "at least one metric"},
			{`{"metricKeys":["nope"]}`, `unknown metric "nope"`},
			{`{"metricGroupKeys":["nope"]}`, `unknown metric group "nope"`},
			{`{"metricKeys":["latency"],"extra":1}`, "extra"},
		} {
			st, body, _ := e.doUndoc(t, http.MethodPost, rolloutsPath("new-search"), c.body)
			wantError(t, "create "+c.body, st, body, http.StatusBadRequest, c.msg)
		}
		st, body, _ := e.doUndoc(t, http.MethodPost, "/api/v2/projects/default/flags/f/environments/nope/measured-rollouts", `{"metricKeys":["latency"]}`)
		wantError(t, "unknown environment", st, body, http.StatusNotFound, `unknown environment "nope"`)

		st, body, _ = e.doUndoc(t, http.MethodPost, rolloutsPath("new-search"),
			`{"flagName":"New search","flagPurpose":"release","metricKeys":["latency"],"useGuardrailGroup":true}`)
		if st != http.StatusCreated {
			t.Fatalf("create rollout: %d %s", st, body)
		}
		created := obj(t, body)
		checkSchema(t, "created rollout", "DependentMeasuredRolloutRep", created)
		id := created["_id"].(string)
		diffJSON(t, "created rollout metrics", `[
			{"key":"latency","name":"latency","kind":"custom","isGroup":false,"_links":{"self":{"href":"/api/v2/metrics/default/latency","type":"application/json"}}},
			{"key":"health","name":"Health","kind":"guardrail","isGroup":true,"_links":{"self":{"href":"/api/v2/projects/default/metric-groups/health","type":"application/json"}}}]`,
			created["metrics"])
		if created["status"] != "monitoring" || created["flagName"] != "New search" || created["environmentName"] != "Production" {
			t.Errorf("created rollout = %v", created)
		}

		// One unfinished rollout per flag and environment.
		st, body, _ = e.doUndoc(t, http.MethodPost, rolloutsPath("new-search"), `{"metricKeys":["idle"]}`)
		wantError(t, "second rollout", st, body, http.StatusConflict, "not finished")

		// Metrics show it, directly and through the guardrail group.
		api := e.client
		for _, key := range []string{"latency", "errors"} {
			m, resp, err := api.MetricsApi.GetMetric(ctx, "default", key).Expand("guardedRollouts,guardedRolloutCount,lastUsedInGuardedRollout").Execute()
			if err != nil {
				t.Fatalf("GetMetric %s: %v (status %d)", key, err, status(resp))
			}
			if m.GetActiveGuardedRolloutCount() != 1 || m.GetAttachedFlagCount() != 1 {
				t.Errorf("%s: activeGuardedRolloutCount %d _attachedFlagCount %d, want 1 1", key, m.GetActiveGuardedRolloutCount(), m.GetAttachedFlagCount())
			}
			var raw map[string]any
			if err := json.Unmarshal(rawBody(t, resp), &raw); err != nil {
				t.Fatal(err)
			}
			if rs, _ := raw["guardedRollouts"].([]any); raw["guardedRolloutCount"] != float64(1) || len(rs) != 1 || rs[0].(map[string]any)["_id"] != id {
				t.Fatalf("%s: guardedRolloutCount %v guardedRollouts %v", key, raw["guardedRolloutCount"], raw["guardedRollouts"])
			}
			if self := raw["guardedRollouts"].([]any)[0].(map[string]any)["_links"].(map[string]any)["self"].(map[string]any)["href"]; self != rolloutsPath("new-search")+"/"+id {
				t.Errorf("%s: rollout self link %v", key, self)
			}
		}
		list, resp, err := api.MetricsApi.GetMetrics(ctx, "default").Filter("metricUsedIn equals guarded_rollouts").Execute()
		if err != nil {
			t.Fatalf("GetMetrics: %v (status %d)", err, status(resp))
		}
		var keys []string
		for _, m := range list.Items {
			keys = append(keys, m.Key)
		}
		slices.Sort(keys)
		if strings.Join(keys, ",") != "crashes,errors,latency" {
			t.Errorf("metricUsedIn guarded_rollouts = %v, want crashes, errors, latency", keys)
		}
		g := e.mgGet(t, "default", "health", "")
		if g["activeGuardedRolloutCount"] != float64(1) {
			t.Errorf("group activeGuardedRolloutCount = %v", g["activeGuardedRolloutCount"])
		}

		// An active rollout blocks deletes; a finished one does not.
		st, body, _ = e.doUndoc(t, http.MethodDelete, "/api/v2/metrics/default/latency", "")
		wantError(t, "delete monitored metric", st, body, http.StatusConflict, "guarded rollout of flag new-search")

		// Status changes: monitoring → rolled_back, then final.
		path := rolloutsPath("new-search") + "/" + id
		st, body, _ = e.doUndoc(t, http.MethodPatch, path, `{"instructions":[{"kind":"updateStatus","value":"sideways"}]}`)
		wantError(t, "unknown status", st, body, http.StatusBadRequest, `"sideways" is not a rollout status`)
		st, body, _ = e.doUndoc(t, http.MethodPatch, path, `{"instructions":[{"kind":"updateStatus","value":"rolled_back"}]}`,
			"Content-Type: application/json; domain-model=launchdarkly.semanticpatch")
		if st != http.StatusOK || obj(t, body)["status"] != "rolled_back" {
			t.Fatalf("roll back: %d %s", st, body)
		}
		st, body, _ = e.doUndoc(t, http.MethodPatch, path, `{"instructions":[{"kind":"updateStatus","value":"monitoring"}]}`)
		wantError(t, "reopen", st, body, http.StatusBadRequest, "a rolled_back rollout cannot become monitoring")
		st, body, _ = e.doUndoc(t, http.MethodGet, path, "")
		if st != http.StatusOK || obj(t, body)["status"] != "rolled_back" {
			t.Fatalf("get: %d %s", st, body)
		}
		checkSchema(t, "rollout", "DependentMeasuredRolloutRep", obj(t, body))
		if m := e.getMetric(t, "default", "latency", "expand=guardedRolloutCount"); m["activeGuardedRolloutCount"] != float64(0) || m["guardedRolloutCount"] != float64(1) {
			t.Errorf("latency after roll back: active %v count %v", m["activeGuardedRolloutCount"], m["guardedRolloutCount"])
		}

		// The flag may have a new rollout now; the list is newest first.
		st, body, _ = e.doUndoc(t, http.MethodPost, rolloutsPath("new-search"), `{"metricKeys":["idle"]}`)
		if st != http.StatusCreated {
			t.Fatalf("second rollout: %d %s", st, body)
		}
		second := obj(t, body)["_id"].(string)
		st, body, _ = e.doUndoc(t, http.MethodGet, rolloutsPath("new-search")+"?filter=status:monitoring", "")
		if st != http.StatusOK {
			t.Fatalf("list: %d %s", st, body)
		}
		page := obj(t, body)
		if items := page["items"].([]any); page["totalCount"] != float64(1) || items[0].(map[string]any)["_id"] != second {
			t.Errorf("monitoring rollouts = %v", page)
		}
		st, body, _ = e.doUndoc(t, http.MethodGet, rolloutsPath("new-search"), "")
		if items := obj(t, body)["items"].([]any); st != http.StatusOK || len(items) != 2 || items[0].(map[string]any)["_id"] != second {
			t.Errorf("all rollouts: %d %s", st, body)
		}
		if st, body, _ := e.doUndoc(t, http.MethodDelete, "/api/v2/metrics/default/latency", ""); st != http.StatusNoContent {
			t.Errorf("delete metric of a finished rollout: %d %s", st, body)
		}
		st, body, _ = e.doUndoc(t, http.MethodGet, path, "")
		if ms := obj(t, body)["metrics"].([]any); st != http.StatusOK || len(ms) != 1 || ms[0].(map[string]any)["key"] != "health" {
			t.Errorf("finished rollout after its metric was deleted: %d %s", st, body)
		}
	})
}

// TestExperimentValidation: every refused experiment names its problem and
// stores nothing.
func TestExperimentValidation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"a","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","kind":"custom","eventKey":"b","randomizationUnits":["organization"]}`)
		e.createMetric(t, "default", `{"key":"old","kind":"custom","eventKey":"old"}`)
		if st, body, _ := e.do(t, http.MethodPatch, "/api/v2/metrics/default/old", `[{"op":"replace","path":"/archived","value":true}]`); st != http.StatusOK {
			t.Fatalf("archive: %d %s", st, body)
		}
		e.createMetric(t, "default", `{"key":"c","kind":"custom","eventKey":"c"}`)
		e.mgCreate(t, "default", `{"key":"std","name":"Std","kind":"standard","metrics":[{"key":"a"},{"key":"c"}]}`)
		treat := `"treatments":[{"name":"A","baseline":true,"allocationPercent":"60","parameters":[{"flagKey":"f","variationId":"x"}]},
			{"name":"B","baseline":false,"allocationPercent":"40","parameters":[{"flagKey":"f","variationId":"y"}]}]`
		flags := `"flags":{"f":{"ruleId":"fallthrough","flagConfigVersion":1}}`
		iter := func(s string) string { return `{"key":"x","name":"X","iteration":{"hypothesis":"h",` + s + `}}` }
		for _, c := range []struct{ body, msg string }{
			{`{"key":"x","name":"X"}`, "iteration is required"},
			{`{"key":"x","iteration":{}}`, "name is required"},
			{iter(flags + `,"metrics":[{"key":"nope"}],"primarySingleMetricKey":"nope",` + treat), `iteration.metrics[0]: unknown metric "nope"`},
			{iter(flags + `,"metrics":[{"key":"old"}],"primarySingleMetricKey":"old",` + treat), `metric "old" is archived`},
			{iter(flags + `,"metrics":[{"key":"nope","isGroup":true}],"primarySingleMetricKey":"a",` + treat), "primarySingleMetricKey"},
			{iter(flags + `,"metrics":[{"key":"a"}],"primarySingleMetricKey":"b",` + treat), `primarySingleMetricKey "b" must be one of the iteration's metrics`},
			{iter(flags + `,"metrics":[{"key":"a"},{"key":"std","isGroup":true}],"primaryFunnelKey":"std",` + treat), `must name a funnel metric group, not a standard group`},
			{iter(flags + `,"metrics":[{"key":"a"}],` + treat), "primarySingleMetricKey or primaryFunnelKey is required"},
			{iter(flags + `,"metrics":[{"key":"a"},{"key":"b"}],"primarySingleMetricKey":"a",` + treat), `metric "b" does not support randomization unit "user"`},
			{iter(flags + `,"metrics":[{"key":"a"}],"primarySingleMetricKey":"a","treatments":[{"name":"A","baseline":true,"allocationPercent":"60","parameters":[{"flagKey":"f","variationId":"x"}]}]`),
				"allocationPercent must add up to 100, not 60.00"},
			{iter(flags + `,"metrics":[{"key":"a"}],"primarySingleMetricKey":"a","treatments":[{"name":"A","baseline":true,"allocationPercent":"50","parameters":[{"flagKey":"f","variationId":"x"}]},{"name":"B","baseline":true,"allocationPercent":"50","parameters":[{"flagKey":"f","variationId":"y"}]}]`),
				"exactly one baseline, not 2"},
			{iter(flags + `,"metrics":[{"key":"a"}],"primarySingleMetricKey":"a","treatments":[{"name":"A","baseline":true,"allocationPercent":"abc","parameters":[{"flagKey":"f","variationId":"x"}]}]`),
				"allocationPercent must be a decimal number"},
			{iter(flags + `,"metrics":[{"key":"a"}],"primarySingleMetricKey":"a","treatments":[{"name":"A","baseline":true,"allocationPercent":"100","parameters":[{"flagKey":"g","variationId":"x"}]}]`),
				`flagKey "g" must be the iteration's flag "f"`},
			{iter(`"flags":{},"metrics":[{"key":"a"}],"primarySingleMetricKey":"a",` + treat), "flags must name the experiment's flag"},
			{iter(`"flags":{"f":{"flagConfigVersion":1}},"metrics":[{"key":"a"}],"primarySingleMetricKey":"a",` + treat), "ruleId is required"},
		} {
			st, body, _ := e.do(t, http.MethodPost, expPath, c.body)
			wantError(t, c.body, st, body, http.StatusBadRequest, c.msg)
		}
		st, body, _ := e.do(t, http.MethodGet, expPath+"?lifecycleState=active,archived", "")
		if st != http.StatusOK || obj(t, body)["total_count"] != float64(0) {
			t.Errorf("experiments after refused creates: %d %s", st, body)
		}
		// A valid one with fractional allocations, then a duplicate key.
		ok := iter(flags + `,"metrics":[{"key":"a"}],"primarySingleMetricKey":"a","treatments":[{"name":"A","baseline":true,"allocationPercent":"33.5","parameters":[{"flagKey":"f","variationId":"x"}]},{"name":"B","baseline":false,"allocationPercent":"66.5","parameters":[{"flagKey":"f","variationId":"y"}]}]`)
		if st, body, _ := e.do(t, http.MethodPost, expPath, ok); st != http.StatusCreated {
			t.Fatalf("create: %d %s", st, body)
		}
		st, body, _ = e.doUndoc(t, http.MethodPost, expPath, ok)
		wantError(t, "duplicate", st, body, http.StatusConflict, `an experiment with key "x" already exists`)
		st, body, _ = e.doUndoc(t, http.MethodGet, expPath+"/nope", "")
		wantError(t, "unknown experiment", st, body, http.StatusNotFound, `unknown experiment "nope"`)
		// Patches: all or nothing; unknown instructions and transitions are 400s.
		st, body, _ = e.do(t, http.MethodPatch, expPath+"/x", `{"instructions":[{"kind":"updateName","value":"Renamed"},{"kind":"restoreExperiment"}]}`)
		wantError(t, "restore of an active experiment", st, body, http.StatusBadRequest, "is not archived")
		st, body, _ = e.do(t, http.MethodPatch, expPath+"/x", `{"instructions":[{"kind":"deleteEverything"}]}`)
		wantError(t, "unknown instruction", st, body, http.StatusBadRequest, `"deleteEverything" is not supported`)
		st, body, _ = e.do(t, http.MethodPatch, expPath+"/x", `{"instructions":[{"kind":"startIteration"},{"kind":"archiveExperiment"}]}`)
		wantError(t, "archive while running", st, body, http.StatusBadRequest, "is running; stop its iteration")
		st, body, _ = e.do(t, http.MethodGet, expPath+"/x", "")
		if got := obj(t, body); st != http.StatusOK || got["name"] != "X" || got["currentIteration"].(map[string]any)["status"] != "not_started" {
			t.Errorf("experiment after refused patches: %d %s", st, body)
		}
		st, body, _ = e.do(t, http.MethodPatch, expPath+"/x", `{"instructions":[{"kind":"updateName","value":"Renamed"}]}`,
			"Content-Type: application/json; domain-model=other")
		wantError(t, "other domain model", st, body, http.StatusBadRequest, `domain-model "other"`)
	})
}

// TestGroupExperimentStatusFollowsCurrentIteration: a group filtered by
// experimentStatus must be used by the experiment's current iteration, and
// counts as actively used only then.
func TestGroupExperimentStatusFollowsCurrentIteration(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		for _, k := range []string{"a", "b", "c"} {
			e.createMetric(t, "default", `{"key":"`+k+`","kind":"custom","eventKey":"`+k+`"}`)
		}
		e.mgCreate(t, "default", `{"key":"old","name":"Old","kind":"standard","metrics":[{"key":"b"},{"key":"c"}]}`)
		e.createExperiment(t, "x", "X", simpleIteration("f", "a", "group:old"), startIt)
		running := func() string {
			st, body := e.mgDo(t, http.MethodGet, "/api/v2/projects/default/metric-groups?filter="+url.QueryEscape("experimentStatus equals 'running'"), "")
			if st != http.StatusOK {
				t.Fatalf("list: %d %s", st, body)
			}
			var keys []string
			for _, it := range obj(t, body)["items"].([]any) {
				keys = append(keys, it.(map[string]any)["key"].(string))
			}
			return strings.Join(keys, ",")
		}
		if got := running(); got != "old" {
			t.Errorf("running groups while iteration 1 uses old = %q", got)
		}
		if st, body, _ := e.do(t, http.MethodPost, expPath+"/x/iterations", simpleIteration("f", "a")); st != http.StatusOK {
			t.Fatalf("iteration 2: %d %s", st, body)
		}
		if st, body, _ := e.do(t, http.MethodPatch, expPath+"/x", `{"instructions":[{"kind":"startIteration","changeJustification":"drop old"}]}`); st != http.StatusOK {
			t.Fatalf("start 2: %d %s", st, body)
		}
		if got := running(); got != "" {
			t.Errorf("running groups after iteration 2 dropped old = %q", got)
		}
		g := e.mgGet(t, "default", "old", "expand=experimentCount")
		if g["activeExperimentCount"] != float64(0) || g["experimentCount"] != float64(1) {
			t.Errorf("old: activeExperimentCount %v experimentCount %v, want 0 1", g["activeExperimentCount"], g["experimentCount"])
		}
		if m := e.getMetric(t, "default", "b", ""); m["activeExperimentCount"] != float64(0) {
			t.Errorf("b (only in old) activeExperimentCount = %v, want 0", m["activeExperimentCount"])
		}
		if m := e.getMetric(t, "default", "a", ""); m["activeExperimentCount"] != float64(1) {
			t.Errorf("a activeExperimentCount = %v, want 1", m["activeExperimentCount"])
		}
	})
}

// TestExperimentWritesEnforced: experiment and rollout writes go through
// the enforced write seam; a reader can read them but not change them.
func TestExperimentWritesEnforced(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"a","kind":"custom","eventKey":"a"}`)
		e.createExperiment(t, "x", "X", simpleIteration("f", "a"))
		ro := e.createRollout(t, "f", `{"metricKeys":["a"]}`)
		_, value := newToken(t, e.client, ldapi.AccessTokenPost{Name: ptr("reader"), Role: ptr("reader")})
		reader := &env{backend: e.backend, app: e.app, base: e.base, token: value, transport: e.transport}
		if st, body, _ := reader.do(t, http.MethodGet, expPath+"/x", ""); st != http.StatusOK {
			t.Errorf("reader GET experiment: %d %s", st, body)
		}
		for _, c := range []struct{ method, path, body, action string }{
			{http.MethodPost, expPath, `{"key":"y","name":"Y","iteration":` + simpleIteration("f", "a") + `}`, "createExperiment"},
			{http.MethodPatch, expPath + "/x", `{"instructions":[{"kind":"startIteration"}]}`, "startIteration"},
			{http.MethodPost, expPath + "/x/iterations", simpleIteration("f", "a"), "createIteration"},
			{http.MethodPost, rolloutsPath("g"), `{"metricKeys":["a"]}`, "createMeasuredRollout"},
			{http.MethodPatch, rolloutsPath("f") + "/" + ro["_id"].(string), `{"instructions":[{"kind":"updateStatus","value":"completed"}]}`, "updateMeasuredRolloutStatus"},
		} {
			st, body, _ := reader.doUndoc(t, c.method, c.path, c.body)
			wantError(t, "reader "+c.method+" "+c.path, st, body, http.StatusForbidden, c.action)
		}
		if st, body, _ := e.do(t, http.MethodGet, expPath+"/x", ""); st != http.StatusOK || obj(t, body)["currentIteration"].(map[string]any)["status"] != "not_started" {
			t.Errorf("experiment after refused writes: %d %s", st, body)
		}
	})
}
