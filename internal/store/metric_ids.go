package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// Metric list pages from a cached, ordered list of the matching IDs.
//
// Walking the sort index and probing each row stops after one page only
// when matches are spread through the sort order; when they are bunched far
// from its top (thousands of newer metrics that do not match) the walk
// reads all of those first, and a page of the same filter costs 100× more.
// Reading every match in sort order instead costs about what counting them
// does, after which every page of the filter, at any offset, is one
// primary-key read of its rows, whatever the distribution. Filters with
// more than maxCachedIDs matches keep the walk: so many matches are never
// far apart.
//
// A list is read at the project generation G0 of the request that read it
// and is kept with its sort keys. A request whose snapshot is at a later
// generation G patches it instead of reading it again: every metric write
// stamps the rows it writes with the generation it commits (changed_gen,
// see ensureBumped) and a deletion leaves a metric_deletions row, so one
// statement, in the request's snapshot, reads the metrics changed in
// (G0, G] with, evaluated by SQL from the same compiled filter, whether each
// still matches; another reads the deletions in that range. Every one of
// those IDs leaves the list and the matching ones go back in at their sort
// position. Generations of one project commit in order (SQLite has one
// writer; on PostgreSQL the bump holds the project row until commit), so
// nothing at or below G0 appears later: the patched list is exactly what
// the request's snapshot holds, on every replica. A request whose snapshot
// is older than the cached list reads its own and leaves the newer one.
//
// A list is read again instead when more rows changed than a patch is
// worth, when the project was deleted and created again (generation_base
// moved), when it is older than the project's deletions_low (the change
// log no longer holds every deletion since it: see pruneDeletions), or
// when it cannot be patched at all: filters on connections
// (experiment and rollout writes change what they match without touching a
// metric row), and, on PostgreSQL, a database collation that does not
// order text by its bytes as Go does.

// maxCachedIDs is the largest match list kept for one filter.
const maxCachedIDs = 100_000

// idBudget bounds the heap the match lists of all filters hold together,
// in bytes as entryBytes counts them: 32 MiB, some five of the largest
// lists (100,000 IDs with their creation times, about 6.4 MB each) or many
// smaller ones. With a million metrics in a project a bound in IDs (it was
// a million IDs, about 64 MB with their sort values) let the cache alone
// take half of the memory a process was to stay under.
const idBudget = 32 << 20

// entryBytes is the heap e holds: per ID a string header and its bytes,
// per sort value its fixed part and the bytes of its name.
func entryBytes(e idEntry) int {
	n := 0
	for _, id := range e.ids {
		n += 16 + len(id)
	}
	for _, v := range e.keys {
		n += 24 + len(v.name)
	}
	return n
}

// tooManyKept is how many generations a project may move on before a
// filter found to match more than maxCachedIDs metrics is counted again:
// until then its pages walk the sort index without reading its matches
// first. A verdict only picks the plan (the walk answers any filter, with
// the count of the request's own generation), and so many matches seldom
// fall below the bound; reading 100,000 of them again after every write
// of a large project is what it saves.
const tooManyKept = 1000

// maxPatchRows bounds the changed and deleted rows a patch reads; a list
// also gets read again when more than a quarter of it (but at least
// minPatchRows) changed.
const (
	maxPatchRows = 5000
	minPatchRows = 256
)

type idCache struct {
	mu      sync.Mutex
	entries map[string]idEntry
	held    int // bytes of the entries (entryBytes)
	// building names the lists being read in the background; slot
	// admits one such read at a time, so that a burst of new filters
	// does not take every reader connection and core from the requests.
	building map[string]bool
	slot     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	idle     *sync.Cond // signalled when building becomes empty
	// statements counts the statements of background reads.
	statements atomic.Int64
}

// idEntry is the match list of one filter and sort at one generation.
// Entries are never modified once stored: a patch builds a new one.
type idEntry struct {
	gen, base int64
	ids       []string
	// keys holds the sort values of ids (same index) when the list can
	// be patched; nil otherwise.
	keys    []sortVals
	tooMany bool // more than maxCachedIDs matches: use the walk
	bytes   int  // entryBytes, set by put
}

