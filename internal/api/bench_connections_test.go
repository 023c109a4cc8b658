package api_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/store"
)

// seedExperiments adds n experiments to the production environment of
// project key, experiment i measuring metric-(i*step); every other one has
// a running iteration that pinned the metric's version.
func seedExperiments(b *testing.B, ctx context.Context, cat *catalog.Services, db *store.DB, key string, n, step int) {
	b.Helper()
	p, envs, err := cat.Projects.GetProject(ctx, key)
	if err != nil {
		b.Fatal(err)
	}
	var prod catalog.Environment
	for _, e := range envs {
		if e.Key == "production" {
			prod = e
		}
	}
	start := time.Now().Add(-time.Duration(n) * time.Second).UTC().Truncate(time.Millisecond)
	batch := make([]*experiment.Experiment, 0, 1000)
	for i := range n {
		m, err := db.GetMetric(ctx, p.ID, fmt.Sprintf("metric-%06d", i*step), "")
		if err != nil {
			b.Fatal(err)
		}
		at := start.Add(time.Duration(i) * time.Second)
		it := experiment.Iteration{ID: core.NewObjectID(), Number: 1, Status: experiment.StatusNotStarted, CreatedAt: at,
			Def: experiment.IterationDef{
				Hypothesis: "h", CanReshuffleTraffic: true, RandomizationUnit: "user", Attributes: []string{},
				Flags:   map[string]experiment.FlagInput{fmt.Sprintf("flag-%d", i): {RuleID: ptr("fallthrough"), FlagConfigVersion: ptr(1)}},
				Metrics: []experiment.MetricRef{{Key: m.Key, ID: m.ID}}, PrimarySingleMetricKey: m.Key,
				Treatments: []experiment.Treatment{{ID: "v", Name: "A", Baseline: true, AllocationPercent: "100",
					Parameters: []experiment.Parameter{{FlagKey: fmt.Sprintf("flag-%d", i), VariationID: "v"}}}},
			}}
		if i%2 == 0 {
			it.Status, it.StartedAt = experiment.StatusRunning, &at
			it.Pins = []experiment.Pin{{Key: m.Key, ID: m.ID, Version: m.VersionID}}
		}
		batch = append(batch, &experiment.Experiment{ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key,
			EnvironmentID: prod.ID, EnvironmentKey: prod.Key, Key: fmt.Sprintf("exp-%05d", i), Name: "Experiment",
			Tags: []string{}, Version: 1, CreatedAt: at, UpdatedAt: at, Iterations: []experiment.Iteration{it}})
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.ImportExperiments(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkConnections measures a page of 50 connected metrics with their
// experiment counts among 100,000 metrics, 10,000 of which 10,000
// experiments use, with and without expand=experimentCount:
//
//	go test -run=^$ -bench=BenchmarkConnections -benchtime=500x ./internal/api/
func BenchmarkConnections(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, cat := openBench(b, ctx, backend)
			seedProject(b, ctx, cat, db, "c100", 100_000)
			seedExperiments(b, ctx, cat, db, "c100", 10_000, 10)
			e := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second, RateLimits: &ratelimit.Config{}}), cat: cat}
			page := url.Values{"filter": {"hasConnections equals true"}, "limit": {"50"}}
			plain := "/api/v2/metrics/c100?" + page.Encode()
			page.Set("expand", "experimentCount")
			expanded := "/api/v2/metrics/c100?" + page.Encode()
			// The first page after a write also counts the matches; later
			// ones read the count from the cache until the next write.
			e.must(b, 200, "GET", plain, "")
			e.must(b, 200, "GET", expanded, "")
			b.Run("page-50-connected", func(b *testing.B) {
				timed(b, func(i int) { e.must(b, 200, "GET", plain, "") })
			})
			b.Run("page-50-connected-expand-experimentCount", func(b *testing.B) {
				timed(b, func(i int) { e.must(b, 200, "GET", expanded, "") })
			})
			b.Run("experiments-page-20", func(b *testing.B) {
				timed(b, func(i int) { e.must(b, 200, "GET", "/api/v2/projects/c100/environments/production/experiments", "") })
			})
		})
	}
}
