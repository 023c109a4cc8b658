package store_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestExplorerPaging pages every explorer list on both backends: pages are
// disjoint, in a stable order, together the whole list, and each carries
// the list's total.
func TestExplorerPaging(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		p, envs := mustProject(t, db, "proj-explore", "explore", at(0))
		prod, other := envs[0], envs[1]
		now := time.Now()
		hour := now.UTC().Truncate(time.Hour).UnixMilli()
		const h = int64(time.Hour / time.Millisecond)

		// 60 custom metrics m000…m059 on keys e000…e059; m000…m009 numeric.
		for i := range 60 {
			m := simpleMetric(p, fmt.Sprintf("id-m%03d", i), fmt.Sprintf("m%03d", i), at(time.Duration(i+1)*time.Second))
			m.Def.EventKey = fmt.Sprintf("e%03d", i)
			if i < 10 {
				m.Def.IsNumeric, m.Def.SuccessCriteria, m.Def.UnitAggregationType = true, "HigherThanBaseline", "sum"
			}
			mustMetric(t, db, m)
		}
		// Two more metrics share e000; one of them is archived.
		shared := simpleMetric(p, "id-shared", "shared", at(70*time.Second))
		shared.Def.EventKey = "e000"
		mustMetric(t, db, shared)
		gone := simpleMetric(p, "id-gone", "gone", at(71*time.Second))
		gone.Def.EventKey = "e000"
		mustMetric(t, db, gone)
		raw.exec(`UPDATE metrics SET archived_at = ? WHERE id = ?`, at(72*time.Second).UnixMilli(), "id-gone")
		// A pageview metric whose goal key is its own key.
		pv := simpleMetric(p, "id-pv", "pv-home", at(73*time.Second))
		pv.Kind, pv.Def.EventKey = catalog.KindPageview, ""
		pv.Def.URLs = []catalog.URLMatcher{{Kind: "exact", URL: "https://example.com/"}}
		mustMetric(t, db, pv)

		type key struct {
			kind, key string
			last      int64
			values    bool
		}
		var keys []key
		for i := range 20 { // e000…e019 seen this week, the even ones with values
			keys = append(keys, key{"custom", fmt.Sprintf("e%03d", i), hour - int64(i%4)*h, i%2 == 0})
		}
		keys = append(keys, key{"pageview", "pv-home", hour, false})
		for i := range 12 { // unused keys
			keys = append(keys, key{"custom", fmt.Sprintf("u%02d", i), hour - int64(i%3)*h, false})
		}
		keys = append(keys, key{"custom", "e050", hour - 10*24*h, false}) // ten days ago
		if err := db.TransactEvents(ctx, func(tx events.FlushTx) error {
			rollups := map[events.RollupKey]*events.Rollup{}
			var seen []events.Seen
			for _, k := range keys {
				r := &events.Rollup{Count: 3}
				if k.values {
					r.ValueCount, r.Sum, r.Min, r.Max = 2, 5, 1, 4
				}
				rollups[events.RollupKey{EnvID: prod.ID, Kind: k.kind, Key: k.key, Hour: k.last}] = r
				seen = append(seen, events.Seen{EnvID: prod.ID, ProjectID: p.ID, Kind: k.kind, Key: k.key, First: k.last, Last: k.last})
			}
			if err := tx.AppendLog(ctx, prod.ID, events.AppendLog(nil, len(rollups), maps.All(rollups))); err != nil {
				return err
			}
			return tx.TouchSources(ctx, seen)
		}); err != nil {
			t.Fatal(err)
		}
		since := now.Add(-7 * 24 * time.Hour)

		var wantSilent []string
		for i := 20; i < 60; i++ {
			wantSilent = append(wantSilent, fmt.Sprintf("m%03d", i))
		}
		wantNoValues := []string{"m001", "m003", "m005", "m007", "m009"}
		// Most recently seen first, then kind, then key.
		var wantKeys, wantUnused []string
		sorted := slices.Clone(keys[:len(keys)-1])
		slices.SortStableFunc(sorted, func(a, b key) int {
			if a.last != b.last {
				return int(b.last - a.last)
			}
			if a.kind != b.kind {
				return cmpStr(a.kind, b.kind)
			}
			return cmpStr(a.key, b.key)
		})
		for _, k := range sorted {
			wantKeys = append(wantKeys, k.kind+"/"+k.key)
			if k.key[0] == 'u' {
				wantUnused = append(wantUnused, k.kind+"/"+k.key)
			}
		}

		states := func(list events.HealthList, env string, limit int) ([]string, []events.MetricState) {
			t.Helper()
			var got []string
			var all []events.MetricState
			want := -1
			for off := 0; ; off += limit {
				pg, err := db.MetricStates(ctx, events.StateQuery{ProjectID: p.ID, EnvID: env, Since: since, List: list, Page: core.Page{Limit: limit, Offset: off}})
				if err != nil {
					t.Fatalf("MetricStates(%d, offset %d): %v", list, off, err)
				}
				if want >= 0 && pg.Total != want {
					t.Errorf("list %d: total %d at offset %d, was %d", list, pg.Total, off, want)
				}
				want = pg.Total
				if len(pg.Items) > limit {
					t.Fatalf("list %d: %d items for limit %d", list, len(pg.Items), limit)
				}
				for _, s := range pg.Items {
					got = append(got, s.Key)
					all = append(all, s)
				}
				if len(pg.Items) < limit {
					if len(got) != pg.Total {
						t.Errorf("list %d: %d items over the pages, total %d", list, len(got), pg.Total)
					}
					return got, all
				}
			}
		}
		eventKeys := func(unused bool, limit int) ([]string, []events.KeySummary) {
			t.Helper()
			var got []string
			var all []events.KeySummary
			for off := 0; ; off += limit {
				pg, err := db.EventKeys(ctx, events.KeyQuery{EnvID: prod.ID, Since: since, Unused: unused, Page: core.Page{Limit: limit, Offset: off}})
				if err != nil {
					t.Fatalf("EventKeys(offset %d): %v", off, err)
				}
				for _, k := range pg.Items {
					got = append(got, k.Kind+"/"+k.Key)
					all = append(all, k)
				}
				if len(pg.Items) < limit {
					if len(got) != pg.Total {
						t.Errorf("event keys (unused %v): %d over the pages, total %d", unused, len(got), pg.Total)
					}
					return got, all
				}
			}
		}

		t.Run("metrics without events", func(t *testing.T) {
			got, all := states(events.Silent, prod.ID, 7)
			if d := cmp.Diff(wantSilent, got); d != "" {
				t.Errorf("silent (-want +got):\n%s", d)
			}
			for _, s := range all {
				if s.Key == "m050" && (s.LastSeen == nil || s.LastSeen.UnixMilli() != hour-10*24*h) {
					t.Errorf("m050 last seen %v, want ten days ago", s.LastSeen)
				}
				if s.Key != "m050" && s.LastSeen != nil {
					t.Errorf("%s last seen %v, want never", s.Key, s.LastSeen)
				}
			}
			// In an environment without events every fed, unarchived metric
			// is silent.
			got, _ = states(events.Silent, other.ID, 25)
			want := append(slices.Clone(wantSilent), "pv-home", "shared")
			for i := range 20 {
				want = append(want, fmt.Sprintf("m%03d", i))
			}
			slices.Sort(want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("silent in the other environment (-want +got):\n%s", d)
			}
		})
		t.Run("numeric metrics without values", func(t *testing.T) {
			got, all := states(events.NoValues, prod.ID, 2)
			if d := cmp.Diff(wantNoValues, got); d != "" {
				t.Errorf("no values (-want +got):\n%s", d)
			}
			for _, s := range all {
				if s.Volume != 3 || s.EventKey != "e"+s.Key[1:] || !s.IsNumeric || s.LastSeen == nil {
					t.Errorf("state %+v", s)
				}
			}
		})
		t.Run("event keys", func(t *testing.T) {
			got, all := eventKeys(false, 4)
			if d := cmp.Diff(wantKeys, got); d != "" {
				t.Errorf("keys (-want +got):\n%s", d)
			}
			for _, k := range all {
				var want []string
				switch k.Key {
				case "e000":
					want = []string{"m000", "shared"}
				case "pv-home":
					want = []string{"pv-home"}
				default:
					if k.Key[0] == 'e' {
						want = []string{"m" + k.Key[1:]}
					}
				}
				if d := cmp.Diff(want, k.Metrics, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); d != "" {
					t.Errorf("%s metrics (-want +got):\n%s", k.Key, d)
				}
				if k.Volume != 3 {
					t.Errorf("%s volume %d, want 3", k.Key, k.Volume)
				}
			}
			got, _ = eventKeys(true, 5)
			if d := cmp.Diff(wantUnused, got); d != "" {
				t.Errorf("unused keys (-want +got):\n%s", d)
			}
		})
		t.Run("a page past the end", func(t *testing.T) {
			pg, err := db.MetricStates(ctx, events.StateQuery{ProjectID: p.ID, EnvID: prod.ID, Since: since, List: events.Silent, Page: core.Page{Limit: 10, Offset: 1000}})
			if err != nil || len(pg.Items) != 0 || pg.Total != 40 {
				t.Errorf("past the end: %+v %v", pg, err)
			}
		})
	})
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
