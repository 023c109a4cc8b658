package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/view"
)

// viewWrite runs fn through the view write seam, recording no change.
func viewWrite(t *testing.T, db *store.DB, fn func(tx view.Tx) error) error {
	t.Helper()
	return db.TransactViews(t.Context(), func(tx view.Tx) (*audit.Change, error) { return nil, fn(tx) })
}

// mustView stores a view with the given tags and links the named metrics
// of the project to it.
func mustView(t *testing.T, db *store.DB, projectID, id, key string, created time.Time, tags []string, metricKeys ...string) *view.View {
	t.Helper()
	ctx := t.Context()
	v := &view.View{ID: id, ProjectID: projectID, Key: key, Fields: view.Fields{Name: "View " + key, Tags: tags}, Version: 1, CreatedAt: created, UpdatedAt: created}
	err := viewWrite(t, db, func(tx view.Tx) error {
		if err := tx.CreateView(ctx, v); err != nil {
			return err
		}
		if len(metricKeys) == 0 {
			return nil
		}
		ids, err := tx.MetricIDs(ctx, projectID, metricKeys)
		if err != nil {
			return err
		}
		var list []string
		for _, k := range metricKeys {
			if ids[k] == "" {
				return fmt.Errorf("no metric %s", k)
			}
			list = append(list, ids[k])
		}
		return tx.Link(ctx, v.ID, view.Metrics, nil, list, created)
	})
	if err != nil {
		t.Fatalf("create view %s: %v", key, err)
	}
	return v
}

