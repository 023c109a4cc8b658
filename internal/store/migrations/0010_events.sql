-- SDK credentials and ingested events. The same DDL runs on SQLite and
-- PostgreSQL; times are epoch milliseconds, hours are the epoch
-- milliseconds of the start of the hour (UTC).

-- SDK and mobile keys are looked up on every event post: one index probe.
CREATE UNIQUE INDEX environments_api_key ON environments(api_key);
CREATE UNIQUE INDEX environments_mobile_key ON environments(mobile_key);

-- An SDK key replaced with an expiry stays valid until expires_at.
CREATE TABLE environment_expiring_keys (
    api_key        TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX environment_expiring_keys_env ON environment_expiring_keys(environment_id);

-- Payload IDs (X-LaunchDarkly-Payload-ID) already counted, so that a
-- retried post is counted once. Pruned after a day.
CREATE TABLE event_payloads (
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    payload_id     TEXT NOT NULL,
    received_at    BIGINT NOT NULL,
    PRIMARY KEY (environment_id, payload_id)
);
CREATE INDEX event_payloads_received ON event_payloads(received_at);

-- One row per environment, event kind, event key and hour. contexts holds
-- one distinct-count sketch per context kind (see internal/events/hll.go).
CREATE TABLE event_rollups (
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    event_key      TEXT NOT NULL,
    hour           BIGINT NOT NULL,
    event_count    BIGINT NOT NULL,
    value_count    BIGINT NOT NULL,
    value_sum      DOUBLE PRECISION NOT NULL,
    value_min      DOUBLE PRECISION,
    value_max      DOUBLE PRECISION,
    contexts       BYTEA NOT NULL,
    PRIMARY KEY (environment_id, kind, event_key, hour)
);
CREATE INDEX event_rollups_hour ON event_rollups(environment_id, hour);

-- One row per environment, event kind and event key ever seen: what
-- lastSeen, eventSources and the event explorer read without scanning
-- rollups. project_id is the environment's, for lookups by metric.
CREATE TABLE event_sources (
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    project_id     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    event_key      TEXT NOT NULL,
    first_seen     BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL,
    last_value     BIGINT,
    PRIMARY KEY (environment_id, kind, event_key)
);
CREATE INDEX event_sources_project ON event_sources(project_id, kind, event_key, last_seen);

-- Replaced by event_sources, which ingestion feeds.
DROP TABLE metric_event_sources;
