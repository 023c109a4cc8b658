// Package catalog owns metricsd's catalog: projects, environments, metrics
// and metric groups (their types, rules and versions), the services that
// apply those rules, one per aggregate, and the Store and Tx interfaces the
// SQL store implements. It knows nothing of HTTP or SQL.
package catalog

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
	"github.com/metricsd/metricsd/internal/view"
)

// Services are the catalog's domain services, one per aggregate. Each holds
// only the part of the store it needs; handlers call one service method per
// request, with the principal in the context.
type Services struct {
	Auth     *Auth
	Projects *Projects
	Metrics  *Metrics
	Groups   *Groups
	Members  *account.Members
	Teams    *account.Teams
	Roles    *account.Roles
	Tokens   *account.Tokens
	Audit    *audit.Log
	// Experiments and Rollouts connect metrics to flags.
	Experiments *experiment.Experiments
	Rollouts    *experiment.Rollouts
	Views       *view.Service
	// Generations versions what representation caches hold.
	Generations *Generations
	// TokenUses records when tokens are used (their lastUsed); whoever
	// runs the services runs its writer (TokenUses.Run).
	TokenUses *account.TokenUses
}

// New returns the services over s. Every write of every service runs
// through s's write seam wrapped by Enforce, so that no change commits
// unless the principal in its context may make it.
func New(store Store) *Services {
	now := core.Clock(core.SystemClock)
	s := guarded{store}
	uses := account.NewTokenUses(store, nil)
	return &Services{
		Auth:     &Auth{store: s, now: now, uses: uses},
		Projects: &Projects{store: s, now: now},
		Metrics:  &Metrics{store: s, now: now},
		Groups:   &Groups{store: s, now: now},
		Members:  account.NewMembers(s, now),
		Teams:    account.NewTeams(s, now),
		Roles:    account.NewRoles(s, now),
		Tokens:   account.NewTokens(s, now),
		Audit:    audit.NewLog(s),

		Experiments: experiment.NewExperiments(s, now),
		Rollouts:    experiment.NewRollouts(s, now),
		Views:       view.NewService(s, now),

		Generations: &Generations{store: s},
		TokenUses:   uses,
	}
}

// writer is what every service that writes needs: the one write seam.
type writer interface {
	Transact(ctx context.Context, fn func(tx Tx) (*audit.Change, error)) error
}

// projectReader resolves project keys outside writes.
type projectReader interface {
	GetProject(ctx context.Context, key string) (*Project, error)
}

// AuthStore is what authentication and start-up need.
type AuthStore interface {
	Ping(ctx context.Context) error
	Bootstrap(ctx context.Context, seed *Seed) (bool, error)
	EnsureToken(ctx context.Context, t *account.Token) error
	TokenByHash(ctx context.Context, hash []byte, now time.Time) (*account.Credential, error)
	Owner(ctx context.Context) (*account.Member, error)
	account.TokenUseStore
}

// Auth resolves access tokens to principals and seeds fresh databases.
type Auth struct {
	store AuthStore
	now   core.Clock
	// uses records the tokens AuthenticateHash accepts (the API records
	// its own, cached ones included).
	uses *account.TokenUses

	accountMu sync.Mutex
	account   string
}

// Ping checks that the store answers.
func (c *Auth) Ping(ctx context.Context) error { return c.store.Ping(ctx) }

// AccountID is the account's ID: the ID of the owner member created when
// the database was bootstrapped. It never changes, so it is read once.
func (c *Auth) AccountID(ctx context.Context) (string, error) {
	c.accountMu.Lock()
	defer c.accountMu.Unlock()
	if c.account != "" {
		return c.account, nil
	}
	o, err := c.store.Owner(ctx)
	if err != nil {
		return "", err
	}
	c.account = o.ID
	return c.account, nil
}

// ProjectStore is what project and environment requests need.
type ProjectStore interface {
	writer
	projectReader
	ListProjects(ctx context.Context, q ProjectQuery) ([]Project, int, error)
	ListEnvironments(ctx context.Context, projectID string) ([]Environment, error)
	ListEnvironmentPage(ctx context.Context, projectID string, q EnvironmentQuery) ([]Environment, int, error)
	GetEnvironment(ctx context.Context, projectID, key string) (*Environment, error)
}

// Projects serves projects and their environments.
type Projects struct {
	store ProjectStore
	now   core.Clock
	hooks keyHooks
}

