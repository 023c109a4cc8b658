package events

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/catalog"
)

func TestDecode(t *testing.T) {
	body := `[
		{"kind":"custom","key":"a","creationDate":1700000000000,"context":{"kind":"user","key":"u1"},"metricValue":2.5,"data":{"x":[1,2]}},
		{"kind":"custom","key":"b","context":{"kind":"multi","user":{"key":"u2"},"org":{"key":"o1","name":"x"}}},
		{"kind":"pageview","key":"g","url":"https://e.com/","contextKeys":{"user":"u3"}},
		{"kind":"click","url":"https://e.com/x","selector":"#a","context":{"key":"legacy"}},
		{"kind":"custom","key":"c","userKey":"u4","metricValue":1e400},
		{"kind":"summary","features":{"f":{}}},
		{"kind":"click_pageview","key":"g"},
		{"kind":"custom","key":7},
		42
	]`
	evs, skipped, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if skipped != 1 {
		t.Errorf("skipped = %d, want 1 (the element that is not an object)", skipped)
	}
	for i := range evs {
		sortRefs(evs[i].Contexts)
	}
	want := []Event{
		{Kind: "custom", Key: "a", CreationDate: 1700000000000, Value: 2.5, HasValue: true, Contexts: []ContextRef{{"user", "u1"}}},
		{Kind: "custom", Key: "b", Contexts: []ContextRef{{"org", "o1"}, {"user", "u2"}}},
		{Kind: "pageview", Key: "g", URL: "https://e.com/", Contexts: []ContextRef{{"user", "u3"}}},
		{Kind: "click", URL: "https://e.com/x", Contexts: []ContextRef{{"user", "legacy"}}},
		{Kind: "custom", Key: "c", Contexts: []ContextRef{{"user", "u4"}}},
		// A key that is not a string is no key: Aggregate counts nothing.
		{Kind: "custom"},
	}
	if d := cmp.Diff(want, evs); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, bad := range []string{"", "{}", "[", "[1,]", "null", "[] x"} {
		if _, _, err := Decode([]byte(bad)); err != ErrMalformed {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func sortRefs(r []ContextRef) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && r[j].Kind < r[j-1].Kind; j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

// TestSketchError checks the distinct-context estimate within the error
// docs/API.md states: exact or nearly so for small counts, within 3.3%
// standard error (checked at 4 sigma) for large ones, after merging and
// after a round trip through the stored form.
func TestSketchError(t *testing.T) {
	for _, n := range []int{1, 10, 100, 1000, 10_000, 200_000} {
		var a, b Sketch
		for i := range n {
			s := &a
			if i%2 == 1 {
				s = &b
			}
			s.Add(hash64("user", fmt.Sprintf("user-%d", i)))
			s.Add(hash64("user", fmt.Sprintf("user-%d", i))) // duplicates count once
		}
		stored, err := DecodeContexts(EncodeContexts(map[string]*Sketch{"user": &a}))
		if err != nil {
			t.Fatal(err)
		}
		m := stored["user"]
		m.Merge(&b)
		got := m.Estimate()
		rel := math.Abs(float64(got)-float64(n)) / float64(n)
		limit := 4 * 1.04 / math.Sqrt(hllRegisters)
		if n <= 100 {
			limit = 0.03
		}
		if rel > limit {
			t.Errorf("n=%d: estimate %d, relative error %.3f > %.3f", n, got, rel, limit)
		}
	}
}

func TestMatchURL(t *testing.T) {
	for _, tc := range []struct {
		m    catalog.URLMatcher
		href string
		want bool
	}{
		{catalog.URLMatcher{Kind: "exact", URL: "https://a.com/p"}, "https://a.com/p", true},
		{catalog.URLMatcher{Kind: "exact", URL: "https://a.com/p"}, "https://a.com/p/", true},
		{catalog.URLMatcher{Kind: "exact", URL: "https://a.com/p"}, "https://a.com/p?q=1", false},
		{catalog.URLMatcher{Kind: "exact", URL: "https://a.com/p"}, "https://a.com/pp", false},
		{catalog.URLMatcher{Kind: "canonical", URL: "https://a.com/p"}, "https://a.com/p?q=1#h", true},
		{catalog.URLMatcher{Kind: "canonical", URL: "https://a.com/p"}, "https://a.com/p/#/route", true},
		{catalog.URLMatcher{Kind: "canonical", URL: "https://a.com/p"}, "https://a.com/q", false},
		{catalog.URLMatcher{Kind: "substring", Substring: "/docs"}, "https://a.com/docs/x?y", true},
		{catalog.URLMatcher{Kind: "substring", Substring: "docs"}, "https://a.com/?docs", false},
		{catalog.URLMatcher{Kind: "substring", Substring: "/route"}, "https://a.com/#/route", true},
		{catalog.URLMatcher{Kind: "substring", Substring: "section"}, "https://a.com/#section", false},
		{catalog.URLMatcher{Kind: "regex", Pattern: `/items/\d+$`}, "https://a.com/items/12?x", true},
		{catalog.URLMatcher{Kind: "regex", Pattern: `/items/\d+$`}, "https://a.com/items/ab", false},
		{catalog.URLMatcher{Kind: "regex", Pattern: `(`}, "https://a.com/", false},
		{catalog.URLMatcher{Kind: "unknown", URL: "https://a.com/"}, "https://a.com/", false},
	} {
		re, _ := regexp.Compile(tc.m.Pattern)
		if tc.m.Kind != "regex" {
			re = nil
		}
		if got := MatchURL(tc.m, re, tc.href); got != tc.want {
			t.Errorf("MatchURL(%+v, %q) = %v, want %v", tc.m, tc.href, got, tc.want)
		}
	}
}

// hourOf is the rule hourWindow implements, with time.Time arithmetic.
func hourOf(created int64, now time.Time) int64 {
	t := now
	if created > 0 {
		c := time.UnixMilli(created)
		if !c.Before(now.Add(-MaxEventAge)) && !c.After(now.Add(MaxEventSkew)) {
			t = c
		}
	}
	return t.UTC().Truncate(time.Hour).UnixMilli()
}

func TestHourOf(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 30, 0, 0, time.UTC)
	hour := func(t time.Time) int64 { return t.Truncate(time.Hour).UnixMilli() }
	for _, tc := range []struct {
		created int64
		want    int64
	}{
		{0, hour(now)},
		{now.Add(-2 * time.Hour).UnixMilli(), hour(now.Add(-2 * time.Hour))},
		{now.Add(59 * time.Minute).UnixMilli(), hour(now.Add(59 * time.Minute))},
		{now.Add(2 * time.Hour).UnixMilli(), hour(now)},
		{now.Add(-31 * 24 * time.Hour).UnixMilli(), hour(now)},
	} {
		if got := hourOf(tc.created, now); got != tc.want {
			t.Errorf("hourOf(%d) = %d, want %d", tc.created, got, tc.want)
		}
		if got := newHourWindow(now).hour(tc.created); got != tc.want {
			t.Errorf("hour(%d) = %d, want %d", tc.created, got, tc.want)
		}
	}
	// At the edges of the window, to the millisecond, with receiving times
	// that are not whole milliseconds.
	rng := rand.New(rand.NewPCG(5, 6))
	for range 10_000 {
		at := now.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		var created int64
		switch rng.IntN(4) {
		case 0:
			created = at.Add(-MaxEventAge).UnixMilli() + rng.Int64N(5) - 2
		case 1:
			created = at.Add(MaxEventSkew).UnixMilli() + rng.Int64N(5) - 2
		case 2:
			created = rng.Int64N(math.MaxInt64)
		default:
			created = at.UnixMilli() + rng.Int64N(int64(40*24*time.Hour/time.Millisecond)) - int64(35*24*time.Hour/time.Millisecond)
		}
		if got, want := newHourWindow(at).hour(created), hourOf(created, at); got != want {
			t.Fatalf("at %v: hour(%d) = %d, hourOf %d", at, created, got, want)
		}
	}
}
