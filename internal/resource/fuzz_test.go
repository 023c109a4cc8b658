package resource

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"acct",
		"proj/default",
		"proj/default:env/*:flag/*",
		"proj/*:metric/*;revenue,checkout",
		"proj/*;b,a,b:env/*;qa_*:experiment/e",
		"member/*:token/*",
		"proj/a*b*c:context-kind/**",
		"proj/x:flag/y",
		"proj/*:env/*;{critical:true}:flag/*",
		"proj/a b",
		"proj/\xff",
		"proj/x;a,,b",
		"Proj/x:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			var serr *SyntaxError
			if !errors.As(err, &serr) {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", in, err, err)
			}
			if serr.Pos < 0 || serr.Pos > len(in) {
				t.Fatalf("Parse(%q) error position %d out of range [0, %d]: %v", in, serr.Pos, len(in), err)
			}
			if serr.Msg == "" {
				t.Fatalf("Parse(%q) error has an empty message", in)
			}
			return
		}
		if len(s.Segments) == 0 {
			t.Fatalf("Parse(%q) succeeded with no segments", in)
		}
		out := s.String()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", in, out, err)
		}
		if diff := cmp.Diff(s, again); diff != "" {
			t.Fatalf("Parse(%q) round trip through %q mismatch (-first +second):\n%s", in, out, diff)
		}
		if out2 := again.String(); out2 != out {
			t.Fatalf("String() not stable for %q: %q then %q", in, out, out2)
		}
		if len(out) > len(in) {
			t.Fatalf("canonical form %q of %q is longer than the input", out, in)
		}
		if s.IsConcrete() && !s.Matches(s) {
			t.Fatalf("concrete %q does not match itself", out)
		}
		for _, g := range s.Segments {
			if pattern, exact := LikePattern(g.Name); exact && pattern != g.Name {
				t.Fatalf("LikePattern(%q) = %q, exact but changed", g.Name, pattern)
			}
		}
	})
}
