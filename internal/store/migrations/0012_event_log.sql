-- The event log: each group commit of ingested events writes what it adds
-- up to for one environment as one record (data, in the binary form of
-- internal/events/log.go), and a fold adds records into event_rollups and
-- deletes them in the same transaction. The log holds about a second of
-- commits, so it needs no index but its key: deleting an environment scans
-- it.
CREATE TABLE event_log (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    data           BYTEA NOT NULL
);
