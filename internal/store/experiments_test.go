package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// seedExperiments makes a project with n metrics and n experiments in its
// production environment, experiment i using metric i; every other one is
// started. It goes through the experiment service, as the API does.
func seedExperiments(t *testing.T, db *store.DB, key string, n int) catalog.Project {
	t.Helper()
	ctx := context.Background()
	p, _ := mustProject(t, db, "proj-"+key, key, at(0))
	svc := experiment.NewExperiments(db, core.SystemClock)
	for i := range n {
		mk := fmt.Sprintf("m%03d", i)
		mustMetric(t, db, simpleMetric(p, key+"-"+mk, mk, at(time.Duration(i)*time.Second)))
		in := experiment.ExperimentPost{Key: fmt.Sprintf("x%03d", i), Name: "Experiment", Iteration: &experiment.IterationInput{
			Hypothesis: ptr("h"),
			Flags:      map[string]experiment.FlagInput{"flag": {RuleID: ptr("fallthrough"), FlagConfigVersion: ptr(1)}},
			Metrics:    []experiment.MetricInput{{Key: mk}}, PrimarySingleMetricKey: mk,
			Treatments: []experiment.TreatmentInput{
				{Name: "A", Baseline: ptr(true), AllocationPercent: ptr("50"), Parameters: []experiment.Parameter{{FlagKey: "flag", VariationID: "a"}}},
				{Name: "B", Baseline: ptr(false), AllocationPercent: ptr("50"), Parameters: []experiment.Parameter{{FlagKey: "flag", VariationID: "b"}}},
			},
		}}
		if _, err := svc.CreateExperiment(ctx, key, "production", in); err != nil {
			t.Fatalf("CreateExperiment %d: %v", i, err)
		}
		if i%2 == 0 {
			if _, err := svc.PatchExperiment(ctx, key, "production", in.Key, []byte(`{"instructions":[{"kind":"startIteration"}]}`)); err != nil {
				t.Fatalf("start %d: %v", i, err)
			}
		}
	}
	return p
}

// TestConnectedReadsUseFixedStatements asserts that a page of metrics with
// their experiment counts, filtered on connections, and a page of
// experiments with their iterations and metrics, cost the same number of
// statements for one item as for fifty.
func TestConnectedReadsUseFixedStatements(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()
		db := mustOpen(t, b.URL)
		small := seedExperiments(t, db, "small", 2)
		large := seedExperiments(t, db, "large", 50)
		cost := func(fn func() error) int64 {
			t.Helper()
			before := db.Statements()
			if err := fn(); err != nil {
				t.Fatal(err)
			}
			return db.Statements() - before
		}
		q := catalog.MetricQuery{Page: core.Page{Limit: 50}, HasConnections: ptr(true)}
		listed := func(p catalog.Project, want int) func() error {
			return func() error {
				ms, total, err := db.ListMetrics(ctx, p.ID, q)
				if err == nil && (len(ms) != want || total != want || ms[0].Usage.ExperimentCount != 1 || ms[0].Usage.ActiveExperimentCount != 1) {
					err = fmt.Errorf("page of %d (total %d), first usage %+v", len(ms), total, ms[0].Usage)
				}
				return err
			}
		}
		if s, l := cost(listed(small, 2)), cost(listed(large, 50)); s != l || l != 4 {
			t.Errorf("ListMetrics with connections: 2 metrics %d statements, 50 metrics %d; want 4 for both (generation, count, the page's IDs, its rows)", s, l)
		}
		exps := func(key string, want int) func() error {
			return func() error {
				s, err := db.ResolveScope(ctx, key, "production")
				if err != nil {
					return err
				}
				es, total, err := db.ListExperiments(ctx, s, experiment.Query{Limit: 50, Active: true})
				if err == nil && (len(es) != want || total != want || len(es[0].Iterations) != 1 || len(es[0].Iterations[0].Metrics) != 1) {
					err = fmt.Errorf("page of %d (total %d)", len(es), total)
				}
				return err
			}
		}
		// scope (project, environment), count, page, iterations, current
		// metrics of drafts, pinned versions of started iterations.
		if s, l := cost(exps("small", 2)), cost(exps("large", 50)); s != l || l != 7 {
			t.Errorf("ListExperiments: 2 experiments %d statements, 50 experiments %d; want 7 for both", s, l)
		}
	})
}
