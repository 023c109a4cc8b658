package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for raw SQL
	_ "modernc.org/sqlite"             // "sqlite" driver for raw SQL

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// base has a sub-millisecond part on purpose: the store keeps milliseconds.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589_793_238, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// msUTC compares times at millisecond precision in UTC.
var msUTC = cmp.Transformer("msUTC", func(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
})

func diff(want, got any, opts ...cmp.Option) string {
	return cmp.Diff(want, got, append([]cmp.Option{msUTC}, opts...)...)
}

func mustOpen(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// rawSQL is a plain database/sql handle on a test database, for rows the
// Store interface cannot write.
type rawSQL struct {
	t  *testing.T
	db *sql.DB
	pg bool
}

func openRaw(t *testing.T, url string) *rawSQL {
	t.Helper()
	r := &rawSQL{t: t}
	var err error
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		r.db, err = sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	} else {
		r.db, err = sql.Open("pgx", url)
		r.pg = true
	}
	if err != nil {
		t.Fatalf("open raw %s: %v", url, err)
	}
	t.Cleanup(func() { r.db.Close() })
	return r
}

func (r *rawSQL) rebind(q string) string {
	if !r.pg {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r *rawSQL) exec(q string, args ...any) {
	r.t.Helper()
	if _, err := r.db.ExecContext(context.Background(), r.rebind(q), args...); err != nil {
		r.t.Fatalf("exec %q %v: %v", q, args, err)
	}
}

func (r *rawSQL) count(q string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.db.QueryRowContext(context.Background(), r.rebind(q), args...).Scan(&n); err != nil {
		r.t.Fatalf("query %q %v: %v", q, args, err)
	}
	return n
}

func mustMember(t *testing.T, db *store.DB, id, email, role string, created time.Time) catalog.Member {
	t.Helper()
	m := catalog.Member{ID: id, Email: email, FirstName: "First " + id, LastName: "Last " + id, Role: role, CreatedAt: created}
	if err := db.CreateMember(t.Context(), &m); err != nil {
		t.Fatalf("CreateMember(%s): %v", id, err)
	}
	return m
}

func fixtureProject(id, key string, created time.Time) (catalog.Project, []catalog.Environment) {
	p := catalog.Project{
		ID: id, Key: key, Name: "Project " + key, Tags: []string{"team:core", "tier-1"},
		IncludeInSnippetByDefault: true, UsingMobileKey: false, UsingEnvironmentID: true, CreatedAt: created,
	}
	envs := []catalog.Environment{
		{
			ID: id + "-prod", ProjectID: id, Key: "production", Name: "Production", Color: "417505",
			APIKey: "sdk-" + id + "-prod", MobileKey: "mob-" + id + "-prod", DefaultTTL: 5,
			SecureMode: true, DefaultTrackEvents: false, RequireComments: true, ConfirmChanges: false, Critical: true,
			Tags: []string{"critical"}, CreatedAt: created,
		},
		{
			ID: id + "-test", ProjectID: id, Key: "test", Name: "Test", Color: "F5A623",
			APIKey: "sdk-" + id + "-test", MobileKey: "mob-" + id + "-test", DefaultTTL: 0,
			SecureMode: false, DefaultTrackEvents: true, RequireComments: false, ConfirmChanges: true, Critical: false,
			Tags: []string{}, CreatedAt: created.Add(time.Millisecond),
		},
	}
	return p, envs
}

func mustProject(t *testing.T, db *store.DB, id, key string, created time.Time) (catalog.Project, []catalog.Environment) {
	t.Helper()
	p, envs := fixtureProject(id, key, created)
	if err := db.CreateProject(t.Context(), &p, envs); err != nil {
		t.Fatalf("CreateProject(%s): %v", key, err)
	}
	return p, envs
}

// simpleMetric is a minimal custom metric of project p.
func simpleMetric(p catalog.Project, id, key string, created time.Time) *catalog.Metric {
	return &catalog.Metric{
		ID: id, ProjectID: p.ID, ProjectKey: p.Key, Key: key, Kind: catalog.KindCustom,
		Version: 1, VersionID: "ver-" + id + "-1", CreatedAt: created, UpdatedAt: created,
		Def: catalog.MetricDef{
			Name: "Metric " + key, Tags: []string{}, EventKey: key, RandomizationUnits: []string{"user"},
			UnitAggregationType: "average", AnalysisType: "mean",
			DataSource: catalog.DataSource{Key: "launchdarkly", Name: "LaunchDarkly"},
		},
	}
}

func mustMetric(t *testing.T, db *store.DB, m *catalog.Metric) {
	t.Helper()
	if err := db.CreateMetric(t.Context(), m); err != nil {
		t.Fatalf("CreateMetric(%s): %v", m.Key, err)
	}
}

func mustGetMetric(t *testing.T, db *store.DB, projectID, key, versionID string) *catalog.Metric {
	t.Helper()
	m, err := db.GetMetric(t.Context(), projectID, key, versionID)
	if err != nil {
		t.Fatalf("GetMetric(%s, %s, %q): %v", projectID, key, versionID, err)
	}
	return m
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want errors.Is(err, %v)", what, err, target)
	}
}

func keysOf(ms []catalog.Metric) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Key)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// ---------------------------------------------------------------------------

func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, url := range []string{"mysql://localhost/x", "", "sqlite:"} {
		if db, err := store.Open(t.Context(), url); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", url)
		}
	}
}

