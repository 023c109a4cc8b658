-- The event explorer pages its health lists in SQL (internal/store/explorer.go).
-- Counting a project's unarchived event-fed metrics, and joining the custom
-- ones to the event keys seen, reads this index alone, not the metric rows.
CREATE INDEX metrics_event_fed ON metrics(project_id, kind, event_key, key) WHERE archived_at IS NULL;
