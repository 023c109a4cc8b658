package store_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/testdb"
)

// fullMetric sets every field of a metric and its definition.
func fullMetric(p catalog.Project, maintainer account.Member) *catalog.Metric {
	archived := at(90 * time.Minute)
	return &catalog.Metric{
		ID: "metric-full", ProjectID: p.ID, ProjectKey: p.Key, Key: "checkout-latency", Kind: catalog.KindTrace,
		Version: 1, VersionID: "9b2f7d0e-5f6c-4c1e-8d0a-000000000001", Usage: &catalog.MetricUsage{},
		CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour + time.Minute), ArchivedAt: &archived,
		MaintainerTeamKey: "team-checkout",
		Comment:           "initial version",
		Def: catalog.MetricDef{
			Name:            "Checkout latency",
			Description:     "Time from click to confirmation.\nSecond line with unicode: ✓",
			Category:        "performance",
			Tags:            []string{"checkout", "perf", "team:web"},
			MaintainerID:    maintainer.ID,
			IsNumeric:       true,
			Unit:            "ms",
			SuccessCriteria: "LowerThanBaseline",
			EventKey:        "checkout.latency",
			Selector:        "#buy > .button",
			URLs: []catalog.URLMatcher{
				{Kind: "exact", URL: "https://example.com/checkout?step=1"},
				{Kind: "substring", Substring: "/cart"},
				{Kind: "regex", Pattern: `^https://example\.com/p/\d+$`},
			},
			TraceQuery:          `service.name = "checkout"`,
			TraceValueLocation:  "attributes.duration_ms",
			RandomizationUnits:  []string{"user", "organization"},
			UnitAggregationType: "sum",
			AnalysisType:        "percentile",
			PercentileValue:     ptr(95),
			EventDefault:        &catalog.EventDefault{Disabled: false, Value: ptr(0.0)},
			DataSource: catalog.DataSource{
				Key: "snowflake-prod", EnvironmentKey: "production", Name: "Snowflake", IntegrationKey: "snowflake",
			},
			Filters: &catalog.EventFilter{
				Type: "group", Op: "and", Negate: true,
				Values: []any{
					map[string]any{
						"type": "contextAttribute", "attribute": "country", "op": "in",
						"values": []any{"US", "CA"}, "contextKind": "user", "negate": false,
					},
					map[string]any{
						"type": "group", "op": "or", "negate": false,
						"values": []any{
							map[string]any{"type": "eventProperty", "attribute": "amount", "op": "greaterThan", "values": []any{99.5}, "negate": false},
							map[string]any{"type": "eventProperty", "attribute": "beta", "op": "in", "values": []any{true}, "negate": true},
						},
					},
				},
			},
			Archived: true,
		},
	}
}

func TestMetricCreateGet(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		alice := mustMember(t, db, "alice", "alice@example.com", "writer", at(0))
		p, _ := mustProject(t, db, "proj-a", "proj-a", at(0))
		p2, _ := mustProject(t, db, "proj-b", "proj-b", at(0))
		mustTeam(t, db, "team-checkout", at(0), nil, nil)

		m := fullMetric(p, alice)
		if err := db.CreateMetric(ctx, m); err != nil {
			t.Fatalf("CreateMetric: %v", err)
		}
		want := *m
		want.Maintainer = &alice
		got := mustGetMetric(t, db, p.ID, m.Key, "")
		if d := diff(&want, got); d != "" {
			t.Errorf("GetMetric (-want +got):\n%s", d)
		}
		// The same version read by its ID.
		got = mustGetMetric(t, db, p.ID, m.Key, m.VersionID)
		if d := diff(&want, got); d != "" {
			t.Errorf("GetMetric(versionID) (-want +got):\n%s", d)
		}

		// A minimal metric: no maintainer, no archive time, optional fields empty.
		plain := simpleMetric(p, "metric-plain", "plain", at(2*time.Hour))
		mustMetric(t, db, plain)
		got = mustGetMetric(t, db, p.ID, "plain", "")
		if d := diff(plain, got); d != "" {
			t.Errorf("GetMetric(plain) (-want +got):\n%s", d)
		}

		dup := simpleMetric(p, "metric-dup", m.Key, at(0))
		wantErr(t, "CreateMetric duplicate key", db.CreateMetric(ctx, dup), core.ErrDuplicate)
		dupID := simpleMetric(p2, m.ID, "other-key", at(0))
		wantErr(t, "CreateMetric duplicate id", db.CreateMetric(ctx, dupID), core.ErrDuplicate)

		same := simpleMetric(p2, "metric-other-project", m.Key, at(0))
		if err := db.CreateMetric(ctx, same); err != nil {
			t.Fatalf("CreateMetric same key in another project: %v", err)
		}
		got = mustGetMetric(t, db, p2.ID, m.Key, "")
		if d := diff(same, got); d != "" {
			t.Errorf("GetMetric(other project) (-want +got):\n%s", d)
		}

		orphan := simpleMetric(p, "metric-orphan", "orphan", at(0))
		orphan.Def.MaintainerID = "nobody"
		wantErr(t, "CreateMetric unknown maintainer", db.CreateMetric(ctx, orphan), core.ErrReference)
		if _, err := db.GetMetric(ctx, p.ID, "orphan", ""); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("metric of a failed CreateMetric: err = %v, want ErrNotFound", err)
		}
		noProject := simpleMetric(catalog.Project{ID: "no-such-project"}, "metric-np", "np", at(0))
		wantErr(t, "CreateMetric unknown project", db.CreateMetric(ctx, noProject), core.ErrReference)

		for _, tc := range []struct{ project, key, version string }{
			{p.ID, "nope", ""},
			{"no-such-project", m.Key, ""},
			{p.ID, m.Key, "no-such-version"},
			{p.ID, "plain", m.VersionID}, // a version of another metric
			{p2.ID, m.Key, m.VersionID},  // same key, other project
		} {
			if _, err := db.GetMetric(ctx, tc.project, tc.key, tc.version); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("GetMetric(%q, %q, %q): err = %v, want ErrNotFound", tc.project, tc.key, tc.version, err)
			}
		}
	})
}

