package store

import (
	"context"
	"sync"

	"github.com/metricsd/metricsd/internal/catalog"
)

// Metric list pages from a cached, ordered list of the matching IDs.
//
// Walking the sort index and probing each row stops after one page only
// when matches are spread through the sort order; when they are bunched far
// from its top (thousands of newer metrics that do not match) the walk
// reads all of those first, and a page of the same filter costs 100× more.
// Reading every match in sort order instead costs about what counting them
// does (once per project generation, like the count cache), after which
// every page of the filter, at any offset, is one primary-key read of its
// rows, whatever the distribution. Filters with more than maxCachedIDs
// matches keep the walk: so many matches are never far apart.

// maxCachedIDs is the largest match list kept for one filter.
const maxCachedIDs = 100_000

// idBudget bounds the IDs held for all filters together (about 40 bytes
// each).
const idBudget = 1_000_000

type idCache struct {
	mu      sync.Mutex
	entries map[string]idEntry
	held    int
}

type idEntry struct {
	ids     []string
	tooMany bool // more than maxCachedIDs matches: use the walk
}

func newIDCache() *idCache { return &idCache{entries: map[string]idEntry{}} }

func (c *idCache) get(key string) (idEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok
}

func (c *idCache) put(key string, e idEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok {
		c.held -= len(old.ids)
	}
	for k, old := range c.entries {
		if c.held+len(e.ids) <= idBudget && len(c.entries) < maxCountEntries {
			break
		}
		delete(c.entries, k)
		c.held -= len(old.ids)
	}
	c.entries[key] = e
	c.held += len(e.ids)
}

// pageFromIDs answers a list page from the ordered match list of its
// filter at the project's current generation, reading (and caching) that
// list first when needed. ok is false when the filter matches too many
// metrics for a list; the caller then walks the sort index.
func (db *DB) pageFromIDs(ctx context.Context, t *txn, projectID string, q catalog.MetricQuery, where string, args []any) ([]catalog.Metric, int, bool, error) {
	var gen int64
	if err := t.row(ctx, `SELECT metrics_generation FROM projects WHERE id = ?`, projectID).Scan(&gen); err != nil {
		return nil, 0, false, classify(err)
	}
	order := orderClause(q.Sort, metricSortColumns, "m.id")
	key := countKey(projectID, gen, "ids "+order+" "+where, args)
	// The whole match list is read. With a condition that an index
	// narrows to few rows (tags, event keys, version IDs), SQLite should
	// start from that index and sort what it finds rather than walk the
	// whole project in sort order; without one, the walk in sort order
	// (no sort step, and the kind index is in created order too) is the
	// cheaper way through the project.
	listOrder := order
	if len(q.TagsAll) > 0 || len(q.EventKeys) > 0 || len(q.VersionIDs) > 0 {
		unsorted := map[string]string{}
		for f, col := range metricSortColumns {
			unsorted[f] = db.dialect.unindexed(col)
		}
		listOrder = orderClause(q.Sort, unsorted, db.dialect.unindexed("m.id"))
	}
	e, hit := db.ids.get(key)
	if !hit {
		rows, err := t.query(ctx, `SELECT m.id FROM metrics m WHERE `+where+` ORDER BY `+listOrder+` LIMIT ?`, append(args, maxCachedIDs+1)...)
		if err != nil {
			return nil, 0, false, err
		}
		ids, err := collectStrings(rows)
		if err != nil {
			return nil, 0, false, err
		}
		if len(ids) > maxCachedIDs {
			e = idEntry{tooMany: true}
		} else {
			e = idEntry{ids: ids}
		}
		db.ids.put(key, e)
	}
	if e.tooMany {
		return nil, 0, false, nil
	}
	total := len(e.ids)
	if q.Offset >= total {
		return nil, total, true, nil
	}
	page := e.ids[q.Offset:min(total, q.Offset+q.Limit)]
	in := make([]any, len(page))
	for i, id := range page {
		in[i] = id
	}
	rows, err := t.query(ctx, currentMetricSelect+` WHERE m.id IN (`+placeholders(len(page))+`)`, in...)
	if err != nil {
		return nil, 0, false, err
	}
	defer rows.Close()
	byID := make(map[string]*catalog.Metric, len(page))
	for rows.Next() {
		m, err := scanMetric(rows)
		if err != nil {
			return nil, 0, false, err
		}
		byID[m.ID] = m
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, err
	}
	out := make([]catalog.Metric, 0, len(page))
	for _, id := range page {
		// Every ID is there: the list was read at this generation, and
		// any write that removed a metric would have moved it.
		if m := byID[id]; m != nil {
			out = append(out, *m)
		}
	}
	return out, total, true, nil
}
