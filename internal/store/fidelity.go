package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/metricsd/metricsd/internal/catalog"
)

// migrationSteps run in Go right after the SQL of the migration with the
// same number, in its transaction, for what one DDL cannot say for both
// backends.
var migrationSteps = map[int]func(ctx context.Context, t *txn) error{
	5: backfillEventKeys,
	// rate_windows is unlogged on PostgreSQL: its writes skip the
	// write-ahead log, so a request's count does not wait for a WAL flush
	// (about 7x cheaper, see docs/PERFORMANCE.md), and a crash loses only
	// the counts of the current ten seconds.
	9:  postgresDDL(`ALTER TABLE rate_windows SET UNLOGGED`),
	12: storeEventLogUncompressed,
	// replica_leases is unlogged on PostgreSQL: leases and
	// acknowledgements skip the write-ahead log, and a crash, which ends
	// every listening connection anyway, loses only leases that are void.
	13: postgresDDL(`ALTER TABLE replica_leases SET UNLOGGED`),
	19: dropPayloadsForeignKey,
}

// dropPayloadsForeignKey removes event_payloads' foreign key to
// environments (migration 0019).
func dropPayloadsForeignKey(ctx context.Context, t *txn) error {
	stmts := []string{`ALTER TABLE event_payloads DROP CONSTRAINT IF EXISTS event_payloads_environment_id_fkey`}
	if t.d.name != "postgres" {
		stmts = []string{
			`CREATE TABLE event_payloads_next (
				environment_id TEXT NOT NULL,
				payload_id     TEXT NOT NULL,
				received_at    BIGINT NOT NULL,
				PRIMARY KEY (environment_id, payload_id)
			)`,
			`INSERT INTO event_payloads_next (environment_id, payload_id, received_at)
				SELECT environment_id, payload_id, received_at FROM event_payloads`,
			`DROP TABLE event_payloads`,
			`ALTER TABLE event_payloads_next RENAME TO event_payloads`,
			`CREATE INDEX event_payloads_received ON event_payloads(received_at)`,
		}
	}
	for _, q := range stmts {
		if _, err := t.exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// postgresDDL is a migration step that runs stmt on PostgreSQL and nothing
// on SQLite, which has no such thing.
func postgresDDL(stmt string) func(ctx context.Context, t *txn) error {
	return func(ctx context.Context, t *txn) error {
		if t.d.name != "postgres" {
			return nil
		}
		_, err := t.exec(ctx, stmt)
		return err
	}
}

// backfillEventKeys copies the eventKey of every metric's current
// definition into metrics.event_key.
func backfillEventKeys(ctx context.Context, t *txn) error {
	rows, err := t.query(ctx, `SELECT m.id, v.def FROM metrics m JOIN metric_versions v ON v.version_id = m.version_id`)
	if err != nil {
		return err
	}
	keys := map[string]string{}
	for rows.Next() {
		var id, def string
		if err := rows.Scan(&id, &def); err != nil {
			rows.Close()
			return err
		}
		var d struct {
			EventKey string `json:"eventKey"`
		}
		if err := json.Unmarshal([]byte(def), &d); err != nil {
			rows.Close()
			return fmt.Errorf("metric %s: stored definition is corrupt: %w", id, err)
		}
		if d.EventKey != "" {
			keys[id] = d.EventKey
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for id, key := range keys {
		if _, err := t.exec(ctx, `UPDATE metrics SET event_key = ? WHERE id = ?`, key, id); err != nil {
			return err
		}
	}
	return nil
}

// setEventKey keeps metrics.event_key equal to the eventKey of the version
// a write stores.
func setEventKey(ctx context.Context, t *txn, m *catalog.Metric) error {
	_, err := t.exec(ctx, `UPDATE metrics SET event_key = ? WHERE id = ?`, m.Def.EventKey, m.ID)
	return err
}
