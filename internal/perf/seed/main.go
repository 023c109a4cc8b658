// Command seed fills the default project of a metricsd database with n
// metrics in the pattern of the list benchmarks (benchdata.Metric: mixed
// kinds, ten rotating tags, a quarter numeric), for
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
	"log"
	"os"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/perf/benchdata"
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
	db, cat, err := benchdata.Open(ctx, dbURL, os.Getenv("METRICSD_ADMIN_TOKEN"))
	if err != nil {
		return err
	}
	defer db.Close()
	p, _, err := cat.Projects.GetProject(ctx, "default")
	if err != nil {
		return err
	}
	owner, err := db.Owner(ctx)
	if err != nil {
		return err
	}
	return benchdata.Import(ctx, db, n, func(i int, at time.Time) *catalog.Metric { return benchdata.Metric(p, owner.ID, i, at) })
}
