-- A change log for patching cached metric lists (internal/store/metric_ids.go)
-- on every replica: a metric row carries the project generation at which it
-- last changed, and a deleted metric leaves a row naming it with the
-- generation of its deletion. Rows written before this migration have
-- changed_gen 0; no cached list is older than the process, so none needs them.
ALTER TABLE metrics ADD COLUMN changed_gen BIGINT NOT NULL DEFAULT 0;
CREATE INDEX metrics_changed ON metrics(project_id, changed_gen);

CREATE TABLE metric_deletions (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    metric_id  TEXT NOT NULL
);
CREATE INDEX metric_deletions_gen ON metric_deletions(project_id, generation);

-- The generation a project started from (random): a project deleted and
-- created again under the same ID starts from another one, so a cached list
-- of the old project is never patched into one of the new.
ALTER TABLE projects ADD COLUMN generation_base BIGINT NOT NULL DEFAULT 0;
