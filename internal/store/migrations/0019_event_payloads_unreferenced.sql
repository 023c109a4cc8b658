-- event_payloads loses its foreign key to environments. On PostgreSQL a
-- foreign key is checked per inserted row by a trigger that finds and
-- locks the environment row (FOR KEY SHARE); a group commit claims one
-- payload ID per post, so that check was about a twentieth of the machine's
-- CPU per ingested post (docs/PERFORMANCE.md, "SDK event ingestion"). A
-- commit reads which of its environments still exist in its own
-- transaction before it claims, and deleting a project deletes its
-- environments' payload IDs first (internal/store/projects.go); a claim that
-- races a deletion leaves a row for an ID no environment will have again,
-- pruned within a day like every other. SQLite cannot drop a constraint, so
-- the table is rebuilt the same way on both.
CREATE TABLE event_payloads_next (
    environment_id TEXT NOT NULL,
    payload_id     TEXT NOT NULL,
    received_at    BIGINT NOT NULL,
    PRIMARY KEY (environment_id, payload_id)
);
INSERT INTO event_payloads_next (environment_id, payload_id, received_at)
    SELECT environment_id, payload_id, received_at FROM event_payloads;
DROP TABLE event_payloads;
ALTER TABLE event_payloads_next RENAME TO event_payloads;
CREATE INDEX event_payloads_received ON event_payloads(received_at);
