// Package view owns views, LaunchDarkly's project-level groupings of
// resources (beta API): their fields, the rules for creating, editing and
// deleting them, and the links between a view and the flags, segments and
// metrics it groups.
//
// metricsd manages metrics but not flags or segments. A metric is linked by
// key and must exist in the view's project; deleting the metric removes it
// from every view. Flags and segments are linked by the keys (or segment
// environment and key) the request names, stored as given: metricsd keeps
// the link, counts it and lets it be removed, but knows nothing else about
// the resource.
//
// The package knows nothing of HTTP or SQL: the store implements Store and
// Tx, the transport calls Service.
package view

import (
	"context"
	"strconv"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
)

// ResourceType is the kind of resource a link names, as the link path
// spells it.
type ResourceType string

// The resource types a view links. Flags and Segments are LaunchDarkly's;
// Metrics is metricsd's extension.
const (
	Flags    ResourceType = "flags"
	Segments ResourceType = "segments"
	Metrics  ResourceType = "metrics"
)

// ResourceTypes lists every resource type, in the order messages name them.
var ResourceTypes = []ResourceType{Flags, Segments, Metrics}

// VersionToken names the stored version of the view, as conditional
// requests compare it (core.CheckIfMatch).
func (v *View) VersionToken() string { return v.ID + "-" + strconv.Itoa(v.Version) }

// View is one stored view with the counts of what is linked to it.
type View struct {
	ID         string
	ProjectID  string
	ProjectKey string
	Key        string
	Fields
	Version    int
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ArchivedAt *time.Time

	// Maintainer and MaintainerTeam are the resolved maintainer, read with
	// the view; nil when the view has none of that kind.
	Maintainer     *account.Member
	MaintainerTeam *account.TeamRef

	// Counts are the numbers of linked resources of each type.
	Counts Counts
}

// Fields are the editable fields of a view.
type Fields struct {
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	Tags              []string `json:"tags"`
	GenerateSDKKeys   bool     `json:"generateSdkKeys"`
	MaintainerID      string   `json:"maintainerId,omitempty"`
	MaintainerTeamKey string   `json:"maintainerTeamKey,omitempty"`
	Archived          bool     `json:"archived"`
}

// Counts are the numbers of resources linked to a view.
type Counts struct {
	Flags    int
	Segments int
	Metrics  int
}

// Total is the number of linked resources of every type.
func (c Counts) Total() int { return c.Flags + c.Segments + c.Metrics }

// LinkedMetric is a metric linked to a view, as view expansions show it:
// the metric's current version.
type LinkedMetric struct {
	ID          string
	Key         string
	Name        string
	Description string
	Category    string
	Kind        string
	EventKey    string
	VersionID   string
	IsNumeric   bool
	Archived    bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastSeen    *time.Time
	LinkedAt    time.Time
	ProjectKey  string
}

// Ref names one resource to link or unlink. EnvironmentID is set only for
// segments named by environment and key.
type Ref struct {
	Key           string
	EnvironmentID string
}

// Expand names optional parts of a view representation.
type Expand string

// The expansions metricsd computes. Summaries are counts; AllMetrics lists
// the linked metrics.
const (
	ExpandFlagsSummary    Expand = "flagsSummary"
	ExpandSegmentsSummary Expand = "segmentsSummary"
	ExpandResourceSummary Expand = "resourceSummary"
	ExpandMaintainer      Expand = "maintainer"
	ExpandMetricsSummary  Expand = "metricsSummary"
	ExpandAllMetrics      Expand = "allMetrics"
)

// ListExpands and GetExpands are the expansions a list and a single read
// accept.
var (
	ListExpands = []Expand{ExpandFlagsSummary, ExpandSegmentsSummary, ExpandResourceSummary, ExpandMetricsSummary}
	GetExpands  = []Expand{ExpandFlagsSummary, ExpandSegmentsSummary, ExpandResourceSummary, ExpandMaintainer, ExpandMetricsSummary, ExpandAllMetrics}
)

