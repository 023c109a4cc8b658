package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// Cached metric match lists are patched from the change log after writes
// (metric_ids.go). A patched list must be exactly the list SQL reads in
// the same state: these tests compare a DB with the cache against one, on
// the same database, without it, over random metrics, random writes after
// each of which a fixed pool of queries (so that their cached lists get
// patched, not read again) is checked, and random filters and sorts.

func openUncached(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, store.WithoutListCache())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Pools the random metrics and queries draw from: cases, wildcards of
// LIKE, the escape character, non-ASCII letters whose lower case differs,
// and one name many metrics share (ties broken by ID).
var (
	patchWords   = []string{"Checkout", "checkout", "SIGN", "up", "%", "_", "!", "!%", "É", "é", "ß", "K", "k", "a", "", "Ωmega", "x_y", "100%"}
	patchTags    = []string{"t0", "t1", "t2", "T1", "web", "é"}
	patchMaints  = []string{"", "alice", "bob"}
	patchTeams   = []string{"", "core", "web"}
	patchSources = []string{"launchdarkly", "snowflake", ""}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func randomWords(r *rand.Rand, n int) string {
	var b strings.Builder
	for range r.IntN(n) + 1 {
		b.WriteString(pick(r, patchWords))
		if r.IntN(2) == 0 {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// randomPatchMetric is a random metric of p; created times collide often.
func randomPatchMetric(r *rand.Rand, p catalog.Project, i int) *catalog.Metric {
	id := fmt.Sprintf("%s-%04d", p.Key, r.IntN(10000))
	if i >= 10000 {
		id = fmt.Sprintf("bulk-%05d", i)
	}
	m := simpleMetric(p, id, strings.ReplaceAll(randomWords(r, 2), " ", "-")+"-"+id, at(time.Duration(r.IntN(40))*time.Second))
	randomizeMetric(r, m)
	return m
}

func randomizeMetric(r *rand.Rand, m *catalog.Metric) {
	m.Kind = pick(r, catalog.MetricKinds)
	m.Def.Name = randomWords(r, 3)
	if r.IntN(5) == 0 {
		m.Def.Name = "Same name"
	}
	m.Def.IsNumeric = r.IntN(3) == 0
	m.Def.UnitAggregationType = pick(r, []string{"sum", "average"})
	m.Def.MaintainerID = pick(r, patchMaints)
	m.MaintainerTeamKey = pick(r, patchTeams)
	m.Def.DataSource = catalog.DataSource{Key: pick(r, patchSources)}
	m.Def.Tags = randomTags(r)
}

func randomTags(r *rand.Rand) []string {
	tags := []string{}
	for _, t := range patchTags {
		if r.IntN(3) == 0 {
			tags = append(tags, t)
		}
	}
	return tags
}

func randomPatchQuery(r *rand.Rand) catalog.MetricQuery {
	var q catalog.MetricQuery
	q.Limit = r.IntN(30) + 1
	q.Offset = pick(r, []int{0, 0, 0, 1, 5, 20, 200})
	q.Sort = pick(r, [][]core.SortKey{nil, {{Field: "createdAt"}}, {{Field: "createdAt", Desc: true}}, {{Field: "name"}},
		{{Field: "name", Desc: true}}, {{Field: "name"}, {Field: "createdAt", Desc: true}}, {{Field: "createdAt"}, {Field: "name"}}})
	for range r.IntN(4) {
		switch r.IntN(10) {
		case 0:
			alts := []string{}
			for range r.IntN(3) + 1 {
				alts = append(alts, randomWords(r, 1))
			}
			q.Queries = append(q.Queries, alts)
		case 1:
			q.TagsAll = append(q.TagsAll, pick(r, append(patchTags, "nope")))
		case 2:
			q.Kinds = append(q.Kinds, pick(r, catalog.MetricKinds))
		case 3:
			q.IsNumeric = ptr(r.IntN(2) == 0)
		case 4:
			q.UnitAggregationType = pick(r, []string{"sum", "average"})
		case 5:
			q.MaintainerIDs = append(q.MaintainerIDs, pick(r, append(patchMaints, "nobody")))
		case 6:
			q.MaintainerTeamKey = pick(r, []string{"core", "web", "none"})
		case 7:
			q.DataSourceKeys = append(q.DataSourceKeys, pick(r, append(patchSources, "other")))
		case 8:
			q.Sort = append(q.Sort, core.SortKey{Field: "name", Desc: r.IntN(2) == 0})
		case 9:
			// Not patched (experiment writes move it without a metric
			// row changing): read again, and still right.
			q.HasConnections = ptr(r.IntN(2) == 0)
		}
	}
	return q
}

// sameList fails t when the two DBs answer q differently.
func sameList(t testing.TB, ctx context.Context, cached, uncached *store.DB, projectID string, q catalog.MetricQuery) {
	t.Helper()
	got, gotTotal, err := cached.ListMetrics(ctx, projectID, q)
	if err != nil {
		t.Fatalf("cached ListMetrics(%+v): %v", q, err)
	}
	want, wantTotal, err := uncached.ListMetrics(ctx, projectID, q)
	if err != nil {
		t.Fatalf("SQL ListMetrics(%+v): %v", q, err)
	}
	if d := cmp.Diff(keysOf(want), keysOf(got)); d != "" || gotTotal != wantTotal {
		t.Fatalf("query %+v: total %d, want %d; keys (-SQL +cached):\n%s", q, gotTotal, wantTotal, d)
	}
	// A page answered from SQL before the filter's list was read started
	// reading it: the same page again comes from that list.
	cached.WaitListReads()
	got, gotTotal, err = cached.ListMetrics(ctx, projectID, q)
	if err != nil {
		t.Fatalf("cached ListMetrics(%+v): %v", q, err)
	}
	if d := cmp.Diff(keysOf(want), keysOf(got)); d != "" || gotTotal != wantTotal {
		t.Fatalf("query %+v, again: total %d, want %d; keys (-SQL +cached):\n%s", q, gotTotal, wantTotal, d)
	}
}

func patchFixtures(t *testing.T, db *store.DB) (catalog.Project, catalog.Project) {
	ctx := t.Context()
	mustMember(t, db, "alice", "alice@example.com", "writer", at(0))
	mustMember(t, db, "bob", "bob@example.com", "writer", at(0))
	for _, k := range []string{"core", "web"} {
		if err := db.CreateTeam(ctx, &account.Team{Key: k, Name: k, Version: 1, CreatedAt: at(0), UpdatedAt: at(0)}); err != nil {
			t.Fatalf("CreateTeam: %v", err)
		}
	}
	p, _ := mustProject(t, db, "proj-px", "px", at(0))
	other, _ := mustProject(t, db, "proj-px-other", "px-other", at(0))
	return p, other
}

// createRandom creates n random metrics of p (skipping ID clashes).
func createRandom(t *testing.T, db *store.DB, r *rand.Rand, p catalog.Project, n int, live map[string]*catalog.Metric) {
	t.Helper()
	for i := 0; i < n; i++ {
		m := randomPatchMetric(r, p, len(live)+i)
		if live[m.ID] != nil {
			continue
		}
		if err := db.CreateMetric(t.Context(), m); err != nil {
			t.Fatalf("CreateMetric: %v", err)
		}
		live[m.ID] = m
	}
}

// anyLive is a random live metric (nil when there is none).
func anyLive(r *rand.Rand, live map[string]*catalog.Metric) *catalog.Metric {
	if len(live) == 0 {
		return nil
	}
	n := r.IntN(len(live))
	for _, m := range live {
		if n == 0 {
			return m
		}
		n--
	}
	return nil
}

// randomWrite makes one random write to a metric of p through db.
func randomWrite(t *testing.T, db *store.DB, r *rand.Rand, p catalog.Project, live map[string]*catalog.Metric) string {
	t.Helper()
	ctx := t.Context()
	m := anyLive(r, live)
	op := r.IntN(7)
	if m == nil {
		op = 0
	}
	update := func(change func()) {
		prev := m.Version
		m.Version++
		m.VersionID = fmt.Sprintf("%s-v%d", m.ID, m.Version)
		change()
		if err := db.UpdateMetric(ctx, m, prev); err != nil {
			t.Fatalf("UpdateMetric: %v", err)
		}
	}
	switch op {
	case 0:
		createRandom(t, db, r, p, 1, live)
		return "create"
	case 1:
		update(func() { m.Def.Tags = randomTags(r) })
		return "tags"
	case 2:
		update(func() { m.Kind = pick(r, catalog.MetricKinds); m.Def.IsNumeric = !m.Def.IsNumeric })
		return "kind/numeric"
	case 3:
		update(func() {
			if m.ArchivedAt == nil {
				a := at(time.Hour)
				m.ArchivedAt, m.Def.Archived = &a, true
			} else {
				m.ArchivedAt, m.Def.Archived = nil, false
			}
		})
		return "archive"
	case 4:
		update(func() { randomizeMetric(r, m) })
		return "everything"
	default:
		if err := db.DeleteMetric(ctx, p.ID, m.Key); err != nil {
			t.Fatalf("DeleteMetric: %v", err)
		}
		delete(live, m.ID)
		if op == 6 {
			// The same ID comes back, with other values.
			m.Version, m.VersionID = 1, m.ID+"-again"
			randomizeMetric(r, m)
			mustMetric(t, db, m)
			live[m.ID] = m
			return "delete and re-create"
		}
		return "delete"
	}
}

func TestListPatchInvariantMatchesSQL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(seed, 7))
		// The index would answer most of these lists (see
		// TestMetricIndexMatchesSQL).
		db := mustOpen(t, b.URL, store.WithoutMetricIndex())
		uncached := openUncached(t, b.URL)
		p, live := randomProject(t, db, r)
		pool := make([]catalog.MetricQuery, 40)
		for i := range pool {
			pool[i] = randomPatchQuery(r)
		}
		check := func() {
			t.Helper()
			checkPool(t, ctx, db, uncached, p.ID, r, pool, 3, func() catalog.MetricQuery { return randomPatchQuery(r) })
		}
		check()
		before := db.ListPatches()
		if !writeAndCheck(t, db, r, p, live, 80, check) {
			return
		}
		if n := db.ListPatches() - before; n < int64(80*len(pool)/4) {
			t.Fatalf("%d lists patched over 80 writes and %d cached lists, want most of them", n, len(pool))
		}
		// Many changes at once: read again instead; the project deleted
		// and created again under the same ID: its cached lists are never
		// patched into the new one's.
		importAndRecreate(t, db, r, p, live, check)
	})
}

