package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

type testKey struct{}

// TestLazyDeadline: the request deadline behaves as
// context.WithDeadlineCause(parent, d, errRequestTimeout) whether or not
// anything waited on it, and starts no timer until something does.
func TestLazyDeadline(t *testing.T) {
	t.Run("passed, never waited on", func(t *testing.T) {
		c := newLazyDeadline(context.Background(), time.Now().Add(-time.Second))
		defer c.release()
		ctx := context.WithValue(c, testKey{}, 1)
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err %v, want DeadlineExceeded", err)
		}
		if !timedOut(ctx) {
			t.Error("timedOut false after the deadline")
		}
		select {
		case <-ctx.Done():
		default:
			t.Error("Done open after the deadline")
		}
		if ctx.Value(testKey{}) != 1 {
			t.Error("value lost")
		}
	})
	t.Run("passed, waited on", func(t *testing.T) {
		c := newLazyDeadline(context.Background(), time.Now().Add(5*time.Millisecond))
		defer c.release()
		<-c.Done()
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err %v, want DeadlineExceeded", err)
		}
		if got := context.Cause(c); !errors.Is(got, errRequestTimeout) {
			t.Errorf("Cause %v, want errRequestTimeout", got)
		}
	})
	t.Run("pending", func(t *testing.T) {
		d := time.Now().Add(time.Hour)
		c := newLazyDeadline(context.WithValue(context.Background(), testKey{}, 2), d)
		if got, ok := c.Deadline(); !ok || !got.Equal(d) {
			t.Errorf("Deadline %v %v, want %v", got, ok, d)
		}
		if c.Err() != nil || timedOut(c) || c.Value(testKey{}) != 2 {
			t.Errorf("pending deadline: Err %v, timedOut %v, value %v", c.Err(), timedOut(c), c.Value(testKey{}))
		}
		if c.armed.Load() != nil {
			t.Error("a timer was started before anything waited")
		}
		done := c.Done()
		if c.armed.Load() == nil {
			t.Error("Done started no timer")
		}
		select {
		case <-done:
			t.Error("Done closed an hour early")
		default:
		}
		c.release()
		<-done
		if !errors.Is(c.Err(), context.Canceled) || timedOut(c) {
			t.Errorf("released: Err %v, timedOut %v, want Canceled, false", c.Err(), timedOut(c))
		}
	})
	t.Run("waited on after release", func(t *testing.T) {
		c := newLazyDeadline(context.Background(), time.Now().Add(time.Hour))
		c.release()
		<-c.Done()
		if !errors.Is(c.Err(), context.Canceled) || timedOut(c) {
			t.Errorf("Err %v, timedOut %v, want Canceled, false", c.Err(), timedOut(c))
		}
	})
	t.Run("parent cancelled", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		c := newLazyDeadline(parent, time.Now().Add(time.Hour))
		defer c.release()
		cancel()
		if !errors.Is(c.Err(), context.Canceled) || timedOut(c) {
			t.Errorf("Err %v, timedOut %v, want Canceled, false", c.Err(), timedOut(c))
		}
		<-c.Done()
	})
	t.Run("parent's earlier deadline", func(t *testing.T) {
		pd := time.Now().Add(time.Minute)
		parent, cancel := context.WithDeadline(context.Background(), pd)
		defer cancel()
		c := newLazyDeadline(parent, time.Now().Add(time.Hour))
		defer c.release()
		if got, _ := c.Deadline(); !got.Equal(pd) {
			t.Errorf("Deadline %v, want the parent's %v", got, pd)
		}
	})
}

// TestNewRequestID: fresh IDs are distinct version 4 UUIDs.
func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := newRequestID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("newRequestID() = %q: %v, version %v, variant %v", id, err, u.Version(), u.Variant())
		}
		if seen[id] {
			t.Fatalf("%q twice", id)
		}
		seen[id] = true
	}
}
