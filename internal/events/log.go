package events

import (
	"context"
	"encoding/binary"
	"errors"
	"iter"
	"maps"
	"math"
	"slices"
)

// A group commit writes what its batches add up to for one environment as
// one record of the event log; Fold later adds records into the hourly
// rollup rows. A record is a version byte (2) and then segments up to its
// end, one per batch (each batch encodes its own, so the flusher only
// concatenates them):
//
//	segment  uvarint count, then count entries
//	entry    kind, key, hour, aggregate:
//	  kind     byte: 1 custom, 2 pageview, 3 click, 0 a uvarint length and the name
//	  key      uvarint length and bytes
//	  hour     zigzag varint: the entry's hour minus the previous entry's of
//	           the segment (minus 0 for the first)
//	  count    uvarint events
//	  values   uvarint: twice the events with a metricValue, plus 1 when
//	           their sum, min and max are one number (always so for one
//	           value), written once; otherwise, when not 0, sum, min and
//	           max. Numbers are little-endian IEEE 754 float64
//	  contexts byte n ≤ 16, then n sketches in increasing order of context
//	           kind, each a byte length (1–64) and the kind, or 0 for
//	           "user", then the sketch as Sketch.appendTo writes it
//
// An entry's key need not be unique in a record: entries add up. Version
// 1 writes values as their count followed, when not 0, by sum, min and
// max, and every context kind by its length and name. Version 2 is about
// a quarter smaller for the usual entry (one event, a value a third of the
// time, one user), which is that much less for the database to log, store
// and give back to the fold. This code reads both. Releases before it
// read only version 1, and their folds drop what they cannot read: so
// that replicas of an older release sharing the database (a rolling
// upgrade) or a downgrade lose nothing, the flusher writes version 1
// unless told otherwise (FlusherOptions.LogVersion, --events-log-version).
const logVersion = 2

// DefaultLogVersion is the version the flusher writes by default.
const DefaultLogVersion = 1

// userKind is the context kind a version 2 record codes as length 0.
const userKind = "user"

// errCorruptLog is returned for a log record that is not well formed.
var errCorruptLog = errors.New("event log record is corrupt")

var kindCodes = map[string]byte{KindCustom: 1, KindPageview: 2, KindClick: 3}

var codeKinds = [...]string{1: KindCustom, 2: KindPageview, 3: KindClick}

// appendKindKey appends an entry's kind and key, and returns where the
// key starts in b.
func appendKindKey(b []byte, kind, key string) ([]byte, int) {
	if c, ok := kindCodes[kind]; ok {
		b = append(b, c)
	} else {
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(len(kind)))
		b = append(b, kind...)
	}
	b = binary.AppendUvarint(b, uint64(len(key)))
	return append(b, key...), len(b)
}

// appendAggregate appends an entry's hour and aggregate, up to its
// contexts.
func appendAggregate(b []byte, version byte, hourDelta int64, r *Rollup) []byte {
	b = binary.AppendVarint(b, hourDelta)
	b = binary.AppendUvarint(b, uint64(r.Count))
	if version == 1 {
		b = binary.AppendUvarint(b, uint64(r.ValueCount))
		if r.ValueCount > 0 {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Sum))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Min))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Max))
		}
		return b
	}
	switch {
	case r.ValueCount > 0 && r.Sum == r.Min && r.Sum == r.Max:
		b = binary.AppendUvarint(b, uint64(r.ValueCount)<<1|1)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Sum))
	case r.ValueCount > 0:
		b = binary.AppendUvarint(b, uint64(r.ValueCount)<<1)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Sum))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Min))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Max))
	default:
		b = append(b, 0)
	}
	return b
}

// appendContextKind appends the name of an entry's context kind.
func appendContextKind(b []byte, version byte, kind string) []byte {
	if kind == userKind && version > 1 {
		return append(b, 0)
	}
	b = append(b, byte(len(kind)))
	return append(b, kind...)
}

// LogRollups appends rows to tx's event log, one record (AppendLog) per
// environment, as a group commit writes them: for tests and seeders that
// make counts without the Flusher.
func LogRollups(ctx context.Context, tx FlushTx, rows map[RollupKey]*Rollup) error {
	byEnv := map[string]map[RollupKey]*Rollup{}
	for k, r := range rows {
		if byEnv[k.EnvID] == nil {
			byEnv[k.EnvID] = map[RollupKey]*Rollup{}
		}
		byEnv[k.EnvID][k] = r
	}
	for env, m := range byEnv {
		if err := tx.AppendLog(ctx, env, AppendLog(nil, len(m), maps.All(m))); err != nil {
			return err
		}
	}
	return nil
}

// AppendLog appends a record of one segment holding the n rows of one
// environment (their EnvID is not part of the record) to b.
func AppendLog(b []byte, n int, rows iter.Seq2[RollupKey, *Rollup]) []byte {
	return appendLogVersion(b, logVersion, n, rows)
}

// appendLogVersion is AppendLog in the given version.
func appendLogVersion(b []byte, version byte, n int, rows iter.Seq2[RollupKey, *Rollup]) []byte {
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(n))
	var prevHour int64
	var kinds []string
	for k, r := range rows {
		b, _ = appendKindKey(b, k.Kind, k.Key)
		b = appendAggregate(b, version, k.Hour-prevHour, r)
		prevHour = k.Hour
		kinds = kinds[:0]
		for kind := range r.Contexts {
			kinds = append(kinds, kind)
		}
		slices.Sort(kinds)
		b = append(b, byte(len(kinds)))
		for _, kind := range kinds {
			b = appendContextKind(b, version, kind)
			b = r.Contexts[kind].appendTo(b)
		}
	}
	return b
}