// randomProject makes the fixtures, 150 random metrics of their project p
// (live) and 20 of another project.
func randomProject(t *testing.T, db *store.DB, r *rand.Rand) (catalog.Project, map[string]*catalog.Metric) {
	t.Helper()
	p, other := patchFixtures(t, db)
	live := map[string]*catalog.Metric{}
	createRandom(t, db, r, p, 150, live)
	createRandom(t, db, r, other, 20, map[string]*catalog.Metric{})
	return p, live
}

// checkPool lists every query of pool at a random offset, then fresh new
// queries, through both DBs (sameList).
func checkPool(t *testing.T, ctx context.Context, db, uncached *store.DB, projectID string, r *rand.Rand, pool []catalog.MetricQuery, fresh int, newQuery func() catalog.MetricQuery) {
	t.Helper()
	for _, q := range pool {
		q.Offset = pick(r, []int{0, 0, 1, 5, 20, 200})
		sameList(t, ctx, db, uncached, projectID, q)
	}
	for range fresh {
		sameList(t, ctx, db, uncached, projectID, newQuery())
	}
}

// writeAndCheck makes n random writes to p through db and runs check
// after each, in a subtest that names the write when it fails; false
// when one failed.
func writeAndCheck(t *testing.T, db *store.DB, r *rand.Rand, p catalog.Project, live map[string]*catalog.Metric, n int, check func()) bool {
	t.Helper()
	for range n {
		what := randomWrite(t, db, r, p, live)
		t.Run("", func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("after %s", what)
				}
			}()
			check()
		})
		if t.Failed() {
			return false
		}
	}
	return true
}

