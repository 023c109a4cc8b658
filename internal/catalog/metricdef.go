package catalog

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
)

// Metric kinds.
const (
	KindPageview = "pageview"
	KindClick    = "click"
	KindCustom   = "custom"
	KindTrace    = "trace"
)

// MetricKinds lists every metric kind in API order.
var MetricKinds = []string{KindPageview, KindClick, KindCustom, KindTrace}

// MetricDef is the editable part of a metric. Its JSON names are the wire
// names of LaunchDarkly's MetricPost/MetricRep fields; the same document is
// what clients JSON-Patch and what the store keeps per version.
type MetricDef struct {
	Name               string       `json:"name"`
	Description        string       `json:"description,omitempty"`
	Category           string       `json:"category,omitempty"`
	Tags               []string     `json:"tags"`
	MaintainerID       string       `json:"maintainerId,omitempty"`
	MaintainerTeamKey  string       `json:"maintainerTeamKey,omitempty"`
	IsNumeric          bool         `json:"isNumeric"`
	Unit               string       `json:"unit,omitempty"`
	SuccessCriteria    string       `json:"successCriteria,omitempty"`
	EventKey           string       `json:"eventKey,omitempty"`
	Selector           string       `json:"selector,omitempty"`
	URLs               []URLMatcher `json:"urls,omitempty"`
	TraceQuery         string       `json:"traceQuery,omitempty"`
	TraceValueLocation string       `json:"traceValueLocation,omitempty"`
	RandomizationUnits []string     `json:"randomizationUnits"`
	// AnalysisUnits is the newer name of RandomizationUnits, accepted on
	// writes; normalizeMetric folds it in, so it is never stored.
	AnalysisUnits       []string      `json:"analysisUnits,omitempty"`
	UnitAggregationType string        `json:"unitAggregationType,omitempty"`
	AnalysisType        string        `json:"analysisType,omitempty"`
	PercentileValue     *int          `json:"percentileValue,omitempty"`
	EventDefault        *EventDefault `json:"eventDefault,omitempty"`
	DataSource          DataSource    `json:"dataSource"`
	Filters             *EventFilter  `json:"filters,omitempty"`
	Archived            bool          `json:"archived"`
}

// URLMatcher is one target URL rule of a pageview or click metric.
type URLMatcher struct {
	Kind      string `json:"kind"`
	URL       string `json:"url,omitempty"`
	Substring string `json:"substring,omitempty"`
	Pattern   string `json:"pattern,omitempty"`
}

// EventDefault says how units without events count.
type EventDefault struct {
	Disabled bool     `json:"disabled"`
	Value    *float64 `json:"value,omitempty"`
}

// DataSource names where a metric's events come from.
type DataSource struct {
	Key            string `json:"key"`
	EnvironmentKey string `json:"environmentKey,omitempty"`
	Name           string `json:"_name,omitempty"`
	IntegrationKey string `json:"_integrationKey,omitempty"`
}

// DefaultDataSource is the built-in source of SDK-sent events.
var defaultDataSource = DataSource{Key: "launchdarkly", Name: "LaunchDarkly"}

// EventFilter narrows the events or contexts a metric counts. A group node
// combines the filters in Values with op "and" or "or".
type EventFilter struct {
	Type        string `json:"type"`
	Attribute   string `json:"attribute,omitempty"`
	Op          string `json:"op"`
	Values      []any  `json:"values"`
	ContextKind string `json:"contextKind,omitempty"`
	Negate      bool   `json:"negate"`
}

// MetricPost is the body of a create-metric request.
type MetricPost struct {
	Key  string `json:"key"`
	Kind string `json:"kind"`
	MetricDef
}

var (
	tagPattern  = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)
	unitPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	filterOps   = []string{"in", "endsWith", "startsWith", "matches", "contains", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual", "before", "after", "semVerEqual", "semVerLessThan", "semVerGreaterThan"}
)

