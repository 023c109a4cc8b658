package catalog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/metricsd/metricsd/internal/core"
)

// Catalog applies the domain rules on top of a Store. Handlers call one
// Catalog method per request.
type Catalog struct {
	store Store
	now   func() time.Time
}

// New returns a Catalog over s.
func New(s Store) *Catalog {
	return &Catalog{store: s, now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
}

// Store returns the underlying store.
func (c *Catalog) Store() Store { return c.store }

// HashToken returns the stored form of an access token.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// NewTokenSecret returns a fresh access token value.
func NewTokenSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "api-" + hex.EncodeToString(b[:])
}

// Authenticate resolves the value of an Authorization header to the member
// it belongs to. A "Bearer " prefix is accepted.
func (c *Catalog) Authenticate(ctx context.Context, header string) (core.Principal, error) {
	secret := strings.TrimSpace(header)
	if len(secret) > 7 && strings.EqualFold(secret[:7], "bearer ") {
		secret = strings.TrimSpace(secret[7:])
	}
	if secret == "" {
		return core.Principal{}, core.Errorf(core.KindUnauthorized, "an access token is required in the Authorization header")
	}
	if len(secret) > 512 {
		return core.Principal{}, core.Errorf(core.KindUnauthorized, "invalid access token")
	}
	hash := HashToken(secret)
	tok, m, err := c.store.TokenByHash(ctx, hash)
	if errors.Is(err, core.ErrNotFound) {
		return core.Principal{}, core.Errorf(core.KindUnauthorized, "invalid access token")
	}
	if err != nil {
		return core.Principal{}, err
	}
	if subtle.ConstantTimeCompare(tok.Hash, hash) != 1 {
		return core.Principal{}, core.Errorf(core.KindUnauthorized, "invalid access token")
	}
	return core.Principal{
		MemberID: m.ID, Email: m.Email, FirstName: m.FirstName, LastName: m.LastName, Role: m.Role,
		TokenID: tok.ID, TokenName: tok.Name, TokenEnding: secret[len(secret)-min(4, len(secret)):],
	}, nil
}

// Bootstrap seeds a fresh database with the owner member, an admin token,
// project "default" and its environments "production" and "test". When
// adminToken is set it becomes a valid token of the owner, fresh database or
// not. It returns the generated token when it made one, which the caller
// shows once.
func (c *Catalog) Bootstrap(ctx context.Context, adminToken string) (generated string, err error) {
	now := c.now()
	secret := adminToken
	if secret == "" {
		secret = NewTokenSecret()
	}
	owner := Member{ID: core.NewObjectID(), Email: "owner@metricsd.local", FirstName: "Metricsd", LastName: "Owner", Role: "owner", CreatedAt: now}
	proj := Project{ID: core.NewObjectID(), Key: "default", Name: "Default", Tags: []string{}, IncludeInSnippetByDefault: false, UsingEnvironmentID: false, UsingMobileKey: true, CreatedAt: now}
	seed := &Seed{
		Owner:        owner,
		Token:        Token{ID: core.NewObjectID(), MemberID: owner.ID, Name: "bootstrap admin token", Hash: HashToken(secret), CreatedAt: now},
		Project:      proj,
		Environments: defaultEnvironments(proj.ID, now),
	}
	created, err := c.store.Bootstrap(ctx, seed)
	if err != nil {
		return "", err
	}
	if created {
		if adminToken == "" {
			return secret, nil
		}
		return "", nil
	}
	if adminToken == "" {
		return "", nil
	}
	o, err := c.store.Owner(ctx)
	if err != nil {
		return "", err
	}
	return "", c.store.EnsureToken(ctx, &Token{ID: core.NewObjectID(), MemberID: o.ID, Name: "METRICSD_ADMIN_TOKEN", Hash: HashToken(adminToken), CreatedAt: now})
}

func newEnvironment(projectID, key, name, color string, critical bool, now time.Time) Environment {
	return Environment{
		ID: core.NewObjectID(), ProjectID: projectID, Key: key, Name: name, Color: color,
		APIKey: "sdk-" + uuid.NewString(), MobileKey: "mob-" + uuid.NewString(),
		Critical: critical, Tags: []string{}, CreatedAt: now,
	}
}

func defaultEnvironments(projectID string, now time.Time) []Environment {
	return []Environment{
		newEnvironment(projectID, "production", "Production", "417505", true, now),
		newEnvironment(projectID, "test", "Test", "F5A623", false, now.Add(time.Millisecond)),
	}
}

// project resolves a project key or returns a core.KindNotFound error.
func (c *Catalog) project(ctx context.Context, key string) (*Project, error) {
	p, err := c.store.GetProject(ctx, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown project %q", key)
	}
	return p, err
}
