package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/testclock"
)

// start is the beginning of a window: Unix time is a multiple of ten seconds.
var start = time.Unix(1_800_000_000, 0)

type observer struct {
	mu       sync.Mutex
	rejected []ratelimit.Rejection
	failed   int
}

func (o *observer) Rejected(r ratelimit.Rejection) {
	o.mu.Lock()
	o.rejected = append(o.rejected, r)
	o.mu.Unlock()
}

func (o *observer) CounterFailed(error) {
	o.mu.Lock()
	o.failed++
	o.mu.Unlock()
}

func TestDefaults(t *testing.T) {
	d := ratelimit.Defaults()
	if d.Global != 1000 || d.RouteRead != 500 || d.RouteWrite != 100 || d.TokenShare != 50 || d.TokenCap() != 500 || d.Off() {
		t.Errorf("defaults %+v (token cap %d)", d, d.TokenCap())
	}
	for _, c := range []struct {
		cfg  ratelimit.Config
		want int
	}{
		{ratelimit.Config{Global: 10, TokenShare: 0}, 0},
		{ratelimit.Config{Global: 10, TokenShare: 100}, 0},
		{ratelimit.Config{Global: 0, TokenShare: 50}, 0},
		{ratelimit.Config{Global: 10, TokenShare: 33}, 4},
		{ratelimit.Config{Global: 3, TokenShare: 1}, 1},
	} {
		if got := c.cfg.TokenCap(); got != c.want {
			t.Errorf("%+v: token cap %d, want %d", c.cfg, got, c.want)
		}
	}
	if l := ratelimit.New(ratelimit.Config{TokenShare: 50}, ratelimit.Options{}); l != nil {
		t.Error("a config without windows gave a limiter")
	}
	var l *ratelimit.Limiter
	if d := l.Take(context.Background(), ratelimit.Request{Token: "t", Method: "GET", Pattern: "/x"}); !d.Allowed || d.Global != -1 || d.Route != -1 {
		t.Errorf("nil limiter: %+v", d)
	}
}

// TestTokenShare: a token over its share is refused by the token window,
// sees no global budget left, and costs the global window nothing, so
// another token is still served until the global window is spent.
func TestTokenShare(t *testing.T) {
	clk := testclock.New(start.Add(3 * time.Second))
	obs := &observer{}
	l := ratelimit.New(ratelimit.Config{Global: 10, TokenShare: 50}, ratelimit.Options{Clock: clk.Now, Observer: obs})
	ctx := context.Background()
	for i := range 5 {
		d := l.Take(ctx, ratelimit.Request{Token: "a", Method: "GET", Pattern: "/p"})
		if !d.Allowed || d.Global != 4-i || d.Route != -1 {
			t.Fatalf("a %d: %+v", i, d)
		}
	}
	for range 20 {
		d := l.Take(ctx, ratelimit.Request{Token: "a", Method: "GET", Pattern: "/p"})
		want := ratelimit.Decision{Refused: ratelimit.ScopeToken, Global: 0, Route: -1, Reset: start.Add(10 * time.Second), RetryAfter: 7}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Fatalf("a over its share (-want +got):\n%s", diff)
		}
	}
	for i := range 5 {
		d := l.Take(ctx, ratelimit.Request{Token: "b", Method: "GET", Pattern: "/p"})
		if !d.Allowed || d.Global != 4-i {
			t.Fatalf("b %d: %+v", i, d)
		}
	}
	d := l.Take(ctx, ratelimit.Request{Token: "c", Method: "GET", Pattern: "/p"})
	if d.Allowed || d.Refused != ratelimit.ScopeGlobal || d.Global != 0 {
		t.Fatalf("c after the global window is spent: %+v", d)
	}
	if len(obs.rejected) != 21 || obs.rejected[0] != (ratelimit.Rejection{Scope: ratelimit.ScopeToken, Route: "GET /p"}) ||
		obs.rejected[20] != (ratelimit.Rejection{Scope: ratelimit.ScopeGlobal, Route: "GET /p"}) {
		t.Errorf("observer heard %v", obs.rejected)
	}
}