// normalizeMetric fills defaults into d. It never overrides a given value.
func normalizeMetric(key string, d *MetricDef) {
	d.Name = strings.TrimSpace(d.Name)
	if d.Name == "" {
		d.Name = key
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	d.Tags = core.Dedupe(d.Tags)
	mergeUnitNames(d)
	if len(d.RandomizationUnits) == 0 {
		d.RandomizationUnits = []string{"user"}
	}
	if d.AnalysisType == "" {
		d.AnalysisType = "mean"
	}
	if d.UnitAggregationType == "" {
		d.UnitAggregationType = "average"
	}
	if d.DataSource == (DataSource{}) {
		d.DataSource = defaultDataSource
	}
	if d.EventDefault != nil && !d.EventDefault.Disabled && d.EventDefault.Value == nil {
		zero := 0.0
		d.EventDefault.Value = &zero
	}
}

func invalid(format string, args ...any) error { return core.Errorf(core.KindInvalid, format, args...) }

// invalidAt is invalid about one field of the request (core.Error.Field).
func invalidAt(field, format string, args ...any) error {
	return core.FieldErrorf(core.KindInvalid, field, format, args...)
}

// validateMetric checks every rule of a metric definition of the given kind.
// It returns the first violation as a core.KindInvalid error naming the field.
func validateMetric(kind string, d *MetricDef) error {
	if !slices.Contains(MetricKinds, kind) {
		return invalidAt("kind", "kind must be one of %s", strings.Join(MetricKinds, ", "))
	}
	if utf8.RuneCountInString(d.Name) > 256 {
		return invalidAt("name", "name must be at most 256 characters")
	}
	if utf8.RuneCountInString(d.Description) > 4096 {
		return invalidAt("description", "description must be at most 4096 characters")
	}
	for i, t := range d.Tags {
		if len(t) > 64 || !tagPattern.MatchString(t) {
			return invalidAt(fmt.Sprintf("tags[%d]", i), "tags[%d] %q must be 1-64 letters, digits, '.', '_', ':' or '-'", i, t)
		}
	}
	if err := validateUnitNames(d); err != nil {
		return err
	}
	seenUnits := map[string]bool{}
	for i, u := range d.RandomizationUnits {
		if !unitPattern.MatchString(u) {
			return invalidAt(fmt.Sprintf("randomizationUnits[%d]", i), "randomizationUnits[%d] %q is not a valid context kind", i, u)
		}
		if seenUnits[u] {
			return invalidAt(fmt.Sprintf("randomizationUnits[%d]", i), "randomizationUnits[%d] %q is listed twice", i, u)
		}
		seenUnits[u] = true
	}
	numericKind := kind == KindCustom || kind == KindTrace
	if d.IsNumeric && !numericKind {
		return invalidAt("isNumeric", "isNumeric can only be true for custom and trace metrics")
	}
	if d.SuccessCriteria != "" && d.SuccessCriteria != "HigherThanBaseline" && d.SuccessCriteria != "LowerThanBaseline" {
		return invalidAt("successCriteria", "successCriteria must be one of HigherThanBaseline, LowerThanBaseline")
	}
	if d.IsNumeric && d.SuccessCriteria == "" {
		return invalidAt("successCriteria", "successCriteria is required when isNumeric is true")
	}
	if d.Unit != "" && !d.IsNumeric {
		return invalidAt("unit", "unit applies to numeric metrics only")
	}
	if d.UnitAggregationType != "average" && d.UnitAggregationType != "sum" {
		return invalidAt("unitAggregationType", "unitAggregationType must be one of average, sum")
	}
	switch d.AnalysisType {
	case "mean":
		if d.PercentileValue != nil {
			return invalidAt("percentileValue", "percentileValue requires analysisType percentile")
		}
	case "percentile":
		if !d.IsNumeric {
			return invalidAt("analysisType", "analysisType percentile requires isNumeric true")
		}
		if d.PercentileValue == nil {
			return invalidAt("percentileValue", "percentileValue is required when analysisType is percentile")
		}
		if *d.PercentileValue < 0 || *d.PercentileValue > 100 {
			return invalidAt("percentileValue", "percentileValue must be between 0 and 100")
		}
	default:
		return invalidAt("analysisType", "analysisType must be one of mean, percentile")
	}
	if ed := d.EventDefault; ed != nil && ed.Value != nil && *ed.Value != 0 {
		return invalidAt("eventDefault.value", "eventDefault.value must be 0; no other default is supported")
	}
	if err := validateKindFields(kind, d); err != nil {
		return err
	}
	if d.DataSource.Key == "" {
		return invalidAt("dataSource.key", "dataSource.key is required")
	}
	if d.Filters != nil {
		if err := validateFilter("filters", d.Filters, 0); err != nil {
			return err
		}
	}
	return nil
}

func validateKindFields(kind string, d *MetricDef) error {
	usesURLs := kind == KindPageview || kind == KindClick
	if usesURLs && len(d.URLs) == 0 {
		return invalidAt("urls", "urls is required for %s metrics", kind)
	}
	if !usesURLs && len(d.URLs) > 0 {
		return invalidAt("urls", "urls applies to pageview and click metrics only")
	}
	for i, u := range d.URLs {
		if err := validateURL(i, u); err != nil {
			return err
		}
	}
	if kind == KindClick && strings.TrimSpace(d.Selector) == "" {
		return invalidAt("selector", "selector is required for click metrics")
	}
	if kind != KindClick && d.Selector != "" {
		return invalidAt("selector", "selector applies to click metrics only")
	}
	if kind == KindCustom && strings.TrimSpace(d.EventKey) == "" {
		return invalidAt("eventKey", "eventKey is required for custom metrics")
	}
	if kind != KindCustom && d.EventKey != "" {
		return invalidAt("eventKey", "eventKey applies to custom metrics only")
	}
	if kind == KindTrace {
		if strings.TrimSpace(d.TraceQuery) == "" {
			return invalidAt("traceQuery", "traceQuery is required for trace metrics")
		}
		if d.IsNumeric && strings.TrimSpace(d.TraceValueLocation) == "" {
			return invalidAt("traceValueLocation", "traceValueLocation is required for numeric trace metrics")
		}
		if !d.IsNumeric && d.TraceValueLocation != "" {
			return invalidAt("traceValueLocation", "traceValueLocation applies to numeric trace metrics only")
		}
	} else if d.TraceQuery != "" || d.TraceValueLocation != "" {
		return invalidAt("traceQuery", "traceQuery and traceValueLocation apply to trace metrics only")
	}
	return nil
}

func validateURL(i int, u URLMatcher) error {
	field := fmt.Sprintf("urls[%d]", i)
	switch u.Kind {
	case "exact", "canonical":
		if u.URL == "" {
			return invalidAt(field, "%s.url is required for kind %s", field, u.Kind)
		}
		p, err := url.Parse(u.URL)
		if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
			return invalidAt(field, "%s.url %q must be an absolute http or https URL", field, u.URL)
		}
		if u.Substring != "" || u.Pattern != "" {
			return invalidAt(field, "%s takes only url for kind %s", field, u.Kind)
		}
	case "substring":
		if u.Substring == "" {
			return invalidAt(field, "%s.substring is required for kind substring", field)
		}
		if u.URL != "" || u.Pattern != "" {
			return invalidAt(field, "%s takes only substring for kind substring", field)
		}
	case "regex":
		if u.Pattern == "" {
			return invalidAt(field, "%s.pattern is required for kind regex", field)
		}
		if _, err := regexp.Compile(u.Pattern); err != nil {
			return invalidAt(field, "%s.pattern is not a valid regular expression: %s", field, regexpReason(err))
		}
		if u.URL != "" || u.Substring != "" {
			return invalidAt(field, "%s takes only pattern for kind regex", field)
		}
	default:
		return invalidAt(field, "%s.kind must be one of exact, canonical, substring, regex", field)
	}
	return nil
}

