package audit

import (
	"strings"
	"testing"
	"time"
)

func TestIDsOrderWithinMillisecond(t *testing.T) {
	var ids IDs
	t0 := time.UnixMilli(1_700_000_000_000)
	prev := ""
	for i := range 1000 {
		id := ids.Next(t0)
		if len(id) != 24 || !strings.HasPrefix(id, IDFloor(t0.UnixMilli())[:12]) {
			t.Fatalf("ID %q does not begin with its millisecond", id)
		}
		if id <= prev {
			t.Fatalf("ID %d %q is not after %q", i, id, prev)
		}
		prev = id
	}
	// A later millisecond starts its count again, after every earlier ID.
	next := ids.Next(t0.Add(time.Millisecond))
	if next <= prev || next[12:16] != "0000" {
		t.Errorf("first ID of the next millisecond %q (previous %q)", next, prev)
	}
	// A clock that steps back still gives IDs of their own millisecond.
	back := ids.Next(t0)
	if !strings.HasPrefix(back, IDFloor(t0.UnixMilli())[:12]) || back >= next {
		t.Errorf("ID after the clock stepped back: %q", back)
	}
}
