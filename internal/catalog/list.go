package catalog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/filter"
)

// Paging limits of metric lists.
const (
	DefaultMetricLimit = 20
	MaxMetricLimit     = 50
)

// ParsePage reads limit and offset query parameters.
func ParsePage(limit, offset string, def, max int) (core.Page, error) {
	p := core.Page{Limit: def}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > max {
			return p, invalid("limit must be an integer between 1 and %d", max)
		}
		p.Limit = n
	}
	if offset != "" {
		n, err := strconv.Atoi(offset)
		if err != nil || n < 0 {
			return p, invalid("offset must be a non-negative integer")
		}
		p.Offset = n
	}
	return p, nil
}

// ParseSort reads a comma-separated sort parameter; "-" before a field sorts
// it in descending order.
func ParseSort(s string, allowed ...string) ([]core.SortKey, error) {
	var keys []core.SortKey
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k := core.SortKey{Field: part}
		if strings.HasPrefix(part, "-") {
			k = core.SortKey{Field: part[1:], Desc: true}
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k.Field
		}
		if !ok {
			return nil, invalid("sort field %q is not supported; use %s, with - for descending order", k.Field, strings.Join(allowed, " or "))
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// metricFilterSpec lists the metric filter fields and their operators.
var metricFilterSpec = filter.Spec{
	"query":               {"equals"},
	"tags":                {"contains"},
	"eventKind":           {"equals"},
	"isNumeric":           {"equals"},
	"unitAggregationType": {"equals"},
	"maintainerIds":       {"anyOf"},
	"maintainerTeamKey":   {"equals"},
	"hasConnections":      {"equals"},
	"metricUsedIn":        {"equals"},
	"dataSourceKeys":      {"anyOf"},
	"view":                {"equals"},
	"eventKeys":           {"anyOf"},
	"versionIds":          {"anyOf"},
}

// ParseMetricQuery turns the list parameters of the metrics endpoint into a
// MetricQuery. Errors are core.KindInvalid and point at the offending input.
func ParseMetricQuery(limit, offset, sort, filterText string) (MetricQuery, error) {
	var q MetricQuery
	page, err := ParsePage(limit, offset, DefaultMetricLimit, MaxMetricLimit)
	if err != nil {
		return q, err
	}
	q.Page = page
	if q.Sort, err = ParseSort(sort, "createdAt", "name"); err != nil {
		return q, err
	}
	expr, err := filter.Parse(filterText)
	if err != nil {
		return q, invalid("%s", err.Error())
	}
	if err := expr.Check(metricFilterSpec); err != nil {
		return q, invalid("%s", err.Error())
	}
	seen := map[string]bool{}
	for _, cl := range expr.Clauses {
		// Clauses are a conjunction; only query and tags can meaningfully
		// repeat, any other field would contradict or shadow itself.
		if seen[cl.Field] && cl.Field != "query" && cl.Field != "tags" {
			return q, invalid("%s", (&filter.Error{Pos: cl.FieldPos, Msg: fmt.Sprintf("field %q may appear only once", cl.Field)}).Error())
		}
		seen[cl.Field] = true
		if err := applyMetricClause(&q, cl); err != nil {
			return q, invalid("%s", err.Error())
		}
	}
	return q, nil
}

func applyMetricClause(q *MetricQuery, cl filter.Clause) error {
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
		s, err := v.OneOf(MetricKinds...)
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
