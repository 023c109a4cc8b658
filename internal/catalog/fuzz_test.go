package catalog

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
)

// FuzzMetricPost runs create-metric bodies through decoding, normalization
// and validation the way CreateMetric does. Nothing may panic, and a
// definition that validates must survive a JSON round trip unchanged and
// still valid.
func FuzzMetricPost(f *testing.F) {
	for _, s := range []string{
		`{"key":"checkout","kind":"custom","eventKey":"checkout"}`,
		`{"key":"rev","kind":"custom","name":" Revenue ","eventKey":"order","isNumeric":true,"successCriteria":"HigherThanBaseline","unit":"usd","analysisType":"percentile","percentileValue":95,"unitAggregationType":"sum","tags":["b","a","b"],"randomizationUnits":["user","org"],"eventDefault":{"disabled":false}}`,
		`{"key":"pv","kind":"pageview","urls":[{"kind":"exact","url":"https://example.com/a"},{"kind":"canonical","url":"http://example.com"},{"kind":"substring","substring":"/c"},{"kind":"regex","pattern":"^https://x\\.com/(a|b)$"}]}`,
		`{"key":"clk","kind":"click","selector":"#buy, .cta","urls":[{"kind":"substring","substring":"checkout"}],"archived":true}`,
		`{"key":"lat","kind":"trace","traceQuery":"service.name = \"checkout\"","isNumeric":true,"traceValueLocation":"duration","successCriteria":"LowerThanBaseline","dataSource":{"key":"otel","environmentKey":"production"}}`,
		`{"key":"f","kind":"custom","eventKey":"e","filters":{"type":"group","op":"and","values":[{"type":"contextAttribute","op":"in","contextKind":"user","attribute":"country","values":["JP",1,true],"negate":false},{"type":"group","op":"or","values":[{"type":"eventProperty","op":"in","attribute":"category","values":["magic-wands"]}]}]}}`,
		`{"key":"bad","kind":"gauge"}`,
		`{"key":"pv","kind":"pageview","urls":[{"kind":"regex","pattern":"(a"}]}`,
		`{"key":"c","kind":"custom","eventKey":"e","isNumeric":"yes"}`,
		`{"key":"c","kind":"custom","eventKey":"e","percentileValue":101,"analysisType":"percentile","isNumeric":true,"successCriteria":"HigherThanBaseline"}`,
		`{"key":"c","kind":"custom","eventKey":"e","filters":{"type":"group","op":"and","values":[{"type":"eventProperty","op":"in","attribute":"a","values":[{"x":1}],"bogus":1}]}}`,
		`{"key":"c","kind":"custom","eventKey":"e","eventDefault":{"value":-0},"tags":[],"name":"` + "\u2028" + `"}`,
		`{"key":"c","kind":"custom","eventKey":"e"} trailing`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in MetricPost
		if err := patch.DecodeStrict(body, &in); err != nil {
			if core.KindOf(err) != core.KindInvalid {
				t.Fatalf("DecodeStrict error %v is not core.KindInvalid", err)
			}
			return
		}
		if core.ValidateKey("key", in.Key) != nil || in.Kind == "" {
			return
		}
		def := in.MetricDef
		normalizeMetric(in.Key, &def)
		if err := validateMetric(in.Kind, &def); err != nil {
			if core.KindOf(err) != core.KindInvalid {
				t.Fatalf("validateMetric error %v is not core.KindInvalid", err)
			}
			return
		}
		// The stored form: marshal, decode strictly, validate again.
		raw, err := json.Marshal(def)
		if err != nil {
			t.Fatalf("marshaling a valid definition: %v", err)
		}
		var back MetricDef
		// Read-only fields (dataSource._name) stay as they were, as in a
		// patch that leaves them alone.
		if err := patch.DecodeUpdate(raw, raw, &back); err != nil {
			t.Fatalf("decoding the marshaled definition %s: %v", raw, err)
		}
		if err := validateMetric(in.Kind, &back); err != nil {
			t.Fatalf("valid definition is invalid after a round trip: %v\n%s", err, raw)
		}
		normalizeMetric(in.Key, &back)
		if diff := cmp.Diff(def, back); diff != "" {
			t.Fatalf("round trip plus normalization changed the definition (-before +after):\n%s", diff)
		}
	})
}

