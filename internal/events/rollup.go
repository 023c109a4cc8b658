package events

import (
	"time"
)

// RollupKey names one hourly rollup row.
type RollupKey struct {
	EnvID string
	Kind  string
	Key   string
	// Hour is the epoch milliseconds of the start of the hour (UTC).
	Hour int64
}

// Rollup is what the events of one RollupKey add up to.
type Rollup struct {
	Count int64
	// ValueCount, Sum, Min and Max describe the events with a
	// metricValue; Min and Max mean nothing while ValueCount is 0.
	ValueCount int64
	Sum        float64
	Min, Max   float64
	// Contexts holds a distinct-count sketch per context kind.
	Contexts map[string]*Sketch
}

func (r *Rollup) addValue(n int64, sum, lo, hi float64) {
	if r.ValueCount == 0 {
		r.Min, r.Max = lo, hi
	} else {
		r.Min, r.Max = min(r.Min, lo), max(r.Max, hi)
	}
	r.ValueCount += n
	r.Sum += sum
}

// Merge adds o to r.
func (r *Rollup) Merge(o *Rollup) {
	r.Count += o.Count
	if o.ValueCount > 0 {
		r.addValue(o.ValueCount, o.Sum, o.Min, o.Max)
	}
	for kind, s := range o.Contexts {
		if mine := r.Contexts[kind]; mine != nil {
			mine.Merge(s)
			continue
		}
		if len(r.Contexts) >= maxContextKinds {
			continue
		}
		if r.Contexts == nil {
			r.Contexts = map[string]*Sketch{}
		}
		c := &Sketch{}
		c.Merge(s)
		r.Contexts[kind] = c
	}
}

// Limits on the context kinds a rollup row keeps sketches for.
const (
	maxContextKinds   = 16
	maxContextKindLen = 64
)

// Events older than MaxEventAge or more than MaxEventSkew ahead of the
// receiving clock are counted in the hour they were received: clocks of
// devices are wrong, and a replayed backlog is data that arrived now.
const (
	MaxEventAge  = 30 * 24 * time.Hour
	MaxEventSkew = time.Hour
)

// hourWindow gives the rollup hours of events received at one time.
type hourWindow struct {
	// lo and hi are the first and last creation dates (epoch ms) counted
	// in their own hour; now is the hour of the others.
	lo, hi, now int64
}

func newHourWindow(now time.Time) hourWindow {
	lo := now.Add(-MaxEventAge).UnixNano()
	hi := now.Add(MaxEventSkew).UnixNano()
	// The first whole millisecond at or after lo, the last at or before hi.
	w := hourWindow{lo: lo / 1e6, hi: hi / 1e6, now: now.UTC().Truncate(time.Hour).UnixMilli()}
	if w.lo*1e6 < lo {
		w.lo++
	}
	return w
}

// hour returns the rollup hour of an event created at created (epoch ms,
// 0 for unknown).
func (w hourWindow) hour(created int64) int64 {
	if created > 0 && created >= w.lo && created <= w.hi {
		return created - created%3_600_000
	}
	return w.now
}
