package ratelimit_test

import (
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/ratelimit"
)

func TestFailuresBlockAfterBudgetAndRefill(t *testing.T) {
	l := ratelimit.NewFailures(0, 3)
	if got := l.Limit(); got != 3 {
		t.Fatalf("Limit() = %d, want the default 3", got)
	}
	now := start
	for i := range 3 {
		if blocked, _, _ := l.Blocked("a", now); blocked {
			t.Fatalf("blocked after %d failures, want 3 allowed", i)
		}
		l.Fail("a", now)
	}
	blocked, wait, full := l.Blocked("a", now)
	if !blocked {
		t.Fatal("not blocked after 3 failures")
	}
	// 3 per minute: one failure back every 20s, all of them after 60s.
	if wait != 20*time.Second || !full.Equal(now.Add(time.Minute)) {
		t.Fatalf("wait %v, full %v; want 20s and %v", wait, full, now.Add(time.Minute))
	}
	if blocked, _, _ := l.Blocked("b", now); blocked {
		t.Fatal("another address is blocked")
	}
	if blocked, _, _ := l.Blocked("a", now.Add(20*time.Second)); blocked {
		t.Fatal("still blocked once one failure refilled")
	}
}

func TestFailuresNilAndNegative(t *testing.T) {
	l := ratelimit.NewFailures(-1, 3)
	if l != nil {
		t.Fatal("a negative limit is not nil")
	}
	for range 10 {
		l.Fail("a", start)
	}
	if blocked, _, _ := l.Blocked("a", start); blocked {
		t.Fatal("a nil Failures blocks")
	}
}

func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:1234":             "192.0.2.1",
		"10.0.0.255:1":               "10.0.0.255",
		"192.0.2.1":                  "192.0.2.1",
		"010.0.0.1:1":                "010.0.0.1",
		"[::1]:1":                    "::/64",
		"[::ffff:192.0.2.1]:80":      "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"not an address":             "not an address",
	} {
		if got := ratelimit.ClientAddr(in); got != want {
			t.Errorf("ClientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
