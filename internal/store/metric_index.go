package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// An index of a project's metrics in memory, column by column: what a
// list filter tests and what a list sorts by, for every metric of the
// project at one generation. A filter whose match list is not cached
// costs a count and a page in SQL (firstPage), which grows with its
// matches: thousands of index entries for a common tag or kind, a scan of
// every name for a query. Evaluated here instead, a filter is a few
// bitmap operations or one pass over a column, and its count is a
// popcount, so the first page of any filter the index covers costs about
// what the pages after it do.
//
// The index is built in the background, in a snapshot of its own, the
// first time a project is listed (until then lists take the SQL path),
// and is brought forward in place to the generation of a request's
// snapshot from the same change log the match lists are patched from
// (metric_ids.go): the metrics stamped with a generation after the
// index's, with their tags, and the deletions logged since. Each of those
// rows is the state at the request's snapshot, so applying them to an
// index at any generation at or after the start of their range gives the
// index at the request's generation exactly, on every replica. A request
// whose snapshot is older than the index takes the SQL path; so does one
// that finds more changes than a patch is worth, and a rebuild starts in
// the background.
//
// Covered: every condition on the metric row and its tags (query, tags,
// kinds, isNumeric, unitAggregationType, maintainers, data sources, event
// keys), sorted by one of createdAt and name, on a database that orders
// text by its bytes. Conditions on other resources (connections, views)
// and on version IDs (one metric each, found by SQL's index at once) keep
// the SQL path.

// indexBudget bounds the metrics all project indexes hold together; a
// project with more is never indexed (a million metrics would take some
// 400 MB here). About 400 bytes per metric (TestIndexBytes): 60 MB at the
// bound.
const indexBudget = 150_000

// maxIndexFilters bounds the match bitmaps an index keeps for the
// filters asked at its generation.
const maxIndexFilters = 256

// Coded columns of the index: a value is its dictionary code; 0 is NULL.
const (
	colKind = iota
	colUnit
	colMaintainer
	colTeam
	colDataSource
	numCols
)

type metricIndex struct {
	mu        sync.RWMutex
	gen, base int64
	used      atomic.Int64 // unix nanoseconds of the last request it answered
	// held is the positions the cache counts for it; read and written
	// under the cache's mu only (ids grows under mu of its own).
	held int

	ids      []string // by position; "" for a deleted metric
	pos      map[string]int32
	created  []int64
	names    []string // name_lower
	numeric  bitmap
	live     bitmap
	nLive    int
	cols     [numCols][]uint32
	dict     [numCols]map[string]uint32
	tags     map[string]bitmap
	tagNames map[string]string
	tagsOf   [][]string
	events   map[string][]int32 // event_key → positions
	events0  []string           // event_key by position

	// byCreated and byName are the live positions in the orders of the
	// sorts (createdAt, id) and (name_lower, id), ascending.
	byCreated, byName []int32

	// text is every position's key and name, each followed by a NUL,
	// in position order, with textAt[p] where position p's record
	// starts: a query is one substring search over it. Positions are
	// only ever added, so it is appended to; a dead position's record
	// stays until a rebuild (search keeps to live positions).
	text   []byte
	textAt []int32
	// freq counts each byte value in text: a search looks for the
	// needle's rarest byte, at memchr speed, and compares around it.
	freq [256]int

	// searchPart replaces the constant of that name when set, and
	// wornAt the least number of dead positions worn reports (tests).
	searchPart, wornAt int

	// filters holds the matches of the filters asked at gen.
	fmu     sync.Mutex
	filters map[string]*indexMatch
}

// indexMatch is what the index found for one filter at its generation.
type indexMatch struct {
	q catalog.MetricQuery
	// needles are q's queries, lowered, for matchesAt.
	needles [][][]byte
	m       bitmap
	total   int
	// first holds, per order (created, name) and direction (ascending,
	// descending), one more than the place in that order of the first
	// match, once a page walked to it (0 before): pages start there
	// instead of passing every metric before it again.
	first [4]atomic.Int32
}

type bitmap []uint64

func (b bitmap) has(i int32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(uint(i)&63)) != 0
}

func (b *bitmap) set(i int32) {
	w := int(i >> 6)
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (uint(i) & 63)
}

func (b bitmap) clear(i int32) {
	if w := int(i >> 6); w < len(b) {
		b[w] &^= 1 << (uint(i) & 63)
	}
}

