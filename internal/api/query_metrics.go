package api

import (
	"fmt"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/filter"
)

// metricFilterSpec lists the metric filter fields and their operators.
// Clauses are a conjunction; only query and tags can meaningfully repeat
// (each repetition narrows further), any other field would contradict or
// shadow itself.
var metricFilterSpec = filter.Spec{
	"query":               filter.Ops("equals").Repeated(),
	"tags":                filter.Ops("contains").Repeated(),
	"eventKind":           filter.Ops("equals"),
	"isNumeric":           filter.Ops("equals"),
	"unitAggregationType": filter.Ops("equals"),
	"maintainerIds":       filter.Ops("anyOf"),
	"maintainerTeamKey":   filter.Ops("equals"),
	"hasConnections":      filter.Ops("equals"),
	"metricUsedIn":        filter.Ops("equals"),
	"dataSourceKeys":      filter.Ops("anyOf"),
	"view":                filter.Ops("equals"),
	"eventKeys":           filter.Ops("anyOf"),
	"versionIds":          filter.Ops("anyOf"),
}

// parseMetricQuery turns the list parameters of the metrics endpoint into a
// catalog.MetricQuery. Errors are core.KindInvalid and point at the
// offending input.
func parseMetricQuery(limit, offset, sort, filterText string) (catalog.MetricQuery, error) {
	var q catalog.MetricQuery
	page, err := parsePage(limit, offset, catalog.DefaultMetricLimit, catalog.MaxMetricLimit)
	if err != nil {
		return q, err
	}
	q.Page = page
	if q.Sort, err = parseSort(sort, "createdAt", "name"); err != nil {
		return q, err
	}
	expr, err := parseFilter(filterText, metricFilterSpec)
	if err != nil {
		return q, err
	}
	for _, cl := range expr.Clauses {
		if err := applyMetricClause(&q, cl); err != nil {
			return q, filterInvalid(err)
		}
	}
	return q, nil
}

func applyMetricClause(q *catalog.MetricQuery, cl filter.Clause) error {
	v := cl.Value
	switch cl.Field {
	case "query":
		s, err := v.AsStrings()
		if err != nil {
			return err
		}
		q.Queries = append(q.Queries, s)
	case "tags":
		s, err := v.AsStrings()
		if err != nil {
			return err
		}
		q.TagsAll = append(q.TagsAll, s...)
	case "eventKind":
		s, err := v.OneOf(catalog.MetricKinds...)
		if err != nil {
			return err
		}
		q.Kinds = append(q.Kinds, s)
	case "isNumeric":
		b, err := v.AsBool()
		if err != nil {
			return err
		}
		q.IsNumeric = &b
	case "hasConnections":
		b, err := v.AsBool()
		if err != nil {
			return err
		}
		q.HasConnections = &b
	case "unitAggregationType":
		s, err := v.OneOf("sum", "average")
		if err != nil {
			return err
		}
		q.UnitAggregationType = s
	case "maintainerIds":
		s, err := v.AsStrings()
		if err != nil {
			return err
		}
		q.MaintainerIDs = append(q.MaintainerIDs, s...)
	case "maintainerTeamKey":
		s, err := v.AsString()
		if err != nil {
			return err
		}
		q.MaintainerTeamKey = s
	case "metricUsedIn":
		s, err := v.OneOf("experiments", "guarded_rollouts", "any", "none")
		if err != nil {
			return err
		}
		q.UsedIn = s
	case "dataSourceKeys":
		s, err := v.AsStrings()
		if err != nil {
			return err
		}
		q.DataSourceKeys = append(q.DataSourceKeys, s...)
	case "eventKeys":
		s, err := nonEmptyStrings(cl)
		if err != nil {
			return err
		}
		q.EventKeys = append(q.EventKeys, s...)
	case "versionIds":
		s, err := nonEmptyStrings(cl)
		if err != nil {
			return err
		}
		q.VersionIDs = append(q.VersionIDs, s...)
	case "view":
		s, err := v.AsString()
		if err != nil {
			return err
		}
		q.View = s
	}
	return nil
}

// nonEmptyStrings reads the list of an anyOf clause that must name at least
// one value: "any of nothing" would match no metric, which is never meant.
func nonEmptyStrings(cl filter.Clause) ([]string, error) {
	s, err := cl.Value.AsStrings()
	if err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, &filter.Error{Pos: cl.FieldPos, Msg: fmt.Sprintf("field %q needs at least one value", cl.Field)}
	}
	return s, nil
}

// parseMetricExpand parses expand for a single-metric read.
func parseMetricExpand(s string) (catalog.ExpandSet, error) {
	return parseExpand(s, catalog.MetricExpands)
}

// parseMetricListExpand parses expand for the metric list.
func parseMetricListExpand(s string) (catalog.ExpandSet, error) {
	return parseExpand(s, catalog.MetricListExpands)
}

var groupFilterSpec = filter.Spec{
	"query":             filter.Ops("equals").Repeated(),
	"kind":              filter.Ops("equals"),
	"hasConnections":    filter.Ops("equals"),
	"experimentStatus":  filter.Ops("equals"),
	"maintainerIds":     filter.Ops("anyOf"),
	"maintainerTeamKey": filter.Ops("equals"),
}

// parseGroupQuery reads the list parameters of the metric groups endpoint.
func parseGroupQuery(limit, offset, sort, filterText string) (catalog.GroupQuery, error) {
	var q catalog.GroupQuery
	page, err := parsePage(limit, offset, catalog.DefaultMetricLimit, catalog.MaxMetricLimit)
	if err != nil {
		return q, err
	}
	q.Page = page
	if q.Sort, err = parseSort(sort, "name", "createdAt", "connectionCount"); err != nil {
		return q, err
	}
	expr, err := parseFilter(filterText, groupFilterSpec)
	if err != nil {
		return q, err
	}
	for _, cl := range expr.Clauses {
		if err := applyGroupClause(&q, cl); err != nil {
			return q, filterInvalid(err)
		}
	}
	return q, nil
}

func applyGroupClause(q *catalog.GroupQuery, cl filter.Clause) error {
	v := cl.Value
	var err error
	switch cl.Field {
	case "query":
		var s []string
		if s, err = v.AsStrings(); err == nil {
			q.Queries = append(q.Queries, s)
		}
	case "kind":
		q.Kind, err = v.OneOf(catalog.GroupFunnel, catalog.GroupStandard, catalog.GroupGuardrail)
	case "hasConnections":
		var b bool
		if b, err = v.AsBool(); err == nil {
			q.HasConnections = &b
		}
	case "experimentStatus":
		q.ExperimentStatus, err = v.OneOf("not_started", "running", "stopped", "started")
	case "maintainerIds":
		q.MaintainerIDs, err = v.AsStrings()
	case "maintainerTeamKey":
		q.MaintainerTeamKey, err = v.AsString()
	}
	return err
}

// parseGroupExpand parses expand for a single group read.
func parseGroupExpand(s string) (catalog.ExpandSet, error) {
	return parseExpand(s, catalog.GroupExpands)
}

// ParseMetricQuery reads the metrics list's parameters (limit, offset,
// sort and filter, as GET /api/v2/metrics/{projectKey} takes them) for
// another transport: the web UI gets it from app, so that its list speaks
// the API's filter language without importing this package.
func ParseMetricQuery(limit, offset, sort, filterText string) (catalog.MetricQuery, error) {
	return parseMetricQuery(limit, offset, sort, filterText)
}