func TestOpenMigrations(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db1 := mustOpen(t, b.URL)
		if got := db1.Dialect(); got != b.Name {
			t.Errorf("Dialect() = %q, want %q", got, b.Name)
		}
		if err := db1.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		member := mustMember(t, db1, "member-1", "one@example.com", "owner", at(0))

		raw := openRaw(t, b.URL)
		type migration struct{ Version, AppliedAt int64 }
		readMigrations := func() []migration {
			t.Helper()
			rows, err := raw.db.QueryContext(ctx, "SELECT version, applied_at FROM schema_migrations ORDER BY version")
			if err != nil {
				t.Fatalf("read schema_migrations: %v", err)
			}
			defer rows.Close()
			var out []migration
			for rows.Next() {
				var m migration
				if err := rows.Scan(&m.Version, &m.AppliedAt); err != nil {
					t.Fatal(err)
				}
				out = append(out, m)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		}
		first := readMigrations()
		files := migrationFiles(t)
		if len(first) != len(files) || first[0].Version != 1 || first[0].AppliedAt == 0 {
			t.Fatalf("schema_migrations after first Open = %+v, want one row per migration file %v", first, files)
		}

		// A second handle on the same database while the first is open (a
		// second replica), then a third after both are closed.
		db2, err := store.Open(ctx, b.URL)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		got, err := db2.GetMember(ctx, member.ID)
		if err != nil {
			t.Fatalf("GetMember via second handle: %v", err)
		}
		if d := diff(&member, got); d != "" {
			t.Errorf("member via second handle (-want +got):\n%s", d)
		}
		if err := db2.Close(); err != nil {
			t.Fatalf("Close second handle: %v", err)
		}
		if err := db1.Close(); err != nil {
			t.Fatalf("Close first handle: %v", err)
		}
		db3 := mustOpen(t, b.URL)
		got, err = db3.GetMember(ctx, member.ID)
		if err != nil {
			t.Fatalf("GetMember after reopen: %v", err)
		}
		if d := diff(&member, got); d != "" {
			t.Errorf("member after reopen (-want +got):\n%s", d)
		}
		if d := cmp.Diff(first, readMigrations()); d != "" {
			t.Errorf("schema_migrations changed by re-opening (-want +got):\n%s", d)
		}
	})
}

func TestOpenConcurrentReplicas(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		const n = 4
		dbs := make([]*store.DB, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { dbs[i], errs[i] = store.Open(context.Background(), b.URL) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Open #%d: %v", i, errs[i])
				continue
			}
			dbs[i].Close()
		}
		raw := openRaw(t, b.URL)
		if got, want := raw.count("SELECT COUNT(*) FROM schema_migrations"), len(migrationFiles(t)); got != want {
			t.Errorf("schema_migrations rows = %d, want %d", got, want)
		}
	})
}

func bootstrapSeed(suffix string, created time.Time) *catalog.Seed {
	owner := catalog.Member{ID: "owner-" + suffix, Email: "owner-" + suffix + "@metricsd.local", FirstName: "Metricsd", LastName: "Owner", Role: "owner", CreatedAt: created}
	p, envs := fixtureProject("proj-"+suffix, "default-"+suffix, created)
	return &catalog.Seed{
		Owner:        owner,
		Token:        catalog.Token{ID: "tok-" + suffix, MemberID: owner.ID, Name: "bootstrap admin token", Hash: catalog.HashToken("secret-" + suffix), CreatedAt: created},
		Project:      p,
		Environments: envs,
	}
}

func TestBootstrap(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)

		if _, err := db.Owner(ctx); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("Owner on empty database: err = %v, want ErrNotFound", err)
		}

		seed := bootstrapSeed("a", at(0))
		created, err := db.Bootstrap(ctx, seed)
		if err != nil || !created {
			t.Fatalf("first Bootstrap = %v, %v; want true, nil", created, err)
		}

		checkSeed := func(t *testing.T) {
			t.Helper()
			tok, m, err := db.TokenByHash(ctx, seed.Token.Hash)
			if err != nil {
				t.Fatalf("TokenByHash: %v", err)
			}
			if d := diff(&seed.Token, tok); d != "" {
				t.Errorf("token (-want +got):\n%s", d)
			}
			if d := diff(&seed.Owner, m); d != "" {
				t.Errorf("token member (-want +got):\n%s", d)
			}
			owner, err := db.Owner(ctx)
			if err != nil {
				t.Fatalf("Owner: %v", err)
			}
			if d := diff(&seed.Owner, owner); d != "" {
				t.Errorf("Owner (-want +got):\n%s", d)
			}
			p, err := db.GetProject(ctx, seed.Project.Key)
			if err != nil {
				t.Fatalf("GetProject: %v", err)
			}
			if d := diff(&seed.Project, p); d != "" {
				t.Errorf("project (-want +got):\n%s", d)
			}
			envs, err := db.ListEnvironments(ctx, seed.Project.ID)
			if err != nil {
				t.Fatalf("ListEnvironments: %v", err)
			}
			if d := diff(seed.Environments, envs); d != "" {
				t.Errorf("environments (-want +got):\n%s", d)
			}
			projects, total, err := db.ListProjects(ctx, catalog.ProjectQuery{Page: core.Page{Limit: 10}})
			if err != nil {
				t.Fatalf("ListProjects: %v", err)
			}
			if total != 1 || len(projects) != 1 {
				t.Errorf("ListProjects = %d projects, total %d; want 1, 1", len(projects), total)
			}
		}
		checkSeed(t)

		other := bootstrapSeed("b", at(-time.Hour))
		created, err = db.Bootstrap(ctx, other)
		if err != nil || created {
			t.Fatalf("second Bootstrap = %v, %v; want false, nil", created, err)
		}
		checkSeed(t)
		if _, _, err := db.TokenByHash(ctx, other.Token.Hash); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("token of the second seed: err = %v, want ErrNotFound", err)
		}
		if _, err := db.GetProject(ctx, other.Project.Key); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("project of the second seed: err = %v, want ErrNotFound", err)
		}
		if _, err := db.GetMember(ctx, other.Owner.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("owner of the second seed: err = %v, want ErrNotFound", err)
		}

		// EnsureToken inserts once; a second token with the same hash is a no-op.
		admin := catalog.Token{ID: "tok-admin", MemberID: seed.Owner.ID, Name: "METRICSD_ADMIN_TOKEN", Hash: catalog.HashToken("admin"), CreatedAt: at(time.Second)}
		if err := db.EnsureToken(ctx, &admin); err != nil {
			t.Fatalf("first EnsureToken: %v", err)
		}
		again := admin
		again.ID, again.Name, again.CreatedAt = "tok-admin-2", "again", at(2*time.Second)
		if err := db.EnsureToken(ctx, &again); err != nil {
			t.Fatalf("second EnsureToken: %v", err)
		}
		tok, m, err := db.TokenByHash(ctx, admin.Hash)
		if err != nil {
			t.Fatalf("TokenByHash(admin): %v", err)
		}
		if d := diff(&admin, tok); d != "" {
			t.Errorf("admin token (-want +got):\n%s", d)
		}
		if d := diff(&seed.Owner, m); d != "" {
			t.Errorf("admin token member (-want +got):\n%s", d)
		}
		raw := openRaw(t, b.URL)
		if n := raw.count("SELECT COUNT(*) FROM tokens"); n != 2 {
			t.Errorf("tokens = %d, want 2 (seed + admin)", n)
		}
		if _, _, err := db.TokenByHash(ctx, catalog.HashToken("unknown")); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("TokenByHash(unknown): err = %v, want ErrNotFound", err)
		}
		wantErr(t, "CreateToken with a known hash", db.CreateToken(ctx, &again), core.ErrDuplicate)
		dupEmail := catalog.Member{ID: "m-dup", Email: seed.Owner.Email, Role: "writer", CreatedAt: at(0)}
		wantErr(t, "CreateMember with a known email", db.CreateMember(ctx, &dupEmail), core.ErrDuplicate)
		orphan := catalog.Token{ID: "tok-orphan", MemberID: "nobody", Name: "x", Hash: []byte("x"), CreatedAt: at(0)}
		wantErr(t, "CreateToken for an unknown member", db.CreateToken(ctx, &orphan), core.ErrReference)

		// Owner is the earliest member with the owner role.
		mustMember(t, db, "admin-early", "admin@example.com", "admin", at(-2*time.Hour))
		mustMember(t, db, "owner-late", "late@example.com", "owner", at(time.Hour))
		owner, err := db.Owner(ctx)
		if err != nil {
			t.Fatalf("Owner: %v", err)
		}
		if owner.ID != seed.Owner.ID {
			t.Errorf("Owner().ID = %q, want %q", owner.ID, seed.Owner.ID)
		}
		early := mustMember(t, db, "owner-early", "early@example.com", "owner", at(-time.Hour))
		owner, err = db.Owner(ctx)
		if err != nil {
			t.Fatalf("Owner: %v", err)
		}
		if d := diff(&early, owner); d != "" {
			t.Errorf("Owner after adding an earlier owner (-want +got):\n%s", d)
		}
	})
}