// and keeps in b only what o holds.
func (b bitmap) and(o bitmap) {
	for w := range b {
		if w < len(o) {
			b[w] &= o[w]
		} else {
			b[w] = 0
		}
	}
}

func (b bitmap) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// indexRow is one metric as the index reads it.
type indexRow struct {
	id, name, key, event string
	created              int64
	numeric              bool
	cols                 [numCols]sql.NullString
	tags                 []string
}

const indexColumns = `m.id, m.created_at, m.name_lower, m.key_lower, m.event_key, m.is_numeric,
	m.kind, m.unit_aggregation_type, m.maintainer_id, m.maintainer_team_key, m.data_source_key`

func scanIndexRows(rows *sql.Rows) ([]indexRow, error) {
	var out []indexRow
	err := scanRows(rows, func() error {
		var r indexRow
		c := &r.cols
		if err := rows.Scan(&r.id, &r.created, &r.name, &r.key, &r.event, &r.numeric,
			&c[colKind], &c[colUnit], &c[colMaintainer], &c[colTeam], &c[colDataSource]); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// scanRows calls scan for each of rows and closes them.
func scanRows(rows *sql.Rows, scan func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// attachTags reads (metric_id, tag) rows into the rows of out.
func attachTags(rows *sql.Rows, out []indexRow) error {
	defer rows.Close()
	at := make(map[string]int, len(out))
	for i := range out {
		at[out[i].id] = i
	}
	var id, tag string
	for rows.Next() {
		if err := rows.Scan(&id, &tag); err != nil {
			return err
		}
		if i, ok := at[id]; ok {
			out[i].tags = append(out[i].tags, tag)
		}
	}
	return rows.Err()
}

func newMetricIndex(gen, base int64, rows []indexRow) *metricIndex {
	ix := &metricIndex{gen: gen, base: base, pos: make(map[string]int32, len(rows)), tags: map[string]bitmap{},
		tagNames: map[string]string{}, events: map[string][]int32{}, filters: map[string]*indexMatch{}}
	for c := range ix.dict {
		ix.dict[c] = map[string]uint32{}
	}
	for i := range rows {
		ix.add(&rows[i])
	}
	ix.byCreated = make([]int32, 0, len(rows))
	ix.byName = make([]int32, 0, len(rows))
	for p := range ix.ids {
		ix.byCreated = append(ix.byCreated, int32(p))
		ix.byName = append(ix.byName, int32(p))
	}
	slices.SortFunc(ix.byCreated, ix.createdOrder)
	slices.SortFunc(ix.byName, ix.nameOrder)
	return ix
}

func (ix *metricIndex) createdOrder(a, b int32) int {
	if c := cmp.Compare(ix.created[a], ix.created[b]); c != 0 {
		return c
	}
	return strings.Compare(ix.ids[a], ix.ids[b])
}

func (ix *metricIndex) nameOrder(a, b int32) int {
	if c := strings.Compare(ix.names[a], ix.names[b]); c != 0 {
		return c
	}
	return strings.Compare(ix.ids[a], ix.ids[b])
}

func (ix *metricIndex) code(c int, v sql.NullString) uint32 {
	if !v.Valid {
		return 0
	}
	if k, ok := ix.dict[c][v.String]; ok {
		return k
	}
	k := uint32(len(ix.dict[c]) + 1)
	ix.dict[c][v.String] = k
	return k
}

// add appends r at a new position, outside the sort orders.
func (ix *metricIndex) add(r *indexRow) int32 {
	p := int32(len(ix.ids))
	ix.ids = append(ix.ids, r.id)
	ix.pos[r.id] = p
	ix.created = append(ix.created, r.created)
	ix.names = append(ix.names, r.name)
	ix.events0 = append(ix.events0, r.event)
	ix.events[r.event] = append(ix.events[r.event], p)
	if r.numeric {
		ix.numeric.set(p)
	}
	ix.live.set(p)
	ix.nLive++
	for c := range numCols {
		ix.cols[c] = append(ix.cols[c], ix.code(c, r.cols[c]))
	}
	ix.textAt = append(ix.textAt, int32(len(ix.text)))
	ix.text = append(append(append(append(ix.text, r.key...), 0), r.name...), 0)
	for _, b := range ix.text[ix.textAt[p]:] {
		ix.freq[b]++
	}
	// One copy of each tag's name (every row read brings its own).
	tags := make([]string, len(r.tags))
	for i, t := range r.tags {
		if name, ok := ix.tagNames[t]; ok {
			t = name
		} else {
			ix.tagNames[t] = t
		}
		tags[i] = t
		b := ix.tags[t]
		b.set(p)
		ix.tags[t] = b
	}
	ix.tagsOf = append(ix.tagsOf, tags)
	return p
}

// remove takes position p out of everything a filter or sort reads; out
// of the sort orders only when orders is set (else the caller rebuilds
// them).
func (ix *metricIndex) remove(p int32, orders bool) {
	if orders {
		removeSorted(&ix.byCreated, p, ix.createdOrder)
		removeSorted(&ix.byName, p, ix.nameOrder)
	}
	ix.live.clear(p)
	ix.nLive--
	ix.numeric.clear(p)
	for _, t := range ix.tagsOf[p] {
		ix.tags[t].clear(p)
	}
	ev := ix.events0[p]
	if ps := slices.DeleteFunc(ix.events[ev], func(q int32) bool { return q == p }); len(ps) > 0 {
		ix.events[ev] = ps
	} else {
		delete(ix.events, ev)
	}
	delete(ix.pos, ix.ids[p])
	ix.ids[p], ix.tagsOf[p] = "", nil
}

func removeSorted(s *[]int32, p int32, order func(a, b int32) int) {
	if i, ok := slices.BinarySearchFunc(*s, p, order); ok {
		*s = slices.Delete(*s, i, i+1)
	}
}

func insertSorted(s *[]int32, p int32, order func(a, b int32) int) {
	i, _ := slices.BinarySearchFunc(*s, p, order)
	*s = slices.Insert(*s, i, p)
}

// apply brings the index to generation gen: changed holds every metric
// stamped in (from, gen] as it is at gen, deleted every metric deleted
// then, and from is at most one past the index's generation.
//
// The filters asked at the old generation are brought forward with it:
// the positions removed leave their matches, the ones added are tested
// one by one, so that a write costs each filter a few tests, not an
// evaluation over the whole project.
func (ix *metricIndex) apply(gen int64, changed []indexRow, deleted []string) {
	var removed, added []int32
	// Many changes at once (an import) rebuild the sort orders in one
	// merge; a few move each position (a memmove of the orders apiece).
	bulk := len(deleted)+len(changed) > bulkChanges
	for _, id := range deleted {
		if p, ok := ix.pos[id]; ok {
			ix.remove(p, !bulk)
			removed = append(removed, p)
		}
	}
	for i := range changed {
		r := &changed[i]
		if p, ok := ix.pos[r.id]; ok {
			ix.remove(p, !bulk)
			removed = append(removed, p)
		}
		p := ix.add(r)
		added = append(added, p)
		if !bulk {
			insertSorted(&ix.byCreated, p, ix.createdOrder)
			insertSorted(&ix.byName, p, ix.nameOrder)
		}
	}
	if bulk {
		ix.byCreated = ix.merged(ix.byCreated, added, ix.createdOrder)
		ix.byName = ix.merged(ix.byName, added, ix.nameOrder)
	}
	ix.gen = gen
	ix.fmu.Lock()
	defer ix.fmu.Unlock()
	for _, im := range ix.filters {
		for _, p := range removed {
			im.m.clear(p)
		}
		for _, p := range added {
			if ix.matchesAt(im, p) {
				im.m.set(p)
			}
		}
		im.total = im.m.count()
		for i := range im.first {
			im.first[i].Store(0)
		}
	}
}

// bulkChanges is the number of changes above which apply merges the sort
// orders instead of moving positions one by one.
const bulkChanges = 32

// merged is order without its dead positions, merged with added (live
// positions not in it) in the order of compare.
func (ix *metricIndex) merged(order, added []int32, compare func(a, b int32) int) []int32 {
	add := slices.Clone(added)
	slices.SortFunc(add, compare)
	out := make([]int32, 0, len(order)+len(add))
	j := 0
	for _, p := range order {
		if !ix.live.has(p) {
			continue
		}
		for j < len(add) && compare(add[j], p) < 0 {
			out = append(out, add[j])
			j++
		}
		out = append(out, p)
	}
	return append(out, add[j:]...)
}

// record is position p's key and name in the text, each followed by a
// NUL (a needle holds none, so it cannot match across them).
func (ix *metricIndex) record(p int32) []byte {
	end := len(ix.text)
	if int(p)+1 < len(ix.textAt) {
		end = int(ix.textAt[p+1])
	}
	return ix.text[ix.textAt[p]:end]
}

// matchesAt reports whether the metric at position p matches q: evaluate
// for one position.
func (ix *metricIndex) matchesAt(im *indexMatch, p int32) bool {
	q := im.q
	if !ix.live.has(p) {
		return false
	}
	for _, t := range q.TagsAll {
		if !slices.Contains(ix.tagsOf[p], t) {
			return false
		}
	}
	if len(q.EventKeys) > 0 && !slices.Contains(q.EventKeys, ix.events0[p]) {
		return false
	}
	if q.IsNumeric != nil && ix.numeric.has(p) != *q.IsNumeric {
		return false
	}
	in := func(c int, vs ...string) bool {
		for _, v := range vs {
			if k, ok := ix.dict[c][v]; ok && ix.cols[c][p] == k {
				return true
			}
		}
		return false
	}
	for _, k := range q.Kinds {
		if !in(colKind, k) {
			return false
		}
	}
	if (q.UnitAggregationType != "" && !in(colUnit, q.UnitAggregationType)) ||
		(len(q.MaintainerIDs) > 0 && !in(colMaintainer, q.MaintainerIDs...)) ||
		(q.MaintainerTeamKey != "" && !in(colTeam, q.MaintainerTeamKey)) ||
		(len(q.DataSourceKeys) > 0 && !in(colDataSource, q.DataSourceKeys...)) {
		return false
	}
	rec := ix.record(p)
	for _, alts := range im.needles {
		if !slices.ContainsFunc(alts, func(a []byte) bool { return bytes.Contains(rec, a) }) {
			return false
		}
	}
	return true
}

// lowered is queries with every alternative lowered, as bytes.
func lowered(queries [][]string) [][][]byte {
	out := make([][][]byte, len(queries))
	for i, alts := range queries {
		for _, a := range alts {
			out[i] = append(out[i], []byte(strings.ToLower(a)))
		}
	}
	return out
}

// worn reports whether so many positions are dead that a rebuild pays.
func (ix *metricIndex) worn() bool {
	least := 1024
	if ix.wornAt > 0 {
		least = ix.wornAt
	}
	return len(ix.ids)-ix.nLive > max(least, ix.nLive/4)
}

// indexable reports whether the index answers the lists of q.
func (db *DB) indexable(q catalog.MetricQuery) bool {
	if db.index == nil || !db.byteOrder || q.HasConnections != nil || q.UsedIn != "" || q.View != "" || len(q.Sort) > 1 || len(q.VersionIDs) > 0 {
		return false
	}
	if len(q.Sort) == 1 && q.Sort[0].Field != "createdAt" && q.Sort[0].Field != "name" {
		return false
	}
	for _, alts := range q.Queries {
		for _, a := range alts {
			if strings.ContainsRune(a, 0) {
				return false
			}
		}
	}
	return true
}

// filterKey names the filter of q (not its sort or page).
func filterKey(q catalog.MetricQuery) string {
	var b strings.Builder
	list := func(tag byte, vs []string) {
		b.WriteByte(tag)
		for _, v := range vs {
			b.WriteString(v)
			b.WriteByte(0)
		}
		b.WriteByte(1)
	}
	for _, alts := range q.Queries {
		list('q', alts)
	}
	list('t', q.TagsAll)
	list('k', q.Kinds)
	if q.IsNumeric != nil {
		b.WriteString(map[bool]string{true: "n1", false: "n0"}[*q.IsNumeric])
	}
	list('u', []string{q.UnitAggregationType})
	list('m', q.MaintainerIDs)
	list('e', []string{q.MaintainerTeamKey})
	list('d', q.DataSourceKeys)
	list('v', q.EventKeys)
	list('i', q.VersionIDs)
	return b.String()
}

// match is what q matches; ix.mu is held.
func (ix *metricIndex) match(q catalog.MetricQuery) *indexMatch {
	key := filterKey(q)
	ix.fmu.Lock()
	im, ok := ix.filters[key]
	ix.fmu.Unlock()
	if ok {
		return im
	}
	m := ix.evaluate(q)
	im = &indexMatch{q: q, needles: lowered(q.Queries), m: m, total: m.count()}
	ix.fmu.Lock()
	if len(ix.filters) >= maxIndexFilters {
		clear(ix.filters)
	}
	ix.filters[key] = im
	ix.fmu.Unlock()
	return im
}

func (ix *metricIndex) evaluate(q catalog.MetricQuery) bitmap {
	n := len(ix.ids)
	m := make(bitmap, (n+63)/64)
	// Start from the narrowest set at hand.
	switch {
	case len(q.TagsAll) > 0:
		copy(m, ix.tags[q.TagsAll[0]])
		for _, t := range q.TagsAll[1:] {
			m.and(ix.tags[t])
		}
	case len(q.EventKeys) > 0:
		for _, k := range q.EventKeys {
			for _, p := range ix.events[k] {
				m.set(p)
			}
		}
	default:
		copy(m, ix.live)
	}
	m.and(ix.live)
	if q.IsNumeric != nil {
		for w := range m {
			num := uint64(0)
			if w < len(ix.numeric) {
				num = ix.numeric[w]
			}
			if *q.IsNumeric {
				m[w] &= num
			} else {
				m[w] &^= num
			}
		}
	}
	// Equalities on coded columns: a value no metric has matches none.
	type eq struct {
		col   int
		codes []uint32
	}
	var eqs []eq
	want := func(c int, vs ...string) {
		codes := make([]uint32, 0, len(vs))
		for _, v := range vs {
			if k, ok := ix.dict[c][v]; ok {
				codes = append(codes, k)
			}
		}
		eqs = append(eqs, eq{c, codes})
	}
	for _, k := range q.Kinds {
		want(colKind, k)
	}
	if q.UnitAggregationType != "" {
		want(colUnit, q.UnitAggregationType)
	}
	if len(q.MaintainerIDs) > 0 {
		want(colMaintainer, q.MaintainerIDs...)
	}
	if q.MaintainerTeamKey != "" {
		want(colTeam, q.MaintainerTeamKey)
	}
	if len(q.DataSourceKeys) > 0 {
		want(colDataSource, q.DataSourceKeys...)
	}
	for _, e := range eqs {
		col := ix.cols[e.col]
		if len(e.codes) == 0 {
			clear(m)
			break
		}
		m.keep(func(p int32) bool { return slices.Contains(e.codes, col[p]) })
	}
	if len(q.EventKeys) > 0 && len(q.TagsAll) > 0 {
		m.keep(func(p int32) bool { return slices.Contains(q.EventKeys, ix.events0[p]) })
	}
	for _, alts := range q.Queries {
		m.and(ix.search(alts))
	}
	return m
}

// keep clears the set bits of m at which ok is false.
func (b bitmap) keep(ok func(int32) bool) {
	for w, word := range b {
		for word != 0 {
			i := bits.TrailingZeros64(word)
			word &= word - 1
			if p := int32(w<<6 | i); !ok(p) {
				b[w] &^= 1 << uint(i)
			}
		}
	}
}

// search is the bitmap of the positions whose key or name contains one
// of alts, lowercased (what LIKE '%alt%' over key_lower and name_lower
// matches: both were lowered as alts are), dead positions included. A
// large text is searched in parts at once, one per core.
func (ix *metricIndex) search(alts []string) bitmap {
	m := make(bitmap, (len(ix.ids)+63)/64)
	needles := make([][]byte, 0, len(alts))
	for _, a := range alts {
		if a == "" {
			copy(m, ix.live)
			return m
		}
		needles = append(needles, []byte(strings.ToLower(a)))
	}
	part := searchPart
	if ix.searchPart > 0 {
		part = ix.searchPart
	}
	parts := min(runtime.GOMAXPROCS(0), 4, 1+len(ix.text)/part)
	if parts <= 1 {
		ix.searchRecords(m, needles, 0, len(ix.textAt))
		return m
	}
	// Parts of whole records; each its own bitmap, since two parts may
	// set bits of one word.
	out := make([]bitmap, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := len(ix.textAt)*i/parts, len(ix.textAt)*(i+1)/parts
		out[i] = make(bitmap, len(m))
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix.searchRecords(out[i], needles, lo, hi)
		}()
	}
	wg.Wait()
	for _, o := range out {
		for w := range m {
			m[w] |= o[w]
		}
	}
	return m
}

// searchPart is the text one search goroutine takes on at least.
const searchPart = 512 << 10

// searchRecords sets in m the records lo..hi-1 of the text that contain
// one of needles.
func (ix *metricIndex) searchRecords(m bitmap, needles [][]byte, lo, hi int) {
	at := ix.textAt
	if lo >= hi {
		return
	}
	end := len(ix.text)
	if hi < len(at) {
		end = int(at[hi])
	}
	text := ix.text[:end]
	for _, needle := range needles {
		j := 0 // the needle's rarest byte in text
		for i, c := range needle {
			if ix.freq[c] < ix.freq[needle[j]] {
				j = i
			}
		}
		r := lo // the record of the last hit, or before
		for off := int(at[lo]); off+j < len(text); {
			k := bytes.IndexByte(text[off+j:], needle[j])
			if k < 0 {
				break
			}
			hit := off + k // where the needle would start
			if hit+len(needle) > len(text) || !bytes.Equal(text[hit:hit+len(needle)], needle) {
				off = hit + 1
				continue
			}
			// The record holding the hit: galloping from the last one,
			// since hits come in record order and are often close.
			step := 1
			for r+step < hi && int(at[r+step]) <= hit {
				r += step
				step *= 2
			}
			for ; step > 0; step /= 2 {
				if r+step < hi && int(at[r+step]) <= hit {
					r += step
				}
			}
			m.set(int32(r))
			if r+1 >= hi {
				break
			}
			off = int(at[r+1])
		}
	}
}

// page returns the IDs of the page of q among the matches of im, and
// how many matches there are.
func (ix *metricIndex) page(im *indexMatch, q catalog.MetricQuery) ([]string, int) {
	m, total := im.m, im.total
	if q.Offset >= total {
		return nil, total
	}
	order, desc, slot := ix.byCreated, false, 0
	compare := ix.createdOrder
	if len(q.Sort) == 1 {
		desc = q.Sort[0].Desc
		if q.Sort[0].Field == "name" {
			order, compare, slot = ix.byName, ix.nameOrder, 2
		}
	}
	if desc {
		slot++
	}
	ids := make([]string, 0, min(q.Limit, total-q.Offset))
	if total*bits.Len(uint(total)) <= len(order)/4 {
		// Few matches: sorting them costs less than a walk past every
		// metric that does not match (a single match far from the top
		// of the order would pass all of them).
		ps := make([]int32, 0, total)
		for w, word := range m {
			for word != 0 {
				ps = append(ps, int32(w<<6|bits.TrailingZeros64(word)))
				word &= word - 1
			}
		}
		if desc {
			slices.SortFunc(ps, func(a, b int32) int { return compare(b, a) })
		} else {
			slices.SortFunc(ps, compare)
		}
		for _, p := range ps[q.Offset:min(len(ps), q.Offset+q.Limit)] {
			ids = append(ids, ix.ids[p])
		}
		return ids, total
	}
	skip := q.Offset
	found := -1
	take := func(i int) bool {
		p := order[i]
		if !m.has(p) {
			return true
		}
		if found < 0 {
			found = i
		}
		if skip > 0 {
			skip--
			return true
		}
		ids = append(ids, ix.ids[p])
		return len(ids) < q.Limit
	}
	start := int(im.first[slot].Load()) - 1
	if desc {
		if start < 0 {
			start = len(order) - 1
		}
		for i := start; i >= 0 && take(i); i-- {
		}
	} else {
		for i := max(start, 0); i < len(order) && take(i); i++ {
		}
	}
	if found >= 0 {
		im.first[slot].Store(int32(found + 1))
	}
	return ids, total
}

// indexCache holds the project indexes of one DB.
type indexCache struct {
	mu       sync.Mutex
	projects map[string]*metricIndex
	held     int // positions of all indexes
	// tooLarge remembers the projects found to have more metrics than
	// the budget, with the generation they had then.
	tooLarge map[string]int64
	// budget replaces indexBudget when set, and wornAt is the indexes'
	// (see worn), for tests.
	budget, wornAt int
	// answered counts the pages the indexes answered, and builds the
	// indexes built, for tests.
	answered, builds atomic.Int64
}

func newIndexCache() *indexCache {
	return &indexCache{projects: map[string]*metricIndex{}, tooLarge: map[string]int64{}}
}

// large reports whether the project was found to have more metrics than
// the budget at a generation not far behind gen.
func (c *indexCache) large(projectID string, gen int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen, ok := c.tooLarge[projectID]
	return ok && gen-seen < tooManyKept
}

func (c *indexCache) get(projectID string) *metricIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.projects[projectID]
}

func (c *indexCache) put(projectID string, ix *metricIndex) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.projects[projectID]; old != nil {
		c.held -= old.held
		delete(c.projects, projectID)
	}
	ix.held = len(ix.ids) // not yet shared: no apply runs on it
	c.evict(ix.held, "")
	ix.used.Store(time.Now().UnixNano())
	c.projects[projectID] = ix
	c.held += ix.held
}

func (c *indexCache) limit() int {
	if c.budget > 0 {
		return c.budget
	}
	return indexBudget
}

// evict drops the least recently used indexes but keep until n more
// positions fit the budget; c.mu is held.
func (c *indexCache) evict(n int, keep string) {
	for c.held+n > c.limit() {
		var lru string
		var at int64
		for k, o := range c.projects {
			if u := o.used.Load(); k != keep && (lru == "" || u < at) {
				lru, at = k, u
			}
		}
		if lru == "" {
			return
		}
		c.held -= c.projects[lru].held
		delete(c.projects, lru)
	}
}

// grew records that ix, the project's index, now holds n positions (a
// patch only adds them), evicting others to stay within the budget;
// false when ix alone no longer fits, and it was dropped.
func (c *indexCache) grew(projectID string, ix *metricIndex, n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.projects[projectID] != ix {
		return true
	}
	c.held += n - ix.held
	ix.held = n
	if n > c.limit() {
		c.held -= ix.held
		delete(c.projects, projectID)
		return false
	}
	c.evict(0, projectID)
	return true
}

func (c *indexCache) drop(projectID string, ix *metricIndex) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.projects[projectID] == ix {
		c.held -= ix.held
		delete(c.projects, projectID)
	}
}

