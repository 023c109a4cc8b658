package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/metricsd/metricsd/internal/core"
)

// Pushed invalidation on PostgreSQL.
//
// Replicas of one PostgreSQL database learn of each other's writes through
// LISTEN/NOTIFY, so that a cached GET needs no statement at all, with this
// guarantee: no replica serves a cached generation that is older than a
// write whose response has already been sent.
//
//   - Every write transaction that bumped a generation takes the next
//     number of the one-row replica_clock as its last statement and
//     notifies it (pg_notify) on the database's channel. The row lock makes
//     the numbers follow commit order, and PostgreSQL delivers
//     notifications in commit order too.
//   - A replica that listens holds a lease row in replica_leases: its id,
//     the highest number it has acknowledged, and an expiry in database
//     time. On every notification it forgets the generations it
//     remembered, then acknowledges the number (row update and a notify,
//     which wakes waiting writers at once). It renews the lease only on
//     receiving a tick it sent itself through the channel, which proves its
//     listening connection still delivers; a listener that stopped
//     delivering therefore stops renewing.
//   - It answers a generation from memory only while its lease is valid by
//     its own monotonic clock (counted from before the renewal was sent,
//     less a margin) and its listening connection is up. Otherwise it reads
//     the generation from the database, as without a lease.
//   - After the commit, before the write's response, the writer waits
//     until every other replica with a live lease has acknowledged its
//     number, or that lease expired (re-read, since a renewal may have
//     extended it). A replica whose lease lapsed forgets everything it
//     remembered before it serves from memory again; one whose listening
//     connection fails drops its lease at once and reconnects.
//
// A write therefore waits at most one lease duration for a replica that
// stopped answering (2 s by default); with no other replica it waits for
// nothing and pays two statements (the number, and the read of the
// leases).

// LeaseConfig configures pushed invalidation (WithReplicaLease).
type LeaseConfig struct {
	// Duration of a lease: the longest a write waits for a replica that
	// stopped acknowledging. Zero means DefaultLeaseDuration.
	Duration time.Duration
	// Log receives the listener's failures; nil for slog's default.
	Log *slog.Logger
}

// DefaultLeaseDuration is the lease of a replica that listens.
const DefaultLeaseDuration = 2 * time.Second

// WithReplicaLease makes a PostgreSQL store listen for other replicas'
// writes and hold a lease, so that ProjectGeneration is answered from
// memory while the lease holds. It does nothing on SQLite.
func WithReplicaLease(c LeaseConfig) Option {
	return func(db *DB) {
		if c.Duration <= 0 {
			c.Duration = DefaultLeaseDuration
		}
		if c.Log == nil {
			c.Log = slog.Default()
		}
		db.leaseCfg = &c
	}
}

// replicas is one process's part in pushed invalidation: the writer's
// side (numbering, waiting for acknowledgements) exists on every
// PostgreSQL store, the listener's only with WithReplicaLease.
type replicas struct {
	db      *DB
	id      string
	channel string
	dsn     string
	cfg     LeaseConfig // Duration zero: not listening

	mu sync.Mutex
	// gens are the generations remembered while the lease holds; epoch
	// counts the times they were forgotten, so that a read that raced a
	// notification does not store what it read.
	gens  map[string]int64
	epoch uint64
	// until is when serving from memory stops by the local clock; zero
	// while not listening.
	until time.Time
	// acks holds the highest number each replica was seen to acknowledge;
	// wake is closed and replaced on every acknowledgement.
	acks map[string]int64
	wake chan struct{}
	// listening is set while the listening connection is up.
	listening bool
	// ackedSeq is the highest number this replica acknowledged; back the
	// number of its last tick that came back.
	ackedSeq, back int64

	stop context.CancelFunc
	done chan struct{}
}

