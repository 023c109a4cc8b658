package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// listSpec describes one seeded metric of TestListMetrics. The slice order is
// the expected createdAt order.
type listSpec struct {
	key, name, kind string
	numeric         bool
	agg             string
	tags            []string
	maint           string
	ds              string
}

var listSpecs = []listSpec{
	/* 0 */ {"checkout-conversion", "Checkout Conversion", "custom", false, "average", []string{"checkout", "web"}, "alice", "launchdarkly"},
	/* 1 */ {"checkout-revenue", "Revenue per checkout", "custom", true, "sum", []string{"checkout", "revenue"}, "alice", "snowflake"},
	/* 2 */ {"signup-rate", "Signup rate", "custom", false, "average", []string{"growth"}, "bob", "launchdarkly"},
	/* 3 */ {"page-load", "Page Load Time", "pageview", false, "average", []string{"web", "perf"}, "", "launchdarkly"},
	/* 4 */ {"home-view", "alpha", "pageview", false, "average", []string{"web"}, "bob", "launchdarkly"},
	/* 5 */ {"pricing-view", "Beta", "pageview", false, "average", []string{"web", "growth"}, "alice", "launchdarkly"},
	/* 6 */ {"docs-view", "beta", "pageview", false, "sum", []string{}, "", "launchdarkly"},
	/* 7 */ {"blog-view", "Zeta", "pageview", false, "average", []string{"web"}, "", "databricks"},
	/* 8 */ {"buy-click", "Buy button", "click", false, "average", []string{"checkout", "web"}, "bob", "launchdarkly"},
	/* 9 */ {"nav-click", "Nav click", "click", false, "sum", []string{"web"}, "", "launchdarkly"},
	/* 10 */ {"api-latency", "API latency", "trace", true, "average", []string{"perf"}, "alice", "launchdarkly"},
	/* 11 */ {"db-latency", "DB latency p99", "trace", true, "average", []string{"perf", "backend"}, "bob", "databricks"},
	/* 12 */ {"errors-total", "Errors total", "trace", false, "sum", []string{"backend"}, "", "launchdarkly"},
	/* 13 */ {"pct_done", "100% done", "custom", false, "average", []string{}, "", "launchdarkly"},
	/* 14 */ {"under_score", "Under score", "custom", false, "average", []string{}, "", "launchdarkly"},
	/* 15 */ {"wow-metric", "Wow! Clicks", "custom", false, "average", []string{}, "", "launchdarkly"},
	/* 16 */ {"bang-pct", "Ratio !% raw", "custom", true, "sum", []string{}, "alice", "snowflake"},
	/* 17 */ {"percent-plain", "percent", "custom", false, "average", []string{}, "", "launchdarkly"},
	/* 18 */ {"cart-adds", "Cart adds", "custom", true, "sum", []string{"checkout"}, "bob", "launchdarkly"},
	/* 19 */ {"cart-removes", "Cart removes", "custom", true, "sum", []string{"checkout"}, "", "launchdarkly"},
	/* 20 */ {"search-usage", "Search usage", "custom", false, "average", []string{"growth", "web"}, "alice", "launchdarkly"},
	/* 21 */ {"retention-d7", "Retention D7", "custom", false, "average", []string{"growth"}, "alice", "snowflake"},
	/* 22 */ {"retention-d30", "Retention D30", "custom", false, "average", []string{"growth"}, "alice", "snowflake"},
	/* 23 */ {"mobile-crash", "Mobile crash", "custom", false, "sum", []string{"mobile"}, "bob", "launchdarkly"},
	/* 24 */ {"mobile-launch", "Mobile launch", "custom", true, "average", []string{"mobile", "perf"}, "bob", "launchdarkly"},
	/* 25 */ {"trace-queue", "Queue depth", "trace", true, "sum", []string{"backend"}, "", "databricks"},
	/* 26 */ {"hero-click", "Hero CTA", "click", false, "average", []string{"web", "growth"}, "alice", "launchdarkly"},
	/* 27 */ {"footer-click", "Footer", "click", false, "average", []string{}, "", "launchdarkly"},
	/* 28 */ {"landing-view", "Landing", "pageview", false, "average", []string{"growth"}, "", "launchdarkly"},
	/* 29 */ {"Mixed-Case-KEY", "Mixed", "custom", false, "average", []string{}, "", "launchdarkly"},
}

