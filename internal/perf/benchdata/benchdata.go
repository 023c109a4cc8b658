// Package benchdata makes the databases that the benchmarks (internal/api,
// internal/web) and the load-test seeder (internal/perf/seed) measure: it
// opens and bootstraps a store, and imports many metrics at once.
package benchdata

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
)

// Open opens the database at dbURL and bootstraps it with the admin token
// token. The caller closes the DB.
func Open(ctx context.Context, dbURL, token string) (*store.DB, *catalog.Services, error) {
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	cat := catalog.New(db)
	if _, err := cat.Auth.Bootstrap(ctx, token); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, cat, nil
}

// importBatch is the number of metrics Import writes per ImportMetrics.
const importBatch = 5000

// Import imports the metrics metric(0, at0) … metric(n-1, at(n-1)), created
// one second apart and the last about now, in batches through
// store.ImportMetrics.
func Import(ctx context.Context, db *store.DB, n int, metric func(i int, at time.Time) *catalog.Metric) error {
	start := time.Now().Add(-time.Duration(n) * time.Second).UTC().Truncate(time.Millisecond)
	batch := make([]*catalog.Metric, 0, importBatch)
	for i := range n {
		batch = append(batch, metric(i, start.Add(time.Duration(i)*time.Second)))
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.ImportMetrics(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

// Metric is the i-th metric of the list benchmarks' project in p, created
// at at: mixed kinds (custom conversion when i%4 == 0, custom numeric when
// 1, pageview 2, click 3), ten rotating tags t0…t9 and "all", and the tag
// "rare" on one in 5,000.
func Metric(p *catalog.Project, ownerID string, i int, at time.Time) *catalog.Metric {
	def := catalog.MetricDef{
		Name: fmt.Sprintf("Metric %d %s", i, []string{"checkout", "signup", "latency", "errors"}[i%4]),
		Tags: []string{fmt.Sprintf("t%d", i%10), "all"}, MaintainerID: ownerID,
		RandomizationUnits: []string{"user"}, AnalysisType: "mean", UnitAggregationType: "average",
		DataSource: catalog.DataSource{Key: "launchdarkly"},
	}
	kind := catalog.KindCustom
	switch i % 4 {
	case 0:
		def.EventKey = "event-" + fmt.Sprint(i)
	case 1:
		def.EventKey, def.IsNumeric, def.SuccessCriteria = "value-"+fmt.Sprint(i), true, "LowerThanBaseline"
	case 2:
		kind, def.URLs = catalog.KindPageview, []catalog.URLMatcher{{Kind: "substring", Substring: "/checkout"}}
	case 3:
		kind, def.Selector = catalog.KindClick, ".buy"
		def.URLs = []catalog.URLMatcher{{Kind: "exact", URL: "https://example.com/"}}
	}
	if i%5000 == 7 {
		def.Tags = append(def.Tags, "rare")
	}
	return &catalog.Metric{
		ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key, Key: fmt.Sprintf("metric-%06d", i), Kind: kind,
		Version: 1, VersionID: uuid.NewString(), CreatedAt: at, UpdatedAt: at, Def: def,
	}
}
