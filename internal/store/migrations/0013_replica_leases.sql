-- Pushed invalidation between replicas on PostgreSQL (internal/store/replicas.go).
-- replica_clock numbers the writes that changed a cached representation, in
-- commit order; replica_leases holds each listening replica's lease and the
-- highest number it acknowledged. SQLite has the tables and does not use them.
CREATE TABLE replica_clock (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO replica_clock (id, seq) VALUES (1, 0);
CREATE TABLE replica_leases (
    id TEXT PRIMARY KEY,
    acked BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL
);
