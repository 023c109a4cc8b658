package catalog

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
)

// baseDef returns the smallest valid definition of a metric of the given
// kind, before normalization. Unknown kinds get the custom fields.
func baseDef(kind string) MetricDef {
	switch kind {
	case KindPageview:
		return MetricDef{URLs: []URLMatcher{{Kind: "exact", URL: "https://example.com/checkout"}}}
	case KindClick:
		return MetricDef{URLs: []URLMatcher{{Kind: "substring", Substring: "/checkout"}}, Selector: "#buy"}
	case KindTrace:
		return MetricDef{TraceQuery: `service.name = "checkout"`}
	default:
		return MetricDef{EventKey: "purchase"}
	}
}

// numeric turns d into a valid numeric metric.
func numeric(d *MetricDef) {
	d.IsNumeric = true
	d.SuccessCriteria = "HigherThanBaseline"
	if d.TraceQuery != "" {
		d.TraceValueLocation = "duration"
	}
}

func intp(n int) *int           { return &n }
func floatp(f float64) *float64 { return &f }
func strs(s ...string) []string { return s }
func urls(u ...URLMatcher) func(*MetricDef) {
	return func(d *MetricDef) { d.URLs = u }
}

// mustFilter decodes a JSON filter the way a request body would be decoded.
func mustFilter(t testing.TB, s string) *EventFilter {
	t.Helper()
	var f EventFilter
	if err := patch.DecodeStrict([]byte(s), &f); err != nil {
		t.Fatalf("decoding filter %s: %v", s, err)
	}
	return &f
}

// nestedGroups wraps a valid leaf filter in n "and" groups.
func nestedGroups(n int) string {
	s := `{"type":"eventProperty","attribute":"plan","op":"in","values":["pro"]}`
	for range n {
		s = `{"type":"group","op":"and","values":[` + s + `]}`
	}
	return s
}

const filterOpsList = "in, endsWith, startsWith, matches, contains, lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual, before, after, semVerEqual, semVerLessThan, semVerGreaterThan"