func TestBootstrapConcurrentReplicas(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		const n = 4
		results := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				db, err := store.Open(context.Background(), b.URL)
				if err != nil {
					errs[i] = err
					return
				}
				defer db.Close()
				results[i], errs[i] = db.Bootstrap(context.Background(), bootstrapSeed(strconv.Itoa(i), at(0)))
			})
		}
		wg.Wait()
		winners := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("replica %d: %v", i, errs[i])
			}
			if results[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Errorf("%d replicas bootstrapped, want exactly 1", winners)
		}
		raw := openRaw(t, b.URL)
		for _, table := range []string{"members", "tokens", "projects"} {
			if got := raw.count("SELECT COUNT(*) FROM " + table); got != 1 {
				t.Errorf("%s rows = %d, want 1", table, got)
			}
		}
	})
}

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

// fullMetric sets every field of a metric and its definition.
func fullMetric(p catalog.Project, maintainer catalog.Member) *catalog.Metric {
	archived := at(90 * time.Minute)
	return &catalog.Metric{
		ID: "metric-full", ProjectID: p.ID, ProjectKey: p.Key, Key: "checkout-latency", Kind: catalog.KindTrace,
		Version: 1, VersionID: "9b2f7d0e-5f6c-4c1e-8d0a-000000000001",
		CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour + time.Minute), ArchivedAt: &archived,
		MaintainerTeamKey: "team-checkout",
		Comment:           "initial version",
		Def: catalog.MetricDef{
			Name:            "Checkout latency",
			Description:     "Time from click to confirmation.\nSecond line with unicode: ✓",
			Category:        "performance",
			Tags:            []string{"checkout", "perf", "team:web"},
			MaintainerID:    maintainer.ID,
			IsNumeric:       true,
			Unit:            "ms",
			SuccessCriteria: "LowerThanBaseline",
			EventKey:        "checkout.latency",
			Selector:        "#buy > .button",
			URLs: []catalog.URLMatcher{
				{Kind: "exact", URL: "https://example.com/checkout?step=1"},
				{Kind: "substring", Substring: "/cart"},
				{Kind: "regex", Pattern: `^https://example\.com/p/\d+$`},
			},
			TraceQuery:          `service.name = "checkout"`,
			TraceValueLocation:  "attributes.duration_ms",
			RandomizationUnits:  []string{"user", "organization"},
			UnitAggregationType: "sum",
			AnalysisType:        "percentile",
			PercentileValue:     ptr(95),
			EventDefault:        &catalog.EventDefault{Disabled: false, Value: ptr(0.0)},
			DataSource: catalog.DataSource{
				Key: "snowflake-prod", EnvironmentKey: "production", Name: "Snowflake", IntegrationKey: "snowflake",
			},
			Filters: &catalog.EventFilter{
				Type: "group", Op: "and", Negate: true,
				Values: []any{
					map[string]any{
						"type": "contextAttribute", "attribute": "country", "op": "in",
						"values": []any{"US", "CA"}, "contextKind": "user", "negate": false,
					},
					map[string]any{
						"type": "group", "op": "or", "negate": false,
						"values": []any{
							map[string]any{"type": "eventProperty", "attribute": "amount", "op": "greaterThan", "values": []any{99.5}, "negate": false},
							map[string]any{"type": "eventProperty", "attribute": "beta", "op": "in", "values": []any{true}, "negate": true},
						},
					},
				},
			},
			Archived: true,
		},
	}
}

