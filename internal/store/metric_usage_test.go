package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/testdb"
)

func TestMetricUsage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		p, envs := mustProject(t, db, "proj-usage", "usage", at(0))
		prod, test := envs[0], envs[1]
		idOf := map[string]string{}
		for i, key := range []string{"direct", "grouped", "rollout-only", "group-only", "idle"} {
			m := simpleMetric(p, "u-"+key, key, at(time.Duration(i)*time.Second))
			mustMetric(t, db, m)
			idOf[key] = m.ID
		}

		// Before any usage rows exist every metric is unconnected. Asking now
		// also makes sure nothing computed here is reused once they exist.
		allUsage := []string{"direct", "grouped", "rollout-only", "group-only", "idle"}
		for _, tc := range []struct {
			name string
			q    catalog.MetricQuery
			want []string
		}{
			{"has connections", catalog.MetricQuery{HasConnections: ptr(true)}, []string{}},
			{"has no connections", catalog.MetricQuery{HasConnections: ptr(false)}, allUsage},
			{"used in experiments", catalog.MetricQuery{UsedIn: "experiments"}, []string{}},
			{"used in guarded rollouts", catalog.MetricQuery{UsedIn: "guarded_rollouts"}, []string{}},
			{"used in any", catalog.MetricQuery{UsedIn: "any"}, []string{}},
			{"used in none", catalog.MetricQuery{UsedIn: "none"}, allUsage},
			{"connected and in experiments", catalog.MetricQuery{HasConnections: ptr(true), UsedIn: "experiments"}, []string{}},
			{"view", catalog.MetricQuery{View: "kpis"}, []string{}},
			{"view and unconnected", catalog.MetricQuery{View: "kpis", UsedIn: "none"}, []string{}},
		} {
			q := tc.q
			q.Limit = 50
			got, total, err := db.ListMetrics(ctx, p.ID, q)
			if err != nil {
				t.Fatalf("ListMetrics %s: %v", tc.name, err)
			}
			if d := cmp.Diff(tc.want, keysOf(got)); d != "" || total != len(tc.want) {
				t.Errorf("ListMetrics %s before usage rows: total %d, keys (-want +got):\n%s", tc.name, total, d)
			}
		}

		ins := func(table, cols string, rows ...[]any) {
			t.Helper()
			n := len(strings.Split(cols, ","))
			q := "INSERT INTO " + table + " (" + cols + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
			for _, r := range rows {
				raw.exec(q, r...)
			}
		}
		ms := func(d time.Duration) int64 { return at(d).UnixMilli() }
		ins("metric_groups", "id, project_id, key, key_lower, name, name_lower, kind, version, created_at, updated_at",
			[]any{"g1", p.ID, "checkout-funnel", "checkout-funnel", "Checkout funnel", "checkout funnel", "funnel", 1, ms(10 * time.Second), ms(10 * time.Second)},
			[]any{"g2", p.ID, "guardrails", "guardrails", "Guardrails", "guardrails", "standard", 1, ms(11 * time.Second), ms(11 * time.Second)})
		ins("metric_group_metrics", "group_id, position, metric_id, name_in_group",
			[]any{"g1", 0, idOf["grouped"], "step 1"},
			[]any{"g1", 1, idOf["grouped"], "step 2"}, // twice in one group
			[]any{"g2", 0, idOf["grouped"], ""},
			[]any{"g2", 1, idOf["direct"], ""},
			[]any{"g2", 2, idOf["group-only"], ""})
		ins("experiments", "id, project_id, environment_id, key, name, status, flag_key, flag_name, created_at, archived_at",
			[]any{"e1", p.ID, prod.ID, "exp-direct", "Direct experiment", "running", "flag-a", "Flag A", ms(20 * time.Second), nil},
			[]any{"e2", p.ID, test.ID, "exp-group", "Group experiment", "running", "flag-b", "Flag B", ms(21 * time.Second), nil},
			[]any{"e3", p.ID, prod.ID, "exp-archived", "Archived experiment", "running", "flag-c", "Flag C", ms(22 * time.Second), ms(30 * time.Second)},
			[]any{"e4", p.ID, prod.ID, "exp-done", "Stopped experiment", "stopped", "flag-d", "Flag D", ms(23 * time.Second), nil})
		ins("experiment_metrics", "experiment_id, metric_id, metric_group_id",
			[]any{"e1", idOf["direct"], nil},
			[]any{"e2", nil, "g1"},
			[]any{"e3", idOf["grouped"], nil},
			[]any{"e3", idOf["direct"], nil},
			[]any{"e4", idOf["grouped"], nil},
			[]any{"e4", nil, "g1"})
		ins("guarded_rollouts", "id, project_id, environment_id, flag_key, flag_name, flag_purpose, status, created_at",
			[]any{"r1", p.ID, prod.ID, "flag-a", "Flag A", "release", "monitoring", ms(40 * time.Second)},
			[]any{"r2", p.ID, test.ID, "flag-e", "Flag E", "", "rolled_back", ms(41 * time.Second)},
			[]any{"r3", p.ID, prod.ID, "flag-f", "Flag F", "migration", "monitoring", ms(42 * time.Second)})
		ins("guarded_rollout_metrics", "rollout_id, metric_id, metric_group_id",
			[]any{"r1", idOf["direct"], nil},
			[]any{"r1", idOf["rollout-only"], nil},
			[]any{"r2", nil, "g1"},
			[]any{"r3", nil, "g1"})
		ins("event_sources", "environment_id, project_id, kind, event_key, first_seen, last_seen",
			[]any{test.ID, p.ID, "custom", "direct", ms(40 * time.Second), ms(55 * time.Second)},
			[]any{prod.ID, p.ID, "custom", "direct", ms(45 * time.Second), ms(50 * time.Second)},
			// Not sources of "direct": another kind, another key.
			[]any{prod.ID, p.ID, "pageview", "direct", ms(45 * time.Second), ms(58 * time.Second)},
			[]any{prod.ID, p.ID, "custom", "idle-event", ms(45 * time.Second), ms(58 * time.Second)})
		// Rows written here bypass the write seam, which bumps the project's
		// generation with every experiment, rollout and group write; bump it
		// as they would, or list counts cached before would be reused.
		raw.exec("UPDATE projects SET metrics_generation = metrics_generation + 1 WHERE id = ?", p.ID)
		mustView(t, db, p.ID, "v1", "kpis", at(60*time.Second), nil, "direct", "idle")

		lastSeen := at(55 * time.Second)
		wantUsage := map[string]catalog.MetricUsage{
			"direct":       {ExperimentCount: 2, ActiveExperimentCount: 1, MetricGroupCount: 1, GuardedRolloutCount: 1, ActiveGuardedRolloutCount: 1, AttachedFlagCount: 1, LastSeen: &lastSeen},
			"grouped":      {ExperimentCount: 3, ActiveExperimentCount: 1, MetricGroupCount: 2, GuardedRolloutCount: 2, ActiveGuardedRolloutCount: 1, AttachedFlagCount: 2},
			"rollout-only": {GuardedRolloutCount: 1, ActiveGuardedRolloutCount: 1, AttachedFlagCount: 1},
			"group-only":   {MetricGroupCount: 1},
			"idle":         {},
		}
		for key, want := range wantUsage {
			got := mustGetMetric(t, db, p.ID, key, "")
			if d := diff(want, *got.Usage); d != "" {
				t.Errorf("usage of %s (-want +got):\n%s", key, d)
			}
			got = mustGetMetric(t, db, p.ID, key, "ver-u-"+key+"-1")
			if d := diff(want, *got.Usage); d != "" {
				t.Errorf("usage of %s read by versionID (-want +got):\n%s", key, d)
			}
		}
		listed, _, err := db.ListMetrics(ctx, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 50}})
		if err != nil {
			t.Fatalf("ListMetrics: %v", err)
		}
		for _, m := range listed {
			if d := diff(wantUsage[m.Key], *m.Usage); d != "" {
				t.Errorf("listed usage of %s (-want +got):\n%s", m.Key, d)
			}
		}

		// Expansions.
		e1 := catalog.ExperimentRef{Key: "exp-direct", Name: "Direct experiment", ProjectKey: "usage", EnvironmentID: prod.ID, EnvironmentKey: "production", CreatedAt: at(20 * time.Second), Status: "running"}
		e2 := catalog.ExperimentRef{Key: "exp-group", Name: "Group experiment", ProjectKey: "usage", EnvironmentID: test.ID, EnvironmentKey: "test", CreatedAt: at(21 * time.Second), Status: "running"}
		e3 := catalog.ExperimentRef{Key: "exp-archived", Name: "Archived experiment", ProjectKey: "usage", EnvironmentID: prod.ID, EnvironmentKey: "production", CreatedAt: at(22 * time.Second), ArchivedAt: ptr(at(30 * time.Second)), Status: "running"}
		e4 := catalog.ExperimentRef{Key: "exp-done", Name: "Stopped experiment", ProjectKey: "usage", EnvironmentID: prod.ID, EnvironmentKey: "production", CreatedAt: at(23 * time.Second), Status: "stopped"}
		g1 := catalog.MetricGroupRef{Key: "checkout-funnel", Name: "Checkout funnel", Kind: "funnel", ProjectKey: "usage"}
		g2 := catalog.MetricGroupRef{Key: "guardrails", Name: "Guardrails", Kind: "standard", ProjectKey: "usage"}
		r1 := catalog.GuardedRolloutRef{ID: "r1", ProjectKey: "usage", FlagKey: "flag-a", FlagName: "Flag A", FlagPurpose: "release", EnvironmentKey: "production", EnvironmentName: "Production", Status: "monitoring", CreatedAt: at(40 * time.Second)}
		r2 := catalog.GuardedRolloutRef{ID: "r2", ProjectKey: "usage", FlagKey: "flag-e", FlagName: "Flag E", FlagPurpose: "", EnvironmentKey: "test", EnvironmentName: "Test", Status: "rolled_back", CreatedAt: at(41 * time.Second)}
		r3 := catalog.GuardedRolloutRef{ID: "r3", ProjectKey: "usage", FlagKey: "flag-f", FlagName: "Flag F", FlagPurpose: "migration", EnvironmentKey: "production", EnvironmentName: "Production", Status: "monitoring", CreatedAt: at(42 * time.Second)}

		everything := catalog.ExpandSet{catalog.ExpandExperiments: true, catalog.ExpandMetricGroups: true, catalog.ExpandGuardedRollouts: true, catalog.ExpandEventSources: true, catalog.ExpandLastUsedInExperiment: true, catalog.ExpandLastUsedInGuardedRollout: true}
		for _, tc := range []struct {
			metric string
			want   catalog.ExpandSet
			x      catalog.MetricExpansions
		}{
			{"direct", everything, catalog.MetricExpansions{
				Experiments:     []catalog.ExperimentRef{e1, e3},
				MetricGroups:    []catalog.MetricGroupRef{g2},
				GuardedRollouts: []catalog.GuardedRolloutRef{r1},
				EventSources: []catalog.EventSource{
					{EnvironmentKey: "production", Kind: "custom", Key: "direct", FirstSeen: at(45 * time.Second), LastSeen: at(50 * time.Second)},
					{EnvironmentKey: "test", Kind: "custom", Key: "direct", FirstSeen: at(40 * time.Second), LastSeen: at(55 * time.Second)},
				},
				LastUsedInExperiment:     &e3,
				LastUsedInGuardedRollout: &r1,
			}},
			{"grouped", everything, catalog.MetricExpansions{
				Experiments:              []catalog.ExperimentRef{e2, e3, e4},
				MetricGroups:             []catalog.MetricGroupRef{g1, g2},
				GuardedRollouts:          []catalog.GuardedRolloutRef{r2, r3},
				EventSources:             []catalog.EventSource{},
				LastUsedInExperiment:     &e4,
				LastUsedInGuardedRollout: &r3,
			}},
			{"rollout-only", everything, catalog.MetricExpansions{
				Experiments:              []catalog.ExperimentRef{},
				MetricGroups:             []catalog.MetricGroupRef{},
				GuardedRollouts:          []catalog.GuardedRolloutRef{r1},
				EventSources:             []catalog.EventSource{},
				LastUsedInGuardedRollout: &r1,
			}},
			{"idle", everything, catalog.MetricExpansions{
				Experiments:     []catalog.ExperimentRef{},
				MetricGroups:    []catalog.MetricGroupRef{},
				GuardedRollouts: []catalog.GuardedRolloutRef{},
				EventSources:    []catalog.EventSource{},
			}},
			{"grouped", catalog.ExpandSet{}, catalog.MetricExpansions{}},
			{"grouped", catalog.ExpandSet{catalog.ExpandExperiments: true}, catalog.MetricExpansions{Experiments: []catalog.ExperimentRef{e2, e3, e4}}},
			{"grouped", catalog.ExpandSet{catalog.ExpandLastUsedInExperiment: true}, catalog.MetricExpansions{LastUsedInExperiment: &e4}},
			{"grouped", catalog.ExpandSet{catalog.ExpandMetricGroups: true}, catalog.MetricExpansions{MetricGroups: []catalog.MetricGroupRef{g1, g2}}},
			{"grouped", catalog.ExpandSet{catalog.ExpandGuardedRollouts: true}, catalog.MetricExpansions{GuardedRollouts: []catalog.GuardedRolloutRef{r2, r3}}},
			{"grouped", catalog.ExpandSet{catalog.ExpandLastUsedInGuardedRollout: true}, catalog.MetricExpansions{LastUsedInGuardedRollout: &r3}},
			{"direct", catalog.ExpandSet{catalog.ExpandEventSources: true}, catalog.MetricExpansions{EventSources: []catalog.EventSource{
				{EnvironmentKey: "production", Kind: "custom", Key: "direct", FirstSeen: at(45 * time.Second), LastSeen: at(50 * time.Second)},
				{EnvironmentKey: "test", Kind: "custom", Key: "direct", FirstSeen: at(40 * time.Second), LastSeen: at(55 * time.Second)},
			}}},
		} {
			got, err := db.MetricExpansions(ctx, idOf[tc.metric], tc.want)
			if err != nil {
				t.Fatalf("MetricExpansions(%s, %v): %v", tc.metric, tc.want, err)
			}
			if d := diff(&tc.x, got); d != "" {
				t.Errorf("MetricExpansions(%s, %v) (-want +got):\n%s", tc.metric, tc.want, d)
			}
		}

		// Filters over connections.
		connected := []string{"direct", "grouped", "rollout-only"}
		unconnected := []string{"group-only", "idle"}
		for _, tc := range []struct {
			name string
			q    catalog.MetricQuery
			want []string
		}{
			{"has connections", catalog.MetricQuery{HasConnections: ptr(true)}, connected},
			{"has no connections", catalog.MetricQuery{HasConnections: ptr(false)}, unconnected},
			{"used in experiments", catalog.MetricQuery{UsedIn: "experiments"}, []string{"direct", "grouped"}},
			{"used in guarded rollouts", catalog.MetricQuery{UsedIn: "guarded_rollouts"}, connected},
			{"used in any", catalog.MetricQuery{UsedIn: "any"}, connected},
			{"used in none", catalog.MetricQuery{UsedIn: "none"}, unconnected},
			{"connected and in experiments", catalog.MetricQuery{HasConnections: ptr(true), UsedIn: "experiments"}, []string{"direct", "grouped"}},
			{"view", catalog.MetricQuery{View: "kpis"}, []string{"direct", "idle"}},
			{"view and unconnected", catalog.MetricQuery{View: "kpis", UsedIn: "none"}, []string{"idle"}},
		} {
			q := tc.q
			q.Limit = 50
			got, total, err := db.ListMetrics(ctx, p.ID, q)
			if err != nil {
				t.Fatalf("ListMetrics %s: %v", tc.name, err)
			}
			if d := cmp.Diff(tc.want, keysOf(got)); d != "" || total != len(tc.want) {
				t.Errorf("ListMetrics %s: total %d, keys (-want +got):\n%s", tc.name, total, d)
			}
		}

		// Deleting a metric that others use fails and keeps it.
		group := func(key string) catalog.Blocker { return catalog.Blocker{Kind: catalog.BlockerMetricGroup, Key: key} }
		exp := func(key, env, status string) catalog.Blocker {
			return catalog.Blocker{Kind: catalog.BlockerExperiment, Key: key, EnvironmentKey: env, Status: status}
		}
		rollout := func(flag, env string) catalog.Blocker {
			return catalog.Blocker{Kind: catalog.BlockerRollout, Key: flag, EnvironmentKey: env, Status: "monitoring"}
		}
		for _, tc := range []struct {
			key   string
			users []catalog.Blocker
		}{
			{"group-only", []catalog.Blocker{group("guardrails")}},
			{"rollout-only", []catalog.Blocker{rollout("flag-a", "production")}},
			{"grouped", []catalog.Blocker{exp("exp-archived", "production", "running"), exp("exp-done", "production", "stopped"), group("checkout-funnel"), group("guardrails")}},
			{"direct", []catalog.Blocker{exp("exp-archived", "production", "running"), exp("exp-direct", "production", "running"), rollout("flag-a", "production"), group("guardrails")}},
		} {
			err := db.DeleteMetric(ctx, p.ID, tc.key)
			if !errors.Is(err, core.ErrInUse) {
				t.Errorf("DeleteMetric(%s): err = %v, want ErrInUse", tc.key, err)
				continue
			}
			var inUse *catalog.InUseError
			if !errors.As(err, &inUse) {
				t.Errorf("DeleteMetric(%s): err = %v, want *catalog.InUseError", tc.key, err)
				continue
			}
			if d := cmp.Diff(tc.users, inUse.Blockers); d != "" {
				t.Errorf("DeleteMetric(%s) blockers (-want +got):\n%s", tc.key, d)
			}
			if _, err := db.GetMetric(ctx, p.ID, tc.key, ""); err != nil {
				t.Errorf("metric %s after refused delete: %v", tc.key, err)
			}
		}
		if err := db.DeleteMetric(ctx, p.ID, "idle"); err != nil {
			t.Errorf("DeleteMetric(idle): %v", err)
		}
		if n := raw.count("SELECT COUNT(*) FROM view_metrics WHERE metric_id = ?", idOf["idle"]); n != 0 {
			t.Errorf("view_metrics rows of a deleted metric = %d, want 0", n)
		}

		// Deleting the project removes everything under it, usage included.
		t.Run("delete project with usage rows", func(t *testing.T) {
			if err := db.DeleteProject(ctx, "usage"); err != nil {
				t.Fatalf("DeleteProject with usage rows: %v", err)
			}
			for _, table := range []string{"metrics", "metric_versions", "metric_tags", "metric_groups", "metric_group_metrics",
				"experiments", "experiment_metrics", "guarded_rollouts", "guarded_rollout_metrics", "event_sources", "views", "view_metrics", "environments"} {
				if n := raw.count("SELECT COUNT(*) FROM " + table); n != 0 {
					t.Errorf("%s rows after DeleteProject = %d, want 0", table, n)
				}
			}
		})
	})
}
