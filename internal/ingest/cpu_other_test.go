//go:build !unix

package ingest_test

import "time"

// cpuTime is 0 where the process's CPU time is not at hand.
func cpuTime() time.Duration { return 0 }

// machineTime is zero where /proc/stat is not at hand.
func machineTime() (busy, idle time.Duration) { return 0, 0 }
