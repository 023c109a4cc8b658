package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/testdb"
)

func TestProjects(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)

		p, envs := fixtureProject("proj-1", "alpha", at(0))
		if err := db.CreateProject(ctx, &p, envs); err != nil {
			t.Fatalf("CreateProject: %v", err)
		}
		got, err := db.GetProject(ctx, "alpha")
		if err != nil {
			t.Fatalf("GetProject: %v", err)
		}
		if d := diff(&p, got); d != "" {
			t.Errorf("GetProject (-want +got):\n%s", d)
		}
		gotEnvs, err := db.ListEnvironments(ctx, p.ID)
		if err != nil {
			t.Fatalf("ListEnvironments: %v", err)
		}
		if d := diff(envs, gotEnvs); d != "" {
			t.Errorf("ListEnvironments (-want +got):\n%s", d)
		}
		env, err := db.GetEnvironment(ctx, p.ID, "test")
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}
		if d := diff(&envs[1], env); d != "" {
			t.Errorf("GetEnvironment (-want +got):\n%s", d)
		}
		if _, err := db.GetEnvironment(ctx, p.ID, "staging"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetEnvironment(unknown): err = %v, want ErrNotFound", err)
		}

		// Nil tags are stored as an empty list; booleans flipped.
		q := catalog.Project{ID: "proj-2", Key: "beta", Name: "Beta", UsingMobileKey: true, CreatedAt: at(time.Second)}
		if err := db.CreateProject(ctx, &q, nil); err != nil {
			t.Fatalf("CreateProject(beta): %v", err)
		}
		got, err = db.GetProject(ctx, "beta")
		if err != nil {
			t.Fatalf("GetProject(beta): %v", err)
		}
		wantQ := q
		wantQ.Tags = []string{}
		if d := diff(&wantQ, got); d != "" {
			t.Errorf("GetProject(beta) (-want +got):\n%s", d)
		}
		gotEnvs, err = db.ListEnvironments(ctx, q.ID)
		if err != nil || len(gotEnvs) != 0 {
			t.Errorf("ListEnvironments(beta) = %v, %v; want none", gotEnvs, err)
		}

		dupKey := catalog.Project{ID: "proj-3", Key: "alpha", Name: "Dup", CreatedAt: at(0)}
		wantErr(t, "CreateProject duplicate key", db.CreateProject(ctx, &dupKey, nil), core.ErrDuplicate)
		dupID := catalog.Project{ID: "proj-1", Key: "gamma", Name: "Dup", CreatedAt: at(0)}
		wantErr(t, "CreateProject duplicate id", db.CreateProject(ctx, &dupID, nil), core.ErrDuplicate)
		dupEnv, dupEnvs := fixtureProject("proj-4", "delta", at(0))
		dupEnvs[1].Key = dupEnvs[0].Key
		wantErr(t, "CreateProject duplicate environment key", db.CreateProject(ctx, &dupEnv, dupEnvs), core.ErrDuplicate)
		if _, err := db.GetProject(ctx, "delta"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("project of a failed CreateProject: err = %v, want ErrNotFound (the write must be atomic)", err)
		}
		if _, err := db.GetProject(ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetProject(unknown): err = %v, want ErrNotFound", err)
		}
	})
}

func TestListProjectsPaging(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		// Created out of order; two share a creation time (ties go by id).
		for _, p := range []struct {
			id, key string
			at      time.Duration
		}{
			{"p-5", "e", 4 * time.Second},
			{"p-2", "b", time.Second},
			{"p-4", "d", 3 * time.Second},
			{"p-1", "a", 0},
			{"p-3", "c", time.Second},
		} {
			mustProject(t, db, p.id, p.key, at(p.at))
		}
		for _, tc := range []struct {
			page core.Page
			want []string
		}{
			{core.Page{Limit: 10}, []string{"a", "b", "c", "d", "e"}},
			{core.Page{Limit: 2}, []string{"a", "b"}},
			{core.Page{Limit: 2, Offset: 2}, []string{"c", "d"}},
			{core.Page{Limit: 2, Offset: 4}, []string{"e"}},
			{core.Page{Limit: 2, Offset: 5}, []string{}},
			{core.Page{Limit: 2, Offset: 50}, []string{}},
		} {
			ps, total, err := db.ListProjects(ctx, catalog.ProjectQuery{Page: tc.page})
			if err != nil {
				t.Fatalf("ListProjects(%+v): %v", tc.page, err)
			}
			keys := []string{}
			for _, p := range ps {
				keys = append(keys, p.Key)
			}
			if d := cmp.Diff(tc.want, keys); d != "" {
				t.Errorf("ListProjects(%+v) keys (-want +got):\n%s", tc.page, d)
			}
			if total != 5 {
				t.Errorf("ListProjects(%+v) total = %d, want 5", tc.page, total)
			}
		}
	})
}

