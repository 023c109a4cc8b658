package catalog

import (
	"testing"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
)

// TestDecodeStrictText: U+0000 in any string (member names included) and
// invalid UTF-8 anywhere are refused with a message naming the field, since
// PostgreSQL can store neither.
func TestDecodeStrictText(t *testing.T) {
	tests := []struct {
		name string
		body string
		into func() any
		want string
	}{
		{"NUL in a top-level string", `{"name":"a\u0000b"}`, newDef, "name must not contain U+0000 (NUL)"},
		{"NUL alone", `{"name":"\u0000"}`, newDef, "name must not contain U+0000 (NUL)"},
		{"NUL in a nested string", `{"dataSource":{"key":"ld\u0000"}}`, newDef, "dataSource.key must not contain U+0000 (NUL)"},
		{"NUL in an array item", `{"tags":["a","b\u0000"]}`, newDef, "tags[1] must not contain U+0000 (NUL)"},
		{"NUL in an array of objects", `{"urls":[{"kind":"exact"},{"kind":"x\u0000"}]}`, newDef, "urls[1].kind must not contain U+0000 (NUL)"},
		{"NUL in a member name", `{"na\u0000me":"x"}`, newDef, "a field name in the request body contains U+0000 (NUL), which is not allowed"},
		{"NUL in a nested member name", `{"dataSource":{"\u0000":"x"}}`, newDef, "a field name in dataSource contains U+0000 (NUL), which is not allowed"},
		{"NUL in a raw value", `[{"op":"add","path":"/name","value":{"a":["\u0000"]}}]`, newOps, "[0].value.a[0] must not contain U+0000 (NUL)"},
		{"NUL in a top-level string value", `"\u0000"`, newDef, "the request body must not contain U+0000 (NUL)"},
		{"NUL after an escaped backslash is text", `{"name":"\\u0000"}`, newDef, ""},
		{"NUL in a surrogate pair", `{"name":"\ud800\u0000"}`, newDef, "name must not contain U+0000 (NUL)"},
		{"invalid UTF-8 in a string", "{\"name\":\"a\xffb\"}", newDef, "name is not valid UTF-8"},
		{"invalid UTF-8 in a nested string", "{\"dataSource\":{\"key\":\"\xc3\"}}", newDef, "dataSource.key is not valid UTF-8"},
		{"invalid UTF-8 in a member name", "{\"\xff\":1}", newDef, "a field name in the request body is not valid UTF-8"},
		{"invalid UTF-8 outside strings is a syntax error", "{\xff}", newDef, "request body is not valid JSON at offset 2: invalid character 'ÿ' looking for beginning of object key string"},
		{"valid multibyte text", `{"name":"日本語 ✓ \u00e9"}`, newDef, ""},
		{"NUL after a syntax error", `{"a" "\u0000"}`, newDef, "request body is not valid JSON at offset 6: invalid character '\"' after object key"},
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
			if got != tt.want {
				t.Errorf("patch.DecodeStrict(%q) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

// TestDecodeStrictReadOnly: fields whose JSON names start with "_" are
// read-only at every depth; unknown "_" fields stay unknown.
func TestDecodeStrictReadOnly(t *testing.T) {
	tests := []struct {
		name string
		body string
		into func() any
		want string
	}{
		{"nested _name", `{"dataSource":{"key":"ld","_name":"spoofed"}}`, newDef, "dataSource._name is read-only"},
		{"nested _integrationKey", `{"dataSource":{"key":"ld","_integrationKey":"x"}}`, newDef, "dataSource._integrationKey is read-only"},
		{"metric post", `{"key":"k","kind":"custom","dataSource":{"key":"ld","_name":"LD"}}`, func() any { return new(MetricPost) }, "dataSource._name is read-only"},
		{"unknown _ field", `{"_id":"x"}`, newDef, `unknown field "_id"`},
		{"without read-only fields", `{"dataSource":{"key":"ld","environmentKey":"e"}}`, newDef, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := patch.DecodeStrict([]byte(tt.body), tt.into())
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("patch.DecodeStrict(%s) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
	// A patched document may keep a read-only field as it was, at the same
	// place, and nothing else.
	before := []byte(`{"dataSource":{"key":"launchdarkly","_name":"LaunchDarkly"}}`)
	for _, c := range []struct{ after, want string }{
		{`{"dataSource":{"key":"launchdarkly","_name":"LaunchDarkly"}}`, ""},
		{`{"dataSource":{"key":"snowflake"}}`, ""},
		{`{"dataSource":{"key":"launchdarkly","_name":"LD"}}`, "dataSource._name is read-only"},
		{`{"dataSource":{"key":"launchdarkly","_name":"LaunchDarkly","_integrationKey":"x"}}`, "dataSource._integrationKey is read-only"},
	} {
		var d MetricDef
		got := ""
		if err := patch.DecodeUpdate([]byte(c.after), before, &d); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("patch.DecodeUpdate(%s) = %q, want %q", c.after, got, c.want)
		}
	}
}