func TestMetricCreateGet(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		alice := mustMember(t, db, "alice", "alice@example.com", "writer", at(0))
		p, _ := mustProject(t, db, "proj-a", "proj-a", at(0))
		p2, _ := mustProject(t, db, "proj-b", "proj-b", at(0))
		mustTeam(t, db, "team-checkout", at(0), nil, nil)

		m := fullMetric(p, alice)
		if err := db.CreateMetric(ctx, m); err != nil {
			t.Fatalf("CreateMetric: %v", err)
		}
		want := *m
		want.Maintainer = &alice
		got := mustGetMetric(t, db, p.ID, m.Key, "")
		if d := diff(&want, got); d != "" {
			t.Errorf("GetMetric (-want +got):\n%s", d)
		}
		// The same version read by its ID.
		got = mustGetMetric(t, db, p.ID, m.Key, m.VersionID)
		if d := diff(&want, got); d != "" {
			t.Errorf("GetMetric(versionID) (-want +got):\n%s", d)
		}

		// A minimal metric: no maintainer, no archive time, optional fields empty.
		plain := simpleMetric(p, "metric-plain", "plain", at(2*time.Hour))
		mustMetric(t, db, plain)
		got = mustGetMetric(t, db, p.ID, "plain", "")
		if d := diff(plain, got); d != "" {
			t.Errorf("GetMetric(plain) (-want +got):\n%s", d)
		}

		dup := simpleMetric(p, "metric-dup", m.Key, at(0))
		wantErr(t, "CreateMetric duplicate key", db.CreateMetric(ctx, dup), core.ErrDuplicate)
		dupID := simpleMetric(p2, m.ID, "other-key", at(0))
		wantErr(t, "CreateMetric duplicate id", db.CreateMetric(ctx, dupID), core.ErrDuplicate)

		same := simpleMetric(p2, "metric-other-project", m.Key, at(0))
		if err := db.CreateMetric(ctx, same); err != nil {
			t.Fatalf("CreateMetric same key in another project: %v", err)
		}
		got = mustGetMetric(t, db, p2.ID, m.Key, "")
		if d := diff(same, got); d != "" {
			t.Errorf("GetMetric(other project) (-want +got):\n%s", d)
		}

		orphan := simpleMetric(p, "metric-orphan", "orphan", at(0))
		orphan.Def.MaintainerID = "nobody"
		wantErr(t, "CreateMetric unknown maintainer", db.CreateMetric(ctx, orphan), core.ErrReference)
		if _, err := db.GetMetric(ctx, p.ID, "orphan", ""); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("metric of a failed CreateMetric: err = %v, want ErrNotFound", err)
		}
		noProject := simpleMetric(catalog.Project{ID: "no-such-project"}, "metric-np", "np", at(0))
		wantErr(t, "CreateMetric unknown project", db.CreateMetric(ctx, noProject), core.ErrReference)

		for _, tc := range []struct{ project, key, version string }{
			{p.ID, "nope", ""},
			{"no-such-project", m.Key, ""},
			{p.ID, m.Key, "no-such-version"},
			{p.ID, "plain", m.VersionID}, // a version of another metric
			{p2.ID, m.Key, m.VersionID},  // same key, other project
		} {
			if _, err := db.GetMetric(ctx, tc.project, tc.key, tc.version); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("GetMetric(%q, %q, %q): err = %v, want ErrNotFound", tc.project, tc.key, tc.version, err)
			}
		}
	})
}

func TestMetricVersions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		alice := mustMember(t, db, "alice", "alice@example.com", "writer", at(0))
		bob := mustMember(t, db, "bob", "bob@example.com", "writer", at(0))
		p, _ := mustProject(t, db, "proj", "proj", at(0))
		mustTeam(t, db, "team-checkout", at(0), nil, nil)

		v1 := fullMetric(p, alice)
		mustMetric(t, db, v1)

		if ms, _, err := db.ListMetrics(ctx, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 50}, MaintainerTeamKey: "team-checkout"}); err != nil || len(ms) != 1 {
			t.Errorf("ListMetrics(team-checkout) before update = %d metrics, %v; want 1", len(ms), err)
		}

		v2 := *v1
		v2.Version, v2.VersionID = 2, "9b2f7d0e-5f6c-4c1e-8d0a-000000000002"
		v2.UpdatedAt = at(3 * time.Hour)
		v2.ArchivedAt = nil
		v2.MaintainerTeamKey = ""
		v2.Comment = "rename and unarchive"
		v2.Def.Name = "Checkout latency (p99)"
		v2.Def.Tags = []string{"perf", "renamed"}
		v2.Def.MaintainerID = bob.ID
		v2.Def.PercentileValue = ptr(99)
		v2.Def.Filters = nil
		v2.Def.Archived = false
		if err := db.UpdateMetric(ctx, &v2, 1); err != nil {
			t.Fatalf("UpdateMetric: %v", err)
		}

		wantV1, wantV2 := *v1, v2
		wantV1.Maintainer, wantV2.Maintainer = &alice, &bob
		if d := diff(&wantV2, mustGetMetric(t, db, p.ID, v1.Key, "")); d != "" {
			t.Errorf("head after update (-want +got):\n%s", d)
		}
		if d := diff(&wantV2, mustGetMetric(t, db, p.ID, v1.Key, v2.VersionID)); d != "" {
			t.Errorf("GetMetric(new versionID) (-want +got):\n%s", d)
		}
		if d := diff(&wantV1, mustGetMetric(t, db, p.ID, v1.Key, v1.VersionID)); d != "" {
			t.Errorf("GetMetric(old versionID) (-want +got):\n%s", d)
		}
		if _, err := db.GetMetric(ctx, p.ID, v1.Key, "unknown-version"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetMetric(unknown versionID): err = %v, want ErrNotFound", err)
		}
		// Projected columns follow the head: tags and maintainer filters.
		list := func(q catalog.MetricQuery) []string {
			t.Helper()
			q.Limit = 50
			ms, _, err := db.ListMetrics(ctx, p.ID, q)
			if err != nil {
				t.Fatalf("ListMetrics(%+v): %v", q, err)
			}
			return keysOf(ms)
		}
		for _, tc := range []struct {
			name string
			q    catalog.MetricQuery
			want []string
		}{
			{"old tag", catalog.MetricQuery{TagsAll: []string{"checkout"}}, []string{}},
			{"new tag", catalog.MetricQuery{TagsAll: []string{"renamed"}}, []string{v1.Key}},
			{"old maintainer", catalog.MetricQuery{MaintainerIDs: []string{alice.ID}}, []string{}},
			{"new maintainer", catalog.MetricQuery{MaintainerIDs: []string{bob.ID}}, []string{v1.Key}},
			{"new name", catalog.MetricQuery{Queries: [][]string{{"(P99)"}}}, []string{v1.Key}},
			{"cleared team", catalog.MetricQuery{MaintainerTeamKey: "team-checkout"}, []string{}},
		} {
			if d := cmp.Diff(tc.want, list(tc.q)); d != "" {
				t.Errorf("ListMetrics %s (-want +got):\n%s", tc.name, d)
			}
		}

		// A stale update changes nothing.
		stale := v2
		stale.Version, stale.VersionID = 2, "stale-version"
		stale.Def.Name = "stale"
		stale.Def.Tags = []string{"stale"}
		wantErr(t, "UpdateMetric with stale prevVersion", db.UpdateMetric(ctx, &stale, 1), core.ErrStale)
		stale.Version = 3
		wantErr(t, "UpdateMetric with future prevVersion", db.UpdateMetric(ctx, &stale, 5), core.ErrStale)
		if d := diff(&wantV2, mustGetMetric(t, db, p.ID, v1.Key, "")); d != "" {
			t.Errorf("head after stale update (-want +got):\n%s", d)
		}
		if _, err := db.GetMetric(ctx, p.ID, v1.Key, "stale-version"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("version of a stale update: err = %v, want ErrNotFound", err)
		}
		if n := raw.count("SELECT COUNT(*) FROM metric_versions WHERE metric_id = ?", v1.ID); n != 2 {
			t.Errorf("metric_versions = %d, want 2", n)
		}
		if got := list(catalog.MetricQuery{TagsAll: []string{"stale"}}); len(got) != 0 {
			t.Errorf("tags of a stale update were stored: %v", got)
		}
		unknown := *simpleMetric(p, "no-such-metric", "x", at(0))
		unknown.Version = 2
		wantErr(t, "UpdateMetric of an unknown metric", db.UpdateMetric(ctx, &unknown, 1), core.ErrStale)

		// An update naming no member fails with ErrReference and stores nothing.
		bad := v2
		bad.Version, bad.VersionID = 3, "bad-maintainer"
		bad.Def.MaintainerID = "nobody"
		wantErr(t, "UpdateMetric unknown maintainer", db.UpdateMetric(ctx, &bad, 2), core.ErrReference)
		if d := diff(&wantV2, mustGetMetric(t, db, p.ID, v1.Key, "")); d != "" {
			t.Errorf("head after failed update (-want +got):\n%s", d)
		}
		if n := raw.count("SELECT COUNT(*) FROM metric_versions WHERE metric_id = ?", v1.ID); n != 2 {
			t.Errorf("metric_versions after failed update = %d, want 2", n)
		}
	})
}

