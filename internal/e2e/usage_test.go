package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"
	_ "modernc.org/sqlite" // the "sqlite" driver, as the store uses it

	"github.com/metricsd/metricsd/internal/testdb"
)

// seedDB opens the backend's database directly, to add what refers to
// metrics and the API cannot create yet (event sources).
type seedDB struct {
	db       *sql.DB
	numbered bool
}

func openSeedDB(t testing.TB, b testdb.Backend) *seedDB {
	t.Helper()
	var s seedDB
	var err error
	switch b.Name {
	case "sqlite":
		path := strings.TrimPrefix(b.URL, "sqlite:")
		s.db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	case "postgres":
		s.db, err = sql.Open("pgx", b.URL)
		s.numbered = true
	default:
		t.Fatalf("unknown backend %s", b.Name)
	}
	if err != nil {
		t.Fatalf("open %s: %v", b.Name, err)
	}
	t.Cleanup(func() { s.db.Close() })
	return &s
}

func (s *seedDB) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if s.numbered {
		n := 0
		var sb strings.Builder
		for _, c := range q {
			if c == '?' {
				n++
				fmt.Fprintf(&sb, "$%d", n)
				continue
			}
			sb.WriteRune(c)
		}
		q = sb.String()
	}
	if _, err := s.db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("seed %s: %v", q, err)
	}
}

