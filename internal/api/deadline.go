package api

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// errRequestTimeout is the cause of a request context whose deadline, set by
// authenticate, has passed.
var errRequestTimeout = errors.New("request deadline exceeded")

// DefaultRequestTimeout bounds an API request, above all the database calls
// it makes, when Options.RequestTimeout is zero.
const DefaultRequestTimeout = 10 * time.Second

// The request timeout is on the context of every API request (authenticate
// puts it there, newLazyDeadline), so that a database that stops answering
// costs a request at most that long: writeError then answers 503.

// timedOut reports whether ctx ended because the request's own deadline
// passed, not because the client went away.
func timedOut(ctx context.Context) bool {
	// Err first: it starts a lazyDeadline's timer once its deadline has
	// passed, so that Cause finds the deadline's cause.
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), errRequestTimeout)
}

// lazyDeadline is context.WithDeadlineCause(parent, deadline,
// errRequestTimeout) whose timer is started only when something asks to be
// told of the end: Done, or Err once the deadline has passed. Until then
// it is the parent with a Deadline. Every database call waits on Done, so
// it is bounded as before; a request served from memory (a cached GET)
// never starts a timer, which would cost it a timer in the runtime's heap,
// a registration with the connection's context and their removal.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time
	once     sync.Once
	armed    atomic.Pointer[armedDeadline]
	// released is set by release: a timer started after it (by someone
	// who kept the context past the request) ends at once.
	released atomic.Bool
}

type armedDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newLazyDeadline(parent context.Context, d time.Time) *lazyDeadline {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	return &lazyDeadline{parent: parent, deadline: d}
}

// arm starts the timer, once, and returns the context it ends.
func (c *lazyDeadline) arm() context.Context {
	c.once.Do(func() {
		ctx, cancel := context.WithDeadlineCause(c.parent, c.deadline, errRequestTimeout)
		c.armed.Store(&armedDeadline{ctx: ctx, cancel: cancel})
		if c.released.Load() {
			cancel()
		}
	})
	return c.armed.Load().ctx
}

// release stops the timer if one was started, as a CancelFunc does.
func (c *lazyDeadline) release() {
	c.released.Store(true)
	if a := c.armed.Load(); a != nil {
		a.cancel()
	}
}

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *lazyDeadline) Done() <-chan struct{} { return c.arm().Done() }

func (c *lazyDeadline) Err() error {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Err()
	}
	if !time.Now().Before(c.deadline) {
		return c.arm().Err()
	}
	return c.parent.Err()
}

func (c *lazyDeadline) Value(key any) any {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Value(key)
	}
	return c.parent.Value(key)
}

func (c *lazyDeadline) String() string { return "api.lazyDeadline" }
