package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/resource"
	"github.com/metricsd/metricsd/internal/testdb"
)

// walk reads every entry q selects by following the cursors, pages of
// limit entries.
func walk(t *testing.T, db interface {
	AuditEntries(context.Context, audit.Query) ([]audit.Entry, string, error)
}, q audit.Query) []string {
	t.Helper()
	var ids []string
	for range 1000 {
		page, next, err := db.AuditEntries(context.Background(), q)
		if err != nil {
			t.Fatalf("AuditEntries: %v", err)
		}
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if next == "" {
			return ids
		}
		q.BeforeID = next
	}
	t.Fatal("paging did not end")
	return nil
}

func metricEntry(at time.Time, key string, tags []string) audit.Entry {
	c := audit.Change{
		Target:  audit.Target{Kind: "metric", Spec: resource.Metric("default", key, tags), Name: key},
		Actions: []action.Action{action.CreateMetric},
	}
	return audit.NewEntry(context.Background(), c, at)
}

// TestAuditPaging: pages follow each other exactly, inside one millisecond
// too, and rows matched in Go after the SQL never make a page short.
func TestAuditPaging(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		db := mustOpen(t, b.URL)
		defer db.Close()
		ctx := context.Background()
		base := time.UnixMilli(1_800_000_000_000).UTC()
		var entries []audit.Entry
		// Five entries in one millisecond, then three newer ones whose tags
		// a glob's LIKE matches but the glob does not, and members created
		// together.
		for i := range 5 {
			entries = append(entries, metricEntry(base, fmt.Sprintf("same-%d", i), []string{"azb"}))
		}
		for i := range 3 {
			entries = append(entries, metricEntry(base.Add(time.Duration(i+1)*time.Millisecond), fmt.Sprintf("decoy-%d", i), []string{"ax", "yb"}))
		}
		first := audit.NewEntry(ctx, audit.Change{
			Target:  audit.Target{Kind: "member", Spec: resource.Member("aaa"), Name: "aaa"},
			Actions: []action.Action{action.CreateMember},
		}, base.Add(10*time.Millisecond))
		entries = append(entries, first)
		for i := range 3 {
			entries = append(entries, audit.NewEntry(ctx, audit.Change{
				Target:  audit.Target{Kind: "member", Spec: resource.Member(fmt.Sprintf("m%d", i)), Name: "bulk", Others: []string{"member/x", "member/y"}},
				Actions: []action.Action{action.CreateMember},
			}, base.Add(time.Duration(20+i)*time.Millisecond)))
		}
		if err := db.SeedAudit(ctx, entries); err != nil {
			t.Fatal(err)
		}
		all := walk(t, db, audit.Query{Limit: 20})
		if len(all) != len(entries) {
			t.Fatalf("whole log: %d entries, want %d", len(all), len(entries))
		}
		if d := cmp.Diff(all, walk(t, db, audit.Query{Limit: 2})); d != "" {
			t.Errorf("pages of 2 (-pages of 20 +pages of 2):\n%s", d)
		}
		spec := func(s string) *resource.Spec {
			p, err := resource.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			return &p
		}
		for _, c := range []struct {
			spec string
			want int
		}{
			{"proj/default:metric/*;a*b", 5},
			{"proj/default:metric/same-*", 5},
			{"member/aaa", 1},
			{"member/y", 3},
		} {
			for _, limit := range []int{1, 2, 20} {
				if got := walk(t, db, audit.Query{Limit: limit, Spec: spec(c.spec)}); len(got) != c.want {
					t.Errorf("%s in pages of %d: %d entries, want %d", c.spec, limit, len(got), c.want)
				}
			}
			page, _, err := db.AuditEntries(ctx, audit.Query{Limit: 1, Spec: spec(c.spec)})
			if err != nil || len(page) != 1 {
				t.Errorf("%s: first page of 1 has %d entries (%v), want 1", c.spec, len(page), err)
			}
		}
	})
}
