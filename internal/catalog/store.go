package catalog

import (
	"context"

	"github.com/metricsd/metricsd/internal/core"
)

// MetricQuery selects metrics of one project. Every set field narrows the
// result; store implementations evaluate it in SQL.
type MetricQuery struct {
	core.Page
	Sort []core.SortKey
	// Queries: each entry is a list of alternatives; a metric matches an entry
	// when its key or name contains one alternative, case-insensitively.
	Queries             [][]string
	TagsAll             []string
	Kinds               []string
	IsNumeric           *bool
	UnitAggregationType string
	MaintainerIDs       []string
	MaintainerTeamKey   string
	HasConnections      *bool
	UsedIn              string // experiments, guarded_rollouts, any, none
	DataSourceKeys      []string
	EventKeys           []string // the metric's event key is one of them
	VersionIDs          []string // the metric's current version ID is one of them
	View                string
}

// Seed is the content of a fresh database.
type Seed struct {
	Owner        Member
	Token        Token
	Project      Project
	Environments []Environment
}

// ExpandSet names the metric expansions a read should load.
type ExpandSet map[string]bool

// Store persists the catalog. Every method is one transaction. Methods report
// missing rows with core.ErrNotFound, unique violations with core.ErrDuplicate, failed
// optimistic checks with core.ErrStale and broken references with core.ErrReference.
type Store interface {
	Ping(ctx context.Context) error
	Close() error

	// Bootstrap stores the seed data of a fresh database in one transaction
	// that is safe against replicas starting together. It stores nothing and
	// reports false when the database already has members.
	Bootstrap(ctx context.Context, seed *Seed) (bool, error)
	// EnsureToken stores t unless a token with the same hash exists.
	EnsureToken(ctx context.Context, t *Token) error

	CreateMember(ctx context.Context, m *Member) error
	GetMember(ctx context.Context, id string) (*Member, error)
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token with the given hash and its member.
	TokenByHash(ctx context.Context, hash []byte) (*Token, *Member, error)
	// Owner returns the earliest member with the owner role.
	Owner(ctx context.Context) (*Member, error)

	CreateProject(ctx context.Context, p *Project, envs []Environment) error
	GetProject(ctx context.Context, key string) (*Project, error)
	// ListProjects returns one page of the projects q selects and the
	// number of all of them.
	ListProjects(ctx context.Context, q ProjectQuery) ([]Project, int, error)
	DeleteProject(ctx context.Context, key string) error
	ListEnvironments(ctx context.Context, projectID string) ([]Environment, error)
	// ListEnvironmentPage returns one page of a project's environments that
	// q selects and the number of all of them.
	ListEnvironmentPage(ctx context.Context, projectID string, q EnvironmentQuery) ([]Environment, int, error)
	GetEnvironment(ctx context.Context, projectID, key string) (*Environment, error)

	CreateMetric(ctx context.Context, m *Metric) error
	// GetMetric returns the current version, or the version named by
	// versionID when it is not empty.
	GetMetric(ctx context.Context, projectID, key, versionID string) (*Metric, error)
	ListMetrics(ctx context.Context, projectID string, q MetricQuery) ([]Metric, int, error)
	// UpdateMetric stores m as a new version if the current version is still
	// prevVersion, and core.ErrStale otherwise.
	UpdateMetric(ctx context.Context, m *Metric, prevVersion int) error
	DeleteMetric(ctx context.Context, projectID, key string) error
	MetricExpansions(ctx context.Context, metricID string, want ExpandSet) (*MetricExpansions, error)

	AccountStore
	GroupStore
}
