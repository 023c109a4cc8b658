package app

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: without GOMEMLIMIT the default soft limit is set;
// with it, the runtime's (already applied from the environment) is kept.
func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })

	debug.SetMemoryLimit(math.MaxInt64)
	if got := SetMemoryLimit(func(string) string { return "" }); got != DefaultMemoryLimit {
		t.Fatalf("without GOMEMLIMIT: returned %d, want %d", got, DefaultMemoryLimit)
	}
	if got := debug.SetMemoryLimit(-1); got != DefaultMemoryLimit {
		t.Fatalf("without GOMEMLIMIT: runtime limit %d, want %d", got, DefaultMemoryLimit)
	}

	// As if the runtime had read GOMEMLIMIT=200MiB at start.
	debug.SetMemoryLimit(200 << 20)
	env := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "200MiB"
		}
		return ""
	}
	if got := SetMemoryLimit(env); got != 200<<20 {
		t.Fatalf("with GOMEMLIMIT: returned %d, want %d", got, 200<<20)
	}
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Fatalf("with GOMEMLIMIT: runtime limit %d, want %d", got, 200<<20)
	}
}
