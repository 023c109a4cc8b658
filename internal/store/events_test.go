package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestEventStore runs the event writes and reads on both backends:
// credentials with expiry, payload claims, rollup upserts, source rows that
// only move forward, pruning.
func TestEventStore(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		p, envs := mustProject(t, db, "proj-events", "events", at(0))
		prod := envs[0]
		now := time.Now()

		t.Run("credentials", func(t *testing.T) {
			for _, tc := range []struct{ kind, value string }{
				{catalog.CredentialSDK, prod.APIKey}, {catalog.CredentialMobile, prod.MobileKey}, {catalog.CredentialClientSide, prod.ID},
			} {
				e, err := db.EnvironmentByCredential(ctx, tc.kind, tc.value, now)
				if err != nil || e.ID != prod.ID || e.ProjectID != p.ID || e.Key != prod.Key || e.ProjectKey != "events" {
					t.Errorf("%s %q: %+v, %v", tc.kind, tc.value, e, err)
				}
			}
			for _, tc := range []struct{ kind, value string }{
				{catalog.CredentialSDK, prod.MobileKey}, {catalog.CredentialMobile, prod.APIKey}, {catalog.CredentialClientSide, prod.APIKey}, {"token", prod.APIKey},
			} {
				if _, err := db.EnvironmentByCredential(ctx, tc.kind, tc.value, now); !errors.Is(err, core.ErrNotFound) {
					t.Errorf("%s %q: err %v, want ErrNotFound", tc.kind, tc.value, err)
				}
			}
			raw.exec(`INSERT INTO environment_expiring_keys (api_key, environment_id, expires_at) VALUES (?, ?, ?)`, "sdk-old", prod.ID, now.Add(time.Minute).UnixMilli())
			if e, err := db.EnvironmentByCredential(ctx, catalog.CredentialSDK, "sdk-old", now); err != nil || e.ID != prod.ID {
				t.Errorf("old key before expiry: %+v %v", e, err)
			}
			if _, err := db.EnvironmentByCredential(ctx, catalog.CredentialSDK, "sdk-old", now.Add(2*time.Minute)); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("old key after expiry: err %v, want ErrNotFound", err)
			}
		})

		hour := now.UTC().Truncate(time.Hour).UnixMilli()
		k := events.RollupKey{EnvID: prod.ID, Kind: events.KindCustom, Key: "k", Hour: hour}
		write := func(fn func(tx events.FlushTx) error) {
			t.Helper()
			if err := db.TransactEvents(ctx, fn); err != nil {
				t.Fatalf("TransactEvents: %v", err)
			}
		}
		t.Run("rollups and payloads", func(t *testing.T) {
			write(func(tx events.FlushTx) error {
				ok, err := tx.ClaimPayload(ctx, prod.ID, "pay-1", now)
				if err != nil || !ok {
					t.Errorf("first claim: %v %v", ok, err)
				}
				ok, err = tx.ClaimPayload(ctx, prod.ID, "pay-1", now)
				if err != nil || ok {
					t.Errorf("second claim: %v %v, want false", ok, err)
				}
				exists, err := tx.ExistingEnvironments(ctx, []string{prod.ID, "nope"})
				if err != nil || !exists[prod.ID] || exists["nope"] {
					t.Errorf("ExistingEnvironments: %v %v", exists, err)
				}
				s := &events.Sketch{}
				s.Add(1 << 63)
				return tx.PutRollups(ctx, map[events.RollupKey]*events.Rollup{k: {Count: 3, ValueCount: 2, Sum: 5, Min: 1, Max: 4, Contexts: map[string]*events.Sketch{"user": s}}})
			})
			write(func(tx events.FlushTx) error {
				got, err := tx.Rollups(ctx, []events.RollupKey{k, {EnvID: prod.ID, Kind: "custom", Key: "other", Hour: hour}})
				if err != nil || len(got) != 1 || got[k].Count != 3 || got[k].Sum != 5 || got[k].Min != 1 || got[k].Max != 4 || got[k].Contexts["user"].Estimate() != 1 {
					t.Errorf("Rollups: %+v %v", got[k], err)
				}
				// Replace it: the flusher writes merged totals.
				return tx.PutRollups(ctx, map[events.RollupKey]*events.Rollup{k: {Count: 4}})
			})
			rows, err := db.RollupRows(ctx, prod.ID, "custom", "k", now.Add(-time.Hour), now.Add(time.Hour))
			if err != nil || len(rows) != 1 || rows[0].Count != 4 || rows[0].ValueCount != 0 || len(rows[0].Contexts) != 0 {
				t.Errorf("RollupRows: %+v %v", rows, err)
			}
		})

		t.Run("sources only move forward", func(t *testing.T) {
			touch := func(first, last, value int64) {
				write(func(tx events.FlushTx) error {
					return tx.TouchSources(ctx, []events.Seen{{EnvID: prod.ID, ProjectID: p.ID, Kind: "custom", Key: "k", First: first, Last: last, LastValue: value}})
				})
			}
			touch(hour-3*3600_000, hour-3600_000, 0)
			touch(hour-2*3600_000, hour, hour-2*3600_000)
			touch(hour-5*3600_000, hour-5*3600_000, 0)
			keys, err := db.EventKeys(ctx, events.KeyQuery{EnvID: prod.ID, Since: now.Add(-24 * time.Hour), Page: core.Page{Limit: 10}})
			if err != nil || len(keys.Items) != 1 || keys.Total != 1 {
				t.Fatalf("EventKeys: %+v %v", keys, err)
			}
			got := keys.Items[0]
			if got.FirstSeen.UnixMilli() != hour-5*3600_000 || got.LastSeen.UnixMilli() != hour || got.Volume != 4 {
				t.Errorf("source = %+v; want first 5 hours ago, last this hour, volume 4", got)
			}
			var lastValue int64
			if err := raw.db.QueryRowContext(context.Background(), raw.rebind(`SELECT last_value FROM event_sources WHERE environment_id = ?`), prod.ID).Scan(&lastValue); err != nil || lastValue != hour-2*3600_000 {
				t.Errorf("last_value = %d (%v), want two hours ago", lastValue, err)
			}
		})

		t.Run("prune", func(t *testing.T) {
			if err := db.PruneEvents(ctx, now.Add(time.Second), now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if n := raw.count(`SELECT COUNT(*) FROM event_payloads`); n != 0 {
				t.Errorf("payload IDs after prune: %d", n)
			}
			if n := raw.count(`SELECT COUNT(*) FROM environment_expiring_keys`); n != 0 {
				t.Errorf("expired keys after prune: %d", n)
			}
		})
	})
}
