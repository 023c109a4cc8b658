package events

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metricsd/metricsd/internal/core"
)

// FlushTx is the unit of work of one group commit.
type FlushTx interface {
	// ExistingEnvironments returns which of ids still exist.
	ExistingEnvironments(ctx context.Context, ids []string) (map[string]bool, error)
	// ClaimPayloads records payload IDs and returns those recorded now;
	// the others were counted before.
	ClaimPayloads(ctx context.Context, claims []PayloadClaim, now time.Time) (map[PayloadClaim]bool, error)
	// AppendLog adds one record (see AppendLog) of an environment to the
	// event log.
	AppendLog(ctx context.Context, envID string, rec []byte) error
	// TouchSources records that events of these keys were seen.
	TouchSources(ctx context.Context, seen []Seen) error
}

// PayloadClaim names one X-LaunchDarkly-Payload-ID of one environment.
type PayloadClaim struct{ EnvID, PayloadID string }

// Seen is what one commit tells event_sources about one environment,
// kind and key.
type Seen struct {
	EnvID, ProjectID, Kind, Key string
	// First and Last are the earliest and latest hours with events;
	// LastValue the latest hour with a metricValue, 0 for none.
	First, Last, LastValue int64
}

// FlushStore runs group commits and folds.
type FlushStore interface {
	// TransactEvents runs fn in one write transaction, retried from the
	// start after transient conflicts.
	TransactEvents(ctx context.Context, fn func(FlushTx) error) error
	// FoldEvents folds the whole event log into the rollup rows (see Fold).
	FoldEvents(ctx context.Context) error
	// PruneEvents drops payload IDs received before payloadsBefore and
	// expired SDK keys.
	PruneEvents(ctx context.Context, payloadsBefore, now time.Time) error
}

// ErrOverloaded is returned when the flusher holds as many events as it
// may: the sender should retry later (503 with Retry-After).
var ErrOverloaded = core.Errorf(core.KindUnavailable, "metricsd is receiving more events than it can store; retry later")

// FlusherOptions bound a Flusher.
type FlusherOptions struct {
	// MaxPending bounds the events (plus their log entries) waiting to
	// be committed; past it Submit answers ErrOverloaded at once.
	MaxPending int64
	// MaxGroup bounds the batches one transaction commits.
	MaxGroup int
	// CommitTimeout bounds one group commit.
	CommitTimeout time.Duration
	// PayloadRetention is how long payload IDs are remembered.
	PayloadRetention time.Duration
	// FoldEvery is how often the event log is folded into the rollups.
	FoldEvery time.Duration
	// Linger bounds how long a group commit waits for posts that are
	// arriving (see Arriving).
	Linger time.Duration
	// LogVersion is the version of the event log records written (see
	// log.go): 0 means DefaultLogVersion.
	LogVersion int
	// Spacing is the least time from the start of one group commit to
	// the start of the next while posts keep coming: a group gathers the
	// posts that come meanwhile. 0 means DefaultSpacing with one committer
	// and none with several (their commits overlap instead); negative
	// means none.
	Spacing time.Duration
	// Committers is how many group commits may run at once (default 1).
	// A store whose commits do not wait for one another (PostgreSQL)
	// gathers the next group while one waits for its WAL flush.
	Committers int
	Logger     *slog.Logger
}

// Defaults of FlusherOptions.
const (
	DefaultMaxPending       = 200_000
	DefaultMaxGroup         = 256
	DefaultCommitTimeout    = 10 * time.Second
	DefaultPayloadRetention = 24 * time.Hour
	DefaultFoldEvery        = time.Second
	DefaultLinger           = 5 * time.Millisecond
	DefaultSpacing          = 2 * time.Millisecond
)

// lingerPoll is how often a group commit waiting for arriving posts looks
// again whether they are still coming.
const lingerPoll = 200 * time.Microsecond

