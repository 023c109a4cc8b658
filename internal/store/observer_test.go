package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/resource"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

type auditCounter struct {
	mu    sync.Mutex
	kinds map[string]int
}

func (c *auditCounter) AuditWritten(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kinds[kind]++
}

// TestObserverCountsCommittedEntries checks that the write seam reports an
// audit entry exactly when its transaction committed: not for a write that
// failed after recording its change, nor for one without a change.
func TestObserverCountsCommittedEntries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()
		c := &auditCounter{kinds: map[string]int{}}
		db, err := store.Open(ctx, b.URL, store.WithObserver(c))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		change := func(key string) *audit.Change {
			return &audit.Change{
				Target:  audit.Target{Kind: "metric", Spec: resource.Metric("default", key, nil), Name: key},
				Actions: []action.Action{action.CreateMetric},
			}
		}
		if err := db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) { return change("a"), nil }); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) { return change("b"), boom }); !errors.Is(err, boom) {
			t.Fatalf("failed write: %v, want boom", err)
		}
		if err := db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
		if len(c.kinds) != 1 || c.kinds["metric"] != 1 {
			t.Errorf("observed %v, want metric: 1", c.kinds)
		}
	})
}
