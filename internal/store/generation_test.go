package store_test

import (
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/testdb"
)

// TestReplicaProjectGeneration checks the generation that cached
// representations are validated against, through two handles on one
// database (two replicas): every metric write through either one is seen
// by the next read through the other. On SQLite a read while nobody has
// committed costs no statement (the wal-index stamp), and any commit, in
// whichever handle, makes the next read ask the database again.
func TestReplicaProjectGeneration(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		w, r := mustOpen(t, b.URL), mustOpen(t, b.URL)
		p, _ := mustProject(t, w, "p1", "p", base)
		gen := func(what string) int64 {
			t.Helper()
			g, err := r.ProjectGeneration(ctx, "p")
			if err != nil {
				t.Fatalf("%s: ProjectGeneration: %v", what, err)
			}
			return g
		}
		g0 := gen("start")
		before := r.Statements()
		if g := gen("again"); g != g0 {
			t.Fatalf("generation moved without a write: %d, then %d", g0, g)
		}
		cost := r.Statements() - before
		if b.Name == "sqlite" && cost != 0 {
			t.Errorf("a generation read with no commit since cost %d statements on SQLite, want 0", cost)
		}
		if b.Name == "postgres" && cost != 1 {
			t.Errorf("a generation read cost %d statements on PostgreSQL, want 1", cost)
		}
		last := g0
		for i, key := range []string{"a", "b", "c"} {
			writer := w
			if i%2 == 1 {
				writer = r
			}
			mustMetric(t, writer, simpleMetric(p, "m-"+key, key, base.Add(time.Duration(i)*time.Second)))
			if g := gen("after write " + key); g <= last {
				t.Fatalf("after creating %s through handle %d, generation %d, was %d", key, i%2, g, last)
			} else {
				last = g
			}
		}
		if _, err := r.ProjectGeneration(ctx, "missing"); err == nil {
			t.Errorf("generation of a missing project: no error")
		}
	})
}