func TestValidateMetric(t *testing.T) {
	tagMsg := func(i int, tag string) string {
		return fmt.Sprintf("tags[%d] %q must be 1-64 letters, digits, '.', '_', ':' or '-'", i, tag)
	}
	tests := []struct {
		name string
		kind string
		mod  func(d *MetricDef)
		// filter, when set, is decoded into d.Filters before mod runs.
		filter string
		// raw skips normalizeMetric.
		raw  bool
		want string // "" means valid
	}{
		// Kinds.
		{name: "pageview valid", kind: KindPageview},
		{name: "click valid", kind: KindClick},
		{name: "custom valid", kind: KindCustom},
		{name: "trace valid", kind: KindTrace},
		{name: "numeric custom valid", kind: KindCustom, mod: func(d *MetricDef) { numeric(d); d.Unit = "usd" }},
		{name: "numeric trace valid", kind: KindTrace, mod: numeric},
		{name: "unknown kind", kind: "gauge", want: "kind must be one of pageview, click, custom, trace"},
		{name: "empty kind", kind: "", want: "kind must be one of pageview, click, custom, trace"},
		{name: "kind is case-sensitive", kind: "Custom", want: "kind must be one of pageview, click, custom, trace"},

		// URLs required or forbidden per kind.
		{name: "pageview without urls", kind: KindPageview, mod: urls(), want: "urls is required for pageview metrics"},
		{name: "click without urls", kind: KindClick, mod: urls(), want: "urls is required for click metrics"},
		{name: "custom with urls", kind: KindCustom, mod: urls(URLMatcher{Kind: "exact", URL: "https://example.com/"}), want: "urls applies to pageview and click metrics only"},
		{name: "trace with urls", kind: KindTrace, mod: urls(URLMatcher{Kind: "substring", Substring: "x"}), want: "urls applies to pageview and click metrics only"},

		// URL kinds.
		{name: "exact http url", kind: KindPageview, mod: urls(URLMatcher{Kind: "exact", URL: "http://example.com"})},
		{name: "canonical https url", kind: KindPageview, mod: urls(URLMatcher{Kind: "canonical", URL: "https://example.com/a?b=c"})},
		{name: "exact without url", kind: KindPageview, mod: urls(URLMatcher{Kind: "exact"}), want: "urls[0].url is required for kind exact"},
		{name: "canonical without url", kind: KindClick, mod: urls(URLMatcher{Kind: "canonical"}), want: "urls[0].url is required for kind canonical"},
		{name: "exact relative url", kind: KindPageview, mod: urls(URLMatcher{Kind: "exact", URL: "/checkout"}), want: `urls[0].url "/checkout" must be an absolute http or https URL`},
		{name: "exact ftp url", kind: KindPageview, mod: urls(URLMatcher{Kind: "exact", URL: "ftp://example.com/f"}), want: `urls[0].url "ftp://example.com/f" must be an absolute http or https URL`},
		{name: "canonical url without host", kind: KindPageview, mod: urls(URLMatcher{Kind: "canonical", URL: "https://"}), want: `urls[0].url "https://" must be an absolute http or https URL`},
		{name: "exact unparsable url", kind: KindPageview, mod: urls(URLMatcher{Kind: "exact", URL: "http://exa mple.com"}), want: `urls[0].url "http://exa mple.com" must be an absolute http or https URL`},
		{name: "exact scheme-relative url", kind: KindPageview, mod: urls(URLMatcher{Kind: "exact", URL: "//example.com/a"}), want: `urls[0].url "//example.com/a" must be an absolute http or https URL`},
		{name: "second url is checked", kind: KindPageview, mod: urls(URLMatcher{Kind: "exact", URL: "https://example.com"}, URLMatcher{Kind: "canonical", URL: "nope"}), want: `urls[1].url "nope" must be an absolute http or https URL`},
		{name: "exact with substring", kind: KindPageview, mod: urls(URLMatcher{Kind: "exact", URL: "https://example.com", Substring: "x"}), want: "urls[0] takes only url for kind exact"},
		{name: "canonical with pattern", kind: KindPageview, mod: urls(URLMatcher{Kind: "canonical", URL: "https://example.com", Pattern: "x"}), want: "urls[0] takes only url for kind canonical"},
		{name: "substring valid", kind: KindPageview, mod: urls(URLMatcher{Kind: "substring", Substring: "checkout"})},
		{name: "substring without substring", kind: KindPageview, mod: urls(URLMatcher{Kind: "substring"}), want: "urls[0].substring is required for kind substring"},
		{name: "substring with url", kind: KindPageview, mod: urls(URLMatcher{Kind: "substring", Substring: "a", URL: "https://example.com"}), want: "urls[0] takes only substring for kind substring"},
		{name: "substring with pattern", kind: KindClick, mod: urls(URLMatcher{Kind: "substring", Substring: "a", Pattern: "b"}), want: "urls[0] takes only substring for kind substring"},
		{name: "regex valid", kind: KindPageview, mod: urls(URLMatcher{Kind: "regex", Pattern: `^https://example\.com/(a|b)$`})},
		{name: "regex without pattern", kind: KindPageview, mod: urls(URLMatcher{Kind: "regex"}), want: "urls[0].pattern is required for kind regex"},
		{name: "regex does not compile", kind: KindPageview, mod: urls(URLMatcher{Kind: "regex", Pattern: "(a"}), want: "urls[0].pattern is not a valid regular expression: missing closing ): `(a`"},
		{name: "regex with substring", kind: KindPageview, mod: urls(URLMatcher{Kind: "regex", Pattern: "a", Substring: "b"}), want: "urls[0] takes only pattern for kind regex"},
		{name: "regex with url", kind: KindPageview, mod: urls(URLMatcher{Kind: "regex", Pattern: "a", URL: "https://example.com"}), want: "urls[0] takes only pattern for kind regex"},
		{name: "bad url kind", kind: KindPageview, mod: urls(URLMatcher{Kind: "prefix", URL: "https://example.com"}), want: "urls[0].kind must be one of exact, canonical, substring, regex"},
		{name: "empty url kind", kind: KindClick, mod: urls(URLMatcher{URL: "https://example.com"}), want: "urls[0].kind must be one of exact, canonical, substring, regex"},

		// Selector.
		{name: "click without selector", kind: KindClick, mod: func(d *MetricDef) { d.Selector = "" }, want: "selector is required for click metrics"},
		{name: "click with blank selector", kind: KindClick, mod: func(d *MetricDef) { d.Selector = " \t" }, want: "selector is required for click metrics"},
		{name: "pageview with selector", kind: KindPageview, mod: func(d *MetricDef) { d.Selector = "#buy" }, want: "selector applies to click metrics only"},
		{name: "custom with selector", kind: KindCustom, mod: func(d *MetricDef) { d.Selector = "#buy" }, want: "selector applies to click metrics only"},

		// Event key.
		{name: "custom without eventKey", kind: KindCustom, mod: func(d *MetricDef) { d.EventKey = "" }, want: "eventKey is required for custom metrics"},
		{name: "custom with blank eventKey", kind: KindCustom, mod: func(d *MetricDef) { d.EventKey = "  " }, want: "eventKey is required for custom metrics"},
		{name: "trace with eventKey", kind: KindTrace, mod: func(d *MetricDef) { d.EventKey = "purchase" }, want: "eventKey applies to custom metrics only"},
		{name: "pageview with eventKey", kind: KindPageview, mod: func(d *MetricDef) { d.EventKey = "purchase" }, want: "eventKey applies to custom metrics only"},

		// Trace fields.
		{name: "trace without traceQuery", kind: KindTrace, mod: func(d *MetricDef) { d.TraceQuery = "" }, want: "traceQuery is required for trace metrics"},
		{name: "trace with blank traceQuery", kind: KindTrace, mod: func(d *MetricDef) { d.TraceQuery = " " }, want: "traceQuery is required for trace metrics"},
		{name: "numeric trace without traceValueLocation", kind: KindTrace, mod: func(d *MetricDef) { numeric(d); d.TraceValueLocation = "" }, want: "traceValueLocation is required for numeric trace metrics"},
		{name: "numeric trace with blank traceValueLocation", kind: KindTrace, mod: func(d *MetricDef) { numeric(d); d.TraceValueLocation = " " }, want: "traceValueLocation is required for numeric trace metrics"},
		{name: "conversion trace with traceValueLocation", kind: KindTrace, mod: func(d *MetricDef) { d.TraceValueLocation = "duration" }, want: "traceValueLocation applies to numeric trace metrics only"},
		{name: "custom with traceQuery", kind: KindCustom, mod: func(d *MetricDef) { d.TraceQuery = "x" }, want: "traceQuery and traceValueLocation apply to trace metrics only"},
		{name: "numeric custom with traceValueLocation", kind: KindCustom, mod: func(d *MetricDef) { numeric(d); d.TraceValueLocation = "duration" }, want: "traceQuery and traceValueLocation apply to trace metrics only"},
		{name: "pageview with traceQuery", kind: KindPageview, mod: func(d *MetricDef) { d.TraceQuery = "x" }, want: "traceQuery and traceValueLocation apply to trace metrics only"},

		// isNumeric.
		{name: "numeric pageview", kind: KindPageview, mod: numeric, want: "isNumeric can only be true for custom and trace metrics"},
		{name: "numeric click", kind: KindClick, mod: numeric, want: "isNumeric can only be true for custom and trace metrics"},

		// successCriteria.
		{name: "bad successCriteria", kind: KindCustom, mod: func(d *MetricDef) { d.SuccessCriteria = "Higher" }, want: "successCriteria must be one of HigherThanBaseline, LowerThanBaseline"},
		{name: "successCriteria is case-sensitive", kind: KindCustom, mod: func(d *MetricDef) { d.SuccessCriteria = "higherthanbaseline" }, want: "successCriteria must be one of HigherThanBaseline, LowerThanBaseline"},
		{name: "numeric without successCriteria", kind: KindCustom, mod: func(d *MetricDef) { numeric(d); d.SuccessCriteria = "" }, want: "successCriteria is required when isNumeric is true"},
		{name: "numeric trace without successCriteria", kind: KindTrace, mod: func(d *MetricDef) { numeric(d); d.SuccessCriteria = "" }, want: "successCriteria is required when isNumeric is true"},
		{name: "conversion with LowerThanBaseline", kind: KindPageview, mod: func(d *MetricDef) { d.SuccessCriteria = "LowerThanBaseline" }},

		// unit.
		{name: "unit on conversion metric", kind: KindCustom, mod: func(d *MetricDef) { d.Unit = "ms" }, want: "unit applies to numeric metrics only"},
		{name: "unit on numeric trace", kind: KindTrace, mod: func(d *MetricDef) { numeric(d); d.Unit = "ms" }},

		// unitAggregationType.
		{name: "unitAggregationType sum", kind: KindCustom, mod: func(d *MetricDef) { d.UnitAggregationType = "sum" }},
		{name: "bad unitAggregationType", kind: KindCustom, mod: func(d *MetricDef) { d.UnitAggregationType = "median" }, want: "unitAggregationType must be one of average, sum"},
		{name: "empty unitAggregationType without normalization", kind: KindCustom, raw: true, mod: func(d *MetricDef) {
			normalizeMetric("m", d)
			d.UnitAggregationType = ""
		}, want: "unitAggregationType must be one of average, sum"},

		// analysisType and percentiles.
		{name: "bad analysisType", kind: KindCustom, mod: func(d *MetricDef) { d.AnalysisType = "median" }, want: "analysisType must be one of mean, percentile"},
		{name: "percentile on conversion metric", kind: KindCustom, mod: func(d *MetricDef) { d.AnalysisType = "percentile"; d.PercentileValue = intp(95) }, want: "analysisType percentile requires isNumeric true"},
		{name: "percentile without percentileValue", kind: KindCustom, mod: func(d *MetricDef) { numeric(d); d.AnalysisType = "percentile" }, want: "percentileValue is required when analysisType is percentile"},
		{name: "percentile 0", kind: KindCustom, mod: func(d *MetricDef) { numeric(d); d.AnalysisType = "percentile"; d.PercentileValue = intp(0) }},
		{name: "percentile 100", kind: KindTrace, mod: func(d *MetricDef) { numeric(d); d.AnalysisType = "percentile"; d.PercentileValue = intp(100) }},
		{name: "percentile -1", kind: KindCustom, mod: func(d *MetricDef) { numeric(d); d.AnalysisType = "percentile"; d.PercentileValue = intp(-1) }, want: "percentileValue must be between 0 and 100"},
		{name: "percentile 101", kind: KindCustom, mod: func(d *MetricDef) { numeric(d); d.AnalysisType = "percentile"; d.PercentileValue = intp(101) }, want: "percentileValue must be between 0 and 100"},
		{name: "percentileValue without percentile", kind: KindCustom, mod: func(d *MetricDef) { numeric(d); d.PercentileValue = intp(95) }, want: "percentileValue requires analysisType percentile"},
		{name: "percentileValue 0 without percentile", kind: KindCustom, mod: func(d *MetricDef) { d.PercentileValue = intp(0) }, want: "percentileValue requires analysisType percentile"},

		// eventDefault.
		{name: "eventDefault enabled defaults to 0", kind: KindCustom, mod: func(d *MetricDef) { d.EventDefault = &EventDefault{} }},
		{name: "eventDefault disabled", kind: KindCustom, mod: func(d *MetricDef) { d.EventDefault = &EventDefault{Disabled: true} }},
		{name: "eventDefault value 0", kind: KindCustom, mod: func(d *MetricDef) { d.EventDefault = &EventDefault{Value: floatp(0)} }},
		{name: "eventDefault value 1", kind: KindCustom, mod: func(d *MetricDef) { d.EventDefault = &EventDefault{Value: floatp(1)} }, want: "eventDefault.value must be 0; no other default is supported"},
		{name: "disabled eventDefault value -0.5", kind: KindCustom, mod: func(d *MetricDef) { d.EventDefault = &EventDefault{Disabled: true, Value: floatp(-0.5)} }, want: "eventDefault.value must be 0; no other default is supported"},

		// randomizationUnits.
		{name: "several randomizationUnits", kind: KindCustom, mod: func(d *MetricDef) { d.RandomizationUnits = strs("user", "org", "device.id") }},
		{name: "bad randomizationUnit", kind: KindCustom, mod: func(d *MetricDef) { d.RandomizationUnits = strs("user account") }, want: `randomizationUnits[0] "user account" is not a valid context kind`},
		{name: "empty randomizationUnit", kind: KindCustom, mod: func(d *MetricDef) { d.RandomizationUnits = strs("user", "") }, want: `randomizationUnits[1] "" is not a valid context kind`},
		{name: "duplicate randomizationUnit", kind: KindCustom, mod: func(d *MetricDef) { d.RandomizationUnits = strs("user", "org", "user") }, want: `randomizationUnits[2] "user" is listed twice`},

		// tags.
		{name: "valid tags", kind: KindCustom, mod: func(d *MetricDef) { d.Tags = strs("a", "team:growth", "v1.2_x-y", strings.Repeat("t", 64)) }},
		{name: "tag with space", kind: KindCustom, mod: func(d *MetricDef) { d.Tags = strs("ok", "bad tag") }, want: tagMsg(1, "bad tag")},
		{name: "empty tag", kind: KindCustom, mod: func(d *MetricDef) { d.Tags = strs("") }, want: tagMsg(0, "")},
		{name: "tag too long", kind: KindCustom, mod: func(d *MetricDef) { d.Tags = strs(strings.Repeat("t", 65)) }, want: tagMsg(0, strings.Repeat("t", 65))},
		{name: "tag with slash", kind: KindCustom, mod: func(d *MetricDef) { d.Tags = strs("a/b") }, want: tagMsg(0, "a/b")},

		// name and description.
		{name: "name of 256 characters", kind: KindCustom, mod: func(d *MetricDef) { d.Name = strings.Repeat("n", 256) }},
		{name: "name too long", kind: KindCustom, mod: func(d *MetricDef) { d.Name = strings.Repeat("n", 257) }, want: "name must be at most 256 characters"},
		{name: "description too long", kind: KindCustom, mod: func(d *MetricDef) { d.Description = strings.Repeat("d", 4097) }, want: "description must be at most 4096 characters"},

		// dataSource (only reachable without normalization).
		{name: "dataSource without key", kind: KindCustom, raw: true, mod: func(d *MetricDef) {
			normalizeMetric("m", d)
			d.DataSource = DataSource{}
		}, want: "dataSource.key is required"},

		// Filters: contextAttribute.
		{name: "contextAttribute valid", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"country","op":"in","values":["JP","FR"],"contextKind":"user","negate":true}`},
		{name: "contextAttribute mixed scalar values", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"age","op":"greaterThan","values":[18, "x", true],"contextKind":"user"}`},
		{name: "contextAttribute without attribute", kind: KindCustom, filter: `{"type":"contextAttribute","op":"in","values":["JP"],"contextKind":"user"}`, want: "filters.attribute is required"},
		{name: "contextAttribute bad op", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"country","op":"equals","values":["JP"],"contextKind":"user"}`, want: "filters.op must be one of " + filterOpsList},
		{name: "contextAttribute without op", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"country","values":["JP"],"contextKind":"user"}`, want: "filters.op must be one of " + filterOpsList},
		{name: "contextAttribute without contextKind", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"country","op":"in","values":["JP"]}`, want: "filters.contextKind is required for contextAttribute filters"},
		{name: "contextAttribute empty values", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"country","op":"in","values":[],"contextKind":"user"}`, want: "filters.values must not be empty"},
		{name: "contextAttribute null values", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"country","op":"in","values":null,"contextKind":"user"}`, want: "filters.values must not be empty"},
		{name: "contextAttribute object value", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"country","op":"in","values":["JP",{"a":1}],"contextKind":"user"}`, want: "filters.values[1] must be a string, number or boolean"},
		{name: "contextAttribute null value", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"country","op":"in","values":[null],"contextKind":"user"}`, want: "filters.values[0] must be a string, number or boolean"},
		{name: "contextAttribute array value", kind: KindCustom, filter: `{"type":"contextAttribute","attribute":"country","op":"in","values":[["JP"]],"contextKind":"user"}`, want: "filters.values[0] must be a string, number or boolean"},

		// Filters: eventProperty.
		{name: "eventProperty valid", kind: KindCustom, filter: `{"type":"eventProperty","attribute":"category","op":"startsWith","values":["magic"]}`},
		{name: "eventProperty with contextKind", kind: KindCustom, filter: `{"type":"eventProperty","attribute":"category","op":"in","values":["x"],"contextKind":"user"}`, want: "filters.contextKind applies to contextAttribute filters only"},
		{name: "eventProperty without attribute", kind: KindCustom, filter: `{"type":"eventProperty","op":"in","values":["x"]}`, want: "filters.attribute is required"},
		{name: "unknown filter type", kind: KindCustom, filter: `{"type":"segment","op":"in","values":["x"]}`, want: "filters.type must be one of contextAttribute, eventProperty, group"},
		{name: "empty filter type", kind: KindCustom, filter: `{"op":"in","values":["x"]}`, want: "filters.type must be one of contextAttribute, eventProperty, group"},

		// Filters: groups.
		{name: "group and (docs example)", kind: KindCustom, filter: `{"type":"group","op":"and","values":[{"type":"contextAttribute","op":"in","contextKind":"user","attribute":"country","values":["JP"],"negate":false},{"type":"eventProperty","op":"in","attribute":"category","values":["magic-wands"],"negate":false}]}`},
		{name: "group or", kind: KindCustom, filter: `{"type":"group","op":"or","values":[{"type":"eventProperty","op":"in","attribute":"a","values":[1]}]}`},
		{name: "group bad op", kind: KindCustom, filter: `{"type":"group","op":"not","values":[{"type":"eventProperty","op":"in","attribute":"a","values":[1]}]}`, want: "filters.op must be and or or for a group"},
		{name: "group op in", kind: KindCustom, filter: `{"type":"group","op":"in","values":[{"type":"eventProperty","op":"in","attribute":"a","values":[1]}]}`, want: "filters.op must be and or or for a group"},
		{name: "group without children", kind: KindCustom, filter: `{"type":"group","op":"and","values":[]}`, want: "filters.values must list at least one filter"},
		{name: "group child with unknown field", kind: KindCustom, filter: `{"type":"group","op":"and","values":[{"type":"eventProperty","op":"in","attribute":"a","values":[1],"bogus":true}]}`, want: `filters.values[0] is not a filter: unknown field "bogus"`},
		{name: "group child with wrong type", kind: KindCustom, filter: `{"type":"group","op":"and","values":[{"type":"eventProperty","op":"in","attribute":7,"values":[1]}]}`, want: "filters.values[0] is not a filter: field attribute must be a string, not number"},
		{name: "group child negate wrong type", kind: KindCustom, filter: `{"type":"group","op":"or","values":[{"type":"eventProperty","op":"in","attribute":"a","values":[1]},{"type":"eventProperty","op":"in","attribute":"a","values":[1],"negate":"yes"}]}`, want: "filters.values[1] is not a filter: field negate must be a boolean, not string"},
		{name: "group child is a string", kind: KindCustom, filter: `{"type":"group","op":"and","values":[{"type":"eventProperty","op":"in","attribute":"a","values":[1]},"x"]}`, want: "filters.values[1] is not a filter: request body must be an object, not string"},
		{name: "group child is null", kind: KindCustom, filter: `{"type":"group","op":"and","values":[null]}`, want: "filters.values[0].type must be one of contextAttribute, eventProperty, group"},
		{name: "group child invalid", kind: KindCustom, filter: `{"type":"group","op":"and","values":[{"type":"eventProperty","op":"in","attribute":"a","values":[1]},{"type":"contextAttribute","op":"in","attribute":"a","values":[1]}]}`, want: "filters.values[1].contextKind is required for contextAttribute filters"},
		{name: "nested group child invalid", kind: KindCustom, filter: `{"type":"group","op":"and","values":[{"type":"group","op":"or","values":[{"type":"eventProperty","op":"in","attribute":"a","values":[1]},{"type":"eventProperty","op":"in","values":[1]}]}]}`, want: "filters.values[0].values[1].attribute is required"},
		{name: "filters nested 8 levels deep", kind: KindCustom, filter: nestedGroups(8)},
		{name: "filters nested 9 levels deep", kind: KindCustom, filter: nestedGroups(9), want: "filters" + strings.Repeat(".values[0]", 9) + " is nested more than 8 levels deep"},
		{name: "filters nested 50 levels deep", kind: KindCustom, filter: nestedGroups(50), want: "filters" + strings.Repeat(".values[0]", 9) + " is nested more than 8 levels deep"},

		// Order of checks: the first violation wins.
		{name: "kind checked before name", kind: "bogus", mod: func(d *MetricDef) { d.Name = strings.Repeat("n", 300) }, want: "kind must be one of pageview, click, custom, trace"},
		{name: "tags checked before units", kind: KindCustom, mod: func(d *MetricDef) { d.Tags = strs("a b"); d.RandomizationUnits = strs("x y") }, want: tagMsg(0, "a b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := baseDef(tt.kind)
			if tt.filter != "" {
				d.Filters = mustFilter(t, tt.filter)
			}
			if tt.mod != nil {
				tt.mod(&d)
			}
			if !tt.raw {
				normalizeMetric("metric-key", &d)
			}
			err := validateMetric(tt.kind, &d)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validateMetric(%q) = %v, want nil", tt.kind, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("validateMetric(%q) = nil, want %q", tt.kind, tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("validateMetric(%q) message mismatch (-want +got):\n%s", tt.kind, diff)
			}
			if k := core.KindOf(err); k != core.KindInvalid {
				t.Errorf("core.KindOf(err) = %v, want core.KindInvalid", k)
			}
		})
	}
}

// TestValidateMetricDoesNotMutate checks that validation leaves its input
// alone (group children are decoded into copies).
func TestValidateMetricDoesNotMutate(t *testing.T) {
	d := baseDef(KindCustom)
	d.Filters = mustFilter(t, nestedGroups(3))
	normalizeMetric("k", &d)
	before := d
	before.Filters = mustFilter(t, nestedGroups(3))
	if err := validateMetric(KindCustom, &d); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, d); diff != "" {
		t.Errorf("validateMetric changed its input (-want +got):\n%s", diff)
	}
}

func TestNormalizeMetric(t *testing.T) {
	defaults := func(name string) MetricDef {
		return MetricDef{
			Name:                name,
			Tags:                []string{},
			RandomizationUnits:  []string{"user"},
			AnalysisType:        "mean",
			UnitAggregationType: "average",
			DataSource:          DataSource{Key: "launchdarkly", Name: "LaunchDarkly"},
		}
	}
	with := func(name string, mod func(*MetricDef)) MetricDef {
		d := defaults(name)
		mod(&d)
		return d
	}
	tests := []struct {
		name string
		key  string
		in   MetricDef
		want MetricDef
	}{
		{"empty gets defaults", "checkout", MetricDef{}, defaults("checkout")},
		{"name is trimmed", "k", MetricDef{Name: "  Checkout flow\t"}, defaults("Checkout flow")},
		{"blank name defaults to key", "k", MetricDef{Name: " \n "}, defaults("k")},
		{"name kept", "k", MetricDef{Name: "Named"}, defaults("Named")},
		{"nil tags become empty", "k", MetricDef{Tags: nil}, defaults("k")},
		{"empty tags stay empty", "k", MetricDef{Tags: []string{}}, defaults("k")},
		{
			"tags deduped in order", "k", MetricDef{Tags: strs("b", "a", "b", "c", "a", "b")},
			with("k", func(d *MetricDef) { d.Tags = strs("b", "a", "c") }),
		},
		{"empty randomizationUnits default to user", "k", MetricDef{RandomizationUnits: []string{}}, defaults("k")},
		{
			"randomizationUnits kept", "k", MetricDef{RandomizationUnits: strs("org", "user")},
			with("k", func(d *MetricDef) { d.RandomizationUnits = strs("org", "user") }),
		},
		{
			"randomizationUnits are not deduped", "k", MetricDef{RandomizationUnits: strs("org", "org")},
			with("k", func(d *MetricDef) { d.RandomizationUnits = strs("org", "org") }),
		},
		{
			"analysisType and unitAggregationType kept", "k", MetricDef{AnalysisType: "percentile", UnitAggregationType: "sum"},
			with("k", func(d *MetricDef) { d.AnalysisType = "percentile"; d.UnitAggregationType = "sum" }),
		},
		{
			"invalid enum values are kept for validation", "k", MetricDef{AnalysisType: "x", UnitAggregationType: "y"},
			with("k", func(d *MetricDef) { d.AnalysisType = "x"; d.UnitAggregationType = "y" }),
		},
		{
			"dataSource kept", "k", MetricDef{DataSource: DataSource{Key: "segment", EnvironmentKey: "production"}},
			with("k", func(d *MetricDef) { d.DataSource = DataSource{Key: "segment", EnvironmentKey: "production"} }),
		},
		{
			"eventDefault value 0 filled when enabled", "k", MetricDef{EventDefault: &EventDefault{}},
			with("k", func(d *MetricDef) { d.EventDefault = &EventDefault{Value: floatp(0)} }),
		},
		{
			"eventDefault value left empty when disabled", "k", MetricDef{EventDefault: &EventDefault{Disabled: true}},
			with("k", func(d *MetricDef) { d.EventDefault = &EventDefault{Disabled: true} }),
		},
		{
			"eventDefault value kept", "k", MetricDef{EventDefault: &EventDefault{Value: floatp(3)}},
			with("k", func(d *MetricDef) { d.EventDefault = &EventDefault{Value: floatp(3)} }),
		},
		{
			"other fields untouched", "k",
			MetricDef{Description: " d ", EventKey: " e ", IsNumeric: true, Unit: "ms", PercentileValue: intp(0), Archived: true},
			with("k", func(d *MetricDef) {
				d.Description, d.EventKey, d.IsNumeric, d.Unit, d.PercentileValue, d.Archived = " d ", " e ", true, "ms", intp(0), true
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			normalizeMetric(tt.key, &got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("normalizeMetric mismatch (-want +got):\n%s", diff)
			}
			// Normalizing twice changes nothing.
			again := got
			normalizeMetric(tt.key, &again)
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("normalizeMetric is not idempotent (-first +second):\n%s", diff)
			}
		})
	}
}

// TestNormalizeMetricDataSourceWithoutKey: normalizeMetric documents that it
// never overrides a given value, yet a dataSource sent without a key is
// replaced wholesale, silently dropping environmentKey, and the
// "dataSource.key is required" rule of validateMetric can never fire.
func TestNormalizeMetricDataSourceWithoutKey(t *testing.T) {
	d := MetricDef{DataSource: DataSource{EnvironmentKey: "production"}, EventKey: "e"}
	normalizeMetric("k", &d)
	if err := validateMetric(KindCustom, &d); err == nil || err.Error() != "dataSource.key is required" {
		t.Errorf("validateMetric = %v, want dataSource.key is required (dataSource after normalize: %+v)", err, d.DataSource)
	}
}

func TestValidateKey(t *testing.T) {
	badChars := func(field, key string) string {
		return field + " \"" + key + "\" must start with a letter or digit and contain only letters, digits, '.', '_' and '-'"
	}
	tests := []struct {
		field, key string
		want       string
	}{
		{"key", "checkout", ""},
		{"key", "a", ""},
		{"key", "9", ""},
		{"key", "Metric.v2_final-1", ""},
		{"key", strings.Repeat("k", 256), ""},
		{"key", "", "key is required"},
		{"environments[0].key", "", "environments[0].key is required"},
		{"key", strings.Repeat("k", 257), "key must be at most 256 characters"},
		{"key", "-abc", badChars("key", "-abc")},
		{"key", "_abc", badChars("key", "_abc")},
		{"key", ".abc", badChars("key", ".abc")},
		{"key", "a b", badChars("key", "a b")},
		{"key", "a/b", badChars("key", "a/b")},
		{"key", "a:b", badChars("key", "a:b")},
		{"key", "café", badChars("key", "café")},
		{"key", "abc\n", badChars("key", `abc\n`)},
		{"projectKey", "x y", badChars("projectKey", "x y")},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.key, func(t *testing.T) {
			err := core.ValidateKey(tt.field, tt.key)
			got := ""
			if err != nil {
				got = err.Error()
				if k := core.KindOf(err); k != core.KindInvalid {
					t.Errorf("core.KindOf = %v, want core.KindInvalid", k)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("core.ValidateKey(%q, %q) mismatch (-want +got):\n%s", tt.field, tt.key, diff)
			}
		})
	}
}

// TestMetricDocumentMatchesPatchDocument: the audit log's metric document,
// written directly, is the document JSON Patch applies to.
func TestMetricDocumentMatchesPatchDocument(t *testing.T) {
	pct := 95
	base := Metric{ID: "m1", Key: "k", Kind: KindCustom, Version: 3, VersionID: "v3", CreatedAt: time.UnixMilli(1700000000123)}
	for _, def := range []MetricDef{
		{},
		{Name: "N", Tags: []string{"a"}, RandomizationUnits: []string{"user"}, DataSource: DataSource{Key: "launchdarkly"}},
		{Name: "Full", Description: `d "quoted" <b>`, Tags: []string{}, MaintainerID: "x", IsNumeric: true, Unit: "ms", SuccessCriteria: "LowerThanBaseline",
			EventKey: "e", RandomizationUnits: []string{"user", "org"}, UnitAggregationType: "sum", AnalysisType: "percentile", PercentileValue: &pct,
			EventDefault: &EventDefault{Disabled: true}, Archived: true, URLs: []URLMatcher{{Kind: "exact", URL: "https://x"}}},
		{Name: "Units", RandomizationUnits: []string{"user"}, AnalysisUnits: []string{"user"}},
	} {
		m := base
		m.Def = def
		doc, err := patchDocument(&m)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(doc)
		var a, b any
		if err := json.Unmarshal(want, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(MetricDocument(&m), &b); err != nil {
			t.Fatalf("MetricDocument is not JSON: %v: %s", err, MetricDocument(&m))
		}
		if d := cmp.Diff(a, b); d != "" {
			t.Errorf("MetricDocument(%+v) (-patchDocument +MetricDocument):\n%s", def, d)
		}
	}
}

// Validation errors name the field they are about, for forms to show the
// message beside it.
func TestValidationErrorsNameTheirField(t *testing.T) {
	pct := 120
	for _, c := range []struct {
		kind  string
		def   MetricDef
		field string
	}{
		{KindCustom, MetricDef{}, "eventKey"},
		{KindCustom, MetricDef{EventKey: "e", IsNumeric: true}, "successCriteria"},
		{KindCustom, MetricDef{EventKey: "e", IsNumeric: true, SuccessCriteria: "HigherThanBaseline", AnalysisType: "percentile", PercentileValue: &pct}, "percentileValue"},
		{KindPageview, MetricDef{}, "urls"},
		{KindPageview, MetricDef{URLs: []URLMatcher{{Kind: "exact", URL: "https://a.example/"}, {Kind: "regex", Pattern: "("}}}, "urls[1]"},
		{KindClick, MetricDef{URLs: []URLMatcher{{Kind: "substring", Substring: "/"}}}, "selector"},
		{KindCustom, MetricDef{EventKey: "e", Tags: []string{"ok", "not ok"}}, "tags[1]"},
		{"bogus", MetricDef{}, "kind"},
	} {
		d := c.def
		normalizeMetric("k", &d)
		err := validateMetric(c.kind, &d)
		if err == nil || core.KindOf(err) != core.KindInvalid || core.FieldOf(err) != c.field {
			t.Errorf("%s %+v: %v, field %q, want %q", c.kind, c.def, err, core.FieldOf(err), c.field)
		}
	}
}
