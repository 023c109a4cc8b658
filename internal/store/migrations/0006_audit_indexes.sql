-- Audit log pages are ordered by (date, id), newest first. The indexes of
-- 0004 end in id alone, so a spec filter found its rows through them but
-- then sorted every match to return ten: the cost of a page grew with the
-- log. These replace them with indexes that end in (date, id), so that a
-- page walks one index backwards in page order after the equality
-- conditions and stops after one page of matches; the remaining conditions
-- (a LIKE on a key, tags) are checked per row on the way. The number of
-- indexes, and so the cost of recording an entry, stays the same.
DROP INDEX audit_log_shape;
DROP INDEX audit_log_shape_k1;
DROP INDEX audit_log_shape_k2;
DROP INDEX audit_log_date;
CREATE INDEX audit_log_shape_date ON audit_log(shape, date, id);
CREATE INDEX audit_log_shape_k1_date ON audit_log(shape, k1, date, id);
CREATE INDEX audit_log_shape_k2_date ON audit_log(shape, k2, date, id);
CREATE INDEX audit_log_date_id ON audit_log(date, id);