func newReplicas(ctx context.Context, db *DB, dsn string) (*replicas, error) {
	var name string
	if err := db.r.QueryRowContext(ctx, `SELECT current_database() || '.' || current_schema()`).Scan(&name); err != nil {
		return nil, fmt.Errorf("replica channel: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	r := &replicas{db: db, id: hex.EncodeToString(b[:]), channel: fmt.Sprintf("metricsd_%x", h.Sum64()), dsn: dsn,
		gens: map[string]int64{}, acks: map[string]int64{}, wake: make(chan struct{})}
	if c := db.leaseCfg; c != nil {
		r.cfg = *c
		lctx, stop := context.WithCancel(context.Background())
		r.stop, r.done = stop, make(chan struct{})
		go r.listen(lctx)
	}
	return r, nil
}

// ReplicaID names this store among the replicas (its lease row, and the
// application_name of its listening connection: metricsd-listen-ID).
func (db *DB) ReplicaID() string {
	if db.repl == nil {
		return ""
	}
	return db.repl.id
}

// Serving reports whether ProjectGeneration is answered from memory now.
func (db *DB) Serving() bool {
	return db.repl != nil && db.repl.serving()
}

func (r *replicas) close() {
	if r == nil || r.stop == nil {
		return
	}
	r.stop()
	<-r.done
}

func (r *replicas) serving() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listening && time.Now().Before(r.until)
}

// cached returns the remembered generation of project key, if the lease
// allows serving it, and the epoch to store a freshly read one under.
func (r *replicas) cached(key string) (int64, bool, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.listening || !time.Now().Before(r.until) {
		return 0, false, r.epoch
	}
	g, ok := r.gens[key]
	return g, ok, r.epoch
}

// remember stores a generation read from the database under epoch, unless
// a notification came in since.
func (r *replicas) remember(key string, gen int64, epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if epoch == r.epoch && r.listening {
		if len(r.gens) >= 10000 {
			clear(r.gens)
		}
		r.gens[key] = gen
	}
}

// forget drops every remembered generation.
func (r *replicas) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epoch++
	clear(r.gens)
}

// announce numbers a write that bumped a generation and notifies the
// number, as the last statement of its transaction.
func (r *replicas) announce(ctx context.Context, t *txn) (int64, error) {
	var seq int64
	var void string
	err := t.row(ctx, `WITH c AS (UPDATE replica_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq)
SELECT c.seq, pg_notify(?, 'g ' || c.seq)::text FROM c`, r.channel).Scan(&seq, &void)
	return seq, classify(err)
}

// await returns once every other replica with a live lease acknowledged
// seq or its lease expired. It forgets this replica's own remembered
// generations first.
func (r *replicas) await(ctx context.Context, seq int64) error {
	r.forget()
	limit := time.Now().Add(r.waitBound())
	for {
		pending, err := r.pending(ctx, seq)
		if err != nil {
			return err
		}
		for len(pending) > 0 {
			r.mu.Lock()
			wake, listening := r.wake, r.listening
			for id := range pending {
				if r.acks[id] >= seq {
					delete(pending, id)
				}
			}
			r.mu.Unlock()
			if len(pending) == 0 {
				return nil
			}
			next := limit
			for _, exp := range pending {
				if exp.Before(next) {
					next = exp
				}
			}
			if !listening {
				// Nobody here hears acknowledgements: poll.
				if poll := time.Now().Add(5 * time.Millisecond); poll.Before(next) {
					next = poll
				}
			}
			timer := time.NewTimer(time.Until(next))
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("%w: the write was committed, but waiting for other replicas to see it: %v", core.ErrUnavailable, ctx.Err())
			case <-wake:
				timer.Stop()
				continue
			case <-timer.C:
			}
			if time.Now().After(limit) {
				return fmt.Errorf("%w: the write was committed, but other replicas did not acknowledge it", core.ErrUnavailable)
			}
			break // re-read the leases: one may have expired or been renewed
		}
		if len(pending) == 0 {
			return nil
		}
	}
}

// waitBound is the longest await waits: past it a lease that keeps being
// renewed without acknowledging is a bug, reported as unavailability.
func (r *replicas) waitBound() time.Duration {
	return time.Second + 3*max(r.cfg.Duration, DefaultLeaseDuration)
}