func TestUpdateMetricRace(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		p, _ := mustProject(t, db, "proj", "proj", at(0))
		m := simpleMetric(p, "metric-race", "race", at(0))
		mustMetric(t, db, m)

		const n = 8
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				next := *m
				next.Version = 2
				next.VersionID = fmt.Sprintf("race-%d", i)
				next.Def.Name = fmt.Sprintf("writer %d", i)
				next.Def.Tags = []string{fmt.Sprintf("w%d", i)}
				next.UpdatedAt = at(time.Duration(i+1) * time.Second)
				<-start
				errs[i] = db.UpdateMetric(ctx, &next, 1)
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Errorf("writers %d and %d both succeeded", winner, i)
				}
				winner = i
			case !errors.Is(err, core.ErrStale):
				t.Errorf("writer %d: err = %v, want nil or ErrStale", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no writer succeeded")
		}
		got := mustGetMetric(t, db, p.ID, m.Key, "")
		if got.Version != 2 || got.VersionID != fmt.Sprintf("race-%d", winner) || got.Def.Name != fmt.Sprintf("writer %d", winner) {
			t.Errorf("head = version %d %q %q, want version 2 of writer %d", got.Version, got.VersionID, got.Def.Name, winner)
		}
		if d := cmp.Diff([]string{fmt.Sprintf("w%d", winner)}, got.Def.Tags); d != "" {
			t.Errorf("head tags (-want +got):\n%s", d)
		}
		raw := openRaw(t, b.URL)
		if c := raw.count("SELECT COUNT(*) FROM metric_versions WHERE metric_id = ?", m.ID); c != 2 {
			t.Errorf("metric_versions = %d, want 2", c)
		}
		if c := raw.count("SELECT COUNT(*) FROM metric_tags WHERE metric_id = ?", m.ID); c != 1 {
			t.Errorf("metric_tags = %d, want 1", c)
		}
	})
}

