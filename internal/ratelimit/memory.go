package ratelimit

import (
	"context"
	"sync"
)

// maxBuckets bounds a Memory: past it, buckets of past windows are dropped,
// which loses nothing, and then arbitrary ones.
const maxBuckets = 100000

// Memory is a Counter for one replica.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	window int64
	n      int
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{buckets: map[string]*bucket{}} }

// Take implements Counter. It never fails.
func (m *Memory) Take(_ context.Context, window int64, steps []Step) ([]Count, error) {
	out := make([]Count, len(steps))
	m.mu.Lock()
	defer m.mu.Unlock()
	admitted := true
	for i, s := range steps {
		b := m.buckets[s.Bucket]
		if b == nil {
			if len(m.buckets) >= maxBuckets {
				m.evict(window)
			}
			b = &bucket{window: window}
			m.buckets[s.Bucket] = b
		}
		if b.window < window {
			b.window, b.n = window, 0
		}
		if admitted && b.n < s.Cap {
			b.n++
		} else {
			admitted = false
		}
		out[i] = Count{N: b.n, Window: b.window, Admitted: admitted}
	}
	return out, nil
}

// evict drops the buckets of past windows, and if that is not enough,
// arbitrary others. m.mu is held.
func (m *Memory) evict(window int64) {
	for k, b := range m.buckets {
		if b.window < window {
			delete(m.buckets, k)
		}
	}
	for k := range m.buckets {
		if len(m.buckets) < maxBuckets*9/10 {
			break
		}
		delete(m.buckets, k)
	}
}