func regexpReason(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

const maxFilterDepth = 8

func validateFilter(field string, f *EventFilter, depth int) error {
	if depth > maxFilterDepth {
		return invalidAt(field, "%s is nested more than %d levels deep", field, maxFilterDepth)
	}
	switch f.Type {
	case "group":
		if f.Op != "and" && f.Op != "or" {
			return invalidAt(field, "%s.op must be and or or for a group", field)
		}
		if len(f.Values) == 0 {
			return invalidAt(field, "%s.values must list at least one filter", field)
		}
		for i, v := range f.Values {
			raw, err := json.Marshal(v)
			if err != nil {
				return invalidAt(field, "%s.values[%d] is not a filter", field, i)
			}
			var child EventFilter
			sub := fmt.Sprintf("%s.values[%d]", field, i)
			if err := patch.DecodeStrict(raw, &child); err != nil {
				return invalidAt(sub, "%s is not a filter: %s", sub, err.Error())
			}
			if err := validateFilter(sub, &child, depth+1); err != nil {
				return err
			}
		}
	case "contextAttribute", "eventProperty":
		if f.Attribute == "" {
			return invalidAt(field, "%s.attribute is required", field)
		}
		if !slices.Contains(filterOps, f.Op) {
			return invalidAt(field, "%s.op must be one of %s", field, strings.Join(filterOps, ", "))
		}
		if len(f.Values) == 0 {
			return invalidAt(field, "%s.values must not be empty", field)
		}
		for i, v := range f.Values {
			switch v.(type) {
			case string, float64, bool:
			default:
				return invalidAt(field, "%s.values[%d] must be a string, number or boolean", field, i)
			}
		}
		if f.Type == "contextAttribute" && f.ContextKind == "" {
			return invalidAt(field, "%s.contextKind is required for contextAttribute filters", field)
		}
		if f.Type == "eventProperty" && f.ContextKind != "" {
			return invalidAt(field, "%s.contextKind applies to contextAttribute filters only", field)
		}
	default:
		return invalidAt(field, "%s.type must be one of contextAttribute, eventProperty, group", field)
	}
	return nil
}
