package api

import (
	"bytes"
	"testing"
	"time"
)

func TestPageCache(t *testing.T) {
	c := newPageCache(8000)
	k := pageKey{project: "p", query: "filter=x", variant: "v"}
	body := bytes.Repeat([]byte("a"), 900)
	c.put(k, pageEntry{gen: 3, body: body})
	if got, ok := c.get(k, 3); !ok || !bytes.Equal(got, body) {
		t.Fatalf("get at the stored generation: %v %q", ok, got)
	}
	for _, other := range []struct {
		k   pageKey
		gen int64
	}{
		{k, 4},
		{k, 2},
		{pageKey{project: "p", query: "filter=x", variant: "w"}, 3},
		{pageKey{project: "q", query: "filter=x", variant: "v"}, 3},
		{pageKey{project: "p", query: "filter=x&limit=20", variant: "v"}, 3},
	} {
		if _, ok := c.get(other.k, other.gen); ok {
			t.Errorf("get %+v at generation %d: served the entry of %+v at 3", other.k, other.gen, k)
		}
	}

	// Gone stale by the clock: never served.
	stale := pageKey{project: "p", query: "stale"}
	c.put(stale, pageEntry{gen: 3, body: body, until: time.Now().Add(-time.Millisecond)})
	if _, ok := c.get(stale, 3); ok {
		t.Error("an entry past its until was served")
	}
	later := pageKey{project: "p", query: "later"}
	c.put(later, pageEntry{gen: 3, body: body, until: time.Now().Add(time.Hour)})
	if _, ok := c.get(later, 3); !ok {
		t.Error("an entry before its until was not served")
	}

	// The byte budget holds whatever is put; a body over an eighth of it
	// is not kept.
	for i := range 100 {
		c.put(pageKey{project: "p", query: string(rune('A' + i))}, pageEntry{gen: 1, body: body})
		if c.held > c.max {
			t.Fatalf("after %d puts the cache holds %d bytes, over its %d", i+1, c.held, c.max)
		}
	}
	sum := 0
	for _, e := range c.entries {
		sum += len(e.body)
	}
	if sum != c.held {
		t.Errorf("held %d, bodies %d", c.held, sum)
	}
	big := pageKey{project: "p", query: "big"}
	c.put(big, pageEntry{gen: 1, body: make([]byte, 1001)})
	if _, ok := c.get(big, 1); ok {
		t.Error("a body over an eighth of the budget was kept")
	}
	off := newPageCache(-1)
	off.put(k, pageEntry{gen: 3, body: body})
	if _, ok := off.get(k, 3); ok {
		t.Error("a disabled cache served a page")
	}
}