// sortVals are the values of a metric's sort columns that a list is
// ordered by (only those of its sort are set).
type sortVals struct {
	created int64
	name    string
}

func newIDCache() *idCache {
	ctx, cancel := context.WithCancel(context.Background())
	c := &idCache{entries: map[string]idEntry{}, building: map[string]bool{}, slot: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
	c.idle = sync.NewCond(&c.mu)
	return c
}

// close stops the background reads and waits for them. No read starts
// once the context is cancelled under mu (see readLater).
func (c *idCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.cancel()
	c.mu.Unlock()
	c.wg.Wait()
}

// wait waits until no background read is running.
func (c *idCache) wait() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.building) > 0 {
		c.idle.Wait()
	}
}

func (c *idCache) get(key string) (idEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok
}

// put stores e unless the entry held for key is of the same project
// incarnation and newer: a request with an older snapshot never replaces
// what newer ones read.
func (c *idCache) put(key string, e idEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok {
		if old.base == e.base && old.gen > e.gen {
			return
		}
		c.held -= old.bytes
		delete(c.entries, key)
	}
	e.bytes = entryBytes(e)
	for k, old := range c.entries {
		if c.held+e.bytes <= idBudget && len(c.entries) < maxCountEntries {
			break
		}
		delete(c.entries, k)
		c.held -= old.bytes
	}
	c.entries[key] = e
	c.held += e.bytes
}

// listSort is the sort of a list as the ORDER BY of orderClause renders
// it: keys in order, then the ID in the direction of the last key.
type listSort []core.SortKey

func newListSort(keys []core.SortKey) (listSort, bool) {
	if len(keys) == 0 {
		keys = []core.SortKey{{Field: "createdAt"}}
	}
	for _, k := range keys {
		if k.Field != "createdAt" && k.Field != "name" {
			return nil, false
		}
	}
	return listSort(keys), true
}

// columns lists the SQL columns of the sort values, in sortVals order.
func (s listSort) columns() (created, name bool) {
	for _, k := range s {
		switch k.Field {
		case "createdAt":
			created = true
		case "name":
			name = true
		}
	}
	return created, name
}