func TestMetricVersions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		alice := mustMember(t, db, "alice", "alice@example.com", "writer", at(0))
		bob := mustMember(t, db, "bob", "bob@example.com", "writer", at(0))
		p, _ := mustProject(t, db, "proj", "proj", at(0))
		mustTeam(t, db, "team-checkout", at(0), nil, nil)

		v1 := fullMetric(p, alice)
		mustMetric(t, db, v1)

		if ms, _, err := db.ListMetrics(ctx, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 50}, MaintainerTeamKey: "team-checkout"}); err != nil || len(ms) != 1 {
			t.Errorf("ListMetrics(team-checkout) before update = %d metrics, %v; want 1", len(ms), err)
		}

		v2 := *v1
		v2.Version, v2.VersionID = 2, "9b2f7d0e-5f6c-4c1e-8d0a-000000000002"
		v2.UpdatedAt = at(3 * time.Hour)
		v2.ArchivedAt = nil
		v2.MaintainerTeamKey = ""
		v2.Comment = "rename and unarchive"
		v2.Def.Name = "Checkout latency (p99)"
		v2.Def.Tags = []string{"perf", "renamed"}
		v2.Def.MaintainerID = bob.ID
		v2.Def.PercentileValue = ptr(99)
		v2.Def.Filters = nil
		v2.Def.Archived = false
		if err := db.UpdateMetric(ctx, &v2, 1); err != nil {
			t.Fatalf("UpdateMetric: %v", err)
		}

		wantV1, wantV2 := *v1, v2
		wantV1.Maintainer, wantV2.Maintainer = &alice, &bob
		if d := diff(&wantV2, mustGetMetric(t, db, p.ID, v1.Key, "")); d != "" {
			t.Errorf("head after update (-want +got):\n%s", d)
		}
		if d := diff(&wantV2, mustGetMetric(t, db, p.ID, v1.Key, v2.VersionID)); d != "" {
			t.Errorf("GetMetric(new versionID) (-want +got):\n%s", d)
		}
		if d := diff(&wantV1, mustGetMetric(t, db, p.ID, v1.Key, v1.VersionID)); d != "" {
			t.Errorf("GetMetric(old versionID) (-want +got):\n%s", d)
		}
		if _, err := db.GetMetric(ctx, p.ID, v1.Key, "unknown-version"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetMetric(unknown versionID): err = %v, want ErrNotFound", err)
		}
		// Projected columns follow the head: tags and maintainer filters.
		list := func(q catalog.MetricQuery) []string {
			t.Helper()
			q.Limit = 50
			ms, _, err := db.ListMetrics(ctx, p.ID, q)
			if err != nil {
				t.Fatalf("ListMetrics(%+v): %v", q, err)
			}
			return keysOf(ms)
		}
		for _, tc := range []struct {
			name string
			q    catalog.MetricQuery
			want []string
		}{
			{"old tag", catalog.MetricQuery{TagsAll: []string{"checkout"}}, []string{}},
			{"new tag", catalog.MetricQuery{TagsAll: []string{"renamed"}}, []string{v1.Key}},
			{"old maintainer", catalog.MetricQuery{MaintainerIDs: []string{alice.ID}}, []string{}},
			{"new maintainer", catalog.MetricQuery{MaintainerIDs: []string{bob.ID}}, []string{v1.Key}},
			{"new name", catalog.MetricQuery{Queries: [][]string{{"(P99)"}}}, []string{v1.Key}},
			{"cleared team", catalog.MetricQuery{MaintainerTeamKey: "team-checkout"}, []string{}},
		} {
			if d := cmp.Diff(tc.want, list(tc.q)); d != "" {
				t.Errorf("ListMetrics %s (-want +got):\n%s", tc.name, d)
			}
		}

		// A stale update changes nothing.
		stale := v2
		stale.Version, stale.VersionID = 2, "stale-version"
		stale.Def.Name = "stale"
		stale.Def.Tags = []string{"stale"}
		wantErr(t, "UpdateMetric with stale prevVersion", db.UpdateMetric(ctx, &stale, 1), core.ErrStale)
		stale.Version = 3
		wantErr(t, "UpdateMetric with future prevVersion", db.UpdateMetric(ctx, &stale, 5), core.ErrStale)
		if d := diff(&wantV2, mustGetMetric(t, db, p.ID, v1.Key, "")); d != "" {
			t.Errorf("head after stale update (-want +got):\n%s", d)
		}
		if _, err := db.GetMetric(ctx, p.ID, v1.Key, "stale-version"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("version of a stale update: err = %v, want ErrNotFound", err)
		}
		if n := raw.count("SELECT COUNT(*) FROM metric_versions WHERE metric_id = ?", v1.ID); n != 2 {
			t.Errorf("metric_versions = %d, want 2", n)
		}
		if got := list(catalog.MetricQuery{TagsAll: []string{"stale"}}); len(got) != 0 {
			t.Errorf("tags of a stale update were stored: %v", got)
		}
		unknown := *simpleMetric(p, "no-such-metric", "x", at(0))
		unknown.Version = 2
		wantErr(t, "UpdateMetric of an unknown metric", db.UpdateMetric(ctx, &unknown, 1), core.ErrStale)

		// An update naming no member fails with ErrReference and stores nothing.
		bad := v2
		bad.Version, bad.VersionID = 3, "bad-maintainer"
		bad.Def.MaintainerID = "nobody"
		wantErr(t, "UpdateMetric unknown maintainer", db.UpdateMetric(ctx, &bad, 2), core.ErrReference)
		if d := diff(&wantV2, mustGetMetric(t, db, p.ID, v1.Key, "")); d != "" {
			t.Errorf("head after failed update (-want +got):\n%s", d)
		}
		if n := raw.count("SELECT COUNT(*) FROM metric_versions WHERE metric_id = ?", v1.ID); n != 2 {
			t.Errorf("metric_versions after failed update = %d, want 2", n)
		}
	})
}