// Unsupported are expansions LaunchDarkly documents that need details of
// flags or segments, which metricsd does not hold.
var Unsupported = []Expand{"allFlags", "allSegments", "allResources"}

// ExpandSet is a set of requested expansions.
type ExpandSet map[Expand]bool

// MaxLinkedMetrics bounds how many linked metrics a read with allMetrics
// lists; metricsExpanded.totalCount still counts them all.
const MaxLinkedMetrics = 100

// Default and largest page sizes of the view list.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Query selects views of one project. Every set field narrows the result.
type Query struct {
	core.Page
	// Sort is key, name or updatedAt; the default is key.
	Sort []core.SortKey
	// Conds are the filter's clauses, all of which must hold.
	Conds []Cond
	// LinkedTo, when set, keeps the views the resource is linked to.
	LinkedTo *Linked
}

// Linked names one resource of a type, for the views linked to it.
type Linked struct {
	Type ResourceType
	Ref
}

// Cond is one filter clause over a view field.
type Cond struct {
	// Field is name, key, tag, maintainerId or isPayloadView.
	Field string
	// Op is equals, notEquals, startsWith, contains or anyOf.
	Op     string
	Values []string
}

// Store is what the view service needs: the write seam and the reads.
type Store interface {
	// TransactViews runs fn in one write transaction and records the audit
	// entry of the change it returns in that same transaction.
	TransactViews(ctx context.Context, fn func(tx Tx) (*audit.Change, error)) error
	// ProjectForView resolves a project key outside writes.
	ProjectForView(ctx context.Context, key string) (*Project, error)
	// GetView returns a view and, when metricLimit > 0, up to metricLimit
	// of its linked metrics, oldest link first, read in one snapshot.
	GetView(ctx context.Context, projectID, key string, metricLimit int) (*View, []LinkedMetric, error)
	ListViews(ctx context.Context, projectID string, q Query) ([]View, int, error)
}

// Project is what a view needs of its project.
type Project struct {
	ID   string
	Key  string
	Name string
}

// Tx is the unit of work of one view write. Reads see the write's own
// changes; ViewForUpdate locks the view until the write ends.
type Tx interface {
	// ProjectForView resolves a project key inside the write.
	ProjectForView(ctx context.Context, key string) (*Project, error)
	ViewForUpdate(ctx context.Context, projectID, key string) (*View, error)
	// CreateView stores a new view; a taken key is core.ErrDuplicate and a
	// missing maintainer a *core.MissingRefsError.
	CreateView(ctx context.Context, v *View) error
	// UpdateView stores v when its version is still prevVersion, and
	// core.ErrStale otherwise.
	UpdateView(ctx context.Context, v *View, prevVersion int) error
	DeleteView(ctx context.Context, viewID string) error
	// MetricIDs returns the IDs of the named metrics of a project keyed by
	// key, locked against deletion until the write ends; missing keys are
	// absent.
	MetricIDs(ctx context.Context, projectID string, keys []string) (map[string]string, error)
	// EnvironmentIDs reports which of ids are environments of the project.
	EnvironmentIDs(ctx context.Context, projectID string, ids []string) (map[string]bool, error)
	// Link links the resources to the view at now; links that exist are
	// kept as they are. metricIDs are used for Metrics.
	Link(ctx context.Context, viewID string, typ ResourceType, refs []Ref, metricIDs []string, now time.Time) error
	// Unlink removes the links; links that do not exist are ignored.
	Unlink(ctx context.Context, viewID string, typ ResourceType, refs []Ref, metricIDs []string) error
	// ViewMetricKeys returns the keys of the metrics linked to a view,
	// sorted.
	ViewMetricKeys(ctx context.Context, viewID string) ([]string, error)
	// ViewRefs returns the flags or segments linked to a view, sorted.
	ViewRefs(ctx context.Context, viewID string, typ ResourceType) ([]Ref, error)
}
