package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/store"
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
		t.Run("payloads", func(t *testing.T) {
			write(func(tx events.FlushTx) error {
				c := events.PayloadClaim{EnvID: prod.ID, PayloadID: "pay-1"}
				fresh, err := tx.ClaimPayloads(ctx, []events.PayloadClaim{c, c, {EnvID: prod.ID, PayloadID: "pay-2"}}, now)
				if err != nil || len(fresh) != 2 || !fresh[c] {
					t.Errorf("first claims: %v %v", fresh, err)
				}
				fresh, err = tx.ClaimPayloads(ctx, []events.PayloadClaim{c, {EnvID: prod.ID, PayloadID: "pay-3"}}, now)
				if err != nil || len(fresh) != 1 || fresh[c] {
					t.Errorf("second claims: %v %v, want only pay-3", fresh, err)
				}
				exists, err := tx.ExistingEnvironments(ctx, []string{prod.ID, "nope"})
				if err != nil || !exists[prod.ID] || exists["nope"] {
					t.Errorf("ExistingEnvironments: %v %v", exists, err)
				}
				return nil
			})
			if n := raw.count(`SELECT COUNT(*) FROM event_payloads`); n != 3 {
				t.Errorf("payload rows = %d, want 3", n)
			}
		})

		// appendLog commits one log record of rows.
		appendLog := func(rows map[events.RollupKey]*events.Rollup) {
			t.Helper()
			write(func(tx events.FlushTx) error {
				return tx.AppendLog(ctx, prod.ID, events.AppendLog(nil, len(rows), maps.All(rows)))
			})
		}
		t.Run("log folds into rollups once", func(t *testing.T) {
			s := &events.Sketch{}
			s.Add(1 << 63)
			appendLog(map[events.RollupKey]*events.Rollup{k: {Count: 3, ValueCount: 2, Sum: 5, Min: 1, Max: 4, Contexts: map[string]*events.Sketch{"user": s}}})
			appendLog(map[events.RollupKey]*events.Rollup{k: {Count: 1}})
			// A read of rollups folds what is committed first.
			rows, err := db.RollupRows(ctx, prod.ID, "custom", "k", now.Add(-time.Hour), now.Add(time.Hour))
			if err != nil || len(rows) != 1 || rows[0].Count != 4 || rows[0].ValueCount != 2 || rows[0].Sum != 5 ||
				rows[0].Min != 1 || rows[0].Max != 4 || rows[0].Contexts["user"].Estimate() != 1 {
				t.Errorf("RollupRows: %+v %v", rows, err)
			}
			if n := raw.count(`SELECT COUNT(*) FROM event_log`); n != 0 {
				t.Errorf("log records after the fold: %d", n)
			}
			// Folding again adds nothing; a record folded into existing
			// rows merges with them.
			if err := db.FoldEvents(ctx); err != nil {
				t.Fatal(err)
			}
			s2 := &events.Sketch{}
			s2.Add(1 << 62)
			appendLog(map[events.RollupKey]*events.Rollup{k: {Count: 2, ValueCount: 1, Sum: 10, Min: 10, Max: 10, Contexts: map[string]*events.Sketch{"user": s2}}})
			if err := db.FoldEvents(ctx); err != nil {
				t.Fatal(err)
			}
			rows, err = db.RollupRows(ctx, prod.ID, "custom", "k", now.Add(-time.Hour), now.Add(time.Hour))
			if err != nil || len(rows) != 1 || rows[0].Count != 6 || rows[0].ValueCount != 3 || rows[0].Sum != 15 ||
				rows[0].Min != 1 || rows[0].Max != 10 || rows[0].Contexts["user"].Estimate() != 2 {
				t.Errorf("RollupRows after a second fold: %+v %v", rows, err)
			}
			// More records than one fold transaction takes, and one that
			// cannot be read, which is dropped rather than stopping folds.
			raw.exec(`INSERT INTO event_log (id, environment_id, data) VALUES (?, ?, ?)`, "0-corrupt", prod.ID, []byte{1, 5, 0})
			other := events.RollupKey{EnvID: prod.ID, Kind: events.KindCustom, Key: "many", Hour: hour}
			for range 70 {
				appendLog(map[events.RollupKey]*events.Rollup{other: {Count: 1}})
			}
			rows, err = db.RollupRows(ctx, prod.ID, "custom", "many", now.Add(-time.Hour), now.Add(time.Hour))
			if err != nil || len(rows) != 1 || rows[0].Count != 70 {
				t.Errorf("RollupRows of 70 records: %+v %v", rows, err)
			}
			if n := raw.count(`SELECT COUNT(*) FROM event_log`); n != 0 {
				t.Errorf("log records after the fold: %d", n)
			}
			// A row another connection changed is read again, not taken
			// from what the last fold wrote.
			raw.exec(`UPDATE event_rollups SET event_count = 100 WHERE event_key = ?`, "many")
			appendLog(map[events.RollupKey]*events.Rollup{other: {Count: 1}})
			rows, err = db.RollupRows(ctx, prod.ID, "custom", "many", now.Add(-time.Hour), now.Add(time.Hour))
			if err != nil || len(rows) != 1 || rows[0].Count != 101 {
				t.Errorf("RollupRows after an outside write: %+v %v, want 101", rows, err)
			}
			raw.exec(`DELETE FROM event_rollups WHERE event_key = ?`, "many")
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
			if got.FirstSeen.UnixMilli() != hour-5*3600_000 || got.LastSeen.UnixMilli() != hour || got.Volume != 6 {
				t.Errorf("source = %+v; want first 5 hours ago, last this hour, volume 6", got)
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

		// Payload IDs reference their environment without a foreign key
		// (migration 0019): deleting the project deletes them, and only
		// them.
		t.Run("project deletion", func(t *testing.T) {
			fks := `SELECT COUNT(*) FROM pragma_foreign_key_list('event_payloads')`
			if raw.pg {
				fks = `SELECT COUNT(*) FROM pg_constraint WHERE conrelid = 'event_payloads'::regclass AND contype = 'f'`
			}
			if n := raw.count(fks); n != 0 {
				t.Fatalf("event_payloads has %d foreign keys after migration 0019", n)
			}
			_, others := mustProject(t, db, "proj-events-kept", "events-kept", at(0))
			claim := func(env string) {
				write(func(tx events.FlushTx) error {
					_, err := tx.ClaimPayloads(ctx, []events.PayloadClaim{{EnvID: env, PayloadID: "p-" + env}}, now)
					return err
				})
			}
			for _, e := range envs {
				claim(e.ID)
			}
			claim(others[0].ID)
			if n := raw.count(`SELECT COUNT(*) FROM event_payloads`); n != len(envs)+1 {
				t.Fatalf("payload IDs before: %d, want %d", n, len(envs)+1)
			}
			if err := db.DeleteProject(ctx, p.Key); err != nil {
				t.Fatal(err)
			}
			var left string
			if err := raw.db.QueryRowContext(context.Background(), `SELECT environment_id FROM event_payloads`).Scan(&left); err != nil || left != others[0].ID {
				t.Errorf("payload IDs after deleting the project: %q (%v), want only the other project's", left, err)
			}
			if n := raw.count(`SELECT COUNT(*) FROM event_payloads`); n != 1 {
				t.Errorf("payload IDs after deleting the project: %d, want 1", n)
			}
		})
	})
}