func TestDeleteMetric(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		p, _ := mustProject(t, db, "proj-a", "proj-a", at(0))
		p2, _ := mustProject(t, db, "proj-b", "proj-b", at(0))
		m := simpleMetric(p, "metric-del", "doomed", at(0))
		m.Def.Tags = []string{"x"}
		mustMetric(t, db, m)
		next := *m
		next.Version, next.VersionID = 2, "ver-metric-del-2"
		if err := db.UpdateMetric(ctx, &next, 1); err != nil {
			t.Fatalf("UpdateMetric: %v", err)
		}
		other := simpleMetric(p2, "metric-keep", "doomed", at(0))
		mustMetric(t, db, other)
		raw.exec("INSERT INTO metric_event_sources (metric_id, source, last_seen) VALUES (?, ?, ?)", m.ID, "launchdarkly", at(0).UnixMilli())

		if err := db.DeleteMetric(ctx, p.ID, "doomed"); err != nil {
			t.Fatalf("DeleteMetric: %v", err)
		}
		for _, v := range []string{"", m.VersionID, next.VersionID} {
			if _, err := db.GetMetric(ctx, p.ID, "doomed", v); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("GetMetric(%q) after delete: err = %v, want ErrNotFound", v, err)
			}
		}
		for _, table := range []string{"metrics WHERE id", "metric_versions WHERE metric_id", "metric_tags WHERE metric_id", "metric_event_sources WHERE metric_id"} {
			if n := raw.count("SELECT COUNT(*) FROM "+table+" = ?", m.ID); n != 0 {
				t.Errorf("%s rows left: %d", table, n)
			}
		}
		if d := diff(other, mustGetMetric(t, db, p2.ID, "doomed", "")); d != "" {
			t.Errorf("same key in another project (-want +got):\n%s", d)
		}
		wantErr(t, "DeleteMetric again", db.DeleteMetric(ctx, p.ID, "doomed"), core.ErrNotFound)
		wantErr(t, "DeleteMetric unknown project", db.DeleteMetric(ctx, "no-such-project", "doomed"), core.ErrNotFound)
	})
}

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
				got, total, err := db.ListMetrics(ctx, p.ID, q)
				if err != nil {
					t.Fatalf("ListMetrics: %v", err)
				}
				if d := cmp.Diff(tc.want, keysOf(got)); d != "" {
					t.Errorf("keys (-want +got):\n%s", d)
				}
				if total != len(tc.want) {
					t.Errorf("total = %d, want %d", total, len(tc.want))
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

func TestMetricUsage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		p, envs := mustProject(t, db, "proj-usage", "usage", at(0))
		prod, test := envs[0], envs[1]
		idOf := map[string]string{}
		for i, key := range []string{"direct", "grouped", "rollout-only", "group-only", "idle"} {
			m := simpleMetric(p, "u-"+key, key, at(time.Duration(i)*time.Second))
			mustMetric(t, db, m)
			idOf[key] = m.ID
		}

		// Before any usage rows exist every metric is unconnected. Asking now
		// also makes sure nothing computed here is reused once they exist.
		allUsage := []string{"direct", "grouped", "rollout-only", "group-only", "idle"}
		for _, tc := range []struct {
			name string
			q    catalog.MetricQuery
			want []string
		}{
			{"has connections", catalog.MetricQuery{HasConnections: ptr(true)}, []string{}},
			{"has no connections", catalog.MetricQuery{HasConnections: ptr(false)}, allUsage},
			{"used in experiments", catalog.MetricQuery{UsedIn: "experiments"}, []string{}},
			{"used in guarded rollouts", catalog.MetricQuery{UsedIn: "guarded_rollouts"}, []string{}},
			{"used in any", catalog.MetricQuery{UsedIn: "any"}, []string{}},
			{"used in none", catalog.MetricQuery{UsedIn: "none"}, allUsage},
			{"connected and in experiments", catalog.MetricQuery{HasConnections: ptr(true), UsedIn: "experiments"}, []string{}},
			{"view", catalog.MetricQuery{View: "kpis"}, []string{}},
			{"view and unconnected", catalog.MetricQuery{View: "kpis", UsedIn: "none"}, []string{}},
		} {
			q := tc.q
			q.Limit = 50
			got, total, err := db.ListMetrics(ctx, p.ID, q)
			if err != nil {
				t.Fatalf("ListMetrics %s: %v", tc.name, err)
			}
			if d := cmp.Diff(tc.want, keysOf(got)); d != "" || total != len(tc.want) {
				t.Errorf("ListMetrics %s before usage rows: total %d, keys (-want +got):\n%s", tc.name, total, d)
			}
		}

		ins := func(table, cols string, rows ...[]any) {
			t.Helper()
			n := len(strings.Split(cols, ","))
			q := "INSERT INTO " + table + " (" + cols + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
			for _, r := range rows {
				raw.exec(q, r...)
			}
		}
		ms := func(d time.Duration) int64 { return at(d).UnixMilli() }
		ins("metric_groups", "id, project_id, key, key_lower, name, name_lower, kind, version, created_at, updated_at",
			[]any{"g1", p.ID, "checkout-funnel", "checkout-funnel", "Checkout funnel", "checkout funnel", "funnel", 1, ms(10 * time.Second), ms(10 * time.Second)},
			[]any{"g2", p.ID, "guardrails", "guardrails", "Guardrails", "guardrails", "standard", 1, ms(11 * time.Second), ms(11 * time.Second)})
		ins("metric_group_metrics", "group_id, position, metric_id, name_in_group",
			[]any{"g1", 0, idOf["grouped"], "step 1"},
			[]any{"g1", 1, idOf["grouped"], "step 2"}, // twice in one group
			[]any{"g2", 0, idOf["grouped"], ""},
			[]any{"g2", 1, idOf["direct"], ""},
			[]any{"g2", 2, idOf["group-only"], ""})
		ins("experiments", "id, project_id, environment_id, key, name, status, flag_key, flag_name, created_at, archived_at",
			[]any{"e1", p.ID, prod.ID, "exp-direct", "Direct experiment", "running", "flag-a", "Flag A", ms(20 * time.Second), nil},
			[]any{"e2", p.ID, test.ID, "exp-group", "Group experiment", "running", "flag-b", "Flag B", ms(21 * time.Second), nil},
			[]any{"e3", p.ID, prod.ID, "exp-archived", "Archived experiment", "running", "flag-c", "Flag C", ms(22 * time.Second), ms(30 * time.Second)},
			[]any{"e4", p.ID, prod.ID, "exp-done", "Stopped experiment", "stopped", "flag-d", "Flag D", ms(23 * time.Second), nil})
		ins("experiment_metrics", "experiment_id, metric_id, metric_group_id",
			[]any{"e1", idOf["direct"], nil},
			[]any{"e2", nil, "g1"},
			[]any{"e3", idOf["grouped"], nil},
			[]any{"e3", idOf["direct"], nil},
			[]any{"e4", idOf["grouped"], nil},
			[]any{"e4", nil, "g1"})
		ins("guarded_rollouts", "id, project_id, environment_id, flag_key, flag_name, flag_purpose, status, created_at",
			[]any{"r1", p.ID, prod.ID, "flag-a", "Flag A", "release", "monitoring", ms(40 * time.Second)},
			[]any{"r2", p.ID, test.ID, "flag-e", "Flag E", "", "rolled_back", ms(41 * time.Second)},
			[]any{"r3", p.ID, prod.ID, "flag-f", "Flag F", "migration", "monitoring", ms(42 * time.Second)})
		ins("guarded_rollout_metrics", "rollout_id, metric_id, metric_group_id",
			[]any{"r1", idOf["direct"], nil},
			[]any{"r1", idOf["rollout-only"], nil},
			[]any{"r2", nil, "g1"},
			[]any{"r3", nil, "g1"})
		ins("metric_event_sources", "metric_id, source, last_seen",
			[]any{idOf["direct"], "snowflake", ms(55 * time.Second)},
			[]any{idOf["direct"], "launchdarkly", ms(50 * time.Second)})
		ins("views", "id, project_id, key, name", []any{"v1", p.ID, "kpis", "KPIs"})
		ins("view_metrics", "view_id, metric_id", []any{"v1", idOf["direct"]}, []any{"v1", idOf["idle"]})

		lastSeen := at(55 * time.Second)
		wantUsage := map[string]catalog.MetricUsage{
			"direct":       {ExperimentCount: 2, ActiveExperimentCount: 1, MetricGroupCount: 1, GuardedRolloutCount: 1, ActiveGuardedRolloutCount: 1, AttachedFlagCount: 1, LastSeen: &lastSeen},
			"grouped":      {ExperimentCount: 3, ActiveExperimentCount: 1, MetricGroupCount: 2, GuardedRolloutCount: 2, ActiveGuardedRolloutCount: 1, AttachedFlagCount: 2},
			"rollout-only": {GuardedRolloutCount: 1, ActiveGuardedRolloutCount: 1, AttachedFlagCount: 1},
			"group-only":   {MetricGroupCount: 1},
			"idle":         {},
		}
		for key, want := range wantUsage {
			got := mustGetMetric(t, db, p.ID, key, "")
			if d := diff(want, got.Usage); d != "" {
				t.Errorf("usage of %s (-want +got):\n%s", key, d)
			}
			got = mustGetMetric(t, db, p.ID, key, "ver-u-"+key+"-1")
			if d := diff(want, got.Usage); d != "" {
				t.Errorf("usage of %s read by versionID (-want +got):\n%s", key, d)
			}
		}
		listed, _, err := db.ListMetrics(ctx, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 50}})
		if err != nil {
			t.Fatalf("ListMetrics: %v", err)
		}
		for _, m := range listed {
			if d := diff(wantUsage[m.Key], m.Usage); d != "" {
				t.Errorf("listed usage of %s (-want +got):\n%s", m.Key, d)
			}
		}

		// Expansions.
		e1 := catalog.ExperimentRef{Key: "exp-direct", Name: "Direct experiment", ProjectKey: "usage", EnvironmentID: prod.ID, EnvironmentKey: "production", CreatedAt: at(20 * time.Second)}
		e2 := catalog.ExperimentRef{Key: "exp-group", Name: "Group experiment", ProjectKey: "usage", EnvironmentID: test.ID, EnvironmentKey: "test", CreatedAt: at(21 * time.Second)}
		e3 := catalog.ExperimentRef{Key: "exp-archived", Name: "Archived experiment", ProjectKey: "usage", EnvironmentID: prod.ID, EnvironmentKey: "production", CreatedAt: at(22 * time.Second), ArchivedAt: ptr(at(30 * time.Second))}
		e4 := catalog.ExperimentRef{Key: "exp-done", Name: "Stopped experiment", ProjectKey: "usage", EnvironmentID: prod.ID, EnvironmentKey: "production", CreatedAt: at(23 * time.Second)}
		g1 := catalog.MetricGroupRef{Key: "checkout-funnel", Name: "Checkout funnel", Kind: "funnel", ProjectKey: "usage"}
		g2 := catalog.MetricGroupRef{Key: "guardrails", Name: "Guardrails", Kind: "standard", ProjectKey: "usage"}
		r1 := catalog.GuardedRolloutRef{ID: "r1", ProjectKey: "usage", FlagKey: "flag-a", FlagName: "Flag A", FlagPurpose: "release", EnvironmentKey: "production", EnvironmentName: "Production", Status: "monitoring", CreatedAt: at(40 * time.Second)}
		r2 := catalog.GuardedRolloutRef{ID: "r2", ProjectKey: "usage", FlagKey: "flag-e", FlagName: "Flag E", FlagPurpose: "", EnvironmentKey: "test", EnvironmentName: "Test", Status: "rolled_back", CreatedAt: at(41 * time.Second)}
		r3 := catalog.GuardedRolloutRef{ID: "r3", ProjectKey: "usage", FlagKey: "flag-f", FlagName: "Flag F", FlagPurpose: "migration", EnvironmentKey: "production", EnvironmentName: "Production", Status: "monitoring", CreatedAt: at(42 * time.Second)}

		everything := catalog.ExpandSet{"experiments": true, "metricGroups": true, "guardedRollouts": true, "eventSources": true, "lastUsedInExperiment": true, "lastUsedInGuardedRollout": true}
		for _, tc := range []struct {
			metric string
			want   catalog.ExpandSet
			x      catalog.MetricExpansions
		}{
			{"direct", everything, catalog.MetricExpansions{
				Experiments:     []catalog.ExperimentRef{e1, e3},
				MetricGroups:    []catalog.MetricGroupRef{g2},
				GuardedRollouts: []catalog.GuardedRolloutRef{r1},
				EventSources: []catalog.EventSource{
					{Key: "launchdarkly", LastSeen: at(50 * time.Second)},
					{Key: "snowflake", LastSeen: at(55 * time.Second)},
				},
				LastUsedInExperiment:     &e3,
				LastUsedInGuardedRollout: &r1,
			}},
			{"grouped", everything, catalog.MetricExpansions{
				Experiments:              []catalog.ExperimentRef{e2, e3, e4},
				MetricGroups:             []catalog.MetricGroupRef{g1, g2},
				GuardedRollouts:          []catalog.GuardedRolloutRef{r2, r3},
				EventSources:             []catalog.EventSource{},
				LastUsedInExperiment:     &e4,
				LastUsedInGuardedRollout: &r3,
			}},
			{"rollout-only", everything, catalog.MetricExpansions{
				Experiments:              []catalog.ExperimentRef{},
				MetricGroups:             []catalog.MetricGroupRef{},
				GuardedRollouts:          []catalog.GuardedRolloutRef{r1},
				EventSources:             []catalog.EventSource{},
				LastUsedInGuardedRollout: &r1,
			}},
			{"idle", everything, catalog.MetricExpansions{
				Experiments:     []catalog.ExperimentRef{},
				MetricGroups:    []catalog.MetricGroupRef{},
				GuardedRollouts: []catalog.GuardedRolloutRef{},
				EventSources:    []catalog.EventSource{},
			}},
			{"grouped", catalog.ExpandSet{}, catalog.MetricExpansions{}},
			{"grouped", catalog.ExpandSet{"experiments": true}, catalog.MetricExpansions{Experiments: []catalog.ExperimentRef{e2, e3, e4}}},
			{"grouped", catalog.ExpandSet{"lastUsedInExperiment": true}, catalog.MetricExpansions{LastUsedInExperiment: &e4}},
			{"grouped", catalog.ExpandSet{"metricGroups": true}, catalog.MetricExpansions{MetricGroups: []catalog.MetricGroupRef{g1, g2}}},
			{"grouped", catalog.ExpandSet{"guardedRollouts": true}, catalog.MetricExpansions{GuardedRollouts: []catalog.GuardedRolloutRef{r2, r3}}},
			{"grouped", catalog.ExpandSet{"lastUsedInGuardedRollout": true}, catalog.MetricExpansions{LastUsedInGuardedRollout: &r3}},
			{"direct", catalog.ExpandSet{"eventSources": true}, catalog.MetricExpansions{EventSources: []catalog.EventSource{
				{Key: "launchdarkly", LastSeen: at(50 * time.Second)},
				{Key: "snowflake", LastSeen: at(55 * time.Second)},
			}}},
		} {
			got, err := db.MetricExpansions(ctx, idOf[tc.metric], tc.want)
			if err != nil {
				t.Fatalf("MetricExpansions(%s, %v): %v", tc.metric, tc.want, err)
			}
			if d := diff(&tc.x, got); d != "" {
				t.Errorf("MetricExpansions(%s, %v) (-want +got):\n%s", tc.metric, tc.want, d)
			}
		}

		// Filters over connections.
		connected := []string{"direct", "grouped", "rollout-only"}
		unconnected := []string{"group-only", "idle"}
		for _, tc := range []struct {
			name string
			q    catalog.MetricQuery
			want []string
		}{
			{"has connections", catalog.MetricQuery{HasConnections: ptr(true)}, connected},
			{"has no connections", catalog.MetricQuery{HasConnections: ptr(false)}, unconnected},
			{"used in experiments", catalog.MetricQuery{UsedIn: "experiments"}, []string{"direct", "grouped"}},
			{"used in guarded rollouts", catalog.MetricQuery{UsedIn: "guarded_rollouts"}, connected},
			{"used in any", catalog.MetricQuery{UsedIn: "any"}, connected},
			{"used in none", catalog.MetricQuery{UsedIn: "none"}, unconnected},
			{"connected and in experiments", catalog.MetricQuery{HasConnections: ptr(true), UsedIn: "experiments"}, []string{"direct", "grouped"}},
			{"view", catalog.MetricQuery{View: "kpis"}, []string{"direct", "idle"}},
			{"view and unconnected", catalog.MetricQuery{View: "kpis", UsedIn: "none"}, []string{"idle"}},
		} {
			q := tc.q
			q.Limit = 50
			got, total, err := db.ListMetrics(ctx, p.ID, q)
			if err != nil {
				t.Fatalf("ListMetrics %s: %v", tc.name, err)
			}
			if d := cmp.Diff(tc.want, keysOf(got)); d != "" || total != len(tc.want) {
				t.Errorf("ListMetrics %s: total %d, keys (-want +got):\n%s", tc.name, total, d)
			}
		}

		// Deleting a metric that others use fails and keeps it.
		for _, tc := range []struct {
			key   string
			users []string
		}{
			{"group-only", []string{"metric group guardrails"}},
			{"rollout-only", []string{"guarded rollout of flag flag-a"}},
			{"grouped", []string{"experiment exp-archived", "experiment exp-done", "metric group checkout-funnel", "metric group guardrails"}},
			{"direct", []string{"experiment exp-archived", "experiment exp-direct", "guarded rollout of flag flag-a", "metric group guardrails"}},
		} {
			err := db.DeleteMetric(ctx, p.ID, tc.key)
			if !errors.Is(err, core.ErrInUse) {
				t.Errorf("DeleteMetric(%s): err = %v, want ErrInUse", tc.key, err)
				continue
			}
			var inUse *catalog.InUseError
			if !errors.As(err, &inUse) {
				t.Errorf("DeleteMetric(%s): err = %v, want *catalog.InUseError", tc.key, err)
				continue
			}
			if d := cmp.Diff(tc.users, inUse.Users); d != "" {
				t.Errorf("DeleteMetric(%s) users (-want +got):\n%s", tc.key, d)
			}
			if _, err := db.GetMetric(ctx, p.ID, tc.key, ""); err != nil {
				t.Errorf("metric %s after refused delete: %v", tc.key, err)
			}
		}
		if err := db.DeleteMetric(ctx, p.ID, "idle"); err != nil {
			t.Errorf("DeleteMetric(idle): %v", err)
		}
		if n := raw.count("SELECT COUNT(*) FROM view_metrics WHERE metric_id = ?", idOf["idle"]); n != 0 {
			t.Errorf("view_metrics rows of a deleted metric = %d, want 0", n)
		}

		// Deleting the project removes everything under it, usage included.
		t.Run("delete project with usage rows", func(t *testing.T) {
			if err := db.DeleteProject(ctx, "usage"); err != nil {
				t.Fatalf("DeleteProject with usage rows: %v", err)
			}
			for _, table := range []string{"metrics", "metric_versions", "metric_tags", "metric_groups", "metric_group_metrics",
				"experiments", "experiment_metrics", "guarded_rollouts", "guarded_rollout_metrics", "metric_event_sources", "views", "view_metrics", "environments"} {
				if n := raw.count("SELECT COUNT(*) FROM " + table); n != 0 {
					t.Errorf("%s rows after DeleteProject = %d, want 0", table, n)
				}
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
		p, _ := mustProject(t, db, "proj-totals", "totals", at(0))

		check := func(t *testing.T, what string, want ...string) {
			t.Helper()
			for _, h := range []struct {
				name string
				db   *store.DB
			}{{"writer", db}, {"replica", replica}} {
				for _, q := range []catalog.MetricQuery{
					{TagsAll: []string{"kpi"}},
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

func TestImportMetrics(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		p, _ := mustProject(t, db, "proj-import", "import", at(0))
		mustMetric(t, db, simpleMetric(p, "i-0", "existing", at(0)))
		list := func() ([]string, int) {
			t.Helper()
			ms, total, err := db.ListMetrics(ctx, p.ID, catalog.MetricQuery{Page: core.Page{Limit: 50}})
			if err != nil {
				t.Fatalf("ListMetrics: %v", err)
			}
			return keysOf(ms), total
		}
		if keys, total := list(); total != 1 || len(keys) != 1 {
			t.Fatalf("before import: %v, total %d", keys, total)
		}

		// All or none: the last metric repeats a key.
		bad := []*catalog.Metric{
			simpleMetric(p, "i-1", "one", at(time.Second)),
			simpleMetric(p, "i-2", "two", at(2*time.Second)),
			simpleMetric(p, "i-3", "existing", at(3*time.Second)),
		}
		wantErr(t, "ImportMetrics with a duplicate key", db.ImportMetrics(ctx, bad), core.ErrDuplicate)
		if keys, total := list(); total != 1 || !slices.Equal(keys, []string{"existing"}) {
			t.Errorf("after failed import: keys %v, total %d; want [existing], 1", keys, total)
		}

		good := []*catalog.Metric{
			simpleMetric(p, "i-1", "one", at(time.Second)),
			simpleMetric(p, "i-2", "two", at(2*time.Second)),
		}
		good[1].Def.Tags = []string{"imported"}
		if err := db.ImportMetrics(ctx, good); err != nil {
			t.Fatalf("ImportMetrics: %v", err)
		}
		if keys, total := list(); total != 3 || !slices.Equal(keys, []string{"existing", "one", "two"}) {
			t.Errorf("after import: keys %v, total %d; want [existing one two], 3", keys, total)
		}
		for _, m := range good {
			if d := diff(m, mustGetMetric(t, db, p.ID, m.Key, "")); d != "" {
				t.Errorf("imported %s (-want +got):\n%s", m.Key, d)
			}
		}
	})
}

// migrationFiles lists the embedded migrations' source files.
func migrationFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migration files: %v", err)
	}
	return files
}