// TestMetricUsage checks the counters, expansions, filters and delete
// protection that depend on resources referring to a metric.
func TestMetricUsage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		used := e.createMetric(t, "default", `{"key":"used","kind":"custom","eventKey":"used-event"}`)
		grouped := e.createMetric(t, "default", `{"key":"grouped","kind":"custom","eventKey":"e"}`)
		e.createMetric(t, "default", `{"key":"idle","kind":"custom","eventKey":"e"}`)
		proj, _, err := e.client.ProjectsApi.GetProject(ctx, "default").Execute()
		if err != nil {
			t.Fatalf("GetProject: %v", err)
		}
		prod, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "production").Execute()
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}

		// Group checkout-funnel holds both metrics; "grouped" is used only
		// through it. A running experiment uses "used" directly; an
		// archived, stopped one uses the group. A monitoring guarded rollout
		// uses "used". All through the API.
		e.mgCreate(t, "default", `{"key":"checkout-funnel","name":"Checkout funnel","kind":"funnel",
			"metrics":[{"key":"used","nameInGroup":"Step 1"},{"key":"grouped","nameInGroup":"Step 2"}]}`)
		running := e.createExperiment(t, "exp-running", "Running experiment", simpleIteration("flag-a", "used"), startIt)
		old := e.createExperiment(t, "exp-old", "Old experiment", simpleIteration("flag-c", "group:checkout-funnel"), startIt, stopIt, archiveIt)
		ro := e.createRollout(t, "flag-b", `{"flagName":"Flag B","flagPurpose":"migration","metricKeys":["used"]}`)
		rolloutID := ro["_id"].(string)
		// Events are seeded directly: ingestion has its own tests.
		db := openSeedDB(t, b)
		// Events of "used" were seen in both environments.
		testEnv, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "test").Execute()
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}
		db.exec(t, `INSERT INTO event_sources (environment_id, project_id, kind, event_key, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)`,
			prod.Id, proj.Id, "custom", "used-event", int64(1699999200000), int64(1700000400000))
		db.exec(t, `INSERT INTO event_sources (environment_id, project_id, kind, event_key, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)`,
			testEnv.Id, proj.Id, "custom", "used-event", int64(1700000000000), int64(1700000350000))

		const envLinks = `"_links": {"parent": {"href": "/api/v2/projects/default/environments/production", "type": "application/json"},
			"self": {"href": "/api/v2/projects/default/environments/production/experiments/%s", "type": "application/json"}}`
		expRunning := fmt.Sprintf(`{"key": "exp-running", "name": "Running experiment", "environmentId": %q, "environmentKey": "production",
			"creationDate": %v, `+envLinks+`}`, prod.Id, int64(running["_creationDate"].(float64)), "exp-running")
		expOld := fmt.Sprintf(`{"key": "exp-old", "name": "Old experiment", "environmentId": %q, "environmentKey": "production",
			"creationDate": %v, "archivedDate": %v, `+envLinks+`}`, prod.Id, int64(old["_creationDate"].(float64)), int64(old["archivedDate"].(float64)), "exp-old")
		group := `{"key": "checkout-funnel", "name": "Checkout funnel", "kind": "funnel", "_links": {
			"parent": {"href": "/api/v2/projects/default", "type": "application/json"},
			"self": {"href": "/api/v2/projects/default/metric-groups/checkout-funnel", "type": "application/json"}}}`
		rollout := fmt.Sprintf(`{"_id": %q, "flagKey": "flag-b", "flagName": "Flag B", "flagPurpose": "migration",
			"environmentKey": "production", "environmentName": "Production", "status": "monitoring", "creationDate": %v,
			"_links": {"self": {"href": "/api/v2/projects/default/flags/flag-b/environments/production/measured-rollouts/%s", "type": "application/json"}}}`,
			rolloutID, int64(ro["creationDate"].(float64)), rolloutID)
		// metricsd does not manage flags: an experiment's flag is named by its key.
		attached := `[{"name": "flag-a", "key": "flag-a", "_links": {"self": {"href": "/api/v2/projects/default/flags/flag-a", "type": "application/json"}}},
			{"name": "Flag B", "key": "flag-b", "_links": {"self": {"href": "/api/v2/projects/default/flags/flag-b", "type": "application/json"}}}]`
		usage := `"isActive": true, "activeExperimentCount": 1, "activeGuardedRolloutCount": 1, "_attachedFlagCount": 2, "lastSeen": 1700000400000`

		t.Run("counters without expand", func(t *testing.T) {
			got := e.getMetric(t, "default", "used", "")
			want := without(used)
			for k, v := range jsonValue(t, `{`+usage+`, "_attachedFeatures": `+attached+`}`).(map[string]any) {
				want[k] = v
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			got = e.getMetric(t, "default", "grouped", "")
			if d := cmp.Diff(grouped, got); d != "" {
				t.Errorf("a metric used only by a stopped experiment through a group (-want +got):\n%s", d)
			}
		})
		t.Run("expand everything", func(t *testing.T) {
			rep, resp, err := e.api(t).MetricsApi.GetMetric(ctx, "default", "used").
				Expand("experiments,experimentCount,metricGroups,metricGroupCount,eventSources,guardedRollouts,guardedRolloutCount,lastUsedInExperiment,lastUsedInGuardedRollout").Execute()
			if err != nil {
				t.Fatalf("GetMetric: %v (status %d)", err, status(resp))
			}
			if len(rep.Experiments) != 2 || len(rep.MetricGroups) != 1 || rep.LastUsedInGuardedRollout == nil {
				t.Errorf("client model: %d experiments, %d groups, rollout %v", len(rep.Experiments), len(rep.MetricGroups), rep.LastUsedInGuardedRollout)
			}
			got := obj(t, rawBody(t, resp))
			want := without(used)
			for k, v := range jsonValue(t, `{`+usage+`, "_attachedFeatures": `+attached+`,
				"experimentCount": 2, "metricGroupCount": 1, "guardedRolloutCount": 1,
				"experiments": [`+expRunning+`, `+expOld+`], "metricGroups": [`+group+`],
				"guardedRollouts": [`+rollout+`], "eventSources": [
					{"key": "used-event", "kind": "custom", "environmentKey": "production", "firstSeen": 1699999200000, "lastSeen": 1700000400000, "volume30Days": 0},
					{"key": "used-event", "kind": "custom", "environmentKey": "test", "firstSeen": 1700000000000, "lastSeen": 1700000350000, "volume30Days": 0}],
				"lastUsedInExperiment": `+expOld+`, "lastUsedInGuardedRollout": `+rollout+`}`).(map[string]any) {
				want[k] = v
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			got = e.getMetric(t, "default", "grouped", "expand=experimentCount,metricGroupCount,experiments")
			want = without(grouped)
			for k, v := range jsonValue(t, `{"experimentCount": 1, "metricGroupCount": 1, "experiments": [`+expOld+`]}`).(map[string]any) {
				want[k] = v
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("grouped (-want +got):\n%s", d)
			}
		})
		t.Run("list", func(t *testing.T) {
			coll, resp, err := e.api(t).MetricsApi.GetMetrics(ctx, "default").Expand("experimentCount").Execute()
			if err != nil {
				t.Fatalf("GetMetrics: %v (status %d)", err, status(resp))
			}
			counts := map[string][2]int32{}
			for _, it := range coll.Items {
				counts[it.Key] = [2]int32{*it.ExperimentCount, *it.MetricGroupCount}
			}
			if d := cmp.Diff(map[string][2]int32{"used": {2, 1}, "grouped": {1, 1}, "idle": {0, 0}}, counts); d != "" {
				t.Errorf("[experimentCount metricGroupCount] (-want +got):\n%s", d)
			}
			for _, c := range []struct {
				filter string
				want   []string
			}{
				{"hasConnections equals true", []string{"used", "grouped"}},
				{"hasConnections equals false", []string{"idle"}},
				{"metricUsedIn equals experiments", []string{"used", "grouped"}},
				{"metricUsedIn equals guarded_rollouts", []string{"used"}},
				{"metricUsedIn equals any", []string{"used", "grouped"}},
				{"metricUsedIn equals none", []string{"idle"}},
			} {
				coll, resp, err := e.api(t).MetricsApi.GetMetrics(ctx, "default").Filter(c.filter).Execute()
				if err != nil {
					t.Fatalf("GetMetrics %s: %v (status %d)", c.filter, err, status(resp))
				}
				got := []string{}
				for _, it := range coll.Items {
					got = append(got, it.Key)
				}
				if d := cmp.Diff(c.want, got); d != "" {
					t.Errorf("filter %s (-want +got):\n%s", c.filter, d)
				}
			}
		})
		t.Run("delete refused while in use", func(t *testing.T) {
			api := e.api(t)
			for key, users := range map[string][]string{
				"used":    {"experiment exp-old", "experiment exp-running", "guarded rollout of flag flag-b", "metric group checkout-funnel"},
				"grouped": {"experiment exp-old", "metric group checkout-funnel"},
			} {
				resp, err := api.MetricsApi.DeleteMetric(allowUndocumented(ctx), "default", key).Execute()
				clientError(t, "delete "+key, resp, err, http.StatusConflict, users...)
			}
			e.getMetric(t, "default", "used", "")
			e.getMetric(t, "default", "grouped", "")
			if resp, err := api.MetricsApi.DeleteMetric(ctx, "default", "idle").Execute(); err != nil {
				t.Errorf("delete idle: %v (status %d)", err, status(resp))
			}
		})
		t.Run("delete the project", func(t *testing.T) {
			api := e.api(t)
			if resp, err := api.ProjectsApi.DeleteProject(ctx, "default").Execute(); err != nil {
				t.Fatalf("DeleteProject: %v (status %d)", err, status(resp))
			}
			if _, resp, err := api.ProjectsApi.PostProject(ctx).ProjectPost(ldapi.ProjectPost{Key: "default", Name: "Default"}).Execute(); err != nil {
				t.Fatalf("re-create: %v (status %d)", err, status(resp))
			}
			if n := e.metricCount(t, "default"); n != 0 {
				t.Errorf("%d metrics in the re-created project", n)
			}
		})
	})
}
