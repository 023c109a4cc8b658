// Package ingest serves LaunchDarkly's event protocol: the endpoints
// server-side, mobile and browser SDKs post analytics events to. It
// authenticates SDK credentials (never access tokens), reads optionally
// gzip-encoded bodies within a size bound, and answers 202 only once the
// events are committed. What events mean is the events package's business.
package ingest

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes = 10 << 20
	DefaultMaxInflight  = 64
	DefaultTimeout      = 15 * time.Second
	DefaultAdmitWait    = 200 * time.Millisecond
	// RetryAfter is the Retry-After of a 503: LaunchDarkly's SDKs retry a
	// failed post once after about a second, and keep the events
	// otherwise for the next flush.
	RetryAfter = 1
)

// Options configure a Server.
type Options struct {
	// MaxBodyBytes bounds a post's body, both as sent and decompressed;
	// past it the answer is 413.
	MaxBodyBytes int64
	// MaxInflight bounds the posts being read, decoded and aggregated at
	// once; past it the answer is 503 at once, before the body is read.
	// Posts waiting for their commit hold only their aggregates, which the
	// flusher's MaxPending bounds. Together they cap the memory ingestion
	// uses however hard it is pushed.
	MaxInflight int
	// AdmitWait is how long a post may wait for one of the MaxInflight
	// slots before the answer is 503. Group commits answer many posts at
	// once, and their senders post again together: a short wait absorbs
	// such bursts. A waiting post holds only its headers (its body is not
	// read yet), and at most MaxInflight posts wait; past them, 503 at
	// once.
	AdmitWait time.Duration
	// Timeout bounds one post, its commit included.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Server is the event-protocol transport.
type Server struct {
	svc      *events.Service
	opts     Options
	log      *slog.Logger
	inflight chan struct{}
	// waiting holds a token per post waiting for an inflight slot.
	waiting chan struct{}
	// bodies, gzips and scratch hold read buffers, gzip readers and
	// decoding memory for reuse: at most MaxInflight posts read at once.
	bodies  sync.Pool
	gzips   sync.Pool
	scratch sync.Pool
}

// New returns the transport over the events service.
func New(svc *events.Service, opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = DefaultMaxInflight
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.AdmitWait <= 0 {
		opts.AdmitWait = DefaultAdmitWait
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{svc: svc, opts: opts, log: log, inflight: make(chan struct{}, opts.MaxInflight),
		waiting: make(chan struct{}, opts.MaxInflight)}
}

// credential says where a request carries its credential and of which kind.
type credential struct {
	kind string
	// pathValue names the path wildcard holding it; empty: the
	// Authorization header.
	pathValue string
}

var (
	serverKey  = credential{kind: catalog.CredentialSDK}
	mobileKey  = credential{kind: catalog.CredentialMobile}
	clientSide = credential{kind: catalog.CredentialClientSide, pathValue: "clientSideId"}
)

// errorBody is LaunchDarkly's error representation.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Code: code, Message: msg, ID: uuid.NewString()})
}

// handler serves one event path. analytics says whether the body holds
// analytics events (else diagnostics, which are read and discarded).
func (s *Server) handler(cred credential, analytics bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in event handler", "path", r.URL.Path, "panic", p)
				writeError(w, http.StatusInternalServerError, "internal_server_error", "an internal error occurred")
			}
		}()
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "events are sent with POST")
			return
		}
		if !s.admit(r.Context()) {
			writeError(w, http.StatusServiceUnavailable, "service_unavailable", "too many event posts at once; retry later")
			return
		}
		// The slot is given back once the body is aggregated (or the post
		// refused): a post waiting for its commit holds only its small
		// aggregate, which the flusher's bound counts.
		held := true
		release := func() {
			if held {
				held = false
				<-s.inflight
			}
		}
		defer release()
		// Until its batch is queued the post counts as arriving: a group
		// commit waits a moment for it (events.Flusher.Arriving).
		arriving := true
		s.svc.Flusher.Arriving(1)
		defer func() {
			if arriving {
				s.svc.Flusher.Arriving(-1)
			}
		}()
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
		defer cancel()
		s.serve(ctx, w, r, cred, analytics, release, &arriving)
	})
}

