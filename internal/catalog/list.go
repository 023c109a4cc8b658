package catalog

import (
	"errors"
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

// MaxOffset bounds the offset of every paged list, so that offsets and the
// links computed from them stay far from integer overflow.
const MaxOffset = 1_000_000_000

// ParsePage reads limit and offset query parameters; offset may be at most
// MaxOffset.
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
		if n > MaxOffset {
			return p, invalid("offset must be at most %d", MaxOffset)
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
	expr, err := ParseFilter(filterText, metricFilterSpec)
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

// ParseFilter parses a list filter and checks it against spec (fields,
// operators, and fields that may appear only once). Errors are
// core.KindInvalid and keep the *filter.Error, with its byte position, for
// errors.As.
func ParseFilter(s string, spec filter.Spec) (filter.Expr, error) {
	expr, err := filter.Parse(s)
	if err == nil {
		err = expr.Check(spec)
	}
	if err != nil {
		return filter.Expr{}, filterInvalid(err)
	}
	return expr, nil
}

// FilterError is a core.KindInvalid error about a list filter. It unwraps
// to both the *core.Error (so that transports pick the status) and the
// *filter.Error that says where the problem is.
type FilterError struct {
	kind  *core.Error
	Cause *filter.Error
}

func (e *FilterError) Error() string { return e.kind.Message }

// Unwrap returns the classified error and the filter error.
func (e *FilterError) Unwrap() []error { return []error{e.kind, e.Cause} }

// filterInvalid classifies an error of the filter package as KindInvalid,
// keeping its position.
func filterInvalid(err error) error {
	var fe *filter.Error
	if !errors.As(err, &fe) {
		return invalid("invalid filter: %s", err.Error())
	}
	return &FilterError{kind: &core.Error{Kind: core.KindInvalid, Message: fe.Error()}, Cause: fe}
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
