-- Bounds metric_deletions (migration 0014): a deletion that leaves more than
-- twice the kept number of rows for its project removes the oldest ones and
-- raises deletions_low to the newest generation it removed. A cached list at
-- a generation below deletions_low could miss one of them, so it is read
-- again instead of patched (internal/store/metric_ids.go). deletions_held
-- counts the rows the project holds, so that the check costs no scan.
ALTER TABLE projects ADD COLUMN deletions_low BIGINT NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN deletions_held BIGINT NOT NULL DEFAULT 0;
UPDATE projects SET deletions_held = (SELECT COUNT(*) FROM metric_deletions d WHERE d.project_id = projects.id);
