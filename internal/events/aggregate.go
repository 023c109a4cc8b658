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
}

// size is the batch's weight against the flusher's memory bound.
func (b *Batch) size() int64 { return int64(b.Events + b.Entries) }

// aggregator adds up the events of one post. Its slices are scratch space
// that a Service reuses from post to post.
type aggregator struct {
	hours hourWindow
	items []item
	regs  []reg
	buf   []byte
	offs  [][2]int
}

// item is one event counted under one key.
type item struct {
	kind, key string
	hour      int64
	e         *Event
}

// reg is one context's sketch register: idx<<6 | rank, as Sketch.sparse
// holds them.
type reg struct {
	kind string
	e    uint16
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

func sameRow(x, y *item) bool { return x.hour == y.hour && x.key == y.key && x.kind == y.kind }

// batch returns the batch of what was added and empties a.
func (a *aggregator) batch(env *Env, payloadID string) *Batch {
	items := a.items
	slices.SortFunc(items, func(x, y item) int {
		return cmp.Or(strings.Compare(x.kind, y.kind), strings.Compare(x.key, y.key), cmp.Compare(x.hour, y.hour))
	})
	entries := 0
	for i := range items {
		if i == 0 || !sameRow(&items[i-1], &items[i]) {
			entries++
		}
	}
	b := &Batch{Env: env, PayloadID: payloadID, Entries: entries, Events: len(items), Sources: make([]Source, 0, entries)}
	buf := binary.AppendUvarint(a.buf[:0], uint64(entries))
	offs := a.offs[:0]
	var prevHour int64
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && sameRow(&items[i], &items[j]) {
			j++
		}
		run := items[i:j]
		var r Rollup
		regs := a.regs[:0]
		for _, it := range run {
			r.Count++
			if e := it.e; e.HasValue {
				r.addValue(1, e.Value, e.Value, e.Value)
			}
			for _, c := range it.e.Contexts {
				if c.Kind == "" || len(c.Kind) > maxContextKindLen || c.Key == "" {
					continue
				}
				regs = append(regs, reg{kind: c.Kind, e: register(hash64(c.Kind, c.Key))})
			}
		}
		first := &run[0]
		var off int
		buf, off = appendKindKey(buf, first.kind, first.key)
		buf = appendAggregate(buf, first.hour-prevHour, &r)
		prevHour = first.hour
		buf = appendRegisters(buf, regs)
		clear(regs)
		a.regs = regs[:0]
		// A source per kind and key: the runs of its hours are adjacent.
		if n := len(b.Sources); n > 0 && b.Sources[n-1].Kind == first.kind && items[i-1].key == first.key {
			s := &b.Sources[n-1]
			s.Last = first.hour
			if r.ValueCount > 0 {
				s.LastValue = first.hour
			}
		} else {
			s := Source{Kind: first.kind, First: first.hour, Last: first.hour}
			if r.ValueCount > 0 {
				s.LastValue = first.hour
			}
			b.Sources = append(b.Sources, s)
			offs = append(offs, [2]int{off, off + len(first.key)})
		}
		i = j
	}
	// The sources' keys are the copies in Log.
	b.Log = string(buf)
	for i, o := range offs {
		b.Sources[i].Key = b.Log[o[0]:o[1]]
	}
	clear(items)
	a.items, a.buf, a.offs = items[:0], buf[:0], offs[:0]
	return b
}

// register returns the sketch register of a hash, as Sketch.Add sets it.
func register(h uint64) uint16 {
	idx := uint16(h >> (64 - hllPrecision))
	rank := uint16(bits.LeadingZeros64(h<<hllPrecision|1<<(hllPrecision-1)) + 1)
	return idx<<6 | rank
}

// appendRegisters appends the contexts of an entry: regs, grouped into
// one sketch per context kind (at most maxContextKinds, the first in
// order), each register once with its highest rank. It reorders regs.
func appendRegisters(b []byte, regs []reg) []byte {
	slices.SortFunc(regs, func(x, y reg) int { return cmp.Or(strings.Compare(x.kind, y.kind), cmp.Compare(x.e, y.e)) })
	kinds := 0
	for i := range regs {
		if i == 0 || regs[i].kind != regs[i-1].kind {
			kinds++
		}
	}
	kinds = min(kinds, maxContextKinds)
	b = append(b, byte(kinds))
	for i := 0; kinds > 0; kinds-- {
		j := i + 1
		for j < len(regs) && regs[j].kind == regs[i].kind {
			j++
		}
		// Sorted by idx then rank: the last of each idx has its rank.
		n := 0
		for k := i; k < j; k++ {
			if k+1 == j || regs[k+1].e>>6 != regs[k].e>>6 {
				n++
			}
		}
		b = append(b, byte(len(regs[i].kind)))
		b = append(b, regs[i].kind...)
		if n <= sparseMax {
			b = append(b, 0)
			b = binary.BigEndian.AppendUint16(b, uint16(n))
			for k := i; k < j; k++ {
				if k+1 == j || regs[k+1].e>>6 != regs[k].e>>6 {
					b = binary.BigEndian.AppendUint16(b, regs[k].e)
				}
			}
		} else {
			b = append(b, 1)
			start := len(b)
			b = append(b, make([]byte, hllRegisters)...)
			for k := i; k < j; k++ {
				idx, rank := int(regs[k].e>>6), uint8(regs[k].e&63)
				b[start+idx] = max(b[start+idx], rank)
			}
		}
		i = j
	}
	return b
}