// pending reads the other replicas whose lease is live and who have not
// acknowledged seq, with the local time their lease ends.
func (r *replicas) pending(ctx context.Context, seq int64) (map[string]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r.db.statements.Add(1)
	q := r.db.dialect.rebind(`SELECT id, CAST(EXTRACT(EPOCH FROM expires_at - now()) * 1000000 AS BIGINT) FROM replica_leases
WHERE id <> ? AND acked < ? AND expires_at > now()`)
	start := time.Now()
	rows, err := r.db.w.QueryContext(ctx, q, r.id, seq)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var us int64
		if err := rows.Scan(&id, &us); err != nil {
			return nil, classify(err)
		}
		out[id] = start.Add(time.Duration(us) * time.Microsecond)
	}
	return out, classify(rows.Err())
}

// tickEvery is how often a listening replica renews its lease.
func (r *replicas) tickEvery() time.Duration { return r.cfg.Duration / 4 }

// margin is how much earlier than the database the replica considers its
// lease over, for clocks that run at slightly different rates.
func (r *replicas) margin() time.Duration { return r.cfg.Duration / 4 }

// listen keeps a listening connection up until ctx ends.
func (r *replicas) listen(ctx context.Context) {
	defer close(r.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		err := r.session(ctx)
		r.drop()
		if ctx.Err() != nil {
			break
		}
		r.cfg.Log.Warn("replica listener lost; serving generations from the database until it is back", "err", err)
		if time.Since(started) > 10*time.Second {
			backoff = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	// The lease goes with the replica, so that writers do not wait it out.
	dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = r.db.w.ExecContext(dctx, r.db.dialect.rebind(`DELETE FROM replica_leases WHERE id = ?`), r.id)
}

// drop stops serving from memory and forgets it all; the lease row goes
// too, so that writers stop waiting for this replica.
func (r *replicas) drop() {
	r.mu.Lock()
	r.listening = false
	r.until = time.Time{}
	r.epoch++
	clear(r.gens)
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = r.db.w.ExecContext(ctx, r.db.dialect.rebind(`DELETE FROM replica_leases WHERE id = ?`), r.id)
}

// session listens on one connection until it fails, stops delivering
// this replica's own ticks, or ctx ends.
func (r *replicas) session(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(r.dsn)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = "metricsd-listen-" + r.id
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(c)
		cancel()
	}()
	lctx, cancel := context.WithTimeout(sctx, 5*time.Second)
	_, err = conn.Exec(lctx, "LISTEN "+pgx.Identifier{r.channel}.Sanitize())
	cancel()
	if err != nil {
		return err
	}
	// Register the lease now that notifications reach this replica.
	r.mu.Lock()
	r.back = 0
	r.mu.Unlock()
	if err := r.renew(sctx, conn, time.Now(), true); err != nil {
		return err
	}
	r.mu.Lock()
	r.listening = true
	r.mu.Unlock()

	ticks := make(chan tick, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { r.ticker(sctx, stop, ticks) })
	var sent tick
	for {
		n, err := conn.WaitForNotification(sctx)
		if err != nil {
			if c := context.Cause(sctx); c != nil && ctx.Err() == nil {
				return c
			}
			return err
		}
		select {
		case sent = <-ticks:
		default:
		}
		kind, rest, _ := strings.Cut(n.Payload, " ")
		switch kind {
		case "g":
			seq, err := strconv.ParseInt(rest, 10, 64)
			if err != nil {
				continue
			}
			r.forget()
			if err := r.ack(sctx, conn, seq); err != nil {
				return err
			}
		case "a":
			id, num, _ := strings.Cut(rest, " ")
			seq, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				continue
			}
			r.mu.Lock()
			if seq > r.acks[id] {
				r.acks[id] = seq
				if len(r.acks) > 1000 {
					clear(r.acks)
					r.acks[id] = seq
				}
			}
			close(r.wake)
			r.wake = make(chan struct{})
			r.mu.Unlock()
		case "t":
			if rest != r.id+" "+strconv.FormatInt(sent.n, 10) {
				continue
			}
			// Everything committed before the tick has been seen.
			if err := r.renew(sctx, conn, time.Now(), false); err != nil {
				return err
			}
			r.received(sent.n)
		}
	}
}

