// Command seed fills the default project of a metricsd database with n
// metrics in the pattern of the list benchmarks (internal/api's
// seedProject: mixed kinds, ten rotating tags, a quarter numeric), for
// load tests over loopback (internal/perf/wrk-list.sh):
//
//	go run ./internal/perf/seed -database sqlite:/tmp/list.db -n 100000
//
// The admin token METRICSD_ADMIN_TOKEN is accepted by the database after
// it, as it is by a server started with it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
)

func main() {
	dbURL := flag.String("database", "", "database URL (sqlite:PATH or postgres://...)")
	n := flag.Int("n", 100000, "metrics to create")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := seed(ctx, *dbURL, *n); err != nil {
		log.Fatal(err)
	}
}

func seed(ctx context.Context, dbURL string, n int) error {
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	cat := catalog.New(db)
	if _, err := cat.Auth.Bootstrap(ctx, os.Getenv("METRICSD_ADMIN_TOKEN")); err != nil {
		return err
	}
	p, _, err := cat.Projects.GetProject(ctx, "default")
	if err != nil {
		return err
	}
	owner, err := db.Owner(ctx)
	if err != nil {
		return err
	}
	start := time.Now().Add(-time.Duration(n) * time.Second).UTC().Truncate(time.Millisecond)
	batch := make([]*catalog.Metric, 0, 5000)
	for i := range n {
		batch = append(batch, metric(p, owner.ID, i, start.Add(time.Duration(i)*time.Second)))
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.ImportMetrics(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

// metric is the i-th metric: the pattern of internal/api's benchMetric.
func metric(p *catalog.Project, ownerID string, i int, at time.Time) *catalog.Metric {
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
