package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
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

// Benchmarks of sustained ingestion (docs/PERFORMANCE.md): batches of 100
// custom events over 1,000 event keys, posted over loopback HTTP by
// concurrent senders, against only decoding the same payloads.
//
//	go test -run '^$' -bench 'Ingest' -benchtime 5s ./internal/ingest/

const benchToken = "api-bench-0123456789abcdef0123456789abcdef"

// payloads returns n bodies of 100 custom events each, cycling over 1,000
// event keys and 10,000 users, a third of them with a metricValue.
func payloads(n int) [][]byte {
	now := time.Now().UnixMilli()
	out := make([][]byte, n)
	k := 0
	for i := range out {
		var b strings.Builder
		b.WriteByte('[')
		for j := range 100 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"kind":"custom","creationDate":%d,"key":"event-%d","context":{"kind":"user","key":"user-%d"}`, now, k%1000, (k*7)%10000)
			if k%3 == 0 {
				fmt.Fprintf(&b, `,"metricValue":%d.5`, k%50)
			}
			b.WriteByte('}')
			k++
		}
		b.WriteByte(']')
		out[i] = []byte(b.String())
	}
	return out
}

// BenchmarkIngestDecodeOnly decodes the payloads of BenchmarkIngestHTTP
// as the handler does, into reused memory (events.Scratch): the baseline
// of the ingestion ratio (issue 10: ingestion ≥ 0.5× decoding alone).
func BenchmarkIngestDecodeOnly(b *testing.B) {
	var sc events.Scratch
	benchDecode(b, sc.Decode)
}

// BenchmarkIngestDecodeAlloc is BenchmarkIngestDecodeOnly with fresh
// memory per body (events.Decode), the baseline of the figures recorded
// before December 2026: it allocates the events of every body, which the
// handler does not, and so runs slower than the handler's decoding.
func BenchmarkIngestDecodeAlloc(b *testing.B) { benchDecode(b, events.Decode) }

// benchDecode decodes the benchmark's payloads with decode, one after
// the other.
func benchDecode(b *testing.B, decode func([]byte) ([]events.Event, int, error)) {
	binaryRuntime(b)
	bodies := payloads(64)
	b.ResetTimer()
	cpu := markCPU()
	for i := 0; b.Loop(); i++ {
		if _, _, err := decode(bodies[i%len(bodies)]); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, int64(b.N))
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIngestDecodeOnlyParallel decodes the same payloads on every
// core at once (b.RunParallel, one goroutine per core, each with its own
// events.Scratch): the ceiling of decoding on this machine, beside the
// serial loop above, which is the baseline of the ingestion ratio.
func BenchmarkIngestDecodeOnlyParallel(b *testing.B) {
	binaryRuntime(b)
	bodies := payloads(64)
	var seq atomic.Int64
	b.ResetTimer()
	cpu := markCPU()
	b.RunParallel(func(pb *testing.PB) {
		var sc events.Scratch
		i := int(seq.Add(1)) * 17
		for pb.Next() {
			if _, _, err := sc.Decode(bodies[i%len(bodies)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	reportCPU(b, cpu, int64(b.N))
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "events/s")
}

// cpuMark is where the CPU clocks stood at the start of a measurement.
type cpuMark struct{ proc, busy, idle time.Duration }

func markCPU() cpuMark {
	busy, idle := machineTime()
	return cpuMark{proc: cpuTime(), busy: busy, idle: idle}
}

// reportCPU reports, per accepted post since the mark, the CPU time this
// process used (cpu-µs/post) and, where /proc/stat is at hand, the whole
// machine's (machine-µs/post: the database server's work too) and the
// share of the CPUs' time that was idle or waiting for I/O (idle-%).
func reportCPU(b *testing.B, m cpuMark, accepted int64) {
	if accepted <= 0 {
		return
	}
	if used := cpuTime() - m.proc; used > 0 {
		b.ReportMetric(float64(used.Microseconds())/float64(accepted), "cpu-µs/post")
	}
	busy, idle := machineTime()
	if busy, idle := busy-m.busy, idle-m.idle; busy > 0 {
		b.ReportMetric(float64(busy.Microseconds())/float64(accepted), "machine-µs/post")
		b.ReportMetric(100*float64(idle)/float64(busy+idle), "idle-%")
	}
}

// binaryRuntime gives the benchmark the runtime settings cmd/metricsd
// starts with (app.SetMemoryLimit: the soft memory limit and the
// collector's target), so that its figures are the binary's; they are
// restored when b ends.
func binaryRuntime(b *testing.B) {
	limit, gc := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	app.SetMemoryLimit(os.Getenv)
	b.Cleanup(func() {
		debug.SetMemoryLimit(limit)
		debug.SetGCPercent(gc)
	})
}

// startBench runs metricsd on a fresh database of backend and returns its
// base URL and the production SDK key.
func startBench(b *testing.B, backend testdb.Backend, cfg app.Config) (string, string) {
	b.Helper()
	binaryRuntime(b)
	_, base, key := startApp(b, backend, cfg)
	return base, key
}

// startApp is startBench that also returns the running app.
func startApp(b *testing.B, backend testdb.Backend, cfg app.Config) (*app.App, string, string) {
	b.Helper()
	cfg.Addr, cfg.DatabaseURL, cfg.AdminToken = "127.0.0.1:0", backend.URL, benchToken
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Serve(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	base := "http://" + a.Addr().String()
	req, _ := http.NewRequest("GET", base+"/api/v2/projects/default/environments/production", nil)
	req.Header.Set("Authorization", benchToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct{ APIKey string }
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		b.Fatal(err)
	}
	return a, base, env.APIKey
}

func post(client *http.Client, base, key string, body []byte, id string) (int, error) {
	req, _ := http.NewRequest("POST", base+"/bulk", bytes.NewReader(body))
	req.Header.Set("Authorization", key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-LaunchDarkly-Payload-ID", id)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func benchBackends(b *testing.B, fn func(b *testing.B, backend testdb.Backend)) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var backend testdb.Backend
			if name == "sqlite" {
				backend = testdb.Backend{Name: name, URL: "sqlite:" + filepath.Join(b.TempDir(), "bench.db")}
			} else {
				backend = testdb.New(b, name)
			}
			fn(b, backend)
		})
	}
}

// rawClient posts over one keep-alive HTTP/1.1 connection with prebuilt
// requests and one write per post: a sender that costs little of the
// machine it shares with the server.
type rawClient struct {
	conn net.Conn
	rd   *bufio.Reader
	head []byte
}

func dialRaw(base string) (*rawClient, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return nil, err
	}
	return &rawClient{conn: conn, rd: bufio.NewReaderSize(conn, 4096)}, nil
}

// post sends body to /bulk and returns the response's status; it reads the
// response's body (Content-Length or chunked) to the end.
func (c *rawClient) post(host, key string, body []byte, id string) (int, error) {
	h := append(c.head[:0], "POST /bulk HTTP/1.1\r\nHost: "...)
	h = append(h, host...)
	h = append(h, "\r\nAuthorization: "...)
	h = append(h, key...)
	h = append(h, "\r\nContent-Type: application/json\r\nX-LaunchDarkly-Payload-ID: "...)
	h = append(h, id...)
	h = append(h, "\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(body)), 10)
	h = append(h, "\r\n\r\n"...)
	c.head = h
	bufs := net.Buffers{h, body}
	if _, err := bufs.WriteTo(c.conn); err != nil {
		return 0, err
	}
	line, err := c.rd.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, err
	}
	length, chunked := 0, false
	for {
		line, err := c.rd.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		hl := strings.ToLower(strings.TrimSpace(string(line)))
		if hl == "" {
			break
		}
		if v, ok := strings.CutPrefix(hl, "content-length:"); ok {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if hl == "transfer-encoding: chunked" {
			chunked = true
		}
	}
	if !chunked {
		_, err = c.rd.Discard(length)
		return status, err
	}
	for {
		line, err := c.rd.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(line)), 16, 64)
		if err != nil {
			return 0, err
		}
		if _, err := c.rd.Discard(int(n) + 2); err != nil {
			return 0, err
		}
		if n == 0 {
			return status, nil
		}
	}
}

// BenchmarkIngestHTTP posts 100-event batches from 128 concurrent senders,
// each on a connection of its own; every 202 is a committed batch.
func BenchmarkIngestHTTP(b *testing.B) {
	benchBackends(b, func(b *testing.B, backend testdb.Backend) {
		base, key := startBench(b, backend, app.Config{})
		host := strings.TrimPrefix(base, "http://")
		bodies := payloads(64)
		var seq, failed, busy atomic.Int64
		b.SetParallelism(max(1, 128/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		cpu := markCPU()
		b.RunParallel(func(pb *testing.PB) {
			c, err := dialRaw(base)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.conn.Close()
			id := make([]byte, 0, 32)
			for pb.Next() {
				n := seq.Add(1)
				id = strconv.AppendInt(append(id[:0], "bench-"...), n, 10)
				st, err := c.post(host, key, bodies[n%int64(len(bodies))], string(id))
				switch {
				case err == nil && st == http.StatusServiceUnavailable:
					busy.Add(1)
				case err != nil || st != http.StatusAccepted:
					failed.Add(1)
					if err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
		reportCPU(b, cpu, int64(b.N)-failed.Load()-busy.Load())
		b.ReportMetric(float64(int64(b.N)-failed.Load()-busy.Load())*100/b.Elapsed().Seconds(), "events/s")
		// Posts answered 503 (back-pressure: the sender retries later).
		b.ReportMetric(float64(busy.Load()), "answered-503")
		b.ReportMetric(float64(failed.Load()), "failed")
	})
}

// BenchmarkIngestStore is the storage side of BenchmarkIngestHTTP alone:
// 128 concurrent posts' events, decoded once beforehand, aggregated and
// committed (Service.Accept) through a flusher of its own on the app's
// database, whose own fold loop folds the log every second as in
// BenchmarkIngestHTTP; no HTTP, no decoding. Its cpu-µs/post is what
// aggregation, group commit and fold cost per post.
func BenchmarkIngestStore(b *testing.B) {
	benchBackends(b, func(b *testing.B, backend testdb.Backend) {
		a, _, key := startApp(b, backend, app.Config{})
		ctx := context.Background()
		svc := events.NewService(a.Store(), events.Options{Flusher: events.FlusherOptions{FoldEvery: time.Hour}})
		fctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { svc.Flusher.Run(fctx); close(done) }()
		b.Cleanup(func() { stop(); <-done })
		env, err := svc.Keys.Resolve(ctx, "sdk", key)
		if err != nil {
			b.Fatal(err)
		}
		var posts [][]events.Event
		for _, body := range payloads(64) {
			evs, _, err := events.Decode(body)
			if err != nil {
				b.Fatal(err)
			}
			posts = append(posts, evs)
		}
		var seq, failed atomic.Int64
		b.SetParallelism(max(1, 128/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		cpu := markCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := seq.Add(1)
				if err := svc.Accept(ctx, env, "store-"+strconv.FormatInt(n, 10), posts[n%int64(len(posts))]); err != nil {
					failed.Add(1)
				}
			}
		})
		reportCPU(b, cpu, int64(b.N)-failed.Load())
		b.ReportMetric(float64(int64(b.N)-failed.Load())*100/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(failed.Load()), "failed")
	})
}

// BenchmarkIngestOverload offers ten times the senders the server reads
// at once (640 against --events-max-inflight 64) for three seconds, and
// reports the peak heap in use (server and senders, one process) and the
// share of posts answered 503.
func BenchmarkIngestOverload(b *testing.B) {
	benchBackends(b, func(b *testing.B, backend testdb.Backend) {
		base, key := startBench(b, backend, app.Config{EventsMaxInflight: 64})
		bodies := payloads(64)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 640, MaxConnsPerHost: 640}}
		for b.Loop() {
			var ok, busy, seq atomic.Int64
			var peak atomic.Uint64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			go func() {
				var ms runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
				}
			}()
			deadline := time.Now().Add(3 * time.Second)
			for range 640 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(deadline) {
						n := seq.Add(1)
						st, err := post(client, base, key, bodies[n%int64(len(bodies))], fmt.Sprintf("over-%d", n))
						switch {
						case err != nil:
						case st == http.StatusAccepted:
							ok.Add(1)
						case st == http.StatusServiceUnavailable:
							busy.Add(1)
							time.Sleep(10 * time.Millisecond)
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(ok.Load())*100/3, "events/s")
			b.ReportMetric(float64(busy.Load())/float64(max(1, ok.Load()+busy.Load())), "share-503")
		}
	})
}
