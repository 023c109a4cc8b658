package web_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/web"
)

// BenchmarkMetricPage renders the page of a metric with one version and
// no events (small) and of one with 300 versions, 300 audit entries and
// events in every hour of the 30 days in both environments (large),
// alternating the two in the same loop, and reports each one's time.
// METRICSD_BENCH_BACKEND picks the store: sqlite (the default) or postgres.
func BenchmarkMetricPage(b *testing.B) {
	backend := os.Getenv("METRICSD_BENCH_BACKEND")
	if backend == "" {
		backend = "sqlite"
	}
	f := newFixture(b, testdb.New(b, backend), web.Options{})
	f.metric("small", "Small")
	f.metric("large", "Large")
	for i := 2; i <= 300; i++ {
		if _, err := f.svc.Metrics.PatchMetric(f.admin, "default", "large", []byte(fmt.Sprintf(`[{"op":"replace","path":"/name","value":"Large %d"}]`, i))); err != nil {
			b.Fatal(err)
		}
	}
	_, envs, err := f.svc.Projects.GetProject(f.admin, "default")
	if err != nil {
		b.Fatal(err)
	}
	hour := f.clock.Now().UTC().Truncate(time.Hour)
	rollups := map[events.RollupKey]*events.Rollup{}
	var seen []events.Seen
	for _, env := range envs {
		for h := range 720 {
			rollups[events.RollupKey{EnvID: env.ID, Kind: "custom", Key: "e-large", Hour: hour.Add(time.Duration(-h) * time.Hour).UnixMilli()}] = &events.Rollup{Count: int64(h%50 + 1)}
		}
		seen = append(seen, events.Seen{EnvID: env.ID, ProjectID: env.ProjectID, Kind: "custom", Key: "e-large",
			First: hour.Add(-719 * time.Hour).UnixMilli(), Last: hour.UnixMilli()})
	}
	if err := f.db.TransactEvents(f.admin, func(tx events.FlushTx) error {
		if err := events.LogRollups(f.admin, tx, rollups); err != nil {
			return err
		}
		return tx.TouchSources(f.admin, seen)
	}); err != nil {
		b.Fatal(err)
	}
	br := f.browser()
	br.mustSignIn(adminToken)
	pages := []struct {
		key string
		d   time.Duration
		n   int
	}{{key: "small"}, {key: "large"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range pages {
			p := &pages[j]
			start := time.Now()
			r := br.do(http.MethodGet, "/projects/default/metrics/"+p.key, nil)
			p.d += time.Since(start)
			if r.status != http.StatusOK {
				b.Fatalf("%s: %d", p.key, r.status)
			}
			p.n = len(r.body)
		}
	}
	for _, p := range pages {
		b.ReportMetric(float64(p.d.Microseconds())/float64(b.N), p.key+"-µs/page")
		b.ReportMetric(float64(p.n)/1024, p.key+"-KiB")
	}
}
