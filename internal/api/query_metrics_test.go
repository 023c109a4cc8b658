package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

func boolp(b bool) *bool { return &b }

func TestParseMetricQuery(t *testing.T) {
	page := core.Page{Limit: catalog.DefaultMetricLimit}
	tests := []struct {
		name                        string
		limit, offset, sort, filter string
		want                        catalog.MetricQuery
	}{
		{name: "empty", want: catalog.MetricQuery{Page: page}},
		{name: "blank filter", filter: "   ", want: catalog.MetricQuery{Page: page}},
		{name: "paging and sort", limit: "5", offset: "15", sort: "createdAt,-name", want: catalog.MetricQuery{
			Page: core.Page{Limit: 5, Offset: 15}, Sort: []core.SortKey{{Field: "createdAt"}, {Field: "name", Desc: true}},
		}},
		// One clause per documented field and operator.
		{name: "query string", filter: "query equals checkout", want: catalog.MetricQuery{Page: page, Queries: [][]string{{"checkout"}}}},
		{name: "query quoted", filter: `query equals 'order placed'`, want: catalog.MetricQuery{Page: page, Queries: [][]string{{"order placed"}}}},
		{name: "query list", filter: `query equals ["a", "b"]`, want: catalog.MetricQuery{Page: page, Queries: [][]string{{"a", "b"}}}},
		{name: "query empty list", filter: `query equals []`, want: catalog.MetricQuery{Page: page, Queries: [][]string{{}}}},
		{name: "tags contains one", filter: "tags contains tag1", want: catalog.MetricQuery{Page: page, TagsAll: []string{"tag1"}}},
		{name: "tags contains list (docs example)", filter: `tags contains ["tag1", "tag2", "tag3"]`, want: catalog.MetricQuery{Page: page, TagsAll: []string{"tag1", "tag2", "tag3"}}},
		{name: "eventKind custom", filter: "eventKind equals custom", want: catalog.MetricQuery{Page: page, Kinds: []string{"custom"}}},
		{name: "eventKind pageview", filter: "eventKind equals pageview", want: catalog.MetricQuery{Page: page, Kinds: []string{"pageview"}}},
		{name: "eventKind click", filter: "eventKind equals click", want: catalog.MetricQuery{Page: page, Kinds: []string{"click"}}},
		{name: "eventKind trace", filter: "eventKind equals trace", want: catalog.MetricQuery{Page: page, Kinds: []string{"trace"}}},
		{name: "isNumeric true", filter: "isNumeric equals true", want: catalog.MetricQuery{Page: page, IsNumeric: boolp(true)}},
		{name: "isNumeric false", filter: "isNumeric equals false", want: catalog.MetricQuery{Page: page, IsNumeric: boolp(false)}},
		{name: "isNumeric quoted", filter: `isNumeric equals "TRUE"`, want: catalog.MetricQuery{Page: page, IsNumeric: boolp(true)}},
		{name: "unitAggregationType sum", filter: "unitAggregationType equals sum", want: catalog.MetricQuery{Page: page, UnitAggregationType: "sum"}},
		{name: "unitAggregationType average", filter: "unitAggregationType equals average", want: catalog.MetricQuery{Page: page, UnitAggregationType: "average"}},
		{name: "maintainerIds list", filter: "maintainerIds anyOf [569fdeadbeef1644facecafe, abc]", want: catalog.MetricQuery{Page: page, MaintainerIDs: []string{"569fdeadbeef1644facecafe", "abc"}}},
		{name: "maintainerIds single", filter: "maintainerIds anyOf abc", want: catalog.MetricQuery{Page: page, MaintainerIDs: []string{"abc"}}},
		{name: "maintainerTeamKey", filter: "maintainerTeamKey equals team-a", want: catalog.MetricQuery{Page: page, MaintainerTeamKey: "team-a"}},
		{name: "hasConnections true", filter: "hasConnections equals true", want: catalog.MetricQuery{Page: page, HasConnections: boolp(true)}},
		{name: "hasConnections false", filter: "hasConnections equals false", want: catalog.MetricQuery{Page: page, HasConnections: boolp(false)}},
		{name: "metricUsedIn experiments", filter: "metricUsedIn equals experiments", want: catalog.MetricQuery{Page: page, UsedIn: "experiments"}},
		{name: "metricUsedIn guarded_rollouts", filter: "metricUsedIn equals guarded_rollouts", want: catalog.MetricQuery{Page: page, UsedIn: "guarded_rollouts"}},
		{name: "metricUsedIn any", filter: "metricUsedIn equals any", want: catalog.MetricQuery{Page: page, UsedIn: "any"}},
		{name: "metricUsedIn none", filter: "metricUsedIn equals none", want: catalog.MetricQuery{Page: page, UsedIn: "none"}},
		{name: "dataSourceKeys", filter: `dataSourceKeys anyOf ["launchdarkly", segment]`, want: catalog.MetricQuery{Page: page, DataSourceKeys: []string{"launchdarkly", "segment"}}},
		{name: "view", filter: "view equals my-view", want: catalog.MetricQuery{Page: page, View: "my-view"}},
		// Combinations.
		{name: "and", filter: "tags contains a and isNumeric equals true", want: catalog.MetricQuery{Page: page, TagsAll: []string{"a"}, IsNumeric: boolp(true)}},
		{name: "AND is case-insensitive", filter: "tags contains a AND tags contains b", want: catalog.MetricQuery{Page: page, TagsAll: []string{"a", "b"}}},
		{name: "comma", filter: "query equals a, query equals b", want: catalog.MetricQuery{Page: page, Queries: [][]string{{"a"}, {"b"}}}},
		{
			name:  "every field",
			limit: "50", offset: "0", sort: "-name",
			filter: `query equals ['check', "out"] and tags contains [t1,t2], eventKind equals custom AND isNumeric equals false, ` +
				`unitAggregationType equals sum and maintainerIds anyOf [m1] and maintainerTeamKey equals growth, hasConnections equals true, ` +
				`metricUsedIn equals any and dataSourceKeys anyOf [ld] and view equals v1`,
			want: catalog.MetricQuery{
				Page: core.Page{Limit: 50}, Sort: []core.SortKey{{Field: "name", Desc: true}},
				Queries: [][]string{{"check", "out"}}, TagsAll: []string{"t1", "t2"}, Kinds: []string{"custom"},
				IsNumeric: boolp(false), UnitAggregationType: "sum", MaintainerIDs: []string{"m1"},
				MaintainerTeamKey: "growth", HasConnections: boolp(true), UsedIn: "any",
				DataSourceKeys: []string{"ld"}, View: "v1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMetricQuery(tt.limit, tt.offset, tt.sort, tt.filter)
			if err != nil {
				t.Fatalf("parseMetricQuery(%q): %v", tt.filter, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseMetricQuery(%q) mismatch (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

func TestParseMetricQueryErrors(t *testing.T) {
	const fields = "dataSourceKeys, eventKeys, eventKind, hasConnections, isNumeric, maintainerIds, maintainerTeamKey, metricUsedIn, query, tags, unitAggregationType, versionIds, view"
	tests := []struct {
		name                        string
		limit, offset, sort, filter string
		want                        string
	}{
		{name: "limit 0", limit: "0", want: "limit must be an integer between 1 and 50"},
		{name: "repeated eventKind", filter: "eventKind equals custom, eventKind equals click", want: `invalid filter at position 25: field "eventKind" may appear only once`},
		{name: "limit 51", limit: "51", want: "limit must be an integer between 1 and 50"},
		{name: "limit -1", limit: "-1", want: "limit must be an integer between 1 and 50"},
		{name: "limit abc", limit: "abc", want: "limit must be an integer between 1 and 50"},
		{name: "offset -1", offset: "-1", want: "offset must be a non-negative integer"},
		{name: "bogus sort", sort: "bogus", want: `sort field "bogus" is not supported; use createdAt or name, with - for descending order`},
		{name: "sort by key", sort: "-key", want: `sort field "key" is not supported; use createdAt or name, with - for descending order`},

		// Wrong operators.
		{name: "eventKind contains", filter: "eventKind contains custom", want: `invalid filter at position 10: operator "contains" is not supported for field "eventKind"; use equals`},
		{name: "tags equals", filter: "tags equals a", want: `invalid filter at position 5: operator "equals" is not supported for field "tags"; use contains`},
		{name: "tags anyOf", filter: "tags anyOf [a]", want: `invalid filter at position 5: operator "anyOf" is not supported for field "tags"; use contains`},
		{name: "maintainerIds equals", filter: "maintainerIds equals a", want: `invalid filter at position 14: operator "equals" is not supported for field "maintainerIds"; use anyOf`},
		{name: "dataSourceKeys equals", filter: "dataSourceKeys equals a", want: `invalid filter at position 15: operator "equals" is not supported for field "dataSourceKeys"; use anyOf`},
		{name: "query contains", filter: "query contains a", want: `invalid filter at position 6: operator "contains" is not supported for field "query"; use equals`},
		{name: "operator in second clause", filter: "isNumeric equals true and tags equals x", want: `invalid filter at position 31: operator "equals" is not supported for field "tags"; use contains`},

		// Unknown fields.
		{name: "unknown field", filter: "kind equals custom", want: `invalid filter at position 0: unknown field "kind"; supported fields: ` + fields},
		{name: "field is case-sensitive", filter: "tags contains a, Query equals b", want: `invalid filter at position 17: unknown field "Query"; supported fields: ` + fields},

		// Bad values.
		{name: "bad eventKind", filter: "eventKind equals gauge", want: `invalid filter at position 17: must be one of pageview, click, custom, trace; found "gauge"`},
		{name: "eventKind list", filter: "eventKind equals [custom]", want: `invalid filter at position 17: expected a string, found a list`},
		{name: "bad unitAggregationType", filter: "unitAggregationType equals median", want: `invalid filter at position 27: must be one of sum, average; found "median"`},
		{name: "bad metricUsedIn", filter: "metricUsedIn equals all", want: `invalid filter at position 20: must be one of experiments, guarded_rollouts, any, none; found "all"`},
		{name: "bad isNumeric", filter: "isNumeric equals yes", want: `invalid filter at position 17: expected true or false, found string "yes"`},
		{name: "isNumeric list", filter: "isNumeric equals [true]", want: `invalid filter at position 17: expected true or false, found a list`},
		{name: "bad hasConnections", filter: "hasConnections equals 1", want: `invalid filter at position 22: expected true or false, found string "1"`},
		{name: "maintainerTeamKey list", filter: "maintainerTeamKey equals [a]", want: `invalid filter at position 25: expected a string, found a list`},
		{name: "view bool", filter: "view equals true", want: `invalid filter at position 12: expected a string, found boolean true`},
		{name: "query bool", filter: "query equals true", want: `invalid filter at position 13: expected a string or a list of strings, found boolean true`},
		{name: "tags list with bool", filter: "tags contains [a, true]", want: `invalid filter at position 18: expected a string in list, found boolean true`},
		{name: "bad value in later clause", filter: "query equals a, eventKind equals Custom", want: `invalid filter at position 33: must be one of pageview, click, custom, trace; found "Custom"`},

		// Syntax.
		{name: "missing value", filter: "tags contains", want: `invalid filter at position 13: expected a value after operator "contains", found end of input`},
		{name: "dangling and", filter: "tags contains a and", want: `invalid filter at position 19: expected a field name after "and", found end of input`},
		{name: "garbage between clauses", filter: "tags contains a or tags contains b", want: `invalid filter at position 16: expected "and" or "," between clauses, found "or"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMetricQuery(tt.limit, tt.offset, tt.sort, tt.filter)
			if err == nil {
				t.Fatalf("parseMetricQuery = %+v, want error %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if tt.filter != "" && !strings.Contains(err.Error(), "position") {
				t.Errorf("filter error %q does not mention a position", err)
			}
			if k := core.KindOf(err); k != core.KindInvalid {
				t.Errorf("core.KindOf = %v, want core.KindInvalid", k)
			}
		})
	}
}

// TestParseMetricQueryRepeatedClauses: clauses are a conjunction, but a
// repeated single-valued field keeps only its last clause and repeated anyOf
// lists are merged into one union, so the query matches metrics that fail
// the earlier clauses.
func TestParseMetricQueryRepeatedClauses(t *testing.T) {
	for _, f := range []string{
		"isNumeric equals true and isNumeric equals false",
		"unitAggregationType equals sum, unitAggregationType equals average",
		"maintainerIds anyOf [a] and maintainerIds anyOf [b]",
	} {
		if q, err := parseMetricQuery("", "", "", f); err == nil {
			t.Errorf("parseMetricQuery(%q) = %+v, want an error for contradictory clauses", f, q)
		}
	}
}

func TestParseExpand(t *testing.T) {
	tests := []struct {
		in      string
		list    bool
		want    catalog.ExpandSet
		wantErr string
	}{
		{in: "", want: catalog.ExpandSet{}},
		{in: "experiments", want: catalog.ExpandSet{catalog.ExpandExperiments: true}},
		{in: " experimentCount , metricGroups,,lastUsedInGuardedRollout", want: catalog.ExpandSet{catalog.ExpandExperimentCount: true, catalog.ExpandMetricGroups: true, catalog.ExpandLastUsedInGuardedRollout: true}},
		{in: "experiments,experiments", want: catalog.ExpandSet{catalog.ExpandExperiments: true}},
		{in: "bogus", wantErr: `expand "bogus" is not supported; supported values: experiments, experimentCount, metricGroups, metricGroupCount, eventSources, guardedRollouts, guardedRolloutCount, lastUsedInExperiment, lastUsedInGuardedRollout`},
		{in: "Experiments", wantErr: `expand "Experiments" is not supported; supported values: experiments, experimentCount, metricGroups, metricGroupCount, eventSources, guardedRollouts, guardedRolloutCount, lastUsedInExperiment, lastUsedInGuardedRollout`},
		{in: "experimentCount", list: true, want: catalog.ExpandSet{catalog.ExpandExperimentCount: true}},
		{in: "experiments", list: true, wantErr: `expand "experiments" is not supported; supported values: experimentCount`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			parse := parseMetricExpand
			if tt.list {
				parse = parseMetricListExpand
			}
			got, err := parse(tt.in)
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Fatalf("error mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ExpandSet mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGroupQuery(t *testing.T) {
	page := core.Page{Limit: catalog.DefaultMetricLimit}
	tests := []struct {
		name                        string
		limit, offset, sort, filter string
		want                        catalog.GroupQuery
	}{
		{name: "empty", want: catalog.GroupQuery{Page: page}},
		{name: "blank filter and sort", sort: " , ", filter: "  ", want: catalog.GroupQuery{Page: page}},
		{name: "paging", limit: "5", offset: "15", want: catalog.GroupQuery{Page: core.Page{Limit: 5, Offset: 15}}},
		{name: "largest page", limit: "50", offset: "0", want: catalog.GroupQuery{Page: core.Page{Limit: 50}}},
		{name: "sort name", sort: "name", want: catalog.GroupQuery{Page: page, Sort: []core.SortKey{{Field: "name"}}}},
		{name: "sort -name", sort: "-name", want: catalog.GroupQuery{Page: page, Sort: []core.SortKey{{Field: "name", Desc: true}}}},
		{name: "sort createdAt", sort: "createdAt", want: catalog.GroupQuery{Page: page, Sort: []core.SortKey{{Field: "createdAt"}}}},
		{name: "sort -createdAt", sort: "-createdAt", want: catalog.GroupQuery{Page: page, Sort: []core.SortKey{{Field: "createdAt", Desc: true}}}},
		{name: "sort connectionCount", sort: "connectionCount", want: catalog.GroupQuery{Page: page, Sort: []core.SortKey{{Field: "connectionCount"}}}},
		{name: "sort several", sort: " -connectionCount , name,-createdAt", want: catalog.GroupQuery{Page: page, Sort: []core.SortKey{
			{Field: "connectionCount", Desc: true}, {Field: "name"}, {Field: "createdAt", Desc: true},
		}}},

		{name: "query bare", filter: "query equals checkout", want: catalog.GroupQuery{Page: page, Queries: [][]string{{"checkout"}}}},
		{name: "query quoted (docs example)", filter: "query equals 'metric name'", want: catalog.GroupQuery{Page: page, Queries: [][]string{{"metric name"}}}},
		{name: "query list", filter: `query equals ["a", 'b']`, want: catalog.GroupQuery{Page: page, Queries: [][]string{{"a", "b"}}}},
		{name: "query empty list", filter: "query equals []", want: catalog.GroupQuery{Page: page, Queries: [][]string{{}}}},
		{name: "query repeated", filter: "query equals a and query equals b", want: catalog.GroupQuery{Page: page, Queries: [][]string{{"a"}, {"b"}}}},
		{name: "kind funnel", filter: "kind equals funnel", want: catalog.GroupQuery{Page: page, Kind: catalog.GroupFunnel}},
		{name: "kind standard", filter: "kind equals 'standard'", want: catalog.GroupQuery{Page: page, Kind: catalog.GroupStandard}},
		{name: "kind guardrail", filter: `kind equals "guardrail"`, want: catalog.GroupQuery{Page: page, Kind: catalog.GroupGuardrail}},
		{name: "hasConnections true", filter: "hasConnections equals true", want: catalog.GroupQuery{Page: page, HasConnections: boolp(true)}},
		{name: "hasConnections false", filter: "hasConnections equals false", want: catalog.GroupQuery{Page: page, HasConnections: boolp(false)}},
		{name: "hasConnections quoted", filter: "hasConnections equals 'TRUE'", want: catalog.GroupQuery{Page: page, HasConnections: boolp(true)}},
		{name: "experimentStatus not_started", filter: "experimentStatus equals 'not_started'", want: catalog.GroupQuery{Page: page, ExperimentStatus: "not_started"}},
		{name: "experimentStatus running", filter: "experimentStatus equals running", want: catalog.GroupQuery{Page: page, ExperimentStatus: "running"}},
		{name: "experimentStatus stopped", filter: "experimentStatus equals stopped", want: catalog.GroupQuery{Page: page, ExperimentStatus: "stopped"}},
		{name: "experimentStatus started", filter: "experimentStatus equals started", want: catalog.GroupQuery{Page: page, ExperimentStatus: "started"}},
		{name: "maintainerIds list", filter: `maintainerIds anyOf ["569fdeadbeef1644facecafe", abc]`, want: catalog.GroupQuery{Page: page, MaintainerIDs: []string{"569fdeadbeef1644facecafe", "abc"}}},
		{name: "maintainerIds single", filter: "maintainerIds anyOf abc", want: catalog.GroupQuery{Page: page, MaintainerIDs: []string{"abc"}}},
		{name: "maintainerIds empty list", filter: "maintainerIds anyOf []", want: catalog.GroupQuery{Page: page, MaintainerIDs: []string{}}},
		{name: "maintainerTeamKey", filter: "maintainerTeamKey equals team-a", want: catalog.GroupQuery{Page: page, MaintainerTeamKey: "team-a"}},
		{name: "docs example", filter: "experimentStatus equals 'not_started' and query equals 'metric name'", want: catalog.GroupQuery{Page: page,
			ExperimentStatus: "not_started", Queries: [][]string{{"metric name"}}}},
		{name: "AND and comma", filter: "kind equals funnel AND hasConnections equals false, query equals x", want: catalog.GroupQuery{Page: page,
			Kind: catalog.GroupFunnel, HasConnections: boolp(false), Queries: [][]string{{"x"}}}},
		{
			name:  "every field",
			limit: "10", offset: "20", sort: "-connectionCount,name",
			filter: `query equals ['check', "out"] and kind equals standard, hasConnections equals true and experimentStatus equals started ` +
				`and maintainerIds anyOf [m1, m2] and maintainerTeamKey equals growth and query equals k`,
			want: catalog.GroupQuery{
				Page: core.Page{Limit: 10, Offset: 20}, Sort: []core.SortKey{{Field: "connectionCount", Desc: true}, {Field: "name"}},
				Queries: [][]string{{"check", "out"}, {"k"}}, Kind: catalog.GroupStandard, HasConnections: boolp(true),
				ExperimentStatus: "started", MaintainerIDs: []string{"m1", "m2"}, MaintainerTeamKey: "growth",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseGroupQuery(tt.limit, tt.offset, tt.sort, tt.filter)
			if err != nil {
				t.Fatalf("parseGroupQuery(%q, %q, %q, %q): %v", tt.limit, tt.offset, tt.sort, tt.filter, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseGroupQuery mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGroupQueryErrors(t *testing.T) {
	const (
		limitMsg  = "limit must be an integer between 1 and 50"
		offsetMsg = "offset must be a non-negative integer"
		fields    = "experimentStatus, hasConnections, kind, maintainerIds, maintainerTeamKey, query"
	)
	sortMsg := func(f string) string {
		return fmt.Sprintf("sort field %q is not supported; use name or createdAt or connectionCount, with - for descending order", f)
	}
	at := func(filter, token string, msg string) string {
		i := strings.Index(filter, token)
		if i < 0 {
			panic(fmt.Sprintf("%q not in %q", token, filter))
		}
		return fmt.Sprintf("invalid filter at position %d: %s", i, msg)
	}
	tests := []struct {
		name                        string
		limit, offset, sort, filter string
		wantErr                     string
	}{
		{name: "limit 0", limit: "0", wantErr: limitMsg},
		{name: "limit 51", limit: "51", wantErr: limitMsg},
		{name: "limit not a number", limit: "ten", wantErr: limitMsg},
		{name: "offset negative", offset: "-1", wantErr: offsetMsg},
		{name: "offset not a number", offset: "1e3", wantErr: offsetMsg},
		{name: "page before sort and filter", limit: "0", sort: "bogus", filter: "bogus equals x", wantErr: limitMsg},
		{name: "sort unknown", sort: "bogus", wantErr: sortMsg("bogus")},
		{name: "sort unknown descending", sort: "name,-bogus", wantErr: sortMsg("bogus")},
		{name: "sort metric-only field", sort: "eventKind", wantErr: sortMsg("eventKind")},
		{name: "sort is case-sensitive", sort: "Name", wantErr: sortMsg("Name")},
		{name: "sort before filter", sort: "bogus", filter: "bogus equals x", wantErr: sortMsg("bogus")},

		{name: "unknown field", filter: "bogus equals x", wantErr: at("bogus equals x", "bogus", `unknown field "bogus"; supported fields: `+fields)},
		{name: "metric-only field", filter: "kind equals funnel and tags contains a", wantErr: at("kind equals funnel and tags contains a", "tags",
			`unknown field "tags"; supported fields: `+fields)},
		{name: "kind with anyOf", filter: "kind anyOf [funnel]", wantErr: at("kind anyOf [funnel]", "anyOf", `operator "anyOf" is not supported for field "kind"; use equals`)},
		{name: "maintainerIds with equals", filter: "maintainerIds equals x", wantErr: at("maintainerIds equals x", "equals", `operator "equals" is not supported for field "maintainerIds"; use anyOf`)},
		{name: "query with contains", filter: "query contains x", wantErr: at("query contains x", "contains", `operator "contains" is not supported for field "query"; use equals`)},
		{name: "unknown kind", filter: "kind equals pipeline", wantErr: at("kind equals pipeline", "pipeline", `must be one of funnel, standard, guardrail; found "pipeline"`)},
		{name: "kind list", filter: "kind equals [funnel]", wantErr: at("kind equals [funnel]", "[", "expected a string, found a list")},
		{name: "kind boolean", filter: "kind equals true", wantErr: at("kind equals true", "true", "expected a string, found boolean true")},
		{name: "hasConnections not a boolean", filter: "hasConnections equals maybe", wantErr: at("hasConnections equals maybe", "maybe", `expected true or false, found string "maybe"`)},
		{name: "hasConnections list", filter: "hasConnections equals [true]", wantErr: at("hasConnections equals [true]", "[", "expected true or false, found a list")},
		{name: "unknown experimentStatus", filter: "experimentStatus equals 'done'", wantErr: at("experimentStatus equals 'done'", "'done'",
			`must be one of not_started, running, stopped, started; found "done"`)},
		{name: "experimentStatus is case-sensitive", filter: "experimentStatus equals Running", wantErr: at("experimentStatus equals Running", "Running",
			`must be one of not_started, running, stopped, started; found "Running"`)},
		{name: "maintainerIds boolean item", filter: "maintainerIds anyOf [a, true]", wantErr: at("maintainerIds anyOf [a, true]", "true", "expected a string in list, found boolean true")},
		{name: "maintainerIds boolean", filter: "maintainerIds anyOf false", wantErr: at("maintainerIds anyOf false", "false", "expected a string or a list of strings, found boolean false")},
		{name: "maintainerTeamKey list", filter: "maintainerTeamKey equals [a]", wantErr: at("maintainerTeamKey equals [a]", "[", "expected a string, found a list")},
		{name: "query boolean", filter: "query equals true", wantErr: at("query equals true", "true", "expected a string or a list of strings, found boolean true")},
		{name: "repeated kind", filter: "kind equals funnel and kind equals standard", wantErr: at("kind equals funnel and kind equals standard", "kind equals standard",
			`field "kind" may appear only once`)},
		{name: "repeated hasConnections", filter: "hasConnections equals true, hasConnections equals true", wantErr: "invalid filter at position 28: " +
			`field "hasConnections" may appear only once`},
		{name: "repeated maintainerIds", filter: "maintainerIds anyOf [a] and maintainerIds anyOf [b]", wantErr: "invalid filter at position 28: " + `field "maintainerIds" may appear only once`},
		{name: "repeated experimentStatus", filter: "experimentStatus equals running and experimentStatus equals stopped", wantErr: "invalid filter at position 36: " +
			`field "experimentStatus" may appear only once`},
		{name: "repeated maintainerTeamKey", filter: "maintainerTeamKey equals a, maintainerTeamKey equals b", wantErr: "invalid filter at position 28: " +
			`field "maintainerTeamKey" may appear only once`},
		{name: "missing value", filter: "kind equals", wantErr: `invalid filter at position 11: expected a value after operator "equals", found end of input`},
		{name: "or is not a separator", filter: "kind equals funnel or kind equals standard", wantErr: at("kind equals funnel or kind equals standard", "or ",
			`expected "and" or "," between clauses, found "or"`)},
		{name: "unterminated string", filter: "query equals 'abc", wantErr: at("query equals 'abc", "'", "unterminated string: missing closing single quote")},
		{name: "trailing and", filter: "kind equals funnel and", wantErr: `invalid filter at position 22: expected a field name after "and", found end of input`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseGroupQuery(tt.limit, tt.offset, tt.sort, tt.filter)
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Fatalf("parseGroupQuery(%q, %q, %q, %q) error mismatch (-want +got):\n%s", tt.limit, tt.offset, tt.sort, tt.filter, diff)
			}
			if k := core.KindOf(err); k != core.KindInvalid {
				t.Errorf("core.KindOf = %v, want core.KindInvalid", k)
			}
		})
	}
}

func TestParseGroupExpand(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    catalog.ExpandSet
		wantErr string
	}{
		{"", catalog.ExpandSet{}, ""},
		{"experiments", catalog.ExpandSet{catalog.ExpandExperiments: true}, ""},
		{"experimentCount, experiments", catalog.ExpandSet{catalog.ExpandExperiments: true, catalog.ExpandExperimentCount: true}, ""},
		{"metricGroups", nil, `expand "metricGroups" is not supported; supported values: experiments, experimentCount`},
	} {
		got, err := parseGroupExpand(c.in)
		if diff := cmp.Diff(c.wantErr, errText(err)); diff != "" {
			t.Errorf("parseGroupExpand(%q) error (-want +got):\n%s", c.in, diff)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("parseGroupExpand(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}