// admit takes an inflight slot, waiting up to AdmitWait for one if at
// most MaxInflight others wait too. False: no slot, answer 503.
func (s *Server) admit(ctx context.Context) bool {
	select {
	case s.inflight <- struct{}{}:
		return true
	default:
	}
	select {
	case s.waiting <- struct{}{}:
	default:
		return false
	}
	defer func() { <-s.waiting }()
	t := time.NewTimer(s.opts.AdmitWait)
	defer t.Stop()
	select {
	case s.inflight <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// serve answers one post. *arriving is set false once the post's
// Arriving count is handed to the flusher (SubmitArriving).
func (s *Server) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, cred credential, analytics bool, release func(), arriving *bool) {
	value := r.PathValue(cred.pathValue)
	if cred.pathValue == "" {
		value = events.CredentialFromHeader(r.Header.Get("Authorization"))
	}
	env, err := s.svc.Keys.Resolve(ctx, cred.kind, value)
	if err != nil {
		if core.KindOf(err) == core.KindUnauthorized {
			writeError(w, http.StatusUnauthorized, "unauthorized", "unknown or revoked SDK key, mobile key or client-side ID")
			return
		}
		s.log.Warn("credential lookup failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "service_unavailable", "the database did not answer; retry later")
		return
	}
	buf, status, msg := s.readBody(w, r)
	defer func() { s.putBody(buf) }()
	if status != 0 {
		code := map[int]string{http.StatusRequestEntityTooLarge: "request_entity_too_large", http.StatusBadRequest: "invalid_request"}[status]
		writeError(w, status, code, msg)
		return
	}
	body := *buf
	if !analytics {
		// Diagnostic events describe the SDK, not the application; they
		// are checked to be JSON and dropped.
		if !json.Valid(body) {
			writeError(w, http.StatusBadRequest, "invalid_request", "the body must be JSON")
			return
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	sc, _ := s.scratch.Get().(*events.Scratch)
	if sc == nil {
		sc = &events.Scratch{}
	}
	evs, _, err := sc.Decode(body)
	if err != nil {
		s.scratch.Put(sc)
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	// The batch shares nothing with the body or the events: both are free
	// for the next post once the batch exists.
	b, err := s.svc.Aggregate(ctx, env, payloadID(r.Header.Get("X-LaunchDarkly-Payload-ID")), evs)
	sc.Reset()
	s.scratch.Put(sc)
	s.putBody(buf)
	buf = nil
	if err == nil {
		release()
		if b.Events > 0 {
			*arriving = false
			err = s.svc.Flusher.SubmitArriving(ctx, b)
		}
	}
	if err != nil {
		if errors.Is(err, events.ErrOverloaded) {
			writeError(w, http.StatusServiceUnavailable, "service_unavailable", err.Error())
			return
		}
		if r.Context().Err() == nil {
			s.log.Warn("events not stored", "env", env.ID, "err", err)
		}
		writeError(w, http.StatusServiceUnavailable, "service_unavailable", "the events could not be stored; retry later")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// maxKeptBody bounds the read buffers kept for reuse; a larger post's
// buffer is left to the garbage collector.
const maxKeptBody = 1 << 20

func (s *Server) putBody(buf *[]byte) {
	if buf != nil && cap(*buf) <= maxKeptBody {
		*buf = (*buf)[:0]
		s.bodies.Put(buf)
	}
}

// readBody reads the body within MaxBodyBytes, decompressing gzip, into a
// buffer of s.bodies (to be given back with putBody). A non-zero status
// is the error to answer.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, int, string) {
	limit := s.opts.MaxBodyBytes
	tooBig := "the body is larger than " + strconv.FormatInt(limit, 10) + " bytes"
	var rd io.Reader = http.MaxBytesReader(w, r.Body, limit)
	// The size to expect: Content-Length, or a guess for gzip.
	size := r.ContentLength
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, _ := s.gzips.Get().(*gzip.Reader)
		var err error
		if gz == nil {
			gz, err = gzip.NewReader(rd)
		} else {
			err = gz.Reset(rd)
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, http.StatusRequestEntityTooLarge, tooBig
			}
			return nil, http.StatusBadRequest, "the body is not valid gzip"
		}
		defer func() { _ = gz.Close(); s.gzips.Put(gz) }()
		rd = io.LimitReader(gz, limit+1)
		size *= 8
	default:
		return nil, http.StatusBadRequest, "unsupported Content-Encoding " + strconv.Quote(enc) + "; send gzip or nothing"
	}
	buf, _ := s.bodies.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	body, err := readAll((*buf)[:0], rd, min(max(size, 512), limit+1))
	*buf = body
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		s.putBody(buf)
		return nil, http.StatusRequestEntityTooLarge, tooBig
	case err != nil:
		s.putBody(buf)
		return nil, http.StatusBadRequest, "the body could not be read (broken gzip or connection)"
	case int64(len(body)) > limit:
		s.putBody(buf)
		return nil, http.StatusRequestEntityTooLarge, "the decompressed body is larger than " + strconv.FormatInt(limit, 10) + " bytes"
	}
	return buf, 0, ""
}

// readAll is io.ReadAll into b, first sized for size bytes (plus one, to
// see the end without growing).
func readAll(b []byte, rd io.Reader, size int64) ([]byte, error) {
	if int64(cap(b)) < size+1 {
		b = make([]byte, 0, size+1)
	}
	for {
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// payloadID returns the stored form of X-LaunchDarkly-Payload-ID: the
// value itself (SDKs send a UUID), or a hash of an unusually long one or
// of one that is not UTF-8 (header values may hold any byte but controls;
// PostgreSQL's text holds only UTF-8, and one claim it refused would fail
// the whole group commit).
func payloadID(h string) string {
	h = strings.TrimSpace(h)
	if len(h) <= 128 && utf8.ValidString(h) {
		return h
	}
	sum := sha256.Sum256([]byte(h))
	return "sha256:" + hex.EncodeToString(sum[:])
}
