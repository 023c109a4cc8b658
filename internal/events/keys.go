package events

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

// Env is the environment a credential belongs to.
type Env struct {
	ID         string
	ProjectID  string
	Key        string
	ProjectKey string
}

// KeyStore resolves credentials with one indexed read.
type KeyStore interface {
	// EnvironmentByCredential returns the environment whose credential of
	// kind (catalog.CredentialSDK, CredentialMobile, CredentialClientSide)
	// is value at now, or core.ErrNotFound.
	EnvironmentByCredential(ctx context.Context, kind, value string, now time.Time) (*Env, error)
}

// ErrUnknownKey is returned for a credential that belongs to no
// environment: never an access token, a reset key, or a guess.
var ErrUnknownKey = core.Errorf(core.KindUnauthorized, "unknown or revoked SDK credential")

// Keys resolves SDK credentials to environments, remembering answers for a
// short time so that a busy sender costs no query per post. Revoked
// credentials are forgotten at once in this process (Forget); other
// replicas see a revocation within the cache lifetime.
type Keys struct {
	store KeyStore
	now   core.Clock
	ttl   time.Duration

	mu      sync.Mutex
	entries map[[32]byte]keyEntry
}

type keyEntry struct {
	env     *Env // nil: known not to exist
	value   string
	expires time.Time
}

// maxKeyEntries bounds the cache; past it the cache starts over.
const maxKeyEntries = 4096

// DefaultKeyTTL is how long a resolved credential is trusted.
const DefaultKeyTTL = 10 * time.Second

// missTTL is how long an unknown credential is remembered as unknown.
// Credentials are random, so a remembered miss cannot become valid.
const missTTL = 5 * time.Second

// NewKeys returns a resolver over store; ttl 0 means DefaultKeyTTL.
func NewKeys(store KeyStore, now core.Clock, ttl time.Duration) *Keys {
	if ttl <= 0 {
		ttl = DefaultKeyTTL
	}
	if now == nil {
		now = core.SystemClock
	}
	return &Keys{store: store, now: now, ttl: ttl, entries: map[[32]byte]keyEntry{}}
}

func cacheKey(kind, value string) [32]byte {
	return sha256.Sum256([]byte(kind + "\x00" + value))
}

// Resolve returns the environment of a credential, or ErrUnknownKey.
func (k *Keys) Resolve(ctx context.Context, kind, value string) (*Env, error) {
	if value == "" || len(value) > 256 {
		return nil, ErrUnknownKey
	}
	now := k.now()
	ck := cacheKey(kind, value)
	k.mu.Lock()
	e, ok := k.entries[ck]
	k.mu.Unlock()
	if ok && now.Before(e.expires) {
		if e.env == nil {
			return nil, ErrUnknownKey
		}
		return e.env, nil
	}
	env, err := k.store.EnvironmentByCredential(ctx, kind, value, now)
	if err != nil && !errors.Is(err, core.ErrNotFound) {
		return nil, err
	}
	entry := keyEntry{env: env, value: value, expires: now.Add(k.ttl)}
	if env == nil {
		entry.expires = now.Add(missTTL)
	}
	k.mu.Lock()
	if len(k.entries) >= maxKeyEntries {
		clear(k.entries)
	}
	k.entries[ck] = entry
	k.mu.Unlock()
	if env == nil {
		return nil, ErrUnknownKey
	}
	return env, nil
}

// Forget drops cached answers for credentials that stopped being valid.
func (k *Keys) Forget(values ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, v := range values {
		for _, kind := range []string{catalog.CredentialSDK, catalog.CredentialMobile, catalog.CredentialClientSide} {
			delete(k.entries, cacheKey(kind, v))
		}
	}
}

// CredentialFromHeader returns the credential in an Authorization header:
// the key itself, optionally after "api_key " (mobile SDKs) or "Bearer ".
func CredentialFromHeader(h string) string {
	h = strings.TrimSpace(h)
	for _, prefix := range []string{"api_key ", "bearer "} {
		if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
			return strings.TrimSpace(h[len(prefix):])
		}
	}
	return h
}
