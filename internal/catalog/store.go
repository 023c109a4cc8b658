package catalog

import (
	"context"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
	"github.com/metricsd/metricsd/internal/view"
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
	Owner        account.Member
	Token        account.Token
	Project      Project
	Environments []Environment
}

// Store persists the catalog: what every service needs, together. Reads
// are methods of their own, each one consistent snapshot; every write runs
// through Transact, the one write seam, which runs fn in one transaction
// (retried from the start after transient conflicts) and records the audit
// entry of the change fn returns in that same transaction; a nil change
// records nothing. Methods report missing rows with core.ErrNotFound,
// unique violations with core.ErrDuplicate, failed optimistic checks with
// core.ErrStale and broken references with core.ErrReference (or a
// *core.MissingRefsError).
type Store interface {
	Close() error
	AuthStore
	ProjectStore
	MetricStore
	GroupStore
	account.MemberStore
	account.TeamStore
	account.RoleStore
	account.TokenStore
	audit.Reader
	experiment.Store
	view.Store
}

// Tx is the unit of work of one write. Reads through it see the write's own
// changes; the ForUpdate reads also lock what they return against other
// writers until the write ends, so that rules spanning rows are checked on
// rows nobody else can change meanwhile.
type Tx interface {
	ProjectTx
	KeyTx
	MetricTx
	GroupTx
	account.Tx
	view.Tx
}

// ProjectTx is what project writes need.
type ProjectTx interface {
	// Project resolves a project key inside the write.
	Project(ctx context.Context, key string) (*Project, error)
	CreateProject(ctx context.Context, p *Project, envs []Environment) error
	// DeleteProject removes a project and everything in it.
	DeleteProject(ctx context.Context, key string) error
	Environments(ctx context.Context, projectID string) ([]Environment, error)
}

// MetricTx is what metric writes need. Writes that name a maintainer lock
// the member or team, and report one that does not exist with a
// *core.MissingRefsError.
type MetricTx interface {
	// MetricForUpdate returns the head of a metric, locked.
	MetricForUpdate(ctx context.Context, projectID, key string) (*Metric, error)
	// Metric returns the head, or the version versionID.
	Metric(ctx context.Context, projectID, key, versionID string) (*Metric, error)
	CreateMetric(ctx context.Context, m *Metric) error
	// UpdateMetric stores m as a new version if the head is still
	// prevVersion, and core.ErrStale otherwise.
	UpdateMetric(ctx context.Context, m *Metric, prevVersion int) error
	// DeleteMetric removes a metric unless something uses it
	// (*InUseError).
	DeleteMetric(ctx context.Context, projectID, key string) error
	// GroupsOfMetric returns the groups that contain a metric, locked.
	GroupsOfMetric(ctx context.Context, metricID string) ([]MetricGroup, error)
	// MetricImpact lists the running experiments and active guarded
	// rollouts that use a metric, directly or through a group.
	MetricImpact(ctx context.Context, metricID string) (*Impact, error)
}

// GroupTx is what metric group writes need.
type GroupTx interface {
	// GroupForUpdate returns a group with its metrics, locked.
	GroupForUpdate(ctx context.Context, projectID, key string) (*MetricGroup, error)
	CreateMetricGroup(ctx context.Context, g *MetricGroup) error
	// UpdateMetricGroup stores g when its version is still prevVersion.
	UpdateMetricGroup(ctx context.Context, g *MetricGroup, prevVersion int) error
	// DeleteMetricGroup removes a group unless something uses it.
	DeleteMetricGroup(ctx context.Context, projectID, key string) error
	// MetricsForShare returns the current versions of the named metrics of
	// a project keyed by metric key, locked against change and deletion;
	// missing keys are absent.
	MetricsForShare(ctx context.Context, projectID string, keys []string) (map[string]*Metric, error)
	// GroupImpact lists the running experiments and active guarded
	// rollouts that use a group.
	GroupImpact(ctx context.Context, groupID string) (*Impact, error)
}

// MetricVersion summarises one stored version of a metric.
type MetricVersion struct {
	Version     int
	VersionID   string
	CreatedAt   time.Time
	Comment     string
	AuthorID    string
	AuthorEmail string
	// Author is the member who made the version, nil when they are gone.
	Author *account.Member
}
