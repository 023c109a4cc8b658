package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/web"
)

// countingStore records what the explorer asks the store for and how many
// rows it gets back.
type countingStore struct {
	events.ExplorerStore
	mu    sync.Mutex
	calls []string
	rows  int
}

func (c *countingStore) note(what string, limit, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf("%s limit %d", what, limit))
	c.rows += n
}

func (c *countingStore) EventKeys(ctx context.Context, q events.KeyQuery) (events.KeyPage, error) {
	p, err := c.ExplorerStore.EventKeys(ctx, q)
	c.note(fmt.Sprintf("keys unused=%v", q.Unused), q.Page.Limit, len(p.Items))
	return p, err
}

func (c *countingStore) MetricStates(ctx context.Context, q events.StateQuery) (events.MetricPage, error) {
	p, err := c.ExplorerStore.MetricStates(ctx, q)
	c.note(fmt.Sprintf("states %d", q.List), q.Page.Limit, len(p.Items))
	return p, err
}

func (c *countingStore) reset() (calls []string, rows int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, rows = c.calls, c.rows
	c.calls, c.rows = nil, 0
	return calls, rows
}

// TestEventsPageReadsOnePage: over 2,000 silent metrics the explorer page
// asks the store for 25 rows of each list, shows them with the list's
// total, and pages on.
func TestEventsPageReadsOnePage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		db, err := store.Open(t.Context(), b.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		counting := &countingStore{ExplorerStore: db}
		f := newFixture(t, b, web.Options{Explorer: events.NewExplorer(counting, nil)})
		const n = 2000
		for i := range n {
			f.metric(fmt.Sprintf("quiet-%04d", i), fmt.Sprintf("Quiet %d", i))
		}
		_, secret := f.token("reader")
		br := f.browser()
		br.mustSignIn(secret)
		counting.reset()

		items := func(body string) int { return strings.Count(body, `<li><a href="/projects/default/metrics/quiet-`) }
		page := br.do(http.MethodGet, "/projects/default/environments/production/events", nil)
		calls, rows := counting.reset()
		if page.status != http.StatusOK {
			t.Fatalf("events page: %d\n%s", page.status, page.body)
		}
		want := []string{"keys unused=false limit 25", "states 0 limit 25", "states 1 limit 25", "keys unused=true limit 25"}
		if strings.Join(calls, "; ") != strings.Join(want, "; ") || rows != 25 {
			t.Errorf("store calls %q reading %d rows; want %q reading 25", calls, rows, want)
		}
		if got := items(page.body); got != 25 ||
			!strings.Contains(page.body, `Metrics with no events in 7 days <span class="muted">(2000)</span>`) ||
			!strings.Contains(page.body, `<span>1–25 of 2000</span>`) || !strings.Contains(page.body, `quiet-0000">quiet-0000</a>`) ||
			!strings.Contains(page.body, `href="/projects/default/environments/production/events?silent=25" rel="next"`) {
			t.Errorf("first page: %d items\n%s", got, page.body)
		}

		page = br.do(http.MethodGet, "/projects/default/environments/production/events?silent=1990", nil)
		if _, rows := counting.reset(); rows != 10 {
			t.Errorf("last page read %d rows, want 10", rows)
		}
		if got := items(page.body); page.status != http.StatusOK || got != 10 || !strings.Contains(page.body, `<span>1991–2000 of 2000</span>`) ||
			!strings.Contains(page.body, `quiet-1999">quiet-1999</a>`) || strings.Contains(page.body, `rel="next"`) {
			t.Errorf("last page: %d, %d items\n%s", page.status, got, page.body)
		}
	})
}
