package events

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync/atomic"
	"time"

	"github.com/metricsd/metricsd/internal/core"
)

// FlushTx is the unit of work of one group commit.
type FlushTx interface {
	// ExistingEnvironments returns which of ids still exist.
	ExistingEnvironments(ctx context.Context, ids []string) (map[string]bool, error)
	// ClaimPayload records a payload ID; false means it was counted before.
	ClaimPayload(ctx context.Context, envID, payloadID string, now time.Time) (bool, error)
	// Rollups returns the stored rows among keys.
	Rollups(ctx context.Context, keys []RollupKey) (map[RollupKey]*Rollup, error)
	// PutRollups stores rows, replacing those that exist.
	PutRollups(ctx context.Context, rows map[RollupKey]*Rollup) error
	// TouchSources records that events of these keys were seen.
	TouchSources(ctx context.Context, seen []Seen) error
}

// Seen is what one commit tells event_sources about one environment,
// kind and key.
type Seen struct {
	EnvID, ProjectID, Kind, Key string
	// First and Last are the earliest and latest hours with events;
	// LastValue the latest hour with a metricValue, 0 for none.
	First, Last, LastValue int64
}

// FlushStore runs group commits.
type FlushStore interface {
	// TransactEvents runs fn in one write transaction, retried from the
	// start after transient conflicts; commits of several replicas
	// serialise.
	TransactEvents(ctx context.Context, fn func(FlushTx) error) error
	// PruneEvents drops payload IDs received before payloadsBefore and
	// expired SDK keys.
	PruneEvents(ctx context.Context, payloadsBefore, now time.Time) error
	// SoleWriter reports whether this process is the only one that writes
	// events to the database (SQLite), so that the rollup rows it wrote can
	// be reused without reading them back.
	SoleWriter() bool
}

// ErrOverloaded is returned when the flusher holds as many events as it
// may: the sender should retry later (503 with Retry-After).
var ErrOverloaded = core.Errorf(core.KindUnavailable, "metricsd is receiving more events than it can store; retry later")

// FlusherOptions bound a Flusher.
type FlusherOptions struct {
	// MaxPending bounds the events (plus rollup rows) waiting to be
	// committed; past it Submit answers ErrOverloaded at once.
	MaxPending int64
	// MaxGroup bounds the batches one transaction commits.
	MaxGroup int
	// CommitTimeout bounds one group commit.
	CommitTimeout time.Duration
	// PayloadRetention is how long payload IDs are remembered.
	PayloadRetention time.Duration
	Logger           *slog.Logger
}

// Defaults of FlusherOptions.
const (
	DefaultMaxPending       = 200_000
	DefaultMaxGroup         = 256
	DefaultCommitTimeout    = 10 * time.Second
	DefaultPayloadRetention = 24 * time.Hour
)

// Flusher commits accepted batches. Batches submitted while a commit runs
// wait for the next one, so concurrent posts share a transaction (group
// commit): the cost of a durable commit is paid once per group, not per
// post. Submit returns only after the batch's transaction committed.
type Flusher struct {
	store   FlushStore
	now     func() time.Time
	opts    FlusherOptions
	queue   chan *pending
	pending atomic.Int64
	log     *slog.Logger
	done    chan struct{}
	// touched remembers what this flusher last wrote to event_sources per
	// environment, kind and key, so that steady traffic to the same keys
	// in the same hour does not rewrite the same rows. Only the flusher's
	// goroutine uses it. Writes only ever move those rows forward, so a
	// row another replica moved further needs no rewrite from here either.
	touched map[srcKey]Seen
	// written holds the rollup rows this flusher committed, reused instead
	// of reading them back when the store is the sole writer.
	written map[RollupKey]*Rollup
}

// maxWritten bounds the written cache.
const maxWritten = 20_000

type srcKey struct{ env, kind, key string }

// maxTouched bounds the touched cache; past it the cache starts over.
const maxTouched = 100_000

type pending struct {
	b    *Batch
	done chan error
}

// NewFlusher returns a flusher; Run must be running for Submit to finish.
func NewFlusher(store FlushStore, now func() time.Time, opts FlusherOptions) *Flusher {
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = DefaultMaxGroup
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = DefaultCommitTimeout
	}
	if opts.PayloadRetention <= 0 {
		opts.PayloadRetention = DefaultPayloadRetention
	}
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Flusher{store: store, now: now, opts: opts, log: log,
		queue: make(chan *pending, 4096), done: make(chan struct{}), touched: map[srcKey]Seen{},
		written: map[RollupKey]*Rollup{}}
}

// Pending is the weight of the batches waiting to be committed.
func (f *Flusher) Pending() int64 { return f.pending.Load() }

// Submit queues b and waits until it is committed (nil), failed, or ctx
// ends. A batch whose wait ended with ctx may still be committed; senders
// retry with the same payload ID, which is then not counted twice.
func (f *Flusher) Submit(ctx context.Context, b *Batch) error {
	n := b.size()
	if f.pending.Add(n) > f.opts.MaxPending {
		f.pending.Add(-n)
		return ErrOverloaded
	}
	p := &pending{b: b, done: make(chan error, 1)}
	select {
	case f.queue <- p:
	case <-f.done:
		f.pending.Add(-n)
		return core.Errorf(core.KindUnavailable, "metricsd is shutting down")
	default:
		f.pending.Add(-n)
		return ErrOverloaded
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pruneEvery is how often old payload IDs and expired keys are dropped.
const pruneEvery = 10 * time.Minute

// Run commits queued batches until ctx ends, then commits what is still
// queued and returns. Stop the senders (the HTTP server) before ctx ends.
func (f *Flusher) Run(ctx context.Context) {
	defer close(f.done)
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		select {
		case p := <-f.queue:
			f.commitGroup(p)
		case <-prune.C:
			f.prune()
		case <-ctx.Done():
			for {
				select {
				case p := <-f.queue:
					f.commitGroup(p)
				default:
					return
				}
			}
		}
	}
}

func (f *Flusher) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.CommitTimeout)
	defer cancel()
	now := f.now()
	if err := f.store.PruneEvents(ctx, now.Add(-f.opts.PayloadRetention), now); err != nil {
		f.log.Warn("pruning payload IDs failed", "err", err)
	}
}