// TestRouteWindows: a route window counts one pattern and verb; other
// routes and other verbs of the pattern have their own, and all share the
// global window.
func TestRouteWindows(t *testing.T) {
	clk := testclock.New(start)
	l := ratelimit.New(ratelimit.Config{Global: 6, RouteRead: 3, RouteWrite: 2}, ratelimit.Options{Clock: clk.Now})
	ctx := context.Background()
	steps := []struct {
		method, pattern string
		allowed         bool
		refused         ratelimit.Scope
		global, route   int
	}{
		{"POST", "/m/{p}", true, "", 5, 1},
		{"POST", "/m/{p}", true, "", 4, 0},
		{"POST", "/m/{p}", false, ratelimit.ScopeRoute, 4, 0},
		{"PATCH", "/m/{p}", true, "", 3, 1},
		{"GET", "/m/{p}", true, "", 2, 2},
		{"HEAD", "/m/{p}", true, "", 1, 1},
		{"GET", "", true, "", 0, -1},
		// The route window, asked before the global one, counted this
		// refused request: windows are taken in order token, route,
		// global, so that only the global window never counts a refusal.
		{"GET", "/m/{p}", false, ratelimit.ScopeGlobal, 0, 0},
	}
	for i, s := range steps {
		d := l.Take(ctx, ratelimit.Request{Token: "t", Method: s.method, Pattern: s.pattern})
		if d.Allowed != s.allowed || d.Refused != s.refused || d.Global != s.global || d.Route != s.route {
			t.Errorf("step %d %s %s: %+v, want allowed %v refused %q global %d route %d", i, s.method, s.pattern, d, s.allowed, s.refused, s.global, s.route)
		}
	}
}

// TestReset: the windows end on multiples of ten seconds of Unix time;
// Retry-After counts whole seconds to the end, and a new window has the
// whole budget again.
func TestReset(t *testing.T) {
	clk := testclock.New(start.Add(1500 * time.Millisecond))
	l := ratelimit.New(ratelimit.Config{Global: 2}, ratelimit.Options{Clock: clk.Now})
	ctx := context.Background()
	l.Take(ctx, ratelimit.Request{Token: "t", Method: "GET", Pattern: "/p"})
	clk.Set(start.Add(9200 * time.Millisecond))
	if d := l.Take(ctx, ratelimit.Request{Token: "t", Method: "GET", Pattern: "/p"}); !d.Allowed || d.Global != 0 || !d.Reset.Equal(start.Add(10*time.Second)) {
		t.Fatalf("second request: %+v", d)
	}
	d := l.Take(ctx, ratelimit.Request{Token: "t", Method: "GET", Pattern: "/p"})
	if d.Allowed || d.RetryAfter != 1 || d.Reset.UnixMilli() != start.Add(10*time.Second).UnixMilli() {
		t.Fatalf("third request 0.8 s before the end: %+v, want refused with Retry-After 1", d)
	}
	clk.Set(start.Add(10 * time.Second))
	d = l.Take(ctx, ratelimit.Request{Token: "t", Method: "GET", Pattern: "/p"})
	if !d.Allowed || d.Global != 1 || !d.Reset.Equal(start.Add(20*time.Second)) {
		t.Fatalf("first request of the next window: %+v", d)
	}
	clk.Set(start.Add(10*time.Second + 1))
	l.Take(ctx, ratelimit.Request{Token: "t", Method: "GET", Pattern: "/p"})
	if d := l.Take(ctx, ratelimit.Request{Token: "t", Method: "GET", Pattern: "/p"}); d.Allowed || d.RetryAfter != 10 {
		t.Fatalf("refused at the start of a window: %+v, want Retry-After 10", d)
	}
}

type failing struct{ calls int }

func (f *failing) Take(context.Context, int64, []ratelimit.Step) ([]ratelimit.Count, error) {
	f.calls++
	return nil, errors.New("database is down")
}

// slow answers only when its context ends.
type slow struct{}

