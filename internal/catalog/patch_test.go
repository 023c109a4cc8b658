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

// sampleMetric is a stored numeric custom metric with an empty description.
func sampleMetric() *Metric {
	return &Metric{
		ID:         "65a1b2c3d4e5f60718293a4b",
		ProjectID:  "65a1b2c3d4e5f60718293a00",
		ProjectKey: "default",
		Key:        "checkout",
		Kind:       KindCustom,
		Version:    3,
		VersionID:  "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
		CreatedAt:  time.UnixMilli(1700000000123).UTC(),
		UpdatedAt:  time.UnixMilli(1700000005000).UTC(),
		Def: MetricDef{
			Name:                "Checkout",
			Tags:                []string{"a", "b"},
			MaintainerID:        "569fdeadbeef1644facecafe",
			IsNumeric:           true,
			Unit:                "usd",
			SuccessCriteria:     "HigherThanBaseline",
			EventKey:            "checkout",
			RandomizationUnits:  []string{"user"},
			UnitAggregationType: "average",
			AnalysisType:        "mean",
			DataSource:          DataSource{Key: "launchdarkly", Name: "LaunchDarkly"},
		},
	}
}

func TestParsePatch(t *testing.T) {
	many := func(n int) string {
		ops := make([]string, n)
		for i := range ops {
			ops[i] = `{"op":"test","path":"/name","value":"Checkout"}`
		}
		return "[" + strings.Join(ops, ",") + "]"
	}
	tests := []struct {
		name        string
		body        string
		wantOps     []patch.Op
		wantComment string
		wantErr     string
	}{
		{
			name:    "bare array",
			body:    `[{"op":"replace","path":"/name","value":"New"}]`,
			wantOps: []patch.Op{{Op: "replace", Path: "/name", Value: json.RawMessage(`"New"`)}},
		},
		{
			name:        "envelope with comment",
			body:        ` {"comment":"rename","patch":[{"op":"remove","path":"/unit"},{"op":"move","from":"/a","path":"/b"}]}`,
			wantOps:     []patch.Op{{Op: "remove", Path: "/unit"}, {Op: "move", From: "/a", Path: "/b"}},
			wantComment: "rename",
		},
		{
			name:    "envelope without comment",
			body:    `{"patch":[{"op":"copy","from":"/name","path":"/description"}]}`,
			wantOps: []patch.Op{{Op: "copy", From: "/name", Path: "/description"}},
		},
		{
			name:    "null value is a value",
			body:    `[{"op":"add","path":"/description","value":null}]`,
			wantOps: []patch.Op{{Op: "add", Path: "/description", Value: json.RawMessage(`null`)}},
		},
		{
			name:    "test with object value",
			body:    `[{"op":"test","path":"/dataSource","value":{"key":"launchdarkly"}}]`,
			wantOps: []patch.Op{{Op: "test", Path: "/dataSource", Value: json.RawMessage(`{"key":"launchdarkly"}`)}},
		},
		{name: "envelope without patch", body: `{"comment":"x"}`, wantErr: "patch is required"},
		{name: "envelope with null patch", body: `{"patch":null}`, wantErr: "patch is required"},
		{name: "envelope with empty patch", body: `{"patch":[]}`, wantErr: "patch must contain at least one operation"},
		{name: "envelope with unknown field", body: `{"patch":[],"comments":"x"}`, wantErr: `unknown field "comments"`},
		{name: "envelope with patch object", body: `{"patch":{"op":"add"}}`, wantErr: "field patch must be an array, not object"},
		{name: "empty array", body: `[]`, wantErr: "patch must contain at least one operation"},
		{name: "null body", body: `null`, wantErr: "patch must contain at least one operation"},
		{name: "empty body", body: ``, wantErr: "request body is empty"},
		{name: "not JSON", body: `op=add`, wantErr: "request body is not valid JSON at offset 1: invalid character 'o' looking for beginning of value"},
		{name: "string body", body: `"x"`, wantErr: "request body must be an array, not string"},
		{name: "100 operations", body: many(100), wantOps: func() []patch.Op {
			ops := make([]patch.Op, 100)
			for i := range ops {
				ops[i] = patch.Op{Op: "test", Path: "/name", Value: json.RawMessage(`"Checkout"`)}
			}
			return ops
		}()},
		{name: "101 operations", body: many(101), wantErr: "patch must contain at most 100 operations"},
		{name: "bad op", body: `[{"op":"frobnicate","path":"/name"}]`, wantErr: "patch[0].op must be one of add, remove, replace, move, copy, test"},
		{name: "op is case-sensitive", body: `[{"op":"remove","path":"/unit"},{"op":"Replace","path":"/name","value":1}]`, wantErr: "patch[1].op must be one of add, remove, replace, move, copy, test"},
		{name: "missing op", body: `[{"path":"/name"}]`, wantErr: "patch[0].op must be one of add, remove, replace, move, copy, test"},
		{name: "add without value", body: `[{"op":"add","path":"/name"}]`, wantErr: "patch[0] (add) needs a value"},
		{name: "replace without value", body: `[{"op":"replace","path":"/name"}]`, wantErr: "patch[0] (replace) needs a value"},
		{name: "test without value", body: `[{"op":"test","path":"/name"}]`, wantErr: "patch[0] (test) needs a value"},
		{name: "path without slash", body: `[{"op":"replace","path":"name","value":"x"}]`, wantErr: "patch[0].path must be a JSON pointer starting with /"},
		{name: "empty path", body: `[{"op":"remove","path":""}]`, wantErr: "patch[0].path must be a JSON pointer starting with /"},
		{name: "missing path", body: `[{"op":"remove"}]`, wantErr: "patch[0].path must be a JSON pointer starting with /"},
		{name: "move without from", body: `[{"op":"remove","path":"/unit"},{"op":"move","path":"/name"}]`, wantErr: "patch[1] (move) needs a from pointer"},
		{name: "copy with relative from", body: `[{"op":"copy","from":"name","path":"/description"}]`, wantErr: "patch[0] (copy) needs a from pointer"},
		{name: "move with bad path", body: `[{"op":"move","from":"/name","path":"description"}]`, wantErr: "patch[0].path must be a JSON pointer starting with /"},
		{name: "unknown op field", body: `[{"op":"remove","path":"/unit","value2":1}]`, wantErr: `unknown field "value2"`},
		{name: "path of wrong type", body: `[{"op":"remove","path":1}]`, wantErr: "field path must be a string, not number"},
		{name: "trailing data", body: `[{"op":"remove","path":"/unit"}] []`, wantErr: "request body must hold a single JSON value"},
		{name: "comment of 1024 characters", body: `{"comment":"` + strings.Repeat("c", 1024) + `","patch":[{"op":"remove","path":"/unit"}]}`,
			wantOps: []patch.Op{{Op: "remove", Path: "/unit"}}, wantComment: strings.Repeat("c", 1024)},
		{name: "comment too long", body: `{"comment":"` + strings.Repeat("c", 1025) + `","patch":[{"op":"remove","path":"/unit"}]}`, wantErr: "comment must be at most 1024 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, comment, err := patch.Parse([]byte(tt.body))
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Fatalf("ParsePatch error mismatch (-want +got):\n%s", diff)
			}
			if err != nil {
				if k := core.KindOf(err); k != core.KindInvalid {
					t.Errorf("core.KindOf = %v, want core.KindInvalid", k)
				}
				if ops != nil || comment != "" {
					t.Errorf("ParsePatch returned ops %v / comment %q with an error", ops, comment)
				}
				return
			}
			if diff := cmp.Diff(tt.wantOps, ops); diff != "" {
				t.Errorf("ops mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantComment, comment); diff != "" {
				t.Errorf("comment mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyMetricPatch(t *testing.T) {
	base := sampleMetric().Def
	with := func(mod func(d *MetricDef)) MetricDef {
		d := sampleMetric().Def
		mod(&d)
		return d
	}
	tests := []struct {
		name     string
		ops      string
		want     MetricDef
		wantErr  string // exact message; "" means success
		errStart bool   // wantErr is only a prefix
		wantKind core.ErrorKind
	}{
		// Successful operations.
		{name: "replace name", ops: `[{"op":"replace","path":"/name","value":"Order placed"}]`, want: with(func(d *MetricDef) { d.Name = "Order placed" })},
		{name: "replace empty description", ops: `[{"op":"replace","path":"/description","value":"Counts orders"}]`, want: with(func(d *MetricDef) { d.Description = "Counts orders" })},
		{name: "add description", ops: `[{"op":"add","path":"/description","value":"d"}]`, want: with(func(d *MetricDef) { d.Description = "d" })},
		{name: "replace empty percentileValue", ops: `[{"op":"replace","path":"/analysisType","value":"percentile"},{"op":"replace","path":"/percentileValue","value":95}]`,
			want: with(func(d *MetricDef) { d.AnalysisType = "percentile"; d.PercentileValue = intp(95) })},
		{name: "replace empty eventDefault", ops: `[{"op":"replace","path":"/eventDefault","value":{"disabled":true}}]`, want: with(func(d *MetricDef) { d.EventDefault = &EventDefault{Disabled: true} })},
		{name: "replace empty filters", ops: `[{"op":"replace","path":"/filters","value":{"type":"eventProperty","attribute":"a","op":"in","values":["x"]}}]`,
			want: with(func(d *MetricDef) {
				d.Filters = &EventFilter{Type: "eventProperty", Attribute: "a", Op: "in", Values: []any{"x"}}
			})},
		{name: "remove unit", ops: `[{"op":"remove","path":"/unit"}]`, want: with(func(d *MetricDef) { d.Unit = "" })},
		{name: "remove tags", ops: `[{"op":"remove","path":"/tags"}]`, want: with(func(d *MetricDef) { d.Tags = nil })},
		{name: "replace with null clears", ops: `[{"op":"replace","path":"/unit","value":null}]`, want: with(func(d *MetricDef) { d.Unit = "" })},
		{name: "append tag", ops: `[{"op":"add","path":"/tags/-","value":"c"}]`, want: with(func(d *MetricDef) { d.Tags = strs("a", "b", "c") })},
		{name: "insert tag", ops: `[{"op":"add","path":"/tags/0","value":"z"}]`, want: with(func(d *MetricDef) { d.Tags = strs("z", "a", "b") })},
		{name: "remove tag", ops: `[{"op":"remove","path":"/tags/0"}]`, want: with(func(d *MetricDef) { d.Tags = strs("b") })},
		{name: "replace tag", ops: `[{"op":"replace","path":"/tags/1","value":"B"}]`, want: with(func(d *MetricDef) { d.Tags = strs("a", "B") })},
		{name: "add nested field", ops: `[{"op":"add","path":"/dataSource/environmentKey","value":"production"}]`, want: with(func(d *MetricDef) { d.DataSource.EnvironmentKey = "production" })},
		{name: "replace nested field", ops: `[{"op":"replace","path":"/dataSource/key","value":"snowflake"}]`, want: with(func(d *MetricDef) { d.DataSource.Key = "snowflake" })},
		{name: "replace nested read-only field", ops: `[{"op":"replace","path":"/dataSource/_name","value":"LD"}]`, wantErr: "dataSource._name is read-only", wantKind: core.KindInvalid},
		{name: "add nested read-only field", ops: `[{"op":"add","path":"/dataSource/_integrationKey","value":"x"}]`, wantErr: "dataSource._integrationKey is read-only", wantKind: core.KindInvalid},
		{name: "remove nested read-only field", ops: `[{"op":"remove","path":"/dataSource/_name"}]`, wantErr: "patch[0]: dataSource._name is read-only", wantKind: core.KindInvalid},
		{name: "move nested read-only field away", ops: `[{"op":"move","from":"/dataSource/_name","path":"/description"}]`, wantErr: "patch[0]: dataSource._name is read-only", wantKind: core.KindInvalid},
		{name: "replace object with spoofed read-only field", ops: `[{"op":"replace","path":"/dataSource","value":{"key":"launchdarkly","_name":"spoofed"}}]`, wantErr: "dataSource._name is read-only", wantKind: core.KindInvalid},
		{name: "replace nested read-only field with same value", ops: `[{"op":"replace","path":"/dataSource/_name","value":"LaunchDarkly"}]`, want: base},
		{name: "copy nested read-only field", ops: `[{"op":"copy","from":"/dataSource/_name","path":"/description"}]`, want: with(func(d *MetricDef) { d.Description = "LaunchDarkly" })},
		{name: "move field", ops: `[{"op":"move","from":"/eventKey","path":"/description"}]`, want: with(func(d *MetricDef) { d.Description = "checkout"; d.EventKey = "" })},
		{name: "move tag", ops: `[{"op":"move","from":"/tags/0","path":"/tags/-"}]`, want: with(func(d *MetricDef) { d.Tags = strs("b", "a") })},
		{name: "copy field", ops: `[{"op":"copy","from":"/name","path":"/description"}]`, want: with(func(d *MetricDef) { d.Description = "Checkout" })},
		{name: "copy key to description", ops: `[{"op":"copy","from":"/key","path":"/description"}]`, want: with(func(d *MetricDef) { d.Description = "checkout" })},
		{name: "test passes", ops: `[{"op":"test","path":"/name","value":"Checkout"},{"op":"replace","path":"/name","value":"X"}]`, want: with(func(d *MetricDef) { d.Name = "X" })},
		{name: "test read-only fields", ops: `[{"op":"test","path":"/_version","value":3},{"op":"test","path":"/_id","value":"65a1b2c3d4e5f60718293a4b"},{"op":"test","path":"/_creationDate","value":1700000000123},{"op":"test","path":"/key","value":"checkout"},{"op":"test","path":"/kind","value":"custom"},{"op":"test","path":"/_versionId","value":"1b4e28ba-2fa1-11d2-883f-0016d3cca427"}]`, want: base},
		{name: "test empty optional field is null", ops: `[{"op":"test","path":"/description","value":null}]`, want: base},
		{name: "replace read-only field with same value", ops: `[{"op":"replace","path":"/kind","value":"custom"},{"op":"replace","path":"/_version","value":3}]`, want: base},
		{name: "archive", ops: `[{"op":"replace","path":"/archived","value":true}]`, want: with(func(d *MetricDef) { d.Archived = true })},
		{name: "operations apply in order", ops: `[{"op":"add","path":"/tags/-","value":"c"},{"op":"remove","path":"/tags/0"},{"op":"test","path":"/tags","value":["b","c"]}]`, want: with(func(d *MetricDef) { d.Tags = strs("b", "c") })},

		// Failed tests are conflicts.
		{name: "test fails", ops: `[{"op":"test","path":"/name","value":"Other"}]`, wantErr: "patch test failed: ", errStart: true, wantKind: core.KindConflict},
		{name: "test fails on version", ops: `[{"op":"test","path":"/_version","value":2},{"op":"replace","path":"/name","value":"X"}]`, wantErr: "patch test failed: ", errStart: true, wantKind: core.KindConflict},

		// Read-only fields.
		{name: "replace _id", ops: `[{"op":"replace","path":"/_id","value":"x"}]`, wantErr: "_id is read-only", wantKind: core.KindInvalid},
		{name: "replace _version", ops: `[{"op":"replace","path":"/_version","value":4}]`, wantErr: "_version is read-only", wantKind: core.KindInvalid},
		{name: "replace _versionId", ops: `[{"op":"replace","path":"/_versionId","value":"v"}]`, wantErr: "_versionId is read-only", wantKind: core.KindInvalid},
		{name: "replace _creationDate", ops: `[{"op":"replace","path":"/_creationDate","value":1}]`, wantErr: "_creationDate is read-only", wantKind: core.KindInvalid},
		{name: "replace key", ops: `[{"op":"replace","path":"/key","value":"other"}]`, wantErr: "key is read-only", wantKind: core.KindInvalid},
		{name: "replace kind", ops: `[{"op":"replace","path":"/kind","value":"pageview"}]`, wantErr: "kind is read-only", wantKind: core.KindInvalid},
		{name: "remove key", ops: `[{"op":"remove","path":"/key"}]`, wantErr: "key is read-only", wantKind: core.KindInvalid},
		{name: "move key away", ops: `[{"op":"move","from":"/key","path":"/description"}]`, wantErr: "key is read-only", wantKind: core.KindInvalid},
		{name: "copy onto kind", ops: `[{"op":"copy","from":"/name","path":"/kind"}]`, wantErr: "kind is read-only", wantKind: core.KindInvalid},
		{name: "add _foo", ops: `[{"op":"add","path":"/_foo","value":1}]`, wantErr: "_foo is read-only", wantKind: core.KindInvalid},
		{name: "add _links", ops: `[{"op":"add","path":"/_links","value":{}}]`, wantErr: "_links is read-only", wantKind: core.KindInvalid},

		// Unknown fields and wrong types.
		{name: "add unknown field", ops: `[{"op":"add","path":"/bogus","value":1}]`, wantErr: `unknown field "bogus"`, wantKind: core.KindInvalid},
		{name: "add unknown nested field", ops: `[{"op":"add","path":"/dataSource/bogus","value":1}]`, wantErr: `unknown field "bogus"`, wantKind: core.KindInvalid},
		{name: "isNumeric becomes string", ops: `[{"op":"replace","path":"/isNumeric","value":"yes"}]`, wantErr: "field isNumeric must be a boolean, not string", wantKind: core.KindInvalid},
		{name: "tags becomes string", ops: `[{"op":"replace","path":"/tags","value":"x"}]`, wantErr: "field tags must be an array, not string", wantKind: core.KindInvalid},
		{name: "tag becomes number", ops: `[{"op":"add","path":"/tags/-","value":1}]`, wantErr: "field tags must be a string, not number", wantKind: core.KindInvalid},
		{name: "percentileValue becomes string", ops: `[{"op":"replace","path":"/percentileValue","value":"95"}]`, wantErr: "field percentileValue must be an integer, not string", wantKind: core.KindInvalid},
		{name: "dataSource becomes array", ops: `[{"op":"replace","path":"/dataSource","value":[]}]`, wantErr: "field dataSource must be an object, not array", wantKind: core.KindInvalid},

		// Operations the document does not support.
		{name: "remove missing field", ops: `[{"op":"remove","path":"/nope"}]`, wantErr: "patch could not be applied: ", errStart: true, wantKind: core.KindInvalid},
		{name: "replace missing field", ops: `[{"op":"replace","path":"/nope","value":1}]`, wantErr: "patch could not be applied: ", errStart: true, wantKind: core.KindInvalid},
		{name: "remove tag out of range", ops: `[{"op":"remove","path":"/tags/5"}]`, wantErr: "patch could not be applied: ", errStart: true, wantKind: core.KindInvalid},
		{name: "add below missing parent", ops: `[{"op":"add","path":"/nope/x","value":1}]`, wantErr: "patch could not be applied: ", errStart: true, wantKind: core.KindInvalid},
		{name: "move from missing field", ops: `[{"op":"move","from":"/nope","path":"/description"}]`, wantErr: "patch could not be applied: ", errStart: true, wantKind: core.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, _, err := patch.Parse([]byte(tt.ops))
			if err != nil {
				t.Fatalf("ParsePatch: %v", err)
			}
			cur := sampleMetric()
			got, err := applyMetricPatch(cur, ops)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("applyMetricPatch: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("applyMetricPatch mismatch (-want +got):\n%s", diff)
				}
			} else {
				switch {
				case err == nil:
					t.Fatalf("applyMetricPatch = %+v, want error %q", got, tt.wantErr)
				case tt.errStart && !strings.HasPrefix(err.Error(), tt.wantErr):
					t.Errorf("error %q, want prefix %q", err, tt.wantErr)
				case !tt.errStart && err.Error() != tt.wantErr:
					t.Errorf("error mismatch (-want +got):\n%s", cmp.Diff(tt.wantErr, err.Error()))
				}
				if k := core.KindOf(err); k != tt.wantKind {
					t.Errorf("core.KindOf(%v) = %v, want %v", err, k, tt.wantKind)
				}
			}
			// The current version is never modified.
			if diff := cmp.Diff(sampleMetric(), cur); diff != "" {
				t.Errorf("applyMetricPatch modified the current metric (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApplyMetricPatchThenValidate runs patches through the rest of
// PatchMetric's pipeline (normalize, validate) as a whole.
func TestApplyMetricPatchThenValidate(t *testing.T) {
	tests := []struct {
		name string
		ops  string
		want string
	}{
		{"no-op patch stays valid", `[{"op":"test","path":"/key","value":"checkout"}]`, ""},
		{"make conversion metric", `[{"op":"replace","path":"/isNumeric","value":false},{"op":"remove","path":"/unit"}]`, ""},
		{"conversion metric with unit", `[{"op":"replace","path":"/isNumeric","value":false}]`, "unit applies to numeric metrics only"},
		{"drop eventKey", `[{"op":"remove","path":"/eventKey"}]`, "eventKey is required for custom metrics"},
		{"remove name defaults to key", `[{"op":"remove","path":"/name"}]`, ""},
		{"percentile without value", `[{"op":"replace","path":"/analysisType","value":"percentile"}]`, "percentileValue is required when analysisType is percentile"},
		{"bad tag", `[{"op":"add","path":"/tags/-","value":"bad tag"}]`, `tags[2] "bad tag" must be 1-64 letters, digits, '.', '_', ':' or '-'`},
		{"urls on custom", `[{"op":"add","path":"/urls","value":[{"kind":"substring","substring":"x"}]}]`, "urls applies to pageview and click metrics only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, _, err := patch.Parse([]byte(tt.ops))
			if err != nil {
				t.Fatal(err)
			}
			cur := sampleMetric()
			def, err := applyMetricPatch(cur, ops)
			if err != nil {
				t.Fatal(err)
			}
			normalizeMetric(cur.Key, &def)
			if diff := cmp.Diff(tt.want, errText(validateMetric(cur.Kind, &def))); diff != "" {
				t.Errorf("validateMetric mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPatchDocument checks the document clients patch: every editable field
// is present, empty ones as null, next to the read-only identity fields.
func TestPatchDocument(t *testing.T) {
	doc, err := patchDocument(sampleMetric())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, v := range doc {
		got[k] = string(v)
	}
	want := map[string]string{
		"_id": `"65a1b2c3d4e5f60718293a4b"`, "_version": `3`, "_versionId": `"1b4e28ba-2fa1-11d2-883f-0016d3cca427"`,
		"_creationDate": `1700000000123`, "key": `"checkout"`, "kind": `"custom"`,
		"name": `"Checkout"`, "description": `null`, "category": `null`, "tags": `["a","b"]`,
		"maintainerId": `"569fdeadbeef1644facecafe"`, "maintainerTeamKey": `null`, "isNumeric": `true`, "unit": `"usd"`,
		"successCriteria": `"HigherThanBaseline"`, "eventKey": `"checkout"`, "selector": `null`, "urls": `null`,
		"traceQuery": `null`, "traceValueLocation": `null`, "randomizationUnits": `["user"]`, "analysisUnits": `["user"]`,
		"unitAggregationType": `"average"`, "analysisType": `"mean"`, "percentileValue": `null`,
		"eventDefault": `null`, "dataSource": `{"key":"launchdarkly","_name":"LaunchDarkly"}`,
		"filters": `null`, "archived": `false`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patchDocument mismatch (-want +got):\n%s", diff)
	}
}

// TestApplyMetricPatchManyOps applies the largest patch ParsePatch accepts.
func TestApplyMetricPatchManyOps(t *testing.T) {
	ops := make([]string, 100)
	for i := range ops {
		ops[i] = fmt.Sprintf(`{"op":"add","path":"/tags/-","value":"t%d"}`, i)
	}
	parsed, _, err := patch.Parse([]byte("[" + strings.Join(ops, ",") + "]"))
	if err != nil {
		t.Fatal(err)
	}
	def, err := applyMetricPatch(sampleMetric(), parsed)
	if err != nil {
		t.Fatal(err)
	}
	if len(def.Tags) != 102 || def.Tags[101] != "t99" {
		t.Errorf("tags = %v, want a, b, t0..t99", def.Tags)
	}
}

// TestApplyMetricPatchCopyAmplification: each "copy" of an array into
// itself doubles the document, so a 100-operation patch of a few kilobytes
// makes the server build a 2^100-element document. applyMetricPatch sets no
// AccumulatedCopySizeLimit on the json-patch apply options.
func TestApplyMetricPatchCopyAmplification(t *testing.T) {
	ops := make([]string, 40)
	for i := range ops {
		ops[i] = `{"op":"copy","from":"/tags","path":"/tags/-"}`
	}
	parsed, _, err := patch.Parse([]byte("[" + strings.Join(ops, ",") + "]"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := applyMetricPatch(sampleMetric(), parsed)
		done <- err
	}()
	select {
	case err := <-done:
		if core.KindOf(err) != core.KindInvalid {
			t.Errorf("applyMetricPatch error = %v, want a core.KindInvalid error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("applyMetricPatch of 40 self-copies did not finish within 5s")
	}
}

// TestApplyMetricPatchFieldCase: DecodeStrict matches field names
// case-insensitively (encoding/json), so a patch that adds a wrongly-cased
// member is not rejected as an unknown field; it is silently ignored when
// the correctly-cased field is set, and applied when that field is null.
func TestApplyMetricPatchFieldCase(t *testing.T) {
	for _, body := range []string{
		`[{"op":"add","path":"/Name","value":"New"}]`,
		`[{"op":"add","path":"/Description","value":"x"}]`,
		`[{"op":"add","path":"/ISNUMERIC","value":false}]`,
	} {
		ops, _, err := patch.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		def, err := applyMetricPatch(sampleMetric(), ops)
		if err == nil || !strings.HasPrefix(err.Error(), "unknown field ") {
			t.Errorf("applyMetricPatch(%s) = (%+v, %v), want an unknown field error", body, def, err)
		}
	}
}
