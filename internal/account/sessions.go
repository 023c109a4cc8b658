package account

import (
	"context"
	"time"
)

// Session is a signed-in browser of the web UI. The browser holds the
// session's random ID in a cookie; the store holds only the ID's hash, and
// the access token the session was opened with by its ID and stored hash,
// never its value, so that each request can check the token again.
type Session struct {
	IDHash    []byte
	TokenID   string
	TokenHash []byte
	MemberID  string
	CreatedAt time.Time
	// LastSeenAt is when the session last served a request (kept to about
	// a minute); the idle timeout counts from it.
	LastSeenAt time.Time
	// ExpiresAt is the absolute end of the session.
	ExpiresAt time.Time
}

// SessionStore keeps web UI sessions. They are not catalog data and carry
// no audit entries: opening and closing one changes nothing any
// representation shows.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session whose ID hashes to idHash, or an
	// error wrapping core.ErrNotFound.
	SessionByHash(ctx context.Context, idHash []byte) (*Session, error)
	TouchSession(ctx context.Context, idHash []byte, seen time.Time) error
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteExpiredSessions deletes the sessions that ended before now,
	// absolutely or idle since before idleSince, and returns their count.
	DeleteExpiredSessions(ctx context.Context, now, idleSince time.Time) (int64, error)
}
