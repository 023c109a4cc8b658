package events

import (
	"context"
	"time"

	"github.com/metricsd/metricsd/internal/core"
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

// KeyQuery asks for one page of the event keys of an environment.
type KeyQuery struct {
	EnvID string
	// Since is the start of the window: keys last seen before it are left
	// out, and volumes count the events from its hour on.
	Since time.Time
	// Unused keeps only the keys no unarchived metric of the project uses.
	Unused bool
	Page   core.Page
}

// KeyPage is one page of event keys, most recently seen first, and how
// many there are in all.
type KeyPage struct {
	Items []KeySummary
	Total int
}

// HealthList names one of the health lists of metrics.
type HealthList int

const (
	// Silent are the metrics without events in the window.
	Silent HealthList = iota
	// NoValues are the numeric metrics with events in the window, none of
	// which carried a metricValue.
	NoValues
)

// StateQuery asks for one page of a health list of metrics.
type StateQuery struct {
	ProjectID, EnvID string
	Since            time.Time
	List             HealthList
	Page             core.Page
}

// MetricPage is one page of metrics, by key, and how many there are in all.
type MetricPage struct {
	Items []MetricState
	Total int
}

// ExplorerStore answers the explorer's queries. Every list is paged in the
// database: a page reads its own rows, never the whole list.
type ExplorerStore interface {
	// EventKeys returns one page of the keys of an environment seen at or
	// after q.Since, with the metrics of the project each one feeds.
	EventKeys(ctx context.Context, q KeyQuery) (KeyPage, error)
	// RollupRows returns the hourly rollups of one key in [from, to).
	RollupRows(ctx context.Context, envID, kind, key string, from, to time.Time) ([]HourRollup, error)
	// HourCounts returns the event counts of one key's hours in [from,
	// to) that had events, oldest first: RollupRows without the values
	// and context sketches, for charts.
	HourCounts(ctx context.Context, envID, kind, key string, from, to time.Time) ([]HourCount, error)
	// MetricStates returns one page of a health list over the unarchived
	// pageview, click and custom metrics of a project, by key.
	MetricStates(ctx context.Context, q StateQuery) (MetricPage, error)
}

// ExplorerWindow is how far back the explorer lists event keys.
const ExplorerWindow = 90 * 24 * time.Hour

// Health is one page of each list of what needs attention in an
// environment.
type Health struct {
	// Days is the window of the lists.
	Days int
	// Silent are metrics without events in the window.
	Silent MetricPage
	// NoValues are numeric metrics whose events in the window carried no
	// metricValue.
	NoValues MetricPage
	// Unused are keys seen in the window that no metric uses.
	Unused KeyPage
}

// HealthPages says which page of each health list to read.
type HealthPages struct {
	Silent, NoValues, Unused core.Page
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

// Keys returns one page of the event keys seen in an environment within
// ExplorerWindow, most recently seen first.
func (x *Explorer) Keys(ctx context.Context, envID string, page core.Page) (KeyPage, error) {
	return x.store.EventKeys(ctx, KeyQuery{EnvID: envID, Since: x.now().Add(-ExplorerWindow), Page: page})
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

// Health returns one page of each health list over the last days days.
func (x *Explorer) Health(ctx context.Context, projectID, envID string, days int, pages HealthPages) (*Health, error) {
	since := x.now().Add(-time.Duration(days) * 24 * time.Hour)
	h := &Health{Days: days}
	var err error
	if h.Silent, err = x.store.MetricStates(ctx, StateQuery{ProjectID: projectID, EnvID: envID, Since: since, List: Silent, Page: pages.Silent}); err != nil {
		return nil, err
	}
	if h.NoValues, err = x.store.MetricStates(ctx, StateQuery{ProjectID: projectID, EnvID: envID, Since: since, List: NoValues, Page: pages.NoValues}); err != nil {
		return nil, err
	}
	if h.Unused, err = x.store.EventKeys(ctx, KeyQuery{EnvID: envID, Since: since, Unused: true, Page: pages.Unused}); err != nil {
		return nil, err
	}
	return h, nil
}