// TestEventLogReplicas: two replicas on one database commit batches with
// the same payload IDs and fold at the same time; every payload counts
// exactly once.
func TestEventLogReplicas(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		dbs := []*store.DB{mustOpen(t, b.URL), mustOpen(t, b.URL)}
		_, envs := mustProject(t, dbs[0], "proj-replicas", "replicas", at(0))
		env := envs[0].ID
		hour := time.Now().UTC().Truncate(time.Hour).UnixMilli()
		k := events.RollupKey{EnvID: env, Kind: events.KindCustom, Key: "k", Hour: hour}
		rec := events.AppendLog(nil, 1, maps.All(map[events.RollupKey]*events.Rollup{k: {Count: 1}}))
		const payloads = 40
		errs := make(chan error, 8*payloads)
		var wg sync.WaitGroup
		for r, db := range dbs {
			wg.Add(2)
			go func() {
				defer wg.Done()
				// Both replicas post every payload ID, in opposite orders.
				for i := range payloads {
					id := i
					if r == 1 {
						id = payloads - 1 - i
					}
					errs <- db.TransactEvents(ctx, func(tx events.FlushTx) error {
						fresh, err := tx.ClaimPayloads(ctx, []events.PayloadClaim{{EnvID: env, PayloadID: fmt.Sprint("p", id)}}, time.Now())
						if err != nil || len(fresh) == 0 {
							return err
						}
						return tx.AppendLog(ctx, env, rec)
					})
				}
			}()
			go func() {
				defer wg.Done()
				for range payloads / 4 {
					errs <- db.FoldEvents(ctx)
				}
			}()
		}
		// And folds that race each other from both replicas.
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range payloads / 2 {
					errs <- dbs[i%2].FoldEvents(ctx)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		rows, err := dbs[1].RollupRows(ctx, env, events.KindCustom, "k", time.UnixMilli(hour), time.UnixMilli(hour).Add(time.Hour))
		if err != nil || len(rows) != 1 || rows[0].Count != payloads {
			t.Fatalf("rows = %+v, %v; want one row of %d events", rows, err, payloads)
		}
	})
}
