package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFlushStore keeps claimed payload IDs, the event log and rollups in
// memory and takes a while per commit, as a durable commit does.
type fakeFlushStore struct {
	mu      sync.Mutex
	commits atomic.Int64
	payload map[[2]string]bool
	log     []LogRecord
	rows    map[RollupKey]*Rollup
	sources []Seen
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
func (s *fakeFlushStore) FoldEvents(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		_, corrupt, more, err := Fold(ctx, fakeTx{s}, 2)
		if err != nil || corrupt != 0 {
			return fmt.Errorf("fold: %v, %d corrupt", err, corrupt)
		}
		if !more {
			return nil
		}
	}
}

// fold folds the log of s, failing t if that fails.
func (s *fakeFlushStore) fold(t *testing.T) {
	t.Helper()
	if err := s.FoldEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type fakeTx struct{ s *fakeFlushStore }

func (t fakeTx) ExistingEnvironments(_ context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = id != "gone"
	}
	return out, nil
}
func (t fakeTx) ClaimPayloads(_ context.Context, claims []PayloadClaim, _ time.Time) (map[PayloadClaim]bool, error) {
	out := map[PayloadClaim]bool{}
	for _, c := range claims {
		k := [2]string{c.EnvID, c.PayloadID}
		if !t.s.payload[k] {
			t.s.payload[k] = true
			out[c] = true
		}
	}
	return out, nil
}
func (t fakeTx) AppendLog(_ context.Context, envID string, rec []byte) error {
	t.s.log = append(t.s.log, LogRecord{EnvID: envID, Data: slices.Clone(rec)})
	return nil
}
func (t fakeTx) TakeLog(_ context.Context, limit int) ([]LogRecord, error) {
	n := min(limit, len(t.s.log))
	out := t.s.log[:n:n]
	t.s.log = t.s.log[n:]
	return out, nil
}
func (t fakeTx) Rollups(_ context.Context, keys []RollupKey) (map[RollupKey]*Rollup, error) {
	out := map[RollupKey]*Rollup{}
	for _, k := range keys {
		if r := t.s.rows[k]; r != nil {
			out[k] = r.clone()
		}
	}
	return out, nil
}
func (t fakeTx) PutRollups(_ context.Context, rows map[RollupKey]*Rollup) error {
	for k, r := range rows {
		t.s.rows[k] = r.clone()
	}
	return nil
}
func (t fakeTx) TouchSources(_ context.Context, seen []Seen) error {
	t.s.sources = append(t.s.sources, seen...)
	return nil
}

// runFlusher runs a flusher with opts on a fake store until the test ends.
func runFlusher(t *testing.T, opts FlusherOptions) (*fakeFlushStore, *Flusher) {
	store := &fakeFlushStore{payload: map[[2]string]bool{}, rows: map[RollupKey]*Rollup{}}
	f := NewFlusher(store, nil, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return store, f
}

func batch(env, payload, key string, n int) *Batch {
	var a aggregator
	a.start(time.UnixMilli(0))
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Kind: KindCustom, Key: key, Contexts: []ContextRef{{"user", fmt.Sprint(i)}}}
		a.add(&evs[i], key)
	}
	return a.batch(&Env{ID: env, ProjectID: "p"}, payload, nil)
}

// TestGroupCommit: concurrent submissions share transactions, a payload
// ID counts once even within one group, and every Submit returns after
// the commit that holds its batch; with one committer and with three
// (PostgreSQL's default), which take turns gathering groups.
func TestGroupCommit(t *testing.T) {
	for _, committers := range []int{1, 3} {
		t.Run(fmt.Sprint(committers, " committers"), func(t *testing.T) { testGroupCommit(t, committers) })
	}
}

