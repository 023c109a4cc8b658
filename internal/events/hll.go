package events

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// Distinct contexts are counted with a HyperLogLog sketch of 2^10
// registers: a standard error of about 1.04/sqrt(1024) ≈ 3.3% for large
// counts, and exact-or-nearly (linear counting) for small ones. Sketches of
// hours merge by taking register maxima, so a count over any range of
// hours is as accurate as one hour's. A sketch stays sparse (two bytes per
// used register) until that would be larger than the dense form.
const (
	hllPrecision = 10
	hllRegisters = 1 << hllPrecision
	// sparseMax is the most registers kept sparse: 2 bytes each.
	sparseMax = hllRegisters / 2
	// maxRank is the largest rank Add gives: the leading zeros of the 54
	// bits left after the index, plus one.
	maxRank = 64 - hllPrecision + 1
)

// Sketch estimates the number of distinct items added to it.
type Sketch struct {
	// sparse holds idx<<6 | rank, sorted by idx, while dense is nil.
	sparse []uint16
	dense  []uint8
}

// hash64 mixes FNV-1a of s with the SplitMix64 finaliser so that every bit
// is usable; it is stable across processes, as stored sketches need.
func hash64(kind, key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(kind); i++ {
		h ^= uint64(kind[i])
		h *= 1099511628211
	}
	h ^= 0
	h *= 1099511628211
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// Add adds an item by its hash.
func (s *Sketch) Add(h uint64) {
	r := register(h)
	s.set(r>>6, uint8(r&63))
}

func (s *Sketch) set(idx uint16, rank uint8) {
	if s.dense != nil {
		if rank > s.dense[idx] {
			s.dense[idx] = rank
		}
		return
	}
	i, found := slices.BinarySearchFunc(s.sparse, idx, func(e uint16, t uint16) int { return int(e>>6) - int(t) })
	if found {
		if rank > uint8(s.sparse[i]&63) {
			s.sparse[i] = idx<<6 | uint16(rank)
		}
		return
	}
	if len(s.sparse) >= sparseMax {
		s.densify()
		s.dense[idx] = max(s.dense[idx], rank)
		return
	}
	s.sparse = slices.Insert(s.sparse, i, idx<<6|uint16(rank))
}

func (s *Sketch) densify() {
	s.dense = make([]uint8, hllRegisters)
	for _, e := range s.sparse {
		s.dense[e>>6] = uint8(e & 63)
	}
	s.sparse = nil
}

// Merge adds every item of o to s.
func (s *Sketch) Merge(o *Sketch) {
	if o.dense != nil {
		if s.dense == nil {
			s.densify()
		}
		for i, r := range o.dense {
			if r > s.dense[i] {
				s.dense[i] = r
			}
		}
		return
	}
	for _, e := range o.sparse {
		s.set(e>>6, uint8(e&63))
	}
}

// Estimate returns the estimated number of distinct items.
func (s *Sketch) Estimate() int64 {
	m := float64(hllRegisters)
	var sum float64
	zeros := 0
	if s.dense != nil {
		for _, r := range s.dense {
			sum += math.Ldexp(1, -int(r))
			if r == 0 {
				zeros++
			}
		}
	} else {
		zeros = hllRegisters - len(s.sparse)
		sum = float64(zeros)
		for _, e := range s.sparse {
			sum += math.Ldexp(1, -int(e&63))
		}
	}
	alpha := 0.7213 / (1 + 1.079/m)
	est := alpha * m * m / sum
	if est <= 2.5*m && zeros > 0 {
		est = m * math.Log(m/float64(zeros))
	}
	return int64(math.Round(est))
}

// appendTo appends the sketch's stored form.
func (s *Sketch) appendTo(b []byte) []byte {
	if s.dense != nil {
		b = append(b, 1)
		return append(b, s.dense...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.sparse)))
	for _, e := range s.sparse {
		b = binary.BigEndian.AppendUint16(b, e)
	}
	return b
}

