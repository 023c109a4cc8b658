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

// validateMetric checks every rule of a metric definition of the given kind.
// It returns the first violation as a core.KindInvalid error naming the field.
func validateMetric(kind string, d *MetricDef) error {
	if !slices.Contains(MetricKinds, kind) {
		return invalid("kind must be one of %s", strings.Join(MetricKinds, ", "))
	}
	if utf8.RuneCountInString(d.Name) > 256 {
		return invalid("name must be at most 256 characters")
	}
	if utf8.RuneCountInString(d.Description) > 4096 {
		return invalid("description must be at most 4096 characters")
	}
	for i, t := range d.Tags {
		if len(t) > 64 || !tagPattern.MatchString(t) {
			return invalid("tags[%d] %q must be 1-64 letters, digits, '.', '_', ':' or '-'", i, t)
		}
	}
	if err := validateUnitNames(d); err != nil {
		return err
	}
	seenUnits := map[string]bool{}
	for i, u := range d.RandomizationUnits {
		if !unitPattern.MatchString(u) {
			return invalid("randomizationUnits[%d] %q is not a valid context kind", i, u)
		}
		if seenUnits[u] {
			return invalid("randomizationUnits[%d] %q is listed twice", i, u)
		}
		seenUnits[u] = true
	}
	numericKind := kind == KindCustom || kind == KindTrace
	if d.IsNumeric && !numericKind {
		return invalid("isNumeric can only be true for custom and trace metrics")
	}
	if d.SuccessCriteria != "" && d.SuccessCriteria != "HigherThanBaseline" && d.SuccessCriteria != "LowerThanBaseline" {
		return invalid("successCriteria must be one of HigherThanBaseline, LowerThanBaseline")
	}
	if d.IsNumeric && d.SuccessCriteria == "" {
		return invalid("successCriteria is required when isNumeric is true")
	}
	if d.Unit != "" && !d.IsNumeric {
		return invalid("unit applies to numeric metrics only")
	}
	if d.UnitAggregationType != "average" && d.UnitAggregationType != "sum" {
		return invalid("unitAggregationType must be one of average, sum")
	}
	switch d.AnalysisType {
	case "mean":
		if d.PercentileValue != nil {
			return invalid("percentileValue requires analysisType percentile")
		}
	case "percentile":
		if !d.IsNumeric {
			return invalid("analysisType percentile requires isNumeric true")
		}
		if d.PercentileValue == nil {
			return invalid("percentileValue is required when analysisType is percentile")
		}
		if *d.PercentileValue < 0 || *d.PercentileValue > 100 {
			return invalid("percentileValue must be between 0 and 100")
		}
	default:
		return invalid("analysisType must be one of mean, percentile")
	}
	if ed := d.EventDefault; ed != nil && ed.Value != nil && *ed.Value != 0 {
		return invalid("eventDefault.value must be 0; no other default is supported")
	}
	if err := validateKindFields(kind, d); err != nil {
		return err
	}
	if d.DataSource.Key == "" {
		return invalid("dataSource.key is required")
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
		return invalid("urls is required for %s metrics", kind)
	}
	if !usesURLs && len(d.URLs) > 0 {
		return invalid("urls applies to pageview and click metrics only")
	}
	for i, u := range d.URLs {
		if err := validateURL(i, u); err != nil {
			return err
		}
	}
	if kind == KindClick && strings.TrimSpace(d.Selector) == "" {
		return invalid("selector is required for click metrics")
	}
	if kind != KindClick && d.Selector != "" {
		return invalid("selector applies to click metrics only")
	}
	if kind == KindCustom && strings.TrimSpace(d.EventKey) == "" {
		return invalid("eventKey is required for custom metrics")
	}
	if kind != KindCustom && d.EventKey != "" {
		return invalid("eventKey applies to custom metrics only")
	}
	if kind == KindTrace {
		if strings.TrimSpace(d.TraceQuery) == "" {
			return invalid("traceQuery is required for trace metrics")
		}
		if d.IsNumeric && strings.TrimSpace(d.TraceValueLocation) == "" {
			return invalid("traceValueLocation is required for numeric trace metrics")
		}
		if !d.IsNumeric && d.TraceValueLocation != "" {
			return invalid("traceValueLocation applies to numeric trace metrics only")
		}
	} else if d.TraceQuery != "" || d.TraceValueLocation != "" {
		return invalid("traceQuery and traceValueLocation apply to trace metrics only")
	}
	return nil
}

func validateURL(i int, u URLMatcher) error {
	field := fmt.Sprintf("urls[%d]", i)
	switch u.Kind {
	case "exact", "canonical":
		if u.URL == "" {
			return invalid("%s.url is required for kind %s", field, u.Kind)
		}
		p, err := url.Parse(u.URL)
		if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
			return invalid("%s.url %q must be an absolute http or https URL", field, u.URL)
		}
		if u.Substring != "" || u.Pattern != "" {
			return invalid("%s takes only url for kind %s", field, u.Kind)
		}
	case "substring":
		if u.Substring == "" {
			return invalid("%s.substring is required for kind substring", field)
		}
		if u.URL != "" || u.Pattern != "" {
			return invalid("%s takes only substring for kind substring", field)
		}
	case "regex":
		if u.Pattern == "" {
			return invalid("%s.pattern is required for kind regex", field)
		}
		if _, err := regexp.Compile(u.Pattern); err != nil {
			return invalid("%s.pattern is not a valid regular expression: %s", field, regexpReason(err))
		}
		if u.URL != "" || u.Substring != "" {
			return invalid("%s takes only pattern for kind regex", field)
		}
	default:
		return invalid("%s.kind must be one of exact, canonical, substring, regex", field)
	}
	return nil
}

func regexpReason(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

const maxFilterDepth = 8

func validateFilter(field string, f *EventFilter, depth int) error {
	if depth > maxFilterDepth {
		return invalid("%s is nested more than %d levels deep", field, maxFilterDepth)
	}
	switch f.Type {
	case "group":
		if f.Op != "and" && f.Op != "or" {
			return invalid("%s.op must be and or or for a group", field)
		}
		if len(f.Values) == 0 {
			return invalid("%s.values must list at least one filter", field)
		}
		for i, v := range f.Values {
			raw, err := json.Marshal(v)
			if err != nil {
				return invalid("%s.values[%d] is not a filter", field, i)
			}
			var child EventFilter
			sub := fmt.Sprintf("%s.values[%d]", field, i)
			if err := patch.DecodeStrict(raw, &child); err != nil {
				return invalid("%s is not a filter: %s", sub, err.Error())
			}
			if err := validateFilter(sub, &child, depth+1); err != nil {
				return err
			}
		}
	case "contextAttribute", "eventProperty":
		if f.Attribute == "" {
			return invalid("%s.attribute is required", field)
		}
		if !slices.Contains(filterOps, f.Op) {
			return invalid("%s.op must be one of %s", field, strings.Join(filterOps, ", "))
		}
		if len(f.Values) == 0 {
			return invalid("%s.values must not be empty", field)
		}
		for i, v := range f.Values {
			switch v.(type) {
			case string, float64, bool:
			default:
				return invalid("%s.values[%d] must be a string, number or boolean", field, i)
			}
		}
		if f.Type == "contextAttribute" && f.ContextKind == "" {
			return invalid("%s.contextKind is required for contextAttribute filters", field)
		}
		if f.Type == "eventProperty" && f.ContextKind != "" {
			return invalid("%s.contextKind applies to contextAttribute filters only", field)
		}
	default:
		return invalid("%s.type must be one of contextAttribute, eventProperty, group", field)
	}
	return nil
}
