package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestListPatchDeletionsPruned deletes metrics through one DB handle, which
// prunes the deletion log after a few rows, while another (a replica with
// its own cache) holds lists cached before the prune: those must be read
// again, never patched into a list that still shows a deleted metric; lists
// cached after the prune are still patched; and the log stays bounded.
//
// The replica's project index (metric_index.go) is held to the same rule:
// its run checks the pages, the lists' run also which were patched.
func TestListPatchDeletionsPruned(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		for _, index := range []bool{false, true} {
			t.Run(fmt.Sprintf("index=%v", index), func(t *testing.T) { testDeletionsPruned(t, b, index) })
		}
	})
}

func testDeletionsPruned(t *testing.T, b testdb.Backend, index bool) {
	ctx := t.Context()
	const keep = 4
	opts := []store.Option{store.WithDeletionsKept(keep)}
	sfx := "-index"
	if !index {
		opts, sfx = append(opts, store.WithoutMetricIndex()), ""
	}
	a := mustOpen(t, b.URL, opts...)
	replica := mustOpen(t, b.URL, opts...)
	uncached := openUncached(t, b.URL)
	p, _ := mustProject(t, a, "proj-prune"+sfx, "prune"+sfx, at(0))
	other, _ := mustProject(t, a, "proj-prune-other"+sfx, "prune-other"+sfx, at(0))
	for i := range 60 {
		mustMetric(t, a, simpleMetric(p, fmt.Sprintf("m-%02d%s", i, sfx), fmt.Sprintf("k-%02d", i), at(time.Duration(i)*time.Second)))
	}
	mustMetric(t, a, simpleMetric(other, "o-1"+sfx, "o-1", at(0)))
	pool := []catalog.MetricQuery{
		{Page: core.Page{Limit: 100}},
		{Page: core.Page{Limit: 5, Offset: 3}, Sort: []core.SortKey{{Field: "name", Desc: true}}},
	}
	for _, q := range pool {
		sameList(t, ctx, replica, uncached, p.ID, q)
	}
	// Enough deletions to prune more than once; the replica's lists
	// stay at the generation before all of them.
	for i := range 3*keep + 1 {
		if err := a.DeleteMetric(ctx, p.ID, fmt.Sprintf("k-%02d", i)); err != nil {
			t.Fatalf("DeleteMetric: %v", err)
		}
		rows, _, held, err := a.DeletionLog(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rows > 2*keep || int64(rows) != held {
			t.Fatalf("after %d deletions: %d log rows (held %d), want at most %d and equal", i+1, rows, held, 2*keep)
		}
	}
	if _, low, _, err := a.DeletionLog(ctx, p.ID); err != nil || low == 0 {
		t.Fatalf("deletions_low %d (%v): the log was never pruned", low, err)
	}
	before := replica.ListPatches()
	for _, q := range pool {
		sameList(t, ctx, replica, uncached, p.ID, q)
	}
	if n := replica.ListPatches() - before; !index && n != 0 {
		t.Fatalf("%d lists older than the prune were patched, want them read again", n)
	}
	// Lists cached since are patched from the rows that remain.
	if err := a.DeleteMetric(ctx, p.ID, "k-50"); err != nil {
		t.Fatalf("DeleteMetric: %v", err)
	}
	for _, q := range pool {
		sameList(t, ctx, replica, uncached, p.ID, q)
	}
	if n := replica.ListPatches() - before; !index && n != int64(len(pool)) {
		t.Fatalf("%d lists patched after one more deletion, want %d", n, len(pool))
	}
	// Another project's log is its own.
	if rows, low, _, err := a.DeletionLog(ctx, other.ID); err != nil || rows != 0 || low != 0 {
		t.Fatalf("other project: %d rows, low %d (%v)", rows, low, err)
	}
}

// TestListPatchDeletionLogBounded deletes many metrics, singly and many in
// one transaction: the log never holds more than twice the number kept,
// and lists stay right.
func TestListPatchDeletionLogBounded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		const keep = 10
		db := mustOpen(t, b.URL, store.WithDeletionsKept(keep))
		uncached := openUncached(t, b.URL)
		p, _ := mustProject(t, db, "proj-bound", "bound", at(0))
		q := catalog.MetricQuery{Page: core.Page{Limit: 50}}
		n := 0
		for round := range 6 {
			for range 2*keep + 5 {
				mustMetric(t, db, simpleMetric(p, fmt.Sprintf("m-%04d", n), fmt.Sprintf("k-%04d", n), at(time.Duration(n)*time.Second)))
				n++
			}
			sameList(t, ctx, db, uncached, p.ID, q)
			first := n - (2*keep + 5)
			if round%2 == 0 {
				for i := first; i < n; i++ {
					if err := db.DeleteMetric(ctx, p.ID, fmt.Sprintf("k-%04d", i)); err != nil {
						t.Fatalf("DeleteMetric: %v", err)
					}
				}
			} else {
				// One transaction deletes them all.
				err := db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) {
					for i := first; i < n; i++ {
						if err := tx.DeleteMetric(ctx, p.ID, fmt.Sprintf("k-%04d", i)); err != nil {
							return nil, err
						}
					}
					return nil, nil
				})
				if err != nil {
					t.Fatalf("Transact: %v", err)
				}
			}
			rows, _, _, err := db.DeletionLog(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rows > 2*keep {
				t.Fatalf("round %d: %d log rows, want at most %d", round, rows, 2*keep)
			}
			sameList(t, ctx, db, uncached, p.ID, q)
		}
	})
}
