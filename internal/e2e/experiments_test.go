package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

const expPath = "/api/v2/projects/default/environments/production/experiments"

// iterationInput is a valid iteration on flag checkout-flag over the named
// metrics (the first is primary) and groups.
func iterationInput(primary string, metrics []string, groups ...string) ldapi.IterationInput {
	in := ldapi.IterationInput{
		Hypothesis: "The new checkout converts better",
		Flags:      map[string]ldapi.FlagInput{"checkout-flag": {RuleId: "fallthrough", FlagConfigVersion: 3}},
		Treatments: []ldapi.TreatmentInput{
			{Name: "Control", Baseline: true, AllocationPercent: "50", Parameters: []ldapi.TreatmentParameterInput{{FlagKey: "checkout-flag", VariationId: "var-a"}}},
			{Name: "New", Baseline: false, AllocationPercent: "50", Parameters: []ldapi.TreatmentParameterInput{{FlagKey: "checkout-flag", VariationId: "var-b"}}},
		},
		PrimarySingleMetricKey: ptr(primary),
	}
	for _, m := range metrics {
		in.Metrics = append(in.Metrics, ldapi.MetricInput{Key: m})
	}
	for _, g := range groups {
		in.Metrics = append(in.Metrics, ldapi.MetricInput{Key: g, IsGroup: ptr(true)})
	}
	return in
}

// auditIteration is a valid iteration over metric a, as raw JSON.
const auditIteration = `{"hypothesis":"h","flags":{"f":{"ruleId":"fallthrough","flagConfigVersion":1}},"metrics":[{"key":"a"}],
	"primarySingleMetricKey":"a","treatments":[{"name":"A","baseline":true,"allocationPercent":"100","parameters":[{"flagKey":"f","variationId":"v"}]}]}`

// rolloutsPath is the measured-rollouts collection of a flag in the
// default project's production environment.
func rolloutsPath(flag string) string {
	return "/api/v2/projects/default/flags/" + flag + "/environments/production/measured-rollouts"
}

// createExperiment creates an experiment in the default project's
// production environment on flag from a raw iteration body and applies the
// instructions that follow, one patch each; it returns the experiment as
// the last write left it.
func (e *env) createExperiment(t testing.TB, key, name, iteration string, instructions ...string) map[string]any {
	t.Helper()
	st, body, _ := e.do(t, http.MethodPost, expPath, `{"key":"`+key+`","name":"`+name+`","iteration":`+iteration+`}`)
	if st != http.StatusCreated {
		t.Fatalf("create experiment %s: %d %s", key, st, body)
	}
	for _, in := range instructions {
		if st, body, _ = e.do(t, http.MethodPatch, expPath+"/"+key, `{"instructions":[`+in+`]}`); st != http.StatusOK {
			t.Fatalf("experiment %s %s: %d %s", key, in, st, body)
		}
	}
	return obj(t, body)
}

// simpleIteration is an iteration on flag over the named metrics and
// groups (groups prefixed with "group:"); the first entry is primary.
func simpleIteration(flag string, refs ...string) string {
	var ms, primary string
	for i, r := range refs {
		if i > 0 {
			ms += ","
		}
		if g, ok := strings.CutPrefix(r, "group:"); ok {
			ms += `{"key":"` + g + `","isGroup":true}`
			if i == 0 {
				primary = `"primaryFunnelKey":"` + g + `"`
			}
			continue
		}
		ms += `{"key":"` + r + `"}`
		if i == 0 {
			primary = `"primarySingleMetricKey":"` + r + `"`
		}
	}
	return `{"hypothesis":"h","flags":{"` + flag + `":{"ruleId":"fallthrough","flagConfigVersion":1}},"metrics":[` + ms + `],` + primary + `,
		"treatments":[{"name":"A","baseline":true,"allocationPercent":"100","parameters":[{"flagKey":"` + flag + `","variationId":"v"}]}]}`
}