// Flusher commits accepted batches. Batches submitted while a commit runs
// wait for the next one, so concurrent posts share a transaction (group
// commit): the cost of a durable commit is paid once per group, not per
// post. Submit returns only after the batch's transaction committed.
//
// A commit writes what its group adds up to as one record per
// environment in the event log, an append-only table, instead of
// updating the hourly rollup rows: a commit costs one insert whatever the
// number of keys. Run folds the log into the rollup rows every FoldEvery
// (see Fold), and the store folds before it answers a read of rollups, so
// every committed event is visible.
type Flusher struct {
	store   FlushStore
	now     func() time.Time
	opts    FlusherOptions
	queue   chan *pending
	pending atomic.Int64
	// arriving counts the posts being read and aggregated (Arriving).
	arriving atomic.Int64
	log      *slog.Logger
	done     chan struct{}
	// touched remembers what this flusher last wrote to event_sources per
	// environment, kind and key, so that steady traffic to the same keys
	// in the same hour does not rewrite the same rows. Committers write it
	// under mu once their commit is done; posts read it (knownSources) to
	// leave out of their batches the sources that need no write. Writes
	// only ever move those rows forward, so a row another replica (or
	// another committer) moved further needs no rewrite from here either.
	mu sync.RWMutex
	// touched maps environment and hash64(kind, key) to what was written.
	touched  map[string]map[uint64]Seen
	nTouched int
	// version is the log version of the records written.
	version byte
	// committed counts the group commits that wrote log records.
	committed atomic.Int64
	// gathering is held by the committer gathering a group: one group
	// forms at a time, the others commit meanwhile.
	gathering sync.Mutex
	// lastGroup is the group size to expect: the last group's, or a
	// quarter less per group than the one before; used under gathering.
	lastGroup int
	// lastStart is when the last group was gathered (Spacing); used
	// under gathering.
	lastStart time.Time
}

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
	if opts.FoldEvery <= 0 {
		opts.FoldEvery = DefaultFoldEvery
	}
	if opts.Linger <= 0 {
		opts.Linger = DefaultLinger
	}
	if opts.Committers <= 0 {
		opts.Committers = 1
	}
	if opts.Spacing == 0 && opts.Committers == 1 {
		opts.Spacing = DefaultSpacing
	}
	version := byte(DefaultLogVersion)
	if opts.LogVersion > 0 && opts.LogVersion <= logVersion {
		version = byte(opts.LogVersion)
	}
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Flusher{store: store, now: now, opts: opts, log: log, version: version,
		queue: make(chan *pending, 4096), done: make(chan struct{}), touched: map[string]map[uint64]Seen{}}
}

// Arriving adds n to the posts being read and aggregated, which will be
// submitted in a moment: the transport adds 1 when it starts reading a
// post, and ends the count with SubmitArriving, or with Arriving(-1) for
// a post it does not submit.
func (f *Flusher) Arriving(n int) { f.arriving.Add(int64(n)) }

// Pending is the weight of the batches waiting to be committed.
func (f *Flusher) Pending() int64 { return f.pending.Load() }

// Submit queues b and waits until it is committed (nil), failed, or ctx
// ends. A batch whose wait ended with ctx may still be committed; senders
// retry with the same payload ID, which is then not counted twice.
func (f *Flusher) Submit(ctx context.Context, b *Batch) error { return f.submit(ctx, b, false) }

// SubmitArriving is Submit for a post counted with Arriving(1): that
// count ends once the batch is queued (or refused), so that a group
// commit waiting for it does not stop just before it comes.
func (f *Flusher) SubmitArriving(ctx context.Context, b *Batch) error { return f.submit(ctx, b, true) }

func (f *Flusher) submit(ctx context.Context, b *Batch, arriving bool) error {
	defer func() {
		if arriving {
			f.arriving.Add(-1)
		}
	}()
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
	if arriving {
		f.arriving.Add(-1)
		arriving = false
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
// Beside it, a goroutine of its own folds the event log every FoldEvery.
func (f *Flusher) Run(ctx context.Context) {
	defer close(f.done)
	folded := make(chan struct{})
	go func() { f.foldLoop(ctx); close(folded) }()
	defer func() { <-folded }()
	var committers sync.WaitGroup
	for range f.opts.Committers {
		committers.Go(func() { f.commitLoop(ctx) })
	}
	defer committers.Wait()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-prune.C:
			f.prune()
		case <-ctx.Done():
			return
		}
	}
}

// commitLoop gathers and commits groups until ctx ends, then commits what
// is still queued. Committers take turns gathering (f.gathering), so that
// a group forms while the others' commits run.
func (f *Flusher) commitLoop(ctx context.Context) {
	var c committer
	for {
		f.gathering.Lock()
		var group []*pending
		select {
		case p := <-f.queue:
			group = f.gather(p)
		case <-ctx.Done():
			select {
			case p := <-f.queue:
				group = f.gather(p)
			default:
			}
		}
		f.gathering.Unlock()
		if group == nil {
			return
		}
		c.commit(f, group)
	}
}

// committer is the scratch space of one commitLoop.
type committer struct {
	// buf holds the log record being written.
	buf []byte
}

