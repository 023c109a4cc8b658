package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// Credential kinds of an environment: what an SDK presents when it sends
// events. None of them is ever valid on the REST API.
const (
	CredentialSDK        = "sdk"    // apiKey, server-side SDKs
	CredentialMobile     = "mobile" // mobileKey, mobile SDKs
	CredentialClientSide = "client" // the environment's _id, browser SDKs
)

// NewSDKKey returns a fresh server-side SDK key.
func NewSDKKey() string { return "sdk-" + randomKey() }

// NewMobileKey returns a fresh mobile key.
func NewMobileKey() string { return "mob-" + randomKey() }

// randomKey is 128 random bits in the 8-4-4-4-12 form LaunchDarkly's keys
// have.
func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// KeyTx is what credential resets need inside a write.
type KeyTx interface {
	// EnvironmentForUpdate returns an environment of a project, locked.
	EnvironmentForUpdate(ctx context.Context, projectID, key string) (*Environment, error)
	// ReplaceSDKKey makes newKey the environment's SDK key; the old key
	// stays valid until keepUntil when that is set.
	ReplaceSDKKey(ctx context.Context, envID, oldKey, newKey string, keepUntil *time.Time) error
	// ReplaceMobileKey makes newKey the environment's mobile key.
	ReplaceMobileKey(ctx context.Context, envID, newKey string) error
}

// keyHooks tells interested parties (the ingestion key cache) that
// credentials stopped being valid.
type keyHooks struct {
	mu  sync.Mutex
	fns []func(keys ...string)
}

func (h *keyHooks) add(fn func(keys ...string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns = append(h.fns, fn)
}

func (h *keyHooks) revoked(keys ...string) {
	h.mu.Lock()
	fns := h.fns
	h.mu.Unlock()
	for _, fn := range fns {
		fn(keys...)
	}
}

// OnCredentialsRevoked registers fn to be called with credentials (SDK
// keys, mobile keys, client-side IDs) that stopped being valid in this
// process: after a reset without expiry, or when a project is deleted.
// Caches of credentials call it to forget them at once; other replicas
// rely on their caches' short lifetime.
func (c *Projects) OnCredentialsRevoked(fn func(keys ...string)) { c.hooks.add(fn) }

// maxKeyExpiry bounds how far ahead an old SDK key may be kept valid.
const maxKeyExpiry = 366 * 24 * time.Hour

// ResetSDKKey gives an environment a new SDK key. With expiry set, the old
// key keeps working until then; otherwise it stops at once.
func (c *Projects) ResetSDKKey(ctx context.Context, projectKey, envKey string, expiry *time.Time) (*Project, *Environment, error) {
	now := c.now()
	if expiry != nil {
		if !expiry.After(now) {
			// An expiry in the past is the default: expire at once.
			expiry = nil
		} else if expiry.Sub(now) > maxKeyExpiry {
			return nil, nil, invalid("expiry must be at most 366 days from now")
		}
	}
	var old string
	p, e, err := c.resetKey(ctx, projectKey, envKey, action.UpdateAPIKey, func(tx Tx, e *Environment) error {
		old = e.APIKey
		e.APIKey = NewSDKKey()
		return tx.ReplaceSDKKey(ctx, e.ID, old, e.APIKey, expiry)
	})
	if err == nil && expiry == nil {
		c.hooks.revoked(old)
	}
	return p, e, err
}

// ResetMobileKey gives an environment a new mobile key; the old one stops
// working at once.
func (c *Projects) ResetMobileKey(ctx context.Context, projectKey, envKey string) (*Project, *Environment, error) {
	var old string
	p, e, err := c.resetKey(ctx, projectKey, envKey, action.UpdateMobileKey, func(tx Tx, e *Environment) error {
		old = e.MobileKey
		e.MobileKey = NewMobileKey()
		return tx.ReplaceMobileKey(ctx, e.ID, e.MobileKey)
	})
	if err == nil {
		c.hooks.revoked(old)
	}
	return p, e, err
}

func (c *Projects) resetKey(ctx context.Context, projectKey, envKey string, a action.Action, reset func(Tx, *Environment) error) (*Project, *Environment, error) {
	var p *Project
	var env *Environment
	err := c.store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
		var err error
		p, err = projectIn(ctx, tx, projectKey)
		if err != nil {
			return nil, err
		}
		env, err = tx.EnvironmentForUpdate(ctx, p.ID, envKey)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.Errorf(core.KindNotFound, "unknown environment %q in project %q", envKey, projectKey)
		}
		if err != nil {
			return nil, err
		}
		if err := reset(tx, env); err != nil {
			return nil, err
		}
		// The audit entry names the change, never the keys themselves.
		return &audit.Change{
			Target:  audit.Target{Kind: "environment", Spec: resource.Environment(p.Key, env.Key), Name: env.Name},
			Actions: []action.Action{a},
		}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return p, env, nil
}
