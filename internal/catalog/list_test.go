package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/metricsd/metricsd/internal/core"
)

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParsePage(t *testing.T) {
	const limitMsg = "limit must be an integer between 1 and 50"
	const offsetMsg = "offset must be a non-negative integer"
	tests := []struct {
		limit, offset string
		want          core.Page
		wantErr       string
	}{
		{"", "", core.Page{Limit: 20}, ""},
		{"1", "", core.Page{Limit: 1}, ""},
		{"50", "", core.Page{Limit: 50}, ""},
		{"25", "10", core.Page{Limit: 25, Offset: 10}, ""},
		{"", "0", core.Page{Limit: 20}, ""},
		{"", "100000", core.Page{Limit: 20, Offset: 100000}, ""},
		{"0", "", core.Page{}, limitMsg},
		{"51", "", core.Page{}, limitMsg},
		{"-1", "", core.Page{}, limitMsg},
		{"abc", "", core.Page{}, limitMsg},
		{"1.5", "", core.Page{}, limitMsg},
		{" 5", "", core.Page{}, limitMsg},
		{"99999999999999999999", "", core.Page{}, limitMsg},
		{"", "-1", core.Page{}, offsetMsg},
		{"", "x", core.Page{}, offsetMsg},
		{"", "1e3", core.Page{}, offsetMsg},
		{"0", "-1", core.Page{}, limitMsg}, // limit is checked first
	}
	for _, tt := range tests {
		t.Run("limit="+tt.limit+",offset="+tt.offset, func(t *testing.T) {
			got, err := ParsePage(tt.limit, tt.offset, DefaultMetricLimit, MaxMetricLimit)
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Fatalf("ParsePage error mismatch (-want +got):\n%s", diff)
			}
			if err != nil {
				if k := core.KindOf(err); k != core.KindInvalid {
					t.Errorf("core.KindOf = %v, want core.KindInvalid", k)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePage mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSort(t *testing.T) {
	unsupported := func(f string) string {
		return `sort field "` + f + `" is not supported; use createdAt or name, with - for descending order`
	}
	tests := []struct {
		in      string
		want    []core.SortKey
		wantErr string
	}{
		{"", nil, ""},
		{" , ,", nil, ""},
		{"createdAt", []core.SortKey{{Field: "createdAt"}}, ""},
		{"-createdAt", []core.SortKey{{Field: "createdAt", Desc: true}}, ""},
		{"name", []core.SortKey{{Field: "name"}}, ""},
		{"createdAt,-name", []core.SortKey{{Field: "createdAt"}, {Field: "name", Desc: true}}, ""},
		{" -name , createdAt ", []core.SortKey{{Field: "name", Desc: true}, {Field: "createdAt"}}, ""},
		{"bogus", nil, unsupported("bogus")},
		{"-bogus", nil, unsupported("bogus")},
		{"Name", nil, unsupported("Name")},
		{"--name", nil, unsupported("-name")},
		{"-", nil, unsupported("")},
		{"+name", nil, unsupported("+name")},
		{"name,bogus", nil, unsupported("bogus")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSort(tt.in, "createdAt", "name")
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Fatalf("ParseSort(%q) error mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseSort(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func boolp(b bool) *bool { return &b }

func TestParseMetricQuery(t *testing.T) {
	page := core.Page{Limit: DefaultMetricLimit}
	tests := []struct {
		name                        string
		limit, offset, sort, filter string
		want                        MetricQuery
	}{
		{name: "empty", want: MetricQuery{Page: page}},
		{name: "blank filter", filter: "   ", want: MetricQuery{Page: page}},
		{name: "paging and sort", limit: "5", offset: "15", sort: "createdAt,-name", want: MetricQuery{
			Page: core.Page{Limit: 5, Offset: 15}, Sort: []core.SortKey{{Field: "createdAt"}, {Field: "name", Desc: true}},
		}},
		// One clause per documented field and operator.
		{name: "query string", filter: "query equals checkout", want: MetricQuery{Page: page, Queries: [][]string{{"checkout"}}}},
		{name: "query quoted", filter: `query equals 'order placed'`, want: MetricQuery{Page: page, Queries: [][]string{{"order placed"}}}},
		{name: "query list", filter: `query equals ["a", "b"]`, want: MetricQuery{Page: page, Queries: [][]string{{"a", "b"}}}},
		{name: "query empty list", filter: `query equals []`, want: MetricQuery{Page: page, Queries: [][]string{{}}}},
		{name: "tags contains one", filter: "tags contains tag1", want: MetricQuery{Page: page, TagsAll: []string{"tag1"}}},
		{name: "tags contains list (docs example)", filter: `tags contains ["tag1", "tag2", "tag3"]`, want: MetricQuery{Page: page, TagsAll: []string{"tag1", "tag2", "tag3"}}},
		{name: "eventKind custom", filter: "eventKind equals custom", want: MetricQuery{Page: page, Kinds: []string{"custom"}}},
		{name: "eventKind pageview", filter: "eventKind equals pageview", want: MetricQuery{Page: page, Kinds: []string{"pageview"}}},
		{name: "eventKind click", filter: "eventKind equals click", want: MetricQuery{Page: page, Kinds: []string{"click"}}},
		{name: "eventKind trace", filter: "eventKind equals trace", want: MetricQuery{Page: page, Kinds: []string{"trace"}}},
		{name: "isNumeric true", filter: "isNumeric equals true", want: MetricQuery{Page: page, IsNumeric: boolp(true)}},
		{name: "isNumeric false", filter: "isNumeric equals false", want: MetricQuery{Page: page, IsNumeric: boolp(false)}},
		{name: "isNumeric quoted", filter: `isNumeric equals "TRUE"`, want: MetricQuery{Page: page, IsNumeric: boolp(true)}},
		{name: "unitAggregationType sum", filter: "unitAggregationType equals sum", want: MetricQuery{Page: page, UnitAggregationType: "sum"}},
		{name: "unitAggregationType average", filter: "unitAggregationType equals average", want: MetricQuery{Page: page, UnitAggregationType: "average"}},
		{name: "maintainerIds list", filter: "maintainerIds anyOf [569fdeadbeef1644facecafe, abc]", want: MetricQuery{Page: page, MaintainerIDs: []string{"569fdeadbeef1644facecafe", "abc"}}},
		{name: "maintainerIds single", filter: "maintainerIds anyOf abc", want: MetricQuery{Page: page, MaintainerIDs: []string{"abc"}}},
		{name: "maintainerTeamKey", filter: "maintainerTeamKey equals team-a", want: MetricQuery{Page: page, MaintainerTeamKey: "team-a"}},
		{name: "hasConnections true", filter: "hasConnections equals true", want: MetricQuery{Page: page, HasConnections: boolp(true)}},
		{name: "hasConnections false", filter: "hasConnections equals false", want: MetricQuery{Page: page, HasConnections: boolp(false)}},
		{name: "metricUsedIn experiments", filter: "metricUsedIn equals experiments", want: MetricQuery{Page: page, UsedIn: "experiments"}},
		{name: "metricUsedIn guarded_rollouts", filter: "metricUsedIn equals guarded_rollouts", want: MetricQuery{Page: page, UsedIn: "guarded_rollouts"}},
		{name: "metricUsedIn any", filter: "metricUsedIn equals any", want: MetricQuery{Page: page, UsedIn: "any"}},
		{name: "metricUsedIn none", filter: "metricUsedIn equals none", want: MetricQuery{Page: page, UsedIn: "none"}},
		{name: "dataSourceKeys", filter: `dataSourceKeys anyOf ["launchdarkly", segment]`, want: MetricQuery{Page: page, DataSourceKeys: []string{"launchdarkly", "segment"}}},
		{name: "view", filter: "view equals my-view", want: MetricQuery{Page: page, View: "my-view"}},
		// Combinations.
		{name: "and", filter: "tags contains a and isNumeric equals true", want: MetricQuery{Page: page, TagsAll: []string{"a"}, IsNumeric: boolp(true)}},
		{name: "AND is case-insensitive", filter: "tags contains a AND tags contains b", want: MetricQuery{Page: page, TagsAll: []string{"a", "b"}}},
		{name: "comma", filter: "query equals a, query equals b", want: MetricQuery{Page: page, Queries: [][]string{{"a"}, {"b"}}}},
		{
			name:  "every field",
			limit: "50", offset: "0", sort: "-name",
			filter: `query equals ['check', "out"] and tags contains [t1,t2], eventKind equals custom AND isNumeric equals false, ` +
				`unitAggregationType equals sum and maintainerIds anyOf [m1] and maintainerTeamKey equals growth, hasConnections equals true, ` +
				`metricUsedIn equals any and dataSourceKeys anyOf [ld] and view equals v1`,
			want: MetricQuery{
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
			got, err := ParseMetricQuery(tt.limit, tt.offset, tt.sort, tt.filter)
			if err != nil {
				t.Fatalf("ParseMetricQuery(%q): %v", tt.filter, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseMetricQuery(%q) mismatch (-want +got):\n%s", tt.filter, diff)
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
			got, err := ParseMetricQuery(tt.limit, tt.offset, tt.sort, tt.filter)
			if err == nil {
				t.Fatalf("ParseMetricQuery = %+v, want error %q", got, tt.want)
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
		if q, err := ParseMetricQuery("", "", "", f); err == nil {
			t.Errorf("ParseMetricQuery(%q) = %+v, want an error for contradictory clauses", f, q)
		}
	}
}

func TestParseExpand(t *testing.T) {
	tests := []struct {
		in      string
		list    bool
		want    ExpandSet
		wantErr string
	}{
		{in: "", want: ExpandSet{}},
		{in: "experiments", want: ExpandSet{"experiments": true}},
		{in: " experimentCount , metricGroups,,lastUsedInGuardedRollout", want: ExpandSet{"experimentCount": true, "metricGroups": true, "lastUsedInGuardedRollout": true}},
		{in: "experiments,experiments", want: ExpandSet{"experiments": true}},
		{in: "bogus", wantErr: `expand "bogus" is not supported; supported values: experiments, experimentCount, metricGroups, metricGroupCount, eventSources, guardedRollouts, guardedRolloutCount, lastUsedInExperiment, lastUsedInGuardedRollout`},
		{in: "Experiments", wantErr: `expand "Experiments" is not supported; supported values: experiments, experimentCount, metricGroups, metricGroupCount, eventSources, guardedRollouts, guardedRolloutCount, lastUsedInExperiment, lastUsedInGuardedRollout`},
		{in: "experimentCount", list: true, want: ExpandSet{"experimentCount": true}},
		{in: "experiments", list: true, wantErr: `expand "experiments" is not supported; supported values: experimentCount`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			parse := ParseMetricExpand
			if tt.list {
				parse = ParseMetricListExpand
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
