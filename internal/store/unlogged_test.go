package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestUnloggedTables checks the migration steps that make rate_windows and
// replica_leases unlogged on PostgreSQL, and that SQLite migrates without
// them.
func TestUnloggedTables(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := store.Open(ctx, b.URL)
		if err != nil {
			t.Fatalf("store.Open: %v", err)
		}
		db.Close()
		if b.Name != "postgres" {
			return
		}
		raw, err := sql.Open("pgx", b.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		for table, want := range map[string]string{"rate_windows": "u", "replica_leases": "u", "metrics": "p"} {
			var got string
			err := raw.QueryRowContext(ctx, `SELECT c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE c.relname = $1 AND n.nspname = current_schema()`, table).Scan(&got)
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if got != want {
				t.Errorf("%s: relpersistence %q, want %q", table, got, want)
			}
		}
	})
}
