package events

import (
	"encoding/binary"
	"errors"
	"iter"
	"math"
	"slices"
)

// A group commit writes what its batches add up to for one environment as
// one record of the event log, in the compact form below; Fold later adds
// the records into the hourly rollup rows. Version 1:
//
//	version  byte (1)
//	count    uvarint, the entries that follow
//	entry    kind, key, hour, aggregate:
//	  kind     byte: 1 custom, 2 pageview, 3 click, 0 a uvarint length and the name
//	  key      uvarint length and bytes
//	  hour     zigzag varint, the entry's hour minus the previous entry's (0 before the first)
//	  count    uvarint events
//	  values   uvarint events with a metricValue; when not 0, then sum, min
//	           and max as little-endian IEEE 754 float64
//	  contexts byte, the sketches that follow, each a byte length and the
//	           context kind, then the sketch (Sketch.appendTo)
const logVersion = 1

// errCorruptLog is returned for a log record that is not one EncodeLog wrote.
var errCorruptLog = errors.New("event log record is corrupt")

var kindCodes = map[string]byte{KindCustom: 1, KindPageview: 2, KindClick: 3}

var codeKinds = [...]string{1: KindCustom, 2: KindPageview, 3: KindClick}

// AppendLog appends the log record of the n rows of one environment
// (their EnvID is not part of the record) to b.
func AppendLog(b []byte, n int, rows iter.Seq2[RollupKey, *Rollup]) []byte {
	b = append(b, logVersion)
	b = binary.AppendUvarint(b, uint64(n))
	var prevHour int64
	var kinds []string
	for k, r := range rows {
		if c, ok := kindCodes[k.Kind]; ok {
			b = append(b, c)
		} else {
			b = append(b, 0)
			b = binary.AppendUvarint(b, uint64(len(k.Kind)))
			b = append(b, k.Kind...)
		}
		b = binary.AppendUvarint(b, uint64(len(k.Key)))
		b = append(b, k.Key...)
		b = binary.AppendVarint(b, k.Hour-prevHour)
		prevHour = k.Hour
		b = binary.AppendUvarint(b, uint64(r.Count))
		b = binary.AppendUvarint(b, uint64(r.ValueCount))
		if r.ValueCount > 0 {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Sum))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Min))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Max))
		}
		kinds = kinds[:0]
		for kind := range r.Contexts {
			kinds = append(kinds, kind)
		}
		slices.Sort(kinds)
		b = append(b, byte(len(kinds)))
		for _, kind := range kinds {
			b = append(b, byte(len(kind)))
			b = append(b, kind...)
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

// MergeLog adds the entries of one record of environment envID to dst.
// A record that is not well formed is an error, and then dst is left as
// it was.
func MergeLog(dst map[RollupKey]*Rollup, envID string, rec []byte) error {
	if err := walkLog(envID, rec, nil); err != nil {
		return err
	}
	return walkLog(envID, rec, func(k RollupKey, one *Rollup) {
		if m := dst[k]; m != nil {
			m.Merge(one)
		} else {
			dst[k] = one
		}
	})
}

// walkLog reads a record and calls emit with each entry; with emit nil it
// only checks the record, allocating nothing.
func walkLog(envID string, rec []byte, emit func(RollupKey, *Rollup)) error {
	r := &logReader{b: rec}
	if r.byte() != logVersion || r.bad {
		return errCorruptLog
	}
	n := r.uvarint()
	// Every entry takes at least 6 bytes.
	if r.bad || n > uint64(len(r.b)/6) {
		return errCorruptLog
	}
	var hour int64
	var kinds [maxContextKinds][]byte
	for range n {
		k := RollupKey{EnvID: envID}
		var kind []byte
		switch c := r.byte(); {
		case c == 0:
			kind = r.bytes(r.uvarint())
		case int(c) < len(codeKinds):
			k.Kind = codeKinds[c]
		default:
			return errCorruptLog
		}
		key := r.bytes(r.uvarint())
		hour += r.varint()
		k.Hour = hour
		var one Rollup
		one.Count = r.count()
		one.ValueCount = r.count()
		if one.ValueCount > 0 {
			one.Sum, one.Min, one.Max = r.float(), r.float(), r.float()
		}
		nc := int(r.byte())
		if r.bad || nc > maxContextKinds {
			return errCorruptLog
		}
		if nc > 0 && emit != nil {
			one.Contexts = make(map[string]*Sketch, nc)
		}
		for i := range nc {
			ck := r.bytes(uint64(r.byte()))
			if r.bad || len(ck) == 0 || len(ck) > maxContextKindLen {
				return errCorruptLog
			}
			// Kinds are written sorted, each once.
			if i > 0 && string(ck) <= string(kinds[i-1]) {
				return errCorruptLog
			}
			kinds[i] = ck
			if emit == nil {
				rest, err := checkSketch(r.b)
				if err != nil {
					return errCorruptLog
				}
				r.b = rest
				continue
			}
			s, rest, err := readSketch(r.b)
			if err != nil {
				return errCorruptLog
			}
			r.b = rest
			one.Contexts[string(ck)] = s
		}
		if r.bad {
			return errCorruptLog
		}
		if emit != nil {
			if kind != nil {
				k.Kind = string(kind)
			}
			k.Key = string(key)
			emit(k, &one)
		}
	}
	if len(r.b) != 0 {
		return errCorruptLog
	}
	return nil
}
