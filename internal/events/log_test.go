package events

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// add counts one event: the reference the aggregator and the log must
// agree with.
func (r *Rollup) add(e *Event) {
	r.Count++
	if e.HasValue {
		r.addValue(1, e.Value, e.Value, e.Value)
	}
	for _, c := range e.Contexts {
		if c.Kind == "" || len(c.Kind) > maxContextKindLen || c.Key == "" {
			continue
		}
		s := r.Contexts[c.Kind]
		if s == nil {
			if len(r.Contexts) >= maxContextKinds {
				continue
			}
			if r.Contexts == nil {
				r.Contexts = map[string]*Sketch{}
			}
			s = &Sketch{}
			r.Contexts[c.Kind] = s
		}
		s.Add(hash64(c.Kind, c.Key))
	}
}

// registers returns the registers of s, whatever its form.
func registers(s *Sketch) [hllRegisters]uint8 {
	var out [hllRegisters]uint8
	if s.dense != nil {
		copy(out[:], s.dense)
		return out
	}
	for _, e := range s.sparse {
		out[e>>6] = uint8(e & 63)
	}
	return out
}

// diffRows describes how two sets of rows differ, "" when they do not.
func diffRows(got, want map[RollupKey]*Rollup) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d rows, want %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if g == nil {
			return fmt.Sprintf("row %+v missing", k)
		}
		if g.Count != w.Count || g.ValueCount != w.ValueCount || g.Sum != w.Sum ||
			(w.ValueCount > 0 && (g.Min != w.Min || g.Max != w.Max)) {
			return fmt.Sprintf("row %+v = %d/%d/%v/%v/%v, want %d/%d/%v/%v/%v", k, g.Count, g.ValueCount, g.Sum, g.Min, g.Max,
				w.Count, w.ValueCount, w.Sum, w.Min, w.Max)
		}
		if len(g.Contexts) != len(w.Contexts) {
			return fmt.Sprintf("row %+v: %d context kinds, want %d", k, len(g.Contexts), len(w.Contexts))
		}
		for kind, ws := range w.Contexts {
			gs := g.Contexts[kind]
			if gs == nil || registers(gs) != registers(ws) {
				return fmt.Sprintf("row %+v: sketch of %q differs", k, kind)
			}
		}
	}
	return ""
}

// randomEvents returns n events over few keys, kinds and hours, with
// context kinds and keys, values and keys the log must carry as they are.
func randomEvents(rng *rand.Rand, n int, now time.Time) []Event {
	kinds := []string{KindCustom, KindPageview, KindClick}
	keys := []string{"a", "b", "", "ключ", "k\x00y", string(make([]byte, 300))}
	evs := make([]Event, n)
	for i := range evs {
		e := Event{Kind: kinds[rng.IntN(len(kinds))], Key: keys[rng.IntN(len(keys))]}
		if rng.IntN(2) == 0 {
			e.CreationDate = now.Add(-time.Duration(rng.IntN(3)) * time.Hour).UnixMilli()
		}
		if rng.IntN(3) == 0 {
			e.HasValue, e.Value = true, float64(rng.IntN(100))-49.5
		}
		nctx, kinds := rng.IntN(3), []string{"user", "org", "", "device"}
		if rng.IntN(10) == 0 {
			nctx, kinds = 30, []string{"k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10",
				"k11", "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19", "user"}
		}
		for range nctx {
			ck := kinds[rng.IntN(len(kinds))]
			e.Contexts = append(e.Contexts, ContextRef{Kind: ck, Key: fmt.Sprint(rng.IntN(700))})
		}
		evs[i] = e
	}
	return evs
}

