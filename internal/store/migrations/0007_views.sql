-- Views (LaunchDarkly's Views beta API). 0001 created views and
-- view_metrics for the metric list's view filter; this adds the fields the
-- API edits and the links to resources metricsd does not manage. Same DDL
-- on SQLite and PostgreSQL.
ALTER TABLE views ADD COLUMN key_lower TEXT NOT NULL DEFAULT '';
ALTER TABLE views ADD COLUMN name_lower TEXT NOT NULL DEFAULT '';
ALTER TABLE views ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE views ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE views ADD COLUMN generate_sdk_keys BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE views ADD COLUMN maintainer_id TEXT REFERENCES members(id);
ALTER TABLE views ADD COLUMN maintainer_team_key TEXT;
ALTER TABLE views ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE views ADD COLUMN archived_at BIGINT;
ALTER TABLE views ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE views ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE views SET key_lower = lower(key), name_lower = lower(name);
CREATE INDEX views_name ON views(project_id, name_lower, id);
CREATE INDEX views_updated ON views(project_id, updated_at, id);
CREATE INDEX views_maintainer ON views(maintainer_id);
CREATE INDEX views_team ON views(maintainer_team_key);

-- One row per tag of a view, for the tag filter.
CREATE TABLE view_tags (
    view_id TEXT NOT NULL REFERENCES views(id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (view_id, tag)
);
CREATE INDEX view_tags_tag ON view_tags(tag, view_id);

-- When a metric was linked. Deleting the metric (or the view) removes the
-- link through 0001's ON DELETE CASCADE.
ALTER TABLE view_metrics ADD COLUMN linked_at BIGINT NOT NULL DEFAULT 0;

-- Links to flags and segments, which metricsd does not manage: their keys
-- are stored as the request names them. environment_id is '' for flags
-- and for segments named by ID alone.
CREATE TABLE view_resources (
    view_id        TEXT NOT NULL REFERENCES views(id) ON DELETE CASCADE,
    resource_type  TEXT NOT NULL,
    environment_id TEXT NOT NULL DEFAULT '',
    resource_key   TEXT NOT NULL,
    linked_at      BIGINT NOT NULL,
    PRIMARY KEY (view_id, resource_type, environment_id, resource_key)
);
