-- The first page of a new metric list filter comes from SQL before its
-- match list is read (internal/store/metric_ids.go), at about the cost of
-- one page and one count, wherever its matches sit in the sort order.
--
-- An equality on isNumeric or unitAggregationType finds its newest (or
-- oldest) matches in these indexes and counts them from the index alone;
-- kind has had such an index from the start (metrics_kind).
CREATE INDEX metrics_numeric ON metrics(project_id, is_numeric, created_at, id);
CREATE INDEX metrics_unit_aggregation ON metrics(project_id, unit_aggregation_type, created_at, id);

-- A tag filter walks the tag's rows in sort order: each row carries its
-- metric's sort values (written with the tags on every metric write, which
-- rewrites them anyway), and is counted without reading the metric.
ALTER TABLE metric_tags ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE metric_tags ADD COLUMN name_lower TEXT NOT NULL DEFAULT '';
UPDATE metric_tags SET
    created_at = (SELECT m.created_at FROM metrics m WHERE m.id = metric_tags.metric_id),
    name_lower = (SELECT m.name_lower FROM metrics m WHERE m.id = metric_tags.metric_id);
CREATE INDEX metric_tags_created ON metric_tags(project_id, tag, created_at, metric_id);
CREATE INDEX metric_tags_name ON metric_tags(project_id, tag, name_lower, metric_id);

-- metric_tags_created serves every read metric_tags_tag did.
DROP INDEX metric_tags_tag;