// TestAggregate: a batch's log segment adds up to what counting its events
// one by one gives (values, hours, every context kind, sketches sparse and
// dense), and its sources name each kind and key with its hours.
func TestAggregate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 12, 1, 14, 30, 0, 0, time.UTC)
	env := &Env{ID: "env", ProjectID: "p"}
	var a aggregator
	for round := range 30 {
		a.start(now)
		evs := randomEvents(rng, []int{0, 1, 5, 200, 3000}[round%5], now)
		if round == 9 {
			// One row with more distinct contexts than a sparse sketch holds.
			for i := range evs {
				evs[i] = Event{Kind: KindCustom, Key: "many", Contexts: []ContextRef{{"user", fmt.Sprint(i)}, {"org", "o"}}}
			}
		}
		want := map[RollupKey]*Rollup{}
		sources := map[[2]string]Source{}
		for i := range evs {
			e := &evs[i]
			a.add(e, e.Key)
			if e.Key == "" {
				continue
			}
			k := RollupKey{EnvID: env.ID, Kind: e.Kind, Key: e.Key, Hour: hourOf(e.CreationDate, now)}
			if want[k] == nil {
				want[k] = &Rollup{}
			}
			want[k].add(e)
			s, ok := sources[[2]string{e.Kind, e.Key}]
			if !ok {
				s = Source{Kind: e.Kind, Key: e.Key, First: k.Hour, Last: k.Hour, h: hash64(e.Kind, e.Key)}
			}
			s.First, s.Last = min(s.First, k.Hour), max(s.Last, k.Hour)
			if e.HasValue {
				s.LastValue = max(s.LastValue, k.Hour)
			}
			sources[[2]string{e.Kind, e.Key}] = s
		}
		b := a.batch(env, "", nil)
		if b.Entries != len(want) {
			t.Fatalf("round %d: %d entries, want %d", round, b.Entries, len(want))
		}
		var tot Totals
		if err := tot.Add(env.ID, []byte(string(rune(logVersion))+b.Log)); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if d := diffRows(tot.Rows(), want); d != "" {
			t.Fatalf("round %d: %s", round, d)
		}
		if len(b.Sources) != len(sources) {
			t.Fatalf("round %d: %d sources, want %d", round, len(b.Sources), len(sources))
		}
		for _, s := range b.Sources {
			if w := sources[[2]string{s.Kind, s.Key}]; s != w {
				t.Errorf("round %d: source %+v, want %+v", round, s, w)
			}
		}
		// Records of several batches add up; AppendLog's form of the
		// totals reads back the same.
		var again Totals
		if err := again.Add(env.ID, []byte(string(rune(logVersion))+b.Log+b.Log)); err != nil {
			t.Fatal(err)
		}
		if err := again.Add(env.ID, AppendLog(nil, len(want), maps.All(want))); err != nil {
			t.Fatal(err)
		}
		thrice := map[RollupKey]*Rollup{}
		for k, r := range want {
			c := r.clone()
			c.Merge(r)
			c.Merge(r)
			thrice[k] = c
		}
		if d := diffRows(again.Rows(), thrice); d != "" {
			t.Fatalf("round %d, three records: %s", round, d)
		}
	}
}

// FuzzLog: reading any bytes as a log record never panics; a record read
// as corrupt adds nothing; one that reads adds up to the same rows as the
// record AppendLog writes of those rows.
func FuzzLog(f *testing.F) {
	var a aggregator
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	a.start(now)
	for _, n := range []int{0, 1, 20, 600} {
		evs := randomEvents(rng, n, now)
		for i := range evs {
			a.add(&evs[i], evs[i].Key)
		}
		b := a.batch(&Env{ID: "e"}, "", nil)
		f.Add([]byte(string(rune(logVersion)) + b.Log + b.Log))
	}
	f.Add([]byte{1, 1, 0, 1, 'x', 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, rec []byte) {
		var tot Totals
		if err := tot.Add("e", rec); err != nil {
			if tot.Len() != 0 {
				t.Fatalf("a corrupt record added %d rows", tot.Len())
			}
			return
		}
		rows := tot.Rows()
		for k, r := range rows {
			if r.Count < 0 || r.ValueCount < 0 || k.EnvID != "e" {
				t.Fatalf("row %+v: %+v", k, r)
			}
		}
		var again Totals
		if err := again.Add("e", AppendLog(nil, len(rows), maps.All(rows))); err != nil {
			t.Fatalf("AppendLog's record of %d rows: %v", len(rows), err)
		}
		if d := diffRows(again.Rows(), rows); d != "" {
			t.Fatal(d)
		}
	})
}

// benchRecord is a log record of posts like the ingestion benchmark's:
// 100 custom events each, over 1,000 keys and 10,000 users.
func benchRecord(posts int) []byte {
	now := time.Now()
	var a aggregator
	rec := []byte{logVersion}
	k := 0
	for range posts {
		a.start(now)
		evs := make([]Event, 100)
		for j := range evs {
			evs[j] = Event{Kind: KindCustom, Key: fmt.Sprintf("event-%d", k%1000), CreationDate: now.UnixMilli(),
				Contexts: []ContextRef{{"user", fmt.Sprintf("user-%d", (k*7)%10000)}}, HasValue: k%3 == 0, Value: 1.5}
			a.add(&evs[j], evs[j].Key)
			k++
		}
		rec = append(rec, a.batch(&Env{ID: "e"}, "", nil).Log...)
	}
	return rec
}