// commitGroup commits first and whatever else is queued, up to MaxGroup
// batches, in one transaction.
func (f *Flusher) commitGroup(first *pending) {
	group := []*pending{first}
gather:
	for len(group) < f.opts.MaxGroup {
		select {
		case p := <-f.queue:
			group = append(group, p)
		default:
			break gather
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.CommitTimeout)
	var wrote []Seen
	var rows map[RollupKey]*Rollup
	err := f.store.TransactEvents(ctx, func(tx FlushTx) error {
		var err error
		wrote, rows, err = f.apply(ctx, tx, group)
		return err
	})
	cancel()
	if err == nil && f.store.SoleWriter() {
		if len(f.written)+len(rows) > maxWritten {
			clear(f.written)
		}
		maps.Copy(f.written, rows)
	}
	if err == nil {
		if len(f.touched)+len(wrote) > maxTouched {
			clear(f.touched)
		}
		for _, s := range wrote {
			f.touched[srcKey{s.EnvID, s.Kind, s.Key}] = s
		}
	}
	if err != nil {
		f.log.Warn("event commit failed", "batches", len(group), "err", err)
		if core.KindOf(err) != core.KindUnavailable {
			err = errors.Join(core.Errorf(core.KindUnavailable, "events could not be stored; retry later"), err)
		}
	}
	for _, p := range group {
		f.pending.Add(-p.b.size())
		p.done <- err
	}
}

// apply writes a group inside its transaction: payload IDs first, so that
// a batch seen before adds nothing; then the merged rollups and sources.
func (f *Flusher) apply(ctx context.Context, tx FlushTx, group []*pending) ([]Seen, map[RollupKey]*Rollup, error) {
	now := f.now()
	envIDs := make([]string, 0, 4)
	seenEnv := map[string]bool{}
	for _, p := range group {
		if !seenEnv[p.b.Env.ID] {
			seenEnv[p.b.Env.ID] = true
			envIDs = append(envIDs, p.b.Env.ID)
		}
	}
	exists, err := tx.ExistingEnvironments(ctx, envIDs)
	if err != nil {
		return nil, nil, err
	}
	merged := map[RollupKey]*Rollup{}
	projectOf := map[string]string{}
	claimed := map[[2]string]bool{}
	for _, p := range group {
		b := p.b
		// The events of an environment deleted since its key was checked
		// go with it.
		if !exists[b.Env.ID] {
			continue
		}
		if b.PayloadID != "" {
			k := [2]string{b.Env.ID, b.PayloadID}
			if claimed[k] {
				continue
			}
			claimed[k] = true
			ok, err := tx.ClaimPayload(ctx, b.Env.ID, b.PayloadID, now)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue
			}
		}
		projectOf[b.Env.ID] = b.Env.ProjectID
		for k, r := range b.Rows {
			if m := merged[k]; m != nil {
				m.Merge(r)
				continue
			}
			c := &Rollup{}
			c.Merge(r)
			merged[k] = c
		}
	}
	if len(merged) == 0 {
		return nil, nil, nil
	}
	keys := make([]RollupKey, 0, len(merged))
	stored := map[RollupKey]*Rollup{}
	for k := range merged {
		if w := f.written[k]; w != nil {
			// A copy: the cached row changes only once this commit is in.
			c := &Rollup{}
			c.Merge(w)
			stored[k] = c
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		read, err := tx.Rollups(ctx, keys)
		if err != nil {
			return nil, nil, err
		}
		maps.Copy(stored, read)
	}
	seen := map[srcKey]*Seen{}
	for k, r := range merged {
		if old := stored[k]; old != nil {
			old.Merge(r)
			merged[k] = old
		}
		sk := srcKey{k.EnvID, k.Kind, k.Key}
		s := seen[sk]
		if s == nil {
			s = &Seen{EnvID: k.EnvID, ProjectID: projectOf[k.EnvID], Kind: k.Kind, Key: k.Key, First: k.Hour, Last: k.Hour}
			seen[sk] = s
		}
		s.First, s.Last = min(s.First, k.Hour), max(s.Last, k.Hour)
		if r.ValueCount > 0 {
			s.LastValue = max(s.LastValue, k.Hour)
		}
	}
	if err := tx.PutRollups(ctx, merged); err != nil {
		return nil, nil, err
	}
	list := make([]Seen, 0, len(seen))
	for k, s := range seen {
		if t, ok := f.touched[k]; ok && t.First <= s.First && t.Last >= s.Last && t.LastValue >= s.LastValue {
			continue
		}
		if t, ok := f.touched[k]; ok {
			s.First, s.Last, s.LastValue = min(s.First, t.First), max(s.Last, t.Last), max(s.LastValue, t.LastValue)
		}
		list = append(list, *s)
	}
	if len(list) == 0 {
		return nil, merged, nil
	}
	return list, merged, tx.TouchSources(ctx, list)
}