// pageFromIndex answers a list page of q from the project's index at the
// generation of t's snapshot, bringing the index forward first when it is
// behind. ok is false when there is no index to answer from (none yet, or
// one this snapshot cannot use); one is then built in the background,
// once t is over.
func (db *DB) pageFromIndex(ctx context.Context, t *txn, projectID string, gen, base, low int64, q catalog.MetricQuery) ([]catalog.Metric, int, bool, error) {
	ix := db.index.get(projectID)
	if ix == nil || ix.base != base {
		t.later = append(t.later, func() { db.buildIndexLater(projectID, gen) })
		return nil, 0, false, nil
	}
	ix.mu.RLock()
	at := ix.gen
	ix.mu.RUnlock()
	if at < gen {
		if at < low {
			// The change log no longer holds every deletion since.
			t.later = append(t.later, func() { db.buildIndexLater(projectID, gen) })
			return nil, 0, false, nil
		}
		changed, deleted, ok, err := readIndexChanges(ctx, t, projectID, at, gen)
		if err != nil {
			return nil, 0, false, err
		}
		if !ok {
			t.later = append(t.later, func() { db.buildIndexLater(projectID, gen) })
			return nil, 0, false, nil
		}
		ix.mu.Lock()
		if ix.gen >= at && ix.gen < gen {
			ix.apply(gen, changed, deleted)
		}
		worn, n := ix.worn(), len(ix.ids)
		ix.mu.Unlock()
		// Over the budget by its own growth: dropped, and the rebuild
		// finds it too large (or, worn, compacts it).
		if fits := db.index.grew(projectID, ix, n); !fits || worn {
			t.later = append(t.later, func() { db.buildIndexLater(projectID, gen) })
		}
	}
	ix.mu.RLock()
	if ix.gen != gen {
		ix.mu.RUnlock()
		return nil, 0, false, nil
	}
	ids, total := ix.page(ix.match(q), q)
	ix.mu.RUnlock()
	ix.used.Store(time.Now().UnixNano())
	db.index.answered.Add(1)
	if len(ids) == 0 {
		return nil, total, true, nil
	}
	out, err := readPageMetrics(ctx, t, ids)
	return out, total, err == nil, err
}