// compare orders (a, aID) and (b, bID) as SQL does: text by its bytes
// (SQLite's BINARY collation; on PostgreSQL only with a byte-order
// collation, see DB.byteOrder), no NULLs (both columns are NOT NULL).
func (s listSort) compare(a sortVals, aID string, b sortVals, bID string) int {
	desc := false
	for _, k := range s {
		var c int
		switch k.Field {
		case "createdAt":
			c = cmp.Compare(a.created, b.created)
		case "name":
			c = strings.Compare(a.name, b.name)
		}
		desc = k.Desc
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	c := strings.Compare(aID, bID)
	if desc {
		c = -c
	}
	return c
}

// selectList is the select list of a list read: the ID and the sort
// columns s needs.
func (s listSort) selectList() string {
	created, name := s.columns()
	cols := "m.id"
	if created {
		cols += ", m.created_at"
	}
	if name {
		cols += ", m.name_lower"
	}
	return cols
}

// scanTargets points the columns after the ID at v.
func (s listSort) scanTargets(id *string, v *sortVals) []any {
	created, name := s.columns()
	out := []any{id}
	if created {
		out = append(out, &v.created)
	}
	if name {
		out = append(out, &v.name)
	}
	return out
}

// patchable reports whether the list of q can be patched from the change
// log (see above).
func (db *DB) patchable(q catalog.MetricQuery) (listSort, bool) {
	if !db.byteOrder || db.noPatch || q.HasConnections != nil || q.UsedIn != "" || q.View != "" {
		return nil, false
	}
	return newListSort(q.Sort)
}

// pageFromIDs answers a list page from the ordered match list of its
// filter at the generation of t's snapshot, patching a cached list first
// when it can. Without a list to use (a new filter, or one that cannot be
// patched), the page comes from SQL at about the cost of one page and one
// count (firstPage), and the list is read in the background for the
// requests that follow. ok is false when the filter matches too many
// metrics for a list; the caller then walks the sort index.
func (db *DB) pageFromIDs(ctx context.Context, t *txn, projectID string, q catalog.MetricQuery, where string, args []any) ([]catalog.Metric, int, bool, error) {
	var gen, base, low int64
	if err := t.row(ctx, `SELECT metrics_generation, generation_base, deletions_low FROM projects WHERE id = ?`, projectID).Scan(&gen, &base, &low); err != nil {
		return nil, 0, false, classify(err)
	}
	// Lists the project's index will answer once built are not read.
	indexLater := false
	if db.indexable(q) {
		page, total, ok, err := db.pageFromIndex(ctx, t, projectID, gen, base, low, q)
		if err != nil || ok {
			return page, total, ok, err
		}
		indexLater = !db.index.large(projectID, gen)
	}
	order := orderClause(q.Sort, metricSortColumns, "m.id")
	key := countKey(projectID, 0, "ids "+order+" "+where, args)
	sortBy, canPatch := db.patchable(q)
	e, hit := db.ids.get(key)
	fresh := hit && e.base == base && e.gen == gen
	if !fresh && hit && canPatch && e.keys != nil && e.base == base && e.gen < gen && e.gen >= low {
		// The filter probed per changed row (tags by primary key), not
		// driven from the rows each tag has.
		pwhere, pargs := db.dialect.metricWhere(projectID, q, false)
		ne, ok, err := patchIDs(ctx, t, e, sortBy, projectID, gen, pwhere, pargs)
		if err != nil {
			return nil, 0, false, err
		}
		if ok {
			e, fresh = ne, true
			db.listPatches.Add(1)
			db.ids.put(key, e)
		}
	}
	if !fresh && hit && e.tooMany && e.base == base && e.gen < gen && gen-e.gen <= tooManyKept {
		// The verdict only picks the plan: the walk answers any filter.
		return nil, 0, false, nil
	}
	if !fresh && !db.readFirst && indexed(q) {
		if hit && e.tooMany && e.base == base {
			db.readLater(key, projectID, q, sortBy, canPatch, order, where, args)
			return nil, 0, false, nil
		}
		db.firstPages.Add(1)
		page, total, err := db.firstPage(ctx, t, projectID, gen, q, where, args)
		// Once the page is read: the list read would take the core
		// this request runs on.
		if !indexLater {
			db.readLater(key, projectID, q, sortBy, canPatch, order, where, args)
		}
		return page, total, err == nil, err
	}
	if !fresh {
		var err error
		e, err = db.readIDs(ctx, t, projectID, q, sortBy, canPatch, order, where, args)
		if err != nil {
			return nil, 0, false, err
		}
		e.gen, e.base = gen, base
		db.ids.put(key, e)
	}
	if e.tooMany {
		return nil, 0, false, nil
	}
	total := len(e.ids)
	if q.Offset >= total {
		return nil, total, true, nil
	}
	// Every ID is there: the list is at this snapshot's generation, and
	// any write that removed a metric would have moved it.
	out, err := readPageMetrics(ctx, t, e.ids[q.Offset:min(total, q.Offset+q.Limit)])
	return out, total, err == nil, err
}

// indexed reports whether an index finds the matches of q for firstPage
// (see there). Without one the count reads the whole project, and so
// costs about what reading the list does: the list is read at once.
func indexed(q catalog.MetricQuery) bool {
	return narrowed(q) || len(q.Kinds) > 0 || q.IsNumeric != nil || q.UnitAggregationType != ""
}

// narrowed reports whether q has a condition that an index narrows to
// the rows it matches (tags, event keys, version IDs, connections), which
// metricWhere's driven form starts from.
func narrowed(q catalog.MetricQuery) bool {
	return len(q.TagsAll) > 0 || len(q.EventKeys) > 0 || len(q.VersionIDs) > 0 ||
		(q.HasConnections != nil && *q.HasConnections) || q.UsedIn == "experiments" || q.UsedIn == "guarded_rollouts" || q.UsedIn == "any"
}

// sortedOrder is the ORDER BY of q for a query that reads the matches
// from the index of a condition and sorts them: no sort index can serve
// it, so neither planner walks one (SQLite's unary +; on PostgreSQL an
// expression, which also keeps a plan off the sort index whatever the
// statistics say).
func (d dialect) sortedOrder(q catalog.MetricQuery) string {
	if d.numbered {
		return orderClause(q.Sort, map[string]string{"createdAt": "(m.created_at + 0)", "name": "(m.name_lower || '')"}, "(m.id || '')")
	}
	return orderClause(q.Sort, map[string]string{"createdAt": "+m.created_at", "name": "+m.name_lower"}, "+m.id")
}

// firstPage answers a page of q from SQL in t, with the number of all
// matches (counted once per generation, see cachedCount): what a new
// filter costs before its match list is read. The page reads only IDs,
// then the rows of the page. A filter with a condition an index narrows
// reads the matches of that index and sorts them (its cost grows with
// those matches, not with where they sit in the sort order); one with few
// matches in all does the same; any other walks the sort index or, for an
// equality on a column with its own index in sort order (kind,
// isNumeric, unitAggregationType), that index, and stops after the page.
// The statements are those of a cached count: the generation (read by
// the caller), the count, the page's IDs and its rows.
func (db *DB) firstPage(ctx context.Context, t *txn, projectID string, gen int64, q catalog.MetricQuery, where string, args []any) ([]catalog.Metric, int, error) {
	from, id := "metrics m", "m.id"
	if len(q.TagsAll) > 0 {
		from, where, args = db.dialect.tagDriven(projectID, q)
		id = "a.metric_id"
	}
	total, err := db.countAt(ctx, t, projectID, gen, `SELECT COUNT(*) FROM `+from+` WHERE `+where, args)
	if err != nil || total == 0 || q.Offset >= total {
		return nil, total, err
	}
	order := orderClause(q.Sort, metricSortColumns, "m.id")
	few := fewMatches
	if db.fewMatches > 0 {
		few = db.fewMatches
	}
	switch {
	case len(q.TagsAll) > 0:
		order = tagOrder(q)
	case narrowed(q) || total <= few:
		order = db.dialect.sortedOrder(q)
	default:
		where, args = db.dialect.metricWhere(projectID, q, false)
	}
	// The IDs of the page, then their rows with the statement a cached
	// list's page uses. A statement of the filter's own shape is prepared
	// the first time that shape is asked for; kept to the IDs it prepares
	// in a fraction of what the page's columns and usage counts take.
	rows, err := t.query(ctx, `SELECT `+id+` FROM `+from+` WHERE `+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`,
		append(slices.Clip(args), q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]string, 0, q.Limit)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out, err := readPageMetrics(ctx, t, ids)
	return out, total, err
}

// tagDriven renders q, which has tags, as a read that starts from the
// rows of its first tag (metric_tags a, which carry their metric's sort
// values, see migration 0018) and probes, row by row by primary key, its
// other tags and, when q has conditions on the metric itself, the metric
// row: in sort order through the tag's index, it stops after a page;
// counted, it reads only the tag rows when there is nothing to probe.
// The probes are scalar subqueries, which PostgreSQL runs per row as
// written: an EXISTS it may turn into a join that scans the metrics of
// the project (or every row of the other tag) when its statistics say
// the condition is common.
func (d dialect) tagDriven(projectID string, q catalog.MetricQuery) (from, where string, args []any) {
	conds := []string{"a.project_id = ?", "a.tag = ?"}
	args = []any{projectID, q.TagsAll[0]}
	for _, tag := range q.TagsAll[1:] {
		conds = append(conds, "(SELECT 1 FROM metric_tags b WHERE b.metric_id = a.metric_id AND b.tag = ?) = 1")
		args = append(args, tag)
	}
	rest := q
	rest.TagsAll = nil
	bare, _ := d.metricWhere(projectID, catalog.MetricQuery{}, false)
	if mw, margs := d.metricWhere(projectID, rest, false); mw != bare {
		conds = append(conds, "(SELECT 1 FROM metrics m WHERE m.id = a.metric_id AND "+mw+") = 1")
		args = append(args, margs...)
	}
	return "metric_tags a", strings.Join(conds, " AND "), args
}

// tagOrder is the ORDER BY of q over the tag rows of tagDriven.
func tagOrder(q catalog.MetricQuery) string {
	return orderClause(q.Sort, map[string]string{"createdAt": "a.created_at", "name": "a.name_lower"}, "a.metric_id")
}

// listReadTimeout bounds one background read of a match list.
const listReadTimeout = time.Minute

// readLater reads the match list of key in the background, in a snapshot
// of its own, unless it is being read or another list is.
func (db *DB) readLater(key, projectID string, q catalog.MetricQuery, sortBy listSort, canPatch bool, order, where string, args []any) {
	c := db.ids
	args = slices.Clone(args)
	c.background(key, func(ctx context.Context) error {
		// Its statements are no request's: they are not counted.
		return db.txCounted(ctx, false, &c.statements, func(t *txn) error {
			gen, base, err := projectGenerations(ctx, t, projectID)
			if err != nil {
				return err
			}
			e, err := db.readIDs(ctx, t, projectID, q, sortBy, canPatch, order, where, args)
			if err != nil {
				return err
			}
			e.gen, e.base = gen, base
			c.put(key, e)
			return nil
		})
	})
}

// readIDs reads the whole match list in t's snapshot, with its sort
// values when it can be patched later.
func (db *DB) readIDs(ctx context.Context, t *txn, projectID string, q catalog.MetricQuery, sortBy listSort, canPatch bool, order, where string, args []any) (idEntry, error) {
	// A tag filter walks its first tag's rows in sort order (tagDriven).
	// With another condition that an index narrows to few rows (event
	// keys, version IDs), the read starts from that index and sorts what
	// it finds rather than walk the whole project in sort order; without
	// one, the walk in sort order (no sort step; the kind, isNumeric and
	// unitAggregationType indexes are in created order too) is the
	// cheaper way through the project.
	listOrder, from := order, "metrics m"
	cols := "m.id"
	if canPatch {
		cols = sortBy.selectList()
	}
	switch {
	case len(q.TagsAll) > 0:
		// In sort order from the tag rows, which carry the sort values.
		from, where, args = db.dialect.tagDriven(projectID, q)
		listOrder = tagOrder(q)
		cols = strings.NewReplacer("m.id", "a.metric_id", "m.created_at", "a.created_at", "m.name_lower", "a.name_lower").Replace(cols)
	case len(q.EventKeys) > 0 || len(q.VersionIDs) > 0:
		listOrder = db.dialect.sortedOrder(q)
		// Such a read sorts every match before its LIMIT applies: with a
		// condition on a million metrics that took longer than a
		// request's deadline. Count first (the walk that answers a
		// filter with more matches than a list holds needs the count
		// anyway, and finds it cached for this generation), and sort
		// only a list that will be kept. (A tag read above walks in
		// sort order and stops at the bound.)
		cq, cargs := db.countQuery(projectID, q, where, args)
		n, err := db.cachedCount(ctx, t, projectID, true, cq, cargs)
		if err != nil {
			return idEntry{}, err
		}
		if n > maxCachedIDs {
			return idEntry{tooMany: true}, nil
		}
	}
	rows, err := t.query(ctx, `SELECT `+cols+` FROM `+from+` WHERE `+where+` ORDER BY `+listOrder+` LIMIT ?`, append(slices.Clip(args), maxCachedIDs+1)...)
	if err != nil {
		return idEntry{}, err
	}
	defer rows.Close()
	var e idEntry
	var id string
	var v sortVals
	targets := []any{&id}
	if canPatch {
		targets = sortBy.scanTargets(&id, &v)
	}
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			return idEntry{}, err
		}
		if len(e.ids) == maxCachedIDs {
			return idEntry{tooMany: true}, rows.Close()
		}
		e.ids = append(e.ids, id)
		if canPatch {
			e.keys = append(e.keys, v)
		}
	}
	if err := rows.Err(); err != nil {
		return idEntry{}, err
	}
	if canPatch && e.keys == nil {
		e.keys = []sortVals{}
	}
	return e, nil
}

// patchIDs brings e to generation gen from the change log, in t's
// snapshot; ok is false when more changed than a patch is worth.
func patchIDs(ctx context.Context, t *txn, e idEntry, sortBy listSort, projectID string, gen int64, where string, args []any) (idEntry, bool, error) {
	limit := min(maxPatchRows, max(len(e.ids)/4, minPatchRows))
	// Closed ranges: PostgreSQL plans a cached statement for any
	// argument, and for a range with one open bound it assumes a third of
	// the table matches and scans the project; for a closed one it
	// assumes few rows and takes the (project_id, changed_gen) index.
	// The filter is the list's own compiled WHERE, evaluated per changed
	// row.
	q := `SELECT ` + sortBy.selectList() + `, CASE WHEN ` + where + ` THEN 1 ELSE 0 END FROM metrics m
		WHERE m.project_id = ? AND m.changed_gen BETWEEN ? AND ? LIMIT ?`
	rows, err := t.query(ctx, q, append(slices.Clip(args), projectID, e.gen+1, gen, limit+1)...)
	if err != nil {
		return idEntry{}, false, err
	}
	gone := map[string]bool{}
	type added struct {
		id string
		v  sortVals
	}
	var adds []added
	var id string
	var v sortVals
	var match int
	targets := append(sortBy.scanTargets(&id, &v), &match)
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			rows.Close()
			return idEntry{}, false, err
		}
		gone[id] = true
		if match == 1 {
			adds = append(adds, added{id, v})
		}
	}
	if err := rows.Close(); err != nil {
		return idEntry{}, false, err
	}
	if err := rows.Err(); err != nil {
		return idEntry{}, false, err
	}
	if len(gone) > limit {
		return idEntry{}, false, nil
	}
	deleted, err := readDeletions(ctx, t, projectID, e.gen, gen, limit+1)
	if err != nil {
		return idEntry{}, false, err
	}
	if len(gone)+len(deleted) > limit {
		return idEntry{}, false, nil
	}
	for _, id := range deleted {
		gone[id] = true
	}
	slices.SortFunc(adds, func(a, b added) int { return sortBy.compare(a.v, a.id, b.v, b.id) })
	n := len(e.ids) + len(adds)
	if n > maxCachedIDs {
		return idEntry{}, false, nil
	}
	out := idEntry{gen: gen, base: e.base, ids: make([]string, 0, n), keys: make([]sortVals, 0, n)}
	j := 0
	for i, id := range e.ids {
		if gone[id] {
			continue
		}
		for j < len(adds) && sortBy.compare(adds[j].v, adds[j].id, e.keys[i], id) < 0 {
			out.ids, out.keys = append(out.ids, adds[j].id), append(out.keys, adds[j].v)
			j++
		}
		out.ids, out.keys = append(out.ids, id), append(out.keys, e.keys[i])
	}
	for ; j < len(adds); j++ {
		out.ids, out.keys = append(out.ids, adds[j].id), append(out.keys, adds[j].v)
	}
	return out, true, nil
}

// readDeletions reads, in t's snapshot, up to limit IDs of the project's
// metrics deleted in generations (from, gen] (the change log's closed
// range: see patchIDs).
func readDeletions(ctx context.Context, t *txn, projectID string, from, gen int64, limit int) ([]string, error) {
	rows, err := t.query(ctx, `SELECT metric_id FROM metric_deletions WHERE project_id = ? AND generation BETWEEN ? AND ? LIMIT ?`,
		projectID, from+1, gen, limit)
	if err != nil {
		return nil, err
	}
	return collectStrings(rows)
}

// projectGenerations reads the project's metrics generation and its
// generation base in t's snapshot (what a background read stamps on what
// it reads).
func projectGenerations(ctx context.Context, t *txn, projectID string) (gen, base int64, err error) {
	err = t.row(ctx, `SELECT metrics_generation, generation_base FROM projects WHERE id = ?`, projectID).Scan(&gen, &base)
	return gen, base, classify(err)
}