// importAndRecreate imports 1,200 random metrics into p in one
// transaction (more changes than a patch takes) and checks; then deletes
// p, creates it again under the same ID with 30 metrics, and checks after
// that and after each of 10 random writes. live follows.
func importAndRecreate(t *testing.T, db *store.DB, r *rand.Rand, p catalog.Project, live map[string]*catalog.Metric, check func()) {
	t.Helper()
	ctx := t.Context()
	var batch []*catalog.Metric
	for i := range 1200 {
		batch = append(batch, randomPatchMetric(r, p, 10000+i))
	}
	if err := db.ImportMetrics(ctx, batch); err != nil {
		t.Fatalf("ImportMetrics: %v", err)
	}
	for _, m := range batch {
		live[m.ID] = m
	}
	check()
	check()
	if err := db.DeleteProject(ctx, p.Key); err != nil {
		t.Fatalf("DeleteProject: %v", err)
	}
	mustProject(t, db, p.ID, p.Key, at(0))
	clear(live)
	createRandom(t, db, r, p, 30, live)
	check()
	for range 10 {
		randomWrite(t, db, r, p, live)
		check()
	}
}

// TestListPatchReplicaCurrent writes through one DB handle and lists
// through another (each with its own cache, as two replicas), which must
// see every committed write at once: through patched lists, and through
// project indexes brought forward (metric_index.go).
func TestListPatchReplicaCurrent(t *testing.T) {
	for _, index := range []bool{false, true} {
		t.Run(fmt.Sprintf("index=%v", index), func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, b testdb.Backend) { testReplicaCurrent(t, b, index) })
		})
	}
}

