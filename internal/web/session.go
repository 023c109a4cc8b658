package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// sessionCookie holds the session's random ID; the store holds only its
// SHA-256 hash.
const sessionCookie = "metricsd_session"

// touchEvery is how stale a session's last-seen time may get before a
// request writes it again: the idle timeout is that much approximate, and
// a busy session costs one write a minute, not one a request.
const touchEvery = time.Minute

// active is the session of a signed-in request.
type active struct {
	idHash    []byte
	principal core.Principal
	// csrf is the session's CSRF token: an HMAC of a constant keyed by the
	// session's ID, so that only the holder of the cookie can know it and
	// nothing needs storing.
	csrf string
}

// sessions opens, resolves and closes sessions.
type sessions struct {
	store    account.SessionStore
	auth     *catalog.Auth
	now      core.Clock
	idle     time.Duration
	absolute time.Duration
	cacheTTL time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cachedSession
}

type cachedSession struct {
	s         account.Session
	principal core.Principal
	until     time.Time
}

const maxCachedSessions = 10000

func newSessions(store account.SessionStore, auth *catalog.Auth, now core.Clock, idle, absolute, cacheTTL time.Duration) *sessions {
	return &sessions{store: store, auth: auth, now: now, idle: idle, absolute: absolute, cacheTTL: cacheTTL, cache: map[[32]byte]cachedSession{}}
}

func hashID(id []byte) []byte {
	h := sha256.Sum256(id)
	return h[:]
}

func csrfToken(id []byte) string {
	m := hmac.New(sha256.New, id)
	m.Write([]byte("metricsd web csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// open creates a session for the principal an access token resolved to
// and returns the cookie value.
func (s *sessions) open(ctx context.Context, p core.Principal, tokenHash []byte) (string, error) {
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	now := s.now()
	sess := &account.Session{IDHash: hashID(id), TokenID: p.TokenID, TokenHash: tokenHash, MemberID: p.MemberID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.absolute)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(id), nil
}

// resolve returns the live session the cookie value names, or nil. A
// session past its idle or absolute end, or whose token no longer
// authenticates as the same token, is deleted.
func (s *sessions) resolve(ctx context.Context, cookie string) (*active, error) {
	id, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil || len(id) != 32 {
		return nil, nil
	}
	idHash := hashID(id)
	now := s.now()
	key := [32]byte(idHash)
	if s.cacheTTL > 0 {
		s.mu.Lock()
		c, ok := s.cache[key]
		s.mu.Unlock()
		if ok && now.Before(c.until) && s.live(&c.s, now) {
			return &active{idHash: idHash, principal: c.principal, csrf: csrfToken(id)}, nil
		}
	}
	sess, err := s.store.SessionByHash(ctx, idHash)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(sess.IDHash, idHash) != 1 {
		return nil, nil
	}
	if !s.live(sess, now) {
		return nil, s.end(ctx, idHash)
	}
	p, err := s.auth.AuthenticateHash(ctx, sess.TokenHash)
	if core.KindOf(err) == core.KindUnauthorized || (err == nil && p.TokenID != sess.TokenID) {
		return nil, s.end(ctx, idHash)
	}
	if err != nil {
		return nil, err
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.TouchSession(ctx, idHash, now); err != nil {
			return nil, err
		}
		sess.LastSeenAt = now
	}
	if s.cacheTTL > 0 {
		s.mu.Lock()
		if len(s.cache) >= maxCachedSessions {
			clear(s.cache)
		}
		s.cache[key] = cachedSession{s: *sess, principal: p, until: now.Add(s.cacheTTL)}
		s.mu.Unlock()
	}
	return &active{idHash: idHash, principal: p, csrf: csrfToken(id)}, nil
}

// sweep deletes the sessions that have ended; sign-ins call it, so that
// abandoned sessions do not pile up.
func (s *sessions) sweep(ctx context.Context) error {
	now := s.now()
	_, err := s.store.DeleteExpiredSessions(ctx, now, now.Add(-s.idle))
	return err
}

// live reports whether the session is within its idle and absolute ends.
func (s *sessions) live(sess *account.Session, now time.Time) bool {
	return now.Before(sess.ExpiresAt) && now.Sub(sess.LastSeenAt) < s.idle
}

// end deletes a session.
func (s *sessions) end(ctx context.Context, idHash []byte) error {
	s.mu.Lock()
	delete(s.cache, [32]byte(idHash))
	s.mu.Unlock()
	return s.store.DeleteSession(ctx, idHash)
}

// setSessionCookie gives the browser its session. Secure when the request
// came over TLS; SameSite=Strict keeps it off cross-site requests.
func setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(maxAge.Seconds())})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

type stateKey struct{}

// state is what the UI's middleware found out about a request.
type state struct {
	session *active
}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	if st == nil {
		return &state{}
	}
	return st
}

// loadSession resolves the session cookie, if any, and puts the session
// and its principal in the request's context.
func (u *UI) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &state{}
		ctx := r.Context()
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			a, err := u.sessions.resolve(ctx, c.Value)
			if err != nil {
				u.writeError(w, r, err)
				return
			}
			if a == nil {
				clearSessionCookie(w, r)
			} else {
				st.session = a
				ctx = core.WithPrincipal(ctx, a.principal)
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, stateKey{}, st)))
	})
}
