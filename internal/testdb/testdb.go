// Package testdb gives tests fresh databases on every backend metricsd
// supports: a temporary SQLite file always, and a private schema in the
// PostgreSQL server named by METRICSD_TEST_POSTGRES when that is set.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvPostgres names the variable holding a PostgreSQL URL for tests, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPostgres = "METRICSD_TEST_POSTGRES"

// Backend is one database to run a test against.
type Backend struct {
	Name string // "sqlite" or "postgres"
	URL  string // a metricsd database URL
}

// Each runs fn as a subtest per backend. The PostgreSQL subtest is skipped,
// with a message saying how to enable it, when EnvPostgres is unset.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			fn(t, New(t, name))
		})
	}
}

// New returns a fresh, empty database of the named backend, removed when
// the test ends.
func New(tb testing.TB, name string) Backend {
	tb.Helper()
	switch name {
	case "sqlite":
		return Backend{Name: name, URL: "sqlite:" + filepath.Join(tb.TempDir(), "metricsd.db")}
	case "postgres":
		return Backend{Name: name, URL: postgresSchema(tb)}
	}
	tb.Fatalf("unknown backend %q", name)
	return Backend{}
}

func postgresSchema(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		tb.Skipf("PostgreSQL tests skipped: set %s to a PostgreSQL URL (for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them", EnvPostgres)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "metricsd_test_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("open %s: %v", EnvPostgres, err)
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}