// tick is one of this replica's ticks, by number.
type tick struct {
	n int64
}

// received tells the ticker that tick n came back.
func (r *replicas) received(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > r.back {
		r.back = n
	}
}

// ticker sends this replica's ticks, and ends the session (stop) when one
// does not come back within the lease.
func (r *replicas) ticker(ctx context.Context, stop context.CancelCauseFunc, ticks chan<- tick) {
	var n int64
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.tickEvery()):
		}
		r.mu.Lock()
		back := r.back
		r.mu.Unlock()
		if n > back {
			// The previous tick has not come back yet.
			if time.Since(last) > r.cfg.Duration {
				stop(errors.New("the listening connection stopped delivering notifications"))
				return
			}
			continue
		}
		n++
		last = time.Now()
		// Hand the number over before it can come back.
		select {
		case ticks <- tick{n: n}:
		case <-ctx.Done():
			return
		}
		tctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
		_, err := r.db.w.ExecContext(tctx, `SELECT pg_notify($1, $2)`, r.channel, "t "+r.id+" "+strconv.FormatInt(n, 10))
		cancel()
		if err != nil && ctx.Err() == nil {
			r.cfg.Log.Warn("replica lease tick", "err", err)
		}
	}
}

// renew extends the lease from the database's now, and the local serving
// deadline from sent (before the statement went out). A lease that had
// lapsed meanwhile may have been skipped by writers: what was remembered is
// forgotten. fresh is the first renewal of a listening connection, which
// cannot have heard what was committed before it: a lease left live by
// the connection before is treated as lapsed.
func (r *replicas) renew(ctx context.Context, conn *pgx.Conn, sent time.Time, fresh bool) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration/2)
	defer cancel()
	r.mu.Lock()
	acked := r.ackedSeq
	r.mu.Unlock()
	// Background statements are not counted in Statements: tests count
	// what requests cost.
	var live bool
	// A new or lapsed lease acknowledges every number already committed:
	// this replica forgets all it remembered below, and is listening for
	// every later one. A live lease acknowledges what it acknowledged.
	err := conn.QueryRow(ctx, `WITH old AS (SELECT expires_at > now() AS live FROM replica_leases WHERE id = $1),
up AS (INSERT INTO replica_leases (id, acked, expires_at)
  VALUES ($1, (SELECT seq FROM replica_clock WHERE id = 1), now() + $3 * interval '1 microsecond')
  ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at,
    acked = CASE WHEN replica_leases.expires_at > now() AND NOT $4 THEN GREATEST(replica_leases.acked, $2) ELSE EXCLUDED.acked END
  RETURNING id)
SELECT COALESCE((SELECT live FROM old), false) AND NOT $4 FROM up`, r.id, acked, r.cfg.Duration.Microseconds(), fresh).Scan(&live)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !live {
		r.epoch++
		clear(r.gens)
	}
	r.until = sent.Add(r.cfg.Duration - r.margin())
	return nil
}

// ack records that this replica has forgotten what notification seq
// invalidated, and tells the writers. It runs on the listening connection
// (as renew does), so that a pool busy with requests does not hold it up;
// notifications that arrive meanwhile wait in the connection.
func (r *replicas) ack(ctx context.Context, conn *pgx.Conn, seq int64) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration/2)
	defer cancel()
	r.mu.Lock()
	if seq > r.ackedSeq {
		r.ackedSeq = seq
	}
	r.mu.Unlock()
	var void string
	return conn.QueryRow(ctx, `WITH u AS (UPDATE replica_leases SET acked = GREATEST(acked, $2) WHERE id = $1 RETURNING id)
SELECT pg_notify($3, 'a ' || $1 || ' ' || $2::bigint)::text`, r.id, seq, r.channel).Scan(&void)
}