func TestViewStore(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		owner := mustMember(t, db, "m-view-owner", "viewer@example.com", "writer", at(0))
		p, envs := mustProject(t, db, "proj-views", "views", at(0))
		for i, key := range []string{"a", "b", "c"} {
			mustMetric(t, db, simpleMetric(p, "vm-"+key, key, at(time.Duration(i)*time.Second)))
		}

		v := &view.View{ID: "view-1", ProjectID: p.ID, Key: "Checkout", Version: 1, CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute),
			Fields: view.Fields{Name: "Checkout", Description: "d", Tags: []string{"web", "team"}, GenerateSDKKeys: true, MaintainerID: owner.ID}}
		if err := viewWrite(t, db, func(tx view.Tx) error { return tx.CreateView(ctx, v) }); err != nil {
			t.Fatalf("CreateView: %v", err)
		}
		got, ms, err := db.GetView(ctx, p.ID, "Checkout", 10)
		if err != nil || len(ms) != 0 || ms == nil {
			t.Fatalf("GetView: %v, metrics %v", err, ms)
		}
		want := *v
		want.ProjectKey = "views"
		want.Maintainer = &owner
		if d := diff(want, *got); d != "" {
			t.Errorf("GetView (-want +got):\n%s", d)
		}

		t.Run("refusals", func(t *testing.T) {
			dup := *v
			dup.ID = "view-dup"
			wantErr(t, "duplicate key", viewWrite(t, db, func(tx view.Tx) error { return tx.CreateView(ctx, &dup) }), core.ErrDuplicate)
			orphan := &view.View{ID: "view-orphan", ProjectID: p.ID, Key: "orphan", Version: 1, Fields: view.Fields{Name: "O", MaintainerTeamKey: "ghosts"}}
			err := viewWrite(t, db, func(tx view.Tx) error { return tx.CreateView(ctx, orphan) })
			var missing *core.MissingRefsError
			if !errors.As(err, &missing) || missing.What != "team" {
				t.Errorf("CreateView with an unknown team: %v, want a *core.MissingRefsError for the team", err)
			}
			stale := *got
			stale.Version = 5
			wantErr(t, "stale update", viewWrite(t, db, func(tx view.Tx) error { return tx.UpdateView(ctx, &stale, 4) }), core.ErrStale)
			if _, _, err := db.GetView(ctx, p.ID, "orphan", 0); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("refused view stored: %v", err)
			}
			err = db.DeleteMember(ctx, owner.ID)
			var maint *account.MaintainsError
			if !errors.As(err, &maint) || len(maint.Refs) != 1 || maint.Refs[0] != (account.MaintainedRef{Kind: "view", ProjectKey: "views", Key: "Checkout"}) {
				t.Errorf("DeleteMember of a view's maintainer: %v, want a MaintainsError naming the view", err)
			}
		})

		t.Run("links", func(t *testing.T) {
			err := viewWrite(t, db, func(tx view.Tx) error {
				ids, err := tx.MetricIDs(ctx, p.ID, []string{"b", "a", "missing"})
				if err != nil {
					return err
				}
				if len(ids) != 2 || ids["a"] != "vm-a" || ids["b"] != "vm-b" {
					return fmt.Errorf("MetricIDs = %v", ids)
				}
				if err := tx.Link(ctx, v.ID, view.Metrics, nil, []string{"vm-b", "vm-a"}, at(2*time.Minute)); err != nil {
					return err
				}
				if err := tx.Link(ctx, v.ID, view.Flags, []view.Ref{{Key: "f1"}, {Key: "f2"}}, nil, at(2*time.Minute)); err != nil {
					return err
				}
				return tx.Link(ctx, v.ID, view.Segments, []view.Ref{{Key: "s", EnvironmentID: envs[0].ID}, {Key: "s"}}, nil, at(2*time.Minute))
			})
			if err != nil {
				t.Fatalf("link: %v", err)
			}
			// Linking again keeps the first link time; linking c later puts
			// it last.
			err = viewWrite(t, db, func(tx view.Tx) error {
				if err := tx.Link(ctx, v.ID, view.Metrics, nil, []string{"vm-a", "vm-c"}, at(3*time.Minute)); err != nil {
					return err
				}
				return tx.Link(ctx, v.ID, view.Flags, []view.Ref{{Key: "f1"}}, nil, at(3*time.Minute))
			})
			if err != nil {
				t.Fatalf("relink: %v", err)
			}
			got, ms, err := db.GetView(ctx, p.ID, "Checkout", 10)
			if err != nil || got.Counts != (view.Counts{Flags: 2, Segments: 2, Metrics: 3}) {
				t.Errorf("counts %+v (%v), want 2 flags, 2 segments, 3 metrics", got.Counts, err)
			}
			var order []string
			for _, m := range ms {
				order = append(order, m.Key+"@"+m.LinkedAt.Sub(base).Round(time.Second).String())
			}
			if d := cmp.Diff([]string{"a@2m0s", "b@2m0s", "c@3m0s"}, order); d != "" {
				t.Errorf("linked metrics order (-want +got):\n%s", d)
			}
			if _, ms, _ := db.GetView(ctx, p.ID, "Checkout", 2); len(ms) != 2 {
				t.Errorf("GetView metric limit 2 gave %d", len(ms))
			}
			if ms[0].Name != "Metric a" || ms[0].VersionID != "ver-vm-a-1" || ms[0].ProjectKey != "views" || ms[0].Kind == "" {
				t.Errorf("linked metric [0] = %+v", ms[0])
			}
			err = viewWrite(t, db, func(tx view.Tx) error {
				keys, err := tx.ViewMetricKeys(ctx, v.ID)
				if err != nil {
					return err
				}
				flags, err := tx.ViewRefs(ctx, v.ID, view.Flags)
				if err != nil {
					return err
				}
				segs, err := tx.ViewRefs(ctx, v.ID, view.Segments)
				if err != nil {
					return err
				}
				if d := cmp.Diff([]string{"a", "b", "c"}, keys); d != "" {
					return fmt.Errorf("ViewMetricKeys (-want +got):\n%s", d)
				}
				if d := cmp.Diff([]view.Ref{{Key: "f1"}, {Key: "f2"}}, flags); d != "" {
					return fmt.Errorf("flags (-want +got):\n%s", d)
				}
				if d := cmp.Diff([]view.Ref{{Key: "s"}, {Key: "s", EnvironmentID: envs[0].ID}}, segs); d != "" {
					return fmt.Errorf("segments (-want +got):\n%s", d)
				}
				found, err := tx.EnvironmentIDs(ctx, p.ID, []string{envs[1].ID, "elsewhere"})
				if err != nil {
					return err
				}
				if len(found) != 1 || !found[envs[1].ID] {
					return fmt.Errorf("EnvironmentIDs = %v", found)
				}
				return tx.Unlink(ctx, v.ID, view.Flags, []view.Ref{{Key: "f2"}, {Key: "never"}}, nil)
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, _, _ := db.GetView(ctx, p.ID, "Checkout", 0); got.Counts.Flags != 1 {
				t.Errorf("flags after unlink: %d, want 1", got.Counts.Flags)
			}
			// Deleting a metric removes it from the view.
			if err := db.DeleteMetric(ctx, p.ID, "c"); err != nil {
				t.Fatalf("DeleteMetric: %v", err)
			}
			if got, _, _ := db.GetView(ctx, p.ID, "Checkout", 0); got.Counts.Metrics != 2 {
				t.Errorf("metrics after deleting one: %d, want 2", got.Counts.Metrics)
			}
		})

		t.Run("list", func(t *testing.T) {
			mustView(t, db, p.ID, "view-2", "alpha", at(4*time.Minute), []string{"web"}, "a")
			mustView(t, db, p.ID, "view-3", "zeta", at(5*time.Minute), []string{"payments"})
			for _, tc := range []struct {
				name string
				q    view.Query
				want []string
			}{
				{"default order: key, ignoring case", view.Query{}, []string{"alpha", "Checkout", "zeta"}},
				{"name desc", view.Query{Sort: []core.SortKey{{Field: "name", Desc: true}}}, []string{"zeta", "alpha", "Checkout"}},
				{"key desc", view.Query{Sort: []core.SortKey{{Field: "key", Desc: true}}}, []string{"zeta", "Checkout", "alpha"}},
				{"updatedAt", view.Query{Sort: []core.SortKey{{Field: "updatedAt"}}}, []string{"Checkout", "alpha", "zeta"}},
				{"tag", view.Query{Conds: []view.Cond{{Field: "tag", Op: "equals", Values: []string{"web"}}}}, []string{"alpha", "Checkout"}},
				{"tag anyOf", view.Query{Conds: []view.Cond{{Field: "tag", Op: "anyOf", Values: []string{"team", "payments"}}}}, []string{"Checkout", "zeta"}},
				{"key contains, any case", view.Query{Conds: []view.Cond{{Field: "key", Op: "contains", Values: []string{"ECK"}}}}, []string{"Checkout"}},
				{"like wildcards are literal", view.Query{Conds: []view.Cond{{Field: "name", Op: "contains", Values: []string{"%"}}}}, []string{}},
				{"name startsWith", view.Query{Conds: []view.Cond{{Field: "name", Op: "startsWith", Values: []string{"view z"}}}}, []string{"zeta"}},
				{"key notEquals", view.Query{Conds: []view.Cond{{Field: "key", Op: "notEquals", Values: []string{"alpha"}}}}, []string{"Checkout", "zeta"}},
				{"maintainer", view.Query{Conds: []view.Cond{{Field: "maintainerId", Op: "equals", Values: []string{owner.ID}}}}, []string{"Checkout"}},
				{"maintainer notEquals", view.Query{Conds: []view.Cond{{Field: "maintainerId", Op: "notEquals", Values: []string{owner.ID}}}}, []string{"alpha", "zeta"}},
				{"payload", view.Query{Conds: []view.Cond{{Field: "isPayloadView", Op: "equals", Values: []string{"true"}}}}, []string{"Checkout"}},
				{"not payload", view.Query{Conds: []view.Cond{{Field: "isPayloadView", Op: "equals", Values: []string{"false"}}}}, []string{"alpha", "zeta"}},
				{"linked to metric a", view.Query{LinkedTo: &view.Linked{Type: view.Metrics, Ref: view.Ref{Key: "a"}}}, []string{"alpha", "Checkout"}},
				{"linked to flag f1", view.Query{LinkedTo: &view.Linked{Type: view.Flags, Ref: view.Ref{Key: "f1"}}}, []string{"Checkout"}},
				{"linked to flag f2 (unlinked)", view.Query{LinkedTo: &view.Linked{Type: view.Flags, Ref: view.Ref{Key: "f2"}}}, []string{}},
				{"linked to segment s by ID", view.Query{LinkedTo: &view.Linked{Type: view.Segments, Ref: view.Ref{Key: "s"}}}, []string{"Checkout"}},
				{"linked to segment s of env", view.Query{LinkedTo: &view.Linked{Type: view.Segments, Ref: view.Ref{Key: "s", EnvironmentID: envs[0].ID}}}, []string{"Checkout"}},
				{"linked to segment s of another env", view.Query{LinkedTo: &view.Linked{Type: view.Segments, Ref: view.Ref{Key: "s", EnvironmentID: envs[1].ID}}}, []string{}},
				{"two conditions", view.Query{Conds: []view.Cond{
					{Field: "tag", Op: "equals", Values: []string{"web"}}, {Field: "key", Op: "anyOf", Values: []string{"alpha", "zeta"}}}}, []string{"alpha"}},
			} {
				q := tc.q
				q.Limit = 10
				vs, total, err := db.ListViews(ctx, p.ID, q)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				keys := []string{}
				for _, v := range vs {
					keys = append(keys, v.Key)
				}
				if d := cmp.Diff(tc.want, keys); d != "" || total != len(tc.want) {
					t.Errorf("%s: total %d, keys (-want +got):\n%s", tc.name, total, d)
				}
			}
			vs, total, err := db.ListViews(ctx, p.ID, view.Query{Page: core.Page{Limit: 1, Offset: 1}})
			if err != nil || total != 3 || len(vs) != 1 || vs[0].Key != "Checkout" || vs[0].Counts.Metrics != 2 {
				t.Errorf("page 2 of 1: %v total %d %+v", err, total, vs)
			}
		})

		t.Run("reads are fixed statements", func(t *testing.T) {
			q := view.Query{Page: core.Page{Limit: 50}}
			cost := func(fn func() error) int64 {
				t.Helper()
				before := db.Statements()
				if err := fn(); err != nil {
					t.Fatal(err)
				}
				return db.Statements() - before
			}
			one := cost(func() error { _, _, err := db.ListViews(ctx, p.ID, view.Query{Page: core.Page{Limit: 1}}); return err })
			all := cost(func() error { _, _, err := db.ListViews(ctx, p.ID, q); return err })
			if one != all || all != 2 {
				t.Errorf("ListViews statements: page of 1 %d, page of 3 %d; want 2 for both", one, all)
			}
			if n := cost(func() error { _, _, err := db.GetView(ctx, p.ID, "Checkout", 0); return err }); n != 1 {
				t.Errorf("GetView statements = %d, want 1", n)
			}
			if n := cost(func() error { _, _, err := db.GetView(ctx, p.ID, "Checkout", 100); return err }); n != 2 {
				t.Errorf("GetView with metrics statements = %d, want 2", n)
			}
		})

		t.Run("delete", func(t *testing.T) {
			if err := viewWrite(t, db, func(tx view.Tx) error { return tx.DeleteView(ctx, v.ID) }); err != nil {
				t.Fatalf("DeleteView: %v", err)
			}
			wantErr(t, "delete again", viewWrite(t, db, func(tx view.Tx) error { return tx.DeleteView(ctx, v.ID) }), core.ErrNotFound)
			for _, table := range []string{"view_tags", "view_resources", "view_metrics"} {
				if n := raw.count("SELECT COUNT(*) FROM "+table+" WHERE view_id = ?", v.ID); n != 0 {
					t.Errorf("%s rows of a deleted view = %d, want 0", table, n)
				}
			}
			if _, err := db.GetMetric(ctx, p.ID, "a", ""); err != nil {
				t.Errorf("a linked metric went with the view: %v", err)
			}
			if err := db.DeleteProject(ctx, "views"); err != nil {
				t.Fatalf("DeleteProject: %v", err)
			}
			for _, table := range []string{"views", "view_tags", "view_resources", "view_metrics"} {
				if n := raw.count("SELECT COUNT(*) FROM " + table); n != 0 {
					t.Errorf("%s rows after DeleteProject = %d, want 0", table, n)
				}
			}
		})
	})
}
