package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/testdb"
)

// faultProxy is a TCP proxy between metricsd and PostgreSQL that a test can
// stall (stop forwarding bytes, sockets kept open, like a server that hangs)
// and whose connections it can kill.
type faultProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	stalled chan struct{} // non-nil while stalled; closed on resume
	pairs   map[*proxyPair]struct{}

	// clientClosed counts connections that metricsd closed itself.
	clientClosed atomic.Int64
	accepted     atomic.Int64
	wg           sync.WaitGroup
}

type proxyPair struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{}
	killed         atomic.Bool
}

func (p *proxyPair) close() {
	p.once.Do(func() {
		close(p.done)
		p.client.Close()
		p.server.Close()
	})
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, pairs: map[*proxyPair]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.resume()
		p.kill()
		p.wg.Wait()
	})
	return p
}

func (p *faultProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		pair := &proxyPair{client: c, server: s, done: make(chan struct{})}
		p.mu.Lock()
		p.pairs[pair] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() {
			if p.pipe(pair, s, c) && !pair.killed.Load() {
				p.clientClosed.Add(1)
			}
			pair.close()
		})
		p.wg.Go(func() {
			p.pipe(pair, c, s)
			pair.close()
		})
		go func() {
			<-pair.done
			p.mu.Lock()
			delete(p.pairs, pair)
			p.mu.Unlock()
		}()
	}
}

// pipe copies src to dst, holding bytes back while the proxy is stalled. It
// reports whether src ended (rather than dst failing or the pair closing).
func (p *faultProxy) pipe(pair *proxyPair, dst, src net.Conn) (srcEnded bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.stalled
			p.mu.Unlock()
			if gate != nil {
				select {
				case <-gate:
				case <-pair.done:
					return false
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return false
			}
		}
		if err != nil {
			select {
			case <-pair.done:
				return false
			default:
			}
			return errors.Is(err, io.EOF) || !errors.Is(err, net.ErrClosed)
		}
	}
}

func (p *faultProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

func (p *faultProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
}

// kill closes every connection the proxy carries; new ones are accepted.
func (p *faultProxy) kill() {
	p.mu.Lock()
	pairs := make([]*proxyPair, 0, len(p.pairs))
	for pair := range p.pairs {
		pairs = append(pairs, pair)
	}
	p.mu.Unlock()
	for _, pair := range pairs {
		pair.killed.Store(true)
		pair.close()
	}
}

// throughProxy parses dsn and returns it with the host:port it names, for
// the caller to point at a proxy.
func throughProxy(t *testing.T, dsn string) (proxied *url.URL, target string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target = u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	return u, target
}

// TestDatabaseStall: with PostgreSQL behind a proxy that stops forwarding
// bytes, every API request under a concurrent load of reads and writes
// answers within the request timeout (plus slack) with a JSON 503, and
// /healthz with 503; when the proxy forwards again, or its connections are
// killed, the same server serves requests again without a restart.
func TestDatabaseStall(t *testing.T) {
	b := testdb.New(t, "postgres")
	u, target := throughProxy(t, b.URL)
	proxy := startFaultProxy(t, target)
	u.Host = proxy.ln.Addr().String()
	const timeout = time.Second
	const slack = 3 * time.Second
	a, _ := runApp(t, app.Config{DatabaseURL: u.String(), AdminToken: testAdminToken, RequestTimeout: timeout, AuthCacheTTL: 2 * time.Second})
	e := newEnv(t, testdb.Backend{Name: "postgres", URL: u.String()}, a, testAdminToken)

	var seq atomic.Int64
	type answer struct {
		status  int
		body    []byte
		err     error
		elapsed time.Duration
	}
	send := func(write bool) answer {
		ctx, cancel := context.WithTimeout(allowUndocumented(context.Background()), timeout+slack)
		defer cancel()
		start := time.Now()
		var st int
		var body []byte
		var err error
		if write {
			st, body, _, err = e.send(t, ctx, http.MethodPost, "/api/v2/metrics/default",
				fmt.Sprintf(`{"key":"stall-%d","kind":"custom","eventKey":"e"}`, seq.Add(1)))
		} else {
			st, body, _, err = e.send(t, ctx, http.MethodGet, "/api/v2/metrics/default?limit=5", "")
		}
		return answer{st, body, err, time.Since(start)}
	}
	healthy := func(what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for _, write := range []bool{false, true} {
			for {
				r := send(write)
				if r.err == nil && (r.status == http.StatusOK || r.status == http.StatusCreated) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: write=%v still failing 15s later: %d %s %v", what, write, r.status, r.body, r.err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		resp, err := e.transport.RoundTrip(mustRequest(t, e.base+"/readyz"))
		if err != nil {
			t.Fatalf("%s: /readyz: %v", what, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: /readyz %d, want 200", what, resp.StatusCode)
		}
	}
	// load sends concurrent reads and writes for d and checks that every
	// one is answered in time with a JSON 503.
	load := func(what string, d time.Duration) {
		t.Helper()
		var wg sync.WaitGroup
		var n atomic.Int64
		stop := time.Now().Add(d)
		for w := range 8 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					r := send(w%2 == 1)
					n.Add(1)
					if r.err != nil {
						t.Errorf("%s: no answer within %s: %v", what, timeout+slack, r.err)
						return
					}
					if r.status != http.StatusServiceUnavailable {
						t.Errorf("%s: status %d, want 503; body %s", what, r.status, r.body)
						continue
					}
					wantError(t, what, r.status, r.body, http.StatusServiceUnavailable, "did not answer within 1s")
				}
			})
		}
		// /healthz waits 2 s for the database, /readyz 1 s.
		for _, check := range []struct {
			path string
			wait time.Duration
		}{{"/healthz", 2 * time.Second}, {"/readyz", time.Second}} {
			wg.Go(func() {
				for time.Now().Before(stop) {
					ctx, cancel := context.WithTimeout(context.Background(), check.wait+slack)
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+check.path, nil)
					resp, err := e.transport.RoundTrip(req)
					if err != nil {
						t.Errorf("%s: %s gave no answer: %v", what, check.path, err)
						cancel()
						return
					}
					resp.Body.Close()
					cancel()
					if resp.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("%s: %s %d, want 503", what, check.path, resp.StatusCode)
					}
				}
			})
		}
		wg.Wait()
		if n.Load() < 8 {
			t.Errorf("%s: only %d requests answered", what, n.Load())
		}
	}

	healthy("before the stall")

	proxy.stall()
	load("stalled", 4*time.Second)
	closedBefore := proxy.clientClosed.Load()
	proxy.resume()
	healthy("after resuming")
	// pgx closes a connection whose query was cancelled, and the pool
	// discards it: the proxy sees metricsd hang up on the stalled ones.
	waitFor(t, 5*time.Second, "metricsd to close the connections that stalled", func() bool {
		return proxy.clientClosed.Load() > closedBefore
	})

	proxy.stall()
	load("stalled again", 3*time.Second)
	proxy.kill()
	proxy.resume()
	healthy("after the connections were killed")

	// Killing connections of a healthy server is survived too.
	proxy.kill()
	healthy("after killing idle connections")
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustRequest is a GET of url.
func mustRequest(t testing.TB, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
