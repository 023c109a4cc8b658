package app

import (
	"runtime/debug"
)

// DefaultMemoryLimit is the soft limit on the Go runtime's memory that
// cmd/metricsd sets when GOMEMLIMIT is not set: 96 MiB. Without a limit
// the collector lets the heap grow to twice what is live (GOGC=100), and
// with a million metrics the caches (match lists, encoded bodies) and a
// list load's garbage took the process past 128 MB. The limit is soft: a
// process that needs more live memory gets it, the collector merely runs
// more often as the heap nears it. SQLite's page caches are allocated
// outside the Go heap and are not counted (about 2 MB per connection).
const DefaultMemoryLimit = 96 << 20

// DefaultGCPercent is the collector's target that cmd/metricsd sets when
// GOGC is not set: the heap may grow to three times what is live before a
// collection, where Go's default is twice. The memory limit above bounds
// the heap whatever the target, so the larger target only makes
// collections rarer while the process is far below the limit: under
// sustained event ingestion that is a few percent less CPU per post, for
// a higher peak (115 MB resident instead of 101 under list load with a
// million metrics; docs/PERFORMANCE.md).
const DefaultGCPercent = 200

// SetMemoryLimit sets DefaultMemoryLimit as the runtime's soft memory
// limit unless the environment sets GOMEMLIMIT (which the runtime has
// applied already; "off" removes the limit), and DefaultGCPercent as the
// collector's target unless it sets GOGC. It returns the limit in force.
func SetMemoryLimit(getenv func(string) string) int64 {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
	if getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	debug.SetMemoryLimit(DefaultMemoryLimit)
	return DefaultMemoryLimit
}