func TestUpdateMetricRace(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		p, _ := mustProject(t, db, "proj", "proj", at(0))
		m := simpleMetric(p, "metric-race", "race", at(0))
		mustMetric(t, db, m)

		const n = 8
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				next := *m
				next.Version = 2
				next.VersionID = fmt.Sprintf("race-%d", i)
				next.Def.Name = fmt.Sprintf("writer %d", i)
				next.Def.Tags = []string{fmt.Sprintf("w%d", i)}
				next.UpdatedAt = at(time.Duration(i+1) * time.Second)
				<-start
				errs[i] = db.UpdateMetric(ctx, &next, 1)
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Errorf("writers %d and %d both succeeded", winner, i)
				}
				winner = i
			case !errors.Is(err, core.ErrStale):
				t.Errorf("writer %d: err = %v, want nil or ErrStale", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no writer succeeded")
		}
		got := mustGetMetric(t, db, p.ID, m.Key, "")
		if got.Version != 2 || got.VersionID != fmt.Sprintf("race-%d", winner) || got.Def.Name != fmt.Sprintf("writer %d", winner) {
			t.Errorf("head = version %d %q %q, want version 2 of writer %d", got.Version, got.VersionID, got.Def.Name, winner)
		}
		if d := cmp.Diff([]string{fmt.Sprintf("w%d", winner)}, got.Def.Tags); d != "" {
			t.Errorf("head tags (-want +got):\n%s", d)
		}
		raw := openRaw(t, b.URL)
		if c := raw.count("SELECT COUNT(*) FROM metric_versions WHERE metric_id = ?", m.ID); c != 2 {
			t.Errorf("metric_versions = %d, want 2", c)
		}
		if c := raw.count("SELECT COUNT(*) FROM metric_tags WHERE metric_id = ?", m.ID); c != 1 {
			t.Errorf("metric_tags = %d, want 1", c)
		}
	})
}