func testGroupCommit(t *testing.T, committers int) {
	store := &fakeFlushStore{payload: map[[2]string]bool{}, rows: map[RollupKey]*Rollup{}, delay: 20 * time.Millisecond}
	f := NewFlusher(store, nil, FlusherOptions{Committers: committers})
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
	store.fold(t)
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

// failingStore is a fakeFlushStore that can roll back an attempt:
// failAttempts attempts are rolled back, and retried inside
// TransactEvents when retry is set, else returned as errors.
type failingStore struct {
	fakeFlushStore
	failAttempts int
	retry        bool
}

func (s *failingStore) TransactEvents(ctx context.Context, fn func(FlushTx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		savedLog := slices.Clone(s.fakeFlushStore.log)
		savedPayload := maps.Clone(s.payload)
		err := fn(fakeTx{&s.fakeFlushStore})
		if err == nil && s.failAttempts == 0 {
			return nil
		}
		s.fakeFlushStore.log, s.payload = savedLog, savedPayload
		if err == nil {
			s.failAttempts--
			err = errors.New("commit failed")
		}
		if !s.retry {
			return err
		}
	}
}

// commit runs one group commit of bs, as Run does for batches queued
// together, and returns each batch's result.
func commit(f *Flusher, bs ...*Batch) []error {
	ps := make([]*pending, len(bs))
	for i, b := range bs {
		f.pending.Add(b.size())
		ps[i] = &pending{b: b, done: make(chan error, 1)}
		if i > 0 {
			f.queue <- ps[i]
		}
	}
	var c committer
	c.commit(f, f.gather(ps[0]))
	errs := make([]error, len(bs))
	for i, p := range ps {
		errs[i] = <-p.done
	}
	return errs
}

// TestFlusherReuseAfterFailure: a commit that fails, or is retried, adds
// its batches once when it succeeds.
func TestFlusherReuseAfterFailure(t *testing.T) {
	key := RollupKey{EnvID: "e", Kind: KindCustom, Key: "k"}
	for _, retry := range []bool{false, true} {
		s := &failingStore{fakeFlushStore: fakeFlushStore{payload: map[[2]string]bool{}, rows: map[RollupKey]*Rollup{}}, retry: retry}
		f := NewFlusher(s, nil, FlusherOptions{})
		if errs := commit(f, batch("e", "p1", "k", 5)); errs[0] != nil {
			t.Fatal(errs[0])
		}
		// Two batches in one group, whose commit fails once.
		s.failAttempts = 1
		second, third := batch("e", "p2", "k", 3), batch("e", "p2b", "k", 2)
		errs := commit(f, second, third)
		for i, err := range errs {
			if retry != (err == nil) {
				t.Fatalf("retry %v: batch %d: %v", retry, i, err)
			}
		}
		if errs[0] != nil {
			if errs := commit(f, second, third); errs[0] != nil || errs[1] != nil {
				t.Fatal(errs)
			}
		}
		// The same payload again, now in a group of its own: not counted.
		if errs := commit(f, batch("e", "p3", "k", 1), batch("e", "p2", "k", 3)); errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		s.fold(t)
		if got := s.rows[key].Count; got != 11 {
			t.Errorf("retry %v: count = %d, want 11", retry, got)
		}
		if f.Pending() != 0 {
			t.Errorf("pending = %d", f.Pending())
		}
	}
}

// TestKnownSources: a batch carries only the sources the flusher has not
// committed (or committed with fewer hours), and a commit writes only
// those.
func TestKnownSources(t *testing.T) {
	s := &fakeFlushStore{payload: map[[2]string]bool{}, rows: map[RollupKey]*Rollup{}}
	f := NewFlusher(s, nil, FlusherOptions{})
	env := &Env{ID: "e", ProjectID: "p"}
	now := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	post := func(keys ...string) *Batch {
		var a aggregator
		a.start(now)
		evs := make([]Event, len(keys))
		for i, k := range keys {
			evs[i] = Event{Kind: KindCustom, Key: k}
			if k == "v" {
				evs[i].HasValue = true
			}
			a.add(&evs[i], k)
		}
		return a.batch(env, "", f)
	}
	names := func(b *Batch) []string {
		var out []string
		for _, s := range b.Sources {
			out = append(out, s.Key)
		}
		slices.Sort(out)
		return out
	}
	b := post("a", "b")
	if got := names(b); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("first batch's sources: %v", got)
	}
	if errs := commit(f, b); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if len(s.sources) != 2 {
		t.Fatalf("sources written: %+v", s.sources)
	}
	if got := names(post("a", "b", "c")); !slices.Equal(got, []string{"c"}) {
		t.Errorf("sources after a and b were committed: %v, want [c]", got)
	}
	now = now.Add(time.Hour)
	if got := names(post("a")); !slices.Equal(got, []string{"a"}) {
		t.Errorf("sources an hour later: %v, want [a]", got)
	}
}

