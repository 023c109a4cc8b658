package events

import (
	"context"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/core"
)

// Store is everything the events services need from storage.
type Store interface {
	KeyStore
	GoalStore
	FlushStore
	ExplorerStore
}

// Service receives decoded events: it matches them to what metrics count,
// aggregates each post into a Batch and hands it to the flusher.
type Service struct {
	Keys    *Keys
	Goals   *Goals
	Flusher *Flusher
	now     func() time.Time
	// aggs holds aggregators for reuse.
	aggs sync.Pool
}

// Options configure a Service.
type Options struct {
	Flusher FlusherOptions
	// KeyTTL is how long a resolved SDK credential is trusted.
	KeyTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewService returns the events services over store. Run the flusher
// (Service.Flusher.Run) for posts to be committed.
func NewService(store Store, opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	clock := core.Clock(now)
	return &Service{
		Keys:    NewKeys(store, clock, opts.KeyTTL),
		Goals:   NewGoals(store, clock),
		Flusher: NewFlusher(store, now, opts.Flusher),
		now:     now,
	}
}

// Aggregate turns the events of one post into a batch: custom events by
// key; pageview and click events by their goal key, or, for one without a
// key, under the key of every goal of its kind whose URL matchers match
// its url. The batch shares no memory with evs.
func (s *Service) Aggregate(ctx context.Context, env *Env, payloadID string, evs []Event) (*Batch, error) {
	now := s.now()
	a, _ := s.aggs.Get().(*aggregator)
	if a == nil {
		a = &aggregator{}
	}
	defer s.putAggregator(a)
	a.start(now)
	for i := range evs {
		e := &evs[i]
		if e.Key != "" || e.Kind == KindCustom {
			a.add(e, e.Key)
			continue
		}
		if e.URL == "" {
			continue
		}
		keys, err := s.Goals.Match(ctx, env.ProjectID, e.Kind, e.URL)
		if err != nil {
			clear(a.items)
			a.items = a.items[:0]
			return nil, err
		}
		for _, k := range keys {
			a.add(e, k)
		}
	}
	return a.batch(env, payloadID, s.Flusher), nil
}

// putAggregator keeps a for the next post unless a large post grew it.
func (s *Service) putAggregator(a *aggregator) {
	if cap(a.items) <= maxKeptItems && cap(a.buf) <= maxKeptBuf {
		s.aggs.Put(a)
	}
}

// maxKeptItems bounds the scratch space of an aggregator kept for reuse.
const maxKeptItems = 4096

// maxEventKeyLen bounds the event keys stored; longer ones are dropped.
const maxEventKeyLen = 1024

// Accept aggregates and commits the events of one post; it returns once
// they are durable.
func (s *Service) Accept(ctx context.Context, env *Env, payloadID string, evs []Event) error {
	b, err := s.Aggregate(ctx, env, payloadID, evs)
	if err != nil {
		return err
	}
	if b.Events == 0 {
		return nil
	}
	return s.Flusher.Submit(ctx, b)
}
