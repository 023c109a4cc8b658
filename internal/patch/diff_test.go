package patch

import (
	"bytes"
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       []Op
	}{
		{"equal", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, []Op{}},
		{"replace scalar", `{"a":1}`, `{"a":2}`, []Op{{Op: "replace", Path: "/a", Value: json.RawMessage(`2`)}}},
		{"add and remove", `{"a":1,"c":true}`, `{"b":"x","c":true}`, []Op{
			{Op: "remove", Path: "/a"}, {Op: "add", Path: "/b", Value: json.RawMessage(`"x"`)}}},
		{"nested object", `{"o":{"x":1,"y":2}}`, `{"o":{"x":1,"y":3}}`, []Op{{Op: "replace", Path: "/o/y", Value: json.RawMessage(`3`)}}},
		{"array replaced whole", `{"t":["a","b"]}`, `{"t":["b"]}`, []Op{{Op: "replace", Path: "/t", Value: json.RawMessage(`["b"]`)}}},
		{"escaped names", `{"a/b":1,"c~d":1}`, `{"a/b":2,"c~d":2}`, []Op{
			{Op: "replace", Path: "/a~1b", Value: json.RawMessage(`2`)}, {Op: "replace", Path: "/c~0d", Value: json.RawMessage(`2`)}}},
		{"object to null", `{"o":{"x":1}}`, `{"o":null}`, []Op{{Op: "replace", Path: "/o", Value: json.RawMessage(`null`)}}},
		{"large numbers kept exact", `{"n":9007199254740993}`, `{"n":9007199254740995}`, []Op{{Op: "replace", Path: "/n", Value: json.RawMessage(`9007199254740995`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Diff(json.RawMessage(tt.a), json.RawMessage(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Diff (-want +got):\n%s", d)
			}
			assertApplies(t, tt.a, tt.b, got)
		})
	}
}

// assertApplies checks that applying ops to a with an independent RFC 6902
// implementation gives b.
func assertApplies(t *testing.T, a, b string, ops []Op) {
	t.Helper()
	raw, _ := json.Marshal(ops)
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatalf("decode patch: %v", err)
	}
	out, err := p.Apply([]byte(a))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !jsonpatch.Equal(out, []byte(b)) {
		t.Errorf("applying the diff gave %s, want %s", out, b)
	}
}

func FuzzDiff(f *testing.F) {
	f.Add(`{"a":1,"b":{"c":[1,2]}}`, `{"b":{"c":[2],"d":null},"e":"x"}`)
	f.Add(`{}`, `{"~":{"/":1}}`)
	f.Fuzz(func(t *testing.T, a, b string) {
		var av, bv map[string]any
		if json.Unmarshal([]byte(a), &av) != nil || json.Unmarshal([]byte(b), &bv) != nil || av == nil || bv == nil {
			return
		}
		ops, err := Diff(json.RawMessage(a), json.RawMessage(b))
		if err != nil {
			return
		}
		if bytes.Equal([]byte(a), []byte(b)) && len(ops) != 0 {
			t.Fatalf("identical documents gave %v", ops)
		}
		assertApplies(t, a, b, ops)
	})
}

func TestChangedFields(t *testing.T) {
	got := ChangedFields([]Op{{Path: "/name"}, {Path: "/dataSource/key"}, {Path: "/name"}, {Path: "/a~1b"}})
	if d := cmp.Diff([]string{"name", "dataSource", "a/b"}, got); d != "" {
		t.Errorf("ChangedFields (-want +got):\n%s", d)
	}
}