// TestFoldBounds: one fold takes records until the log is empty, or until
// it holds foldMaxRows rows, and then says there may be more; folds one
// after another add every record once.
func TestFoldBounds(t *testing.T) {
	s := &fakeFlushStore{payload: map[[2]string]bool{}, rows: map[RollupKey]*Rollup{}}
	const perRecord = foldMaxRows / 2
	want := map[RollupKey]int64{}
	for i := range 4 {
		rows := map[RollupKey]*Rollup{}
		for j := range perRecord {
			// Records 0 and 1 share their rows; 2 and 3 have rows of their own.
			k := RollupKey{EnvID: "e", Kind: KindCustom, Key: fmt.Sprint(max(0, i-1)*perRecord + j)}
			rows[k] = &Rollup{Count: int64(i + 1)}
			want[k] += int64(i + 1)
		}
		s.log = append(s.log, LogRecord{EnvID: "e", Data: AppendLog(nil, len(rows), maps.All(rows))})
	}
	for i, w := range []struct {
		taken int
		more  bool
	}{{3, true}, {1, false}, {0, false}} {
		taken, corrupt, more, err := Fold(context.Background(), fakeTx{s}, 1)
		if err != nil || corrupt != 0 || taken != w.taken || more != w.more {
			t.Fatalf("fold %d: taken %d, corrupt %d, more %v, err %v; want taken %d, more %v", i, taken, corrupt, more, err, w.taken, w.more)
		}
	}
	if len(s.rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(s.rows), len(want))
	}
	for k, n := range want {
		if r := s.rows[k]; r == nil || r.Count != n {
			t.Fatalf("row %s: %+v, want %d", k.Key, r, n)
		}
	}
}

// TestGroupCommitWaitsForArriving: while more posts are arriving than a
// group holds, a group commit waits for them (here Linger is far longer
// than the test); it commits at once when the group holds as many as are
// still arriving, also when arriving posts are dropped before they are
// submitted, and when nothing else is arriving.
func TestGroupCommitWaitsForArriving(t *testing.T) {
	store, f := runFlusher(t, FlusherOptions{Linger: time.Hour})
	submit := func(key string) chan error {
		errc := make(chan error, 1)
		go func() { errc <- f.SubmitArriving(context.Background(), batch("e", "", key, 1)) }()
		return errc
	}
	taken := func() {
		for f.Pending() == 0 || len(f.queue) > 0 {
			time.Sleep(time.Millisecond)
		}
	}
	wait := func(errcs ...chan error) {
		t.Helper()
		for i, errc := range errcs {
			if err := <-errc; err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
		}
	}
	commits := func(want int64) {
		t.Helper()
		if c := store.commits.Load(); c != want {
			t.Fatalf("%d commits, want %d", c, want)
		}
	}
	// Four posts arriving; the first is submitted and taken by the
	// flusher, which waits for more instead of committing it alone; with
	// the second the group holds as many as are still coming.
	f.Arriving(4)
	first := submit("a")
	taken()
	wait(first, submit("b"))
	commits(1)
	f.Arriving(-2) // the other two were dropped
	// Three arriving, two of them dropped while the first waits.
	f.Arriving(3)
	third := submit("c")
	taken()
	f.Arriving(-2)
	wait(third)
	commits(2)
	// Nothing else arriving: a lone post is committed at once.
	f.Arriving(1)
	wait(submit("d"))
	commits(3)
	if n := f.arriving.Load(); n != 0 {
		t.Fatalf("%d posts still arriving", n)
	}
	store.fold(t)
	for _, k := range []string{"a", "b", "c", "d"} {
		if r := store.rows[RollupKey{EnvID: "e", Kind: KindCustom, Key: k}]; r == nil || r.Count != 1 {
			t.Errorf("row %s = %+v, want 1 event", k, r)
		}
	}
}

