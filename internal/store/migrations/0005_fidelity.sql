-- Filters LaunchDarkly's current API documents for the metric list:
-- eventKeys (anyOf the metric's event key) and versionIds (anyOf the
-- metric's current version ID). Same DDL on SQLite and PostgreSQL.

-- event_key mirrors the eventKey of the current definition ('' for kinds
-- without one). Rows that exist already are filled in by the migration's
-- Go step (store/fidelity.go), as JSON functions differ between backends.
ALTER TABLE metrics ADD COLUMN event_key TEXT NOT NULL DEFAULT '';
CREATE INDEX metrics_event_key ON metrics(project_id, event_key);
CREATE INDEX metrics_version_id ON metrics(project_id, version_id);
