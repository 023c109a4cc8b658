-- The first page of a new metric list filter comes from SQL before its
-- match list is read (internal/store/metric_ids.go). An equality on
-- isNumeric or unitAggregationType finds its newest (or oldest) matches
-- in these indexes, and counts them from the index alone, however far
-- from the top of the project's sort order they sit; kind has had such an
-- index from the start (metrics_kind).
CREATE INDEX metrics_numeric ON metrics(project_id, is_numeric, created_at, id);
CREATE INDEX metrics_unit_aggregation ON metrics(project_id, unit_aggregation_type, created_at, id);