// specKeys returns the keys of listSpecs at the given indexes.
func specKeys(idx ...int) []string {
	out := []string{}
	for _, i := range idx {
		out = append(out, listSpecs[i].key)
	}
	return out
}

func allSpecKeys() []string {
	out := []string{}
	for _, s := range listSpecs {
		out = append(out, s.key)
	}
	return out
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestListMetrics(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		uncached := mustOpen(t, b.URL, store.WithoutListCache())
		mustMember(t, db, "alice", "alice@example.com", "writer", at(0))
		mustMember(t, db, "bob", "bob@example.com", "writer", at(0))
		p, _ := mustProject(t, db, "proj-list", "list", at(0))
		other, _ := mustProject(t, db, "proj-other", "other", at(0))

		// IDs follow the slice order, so do creation times except for two
		// ties (8/9 and 21/22) that the id must break. Metrics are inserted
		// in reverse so that physical row order disagrees with the expected
		// order.
		created := func(i int) time.Time {
			switch i {
			case 9:
				i = 8
			case 22:
				i = 21
			}
			return at(time.Duration(i) * time.Second)
		}
		for i := len(listSpecs) - 1; i >= 0; i-- {
			s := listSpecs[i]
			m := simpleMetric(p, fmt.Sprintf("list-%03d", i), s.key, created(i))
			m.Kind = s.kind
			m.Def.Name, m.Def.IsNumeric, m.Def.UnitAggregationType = s.name, s.numeric, s.agg
			m.Def.Tags, m.Def.MaintainerID, m.Def.DataSource = s.tags, s.maint, catalog.DataSource{Key: s.ds}
			mustMetric(t, db, m)
		}
		// A metric of another project that matches many filters.
		foreign := simpleMetric(other, "foreign", "checkout-foreign", at(0))
		foreign.Def.Tags = []string{"checkout", "web"}
		foreign.Def.MaintainerID = "alice"
		mustMetric(t, db, foreign)

		all := allSpecKeys()
		nonNumeric := specKeys(0, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 17, 20, 21, 22, 23, 26, 27, 28, 29)
		for _, tc := range []struct {
			name string
			q    catalog.MetricQuery
			want []string
		}{
			{"no filter", catalog.MetricQuery{}, all},
			{"query key and name", catalog.MetricQuery{Queries: [][]string{{"checkout"}}}, specKeys(0, 1)},
			{"query upper case", catalog.MetricQuery{Queries: [][]string{{"CHECKOUT"}}}, specKeys(0, 1)},
			{"query name only", catalog.MetricQuery{Queries: [][]string{{"load time"}}}, specKeys(3)},
			{"query mixed-case key", catalog.MetricQuery{Queries: [][]string{{"mixed-case"}}}, specKeys(29)},
			{"query alternatives are OR", catalog.MetricQuery{Queries: [][]string{{"signup", "PAGE-LOAD"}}}, specKeys(2, 3)},
			{"query entries are AND", catalog.MetricQuery{Queries: [][]string{{"retention"}, {"d30"}}}, specKeys(22)},
			{"query percent literal", catalog.MetricQuery{Queries: [][]string{{"%"}}}, specKeys(13, 16)},
			{"query underscore literal", catalog.MetricQuery{Queries: [][]string{{"_"}}}, specKeys(13, 14)},
			{"query bang literal", catalog.MetricQuery{Queries: [][]string{{"!"}}}, specKeys(15, 16)},
			{"query bang percent literal", catalog.MetricQuery{Queries: [][]string{{"!%"}}}, specKeys(16)},
			{"query underscore is no wildcard", catalog.MetricQuery{Queries: [][]string{{"cart_adds"}}}, specKeys()},
			{"query percent is no wildcard", catalog.MetricQuery{Queries: [][]string{{"100%done"}}}, specKeys()},
			{"query no match", catalog.MetricQuery{Queries: [][]string{{"zzz"}}}, specKeys()},
			{"query backslash literal", catalog.MetricQuery{Queries: [][]string{{`\%`}}}, specKeys()},
			{"query double bang literal", catalog.MetricQuery{Queries: [][]string{{"!!"}}}, specKeys()},
			{"tag", catalog.MetricQuery{TagsAll: []string{"checkout"}}, specKeys(0, 1, 8, 18, 19)},
			{"tags all", catalog.MetricQuery{TagsAll: []string{"checkout", "web"}}, specKeys(0, 8)},
			{"tags all 2", catalog.MetricQuery{TagsAll: []string{"perf", "backend"}}, specKeys(11)},
			{"tag unknown", catalog.MetricQuery{TagsAll: []string{"nope"}}, specKeys()},
			{"kind click", catalog.MetricQuery{Kinds: []string{"click"}}, specKeys(8, 9, 26, 27)},
			{"kind trace", catalog.MetricQuery{Kinds: []string{"trace"}}, specKeys(10, 11, 12, 25)},
			{"numeric", catalog.MetricQuery{IsNumeric: ptr(true)}, specKeys(1, 10, 11, 16, 18, 19, 24, 25)},
			{"not numeric", catalog.MetricQuery{IsNumeric: ptr(false)}, nonNumeric},
			{"aggregation sum", catalog.MetricQuery{UnitAggregationType: "sum"}, specKeys(1, 6, 9, 12, 16, 18, 19, 23, 25)},
			{"aggregation average", catalog.MetricQuery{UnitAggregationType: "average", Kinds: []string{"trace"}}, specKeys(10, 11)},
			{"maintainer", catalog.MetricQuery{MaintainerIDs: []string{"alice"}}, specKeys(0, 1, 5, 10, 16, 20, 21, 22, 26)},
			{"maintainers", catalog.MetricQuery{MaintainerIDs: []string{"bob", "alice"}}, specKeys(0, 1, 2, 4, 5, 8, 10, 11, 16, 18, 20, 21, 22, 23, 24, 26)},
			{"maintainer unknown", catalog.MetricQuery{MaintainerIDs: []string{"nobody"}}, specKeys()},
			{"data source", catalog.MetricQuery{DataSourceKeys: []string{"snowflake"}}, specKeys(1, 16, 21, 22)},
			{"data sources", catalog.MetricQuery{DataSourceKeys: []string{"databricks", "snowflake"}}, specKeys(1, 7, 11, 16, 21, 22, 25)},
			{"has connections false", catalog.MetricQuery{HasConnections: ptr(false)}, all},
			{"has connections true", catalog.MetricQuery{HasConnections: ptr(true)}, specKeys()},
			{"used in none", catalog.MetricQuery{UsedIn: "none"}, all},
			{"used in any", catalog.MetricQuery{UsedIn: "any"}, specKeys()},
			{"used in experiments", catalog.MetricQuery{UsedIn: "experiments"}, specKeys()},
			{"used in guarded rollouts", catalog.MetricQuery{UsedIn: "guarded_rollouts"}, specKeys()},
			{"unknown view", catalog.MetricQuery{View: "nope"}, specKeys()},
			{"combined", catalog.MetricQuery{Kinds: []string{"custom"}, IsNumeric: ptr(true), UnitAggregationType: "sum"}, specKeys(1, 16, 18, 19)},
			{"combined with maintainer", catalog.MetricQuery{Kinds: []string{"custom"}, IsNumeric: ptr(true), UnitAggregationType: "sum", MaintainerIDs: []string{"alice"}}, specKeys(1, 16)},
			{"query and tag", catalog.MetricQuery{Queries: [][]string{{"cart"}}, TagsAll: []string{"checkout"}}, specKeys(18, 19)},

			{"sort createdAt asc", catalog.MetricQuery{Sort: []core.SortKey{{Field: "createdAt"}}}, all},
			{"sort createdAt desc", catalog.MetricQuery{Sort: []core.SortKey{{Field: "createdAt", Desc: true}}}, reversed(all)},
			{"sort createdAt tie asc", catalog.MetricQuery{Kinds: []string{"click"}, Sort: []core.SortKey{{Field: "createdAt"}}}, specKeys(8, 9, 26, 27)},
			{"sort createdAt tie desc", catalog.MetricQuery{Kinds: []string{"click"}, Sort: []core.SortKey{{Field: "createdAt", Desc: true}}}, specKeys(27, 26, 9, 8)},
			{"sort name asc", catalog.MetricQuery{Kinds: []string{"pageview"}, Sort: []core.SortKey{{Field: "name"}}}, specKeys(4, 5, 6, 28, 3, 7)},
			{"sort name desc", catalog.MetricQuery{Kinds: []string{"pageview"}, Sort: []core.SortKey{{Field: "name", Desc: true}}}, specKeys(7, 3, 28, 6, 5, 4)},
			{"sort name vs created", catalog.MetricQuery{Queries: [][]string{{"retention"}}, Sort: []core.SortKey{{Field: "name"}}}, specKeys(22, 21)},
			{"created tie by id", catalog.MetricQuery{Queries: [][]string{{"retention"}}}, specKeys(21, 22)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := tc.q
				q.Limit = 50
				// The uncached DB counts in SQL (countQuery) and pages
				// from it; the other from its match lists.
				for name, db := range map[string]*store.DB{"cached": db, "uncached": uncached} {
					got, total, err := db.ListMetrics(ctx, p.ID, q)
					if err != nil {
						t.Fatalf("%s: ListMetrics: %v", name, err)
					}
					if d := cmp.Diff(tc.want, keysOf(got)); d != "" {
						t.Errorf("%s: keys (-want +got):\n%s", name, d)
					}
					if total != len(tc.want) {
						t.Errorf("%s: total = %d, want %d", name, total, len(tc.want))
					}
				}
			})
		}

		t.Run("paging", func(t *testing.T) {
			for _, tc := range []struct {
				q     catalog.MetricQuery
				want  []string
				total int
			}{
				{catalog.MetricQuery{Page: core.Page{Limit: 7}}, all[0:7], 30},
				{catalog.MetricQuery{Page: core.Page{Limit: 7, Offset: 7}}, all[7:14], 30},
				{catalog.MetricQuery{Page: core.Page{Limit: 7, Offset: 28}}, all[28:30], 30},
				{catalog.MetricQuery{Page: core.Page{Limit: 7, Offset: 30}}, []string{}, 30},
				{catalog.MetricQuery{Page: core.Page{Limit: 7, Offset: 1000}}, []string{}, 30},
				{catalog.MetricQuery{Page: core.Page{Limit: 3}, Sort: []core.SortKey{{Field: "createdAt", Desc: true}}}, specKeys(29, 28, 27), 30},
				{catalog.MetricQuery{Page: core.Page{Limit: 2, Offset: 2}, Kinds: []string{"pageview"}, Sort: []core.SortKey{{Field: "name"}}}, specKeys(6, 28), 6},
				{catalog.MetricQuery{Page: core.Page{Limit: 2, Offset: 6}, Kinds: []string{"pageview"}}, []string{}, 6},
				{catalog.MetricQuery{Page: core.Page{Limit: 2, Offset: 1}, TagsAll: []string{"nope"}}, []string{}, 0},
			} {
				got, total, err := db.ListMetrics(ctx, p.ID, tc.q)
				if err != nil {
					t.Fatalf("ListMetrics(%+v): %v", tc.q, err)
				}
				if d := cmp.Diff(tc.want, keysOf(got)); d != "" {
					t.Errorf("ListMetrics(%+v) keys (-want +got):\n%s", tc.q, d)
				}
				if total != tc.total {
					t.Errorf("ListMetrics(%+v) total = %d, want %d", tc.q, total, tc.total)
				}
			}
		})

		t.Run("items equal GetMetric", func(t *testing.T) {
			got, _, err := db.ListMetrics(ctx, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 50}})
			if err != nil {
				t.Fatalf("ListMetrics: %v", err)
			}
			for _, m := range got {
				one := mustGetMetric(t, db, p.ID, m.Key, "")
				if d := diff(one, &m); d != "" {
					t.Errorf("list item %s differs from GetMetric (-want +got):\n%s", m.Key, d)
				}
			}
		})

		t.Run("other project", func(t *testing.T) {
			got, total, err := db.ListMetrics(ctx, other.ID, catalog.MetricQuery{Page: core.Page{Limit: 50}, TagsAll: []string{"checkout"}})
			if err != nil {
				t.Fatalf("ListMetrics: %v", err)
			}
			if d := cmp.Diff([]string{"checkout-foreign"}, keysOf(got)); d != "" || total != 1 {
				t.Errorf("other project: total %d, keys (-want +got):\n%s", total, d)
			}
		})
	})
}

