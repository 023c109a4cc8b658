package store

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// TestIndexSearchParts compares the index's substring search, in one part
// and in several at once, with strings.Contains over every key and name,
// after deletions and additions (dead records stay in the text).
func TestIndexSearchParts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"checkout", "sign", "up", "é", "ß", "k", "a", "aa", "%", "_", "x"}
	word := func() string {
		var b strings.Builder
		for range r.IntN(4) + 1 {
			b.WriteString(words[r.IntN(len(words))])
			if r.IntN(2) == 0 {
				b.WriteByte(' ')
			}
		}
		return b.String()
	}
	var rows []indexRow
	for i := range 3000 {
		rows = append(rows, indexRow{id: fmt.Sprintf("m-%05d", i), key: strings.ReplaceAll(word(), " ", "-"), name: word(), created: int64(r.IntN(100))})
	}
	keyOf := map[string]string{}
	for _, r := range rows {
		keyOf[r.id] = r.key
	}
	ix := newMetricIndex(1, 1, rows)
	var deleted []string
	for range 300 {
		deleted = append(deleted, fmt.Sprintf("m-%05d", r.IntN(3000)))
	}
	added := []indexRow{{id: "m-new", key: "new-checkout", name: "sign up"}, {id: rows[5].id, key: "again", name: "a"}}
	for _, r := range added {
		keyOf[r.id] = r.key
	}
	ix.apply(2, added, deleted)
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: the search never splits")
	}
	for _, part := range []int{0, 1 << 20, 1000, 300} {
		ix.searchPart = part
		for range 200 {
			alts := []string{word()}
			if r.IntN(3) == 0 {
				alts = append(alts, word())
			}
			got := ix.search(alts)
			for p := range ix.ids {
				want := false
				if ix.ids[p] != "" {
					for _, a := range alts {
						a = strings.ToLower(a)
						want = want || strings.Contains(keyOf[ix.ids[p]], a) || strings.Contains(ix.names[p], a)
					}
				}
				if got.has(int32(p)) && ix.ids[p] == "" {
					continue // dead: search may report it, evaluate drops it
				}
				if got.has(int32(p)) != want {
					t.Fatalf("part %d, alts %q: position %d (%q / %q) matched %v, want %v", part, alts, p, keyOf[ix.ids[p]], ix.names[p], got.has(int32(p)), want)
				}
			}
		}
	}
}

// TestIndexBytes logs the heap an index of 100,000 metrics like the list
// benchmarks' holds (go test -run TestIndexBytes -v), the figure behind
// indexBudget's comment; it asserts nothing about it.
func TestIndexBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100,000 rows")
	}
	const n = 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// The rows as read from the database: their strings stay, held by
	// the index.
	ix := newMetricIndex(1, 1, benchIndexRows(n))
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := after.HeapAlloc - before.HeapAlloc
	t.Logf("%d metrics: %d bytes of heap, %d per metric", len(ix.ids), held, held/n)
	runtime.KeepAlive(ix)
}

func benchIndexRows(n int) []indexRow {
	rows := make([]indexRow, n)
	for i := range rows {
		id := fmt.Sprintf("%08x-1f2e-4d3c-8b7a-%012x", i, i*7919)
		rows[i] = indexRow{id: id, key: fmt.Sprintf("metric-%06d", i), name: fmt.Sprintf("metric %d checkout", i),
			event: fmt.Sprintf("event-%d", i), created: int64(i),
			tags: []string{fmt.Sprintf("t%d", i%10), "all"}}
		for c := range rows[i].cols {
			rows[i].cols[c].String, rows[i].cols[c].Valid = fmt.Sprint(i%3), true
		}
	}
	return rows
}