// Instructions for createExperiment.
const (
	startIt   = `{"kind":"startIteration"}`
	stopIt    = `{"kind":"stopIteration"}`
	archiveIt = `{"kind":"archiveExperiment"}`
)

// createRollout creates a guarded rollout of flag in production.
func (e *env) createRollout(t testing.TB, flag, body string) map[string]any {
	t.Helper()
	st, b, _ := e.doUndoc(t, http.MethodPost, rolloutsPath(flag), body)
	if st != http.StatusCreated {
		t.Fatalf("create rollout of %s: %d %s", flag, st, b)
	}
	return obj(t, b)
}

func instr(kind string, kv ...any) map[string]any {
	m := map[string]any{"kind": kind}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// doExt is do for a metricsd extension of a documented operation; see
// asExtension.
func (e *env) doExt(t testing.TB, method, path, body string, headers ...string) (int, []byte) {
	t.Helper()
	st, b, _ := e.doCtx(t, asExtension(context.Background()), method, path, body, headers...)
	return st, b
}

// metricUsage reads the usage fields of a metric through the generated
// client.
func metricUsage(t *testing.T, api *ldapi.APIClient, key string) (experiments, active, rollouts, flags int32) {
	t.Helper()
	m, resp, err := api.MetricsApi.GetMetric(context.Background(), "default", key).Expand("experimentCount").Execute()
	if err != nil {
		t.Fatalf("GetMetric %s: %v (status %d)", key, err, status(resp))
	}
	return m.GetExperimentCount(), m.GetActiveExperimentCount(), m.GetActiveGuardedRolloutCount(), m.GetAttachedFlagCount()
}

// TestExperimentScenario walks the whole life of an experiment: metrics →
// group → experiment → start → edit a metric (the running iteration keeps
// the pinned version) → stop → delete blocked → dry runs → archive →
// counts.
func TestExperimentScenario(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		api := e.client
		conv := e.createMetric(t, "default", `{"key":"conversion","kind":"custom","eventKey":"purchase"}`)
		e.createMetric(t, "default", `{"key":"step-one","kind":"custom","eventKey":"s1"}`)
		e.createMetric(t, "default", `{"key":"step-two","kind":"custom","eventKey":"s2"}`)
		e.createMetric(t, "default", `{"key":"idle","kind":"custom","eventKey":"idle"}`)
		if _, resp, err := e.mgAPI(t).MetricsBetaApi.CreateMetricGroup(ctx, "default").MetricGroupPost(ldapi.MetricGroupPost{
			Key: ptr("funnel"), Name: "Funnel", Kind: "funnel", Tags: []string{}, MaintainerId: e.ownerID,
			Metrics: []ldapi.MetricInMetricGroupInput{{Key: "step-one", NameInGroup: "Step 1"}, {Key: "step-two", NameInGroup: "Step 2"}},
		}).Execute(); err != nil {
			t.Fatalf("CreateMetricGroup: %v (status %d)", err, status(resp))
		}

		// Create: the first iteration is a draft showing current versions.
		created, resp, err := api.ExperimentsApi.CreateExperiment(ctx, "default", "production").ExperimentPost(ldapi.ExperimentPost{
			Key: "checkout", Name: "Checkout", Description: ptr("New checkout"),
			Iteration: iterationInput("conversion", []string{"conversion"}, "funnel"),
		}).Execute()
		if err != nil {
			t.Fatalf("CreateExperiment: %v (status %d) %s", err, status(resp), rawBody(t, resp))
		}
		if resp.StatusCode != http.StatusCreated || created.CurrentIteration == nil || created.CurrentIteration.Status != "not_started" {
			t.Fatalf("CreateExperiment: status %d, current %+v", resp.StatusCode, created.CurrentIteration)
		}
		if got := created.GetMaintainerId(); got != e.ownerID {
			t.Errorf("_maintainerId = %q, want the creator %q", got, e.ownerID)
		}
		v1 := conv["_versionId"].(string)
		if got := created.CurrentIteration.Metrics[0].VersionId; got != v1 {
			t.Errorf("draft metric _versionId = %q, want current %q", got, v1)
		}
		if n, active, _, _ := metricUsage(t, api, "conversion"); n != 1 || active != 0 {
			t.Errorf("conversion after create: experimentCount %d active %d, want 1 0", n, active)
		}
		// A metric used only through the group counts as used.
		if n, _, _, _ := metricUsage(t, api, "step-two"); n != 1 {
			t.Errorf("step-two experimentCount = %d, want 1 (through the funnel group)", n)
		}

		// Start: the iteration runs and pins the versions.
		started, resp, err := api.ExperimentsApi.PatchExperiment(ctx, "default", "production", "checkout").ExperimentPatchInput(ldapi.ExperimentPatchInput{
			Instructions: []map[string]any{instr("startIteration")},
		}).Execute()
		if err != nil {
			t.Fatalf("startIteration: %v (status %d) %s", err, status(resp), rawBody(t, resp))
		}
		if started.CurrentIteration.Status != "running" || started.CurrentIteration.StartedAt == nil {
			t.Fatalf("after startIteration: %+v", started.CurrentIteration)
		}
		if _, active, _, flags := metricUsage(t, api, "conversion"); active != 1 || flags != 1 {
			t.Errorf("conversion while running: active %d flags %d, want 1 1", active, flags)
		}
		if _, active, _, _ := metricUsage(t, api, "step-one"); active != 1 {
			t.Errorf("step-one while running: active %d, want 1", active)
		}
		// Starting again without a draft is an invalid transition.
		st, body, _ := e.do(t, http.MethodPatch, expPath+"/checkout", `{"instructions":[{"kind":"startIteration"}]}`,
			"Content-Type: application/json; domain-model=launchdarkly.semanticpatch")
		wantError(t, "second startIteration", st, body, http.StatusBadRequest, "no draft iteration")

		// Edit the metric: it moves on, the running iteration keeps v1.
		st, body, _ = e.do(t, http.MethodPatch, "/api/v2/metrics/default/conversion", `[{"op":"replace","path":"/name","value":"Conversion v2"}]`)
		if st != http.StatusOK {
			t.Fatalf("patch metric: %d %s", st, body)
		}
		v2 := obj(t, body)["_versionId"].(string)
		if v2 == v1 {
			t.Fatalf("metric version did not change")
		}
		got, _, err := api.ExperimentsApi.GetExperiment(ctx, "default", "production", "checkout").Execute()
		if err != nil {
			t.Fatalf("GetExperiment: %v", err)
		}
		if m := got.CurrentIteration.Metrics[0]; m.VersionId != v1 || m.Name != "conversion" {
			t.Errorf("running iteration metric = %s %q, want pinned %s %q", m.VersionId, m.Name, v1, "conversion")
		}
		if p := got.CurrentIteration.PrimarySingleMetric; p == nil || p.GetVersionId() != v1 {
			t.Errorf("primarySingleMetric = %+v, want pinned %s", p, v1)
		}
		if m := e.getMetric(t, "default", "conversion", ""); m["_versionId"] != v2 || m["name"] != "Conversion v2" {
			t.Errorf("metric itself = %v %v, want %s", m["_versionId"], m["name"], v2)
		}

		// Stop with a winner.
		stopped, resp, err := api.ExperimentsApi.PatchExperiment(ctx, "default", "production", "checkout").ExperimentPatchInput(ldapi.ExperimentPatchInput{
			Instructions: []map[string]any{instr("stopIteration", "winningTreatmentId", "var-b", "winningReason", "converts better")},
		}).Execute()
		if err != nil {
			t.Fatalf("stopIteration: %v (status %d) %s", err, status(resp), rawBody(t, resp))
		}
		if c := stopped.CurrentIteration; c.Status != "stopped" || c.GetWinningTreatmentId() != "var-b" || c.EndedAt == nil {
			t.Errorf("after stopIteration: %+v", c)
		}
		if _, active, _, flags := metricUsage(t, api, "conversion"); active != 0 || flags != 0 {
			t.Errorf("conversion after stop: active %d flags %d, want 0 0", active, flags)
		}
		st, body, _ = e.do(t, http.MethodPatch, expPath+"/checkout", `{"instructions":[{"kind":"stopIteration"}]}`)
		wantError(t, "second stopIteration", st, body, http.StatusBadRequest, "no running iteration")

		// Delete is blocked, and the blockers are named by kind and key.
		st, body, _ = e.doUndoc(t, http.MethodDelete, "/api/v2/metrics/default/conversion", "")
		wantError(t, "delete used metric", st, body, http.StatusConflict, "experiment checkout")
		st, body = e.mgDoUndoc(t, http.MethodDelete, "/api/v2/projects/default/metric-groups/funnel", "")
		wantError(t, "delete used group", st, body, http.StatusConflict, "experiment checkout")

		// Edit impact while running: the would-be metric and the running
		// experiment, nothing stored.
		restart := `{"hypothesis":"again","flags":{"checkout-flag":{"ruleId":"fallthrough","flagConfigVersion":4}},
			"metrics":[{"key":"conversion"},{"key":"funnel","isGroup":true}],"primarySingleMetricKey":"conversion",
			"treatments":[{"name":"Control","baseline":true,"allocationPercent":"50","parameters":[{"flagKey":"checkout-flag","variationId":"var-a"}]},
				{"name":"New","baseline":false,"allocationPercent":"50","parameters":[{"flagKey":"checkout-flag","variationId":"var-b"}]}]}`
		if st, body, _ := e.do(t, http.MethodPost, expPath+"/checkout/iterations", restart); st != http.StatusOK {
			t.Fatalf("create iteration: %d %s", st, body)
		}
		if st, body, _ := e.do(t, http.MethodPatch, expPath+"/checkout", `{"instructions":[{"kind":"startIteration","changeJustification":"round two"}]}`); st != http.StatusOK {
			t.Fatalf("start second iteration: %d %s", st, body)
		}
		st, body = e.doExt(t, http.MethodPatch, "/api/v2/metrics/default/step-one?dryRun=true", `[{"op":"replace","path":"/name","value":"Step one renamed"}]`)
		if st != http.StatusOK {
			t.Fatalf("dry-run patch: %d %s", st, body)
		}
		dry := obj(t, body)
		if m := dry["metric"].(map[string]any); m["name"] != "Step one renamed" || m["_version"] != float64(2) {
			t.Errorf("dry-run metric = %v v%v, want the renamed version 2", m["name"], m["_version"])
		}
		if exps := dry["runningExperiments"].([]any); len(exps) != 1 || exps[0].(map[string]any)["key"] != "checkout" {
			t.Errorf("dry-run runningExperiments = %v", dry["runningExperiments"])
		}
		if m := e.getMetric(t, "default", "step-one", ""); m["name"] != "step-one" || m["_version"] != float64(1) {
			t.Errorf("metric after dry-run patch = %v v%v, want unchanged", m["name"], m["_version"])
		}
		st, body = e.doExt(t, http.MethodPatch, "/api/v2/projects/default/metric-groups/funnel?dryRun=true", `[{"op":"replace","path":"/name","value":"Renamed"}]`, betaHeader)
		if st != http.StatusOK {
			t.Fatalf("group dry-run patch: %d %s", st, body)
		}
		if g := obj(t, body)["metricGroup"].(map[string]any); g["name"] != "Renamed" {
			t.Errorf("group dry-run = %v", g)
		}
		if g := e.mgGet(t, "default", "funnel", ""); g["name"] != "Funnel" {
			t.Errorf("group after dry-run patch = %v, want unchanged", g["name"])
		}
		if st, body, _ := e.do(t, http.MethodPatch, expPath+"/checkout", `{"instructions":[{"kind":"stopIteration"}]}`); st != http.StatusOK {
			t.Fatalf("stop second iteration: %d %s", st, body)
		}

		// Two iterations now: the previous one keeps its pinned v1.
		got, _, err = api.ExperimentsApi.GetExperiment(ctx, "default", "production", "checkout").Expand("previousIterations,draftIteration,treatments").Execute()
		if err != nil {
			t.Fatalf("GetExperiment expanded: %v", err)
		}
		if len(got.PreviousIterations) != 1 || got.PreviousIterations[0].Metrics[0].VersionId != v1 || got.DraftIteration != nil {
			t.Errorf("previousIterations %+v, draft %+v", got.PreviousIterations, got.DraftIteration)
		}
		if m := got.CurrentIteration.Metrics[0]; m.VersionId != v2 || len(got.CurrentIteration.Treatments) != 2 {
			t.Errorf("second iteration pinned %s (want %s), treatments %d", m.VersionId, v2, len(got.CurrentIteration.Treatments))
		}
		for filter, want := range map[string]int{"metricKey:step-two": 1, "metricKey:idle": 0, "flagKey:checkout-flag": 1, "status:running": 0, "status:stopped": 1} {
			list, resp, err := api.ExperimentsApi.GetExperiments(ctx, "default", "production").Filter(filter).Execute()
			if err != nil {
				t.Fatalf("GetExperiments %s: %v (status %d)", filter, err, status(resp))
			}
			if int(list.GetTotalCount()) != want || len(list.Items) != want {
				t.Errorf("filter %s: %d (total %d), want %d", filter, len(list.Items), list.GetTotalCount(), want)
			}
		}

		// Dry runs of deletes answer and change nothing.
		st, body = e.doExt(t, http.MethodDelete, "/api/v2/metrics/default/conversion?dryRun=true", "")
		if st != http.StatusOK {
			t.Fatalf("dry-run delete: %d %s", st, body)
		}
		diffJSON(t, "dry-run delete of conversion", `{"deletable": false, "blockers": [
			{"kind": "experiment", "key": "checkout", "environmentKey": "production", "status": "stopped"}]}`, obj(t, body))
		st, body = e.doExt(t, http.MethodDelete, "/api/v2/metrics/default/idle?dryRun=true", "")
		if st != http.StatusOK {
			t.Fatalf("dry-run delete idle: %d %s", st, body)
		}
		diffJSON(t, "dry-run delete of idle", `{"deletable": true, "blockers": []}`, obj(t, body))
		e.getMetric(t, "default", "idle", "")

		// Archive and restore; archived experiments leave the default list.
		_, resp, err = api.ExperimentsApi.PatchExperiment(ctx, "default", "production", "checkout").ExperimentPatchInput(ldapi.ExperimentPatchInput{
			Instructions: []map[string]any{instr("archiveExperiment")},
		}).Execute()
		if err != nil {
			t.Fatalf("archiveExperiment: %v (status %d) %s", err, status(resp), rawBody(t, resp))
		}
		list, _, err := api.ExperimentsApi.GetExperiments(ctx, "default", "production").Execute()
		if err != nil {
			t.Fatalf("GetExperiments: %v", err)
		}
		if len(list.Items) != 0 || list.GetTotalCount() != 0 {
			t.Errorf("active experiments after archive: %d (total %d), want 0", len(list.Items), list.GetTotalCount())
		}
		list, _, err = api.ExperimentsApi.GetExperiments(ctx, "default", "production").LifecycleState("archived").Execute()
		if err != nil {
			t.Fatalf("GetExperiments archived: %v", err)
		}
		if len(list.Items) != 1 || list.Items[0].ArchivedDate == nil {
			t.Errorf("archived experiments: %+v", list.Items)
		}
		x := e.getMetric(t, "default", "conversion", "expand=experiments,experimentCount")
		exps, _ := x["experiments"].([]any)
		if len(exps) != 1 || exps[0].(map[string]any)["archivedDate"] == nil {
			t.Errorf("conversion experiments after archive = %v", x["experiments"])
		}
		if fmt.Sprint(x["activeExperimentCount"]) != "0" {
			t.Errorf("activeExperimentCount after archive = %v", x["activeExperimentCount"])
		}
	})
}
