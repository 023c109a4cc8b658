package ingest_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/testdb"
)

// BenchmarkIngestRatio measures issue 10's ratio (ingestion over loopback
// HTTP ÷ decoding the same payloads alone) so that a machine whose speed
// drifts from second to second does not decide it. It alternates rounds of
// a decoding window (one goroutine, the handler's decoder into reused
// memory, as BenchmarkIngestDecodeOnly) and an ingestion window (128
// senders, as BenchmarkIngestHTTP), each round's two windows a few seconds
// apart, and reports the median, lowest and highest of the rounds' ratios.
//
// An ingestion window ends once every sender has its answer and the event
// log it left behind is folded into the rollups: the fold a window's
// events cost is charged to that window, and none of it runs during the
// next decoding window. One window of ingestion comes first, not counted
// (a new database's first rows and file growth).
//
//	go test -run '^$' -bench IngestRatio -benchtime 1x ./internal/ingest/
//
// METRICSD_BENCH_ROUNDS (default 9) sets the rounds, METRICSD_BENCH_WINDOW
// (default 2s) the ingestion window; decoding windows are half as long.
func BenchmarkIngestRatio(b *testing.B) {
	rounds := 9
	if n, err := strconv.Atoi(os.Getenv("METRICSD_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	window := 2 * time.Second
	if d, err := time.ParseDuration(os.Getenv("METRICSD_BENCH_WINDOW")); err == nil && d > 0 {
		window = d
	}
	benchBackends(b, func(b *testing.B, backend testdb.Backend) {
		binaryRuntime(b)
		a, base, key := startApp(b, backend, app.Config{})
		host := strings.TrimPrefix(base, "http://")
		bodies := payloads(64)
		clients := make([]*rawClient, 128)
		for i := range clients {
			c, err := dialRaw(base)
			if err != nil {
				b.Fatal(err)
			}
			defer c.conn.Close()
			clients[i] = c
		}
		var seq atomic.Int64
		// ingest posts from every client until d has passed and returns
		// the events accepted per second, fold included.
		ingest := func(d time.Duration) float64 {
			var accepted, busy atomic.Int64
			start := time.Now()
			deadline := start.Add(d)
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Go(func() {
					id := make([]byte, 0, 32)
					for time.Now().Before(deadline) {
						n := seq.Add(1)
						id = strconv.AppendInt(append(id[:0], "ratio-"...), n, 10)
						st, err := c.post(host, key, bodies[n%int64(len(bodies))], string(id))
						switch {
						case err != nil:
							b.Error(err)
							return
						case st == http.StatusAccepted:
							accepted.Add(1)
						case st == http.StatusServiceUnavailable:
							busy.Add(1)
						default:
							b.Errorf("post answered %d", st)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := a.Store().FoldEvents(context.Background()); err != nil {
				b.Fatal(err)
			}
			if n := busy.Load(); n > 0 {
				b.Logf("%d posts answered 503", n)
			}
			return float64(accepted.Load()) * 100 / time.Since(start).Seconds()
		}
		decode := func(d time.Duration) float64 {
			var sc events.Scratch
			start := time.Now()
			n := 0
			for ; time.Since(start) < d; n++ {
				if _, _, err := sc.Decode(bodies[n%len(bodies)]); err != nil {
					b.Fatal(err)
				}
			}
			return float64(n) * 100 / time.Since(start).Seconds()
		}
		for b.Loop() {
			ingest(window)
			var ratios, ins, decs []float64
			for range rounds {
				dec := decode(window / 2)
				in := ingest(window)
				ratios, ins, decs = append(ratios, in/dec), append(ins, in), append(decs, dec)
				b.Logf("decode %.0f events/s, ingest %.0f events/s, ratio %.3f", dec, in, in/dec)
			}
			b.ReportMetric(median(ratios), "ratio-median")
			b.ReportMetric(slices.Min(ratios), "ratio-min")
			b.ReportMetric(slices.Max(ratios), "ratio-max")
			b.ReportMetric(median(ins), "ingest-events/s")
			b.ReportMetric(median(decs), "decode-events/s")
		}
	})
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
