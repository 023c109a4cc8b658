package events

import (
	"cmp"
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
	// order sorts items by a hash of kind and key, then hour and arrival:
	// sorting it moves no pointers (which costs write barriers while the
	// collector runs) and compares no strings.
	order []sortKey
	regs  []uint32
	kinds []string
	buf   []byte
	offs  [][2]int
	srcs  []Source
	known []bool
}

// item is one event counted under one key.
type item struct {
	kind, key string
	hour      int64
	e         *Event
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

type sortKey struct {
	h, hour int64
	i       int32
}

func sameRow(x, y *item) bool { return x.hour == y.hour && x.key == y.key && x.kind == y.kind }

// batch returns the batch of what was added and empties a. When f is not
// nil, the batch leaves out the sources f has committed already.
func (a *aggregator) batch(env *Env, payloadID string, f *Flusher) *Batch {
	items := a.items
	order := a.order[:0]
	for i := range items {
		it := &items[i]
		order = append(order, sortKey{h: int64(hash64(it.kind, it.key)), hour: it.hour, i: int32(i)})
	}
	// Events of a row in the order they came: the first context kinds of
	// the row are the ones kept. Keys whose hashes collide interleave
	// into more entries than rows, which add up all the same.
	slices.SortFunc(order, func(x, y sortKey) int {
		return cmp.Or(cmp.Compare(x.h, y.h), cmp.Compare(x.hour, y.hour), cmp.Compare(x.i, y.i))
	})
	entries := 0
	for i := range order {
		if i == 0 || !sameRow(&items[order[i-1].i], &items[order[i].i]) {
			entries++
		}
	}
	b := &Batch{Env: env, PayloadID: payloadID, Entries: entries, Events: len(items)}
	buf := binary.AppendUvarint(a.buf[:0], uint64(entries))
	offs, srcs := a.offs[:0], a.srcs[:0]
	var prevHour int64
	for i := 0; i < len(order); {
		first := &items[order[i].i]
		j := i + 1
		for j < len(order) && sameRow(first, &items[order[j].i]) {
			j++
		}
		var r Rollup
		regs, kinds := a.regs[:0], a.kinds[:0]
		for _, x := range order[i:j] {
			e := items[x.i].e
			r.Count++
			if e.HasValue {
				r.addValue(1, e.Value, e.Value, e.Value)
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
		var off int
		buf, off = appendKindKey(buf, first.kind, first.key)
		buf = appendAggregate(buf, first.hour-prevHour, &r)
		prevHour = first.hour
		buf = appendRegisters(buf, regs, kinds)
		clear(kinds)
		a.regs, a.kinds = regs[:0], kinds[:0]
		// A source per kind and key: the runs of its hours are adjacent.
		if n := len(srcs); n > 0 && srcs[n-1].Kind == first.kind && srcs[n-1].Key == first.key {
			s := &srcs[n-1]
			s.Last = first.hour
			if r.ValueCount > 0 {
				s.LastValue = first.hour
			}
		} else {
			s := Source{Kind: first.kind, Key: first.key, First: first.hour, Last: first.hour, h: uint64(order[i].h)}
			if r.ValueCount > 0 {
				s.LastValue = first.hour
			}
			srcs = append(srcs, s)
			offs = append(offs, [2]int{off, off + len(first.key)})
		}
		i = j
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
	a.items, a.order, a.buf, a.offs, a.srcs, a.known = items[:0], order[:0], buf[:0], offs[:0], srcs[:0], known[:0]
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
func appendRegisters(b []byte, regs []uint32, kinds []string) []byte {
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
		b = append(b, byte(len(kinds[k])))
		b = append(b, kinds[k]...)
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
