package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFlushStore keeps claimed payload IDs and rollups in memory and takes
// a while per commit, as a durable commit does.
type fakeFlushStore struct {
	mu      sync.Mutex
	commits atomic.Int64
	payload map[[2]string]bool
	rows    map[RollupKey]*Rollup
	delay   time.Duration
}

func (s *fakeFlushStore) TransactEvents(ctx context.Context, fn func(FlushTx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits.Add(1)
	time.Sleep(s.delay)
	return fn(fakeTx{s})
}
func (s *fakeFlushStore) PruneEvents(context.Context, time.Time, time.Time) error { return nil }
func (s *fakeFlushStore) SoleWriter() bool                                        { return false }

type fakeTx struct{ s *fakeFlushStore }

func (t fakeTx) ExistingEnvironments(_ context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = id != "gone"
	}
	return out, nil
}
func (t fakeTx) ClaimPayload(_ context.Context, env, id string, _ time.Time) (bool, error) {
	k := [2]string{env, id}
	if t.s.payload[k] {
		return false, nil
	}
	t.s.payload[k] = true
	return true, nil
}
func (t fakeTx) Rollups(_ context.Context, keys []RollupKey) (map[RollupKey]*Rollup, error) {
	out := map[RollupKey]*Rollup{}
	for _, k := range keys {
		if r := t.s.rows[k]; r != nil {
			c := &Rollup{}
			c.Merge(r)
			out[k] = c
		}
	}
	return out, nil
}
func (t fakeTx) PutRollups(_ context.Context, rows map[RollupKey]*Rollup) error {
	for k, r := range rows {
		t.s.rows[k] = r
	}
	return nil
}
func (t fakeTx) TouchSources(context.Context, []Seen) error { return nil }

func batch(env, payload, key string, n int) *Batch {
	b := &Batch{Env: &Env{ID: env, ProjectID: "p"}, PayloadID: payload, Rows: map[RollupKey]*Rollup{}}
	k := RollupKey{EnvID: env, Kind: KindCustom, Key: key, Hour: 0}
	r := &Rollup{}
	for i := range n {
		r.add(&Event{Kind: KindCustom, Key: key, Contexts: []ContextRef{{"user", fmt.Sprint(i)}}})
	}
	b.Rows[k], b.Events = r, n
	return b
}

// TestGroupCommit: concurrent submissions share transactions, a payload
// ID counts once even within one group, and every Submit returns after
// the commit that holds its batch.
func TestGroupCommit(t *testing.T) {
	store := &fakeFlushStore{payload: map[[2]string]bool{}, rows: map[RollupKey]*Rollup{}, delay: 20 * time.Millisecond}
	f := NewFlusher(store, nil, FlusherOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("p%d", i%50) // every payload twice
			if err := f.Submit(context.Background(), batch("e", id, "k", 10)); err != nil {
				t.Errorf("Submit: %v", err)
			}
		}()
	}
	wg.Wait()
	if err := f.Submit(context.Background(), batch("gone", "", "k", 10)); err != nil {
		t.Errorf("Submit for a deleted environment: %v", err)
	}
	cancel()
	<-done
	t.Logf("%d commits for 101 batches", store.commits.Load())
	if c := store.commits.Load(); c >= 50 {
		t.Errorf("%d commits for 101 concurrent batches: no group commit", c)
	}
	r := store.rows[RollupKey{EnvID: "e", Kind: KindCustom, Key: "k"}]
	if r == nil || r.Count != 500 {
		t.Fatalf("rollup = %+v, want 500 events (50 payloads of 10, each sent twice)", r)
	}
	if est := r.Contexts["user"].Estimate(); est != 10 {
		t.Errorf("distinct users = %d, want 10", est)
	}
	if len(store.rows) != 1 {
		t.Errorf("rows = %d: events of a deleted environment were stored", len(store.rows))
	}
	if f.Pending() != 0 {
		t.Errorf("pending = %d after every commit", f.Pending())
	}
}

// TestOverload: past MaxPending, Submit fails at once with ErrOverloaded.
func TestOverload(t *testing.T) {
	store := &fakeFlushStore{payload: map[[2]string]bool{}, rows: map[RollupKey]*Rollup{}, delay: 200 * time.Millisecond}
	f := NewFlusher(store, nil, FlusherOptions{MaxPending: 25})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	first := make(chan error, 1)
	go func() { first <- f.Submit(context.Background(), batch("e", "", "k", 20)) }()
	// Queued or being committed, the first batch counts against the bound
	// until its commit ends.
	for f.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := f.Submit(context.Background(), batch("e", "", "k", 20)); !errors.Is(err, ErrOverloaded) {
		t.Errorf("Submit over the bound = %v, want ErrOverloaded", err)
	}
	if err := <-first; err != nil {
		t.Errorf("first Submit: %v", err)
	}
}