// foldLoop folds the event log every FoldEvery until ctx ends. A fold
// that fails leaves the log as it was, for the next one.
//
// A tick folds only when this flusher committed records since the last
// fold, or when idleFoldTicks ticks passed without one (records other
// replicas left behind): an idle server costs the database nothing per
// tick. Skipping never hides an event, since every read of rollups folds
// the log first (the store's settleEvents).
func (f *Flusher) foldLoop(ctx context.Context) {
	t := time.NewTicker(f.opts.FoldEvery)
	defer t.Stop()
	var folded int64
	idle := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		committed := f.committed.Load()
		if idle++; committed == folded && idle < idleFoldTicks {
			continue
		}
		idle = 0
		fctx, cancel := context.WithTimeout(ctx, f.opts.CommitTimeout)
		err := f.store.FoldEvents(fctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				f.log.Warn("folding the event log failed", "err", err)
			}
			continue
		}
		folded = committed
	}
}

// idleFoldTicks is how many fold ticks pass without a fold while this
// flusher commits nothing.
const idleFoldTicks = 30

func (f *Flusher) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.CommitTimeout)
	defer cancel()
	now := f.now()
	if err := f.store.PruneEvents(ctx, now.Add(-f.opts.PayloadRetention), now); err != nil {
		f.log.Warn("pruning payload IDs failed", "err", err)
	}
}

// commit commits a group of batches in one transaction.
func (c *committer) commit(f *Flusher, group []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.CommitTimeout)
	var wrote []Seen
	err := f.store.TransactEvents(ctx, func(tx FlushTx) error {
		var err error
		wrote, err = c.apply(ctx, f, tx, group)
		return err
	})
	cancel()
	if err == nil {
		f.committed.Add(1)
		f.mu.Lock()
		if f.nTouched+len(wrote) > maxTouched {
			clear(f.touched)
			f.nTouched = 0
		}
		for _, s := range wrote {
			m := f.touched[s.EnvID]
			if m == nil {
				m = map[uint64]Seen{}
				f.touched[s.EnvID] = m
			}
			h := hash64(s.Kind, s.Key)
			if t, ok := m[h]; !ok {
				f.nTouched++
			} else if t.Kind == s.Kind && t.Key == s.Key {
				// Another committer's commit moved the row too: it
				// shows both.
				s.First, s.Last, s.LastValue = min(s.First, t.First), max(s.Last, t.Last), max(s.LastValue, t.LastValue)
			}
			m[h] = s
		}
		f.mu.Unlock()
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

// gather returns first and the batches queued after it, up to MaxGroup.
// While more posts are arriving (being read and aggregated) than the
// group holds, or the group holds less than half as many batches as the
// recent groups (lastGroup), it waits for more, up to Linger. Under
// steady load a group then holds about half the posts in flight,
// committed while the other half is decoded, instead of the few that came
// during the last commit (the senders a commit answered post again
// together, and without the wait the first of them would each be
// committed alone), and the cost of a commit is shared by that many more
// posts. Then, with one committer, it waits until Spacing has passed
// since the last group was gathered. A lone post (nothing else arriving,
// recent groups small, no group a moment ago) is committed at once.
func (f *Flusher) gather(first *pending) []*pending {
	group := []*pending{first}
	var timer *time.Timer
	var deadline time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// waitOne waits up to d for one more post.
	waitOne := func(d time.Duration) {
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case p := <-f.queue:
			group = append(group, p)
		case <-timer.C:
		}
	}
	for len(group) < f.opts.MaxGroup {
		select {
		case p := <-f.queue:
			group = append(group, p)
			continue
		default:
		}
		small := len(group) < f.lastGroup/2
		if !small && int64(len(group)) >= f.arriving.Load() {
			break
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(f.opts.Linger)
		}
		wait := deadline.Sub(now)
		if wait <= 0 {
			break
		}
		if !small {
			// Waiting only for arriving posts: look again soon whether
			// they are still coming (a post may be dropped).
			wait = min(wait, lingerPoll)
		}
		waitOne(wait)
	}
	// Under load, the posts that would be next are often not arriving
	// yet but waiting for a CPU (to be read, or, with senders on the same
	// machine, to be sent): a commit after every few posts then costs
	// more of the CPU than the posts it waits for. The spacing gives them
	// time to come. A post after a quiet moment is past it at once.
	for end := f.lastStart.Add(f.opts.Spacing); len(group) < f.opts.MaxGroup; {
		wait := time.Until(end)
		if wait <= 0 {
			break
		}
		waitOne(wait)
	}
	f.lastStart = time.Now()
	// The size to expect falls by a quarter per group, so that a few
	// small groups after a large one still wait for the rest of it.
	f.lastGroup = max(len(group), f.lastGroup*3/4)
	return group
}

