-- audit_log holds one row per committed change. shape and k1..k3
-- decompose the target's resource specifier so that a spec filter is a few
-- indexed equality or LIKE conditions; others lists further targets of the
-- same write (",member/a,member/b,"; "," for none).
CREATE TABLE audit_log (
    id                TEXT PRIMARY KEY,
    date              BIGINT NOT NULL,
    kind              TEXT NOT NULL,
    resource          TEXT NOT NULL,
    shape             TEXT NOT NULL,
    k1                TEXT NOT NULL,
    k2                TEXT NOT NULL,
    k3                TEXT NOT NULL,
    name              TEXT NOT NULL,
    search            TEXT NOT NULL,
    tags              TEXT NOT NULL,
    others            TEXT NOT NULL,
    actions           TEXT NOT NULL,
    parent_resource   TEXT NOT NULL,
    parent_name       TEXT NOT NULL,
    member_id         TEXT NOT NULL,
    member_email      TEXT NOT NULL,
    member_first_name TEXT NOT NULL,
    member_last_name  TEXT NOT NULL,
    member_role       TEXT NOT NULL,
    token_id          TEXT NOT NULL,
    token_name        TEXT NOT NULL,
    token_ending      TEXT NOT NULL,
    service_token     BOOLEAN NOT NULL,
    comment           TEXT NOT NULL,
    title_verb        TEXT NOT NULL,
    description       TEXT NOT NULL,
    short_description TEXT NOT NULL,
    delta             TEXT,
    previous_version  TEXT,
    current_version   TEXT
);
-- Pages are ordered by id, newest first: an ID begins with the entry's
-- millisecond (twelve hex digits), so ID order is date order and date bounds
-- are ID bounds. Each index ends in id, so that a page walks one index
-- backwards in page order after the equality conditions and stops after one
-- page of matches; the other conditions (a LIKE on a key, tags) are checked
-- per row on the way. The primary key serves the unfiltered log.
CREATE INDEX audit_log_shape ON audit_log(shape, id);
CREATE INDEX audit_log_shape_k1 ON audit_log(shape, k1, id);
CREATE INDEX audit_log_shape_k2 ON audit_log(shape, k2, id);

-- Who made each metric version: the member's ID and, so that the history
-- stays readable after the member is deleted, their email at the time.
ALTER TABLE metric_versions ADD COLUMN author_id TEXT NOT NULL DEFAULT '';
ALTER TABLE metric_versions ADD COLUMN author_email TEXT NOT NULL DEFAULT '';
CREATE INDEX metric_versions_metric ON metric_versions(metric_id, version);
