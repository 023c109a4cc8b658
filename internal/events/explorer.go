package events

import (
	"context"
	"slices"
	"time"
)

// KeySummary is one event key seen in an environment.
type KeySummary struct {
	Kind, Key           string
	FirstSeen, LastSeen time.Time
	// Volume and ValueCount count the events, and those with a
	// metricValue, within the explorer's window.
	Volume, ValueCount int64
	// Metrics are the keys of the metrics the events feed.
	Metrics []string
}

// Numeric reports whether the key's events carried values in the window.
func (k KeySummary) Numeric() bool { return k.ValueCount > 0 }

// HourRollup is one stored hourly rollup with its distinct-context
// estimates.
type HourRollup struct {
	Hour time.Time
	Rollup
}

// HourCount is the number of events of one key in one hour.
type HourCount struct {
	Hour  time.Time
	Count int64
}

// MetricState is what the health lists need of one metric in one
// environment.
type MetricState struct {
	Key, Kind, EventKey string
	IsNumeric           bool
	// LastSeen is the latest hour with events in the environment.
	LastSeen *time.Time
	// ValueCount counts the metric's events with a value in the window.
	Volume, ValueCount int64
}

// ExplorerStore answers the explorer's queries, each one statement.
type ExplorerStore interface {
	// EventKeySummaries lists the keys of an environment seen at or after
	// since, with the metrics of the project each one feeds.
	EventKeySummaries(ctx context.Context, envID string, since time.Time) ([]KeySummary, error)
	// RollupRows returns the hourly rollups of one key in [from, to).
	RollupRows(ctx context.Context, envID, kind, key string, from, to time.Time) ([]HourRollup, error)
	// HourCounts returns the event counts of one key's hours in [from,
	// to) that had events, oldest first: RollupRows without the values
	// and context sketches, for charts.
	HourCounts(ctx context.Context, envID, kind, key string, from, to time.Time) ([]HourCount, error)
	// MetricStates returns every unarchived pageview, click and custom
	// metric of a project with its events in the environment since since.
	MetricStates(ctx context.Context, projectID, envID string, since time.Time) ([]MetricState, error)
}

// ExplorerWindow is how far back the explorer lists event keys.
const ExplorerWindow = 90 * 24 * time.Hour

// Health lists what needs attention in an environment.
type Health struct {
	// Days is the window of the lists.
	Days int
	// Silent are metrics without events in the window.
	Silent []MetricState
	// NoValues are numeric metrics whose events in the window carried no
	// metricValue.
	NoValues []MetricState
	// Unused are keys seen in the window that no metric uses.
	Unused []KeySummary
}

// Explorer answers the event explorer's questions.
type Explorer struct {
	store ExplorerStore
	now   func() time.Time
}

// NewExplorer returns the explorer over store.
func NewExplorer(store ExplorerStore, now func() time.Time) *Explorer {
	if now == nil {
		now = time.Now
	}
	return &Explorer{store: store, now: now}
}

// Keys lists the event keys seen in an environment within ExplorerWindow,
// most recently seen first.
func (x *Explorer) Keys(ctx context.Context, envID string) ([]KeySummary, error) {
	return x.store.EventKeySummaries(ctx, envID, x.now().Add(-ExplorerWindow))
}

// Rollups returns the hourly rollups of one key in [from, to).
func (x *Explorer) Rollups(ctx context.Context, envID, kind, key string, from, to time.Time) ([]HourRollup, error) {
	return x.store.RollupRows(ctx, envID, kind, key, from, to)
}

// HourCounts returns the event counts of one key per hour in [from, to),
// only hours with events, oldest first.
func (x *Explorer) HourCounts(ctx context.Context, envID, kind, key string, from, to time.Time) ([]HourCount, error) {
	return x.store.HourCounts(ctx, envID, kind, key, from, to)
}

// Health returns the health lists over the last days days.
func (x *Explorer) Health(ctx context.Context, projectID, envID string, days int) (*Health, error) {
	since := x.now().Add(-time.Duration(days) * 24 * time.Hour)
	states, err := x.store.MetricStates(ctx, projectID, envID, since)
	if err != nil {
		return nil, err
	}
	keys, err := x.store.EventKeySummaries(ctx, envID, since)
	if err != nil {
		return nil, err
	}
	h := &Health{Days: days, Silent: []MetricState{}, NoValues: []MetricState{}, Unused: []KeySummary{}}
	for _, m := range states {
		if m.Volume == 0 {
			h.Silent = append(h.Silent, m)
		} else if m.IsNumeric && m.ValueCount == 0 {
			h.NoValues = append(h.NoValues, m)
		}
	}
	for _, k := range keys {
		if len(k.Metrics) == 0 {
			h.Unused = append(h.Unused, k)
		}
	}
	slices.SortFunc(h.Silent, func(a, b MetricState) int { return compareStrings(a.Key, b.Key) })
	slices.SortFunc(h.NoValues, func(a, b MetricState) int { return compareStrings(a.Key, b.Key) })
	return h, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