var errCorruptSketch = errors.New("stored context sketch is corrupt")

// checkSketch checks the stored sketch at the start of b and returns the
// rest of b.
func checkSketch(b []byte) ([]byte, error) {
	if len(b) < 1 {
		return nil, errCorruptSketch
	}
	switch b[0] {
	case 1:
		if len(b) < 1+hllRegisters {
			return nil, errCorruptSketch
		}
		for _, r := range b[1 : 1+hllRegisters] {
			if r > maxRank {
				return nil, errCorruptSketch
			}
		}
		return b[1+hllRegisters:], nil
	case 0:
		if len(b) < 3 {
			return nil, errCorruptSketch
		}
		n := int(binary.BigEndian.Uint16(b[1:]))
		if n > sparseMax || len(b) < 3+2*n {
			return nil, errCorruptSketch
		}
		var prev uint16
		for i := range n {
			e := binary.BigEndian.Uint16(b[3+2*i:])
			// Registers are sorted, each once, with a rank Add can give.
			if r := e & 63; r == 0 || r > maxRank || (i > 0 && e>>6 <= prev>>6) {
				return nil, errCorruptSketch
			}
			prev = e
		}
		return b[3+2*n:], nil
	}
	return nil, errCorruptSketch
}

// readSketch reads one stored sketch from b and returns the rest.
func readSketch(b []byte) (*Sketch, []byte, error) {
	rest, err := checkSketch(b)
	if err != nil {
		return nil, nil, err
	}
	if b[0] == 1 {
		return &Sketch{dense: slices.Clone(b[1 : 1+hllRegisters])}, rest, nil
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	s := &Sketch{sparse: make([]uint16, n)}
	for i := range n {
		s.sparse[i] = binary.BigEndian.Uint16(b[3+2*i:])
	}
	return s, rest, nil
}

// mergeStored adds the stored sketch at the start of b, which
// checkSketch accepted, to s, and returns the rest of b.
func (s *Sketch) mergeStored(b []byte) []byte {
	if b[0] == 1 {
		if s.dense == nil {
			s.densify()
		}
		for i, r := range b[1 : 1+hllRegisters] {
			if r > s.dense[i] {
				s.dense[i] = r
			}
		}
		return b[1+hllRegisters:]
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	if s.dense == nil && len(s.sparse) == 0 {
		s.sparse = make([]uint16, n)
		for i := range n {
			s.sparse[i] = binary.BigEndian.Uint16(b[3+2*i:])
		}
		return b[3+2*n:]
	}
	for i := range n {
		e := binary.BigEndian.Uint16(b[3+2*i:])
		s.set(e>>6, uint8(e&63))
	}
	return b[3+2*n:]
}

// skipSketch returns what follows the stored sketch at the start of b,
// which checkSketch accepted.
func skipSketch(b []byte) []byte {
	if b[0] == 1 {
		return b[1+hllRegisters:]
	}
	return b[3+2*int(binary.BigEndian.Uint16(b[1:])):]
}

// EncodeContexts returns the stored form of sketches per context kind.
func EncodeContexts(m map[string]*Sketch) []byte {
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	b := []byte{byte(len(kinds))}
	for _, k := range kinds {
		b = append(b, byte(len(k)))
		b = append(b, k...)
		b = m[k].appendTo(b)
	}
	return b
}

// DecodeContexts reads what EncodeContexts wrote.
func DecodeContexts(b []byte) (map[string]*Sketch, error) {
	out := map[string]*Sketch{}
	if len(b) == 0 {
		return out, nil
	}
	n := int(b[0])
	b = b[1:]
	for range n {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return nil, errCorruptSketch
		}
		kind := string(b[1 : 1+int(b[0])])
		var s *Sketch
		var err error
		s, b, err = readSketch(b[1+int(b[0]):])
		if err != nil {
			return nil, err
		}
		out[kind] = s
	}
	return out, nil
}
