-- Web UI sessions (internal/web). A session is found by the SHA-256 hash of
-- its random ID, which only the browser's cookie holds. It remembers the
-- access token it was opened with by ID and by the hash the tokens table
-- holds (never the token's value), so that every request can check the
-- token again: a revoked token deletes its sessions, a reset one no longer
-- matches. Times are Unix milliseconds; expires_at is the absolute end,
-- last_seen_at drives the idle end.
CREATE TABLE web_sessions (
    id_hash      BYTEA PRIMARY KEY,
    token_id     TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    token_hash   BYTEA NOT NULL,
    member_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX web_sessions_token ON web_sessions (token_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
