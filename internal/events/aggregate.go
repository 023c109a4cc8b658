package events

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// Batch is one accepted post, aggregated: what the flusher commits. It
// shares no memory with the body it was read from.
type Batch struct {
	Env *Env
	// PayloadID is X-LaunchDarkly-Payload-ID; empty when the SDK sent
	// none, in which case the batch is always counted.
	PayloadID string
	// Log is the batch's segment of an event log record (see log.go): its
	// events added up per kind, key and hour.
	Log string
	// Entries is the number of entries in Log.
	Entries int
	// Sources are the kinds and keys of Log with their hours.
	Sources []Source
	// Events is how many events the batch counts, for back-pressure.
	Events int
	// Version is the log version Log is encoded in.
	Version byte
}

// Source is what one batch tells event_sources of one kind and key.
type Source struct {
	Kind, Key string
	// First and Last are the earliest and latest hours with events;
	// LastValue the latest with a metricValue, 0 for none.
	First, Last, LastValue int64
	// h is hash64(Kind, Key).
	h uint64
}

// size is the batch's weight against the flusher's memory bound.
func (b *Batch) size() int64 { return int64(b.Events + b.Entries) }

// aggregator adds up the events of one post. Its slices are scratch space
// that a Service reuses from post to post.
type aggregator struct {
	hours hourWindow
	items []item
	// Items are grouped by kind and key (groups, found through table, an
	// open-addressing hash table of group index + 1), and within a group
	// by hour (rows, a list per group); a row lists its items in the
	// order they came (next). Grouping this way costs a probe per event,
	// where sorting the events cost a comparison sort of them all.
	groups []aggGroup
	rows   []aggRow
	next   []int32
	table  []int32
	regs   []uint32
	kinds  []string
	buf    []byte
	offs   [][2]int
	srcs   []Source
	known  []bool
}

// item is one event counted under one key.
type item struct {
	kind, key string
	hour      int64
	e         *Event
}

// aggGroup is the events of one kind and key; its rows are a list.
type aggGroup struct {
	h               uint64
	kind, key       string
	firstRow, lastR int32
}

// aggRow is the events of one group and hour; its items are a list.
type aggRow struct {
	hour       int64
	head, tail int32
	nextRow    int32
}

// start readies a for the events of a post received at now.
func (a *aggregator) start(now time.Time) { a.hours = newHourWindow(now) }

// add counts e under key in the hour it belongs to.
func (a *aggregator) add(e *Event, key string) {
	if key == "" || len(key) > maxEventKeyLen {
		return
	}
	a.items = append(a.items, item{kind: e.Kind, key: key, hour: a.hours.hour(e.CreationDate), e: e})
}

// group fills a.groups, a.rows and a.next from a.items.
func (a *aggregator) group() {
	items := a.items
	size := 16
	for size < 2*len(items) {
		size *= 2
	}
	table := slices.Grow(a.table[:0], size)[:size]
	clear(table)
	mask := uint64(size - 1)
	groups, rows := a.groups[:0], a.rows[:0]
	next := slices.Grow(a.next[:0], len(items))[:len(items)]
	for i := range items {
		it := &items[i]
		h := hash64(it.kind, it.key)
		slot := h & mask
		var g *aggGroup
		for {
			gi := table[slot]
			if gi == 0 {
				groups = append(groups, aggGroup{h: h, kind: it.kind, key: it.key, firstRow: -1, lastR: -1})
				table[slot] = int32(len(groups))
				g = &groups[len(groups)-1]
				break
			}
			if c := &groups[gi-1]; c.h == h && c.key == it.key && c.kind == it.kind {
				g = c
				break
			}
			slot = (slot + 1) & mask
		}
		r := g.firstRow
		for r >= 0 && rows[r].hour != it.hour {
			r = rows[r].nextRow
		}
		if r < 0 {
			rows = append(rows, aggRow{hour: it.hour, head: -1, tail: -1, nextRow: -1})
			r = int32(len(rows) - 1)
			if g.lastR >= 0 {
				rows[g.lastR].nextRow = r
			} else {
				g.firstRow = r
			}
			g.lastR = r
		}
		row := &rows[r]
		next[i] = -1
		if row.tail >= 0 {
			next[row.tail] = int32(i)
		} else {
			row.head = int32(i)
		}
		row.tail = int32(i)
	}
	a.groups, a.rows, a.next, a.table = groups, rows, next, table
}