// logReader reads a record; every read checks the bounds.
type logReader struct {
	b   []byte
	bad bool
}

func (r *logReader) byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *logReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a uvarint that must fit an int64.
func (r *logReader) count() int64 {
	v := r.uvarint()
	if v > math.MaxInt64 {
		r.bad = true
		return 0
	}
	return int64(v)
}

func (r *logReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *logReader) bytes(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *logReader) float() float64 {
	if len(r.b) < 8 {
		r.bad = true
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// Totals adds up log records. The zero value is empty and ready.
type Totals struct {
	envs map[string]map[string]*totalRow
	// scratch holds the map key of the entry being added.
	scratch []byte
}

// totalRow is one rollup row with its key.
type totalRow struct {
	Key RollupKey
	Rollup
}

// Add adds one record of environment envID. A record that is not well
// formed is an error and adds nothing.
func (t *Totals) Add(envID string, rec []byte) error {
	if err := t.walk(envID, rec, nil); err != nil {
		return err
	}
	if t.envs == nil {
		t.envs = map[string]map[string]*totalRow{}
	}
	rows := t.envs[envID]
	if rows == nil {
		rows = map[string]*totalRow{}
		t.envs[envID] = rows
	}
	return t.walk(envID, rec, rows)
}

// walk reads a record, adding its entries to rows; with rows nil it only
// checks the record, allocating nothing. Checking first and adding after
// is what keeps a corrupt record from adding part of itself.
func (t *Totals) walk(envID string, rec []byte, rows map[string]*totalRow) error {
	r := logReader{b: rec}
	version := r.byte()
	if r.bad || (version != 1 && version != logVersion) {
		return errCorruptLog
	}
	user := []byte(userKind)
	for len(r.b) > 0 {
		n := r.uvarint()
		// Every entry takes at least 6 bytes.
		if r.bad || n > uint64(len(r.b)/6) {
			return errCorruptLog
		}
		var hour int64
		for range n {
			code := r.byte()
			var kind []byte
			switch {
			case code == 0:
				kind = r.bytes(r.uvarint())
				if _, known := kindCodes[string(kind)]; known {
					// Known kinds have their code: one form per key.
					return errCorruptLog
				}
			case int(code) >= len(codeKinds):
				return errCorruptLog
			}
			key := r.bytes(r.uvarint())
			hour += r.varint()
			var agg Rollup
			agg.Count = r.count()
			agg.ValueCount = r.count()
			one := false
			if version > 1 {
				one = agg.ValueCount&1 == 1
				agg.ValueCount >>= 1
				if one && agg.ValueCount == 0 {
					return errCorruptLog
				}
			}
			switch {
			case one:
				v := r.float()
				agg.Sum, agg.Min, agg.Max = v, v, v
			case agg.ValueCount > 0:
				agg.Sum, agg.Min, agg.Max = r.float(), r.float(), r.float()
			}
			nc := int(r.byte())
			if r.bad || nc > maxContextKinds {
				return errCorruptLog
			}
			var row *totalRow
			if rows != nil {
				// The map key: code, kind, hour, key, which tell entries apart.
				s := append(t.scratch[:0], code)
				s = binary.AppendUvarint(s, uint64(len(kind)))
				s = append(s, kind...)
				s = binary.LittleEndian.AppendUint64(s, uint64(hour))
				s = append(s, key...)
				t.scratch = s
				row = rows[string(s)]
				if row == nil {
					row = &totalRow{Key: RollupKey{EnvID: envID, Kind: codeKinds[code], Key: string(key), Hour: hour}}
					if code == 0 {
						row.Key.Kind = string(kind)
					}
					rows[string(s)] = row
				}
				row.Merge(&agg)
			}
			var prev []byte
			for i := range nc {
				ck := r.bytes(uint64(r.byte()))
				if version > 1 && len(ck) == 0 && !r.bad {
					ck = user
				}
				if r.bad || len(ck) == 0 || len(ck) > maxContextKindLen || (i > 0 && string(ck) <= string(prev)) {
					return errCorruptLog
				}
				prev = ck
				if row == nil {
					rest, err := checkSketch(r.b)
					if err != nil {
						return errCorruptLog
					}
					r.b = rest
					continue
				}
				sk := row.Contexts[string(ck)]
				if sk == nil {
					if len(row.Contexts) >= maxContextKinds {
						r.b = skipSketch(r.b)
						continue
					}
					if row.Contexts == nil {
						row.Contexts = map[string]*Sketch{}
					}
					sk = &Sketch{}
					row.Contexts[string(ck)] = sk
				}
				r.b = sk.mergeStored(r.b)
			}
			if r.bad {
				return errCorruptLog
			}
		}
	}
	return nil
}

// Len is the number of rows.
func (t *Totals) Len() int {
	n := 0
	for _, rows := range t.envs {
		n += len(rows)
	}
	return n
}

// Rows returns the rows added up.
func (t *Totals) Rows() map[RollupKey]*Rollup {
	out := make(map[RollupKey]*Rollup, t.Len())
	for _, rows := range t.envs {
		for _, r := range rows {
			out[r.Key] = &r.Rollup
		}
	}
	return out
}