// fuzzPatchMetric is the fixed metric FuzzParsePatch patches: a numeric
// custom metric with a filter tree, tags and an event default.
func fuzzPatchMetric() *Metric {
	m := sampleMetric()
	m.Def.EventDefault = &EventDefault{Value: floatp(0)}
	m.Def.Filters = &EventFilter{Type: "group", Op: "and", Values: []any{
		map[string]any{"type": "eventProperty", "attribute": "a", "op": "in", "values": []any{"x", 1.0}},
	}}
	return m
}

// FuzzParsePatch runs PATCH bodies through ParsePatch and applyMetricPatch.
// Nothing may panic, and every error must be a classified *core.Error.
func FuzzParsePatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","path":"/name","value":"New"}]`,
		`{"comment":"c","patch":[{"op":"add","path":"/tags/-","value":"c"},{"op":"remove","path":"/tags/0"}]}`,
		`[{"op":"test","path":"/_version","value":3},{"op":"replace","path":"/description","value":"d"}]`,
		`[{"op":"move","from":"/eventKey","path":"/description"},{"op":"copy","from":"/name","path":"/eventKey"}]`,
		`[{"op":"replace","path":"/filters/values/0/values/1","value":2}]`,
		`[{"op":"add","path":"/filters/values/-","value":{"type":"group","op":"or","values":[]}}]`,
		`[{"op":"replace","path":"/_id","value":"x"}]`,
		`[{"op":"add","path":"/_foo","value":1}]`,
		`[{"op":"add","path":"/bogus","value":1}]`,
		`[{"op":"test","path":"/name","value":"nope"}]`,
		`[{"op":"remove","path":"/tags/99"}]`,
		`[{"op":"copy","from":"/tags","path":"/tags/-"}]`,
		`[{"op":"move","from":"/tags","path":"/tags/0"}]`,
		`[{"op":"add","path":"/tags/-1","value":"x"}]`,
		`[{"op":"replace","path":"/~1a~0b","value":1}]`,
		`{"patch":[]}`,
		`[{"op":"frob","path":"/x"}]`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, _, err := patch.Parse(body)
		if err != nil {
			if core.KindOf(err) == core.KindInternal {
				t.Fatalf("ParsePatch error %T %v is not a classified *core.Error", err, err)
			}
			return
		}
		cur := fuzzPatchMetric()
		def, err := applyMetricPatch(cur, ops)
		if err != nil {
			if core.KindOf(err) == core.KindInternal {
				t.Fatalf("applyMetricPatch error %T %v is not a classified *core.Error", err, err)
			}
			return
		}
		if diff := cmp.Diff(fuzzPatchMetric(), cur); diff != "" {
			t.Fatalf("applyMetricPatch modified the current metric (-want +got):\n%s", diff)
		}
		normalizeMetric(cur.Key, &def)
		if err := validateMetric(cur.Kind, &def); err != nil && core.KindOf(err) != core.KindInvalid {
			t.Fatalf("validateMetric error %v is not core.KindInvalid", err)
		}
	})
}

// FuzzMetricGroupPost decodes and validates metric group bodies the way
// CreateMetricGroup does before it touches the store: it must never panic,
// and every rejection must be a classified error.
func FuzzMetricGroupPost(f *testing.F) {
	for _, seed := range []string{
		`{"key":"funnel","name":"Checkout","kind":"funnel","maintainerId":"x","tags":["a"],"metrics":[{"key":"a","nameInGroup":"Step 1"},{"key":"b","nameInGroup":"Step 2"}]}`,
		`{"name":"No key","kind":"standard","maintainerTeamKey":"t","tags":[],"metrics":[{"key":"a"},{"key":"a"}]}`,
		`{"name":"","kind":"guardrail","metrics":[]}`,
		`{"name":"x","kind":"funnel","metrics":[{"KEY":"a","nameInGroup":"s"}]}`,
		`{"name":"x","kind":"bogus","metrics":null,"tags":["bad tag"]}`,
		`{"metrics":[{"key":1}]}`,
		`[]`,
		`{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in MetricGroupPost
		if err := patch.DecodeStrict(body, &in); err != nil {
			if core.KindOf(err) == core.KindInternal {
				t.Fatalf("patch.DecodeStrict(%q) gave an unclassified error: %v", body, err)
			}
			return
		}
		normalizeGroup(&in.GroupDef)
		if err := validateGroupShape(&in.GroupDef); err != nil && core.KindOf(err) == core.KindInternal {
			t.Fatalf("validateGroupShape gave an unclassified error: %v", err)
		}
		_ = slugKey(in.Name)
	})
}