// knownSources sets known[i] when this flusher committed sources of
// envID that cover srcs[i]: event_sources shows its hours already.
func (f *Flusher) knownSources(envID string, srcs []Source, known []bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m := f.touched[envID]
	if m == nil {
		return
	}
	for i := range srcs {
		s := &srcs[i]
		t, ok := m[s.h]
		known[i] = ok && t.Kind == s.Kind && t.Key == s.Key && t.First <= s.First && t.Last >= s.Last && t.LastValue >= s.LastValue
	}
}

// touchedFor returns what this flusher wrote to event_sources for one
// key (h its hash64), if anything.
func (f *Flusher) touchedFor(envID string, h uint64, kind, key string) (Seen, bool) {
	f.mu.RLock()
	t, ok := f.touched[envID][h]
	f.mu.RUnlock()
	if !ok || t.Kind != kind || t.Key != key {
		return Seen{}, false
	}
	return t, true
}

// apply writes a group inside its transaction: payload IDs first, so that
// a batch seen before adds nothing; then one log record per environment,
// the segments of its batches, and the sources that moved.
func (c *committer) apply(ctx context.Context, f *Flusher, tx FlushTx, group []*pending) ([]Seen, error) {
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
		return nil, err
	}
	// The events of an environment deleted since its key was checked go
	// with it.
	var claims []PayloadClaim
	asked := map[PayloadClaim]bool{}
	for _, p := range group {
		if c := (PayloadClaim{p.b.Env.ID, p.b.PayloadID}); exists[c.EnvID] && c.PayloadID != "" && !asked[c] {
			asked[c] = true
			claims = append(claims, c)
		}
	}
	var fresh map[PayloadClaim]bool
	if len(claims) > 0 {
		if fresh, err = tx.ClaimPayloads(ctx, claims, now); err != nil {
			return nil, err
		}
	}
	byEnv := map[string][]*Batch{}
	for _, p := range group {
		b := p.b
		if !exists[b.Env.ID] || b.Entries == 0 {
			continue
		}
		if b.PayloadID != "" {
			// Counted once: by the first batch of the group that has it,
			// and only if no earlier commit had it.
			c := PayloadClaim{b.Env.ID, b.PayloadID}
			if !fresh[c] {
				continue
			}
			delete(fresh, c)
		}
		byEnv[b.Env.ID] = append(byEnv[b.Env.ID], b)
	}
	seen := map[srcKey]*Seen{}
	for _, envID := range envIDs {
		bs := byEnv[envID]
		if len(bs) == 0 {
			continue
		}
		c.buf = append(c.buf[:0], f.version)
		for _, b := range bs {
			if b.Version != f.version {
				// A segment of another version (aggregated without
				// this flusher) is a record of its own.
				if err := tx.AppendLog(ctx, envID, append([]byte{b.Version}, b.Log...)); err != nil {
					return nil, err
				}
			} else {
				c.buf = append(c.buf, b.Log...)
			}
			for _, s := range b.Sources {
				k := srcKey{envID, s.Kind, s.Key}
				if t, ok := f.touchedFor(envID, s.h, s.Kind, s.Key); ok && t.First <= s.First && t.Last >= s.Last && t.LastValue >= s.LastValue {
					continue
				}
				v := seen[k]
				if v == nil {
					v = &Seen{EnvID: envID, ProjectID: b.Env.ProjectID, Kind: s.Kind, Key: s.Key, First: s.First, Last: s.Last}
					seen[k] = v
				}
				v.First, v.Last, v.LastValue = min(v.First, s.First), max(v.Last, s.Last), max(v.LastValue, s.LastValue)
			}
		}
		if len(c.buf) == 1 {
			continue
		}
		if err := tx.AppendLog(ctx, envID, c.buf); err != nil {
			return nil, err
		}
	}
	if cap(c.buf) > maxKeptBuf {
		c.buf = nil
	}
	if len(seen) == 0 {
		return nil, nil
	}
	list := make([]Seen, 0, len(seen))
	for k, s := range seen {
		if t, ok := f.touchedFor(k.env, hash64(k.kind, k.key), k.kind, k.key); ok {
			s.First, s.Last, s.LastValue = min(s.First, t.First), max(s.Last, t.Last), max(s.LastValue, t.LastValue)
		}
		// Keys are parts of a batch's Log: the copy kept in touched must
		// not hold the whole of it.
		s.Key = strings.Clone(s.Key)
		list = append(list, *s)
	}
	return list, tx.TouchSources(ctx, list)
}

// maxKeptBuf bounds the record buffer the flusher keeps between commits.
const maxKeptBuf = 1 << 20