func TestDeleteProject(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		owner := mustMember(t, db, "owner", "owner@example.com", "owner", at(0))
		doomed, _ := mustProject(t, db, "proj-doomed", "doomed", at(0))
		kept, keptEnvs := mustProject(t, db, "proj-kept", "kept", at(time.Second))
		m1 := simpleMetric(doomed, "m-1", "shared-key", at(0))
		m1.Def.Tags = []string{"a", "b"}
		m1.Def.MaintainerID = owner.ID
		mustMetric(t, db, m1)
		next := *m1
		next.Version, next.VersionID = 2, "ver-m-1-2"
		if err := db.UpdateMetric(ctx, &next, 1); err != nil {
			t.Fatalf("UpdateMetric: %v", err)
		}
		mustMetric(t, db, simpleMetric(doomed, "m-2", "other", at(time.Second)))
		keptMetric := simpleMetric(kept, "m-3", "shared-key", at(0))
		mustMetric(t, db, keptMetric)

		if err := db.DeleteProject(ctx, "doomed"); err != nil {
			t.Fatalf("DeleteProject: %v", err)
		}
		if _, err := db.GetProject(ctx, "doomed"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetProject after delete: err = %v, want ErrNotFound", err)
		}
		if envs, err := db.ListEnvironments(ctx, doomed.ID); err != nil || len(envs) != 0 {
			t.Errorf("ListEnvironments after delete = %v, %v; want none", envs, err)
		}
		if _, err := db.GetEnvironment(ctx, doomed.ID, "production"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetEnvironment after delete: err = %v, want ErrNotFound", err)
		}
		for _, key := range []string{"shared-key", "other"} {
			if _, err := db.GetMetric(ctx, doomed.ID, key, ""); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("GetMetric(%s) after delete: err = %v, want ErrNotFound", key, err)
			}
		}
		if _, err := db.GetMetric(ctx, doomed.ID, "shared-key", m1.VersionID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetMetric(old version) after delete: err = %v, want ErrNotFound", err)
		}
		for table, q := range map[string]string{
			"environments":    "SELECT COUNT(*) FROM environments WHERE project_id = ?",
			"metrics":         "SELECT COUNT(*) FROM metrics WHERE project_id = ?",
			"metric_tags":     "SELECT COUNT(*) FROM metric_tags WHERE project_id = ?",
			"metric_versions": "SELECT COUNT(*) FROM metric_versions WHERE metric_id IN ('m-1', 'm-2') AND ? <> ''",
		} {
			if n := raw.count(q, doomed.ID); n != 0 {
				t.Errorf("%s rows of the deleted project = %d, want 0", table, n)
			}
		}

		// The other project is untouched.
		if _, err := db.GetProject(ctx, "kept"); err != nil {
			t.Errorf("GetProject(kept): %v", err)
		}
		if envs, err := db.ListEnvironments(ctx, kept.ID); err != nil || len(envs) != len(keptEnvs) {
			t.Errorf("ListEnvironments(kept) = %d envs, %v; want %d", len(envs), err, len(keptEnvs))
		}
		if _, err := db.GetMetric(ctx, kept.ID, "shared-key", ""); err != nil {
			t.Errorf("GetMetric(kept metric): %v", err)
		}
		if _, err := db.GetMember(ctx, owner.ID); err != nil {
			t.Errorf("maintainer deleted with the project: %v", err)
		}

		wantErr(t, "DeleteProject(unknown)", db.DeleteProject(ctx, "doomed"), core.ErrNotFound)
	})
}