// batch returns the batch of what was added and empties a. When f is not
// nil, the batch leaves out the sources f has committed already, and its
// segment is in the log version f writes; otherwise in logVersion.
func (a *aggregator) batch(env *Env, payloadID string, f *Flusher) *Batch {
	items := a.items
	version := byte(logVersion)
	if f != nil {
		version = f.version
	}
	a.group()
	b := &Batch{Env: env, PayloadID: payloadID, Entries: len(a.rows), Events: len(items), Version: version}
	buf := binary.AppendUvarint(a.buf[:0], uint64(len(a.rows)))
	offs, srcs := a.offs[:0], a.srcs[:0]
	var prevHour int64
	for gi := range a.groups {
		g := &a.groups[gi]
		var off int
		s := Source{Kind: g.kind, Key: g.key, h: g.h}
		for r := g.firstRow; r >= 0; r = a.rows[r].nextRow {
			row := &a.rows[r]
			// Events of a row in the order they came: the first context
			// kinds of the row are the ones kept.
			var agg Rollup
			regs, kinds := a.regs[:0], a.kinds[:0]
			for i := row.head; i >= 0; i = a.next[i] {
				e := items[i].e
				agg.Count++
				if e.HasValue {
					agg.addValue(1, e.Value, e.Value, e.Value)
				}
				for _, c := range e.Contexts {
					if c.Kind == "" || len(c.Kind) > maxContextKindLen || c.Key == "" {
						continue
					}
					// The first maxContextKinds kinds of the row count.
					k := slices.Index(kinds, c.Kind)
					if k < 0 {
						if len(kinds) == maxContextKinds {
							continue
						}
						k = len(kinds)
						kinds = append(kinds, c.Kind)
					}
					regs = append(regs, uint32(k)<<16|uint32(register(hash64(c.Kind, c.Key))))
				}
			}
			var o int
			buf, o = appendKindKey(buf, g.kind, g.key)
			buf = appendAggregate(buf, version, row.hour-prevHour, &agg)
			prevHour = row.hour
			buf = appendRegisters(buf, version, regs, kinds)
			clear(kinds)
			a.regs, a.kinds = regs[:0], kinds[:0]
			if r == g.firstRow {
				off = o
				s.First, s.Last = row.hour, row.hour
			}
			s.First, s.Last = min(s.First, row.hour), max(s.Last, row.hour)
			if agg.ValueCount > 0 {
				s.LastValue = max(s.LastValue, row.hour)
			}
		}
		srcs = append(srcs, s)
		offs = append(offs, [2]int{off, off + len(g.key)})
	}
	known := slices.Grow(a.known[:0], len(srcs))[:len(srcs)]
	clear(known)
	if f != nil {
		f.knownSources(env.ID, srcs, known)
	}
	// The sources' keys are the copies in Log.
	b.Log = string(buf)
	if n := len(known) - countTrue(known); n > 0 {
		b.Sources = make([]Source, 0, n)
	}
	for i, o := range offs {
		if !known[i] {
			s := srcs[i]
			s.Key = b.Log[o[0]:o[1]]
			b.Sources = append(b.Sources, s)
		}
	}
	clear(items)
	clear(srcs)
	clear(a.groups)
	a.items, a.buf, a.offs, a.srcs, a.known, a.groups, a.rows = items[:0], buf[:0], offs[:0], srcs[:0], known[:0], a.groups[:0], a.rows[:0]
	return b
}

// register returns the sketch register of a hash, as Sketch.Add sets it.
func register(h uint64) uint16 {
	idx := uint16(h >> (64 - hllPrecision))
	rank := uint16(bits.LeadingZeros64(h<<hllPrecision|1<<(hllPrecision-1)) + 1)
	return idx<<6 | rank
}

// appendRegisters appends the contexts of an entry: regs (kind<<16 |
// register, kind an index in kinds, at most maxContextKinds), one sketch
// per context kind in the order of their names, each register once with
// its highest rank. It reorders regs and kinds.
func appendRegisters(b []byte, version byte, regs []uint32, kinds []string) []byte {
	if len(kinds) > 1 {
		// Renumber the kinds in the order of their names.
		var byName, rank [maxContextKinds]int
		var sorted [maxContextKinds]string
		for i := range kinds {
			byName[i] = i
		}
		slices.SortFunc(byName[:len(kinds)], func(x, y int) int { return strings.Compare(kinds[x], kinds[y]) })
		for r, i := range byName[:len(kinds)] {
			rank[i] = r
			sorted[r] = kinds[i]
		}
		copy(kinds, sorted[:len(kinds)])
		for i, g := range regs {
			regs[i] = uint32(rank[g>>16])<<16 | g&0xffff
		}
	}
	slices.Sort(regs)
	n := len(kinds)
	b = append(b, byte(n))
	i := 0
	for k := range n {
		j := i
		for j < len(regs) && int(regs[j]>>16) == k {
			j++
		}
		// Sorted by idx then rank: the last of each idx has its rank.
		distinct := 0
		for x := i; x < j; x++ {
			if x+1 == j || regs[x+1]>>6 != regs[x]>>6 {
				distinct++
			}
		}
		b = appendContextKind(b, version, kinds[k])
		if distinct <= sparseMax {
			b = append(b, 0)
			b = binary.BigEndian.AppendUint16(b, uint16(distinct))
			for x := i; x < j; x++ {
				if x+1 == j || regs[x+1]>>6 != regs[x]>>6 {
					b = binary.BigEndian.AppendUint16(b, uint16(regs[x]))
				}
			}
		} else {
			b = append(b, 1)
			start := len(b)
			b = append(b, make([]byte, hllRegisters)...)
			for x := i; x < j; x++ {
				idx, rank := int(regs[x]>>6&(hllRegisters-1)), uint8(regs[x]&63)
				b[start+idx] = max(b[start+idx], rank)
			}
		}
		i = j
	}
	return b
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
