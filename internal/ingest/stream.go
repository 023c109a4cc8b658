package ingest

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/core"
)

// The flag stream browser SDKs open when they stream (streaming: true, or
// a change listener in automatic mode): GET /eval/{clientSideId}/{context}.
// metricsd has no flags, so the stream says so once, with a put of the
// empty flag map, and then only keeps the connection alive until the
// client leaves or the server shuts down.

// streamHeartbeat is how often an idle stream sends a comment line, so
// that proxies keep it open and a dead client is noticed.
const streamHeartbeat = 30 * time.Second

// DefaultMaxStreams bounds the flag streams open at once.
const DefaultMaxStreams = 10000

// streams tracks the open flag streams so that shutdown can end them.
type streams struct {
	mu     sync.Mutex
	open   int
	max    int
	closed bool
	done   chan struct{}
}

func newStreams(max int) *streams {
	if max <= 0 {
		max = DefaultMaxStreams
	}
	return &streams{max: max, done: make(chan struct{})}
}

// acquire reserves a stream, failing when too many are open or the server
// is shutting down.
func (s *streams) acquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return core.Errorf(core.KindUnavailable, "the server is shutting down; reconnect")
	}
	if s.open >= s.max {
		return core.Errorf(core.KindUnavailable, "too many open streams (%d); retry later", s.max)
	}
	s.open++
	return nil
}

func (s *streams) release() {
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
}

// close ends every open stream and refuses new ones.
func (s *streams) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// Close ends the open flag streams and refuses new ones; call it when the
// HTTP server starts shutting down (http.Server.RegisterOnShutdown), since
// a stream never goes idle by itself.
func (b *Browser) Close() { b.streams.close() }

// streamContextPath answers GET /eval/{clientSideId}/{context}.
func (b *Browser) streamContextPath(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), b.timeout)
	_, err := b.environment(ctx, r.PathValue("clientSideId"))
	cancel()
	if err != nil {
		return err
	}
	if _, err := ContextFromBase64(r.PathValue("context")); err != nil {
		return err
	}
	return b.stream(w, r)
}

// streamContextBody answers REPORT /eval/{clientSideId}, the stream of SDKs
// whose event source can send a body (not browsers').
func (b *Browser) streamContextBody(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), b.timeout)
	_, err := b.environment(ctx, r.PathValue("clientSideId"))
	cancel()
	if err != nil {
		return err
	}
	body, err := b.readBody(w, r)
	if err != nil {
		return err
	}
	if _, err := ContextFromJSON(body); err != nil {
		return err
	}
	return b.stream(w, r)
}

// stream sends the put of no flags and holds the stream open.
func (b *Browser) stream(w http.ResponseWriter, r *http.Request) error {
	if err := b.streams.acquire(); err != nil {
		w.Header().Set("Retry-After", "5")
		return err
	}
	defer b.streams.release()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	send := func(msg string) bool {
		// The server's write timeout would cut the stream: each write
		// gets its own deadline instead.
		_ = rc.SetWriteDeadline(time.Now().Add(2 * streamHeartbeat))
		if _, err := w.Write([]byte(msg)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.WriteHeader(http.StatusOK)
	if !send("event: put\ndata: {}\n\n") {
		return nil
	}
	tick := time.NewTicker(streamHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-b.streams.done:
			return nil
		case <-tick.C:
			if !send(":\n\n") {
				return nil
			}
		}
	}
}
