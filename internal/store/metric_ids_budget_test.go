package store

import (
	"fmt"
	"testing"
)

// TestIDCacheBudget fills the match list cache with lists of the largest
// size, sorted by name (the largest sort values), and checks that what it
// holds stays within idBudget bytes and that held counts exactly the
// entries kept. With the bound in IDs (a million) it kept ten of these
// lists, about 80 MB.
func TestIDCacheBudget(t *testing.T) {
	c := newIDCache()
	list := func(n int) idEntry {
		e := idEntry{ids: make([]string, n), keys: make([]sortVals, n)}
		for i := range e.ids {
			e.ids[i] = fmt.Sprintf("%024x", i)
			e.keys[i] = sortVals{created: int64(i), name: fmt.Sprintf("metric %d checkout", i)}
		}
		return e
	}
	big := list(maxCachedIDs)
	for i := range 10 {
		c.put(fmt.Sprint("filter ", i), big)
		sum := 0
		for _, e := range c.entries {
			sum += entryBytes(e)
		}
		if c.held != sum {
			t.Fatalf("after %d puts: held %d bytes, entries hold %d", i+1, c.held, sum)
		}
		if c.held > idBudget {
			t.Fatalf("after %d puts: held %d bytes, budget %d", i+1, c.held, idBudget)
		}
	}
	if _, ok := c.get("filter 9"); !ok {
		t.Fatal("the list put last was evicted")
	}
	// Replacing an entry releases the old one's bytes.
	c.put("filter 9", list(10))
	sum := 0
	for _, e := range c.entries {
		sum += entryBytes(e)
	}
	if c.held != sum {
		t.Fatalf("after a replacement: held %d bytes, entries hold %d", c.held, sum)
	}
}
