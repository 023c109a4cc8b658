package catalog

import (
	"context"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
)

// Metric group kinds.
const (
	GroupFunnel    = "funnel"
	GroupStandard  = "standard"
	GroupGuardrail = "guardrail"
)

// MetricGroup is an ordered set of metrics analysed together.
type MetricGroup struct {
	ID             string
	ProjectID      string
	ProjectKey     string
	Key            string
	Version        int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Def            GroupDef
	Maintainer     *account.Member
	MaintainerTeam *account.TeamRef
	Metrics        []GroupMetric
	Usage          GroupUsage
}

// GroupDef is the editable part of a metric group, in wire names.
type GroupDef struct {
	Name              string   `json:"name"`
	Kind              string   `json:"kind"`
	Description       string   `json:"description"`
	Tags              []string `json:"tags"`
	MaintainerID      string   `json:"maintainerId,omitempty"`
	MaintainerTeamKey string   `json:"maintainerTeamKey,omitempty"`
	// Maintainer is the maintainer in the shape of LaunchDarkly's current
	// representation ({"key", "kind": "member"|"team"}), accepted on writes
	// and resolved into MaintainerID or MaintainerTeamKey; never stored.
	Maintainer *MaintainerRef  `json:"maintainer,omitempty"`
	Metrics    []GroupMetricIn `json:"metrics"`
}

// MaintainerRef names a maintainer: a member by ID or a team by key.
type MaintainerRef struct {
	Key  string `json:"key"`
	Kind string `json:"kind"`
}

// GroupMetricIn names one metric of a group and its label there.
type GroupMetricIn struct {
	Key         string `json:"key"`
	NameInGroup string `json:"nameInGroup"`
}

// GroupMetric is a metric of a group as it is now, with its label.
type GroupMetric struct {
	Metric
	NameInGroup string
}

// GroupUsage counts what refers to a metric group.
type GroupUsage struct {
	ExperimentCount           int
	ActiveExperimentCount     int
	GuardedRolloutCount       int
	ActiveGuardedRolloutCount int
}

// GroupQuery selects metric groups of one project, evaluated in SQL.
type GroupQuery struct {
	core.Page
	Sort              []core.SortKey // name, createdAt, connectionCount
	Queries           [][]string
	Kind              string
	HasConnections    *bool
	ExperimentStatus  string
	MaintainerIDs     []string
	MaintainerTeamKey string
}

// GroupStore is what metric group requests need. Reads of a group load its
// metrics in a fixed number of statements, however many metrics it has.
type GroupStore interface {
	writer
	projectReader
	GetMetricGroup(ctx context.Context, projectID, key string) (*MetricGroup, error)
	ListMetricGroups(ctx context.Context, projectID string, q GroupQuery) ([]MetricGroup, int, error)
	GroupExperiments(ctx context.Context, groupID string) ([]ExperimentRef, error)
}
