package store_test

import (
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestUnstorableTextIsInvalid: should a U+0000 ever get past the API's
// boundary checks, PostgreSQL's refusal (SQLSTATE 22021) is classified as
// core.KindInvalid, a 400, and not left an internal error.
func TestUnstorableTextIsInvalid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		if b.Name != "postgres" {
			t.Skip("SQLite stores U+0000; the API refuses it before the store")
		}
		db, err := store.Open(t.Context(), b.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		now := time.Now()
		err = db.CreateTeam(t.Context(), &account.Team{Key: "t", Name: "a\x00b", Version: 1, CreatedAt: now, UpdatedAt: now})
		if k := core.KindOf(err); err == nil || k != core.KindInvalid {
			t.Errorf("CreateTeam with U+0000 in the name: %v (kind %v), want a core.KindInvalid error", err, k)
		}
		if _, err := db.GetTeam(t.Context(), "t\x00"); core.KindOf(err) != core.KindInvalid {
			t.Errorf("GetTeam with U+0000 in the key: %v, want a core.KindInvalid error", err)
		}
	})
}
