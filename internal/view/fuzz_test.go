package view

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/core"
)

// FuzzDecodeRequests: no body makes the view request decoders panic or
// fail with anything but an invalid-request error, and whatever they accept
// satisfies the rules the store relies on.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{
		`{"key":"checkout","name":"Checkout","description":"d","tags":["a","b"],"generateSdkKeys":true,"maintainerId":"5f0c"}`,
		`{"key":"x","name":"X","maintainerTeamKey":"core"}`,
		`{"name":"B","archived":true,"tags":[]}`,
		`{"maintainerId":"","maintainerTeamKey":"t"}`,
		`{"keys":["a","b"],"comment":"c"}`,
		`{"segmentIdentifiers":[{"environmentId":"e","segmentKey":"s"}]}`,
		`{"filter":"tags:a","environmentId":"e"}`,
		`{"keys":null}`,
		`{"name":"\u0000"}`,
		`{"tags":["` + "\xff" + `"]}`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, err error) bool {
			if err != nil && core.KindOf(err) != core.KindInvalid {
				t.Fatalf("%s: error %v is not core.KindInvalid", what, err)
			}
			return err == nil
		}
		if in, err := DecodePost(body); check("DecodePost", err) {
			f, err := in.fields()
			if err != nil {
				t.Fatalf("accepted post has invalid fields: %v", err)
			}
			checkFields(t, f)
		}
		if p, err := DecodePatch(body); check("DecodePatch", err) {
			if f, err := p.apply(Fields{Name: "n", MaintainerID: "m"}); err == nil {
				checkFields(t, f)
			}
		}
		for _, typ := range ResourceTypes {
			if in, err := DecodeLink(body, typ); check("DecodeLink "+string(typ), err) {
				refs, err := in.refs(typ)
				if err != nil || len(refs) == 0 || len(refs) > MaxLinkRefs {
					t.Fatalf("accepted link request gives %d refs, %v", len(refs), err)
				}
				seen := map[Ref]bool{}
				for _, r := range refs {
					if seen[r] || core.ValidateKey("key", r.Key) != nil || (r.EnvironmentID != "" && typ != Segments) {
						t.Fatalf("bad ref %+v in %s", r, body)
					}
					seen[r] = true
				}
				if _, err := json.Marshal(linkDelta{Resources: refs}); err != nil {
					t.Fatalf("delta of %s: %v", body, err)
				}
			}
		}
	})
}

func checkFields(t *testing.T, f Fields) {
	t.Helper()
	if f.Name == "" || !utf8.ValidString(f.Name) || !utf8.ValidString(f.Description) || f.Tags == nil {
		t.Fatalf("accepted fields %+v", f)
	}
	if f.MaintainerID != "" && f.MaintainerTeamKey != "" {
		t.Fatalf("two maintainers accepted: %+v", f)
	}
	seen := map[string]bool{}
	for _, tag := range f.Tags {
		if seen[tag] || tag == "" {
			t.Fatalf("tags %v", f.Tags)
		}
		seen[tag] = true
	}
}
