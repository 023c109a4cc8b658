package account

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// TokenUseStore stores when tokens were last used.
type TokenUseStore interface {
	RecordTokenUses(ctx context.Context, uses map[string]time.Time) error
}

// Bounds of TokenUses.
const (
	// DefaultTokenUseInterval is how often recorded uses are written.
	DefaultTokenUseInterval = time.Minute
	// maxPendingUses bounds the tokens remembered between two writes;
	// uses of further tokens wait for the next interval's requests.
	maxPendingUses = 10000
	// tokenUseTimeout bounds one write of the recorded uses.
	tokenUseTimeout = 5 * time.Second
)

// TokenUses records when tokens are used (LaunchDarkly's lastUsed)
// without a write per request: Record only remembers the latest use of
// each token in memory, and Run writes what it remembers once per
// interval in one transaction, so a token costs at most one row update per
// interval and replica, off the request path.
type TokenUses struct {
	store TokenUseStore
	log   *slog.Logger
	mu    sync.Mutex
	// pending holds the latest use of each token since the last write.
	pending map[string]time.Time
}

// NewTokenUses returns a recorder writing to s; log may be nil.
func NewTokenUses(s TokenUseStore, log *slog.Logger) *TokenUses {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TokenUses{store: s, log: log, pending: map[string]time.Time{}}
}

// Record notes that token id was used at at. Past maxPendingUses
// distinct tokens since the last write, further tokens are not noted.
func (u *TokenUses) Record(id string, at time.Time) {
	if u == nil || id == "" {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if prev, ok := u.pending[id]; ok {
		if at.After(prev) {
			u.pending[id] = at
		}
		return
	}
	if len(u.pending) < maxPendingUses {
		u.pending[id] = at
	}
}

// Flush writes the uses recorded since the last write, within
// tokenUseTimeout. Uses it fails to write are kept for the next attempt
// unless newer ones have come since.
func (u *TokenUses) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = make(map[string]time.Time, len(batch))
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, tokenUseTimeout)
	defer cancel()
	err := u.store.RecordTokenUses(ctx, batch)
	if err != nil {
		for id, at := range batch {
			u.Record(id, at)
		}
	}
	return err
}

// Run writes the recorded uses every interval until ctx is done, then
// once more (with a fresh deadline) so that a clean shutdown loses none.
func (u *TokenUses) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultTokenUseInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := u.Flush(context.WithoutCancel(ctx)); err != nil {
				u.log.Warn("recording token use at shutdown", "err", err)
			}
			return
		case <-t.C:
			if err := u.Flush(ctx); err != nil {
				u.log.Warn("recording token use", "err", err)
			}
		}
	}
}