func (slow) Take(ctx context.Context, _ int64, _ []ratelimit.Step) ([]ratelimit.Count, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestSharedCounterFails: when the shared counter fails, or does not answer
// within the shared timeout, the replica counts alone with the same windows.
func TestSharedCounterFails(t *testing.T) {
	for name, c := range map[string]ratelimit.Counter{"failing": &failing{}, "slow": slow{}} {
		t.Run(name, func(t *testing.T) {
			obs := &observer{}
			clk := testclock.New(start)
			l := ratelimit.New(ratelimit.Config{Global: 2}, ratelimit.Options{Shared: c, Clock: clk.Now, Observer: obs})
			ctx := context.Background()
			began := time.Now()
			for i, want := range []bool{true, true, false} {
				if d := l.Take(ctx, ratelimit.Request{Token: "t", Method: "GET", Pattern: "/p"}); d.Allowed != want {
					t.Errorf("request %d: %+v, want allowed %v", i, d, want)
				}
			}
			if obs.failed != 3 {
				t.Errorf("observer heard %d failures, want 3", obs.failed)
			}
			if d := time.Since(began); d > 3*ratelimit.DefaultSharedTimeout+2*time.Second {
				t.Errorf("three requests took %s", d)
			}
		})
	}
}

// TestMemoryTake: a step counts only when every step before it admitted
// the request.
func TestMemoryTake(t *testing.T) {
	m := ratelimit.NewMemory()
	ctx := context.Background()
	w := start.UnixMilli()
	steps := []ratelimit.Step{{Bucket: "a", Cap: 1}, {Bucket: "b", Cap: 5}}
	got, _ := m.Take(ctx, w, steps)
	if diff := cmp.Diff([]ratelimit.Count{{N: 1, Window: w, Admitted: true}, {N: 1, Window: w, Admitted: true}}, got); diff != "" {
		t.Errorf("first (-want +got):\n%s", diff)
	}
	got, _ = m.Take(ctx, w, steps)
	if diff := cmp.Diff([]ratelimit.Count{{N: 1, Window: w}, {N: 1, Window: w}}, got); diff != "" {
		t.Errorf("second (-want +got):\n%s", diff)
	}
	got, _ = m.Take(ctx, w+10000, steps)
	if diff := cmp.Diff([]ratelimit.Count{{N: 1, Window: w + 10000, Admitted: true}, {N: 1, Window: w + 10000, Admitted: true}}, got); diff != "" {
		t.Errorf("next window (-want +got):\n%s", diff)
	}
}

func BenchmarkMemoryTake(b *testing.B) {
	l := ratelimit.New(ratelimit.Config{Global: 1 << 30, RouteRead: 1 << 30, TokenShare: 50}, ratelimit.Options{})
	ctx := context.Background()
	for b.Loop() {
		l.Take(ctx, ratelimit.Request{Token: "token", Method: "GET", Pattern: "/api/v2/metrics/{projectKey}"})
	}
}

// TestAddressWindow: one client address's requests are capped whatever
// their tokens, first of all windows, so a refused one costs the token and
// global windows nothing; another address is served.
func TestAddressWindow(t *testing.T) {
	clk := testclock.New(start)
	obs := &observer{}
	l := ratelimit.New(ratelimit.Config{Global: 100, TokenShare: 50, Address: 3}, ratelimit.Options{Clock: clk.Now, Observer: obs})
	ctx := context.Background()
	// Global remaining is what is left of the token's share of 50.
	for i, c := range []struct {
		token string
		left  int
	}{{"a", 49}, {"b", 49}, {"a", 48}} {
		if d := l.Take(ctx, ratelimit.Request{Token: c.token, Address: "192.0.2.1", Method: "GET", Pattern: "/p"}); !d.Allowed || d.Global != c.left {
			t.Fatalf("request %d: %+v, want allowed with %d left", i, d, c.left)
		}
	}
	for _, tok := range []string{"a", "c"} {
		d := l.Take(ctx, ratelimit.Request{Token: tok, Address: "192.0.2.1", Method: "GET", Pattern: "/p"})
		want := ratelimit.Decision{Refused: ratelimit.ScopeAddress, Global: 97, Route: -1, Reset: start.Add(10 * time.Second), RetryAfter: 10}
		if tok == "a" {
			// a has 48 of its 50 left, less than the 97 of the window.
			want.Global = 48
		} else {
			want.Global = 50
		}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("token %s over the address window (-want +got):\n%s", tok, diff)
		}
	}
	if d := l.Take(ctx, ratelimit.Request{Token: "c", Address: "198.51.100.2", Method: "GET", Pattern: "/p"}); !d.Allowed || d.Global != 49 {
		t.Errorf("another address: %+v", d)
	}
	if len(obs.rejected) != 2 || obs.rejected[0].Scope != ratelimit.ScopeAddress {
		t.Errorf("observer heard %v", obs.rejected)
	}
}
