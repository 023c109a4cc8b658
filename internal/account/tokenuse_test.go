package account

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

type useStore struct {
	calls []map[string]time.Time
	err   error
}

func (s *useStore) RecordTokenUses(ctx context.Context, uses map[string]time.Time) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("no deadline")
	}
	s.calls = append(s.calls, uses)
	return s.err
}

func TestTokenUses(t *testing.T) {
	s := &useStore{}
	u := NewTokenUses(s, nil)
	t0 := time.UnixMilli(1_700_000_000_000)
	for i := range 1000 {
		u.Record("a", t0.Add(time.Duration(i%10)*time.Millisecond))
	}
	u.Record("b", t0)
	u.Record("", t0) // requests without a token record nothing
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(s.calls) != 1 || len(s.calls[0]) != 2 || !s.calls[0]["a"].Equal(t0.Add(9*time.Millisecond)) || !s.calls[0]["b"].Equal(t0) {
		t.Fatalf("1001 uses of two tokens wrote %v, want one write of each token's latest use", s.calls)
	}
	if err := u.Flush(context.Background()); err != nil || len(s.calls) != 1 {
		t.Errorf("a flush without uses wrote: %v %d", err, len(s.calls))
	}

	// A failed write keeps the uses for the next, unless newer came.
	s.err = errors.New("down")
	u.Record("a", t0)
	u.Record("b", t0)
	if err := u.Flush(context.Background()); err == nil {
		t.Fatal("Flush hid the store's error")
	}
	u.Record("a", t0.Add(time.Second))
	s.err = nil
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := s.calls[len(s.calls)-1]
	if len(last) != 2 || !last["a"].Equal(t0.Add(time.Second)) || !last["b"].Equal(t0) {
		t.Errorf("after a failed write: %v", last)
	}

	// Bounded: past maxPendingUses tokens, more are not remembered.
	for i := range maxPendingUses + 50 {
		u.Record("t"+strconv.Itoa(i), t0)
	}
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.calls[len(s.calls)-1]); n != maxPendingUses {
		t.Errorf("wrote %d tokens, want the bound %d", n, maxPendingUses)
	}

	// Run writes at its interval and once more when stopped.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	n := len(s.calls)
	go func() { u.Run(ctx, time.Hour); close(done) }()
	u.Record("late", t0)
	cancel()
	<-done
	if len(s.calls) != n+1 || !s.calls[n]["late"].Equal(t0) {
		t.Errorf("Run did not write at shutdown: %v", s.calls[n:])
	}
}