// MetricStore is what metric requests need.
type MetricStore interface {
	writer
	projectReader
	GetMetric(ctx context.Context, projectID, key, versionID string) (*Metric, error)
	ListMetrics(ctx context.Context, projectID string, q MetricQuery) ([]Metric, int, error)
	MetricExpansions(ctx context.Context, metricID string, want ExpandSet) (*MetricExpansions, error)
	MetricVersions(ctx context.Context, metricID string, page core.Page) ([]MetricVersion, int, error)
}

// Metrics serves metrics and their versions.
type Metrics struct {
	store MetricStore
	now   core.Clock
}

// Groups serves metric groups.
type Groups struct {
	store GroupStore
	now   core.Clock
}

// HashToken returns the stored form of an access token.
func HashToken(secret string) []byte { return account.HashToken(secret) }

// NewTokenSecret returns a fresh access token value.
func NewTokenSecret() string { return account.NewTokenSecret() }

// Authenticate resolves the value of an Authorization header to the
// principal it acts as: the token's member and what the token may do. A
// "Bearer " prefix is accepted. Only the value's SHA-256 hash is looked
// up, and compared again in constant time.
func (c *Auth) Authenticate(ctx context.Context, header string) (core.Principal, error) {
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
	p, err := c.AuthenticateHash(ctx, HashToken(secret))
	if err != nil {
		return core.Principal{}, err
	}
	p.TokenEnding = secret[len(secret)-min(4, len(secret)):]
	return p, nil
}

// AuthenticateHash resolves the stored form of an access token (HashToken
// of its value) to the principal it acts as, as Authenticate does: the web
// UI's sessions keep the hash, never the value, and check it again on every
// request, so that a revoked or reset token ends them. TokenEnding is left
// empty.
func (c *Auth) AuthenticateHash(ctx context.Context, hash []byte) (core.Principal, error) {
	cred, err := c.store.TokenByHash(ctx, hash, c.now())
	if errors.Is(err, core.ErrNotFound) {
		return core.Principal{}, core.Errorf(core.KindUnauthorized, "invalid access token")
	}
	if err != nil {
		return core.Principal{}, err
	}
	if subtle.ConstantTimeCompare(cred.Token.Hash, hash) != 1 && subtle.ConstantTimeCompare(cred.Token.OldHash, hash) != 1 {
		return core.Principal{}, core.Errorf(core.KindUnauthorized, "invalid access token")
	}
	c.uses.Record(cred.Token.ID, c.now())
	return cred.Principal(), nil
}

// Bootstrap seeds a fresh database with the owner member, an admin token,
// project "default" and its environments "production" and "test". When
// adminToken is set it becomes a valid token of the owner, fresh database or
// not. It returns the generated token when it made one, which the caller
// shows once.
func (c *Auth) Bootstrap(ctx context.Context, adminToken string) (generated string, err error) {
	now := c.now()
	secret := adminToken
	if secret == "" {
		secret = NewTokenSecret()
	}
	owner := account.Member{ID: core.NewObjectID(), Email: "owner@metricsd.local", FirstName: "Metricsd", LastName: "Owner", Role: "owner", CreatedAt: now}
	proj := Project{ID: core.NewObjectID(), Key: "default", Name: "Default", Tags: []string{}, IncludeInSnippetByDefault: false, UsingEnvironmentID: false, UsingMobileKey: true, CreatedAt: now}
	seed := &Seed{
		Owner:        owner,
		Token:        account.Token{ID: core.NewObjectID(), MemberID: owner.ID, Name: "bootstrap admin token", Hash: HashToken(secret), Ending: secret[len(secret)-min(4, len(secret)):], CreatedAt: now},
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
	return "", c.store.EnsureToken(ctx, &account.Token{ID: core.NewObjectID(), MemberID: o.ID, Name: "METRICSD_ADMIN_TOKEN", Hash: HashToken(adminToken), Ending: adminToken[len(adminToken)-min(4, len(adminToken)):], CreatedAt: now})
}

func newEnvironment(projectID, key, name, color string, critical bool, now time.Time) Environment {
	return Environment{
		ID: core.NewObjectID(), ProjectID: projectID, Key: key, Name: name, Color: color,
		APIKey: NewSDKKey(), MobileKey: NewMobileKey(),
		Critical: critical, Tags: []string{}, CreatedAt: now,
	}
}

func defaultEnvironments(projectID string, now time.Time) []Environment {
	return []Environment{
		newEnvironment(projectID, "production", "Production", "417505", true, now),
		newEnvironment(projectID, "test", "Test", "F5A623", false, now.Add(time.Millisecond)),
	}
}

// projectByKey resolves a project key or returns a core.KindNotFound error.
func projectByKey(ctx context.Context, s projectReader, key string) (*Project, error) {
	p, err := s.GetProject(ctx, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown project %q", key)
	}
	return p, err
}