func testReplicaCurrent(t *testing.T, b testdb.Backend, index bool) {
	ctx := t.Context()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 9))
	var opts []store.Option
	if !index {
		opts = append(opts, store.WithoutMetricIndex())
	}
	a := mustOpen(t, b.URL, opts...)
	replica := mustOpen(t, b.URL, opts...)
	uncached := openUncached(t, b.URL)
	p, _ := patchFixtures(t, a)
	live := map[string]*catalog.Metric{}
	createRandom(t, a, r, p, 60, live)
	pool := []catalog.MetricQuery{
		{Page: core.Page{Limit: 50}, TagsAll: []string{"t1"}},
		{Page: core.Page{Limit: 10}, Sort: []core.SortKey{{Field: "name", Desc: true}}},
		{Page: core.Page{Limit: 10}, Kinds: []string{catalog.KindCustom}, Sort: []core.SortKey{{Field: "createdAt", Desc: true}}},
	}
	for range 6 {
		pool = append(pool, randomPatchQuery(r))
	}
	before, answered := replica.ListPatches(), replica.IndexAnswered()
	for i := range 40 {
		writer := a
		if i%2 == 1 {
			writer = replica
		}
		randomWrite(t, writer, r, p, live)
		for _, reader := range []*store.DB{a, replica} {
			for _, q := range pool {
				sameList(t, ctx, reader, uncached, p.ID, q)
			}
		}
	}
	if !index && replica.ListPatches() == before {
		t.Fatal("the replica never patched a list")
	}
	// The three fixed filters are indexed (the random ones may not be:
	// two sort keys, connections), listed twice after each write.
	if n := replica.IndexAnswered() - answered; index && n < 40*3 {
		t.Fatalf("the replica's index answered %d of %d pages, want at least the fixed filters'", n, 40*len(pool)*2)
	}
}

