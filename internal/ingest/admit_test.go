package ingest

import (
	"context"
	"testing"
	"time"
)

// A post waits up to AdmitWait for an inflight slot, at most MaxInflight
// posts wait, and a slot freed while one waits is its.
func TestAdmitWaitsForSlot(t *testing.T) {
	s := New(nil, Options{MaxInflight: 1, AdmitWait: 2 * time.Second})
	ctx := context.Background()
	if !s.admit(ctx) {
		t.Fatal("first post refused with a free slot")
	}
	// The slot is freed while the second post waits: it is admitted.
	go func() { time.Sleep(20 * time.Millisecond); <-s.inflight }()
	start := time.Now()
	if !s.admit(ctx) {
		t.Fatal("post refused although the slot was freed within AdmitWait")
	}
	if time.Since(start) < 10*time.Millisecond {
		t.Fatal("post admitted before the slot was freed")
	}
	// The slot stays taken: one post waits (until its context ends), and
	// a second waiter past MaxInflight is refused at once.
	wctx, cancel := context.WithCancel(ctx)
	res := make(chan bool)
	go func() { res <- s.admit(wctx) }()
	for len(s.waiting) == 0 {
		time.Sleep(time.Millisecond)
	}
	if s.admit(ctx) {
		t.Fatal("post admitted with no slot free")
	}
	cancel()
	if <-res {
		t.Fatal("waiting post admitted after its context ended, with no slot free")
	}
	if len(s.waiting) != 0 || len(s.inflight) != 1 {
		t.Fatalf("waiting %d inflight %d, want 0 and 1", len(s.waiting), len(s.inflight))
	}
	// With no slot freed, a post is refused after AdmitWait.
	s2 := New(nil, Options{MaxInflight: 1, AdmitWait: 30 * time.Millisecond})
	s2.inflight <- struct{}{}
	if s2.admit(ctx) {
		t.Fatal("post admitted with no slot free")
	}
}