// TestListMetricsTotals checks that the total of a list follows every write,
// whichever handle (replica) made it, and never comes from another state.
func TestListMetricsTotals(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		replica := mustOpen(t, b.URL)
		// Counts every list in SQL (countQuery: tags alone on the tag index).
		uncached := mustOpen(t, b.URL, store.WithoutListCache())
		p, _ := mustProject(t, db, "proj-totals", "totals", at(0))

		check := func(t *testing.T, what string, want ...string) {
			t.Helper()
			for _, h := range []struct {
				name string
				db   *store.DB
			}{{"writer", db}, {"replica", replica}, {"uncached", uncached}} {
				for _, q := range []catalog.MetricQuery{
					{TagsAll: []string{"kpi"}},
					{TagsAll: []string{"kpi", "kpi"}},
					{TagsAll: []string{"kpi"}, Queries: [][]string{{"metric"}}, IsNumeric: ptr(false)},
				} {
					q.Limit = 50
					got, total, err := h.db.ListMetrics(ctx, p.ID, q)
					if err != nil {
						t.Fatalf("%s: ListMetrics via %s: %v", what, h.name, err)
					}
					if d := cmp.Diff(append([]string{}, want...), keysOf(got)); d != "" || total != len(want) {
						t.Errorf("%s: ListMetrics via %s: total %d, keys (-want +got):\n%s", what, h.name, total, d)
					}
				}
			}
		}
		tagged := func(id, key string, i int) *catalog.Metric {
			m := simpleMetric(p, id, key, at(time.Duration(i)*time.Second))
			m.Def.Tags = []string{"kpi"}
			return m
		}

		check(t, "empty")
		mustMetric(t, db, tagged("t-1", "one", 1))
		check(t, "after create", "one")
		mustMetric(t, replica, tagged("t-2", "two", 2))
		check(t, "after create via replica", "one", "two")

		untag := *tagged("t-1", "one", 1)
		untag.Version, untag.VersionID, untag.Def.Tags = 2, "t-1-v2", []string{}
		if err := replica.UpdateMetric(ctx, &untag, 1); err != nil {
			t.Fatalf("UpdateMetric: %v", err)
		}
		check(t, "after untagging via replica", "two")
		if err := db.DeleteMetric(ctx, p.ID, "two"); err != nil {
			t.Fatalf("DeleteMetric: %v", err)
		}
		check(t, "after delete")
		retag := untag
		retag.Version, retag.VersionID, retag.Def.Tags = 3, "t-1-v3", []string{"kpi"}
		if err := db.UpdateMetric(ctx, &retag, 2); err != nil {
			t.Fatalf("UpdateMetric: %v", err)
		}
		check(t, "after retagging", "one")

		// A failed write changes nothing.
		dup := tagged("t-3", "one", 3)
		wantErr(t, "CreateMetric duplicate", db.CreateMetric(ctx, dup), core.ErrDuplicate)
		check(t, "after failed create", "one")

		t.Run("project re-created with the same id", func(t *testing.T) {
			// The project is deleted and created again under the same ID;
			// its new metrics must be counted afresh.
			if err := db.DeleteProject(ctx, p.Key); err != nil {
				t.Fatalf("DeleteProject: %v", err)
			}
			if _, err := db.GetProject(ctx, p.Key); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("GetProject after delete: %v", err)
			}
			if err := db.CreateProject(ctx, &p, nil); err != nil {
				t.Fatalf("CreateProject: %v", err)
			}
			var keys []string
			for i, key := range []string{"a", "b", "c", "d", "e", "f"} {
				mustMetric(t, db, tagged("t-new-"+key, key, i))
				keys = append(keys, key)
				check(t, fmt.Sprintf("re-created project with %d metrics", len(keys)), keys...)
			}
		})
	})
}
