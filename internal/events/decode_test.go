package events

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeCases are bodies whose decoding Decode must agree on with
// encoding/json (decodeStd): field-name folding, duplicates, nulls, wrong
// types, escapes and syntax errors.
var decodeCases = []string{
	`[]`, ` [ ] `, `[null,1,"x",[],{}]`, `[{"kind":"custom"}]`,
	`[{"KIND":"custom","KEY":"a","Url":"u","CreationDate":5,"METRICVALUE":1}]`,
	`[{"kind":"custom","key":"a","key":"b","key":null,"key":5}]`,
	`[{"kind":"custom","kind":null},{"kind":5,"key":"k"},{"kind":"pageview","kind":"identify"}]`,
	`[{"kind":"cust\u006fm","k\u0065y":"\u00e9\ud83d\ude00\ud800x","url":"a\/b\n"}]`,
	"[{\"kind\":\"custom\",\"key\":\"\xff\xfe\"}]",
	`[{"kind":"custom","\u212aey":"kelvin","u\u017fer":{"key":"long-s"}}]`,
	`[{"kind":"custom","metricValue":"1"},{"kind":"custom","metricValue":1e400},{"kind":"custom","metricValue":-0.5e-3}]`,
	`[{"kind":"custom","metricValue":2,"metricValue":"x"},{"kind":"custom","metricValue":2,"metricValue":3}]`,
	`[{"kind":"custom","creationDate":1e400},{"kind":"custom","creationDate":-5},{"kind":"custom","creationDate":"7"},{"kind":"custom","creationDate":1.7e12,"creationDate":null}]`,
	`[{"kind":"custom","creationDate":1e300}]`,
	`[{"kind":"custom","context":{"kind":"user","key":"u"}},{"kind":"custom","context":{"key":"legacy"}}]`,
	`[{"kind":"custom","context":{"kind":"user","key":5}},{"kind":"custom","context":{"kind":5,"kind":"user","key":"u"}}]`,
	`[{"kind":"custom","context":{"KIND":"org","Key":"o","key":null}},{"kind":"custom","context":null,"userKey":"uk"}]`,
	`[{"kind":"custom","context":{"kind":"multi","user":{"key":"u"},"org":{"key":"o","kind":"x"},"dev":{"key":5},"x":{"Key":"k"},"y":"s","Kind":{"key":"kk"}}}]`,
	`[{"kind":"custom","context":{"kind":"multi","user":{"key":"u"},"user":{"key":"v"}}},{"kind":"custom","context":{"kind":"multi","key":{}}}]`,
	`[{"kind":"custom","context":{"kind":"multi","kind":{"key":"k"}}}]`,
	`[{"kind":"custom","context":"str","contextKeys":{"user":"u","org":5,"dev":null,"user":"w"}}]`,
	`[{"kind":"custom","contextKeys":{"user":5},"userKey":"uk"},{"kind":"custom","contextKeys":{},"userKey":"uk"}]`,
	`[{"kind":"custom","contextKeys":{"a":"1"},"contextKeys":null,"userKey":"uk"},{"kind":"custom","contextKeys":{"a":"1"},"contextKeys":{"b":"2"}}]`,
	`[{"kind":"custom","contextKeys":"x"},{"kind":"custom","contextKeys":{"a":"1"},"contextKeys":7}]`,
	`[{"kind":"click","user":{"key":"u"}},{"kind":"click","user":{"key":"u"},"user":{}},{"kind":"click","user":{"key":"u"},"user":null,"user":{}}]`,
	`[{"kind":"click","user":"x"},{"kind":"click","user":{"key":5}},{"kind":"click","user":{"KEY":"K"},"userKey":""}]`,
	`[{"kind":"summary","features":{"f":{"counters":[{"value":true,"count":1}]}}},{"kind":"custom","data":[1,{"a":[null,false]}]}]`,
	`[{"kind":"custom","key":"a"} , {"kind":"pageview","url":"x"} ]` + "\n",
	// Malformed.
	``, `{}`, `[`, `[1,]`, `null`, `[] x`, `[{]`, `[{"a"}]`, `[{"a":}]`, `[{"a":1,}]`, `[01]`, `[1.]`, `[1e]`, `[-]`,
	`[.5]`, `["\x"]`, `["\u12"]`, "[\"a\tb\"]", `[tru]`, `[nul]`, `[{"kind":"custom","key":"a"]`, `[1 2]`, `[{"a":1 "b":2}]`,
	`[{"kind":"custom","context":{"kind":"user","key":"u"]}]`, "\ufeff[]", `[]]`, `["a]`,
}

func normalized(evs []Event) []Event {
	for i := range evs {
		slices.SortFunc(evs[i].Contexts, func(a, b ContextRef) int { return strings.Compare(a.Kind+"\x00"+a.Key, b.Kind+"\x00"+b.Key) })
	}
	return evs
}

func checkAgainstStd(t *testing.T, body []byte) {
	t.Helper()
	want, wantSkipped, wantErr := decodeStd(body)
	got, gotSkipped, gotErr := Decode(body)
	if gotErr != wantErr || gotSkipped != wantSkipped {
		t.Fatalf("Decode(%q) skipped, err = %d, %v; encoding/json %d, %v", body, gotSkipped, gotErr, wantSkipped, wantErr)
	}
	if d := cmp.Diff(normalized(want), normalized(got)); d != "" {
		t.Fatalf("Decode(%q) (-encoding/json +Decode):\n%s", body, d)
	}
}

func TestDecodeMatchesStd(t *testing.T) {
	for _, c := range decodeCases {
		checkAgainstStd(t, []byte(c))
	}
	// encoding/json's nesting limit.
	for _, depth := range []int{9999, 10000, 10001} {
		b := []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
		checkAgainstStd(t, b)
		ev := []byte(`[{"kind":"custom","key":"a","data":` + strings.Repeat("[", depth-2) + strings.Repeat("]", depth-2) + `}]`)
		checkAgainstStd(t, ev)
	}
}

// FuzzDecode checks Decode against encoding/json on arbitrary bodies:
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 60s ./internal/events/
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Add(benchBody())
	// One Scratch for every input: what an earlier body left in it must
	// not show in the next one's events.
	var mu sync.Mutex
	var sc Scratch
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAgainstStd(t, body)
		mu.Lock()
		defer mu.Unlock()
		want, wantSkipped, wantErr := Decode(body)
		got, gotSkipped, gotErr := sc.Decode(body)
		if gotErr != wantErr || gotSkipped != wantSkipped {
			t.Fatalf("Scratch.Decode(%q) skipped, err = %d, %v; Decode %d, %v", body, gotSkipped, gotErr, wantSkipped, wantErr)
		}
		if d := cmp.Diff(normalized(want), normalized(got)); d != "" {
			t.Fatalf("Scratch.Decode(%q): %s", body, d)
		}
	})
}

func benchBody() []byte {
	var b strings.Builder
	b.WriteByte('[')
	for j := range 100 {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"kind":"custom","creationDate":1764590000000,"key":"event-`)
		b.WriteString(strings.Repeat("x", j%7))
		b.WriteString(`","context":{"kind":"user","key":"user-1234"}`)
		if j%3 == 0 {
			b.WriteString(`,"metricValue":12.5`)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkDecode compares Decode with the encoding/json decoder it
// replaced on a batch of 100 custom events (events/s in one run).
func BenchmarkDecode(b *testing.B) {
	body := benchBody()
	for _, c := range []struct {
		name string
		fn   func([]byte) ([]Event, int, error)
	}{{"scanner", Decode}, {"encoding-json", decodeStd}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.fn(body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "events/s")
		})
	}
}
