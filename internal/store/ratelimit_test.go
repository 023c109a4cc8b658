package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestRateCounter: the shared counter admits each step below its cap, in
// order, resets a row in a later window, and counts into the later window
// when a replica whose clock is behind asks for an earlier one. SQLite has
// no shared counter: its one replica counts in memory (the api tests cover
// that), so this test is PostgreSQL's alone.
func TestRateCounter(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		db, err := store.Open(context.Background(), b.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		c := db.RateCounter()
		if b.Name == "sqlite" {
			if c != nil {
				t.Fatal("SQLite has a shared rate counter")
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		const w = int64(1_800_000_000_000)
		steps := []ratelimit.Step{{Bucket: "token:a", Cap: 2}, {Bucket: "route:GET /x", Cap: 3}, {Bucket: "global", Cap: 4}}
		take := func(window int64, steps []ratelimit.Step) []ratelimit.Count {
			t.Helper()
			got, err := c.Take(ctx, window, steps)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		type C = ratelimit.Count
		for i, want := range [][]C{
			{{N: 1, Window: w, Admitted: true}, {N: 1, Window: w, Admitted: true}, {N: 1, Window: w, Admitted: true}},
			{{N: 2, Window: w, Admitted: true}, {N: 2, Window: w, Admitted: true}, {N: 2, Window: w, Admitted: true}},
			// The token is at its cap: the later steps do not count.
			{{N: 2, Window: w}, {N: 2, Window: w}, {N: 2, Window: w}},
		} {
			if diff := cmp.Diff(want, take(w, steps)); diff != "" {
				t.Errorf("take %d (-want +got):\n%s", i, diff)
			}
		}
		other := []ratelimit.Step{{Bucket: "token:b", Cap: 2}, {Bucket: "route:GET /x", Cap: 3}, {Bucket: "global", Cap: 4}}
		if diff := cmp.Diff([]C{{N: 1, Window: w, Admitted: true}, {N: 3, Window: w, Admitted: true}, {N: 3, Window: w, Admitted: true}}, take(w, other)); diff != "" {
			t.Errorf("another token (-want +got):\n%s", diff)
		}
		// The route is at its cap: the route step refuses, global is not
		// counted, the token is.
		if diff := cmp.Diff([]C{{N: 2, Window: w, Admitted: true}, {N: 3, Window: w}, {N: 3, Window: w}}, take(w, other)); diff != "" {
			t.Errorf("route spent (-want +got):\n%s", diff)
		}
		// One step, whose count is at its cap.
		if diff := cmp.Diff([]C{{N: 3, Window: w}}, take(w, []ratelimit.Step{{Bucket: "global", Cap: 3}})); diff != "" {
			t.Errorf("global at a lower cap (-want +got):\n%s", diff)
		}
		// The next window starts from zero.
		next := w + ratelimit.Window.Milliseconds()
		if diff := cmp.Diff([]C{{N: 1, Window: next, Admitted: true}, {N: 1, Window: next, Admitted: true}, {N: 1, Window: next, Admitted: true}}, take(next, steps)); diff != "" {
			t.Errorf("next window (-want +got):\n%s", diff)
		}
		// A replica still in the earlier window counts into the later one.
		if diff := cmp.Diff([]C{{N: 2, Window: next, Admitted: true}, {N: 2, Window: next, Admitted: true}, {N: 2, Window: next, Admitted: true}}, take(w, steps)); diff != "" {
			t.Errorf("late replica (-want +got):\n%s", diff)
		}
		// A step not reached reports a row of a past window as it is.
		if diff := cmp.Diff([]C{{N: 2, Window: next}, {N: 0, Window: next}}, take(next, []ratelimit.Step{{Bucket: "token:a", Cap: 2}, {Bucket: "never", Cap: 9}})); diff != "" {
			t.Errorf("unreached step (-want +got):\n%s", diff)
		}
		// A minute after their window, rows that were not counted again are
		// deleted.
		later := next + 60_000
		take(later, []ratelimit.Step{{Bucket: "global", Cap: 9}})
		got, err := db.RateBuckets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"global", "route:GET /x", "token:a"}, got); diff != "" {
			t.Errorf("rows after a minute (-want +got):\n%s", diff)
		}
		take(later+10_000, []ratelimit.Step{{Bucket: "global", Cap: 9}})
		take(later+70_000, []ratelimit.Step{{Bucket: "global", Cap: 9}})
		if got, _ := db.RateBuckets(ctx); !cmp.Equal([]string{"global"}, got) {
			t.Errorf("rows after two minutes: %v, want [global]", got)
		}
	})
}

// TestRateCounterReplicas: two stores on one PostgreSQL database, each
// with concurrent requests, admit exactly the cap between them.
func TestRateCounterReplicas(t *testing.T) {
	b := testdb.New(t, "postgres")
	var counters []ratelimit.Counter
	for range 2 {
		db, err := store.Open(context.Background(), b.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		counters = append(counters, db.RateCounter())
	}
	const limit, workers, each = 37, 8, 10
	var admitted atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range workers {
		wg.Go(func() {
			for range each {
				got, err := counters[i%2].Take(ctx, 1_800_000_000_000, []ratelimit.Step{{Bucket: "global", Cap: limit}})
				if err != nil {
					t.Error(err)
					return
				}
				if got[0].Admitted {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != limit {
		t.Errorf("%d of %d requests admitted, want %d", n, workers*each, limit)
	}
}

// BenchmarkRateCounter is one request's shared count with a token share,
// a route window and the global window: "serial" one at a time, "parallel"
// from 16 goroutines (two per token) contending for the global row.
func BenchmarkRateCounter(b *testing.B) {
	db := openBench(b, "postgres")
	c := db.RateCounter()
	ctx := context.Background()
	steps := func(token string) []ratelimit.Step {
		return []ratelimit.Step{{Bucket: "token:" + token, Cap: 1 << 30}, {Bucket: "route:GET /x", Cap: 1 << 30}, {Bucket: "global", Cap: 1 << 30}}
	}
	b.Run("serial", func(b *testing.B) {
		s := steps("a")
		for b.Loop() {
			if _, err := c.Take(ctx, 1_800_000_000_000, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var n atomic.Int64
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			s := steps(fmt.Sprint("t", n.Add(1)/2))
			for pb.Next() {
				if _, err := c.Take(ctx, 1_800_000_000_000, s); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