func TestDeleteMetric(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		p, _ := mustProject(t, db, "proj-a", "proj-a", at(0))
		p2, _ := mustProject(t, db, "proj-b", "proj-b", at(0))
		m := simpleMetric(p, "metric-del", "doomed", at(0))
		m.Def.Tags = []string{"x"}
		mustMetric(t, db, m)
		next := *m
		next.Version, next.VersionID = 2, "ver-metric-del-2"
		if err := db.UpdateMetric(ctx, &next, 1); err != nil {
			t.Fatalf("UpdateMetric: %v", err)
		}
		other := simpleMetric(p2, "metric-keep", "doomed", at(0))
		mustMetric(t, db, other)

		if err := db.DeleteMetric(ctx, p.ID, "doomed"); err != nil {
			t.Fatalf("DeleteMetric: %v", err)
		}
		for _, v := range []string{"", m.VersionID, next.VersionID} {
			if _, err := db.GetMetric(ctx, p.ID, "doomed", v); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("GetMetric(%q) after delete: err = %v, want ErrNotFound", v, err)
			}
		}
		for _, table := range []string{"metrics WHERE id", "metric_versions WHERE metric_id", "metric_tags WHERE metric_id"} {
			if n := raw.count("SELECT COUNT(*) FROM "+table+" = ?", m.ID); n != 0 {
				t.Errorf("%s rows left: %d", table, n)
			}
		}
		if d := diff(other, mustGetMetric(t, db, p2.ID, "doomed", "")); d != "" {
			t.Errorf("same key in another project (-want +got):\n%s", d)
		}
		wantErr(t, "DeleteMetric again", db.DeleteMetric(ctx, p.ID, "doomed"), core.ErrNotFound)
		wantErr(t, "DeleteMetric unknown project", db.DeleteMetric(ctx, "no-such-project", "doomed"), core.ErrNotFound)
	})
}

func TestImportMetrics(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		p, _ := mustProject(t, db, "proj-import", "import", at(0))
		mustMetric(t, db, simpleMetric(p, "i-0", "existing", at(0)))
		list := func() ([]string, int) {
			t.Helper()
			ms, total, err := db.ListMetrics(ctx, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 50}})
			if err != nil {
				t.Fatalf("ListMetrics: %v", err)
			}
			return keysOf(ms), total
		}
		if keys, total := list(); total != 1 || len(keys) != 1 {
			t.Fatalf("before import: %v, total %d", keys, total)
		}

		// All or none: the last metric repeats a key.
		bad := []*catalog.Metric{
			simpleMetric(p, "i-1", "one", at(time.Second)),
			simpleMetric(p, "i-2", "two", at(2*time.Second)),
			simpleMetric(p, "i-3", "existing", at(3*time.Second)),
		}
		wantErr(t, "ImportMetrics with a duplicate key", db.ImportMetrics(ctx, bad), core.ErrDuplicate)
		if keys, total := list(); total != 1 || !slices.Equal(keys, []string{"existing"}) {
			t.Errorf("after failed import: keys %v, total %d; want [existing], 1", keys, total)
		}

		good := []*catalog.Metric{
			simpleMetric(p, "i-1", "one", at(time.Second)),
			simpleMetric(p, "i-2", "two", at(2*time.Second)),
		}
		good[1].Def.Tags = []string{"imported"}
		if err := db.ImportMetrics(ctx, good); err != nil {
			t.Fatalf("ImportMetrics: %v", err)
		}
		if keys, total := list(); total != 3 || !slices.Equal(keys, []string{"existing", "one", "two"}) {
			t.Errorf("after import: keys %v, total %d; want [existing one two], 3", keys, total)
		}
		for _, m := range good {
			if d := diff(m, mustGetMetric(t, db, p.ID, m.Key, "")); d != "" {
				t.Errorf("imported %s (-want +got):\n%s", m.Key, d)
			}
		}
	})
}
