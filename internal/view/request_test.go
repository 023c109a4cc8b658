package view

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/core"
)

func TestDecodePost(t *testing.T) {
	in, err := DecodePost([]byte(`{"key":"checkout","name":" Checkout ","description":"d","tags":["b","a","b"],"generateSdkKeys":true,"maintainerTeamKey":"core"}`))
	if err != nil {
		t.Fatal(err)
	}
	f, err := in.fields()
	if err != nil {
		t.Fatal(err)
	}
	want := Fields{Name: "Checkout", Description: "d", Tags: []string{"b", "a"}, GenerateSDKKeys: true, MaintainerTeamKey: "core"}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	for _, tc := range []struct{ body, msg string }{
		{`{"name":"X"}`, "key is required"},
		{`{"key":"x"}`, "name is required"},
		{`{"key":"x","name":"   "}`, "name is required"},
		{`{"key":"x","name":"X","tags":null}`, "tags must not be null"},
		{`{"key":"x","name":"X","extra":1}`, "extra"},
		{`{"key":"x","name":"X","tags":["ok","not ok"]}`, "tags[1]"},
		{`{"key":"x","name":"X","maintainerId":"m","maintainerTeamKey":"t"}`, "not both"},
		{`{"key":"x","name":"X","maintainerTeamKey":"bad key"}`, "maintainerTeamKey"},
		{`{"key":"x","name":"` + strings.Repeat("n", 257) + `"}`, "at most 256"},
		{`{"key":"x","name":"X"} {}`, "single JSON value"},
		{`[]`, ""},
	} {
		_, err := DecodePost([]byte(tc.body))
		if err == nil || core.KindOf(err) != core.KindInvalid || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("DecodePost(%s) = %v, want an invalid-request error mentioning %q", tc.body, err, tc.msg)
		}
	}
}

func TestPatchApply(t *testing.T) {
	base := Fields{Name: "A", Description: "d", Tags: []string{"t"}, MaintainerID: "m1"}
	for _, tc := range []struct {
		name string
		body string
		want Fields
	}{
		{"empty", `{}`, base},
		{"team replaces member", `{"maintainerTeamKey":"core"}`, Fields{Name: "A", Description: "d", Tags: []string{"t"}, MaintainerTeamKey: "core"}},
		{"clear member", `{"maintainerId":""}`, Fields{Name: "A", Description: "d", Tags: []string{"t"}}},
		{"fields", `{"name":" B ","description":"","tags":["x","x"],"archived":true,"generateSdkKeys":true}`,
			Fields{Name: "B", Tags: []string{"x"}, MaintainerID: "m1", Archived: true, GenerateSDKKeys: true}},
	} {
		p, err := DecodePatch([]byte(tc.body))
		if err != nil {
			t.Fatalf("%s: DecodePatch: %v", tc.name, err)
		}
		got, err := p.apply(base)
		if err != nil {
			t.Fatalf("%s: apply: %v", tc.name, err)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	if base.Tags[0] != "t" {
		t.Errorf("apply changed the base's tags: %v", base.Tags)
	}
	for _, body := range []string{`{"name":""}`, `{"key":"k"}`, `{"maintainerId":"m","maintainerTeamKey":"t"}`, `{"archived":null}`, `{"tags":"x"}`} {
		if _, err := DecodePatch([]byte(body)); core.KindOf(err) != core.KindInvalid {
			t.Errorf("DecodePatch(%s) = %v, want an invalid-request error", body, err)
		}
	}
}

func TestLinkRefs(t *testing.T) {
	for _, tc := range []struct {
		typ  ResourceType
		body string
		want []Ref
		msg  string
	}{
		{Metrics, `{"keys":["a","b","a"]}`, []Ref{{Key: "a"}, {Key: "b"}}, ""},
		{Flags, `{"keys":["f"],"comment":"why"}`, []Ref{{Key: "f"}}, ""},
		{Segments, `{"keys":["5f0c"]}`, []Ref{{Key: "5f0c"}}, ""},
		{Segments, `{"segmentIdentifiers":[{"environmentId":"e1","segmentKey":"s"},{"environmentId":"e1","segmentKey":"s"}]}`, []Ref{{Key: "s", EnvironmentID: "e1"}}, ""},
		{Metrics, `{}`, nil, "keys is required"},
		{Segments, `{}`, nil, "keys or segmentIdentifiers is required"},
		{Flags, `{"keys":[]}`, nil, "at least one"},
		{Flags, `{"keys":["a"],"segmentIdentifiers":[]}`, nil, "not both"},
		{Metrics, `{"segmentIdentifiers":[{"environmentId":"e","segmentKey":"s"}]}`, nil, "segments only"},
		{Segments, `{"segmentIdentifiers":[{"segmentKey":"s"}]}`, nil, "environmentId is required"},
		{Segments, `{"segmentIdentifiers":[{"environmentId":"e","segmentKey":""}]}`, nil, "segmentKey"},
		{Flags, `{"filter":"tags:a"}`, nil, "filter"},
		{Metrics, `{"filter":"x"}`, nil, "by key"},
		{Flags, `{"keys":["a"],"environmentId":"e"}`, nil, "environmentId"},
		{Flags, `{"keys":["a"],"keys2":["b"]}`, nil, "keys2"},
		{Flags, `{"keys":[" a"]}`, nil, "keys[0]"},
		{Flags, `{"keys":null}`, nil, "null"},
	} {
		in, err := DecodeLink([]byte(tc.body), tc.typ)
		if tc.msg != "" {
			if err == nil || core.KindOf(err) != core.KindInvalid || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("DecodeLink(%s, %s) = %v, want an invalid-request error mentioning %q", tc.body, tc.typ, err, tc.msg)
			}
			continue
		}
		if err != nil {
			t.Errorf("DecodeLink(%s, %s): %v", tc.body, tc.typ, err)
			continue
		}
		refs, _ := in.refs(tc.typ)
		if d := cmp.Diff(tc.want, refs); d != "" {
			t.Errorf("refs of %s (-want +got):\n%s", tc.body, d)
		}
	}
	many := `{"keys":[` + strings.TrimSuffix(strings.Repeat(`"k",`, MaxLinkRefs+1), ",") + `]}`
	if _, err := DecodeLink([]byte(many), Flags); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("DecodeLink of %d keys = %v, want a refusal", MaxLinkRefs+1, err)
	}
	if _, err := ParseResourceType("aiConfigs"); core.KindOf(err) != core.KindInvalid {
		t.Errorf("ParseResourceType(aiConfigs) = %v", err)
	}
}
