package app

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: without GOMEMLIMIT and GOGC the default soft limit
// and collector target are set; with them, the runtime's (already applied
// from the environment) are kept.
func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	prevGC := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prevGC) })

	debug.SetMemoryLimit(math.MaxInt64)
	if got := SetMemoryLimit(func(string) string { return "" }); got != DefaultMemoryLimit {
		t.Fatalf("without GOMEMLIMIT: returned %d, want %d", got, DefaultMemoryLimit)
	}
	if got := debug.SetMemoryLimit(-1); got != DefaultMemoryLimit {
		t.Fatalf("without GOMEMLIMIT: runtime limit %d, want %d", got, DefaultMemoryLimit)
	}
	if got := debug.SetGCPercent(100); got != DefaultGCPercent {
		t.Fatalf("without GOGC: collector target %d, want %d", got, DefaultGCPercent)
	}

	// As if the runtime had read GOMEMLIMIT=200MiB at start.
	debug.SetMemoryLimit(200 << 20)
	env := func(k string) string {
		switch k {
		case "GOMEMLIMIT":
			return "200MiB"
		case "GOGC":
			return "100"
		}
		return ""
	}
	if got := SetMemoryLimit(env); got != 200<<20 {
		t.Fatalf("with GOMEMLIMIT: returned %d, want %d", got, 200<<20)
	}
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Fatalf("with GOMEMLIMIT: runtime limit %d, want %d", got, 200<<20)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC: collector target %d, want the environment's 100", got)
	}
}