// BenchmarkFoldTotals adds up a record of 100 posts (10,000 entries).
func BenchmarkFoldTotals(b *testing.B) {
	rec := benchRecord(100)
	for b.Loop() {
		var t Totals
		if err := t.Add("env", rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/entry")
}

// BenchmarkAggregate aggregates posts of 100 events.
func BenchmarkAggregate(b *testing.B) {
	now := time.Now()
	evs := make([]Event, 100)
	for j := range evs {
		evs[j] = Event{Kind: KindCustom, Key: fmt.Sprintf("event-%d", j*7%1000), CreationDate: now.UnixMilli(),
			Contexts: []ContextRef{{"user", fmt.Sprintf("user-%d", j*7)}}, HasValue: j%3 == 0, Value: 1.5}
	}
	var a aggregator
	for b.Loop() {
		a.start(now)
		for j := range evs {
			a.add(&evs[j], evs[j].Key)
		}
		a.batch(&Env{ID: "e"}, "", nil)
	}
}

// clone returns a copy of r that shares nothing with it.
func (r *Rollup) clone() *Rollup {
	c := *r
	if r.Contexts != nil {
		c.Contexts = make(map[string]*Sketch, len(r.Contexts))
		for kind, s := range r.Contexts {
			c.Contexts[kind] = &Sketch{sparse: slices.Clone(s.sparse), dense: slices.Clone(s.dense)}
		}
	}
	return &c
}

// TestLogVersion1: records written in version 1, before an upgrade, still
// fold to the same rows, and are larger than the same rows in version 2.
func TestLogVersion1(t *testing.T) {
	hour := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixMilli()
	var users, orgs Sketch
	users.Add(hash64("user", "u1"))
	users.Add(hash64("user", "u2"))
	orgs.Add(hash64("org", "o1"))
	want := map[RollupKey]*Rollup{
		{EnvID: "e", Kind: KindCustom, Key: "k", Hour: hour}:               {Count: 3, ValueCount: 2, Sum: 3, Min: 1, Max: 2, Contexts: map[string]*Sketch{"user": &users, "org": &orgs}},
		{EnvID: "e", Kind: KindPageview, Key: "p", Hour: hour + 3_600_000}: {Count: 1, ValueCount: 1, Sum: 4.5, Min: 4.5, Max: 4.5, Contexts: map[string]*Sketch{"user": &users}},
		{EnvID: "e", Kind: "other", Key: "o", Hour: hour}:                  {Count: 2},
	}
	// Version 1, by hand: the entries of want, in this order.
	v1 := []byte{1}
	v1 = binary.AppendUvarint(v1, 3)
	f64 := func(b []byte, vs ...float64) []byte {
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	v1 = append(v1, 1, 1, 'k')
	v1 = binary.AppendVarint(v1, hour)
	v1 = append(v1, 3, 2)
	v1 = f64(v1, 3, 1, 2)
	v1 = append(v1, 2, 3, 'o', 'r', 'g')
	v1 = orgs.appendTo(v1)
	v1 = append(v1, 4, 'u', 's', 'e', 'r')
	v1 = users.appendTo(v1)
	v1 = append(v1, 2, 1, 'p')
	v1 = binary.AppendVarint(v1, 3_600_000)
	v1 = append(v1, 1, 1)
	v1 = f64(v1, 4.5, 4.5, 4.5)
	v1 = append(v1, 1, 4, 'u', 's', 'e', 'r')
	v1 = users.appendTo(v1)
	v1 = append(v1, 0, 5, 'o', 't', 'h', 'e', 'r', 1, 'o')
	v1 = binary.AppendVarint(v1, -3_600_000)
	v1 = append(v1, 2, 0, 0)

	var old Totals
	if err := old.Add("e", v1); err != nil {
		t.Fatal(err)
	}
	if d := diffRows(old.Rows(), want); d != "" {
		t.Fatalf("version 1: %s", d)
	}
	v2 := AppendLog(nil, len(want), maps.All(want))
	if v2[0] != logVersion || len(v2) >= len(v1) {
		t.Fatalf("version 2 record: version %d, %d bytes against version 1's %d", v2[0], len(v2), len(v1))
	}
	var now Totals
	if err := now.Add("e", v2); err != nil {
		t.Fatal(err)
	}
	if d := diffRows(now.Rows(), want); d != "" {
		t.Fatalf("version 2: %s", d)
	}
	// A single value flagged with no values is not a record.
	bad := []byte{logVersion, 1, 1, 1, 'k', 0, 1, 1}
	bad = f64(bad, 1)
	if err := (&Totals{}).Add("e", append(bad, 0)); err == nil {
		t.Fatal("a record flagging one value of none was read")
	}
}