// readIndexChanges reads, in t's snapshot, the metrics of the project
// stamped in (from, gen] with their tags, and the deletions then; ok is
// false when there are more than a patch is worth.
func readIndexChanges(ctx context.Context, t *txn, projectID string, from, gen int64) ([]indexRow, []string, bool, error) {
	// Each changed metric with its tags as a JSON array: one statement
	// (a round trip on PostgreSQL) fewer per patch than reading them
	// apart.
	tags := `(SELECT json_group_array(mt.tag) FROM metric_tags mt WHERE mt.metric_id = m.id)`
	if t.d.numbered {
		tags = `(SELECT COALESCE(json_agg(mt.tag), '[]') FROM metric_tags mt WHERE mt.metric_id = m.id)`
	}
	rows, err := t.query(ctx, `SELECT `+indexColumns+`, `+tags+` FROM metrics m
		WHERE m.project_id = ? AND m.changed_gen BETWEEN ? AND ? LIMIT ?`, projectID, from+1, gen, maxPatchRows+1)
	if err != nil {
		return nil, nil, false, err
	}
	var changed []indexRow
	var tagJSON string
	err = scanRows(rows, func() error {
		var r indexRow
		c := &r.cols
		if err := rows.Scan(&r.id, &r.created, &r.name, &r.key, &r.event, &r.numeric,
			&c[colKind], &c[colUnit], &c[colMaintainer], &c[colTeam], &c[colDataSource], &tagJSON); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(tagJSON), &r.tags); err != nil {
			return fmt.Errorf("tags of metric %s: %w", r.id, err)
		}
		changed = append(changed, r)
		return nil
	})
	if err != nil || len(changed) > maxPatchRows {
		return nil, nil, false, err
	}
	deleted, err := readDeletions(ctx, t, projectID, from, gen, maxPatchRows+1)
	if err != nil || len(changed)+len(deleted) > maxPatchRows {
		return nil, nil, false, err
	}
	return changed, deleted, true, nil
}

