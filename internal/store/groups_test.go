package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// seedGroups creates nGroups groups of size metrics each in a new project.
func seedGroups(t *testing.T, ctx context.Context, db *store.DB, key string, nGroups, size int) *catalog.Project {
	t.Helper()
	p := &catalog.Project{ID: core.NewObjectID(), Key: key, Name: key, Tags: []string{}, CreatedAt: time.Now().UTC()}
	if err := db.CreateProject(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	var metrics []catalog.Metric
	for i := range size {
		m := catalog.Metric{ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key, Key: fmt.Sprintf("m%d", i), Kind: catalog.KindCustom,
			Version: 1, VersionID: uuid.NewString(), CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
			Def: catalog.MetricDef{Name: fmt.Sprintf("M%d", i), EventKey: "e", Tags: []string{}, RandomizationUnits: []string{"user"},
				AnalysisType: "mean", UnitAggregationType: "average", DataSource: catalog.DataSource{Key: "launchdarkly"}}}
		if err := db.CreateMetric(ctx, &m); err != nil {
			t.Fatal(err)
		}
		metrics = append(metrics, m)
	}
	for g := range nGroups {
		grp := &catalog.MetricGroup{ID: uuid.NewString(), ProjectID: p.ID, ProjectKey: p.Key, Key: fmt.Sprintf("g%d", g), Version: 1,
			CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
			Def: catalog.GroupDef{Name: fmt.Sprintf("G%d", g), Kind: catalog.GroupStandard, Tags: []string{}}}
		for i := range metrics {
			grp.Metrics = append(grp.Metrics, catalog.GroupMetric{Metric: metrics[i], NameInGroup: fmt.Sprintf("step %d", i)})
		}
		if err := db.CreateMetricGroup(ctx, grp); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestGroupReadsUseFixedStatements asserts that reading a group or a page of
// groups costs the same number of SQL statements whatever the number of
// groups and metrics: no N+1 queries.
func TestGroupReadsUseFixedStatements(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()
		db, err := store.Open(ctx, b.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		small := seedGroups(t, ctx, db, "small", 1, 2)
		large := seedGroups(t, ctx, db, "large", 20, 10)

		cost := func(fn func() error) int64 {
			t.Helper()
			before := db.Statements()
			if err := fn(); err != nil {
				t.Fatal(err)
			}
			return db.Statements() - before
		}
		getSmall := cost(func() error { _, err := db.GetMetricGroup(ctx, small.ID, "g0"); return err })
		getLarge := cost(func() error {
			g, err := db.GetMetricGroup(ctx, large.ID, "g0")
			if err == nil && len(g.Metrics) != 10 {
				err = fmt.Errorf("group has %d metrics, want 10", len(g.Metrics))
			}
			return err
		})
		if getSmall != getLarge || getLarge != 2 {
			t.Errorf("GetMetricGroup statements: 2 metrics %d, 10 metrics %d; want 2 for both", getSmall, getLarge)
		}
		q := catalog.GroupQuery{Page: core.Page{Limit: 20}}
		listSmall := cost(func() error { _, _, err := db.ListMetricGroups(ctx, small.ID, q); return err })
		listLarge := cost(func() error {
			gs, _, err := db.ListMetricGroups(ctx, large.ID, q)
			if err == nil && (len(gs) != 20 || len(gs[19].Metrics) != 10) {
				err = fmt.Errorf("page has %d groups", len(gs))
			}
			return err
		})
		// generation, count, page, metrics of the page; a repeated list
		// answers the count from the cache.
		if listSmall != listLarge || listLarge != 4 {
			t.Errorf("ListMetricGroups statements: 1 group %d, 20 groups of 10 %d; want 4 for both", listSmall, listLarge)
		}
		if again := cost(func() error { _, _, err := db.ListMetricGroups(ctx, large.ID, q); return err }); again != 3 {
			t.Errorf("repeated ListMetricGroups statements = %d, want 3 (count cached)", again)
		}
	})
}

// TestListMetricsBothPagePlans lists a tag that more than 2,000 metrics
// carry (the page walks the sort index) and one that few carry (the page is
// driven from the tag index): both must give the same exact pages.
func TestListMetricsBothPagePlans(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()
		db, err := store.Open(ctx, b.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		p := &catalog.Project{ID: core.NewObjectID(), Key: "plans", Name: "plans", Tags: []string{}, CreatedAt: time.Now().UTC()}
		if err := db.CreateProject(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		const n = 2100
		base := time.UnixMilli(1_700_000_000_000).UTC()
		var ms []*catalog.Metric
		for i := range n {
			tags := []string{"wide"}
			if i%500 == 3 {
				tags = append(tags, "narrow")
			}
			at := base.Add(time.Duration(i) * time.Second)
			ms = append(ms, &catalog.Metric{ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key, Key: fmt.Sprintf("m%04d", i), Kind: catalog.KindCustom,
				Version: 1, VersionID: uuid.NewString(), CreatedAt: at, UpdatedAt: at,
				Def: catalog.MetricDef{Name: fmt.Sprintf("M%04d", i), EventKey: "e", Tags: tags, RandomizationUnits: []string{"user"},
					AnalysisType: "mean", UnitAggregationType: "average", DataSource: catalog.DataSource{Key: "launchdarkly"}}})
		}
		if err := db.ImportMetrics(ctx, ms); err != nil {
			t.Fatal(err)
		}
		keys := func(tag string, offset int) ([]string, int) {
			t.Helper()
			got, total, err := db.ListMetrics(ctx, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 3, Offset: offset},
				TagsAll: []string{tag}, Sort: []core.SortKey{{Field: "createdAt", Desc: true}}})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range got {
				out = append(out, m.Key)
			}
			return out, total
		}
		if got, total := keys("wide", 0); total != n || fmt.Sprint(got) != "[m2099 m2098 m2097]" {
			t.Errorf("wide, first page: %v of %d, want [m2099 m2098 m2097] of %d", got, total, n)
		}
		if got, total := keys("wide", n-2); total != n || fmt.Sprint(got) != "[m0001 m0000]" {
			t.Errorf("wide, last page: %v of %d, want [m0001 m0000] of %d", got, total, n)
		}
		if got, total := keys("narrow", 0); total != 5 || fmt.Sprint(got) != "[m2003 m1503 m1003]" {
			t.Errorf("narrow, first page: %v of %d, want [m2003 m1503 m1003] of 5", got, total)
		}
		if got, total := keys("narrow", 3); total != 5 || fmt.Sprint(got) != "[m0503 m0003]" {
			t.Errorf("narrow, second page: %v of %d, want [m0503 m0003] of 5", got, total)
		}
	})
}