// TestListPatchConcurrentWritesAndLists runs writers and listers together
// (run it with -race): every writer lists right after each write of its
// own and must see it, through its own DB and through another, while
// listers patch the same cached lists.
func TestListPatchConcurrentWritesAndLists(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		a := mustOpen(t, b.URL)
		replica := mustOpen(t, b.URL)
		p, _ := patchFixtures(t, a)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					tag := fmt.Sprintf("w%d", w)
					key := fmt.Sprintf("c-%d-%03d", w, i)
					// Pairs share a created time: the name breaks the tie.
					m := simpleMetric(p, key, key, at(time.Duration(i/2)*time.Second))
					m.Def.Tags = []string{tag, "all"}
					if err := a.CreateMetric(ctx, m); err != nil {
						errs <- err
						return
					}
					for _, db := range []*store.DB{a, replica} {
						got, total, err := db.ListMetrics(ctx, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 1}, TagsAll: []string{tag},
							Sort: []core.SortKey{{Field: "createdAt", Desc: true}, {Field: "name", Desc: true}}})
						if err != nil {
							errs <- err
							return
						}
						if total != i+1 || len(got) != 1 || got[0].Key != m.Key {
							errs <- fmt.Errorf("writer %d after create %d: total %d, page %v", w, i, total, keysOf(got))
							return
						}
					}
				}
			}()
		}
		for l := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db := []*store.DB{a, replica}[l%2]
				last := 0
				for i := range 100 {
					q := catalog.MetricQuery{Page: core.Page{Limit: 20}, TagsAll: []string{"all"}, Sort: []core.SortKey{{Field: "name"}}}
					if i%2 == 1 {
						q = catalog.MetricQuery{Page: core.Page{Limit: 20}, Queries: [][]string{{fmt.Sprintf("c-%d", i%4)}}}
					}
					_, total, err := db.ListMetrics(ctx, p.ID, q)
					if err != nil {
						errs <- fmt.Errorf("lister %d: %w", i, err)
						return
					}
					// Creates only: a later list never has fewer.
					if i%2 == 0 {
						if total < last {
							errs <- fmt.Errorf("lister %d: total went from %d to %d", l, last, total)
							return
						}
						last = total
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		uncached := openUncached(t, b.URL)
		for _, db := range []*store.DB{a, replica} {
			sameList(t, ctx, db, uncached, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 100}, TagsAll: []string{"all"}, Sort: []core.SortKey{{Field: "name"}}})
		}
	})
}

// TestListFirstPageMatchesSQL lists random filters, sorts and offsets
// when no match list of theirs is cached (a DB that reads its lists again
// after every write, with a small threshold so that both of firstPage's
// query shapes run): the page answered from SQL before the list is read,
// and the one answered from that list once read, must both equal the
// uncached SQL page, with the same total.
func TestListFirstPageMatchesSQL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(seed, 11))
		db := mustOpen(t, b.URL, store.WithoutListPatches(), store.WithFewMatches(4), store.WithoutMetricIndex())
		uncached := openUncached(t, b.URL)
		p, other := patchFixtures(t, db)
		live := map[string]*catalog.Metric{}
		createRandom(t, db, r, p, 150, live)
		createRandom(t, db, r, other, 20, map[string]*catalog.Metric{})
		before := db.FirstPages()
		for range 30 {
			randomWrite(t, db, r, p, live)
			for range 5 {
				sameList(t, ctx, db, uncached, p.ID, randomPatchQuery(r))
			}
			sameList(t, ctx, db, uncached, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 7, Offset: r.IntN(20)},
				Sort: []core.SortKey{{Field: "createdAt", Desc: true}}, IsNumeric: ptr(r.IntN(2) == 0)})
			// Tags, alone, several, and with conditions on the metric.
			tq := randomPatchQuery(r)
			tq.TagsAll = []string{pick(r, patchTags)}
			if r.IntN(2) == 0 {
				tq.TagsAll = append(tq.TagsAll, pick(r, append(patchTags, "nope")))
			}
			sameList(t, ctx, db, uncached, p.ID, tq)
		}
		// Many filters were new at their generation; how many depends on
		// the seed (some repeat one listed since the last write, some are
		// not indexed): 115-144 of 210 over 25 seeds, so the bound is
		// well below that spread.
		if n := db.FirstPages() - before; n < 30*2 {
			t.Fatalf("%d pages answered from SQL before their list over 30 writes and 7 filters each, want at least 2 per write", n)
		}
	})
}
