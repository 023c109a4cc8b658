package catalog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
)

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name string
		body string
		into func() any
		want string // "" means success
	}{
		{"valid metric def", `{"name":"n","isNumeric":true,"percentileValue":95,"tags":["a"]}`, newDef, ""},
		{"valid with surrounding whitespace", " \n\t{\"name\":\"n\"}\r\n ", newDef, ""},
		{"null", `null`, newDef, ""},
		{"null field", `{"archived":null,"tags":null}`, newDef, ""},
		{"empty body", ``, newDef, "request body is empty"},
		{"whitespace body", " \n\t ", newDef, "request body is empty"},
		{"unknown field", `{"x":1}`, newDef, `unknown field "x"`},
		{"unknown field after valid ones", `{"name":"n","windowStartOffset":0}`, newDef, `unknown field "windowStartOffset"`},
		{"unknown nested field", `{"urls":[{"kind":"exact","host":"x"}]}`, newDef, `unknown field "host"`},
		{"unknown field in filter", `{"filters":{"type":"group","bogus":1}}`, newDef, `unknown field "bogus"`},
		{"bool field given string", `{"isNumeric":"yes"}`, newDef, "field isNumeric must be a boolean, not string"},
		{"string field given number", `{"name":1}`, newDef, "field name must be a string, not number"},
		{"string field given bool", `{"eventKey":true}`, newDef, "field eventKey must be a string, not bool"},
		{"pointer int field given string", `{"percentileValue":"95"}`, newDef, "field percentileValue must be an integer, not string"},
		{"pointer int field given bool", `{"percentileValue":true}`, newDef, "field percentileValue must be an integer, not bool"},
		{"slice field given string", `{"tags":"a"}`, newDef, "field tags must be an array, not string"},
		{"slice item given number", `{"tags":["a",1]}`, newDef, "field tags must be a string, not number"},
		{"struct field given array", `{"dataSource":[]}`, newDef, "field dataSource must be an object, not array"},
		{"pointer struct field given string", `{"eventDefault":"x"}`, newDef, "field eventDefault must be an object, not string"},
		{"nested pointer float given string", `{"eventDefault":{"value":"0"}}`, newDef, "field eventDefault.value must be a number, not string"},
		{"nested in array", `{"urls":[{"kind":1}]}`, newDef, "field urls.kind must be a string, not number"},
		{"filter values given string", `{"filters":{"values":"x"}}`, newDef, "field filters.values must be an array, not string"},
		{"object given array", `[]`, newDef, "request body must be an object, not array"},
		{"object given string", `"x"`, newDef, "request body must be an object, not string"},
		{"object given number", `42`, newDef, "request body must be an object, not number"},
		{"array given object", `{}`, newOps, "request body must be an array, not object"},
		{"array item given number", `[1]`, newOps, "request body must be an object, not number"},
		{"patch op value any JSON", `[{"op":"add","path":"/a","value":{"x":[1,2]}}]`, newOps, ""},
		{"patch op unknown field", `[{"op":"add","path":"/a","value":1,"x":1}]`, newOps, `unknown field "x"`},
		{"syntax error", `{"a":}`, newDef, "request body is not valid JSON at offset 6: invalid character '}' looking for beginning of value"},
		{"syntax error at start", `x`, newDef, "request body is not valid JSON at offset 1: invalid character 'x' looking for beginning of value"},
		{"missing comma", `{"name":"a" "tags":[]}`, newDef, "request body is not valid JSON at offset 13: invalid character '\"' after object key:value pair"},
		{"truncated object", `{`, newDef, "request body is not valid JSON: unexpected end of input"},
		{"truncated string", `{"name":"ab`, newDef, "request body is not valid JSON: unexpected end of input"},
		{"trailing garbage", `{"name":"a"} x`, newDef, "request body must hold a single JSON value"},
		{"trailing brace", `{"name":"a"}}`, newDef, "request body must hold a single JSON value"},
		{"two values", `{} {}`, newDef, "request body must hold a single JSON value"},
		{"two nulls", `null null`, newDef, "request body must hold a single JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := patch.DecodeStrict([]byte(tt.body), tt.into())
			got := ""
			if err != nil {
				got = err.Error()
				if k := core.KindOf(err); k != core.KindInvalid {
					t.Errorf("core.KindOf = %v, want core.KindInvalid", k)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("patch.DecodeStrict(%q) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func newDef() any { return new(MetricDef) }
func newOps() any { return new([]patch.Op) }

// TestDecodeStrictValues checks what a successful decode stores.
func TestDecodeStrictValues(t *testing.T) {
	var got MetricPost
	body := `{"key":"k","kind":"custom","name":"N","tags":["a"],"isNumeric":true,"percentileValue":0,
		"eventDefault":{"disabled":false,"value":0},"dataSource":{"key":"ld","environmentKey":"e"},
		"filters":{"type":"eventProperty","attribute":"a","op":"in","values":["x",1,true]}}`
	if err := patch.DecodeStrict([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := MetricPost{Key: "k", Kind: "custom", MetricDef: MetricDef{
		Name: "N", Tags: []string{"a"}, IsNumeric: true, PercentileValue: intp(0),
		EventDefault: &EventDefault{Value: floatp(0)},
		DataSource:   DataSource{Key: "ld", EnvironmentKey: "e"},
		Filters:      &EventFilter{Type: "eventProperty", Attribute: "a", Op: "in", Values: []any{"x", 1.0, true}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded MetricPost mismatch (-want +got):\n%s", diff)
	}
}

// TestDecodeStrictMetricPostFieldNames decodes into MetricPost, the type
// the create-metric handler uses. Its fields come from the embedded
// MetricDef, and the messages must name them by their JSON names.
func TestDecodeStrictMetricPostFieldNames(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"isNumeric":"yes"}`, "field isNumeric must be a boolean, not string"},
		{`{"percentileValue":"95"}`, "field percentileValue must be an integer, not string"},
		{`{"urls":[{"kind":1}]}`, "field urls.kind must be a string, not number"},
		{`{"key":1}`, "field key must be a string, not number"},
	}
	for _, tt := range tests {
		var p MetricPost
		err := patch.DecodeStrict([]byte(tt.body), &p)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("patch.DecodeStrict(%s) mismatch (-want +got):\n%s", tt.body, diff)
		}
	}
}

// TestDecodeStrictNonIntegerNumber: a fraction or an out-of-range number
// for an integer field yields "must be a number, not number 95.5", which
// contradicts itself.
func TestDecodeStrictNonIntegerNumber(t *testing.T) {
	for _, body := range []string{`{"percentileValue":95.5}`, `{"percentileValue":1e10}`} {
		var d MetricDef
		err := patch.DecodeStrict([]byte(body), &d)
		if err == nil {
			t.Fatalf("patch.DecodeStrict(%s) = nil, want error", body)
		}
		want := "field percentileValue must be an integer, not number " + body[len(`{"percentileValue":`):len(body)-1]
		if diff := cmp.Diff(want, err.Error()); diff != "" {
			t.Errorf("patch.DecodeStrict(%s) mismatch (-want +got):\n%s", body, diff)
		}
	}
}
