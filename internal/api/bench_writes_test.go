package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// BenchmarkWriteGrowth measures whether writes stay flat as a project grows,
// in one run per backend: creates and patches through the handler at 1,000
// metrics, then the project grows to 100,000 through the write seam (batches
// of CreateMetric, no ANALYZE, as an import through the API would leave
// it), then the same writes again. The prepared statements and their plans
// carry over from the small project, which is what made every create read
// the whole project on PostgreSQL. It reports the median write latency at
// each size and their ratio as throughput (1k / 100k: ≥ 0.8 is flat):
//
//	go test -run='^$' -bench=BenchmarkWriteGrowth -benchtime=1x -timeout 30m ./internal/api/
func BenchmarkWriteGrowth(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db, err := store.Open(ctx, testdb.New(b, backend).URL)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			cat := catalog.New(db)
			if _, err := cat.Auth.Bootstrap(ctx, benchToken); err != nil {
				b.Fatal(err)
			}
			p, _, err := cat.Projects.CreateProject(ctx, catalog.ProjectPost{Key: "w", Name: "w"})
			if err != nil {
				b.Fatal(err)
			}
			owner, err := db.Owner(ctx)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now().Add(-200 * time.Hour).UTC().Truncate(time.Millisecond)
			grow := func(from, to int) {
				for lo := from; lo < to; lo += 2000 {
					err := db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) {
						for i := lo; i < min(lo+2000, to); i++ {
							if err := tx.CreateMetric(ctx, benchMetric(p, owner.ID, i, start.Add(time.Duration(i)*time.Second))); err != nil {
								return nil, err
							}
						}
						return nil, nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			e := benchEnv{srv: api.New(cat, api.Options{AuthCacheTTL: 2 * time.Second}), cat: cat}
			const writes = 1000
			phase := func(size string) (create, patch time.Duration) {
				var c, pt []time.Duration
				for i := range writes {
					t0 := time.Now()
					e.must(b, 201, "POST", "/api/v2/metrics/w",
						fmt.Sprintf(`{"key":"new-%s-%d","kind":"custom","eventKey":"e","tags":["bench"]}`, size, i))
					c = append(c, time.Since(t0))
					t0 = time.Now()
					e.must(b, 200, "PATCH", fmt.Sprintf("/api/v2/metrics/w/metric-%06d", i%100),
						fmt.Sprintf(`[{"op":"replace","path":"/description","value":"%s %d"}]`, size, i))
					pt = append(pt, time.Since(t0))
				}
				slices.Sort(c)
				slices.Sort(pt)
				return c[len(c)/2], pt[len(pt)/2]
			}
			grow(0, 1_000)
			for b.Loop() {
				c1, p1 := phase("1k")
				grow(1_000, 100_000)
				c100, p100 := phase("100k")
				b.ReportMetric(float64(c1.Microseconds())/1000, "create-1k-p50-ms")
				b.ReportMetric(float64(c100.Microseconds())/1000, "create-100k-p50-ms")
				b.ReportMetric(float64(p1.Microseconds())/1000, "patch-1k-p50-ms")
				b.ReportMetric(float64(p100.Microseconds())/1000, "patch-100k-p50-ms")
				b.ReportMetric(float64(c1)/float64(c100), "create-100k/1k-throughput")
				b.ReportMetric(float64(p1)/float64(p100), "patch-100k/1k-throughput")
			}
		})
	}
}