// TestGroupCommitWaitsForRecentSize: after large groups, a group commit
// waits (here Linger is far longer than the test) until it holds half the
// recent group size, which falls by a quarter per group.
func TestGroupCommitWaitsForRecentSize(t *testing.T) {
	store := &fakeFlushStore{payload: map[[2]string]bool{}, rows: map[RollupKey]*Rollup{}}
	f := NewFlusher(store, nil, FlusherOptions{Linger: time.Hour})
	f.lastGroup = 10
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	submit := func() chan error {
		errc := make(chan error, 1)
		go func() { errc <- f.Submit(context.Background(), batch("e", "", "k", 1)) }()
		return errc
	}
	errcs := []chan error{submit()}
	for f.Pending() == 0 || len(f.queue) > 0 {
		time.Sleep(time.Millisecond)
	}
	for range 4 {
		errcs = append(errcs, submit())
	}
	for i, errc := range errcs {
		if err := <-errc; err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if c := store.commits.Load(); c != 1 {
		t.Fatalf("%d commits for five batches after groups of 10, want 1", c)
	}
	cancel()
	<-done
	if f.lastGroup != 7 {
		t.Errorf("recent group size %d after groups of 10 and 5, want 7", f.lastGroup)
	}
	store.fold(t)
	if r := store.rows[RollupKey{EnvID: "e", Kind: KindCustom, Key: "k"}]; r == nil || r.Count != 5 {
		t.Errorf("row = %+v, want 5 events", r)
	}
}

// TestFlusherLogVersion: the flusher writes version 1 records unless told
// to write version 2 (releases before version 2 read only version 1), and
// both fold to the same rows.
func TestFlusherLogVersion(t *testing.T) {
	for _, tc := range []struct{ opt, want int }{{0, 1}, {1, 1}, {2, 2}} {
		store := &fakeFlushStore{payload: map[[2]string]bool{}, rows: map[RollupKey]*Rollup{}}
		f := NewFlusher(store, nil, FlusherOptions{LogVersion: tc.opt})
		var a aggregator
		a.start(time.UnixMilli(0))
		evs := []Event{
			{Kind: KindCustom, Key: "k", Contexts: []ContextRef{{"user", "u1"}}, HasValue: true, Value: 2.5},
			{Kind: KindCustom, Key: "k", Contexts: []ContextRef{{"user", "u2"}}},
		}
		for i := range evs {
			a.add(&evs[i], evs[i].Key)
		}
		b := a.batch(&Env{ID: "e", ProjectID: "p"}, "", f)
		// And a batch aggregated without a flusher (logVersion).
		other := batch("e", "", "k2", 1)
		for _, err := range commit(f, b, other) {
			if err != nil {
				t.Fatal(err)
			}
		}
		// One record per version: the flusher's, holding b, and, when
		// it is not logVersion, one for the other batch.
		versions := map[byte][]byte{}
		for _, rec := range store.log {
			versions[rec.Data[0]] = rec.Data
		}
		wantRecords := 2
		if tc.want == logVersion {
			wantRecords = 1
		}
		mine := versions[byte(tc.want)]
		if len(store.log) != wantRecords || len(versions) != wantRecords || mine == nil || versions[logVersion] == nil {
			t.Fatalf("LogVersion %d: records %v, want %d, one in version %d", tc.opt, store.log, wantRecords, tc.want)
		}
		if named := bytes.Contains(mine, []byte("\x04user")); named != (tc.want == 1) {
			t.Errorf("LogVersion %d: context kind written by name: %v", tc.opt, named)
		}
		store.fold(t)
		r := store.rows[RollupKey{EnvID: "e", Kind: KindCustom, Key: "k"}]
		if r == nil || r.Count != 2 || r.ValueCount != 1 || r.Sum != 2.5 || r.Contexts["user"].Estimate() != 2 {
			t.Errorf("LogVersion %d: row %+v", tc.opt, r)
		}
		if r := store.rows[RollupKey{EnvID: "e", Kind: KindCustom, Key: "k2"}]; r == nil || r.Count != 1 {
			t.Errorf("LogVersion %d: row of the other batch %+v", tc.opt, r)
		}
	}
}

// TestGroupCommitSpacing: with one committer, a group is gathered no
// sooner than Spacing after the one before, and holds the posts that came
// meanwhile; a post after a quiet moment is committed at once.
func TestGroupCommitSpacing(t *testing.T) {
	store, f := runFlusher(t, FlusherOptions{Spacing: time.Second})
	submit := func(key string) chan error {
		errc := make(chan error, 1)
		go func() {
			sctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
			defer stop()
			errc <- f.Submit(sctx, batch("e", "", key, 1))
		}()
		return errc
	}
	wait := func(errcs ...chan error) {
		t.Helper()
		for i, errc := range errcs {
			if err := <-errc; err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
		}
	}
	// No group before: committed at once, alone.
	wait(submit("a"))
	if c := store.commits.Load(); c != 1 {
		t.Fatalf("%d commits after the first post, want 1", c)
	}
	// Within the spacing, four posts 20 ms apart: one group (without the
	// spacing, each would be committed alone).
	var errcs []chan error
	for _, k := range []string{"b", "c", "d", "e"} {
		errcs = append(errcs, submit(k))
		time.Sleep(20 * time.Millisecond)
	}
	wait(errcs...)
	if c := store.commits.Load(); c != 2 {
		t.Fatalf("%d commits for one post and then four within the spacing, want 2", c)
	}
	store.fold(t)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if r := store.rows[RollupKey{EnvID: "e", Kind: KindCustom, Key: k}]; r == nil || r.Count != 1 {
			t.Errorf("row %s = %+v, want 1 event", k, r)
		}
	}
}
