package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for raw SQL
	_ "modernc.org/sqlite"             // "sqlite" driver for raw SQL

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
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

func mustOpen(t *testing.T, url string, opts ...store.Option) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, opts...)
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

func mustMember(t *testing.T, db *store.DB, id, email, role string, created time.Time) account.Member {
	t.Helper()
	m := account.Member{ID: id, Email: email, FirstName: "First " + id, LastName: "Last " + id, Role: role, CreatedAt: created}
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
		// What a read computes for a metric nothing uses.
		Usage: &catalog.MetricUsage{},
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

// migrationFiles lists the embedded migrations' source files.
func migrationFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migration files: %v", err)
	}
	return files
}