// buildIndexLater builds the project's index in the background, in a
// snapshot of its own, unless it is being built, another background read
// runs, or the project was found too large at a generation not far
// behind gen.
func (db *DB) buildIndexLater(projectID string, gen int64) {
	c := db.index
	if c.large(projectID, gen) {
		return
	}
	db.ids.background("index "+projectID, func(ctx context.Context) error {
		return db.txCounted(ctx, false, &db.ids.statements, func(t *txn) error {
			return db.buildIndex(ctx, t, projectID)
		})
	})
}

func (db *DB) buildIndex(ctx context.Context, t *txn, projectID string) error {
	c := db.index
	budget := c.limit()
	gen, base, err := projectGenerations(ctx, t, projectID)
	if err != nil {
		return err
	}
	// Counted first, on the index alone: reading the rows of a project
	// over the budget only to drop them would take the memory the budget
	// keeps (a million metrics: 200,000 rows, some 40 MB at once).
	var n int
	if err := t.row(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM metrics WHERE project_id = ? LIMIT ?) s`, projectID, budget+1).Scan(&n); err != nil {
		return err
	}
	var all []indexRow
	if n <= budget {
		rows, err := t.query(ctx, `SELECT `+indexColumns+` FROM metrics m WHERE m.project_id = ?`, projectID)
		if err != nil {
			return err
		}
		if all, err = scanIndexRows(rows); err != nil {
			return err
		}
	}
	if n > budget || len(all) > budget {
		c.mu.Lock()
		c.tooLarge[projectID] = gen
		c.mu.Unlock()
		if old := c.get(projectID); old != nil {
			c.drop(projectID, old)
		}
		return nil
	}
	trows, err := t.query(ctx, `SELECT metric_id, tag FROM metric_tags WHERE project_id = ?`, projectID)
	if err != nil {
		return err
	}
	if err := attachTags(trows, all); err != nil {
		return err
	}
	ix := newMetricIndex(gen, base, all)
	ix.wornAt = c.wornAt
	if old := c.get(projectID); old != nil {
		// An index brought forward past this one stays, unless it is
		// worn (this rebuild is for it: under steady writes the old one
		// is always ahead, and requests bring this one forward from the
		// change log as they would the old).
		old.mu.RLock()
		newer := old.base == base && old.gen > gen && !old.worn()
		old.mu.RUnlock()
		if newer {
			return nil
		}
	}
	c.mu.Lock()
	delete(c.tooLarge, projectID)
	c.mu.Unlock()
	c.put(projectID, ix)
	c.builds.Add(1)
	return nil
}

// background runs fn in a goroutine of its own under key, with the
// cache's context and a deadline, unless key is running or another
// background read is: one at a time, so that a burst of new filters does
// not take every reader connection and core from the requests.
func (c *idCache) background(key string, fn func(ctx context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.building[key] || c.ctx.Err() != nil {
		return
	}
	select {
	case c.slot <- struct{}{}:
	default:
		return
	}
	c.building[key] = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			<-c.slot
			c.mu.Lock()
			delete(c.building, key)
			if len(c.building) == 0 {
				c.idle.Broadcast()
			}
			c.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(c.ctx, listReadTimeout)
		defer cancel()
		if err := fn(ctx); err != nil && c.ctx.Err() == nil && !errors.Is(err, core.ErrNotFound) {
			slog.Warn("reading a metric list in the background", "what", strings.Fields(key)[0], "err", err)
		}
	}()
}
