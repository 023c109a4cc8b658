package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// testLease is short, so that tests that wait a lease out are quick.
const testLease = 600 * time.Millisecond

func mustOpenLeased(t *testing.T, url string) *store.DB {
	t.Helper()
	return mustOpen(t, url, store.WithReplicaLease(store.LeaseConfig{Duration: testLease}))
}

// postgresOnly runs fn on PostgreSQL, where replicas push invalidation.
func postgresOnly(t *testing.T, fn func(t *testing.T, b testdb.Backend)) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		if b.Name != "postgres" {
			t.Skip("pushed invalidation is PostgreSQL's; SQLite's replicas watch the wal-index (TestReplicaProjectGeneration)")
		}
		fn(t, b)
	})
}

// waitServing waits until db answers generations from memory.
func waitServing(t *testing.T, dbs ...*store.DB) {
	t.Helper()
	for _, db := range dbs {
		deadline := time.Now().Add(10 * time.Second)
		for !db.Serving() {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s never took its lease", db.ReplicaID())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func generation(t *testing.T, db *store.DB, key string) int64 {
	t.Helper()
	g, err := db.ProjectGeneration(t.Context(), key)
	if err != nil {
		t.Fatalf("ProjectGeneration(%s): %v", key, err)
	}
	return g
}

// TestReplicaLeaseServesFromMemory checks pushed invalidation between two
// leased replicas on PostgreSQL: a generation read with no write since
// costs no statement, and after every write through either replica
// returns, the next read through the other shows it.
func TestReplicaLeaseServesFromMemory(t *testing.T) {
	postgresOnly(t, func(t *testing.T, b testdb.Backend) {
		w, r := mustOpenLeased(t, b.URL), mustOpenLeased(t, b.URL)
		p, _ := mustProject(t, w, "p1", "p", base)
		waitServing(t, w, r)
		last := generation(t, r, "p")
		generation(t, w, "p")
		before := r.Statements()
		for range 20 {
			if g := generation(t, r, "p"); g != last {
				t.Fatalf("generation moved without a write: %d, then %d", last, g)
			}
		}
		if cost := r.Statements() - before; cost != 0 {
			t.Errorf("20 generation reads under a lease cost %d statements, want 0", cost)
		}
		for i := range 40 {
			writer, reader := w, r
			if i%2 == 1 {
				writer, reader = r, w
			}
			mustMetric(t, writer, simpleMetric(p, fmt.Sprintf("m%d", i), fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Second)))
			g := generation(t, reader, "p")
			if g <= last {
				t.Fatalf("write %d: the other replica reads generation %d, was %d before the write", i, g, last)
			}
			if g2 := generation(t, writer, "p"); g2 != g {
				t.Fatalf("write %d: the writer reads generation %d, the other %d", i, g2, g)
			}
			last = g
		}
	})
}

// TestReplicaListenerKilledNeverStale terminates a replica's listening
// connection (pg_terminate_backend) right before each write through the
// other replica: the read through the killed one after the write returns
// still shows the write, and the replica takes a lease again.
func TestReplicaListenerKilledNeverStale(t *testing.T) {
	postgresOnly(t, func(t *testing.T, b testdb.Backend) {
		w, r := mustOpenLeased(t, b.URL), mustOpenLeased(t, b.URL)
		raw := openRaw(t, b.URL)
		p, _ := mustProject(t, w, "p1", "p", base)
		for i := range 5 {
			waitServing(t, w, r)
			last := generation(t, r, "p")
			if n := raw.count(`SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?) k`,
				"metricsd-listen-"+r.ReplicaID()); n != 1 {
				t.Fatalf("terminated %d listening connections, want 1", n)
			}
			mustMetric(t, w, simpleMetric(p, fmt.Sprintf("m%d", i), fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Second)))
			if g := generation(t, r, "p"); g <= last {
				t.Fatalf("round %d: after its listener was killed the replica reads generation %d, %d before the write", i, g, last)
			}
		}
	})
}

// TestReplicaStallWaitsOutLease checks the bound of a write's wait: a
// replica that holds a live lease and never acknowledges (stalled) makes a
// write wait until that lease expired in database time, and no longer
// than the lease.
func TestReplicaStallWaitsOutLease(t *testing.T) {
	postgresOnly(t, func(t *testing.T, b testdb.Backend) {
		w := mustOpenLeased(t, b.URL)
		raw := openRaw(t, b.URL)
		p, _ := mustProject(t, w, "p1", "p", base)
		raw.exec(`INSERT INTO replica_leases (id, acked, expires_at) VALUES ('stalled', 0, now() + interval '400 milliseconds')`)
		mustMetric(t, w, simpleMetric(p, "m1", "k1", base))
		if n := raw.count(`SELECT COUNT(*) FROM replica_leases WHERE id = 'stalled' AND expires_at > now()`); n != 0 {
			t.Errorf("the write returned while the stalled replica's lease was live")
		}
		// An expired lease costs no wait at all: the next write is not
		// held by it (nothing to assert on time; it must simply return).
		mustMetric(t, w, simpleMetric(p, "m2", "k2", base))
	})
}

// TestConcurrentReplicaLeaseReadsSeeCompletedWrites races readers of
// both leased replicas against writers: a read that starts after a write
// returned never shows an older generation.
func TestConcurrentReplicaLeaseReadsSeeCompletedWrites(t *testing.T) {
	postgresOnly(t, func(t *testing.T, b testdb.Backend) {
		dbs := []*store.DB{mustOpenLeased(t, b.URL), mustOpenLeased(t, b.URL)}
		p, _ := mustProject(t, dbs[0], "p1", "p", base)
		waitServing(t, dbs...)
		var floor atomic.Int64
		floor.Store(generation(t, dbs[0], "p"))
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				db := dbs[i%2]
				for ctx.Err() == nil {
					f := floor.Load()
					g, err := db.ProjectGeneration(ctx, "p")
					if err != nil {
						if ctx.Err() == nil {
							t.Errorf("reader %d: %v", i, err)
						}
						return
					}
					if g < f {
						t.Errorf("reader %d: generation %d after a write returned with %d", i, g, f)
						return
					}
				}
			})
		}
		for i := range 40 {
			db := dbs[i%2]
			mustMetric(t, db, simpleMetric(p, fmt.Sprintf("m%d", i), fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Second)))
			g := generation(t, db, "p")
			for {
				f := floor.Load()
				if g <= f || floor.CompareAndSwap(f, g) {
					break
				}
			}
		}
		cancel()
		wg.Wait()
	})
}
