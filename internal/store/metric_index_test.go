package store_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// randomIndexQuery is randomPatchQuery without conditions on connections
// (which the index leaves to SQL), sometimes with event keys or version
// IDs of live metrics.
func randomIndexQuery(r *rand.Rand, live map[string]*catalog.Metric) catalog.MetricQuery {
	q := randomPatchQuery(r)
	q.HasConnections = nil
	if m := anyLive(r, live); m != nil {
		switch r.IntN(6) {
		case 0:
			q.EventKeys = []string{m.Def.EventKey, "nope"}
		case 1:
			q.EventKeys = []string{m.Def.EventKey}
			if o := anyLive(r, live); o != nil {
				q.EventKeys = append(q.EventKeys, o.Def.EventKey)
			}
		case 2:
			q.VersionIDs = []string{m.VersionID, "nope"}
		}
	}
	return q
}

// TestMetricIndexMatchesSQL checks the pages the in-memory index answers
// against uncached SQL, after every one of random writes (each brings the
// index forward from the change log), after a bulk import (more changes
// than a patch: rebuilt), and after the project is deleted and created
// again; and that the index answered most of them.
func TestMetricIndexMatchesSQL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(seed, 13))
		// Rebuilt after a few updates (each leaves a dead position): a
		// rebuild older than the index it replaces is brought forward.
		db := mustOpen(t, b.URL, store.WithIndexWornAt(8))
		uncached := openUncached(t, b.URL)
		p, live := randomProject(t, db, r)
		// A pool asked after every write (their matches are brought
		// forward with the index), and new filters.
		pool := []catalog.MetricQuery{
			{Page: core.Page{Limit: 20}, TagsAll: []string{"t1"}},
			{Page: core.Page{Limit: 5}, TagsAll: []string{"t1", "web"}, Sort: []core.SortKey{{Field: "name"}}},
			{Page: core.Page{Limit: 10}, Queries: [][]string{{"checkout", "k"}}, Sort: []core.SortKey{{Field: "createdAt", Desc: true}}},
			{Page: core.Page{Limit: 10}, Kinds: []string{catalog.KindCustom}, IsNumeric: ptr(true)},
			{Page: core.Page{Limit: 10}, MaintainerIDs: []string{"alice"}, MaintainerTeamKey: "core", Sort: []core.SortKey{{Field: "name", Desc: true}}},
			{Page: core.Page{Limit: 10}, UnitAggregationType: "sum", DataSourceKeys: []string{"snowflake", "launchdarkly"}},
		}
		for range 8 {
			pool = append(pool, randomIndexQuery(r, live))
		}
		check := func() {
			t.Helper()
			checkPool(t, ctx, db, uncached, p.ID, r, pool, 4, func() catalog.MetricQuery { return randomIndexQuery(r, live) })
		}
		check()
		before := db.IndexAnswered()
		if !writeAndCheck(t, db, r, p, live, 80, check) {
			return
		}
		// Two lists per check (sameList lists twice), some filters with
		// two sort keys (SQL): most of the rest.
		if n := db.IndexAnswered() - before; n < 80*12 {
			t.Fatalf("%d pages answered by the index over 80 writes of %d filters, want most", n, len(pool)+4)
		}
		if n := db.IndexBuilds(); n < 2 {
			t.Fatalf("%d index builds over 80 writes, want rebuilds of a worn index", n)
		}
		importAndRecreate(t, db, r, p, live, check)
	})
}

// TestMetricIndexBudget: a project with more metrics than the indexes
// may hold is listed from SQL, and correctly.
func TestMetricIndexBudget(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		r := rand.New(rand.NewPCG(1, 2))
		db := mustOpen(t, b.URL, store.WithIndexBudget(100))
		uncached := openUncached(t, b.URL)
		p, _ := patchFixtures(t, db)
		live := map[string]*catalog.Metric{}
		createRandom(t, db, r, p, 150, live)
		for range 20 {
			sameList(t, ctx, db, uncached, p.ID, randomIndexQuery(r, live))
		}
		if n := db.IndexAnswered(); n != 0 {
			t.Fatalf("the index answered %d pages of a project over its budget", n)
		}
		// A project indexed under the budget that grows past it by
		// patches alone is dropped, and listed from SQL again.
		grown := mustOpen(t, b.URL, store.WithIndexBudget(160))
		p2, _ := mustProject(t, grown, "proj-grow", "grow", at(0))
		live2 := map[string]*catalog.Metric{}
		createRandom(t, grown, r, p2, 150, live2)
		for range 3 {
			sameList(t, ctx, grown, uncached, p2.ID, catalog.MetricQuery{Page: core.Page{Limit: 10}})
		}
		if grown.IndexAnswered() == 0 {
			t.Fatal("a project under the budget was never answered by its index")
		}
		for range 3 {
			createRandom(t, grown, r, p2, 10, live2)
			sameList(t, ctx, grown, uncached, p2.ID, catalog.MetricQuery{Page: core.Page{Limit: 10}})
		}
		before := grown.IndexAnswered()
		for range 3 {
			sameList(t, ctx, grown, uncached, p2.ID, randomIndexQuery(r, live2))
		}
		if n := grown.IndexAnswered() - before; n != 0 {
			t.Fatalf("the index answered %d pages after its project grew past the budget", n)
		}
	})
}
