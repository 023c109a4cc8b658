-- Rate limit windows that replicas on PostgreSQL share: one row per counter
-- (the global window, a route pattern and verb, a token's share), holding
-- the count of the window that started at window_start (Unix ms). The row is
-- reset in place when a later window begins, so the table never grows past
-- the number of counters. SQLite, with one replica, counts in memory and
-- leaves the table empty. Same DDL on SQLite and PostgreSQL; on PostgreSQL the
-- migration's Go step (store/ratelimit.go) then makes the table UNLOGGED.
CREATE TABLE rate_windows (
    bucket       TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    n            BIGINT NOT NULL
);
