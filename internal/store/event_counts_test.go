package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestHourCounts reads the event counts of one key's hours in [from, to):
// its hours only, inside the bounds, oldest first.
func TestHourCounts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		_, envs := mustProject(t, db, "proj-counts", "counts", at(0))
		prod, test := envs[0], envs[1]
		hour := time.Now().UTC().Truncate(time.Hour)
		h := func(n int) int64 { return hour.Add(time.Duration(n) * time.Hour).UnixMilli() }
		put := map[events.RollupKey]*events.Rollup{
			{EnvID: prod.ID, Kind: "custom", Key: "k", Hour: h(-5)}:     {Count: 3, ValueCount: 1, Sum: 2},
			{EnvID: prod.ID, Kind: "custom", Key: "k", Hour: h(-2)}:     {Count: 7},
			{EnvID: prod.ID, Kind: "custom", Key: "k", Hour: h(0)}:      {Count: 1},
			{EnvID: prod.ID, Kind: "custom", Key: "k", Hour: h(-9)}:     {Count: 100}, // before from
			{EnvID: prod.ID, Kind: "custom", Key: "k", Hour: h(1)}:      {Count: 100}, // at to
			{EnvID: prod.ID, Kind: "pageview", Key: "k", Hour: h(-2)}:   {Count: 100},
			{EnvID: prod.ID, Kind: "custom", Key: "other", Hour: h(-2)}: {Count: 100},
			{EnvID: test.ID, Kind: "custom", Key: "k", Hour: h(-2)}:     {Count: 100},
		}
		if err := db.TransactEvents(ctx, func(tx events.FlushTx) error { return events.LogRollups(ctx, tx, put) }); err != nil {
			t.Fatalf("LogRollups: %v", err)
		}
		// from inside an hour counts that hour, as RollupRows does.
		got, err := db.HourCounts(ctx, prod.ID, "custom", "k", hour.Add(-8*time.Hour+time.Minute), hour.Add(time.Hour))
		if err != nil {
			t.Fatalf("HourCounts: %v", err)
		}
		want := []events.HourCount{{Hour: hour.Add(-5 * time.Hour), Count: 3}, {Hour: hour.Add(-2 * time.Hour), Count: 7}, {Hour: hour, Count: 1}}
		if !slices.EqualFunc(got, want, func(a, b events.HourCount) bool { return a.Hour.Equal(b.Hour) && a.Count == b.Count }) {
			t.Errorf("HourCounts = %v, want %v", got, want)
		}
		if got, err := db.HourCounts(ctx, prod.ID, "click", "k", hour.Add(-24*time.Hour), hour); err != nil || len(got) != 0 {
			t.Errorf("no rollups: %v %v, want none", got, err)
		}
	})
}
