package resource

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func seg(kind Kind, name string, tags ...string) Segment {
	if len(tags) == 0 {
		tags = nil
	}
	return Segment{Kind: kind, Name: name, Tags: tags}
}

func spec(segs ...Segment) Spec { return Spec{Segments: segs} }

func mustParse(t *testing.T, s string) Spec {
	t.Helper()
	sp, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return sp
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
		str  string // canonical form; "" means in itself
	}{
		{in: "proj/default", want: spec(seg(KindProject, "default"))},
		{in: "proj/*", want: spec(seg(KindProject, "*"))},
		{in: "proj/default:env/production", want: spec(seg(KindProject, "default"), seg(KindEnvironment, "production"))},
		{in: "proj/default:env/*:flag/*", want: spec(seg(KindProject, "default"), seg(KindEnvironment, "*"), seg("flag", "*"))},
		{in: "proj/default:metric/checkout", want: spec(seg(KindProject, "default"), seg(KindMetric, "checkout"))},
		{in: "proj/*:metric/*", want: spec(seg(KindProject, "*"), seg(KindMetric, "*"))},
		{in: "proj/default:metric-group/*", want: spec(seg(KindProject, "default"), seg(KindMetricGroup, "*"))},
		{in: "proj/default:view/checkout", want: spec(seg(KindProject, "default"), seg(KindView, "checkout"))},
		{in: "proj/*:env/prod:experiment/exp-1", want: spec(seg(KindProject, "*"), seg(KindEnvironment, "prod"), seg(KindExperiment, "exp-1"))},
		{in: "proj/*:env/*:holdout/*", want: spec(seg(KindProject, "*"), seg(KindEnvironment, "*"), seg("holdout", "*"))},
		{in: "proj/*:env/*:segment/beta-users", want: spec(seg(KindProject, "*"), seg(KindEnvironment, "*"), seg("segment", "beta-users"))},
		{
			in:   "proj/*:metric/*;revenue,checkout",
			want: spec(seg(KindProject, "*"), seg(KindMetric, "*", "checkout", "revenue")),
			str:  "proj/*:metric/*;checkout,revenue",
		},
		{
			in:   "proj/*;mobile,b,mobile,a:env/*;qa_*",
			want: spec(seg(KindProject, "*", "a", "b", "mobile"), seg(KindEnvironment, "*", "qa_*")),
			str:  "proj/*;a,b,mobile:env/*;qa_*",
		},
		{in: "member/5f0c3e1a9d2b4c0012ab34cd", want: spec(seg(KindMember, "5f0c3e1a9d2b4c0012ab34cd"))},
		{in: "member/*:token/*", want: spec(seg(KindMember, "*"), seg(KindToken, "*"))},
		{in: "team/platform", want: spec(seg(KindTeam, "platform"))},
		{in: "role/writer-*", want: spec(seg(KindRole, "writer-*"))},
		{in: "service-token/*", want: spec(seg("service-token", "*"))},
		{in: "code-reference-repository/*", want: spec(seg("code-reference-repository", "*"))},
		{in: "relay-proxy-config/*", want: spec(seg("relay-proxy-config", "*"))},
		{in: "acct", want: spec(seg(kindAccount, ""))},
		{in: "acct/x", want: spec(seg(kindAccount, "x"))},
		// Unknown kinds are accepted anywhere.
		{in: "proj/*:context-kind/*", want: spec(seg(KindProject, "*"), seg("context-kind", "*"))},
		{in: "proj/a:env/b:destination/c", want: spec(seg(KindProject, "a"), seg(KindEnvironment, "b"), seg("destination", "c"))},
		{in: "widget2/x:gadget/y", want: spec(seg("widget2", "x"), seg("gadget", "y"))},
		{in: "proj/x:release-pipeline/y:foo/z", want: spec(seg(KindProject, "x"), seg("release-pipeline", "y"), seg("foo", "z"))},
		// Globs anywhere in a name; permissive name characters.
		{in: "proj/dev-*", want: spec(seg(KindProject, "dev-*"))},
		{in: "proj/*-prod", want: spec(seg(KindProject, "*-prod"))},
		{in: "proj/a*b*c", want: spec(seg(KindProject, "a*b*c"))},
		{in: "proj/**", want: spec(seg(KindProject, "**"))},
		{in: "proj/my.proj_1-x", want: spec(seg(KindProject, "my.proj_1-x"))},
		{in: "proj/{x}@#%é", want: spec(seg(KindProject, "{x}@#%é"))},
		{in: "proj/x;t.1_a-b", want: spec(seg(KindProject, "x", "t.1_a-b"))},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if s := got.String(); s != str {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, str)
		}
		again, err := Parse(got.String())
		if err != nil {
			t.Errorf("Parse(%q) after round trip: %v", got.String(), err)
		} else if diff := cmp.Diff(got, again); diff != "" {
			t.Errorf("round trip of %q mismatch (-first +second):\n%s", tt.in, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 0, "expected a resource kind"},
		{"*", 0, `resource kind must start with a lower-case letter, found '*'`},
		{"proj", 4, `expected "/" after resource kind "proj"`},
		{"proj/", 5, "empty name"},
		{"proj/default:", 13, "expected a resource kind"},
		{"proj/default::env/x", 13, `resource kind must start with a lower-case letter, found ':'`},
		{"Proj/x", 0, `resource kind must start with a lower-case letter, found 'P'`},
		{"pRoj/x", 1, `invalid character 'R' in resource kind`},
		{"proj_x/y", 4, `invalid character '_' in resource kind`},
		{"1proj/x", 0, `resource kind must start with a lower-case letter, found '1'`},
		{"-x/y", 0, `resource kind must start with a lower-case letter, found '-'`},
		{"proj /x", 4, `invalid character ' ' in resource kind`},
		{"proj/a b", 6, `invalid character ' ' in name`},
		{"proj/a\tb", 6, `invalid character '\t' in name`},
		{"proj/a\x00", 6, `invalid character '\x00' in name`},
		{"proj/a\u200bb", 6, `invalid character '\u200b' in name`},
		{"proj/a\xffb", 6, "invalid UTF-8 in name"},
		{"proj/\xff", 5, "invalid UTF-8 in name"},
		{"é/x", 0, `resource kind must start with a lower-case letter, found 'é'`},
		{"p\xff/x", 1, `invalid character byte 0xff in resource kind`},
		{"proj/a/b", 6, `unexpected '/' in name`},
		{"proj/a,b", 6, `unexpected ',' in name`},
		{"proj/x;", 7, "empty tag"},
		{"proj/x;a,", 9, "empty tag"},
		{"proj/x;a,,b", 9, "empty tag"},
		{"proj/x;;a", 7, "empty tag"},
		{"proj/x;a;b", 8, `unexpected ';' in tag`},
		{"proj/x;a/b", 8, `unexpected '/' in tag`},
		{"proj/x;a b", 8, `invalid character ' ' in tag`},
		{"proj/x;a:", 9, "expected a resource kind"},
		{"proj/*:env/*;{critical:true}:flag/*", 13, "property-based selectors are not supported"},
		{"env/production", 0, `resource kind "env" must directly follow "proj"`},
		{"proj/x:metric/m:env/y", 16, `resource kind "env" must directly follow "proj"`},
		{"proj/x:flag/f", 7, `resource kind "flag" must directly follow "env"`},
		{"proj/x:env/e:view/v", 13, `resource kind "view" must directly follow "proj"`},
		{"proj/x:experiment/e", 7, `resource kind "experiment" must directly follow "env"`},
		{"metric/m", 0, `resource kind "metric" must directly follow "proj"`},
		{"proj/x:env/y:metric/m", 13, `resource kind "metric" must directly follow "proj"`},
		{"token/t", 0, `resource kind "token" must directly follow "member"`},
		{"proj/x:member/m", 7, `"member" is a top-level resource kind and must come first`},
		{"proj/x:proj/y", 7, `"proj" is a top-level resource kind and must come first`},
		{"foo/x:team/t", 6, `"team" is a top-level resource kind and must come first`},
		{"acct:proj/x", 5, `"proj" is a top-level resource kind and must come first`},
		{"proj/x:acct", 7, `"acct" is a top-level resource kind and must come first`},
		{"proj/" + strings.Repeat("a", MaxLength), MaxLength, "longer than 1024 bytes"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		var serr *SyntaxError
		if !errors.As(err, &serr) {
			t.Errorf("Parse(%q) = %v, %v; want *SyntaxError", tt.in, got, err)
			continue
		}
		if diff := cmp.Diff(&SyntaxError{Pos: tt.pos, Msg: tt.msg}, serr); diff != "" {
			t.Errorf("Parse(%q) error mismatch (-want +got):\n%s", tt.in, diff)
		}
		if diff := cmp.Diff(Spec{}, got); diff != "" {
			t.Errorf("Parse(%q) returned a Spec with its error:\n%s", tt.in, diff)
		}
	}
}

func TestParseMaxLength(t *testing.T) {
	in := "proj/" + strings.Repeat("a", MaxLength-len("proj/"))
	if _, err := Parse(in); err != nil {
		t.Errorf("Parse of a %d-byte specifier: %v", len(in), err)
	}
}

func TestSyntaxErrorString(t *testing.T) {
	_, err := Parse("proj/a b")
	want := "resource specifier: at position 6: invalid character ' ' in name"
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %q", err, want)
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		pattern string
		r       Spec
		want    bool
	}{
		{"proj/default", Project("default"), true},
		{"proj/default", Project("other"), false},
		{"proj/*", Project("default"), true},
		{"proj/dev-*", Project("dev-eu"), true},
		{"proj/dev-*", Project("dev-"), true},
		{"proj/dev-*", Project("prod-eu"), false},
		{"proj/*-prod", Project("eu-prod"), true},
		{"proj/*-prod", Project("eu-prod-2"), false},
		{"proj/a*b*c", Project("a-x-b-y-c"), true},
		{"proj/a*b*c", Project("abc"), true},
		{"proj/a*b*c", Project("acb"), false},
		// Tags are a property of the resource, ignored by a pattern without
		// a selector.
		{"proj/*:metric/*", Metric("default", "checkout", []string{"revenue"}), true},
		{"proj/*:metric/*", Metric("default", "checkout", nil), true},
		{"proj/default:metric/checkout", Metric("default", "checkout", nil), true},
		{"proj/default:metric/checkout", Metric("other", "checkout", nil), false},
		{"proj/default:metric/checkout", Metric("default", "latency", nil), false},
		{"proj/*:metric/check*", Metric("p", "checkout", nil), true},
		{"proj/pr*:metric/*", Metric("p", "checkout", nil), false},
		// A tag selector requires every listed tag (LaunchDarkly's AND).
		{"proj/*:metric/*;revenue", Metric("p", "m", []string{"revenue", "web"}), true},
		{"proj/*:metric/*;revenue,web", Metric("p", "m", []string{"revenue", "web"}), true},
		{"proj/*:metric/*;revenue,checkout", Metric("p", "m", []string{"revenue"}), false},
		{"proj/*:metric/*;revenue", Metric("p", "m", nil), false},
		{"proj/*:metric/*;rev*", Metric("p", "m", []string{"revenue"}), true},
		{"proj/*:metric/*;rev*", Metric("p", "m", []string{"web"}), false},
		// Tags on a parent segment.
		{"proj/*;mobile:metric/*", spec(seg(KindProject, "p", "mobile"), seg(KindMetric, "m")), true},
		{"proj/*;mobile:metric/*", Metric("p", "m", []string{"mobile"}), false},
		// Metric groups and kind mismatches.
		{"proj/*:metric-group/*", MetricGroup("p", "g", nil), true},
		{"proj/*:metric/*", MetricGroup("p", "g", nil), false},
		{"proj/*:metric-group/*", Metric("p", "g", nil), false},
		{"proj/*:view/*;team", View("p", "v", []string{"team", "web"}), true},
		{"proj/*:view/*", MetricGroup("p", "v", nil), false},
		{"team/*", Member("abc"), false},
		{"member/*", Member("abc"), true},
		{"team/plat*", Team("platform"), true},
		// Segment counts must be equal.
		{"proj/*", Metric("p", "m", nil), false},
		{"proj/*", Environment("p", "e"), false},
		{"proj/*:env/*", Project("p"), false},
		{"proj/*:env/*:flag/*", Environment("p", "e"), false},
		// Nested environment paths.
		{"proj/*:env/production", Environment("default", "production"), true},
		{"proj/*:env/prod*", Environment("default", "staging"), false},
		{"proj/default:env/*:experiment/*", mustParse(t, "proj/default:env/prod:experiment/exp-1"), true},
		{"proj/default:env/*:experiment/exp-*", mustParse(t, "proj/default:env/prod:experiment/exp-1"), true},
		{"proj/default:env/*:experiment/exp-*", mustParse(t, "proj/default:env/prod:flag/exp-1"), false},
		{"proj/*:env/test:flag/*", mustParse(t, "proj/default:env/prod:flag/f"), false},
		{"member/*:token/*", mustParse(t, "member/abc:token/t1"), true},
		{"acct", mustParse(t, "acct"), true},
		{"acct", mustParse(t, "acct/x"), false},
		// Unknown kinds match only themselves.
		{"proj/*:context-kind/*", mustParse(t, "proj/p:context-kind/user"), true},
		{"proj/*:context-kind/*", mustParse(t, "proj/p:metric/user"), false},
		// A "*" in the resource is literal.
		{"proj/a", mustParse(t, "proj/*"), false},
		{"proj/*", mustParse(t, "proj/*"), true},
	}
	for _, tt := range tests {
		p := mustParse(t, tt.pattern)
		if got := p.Matches(tt.r); got != tt.want {
			t.Errorf("Parse(%q).Matches(%q) = %v, want %v", tt.pattern, tt.r, got, tt.want)
		}
	}
}

func TestIsConcreteAndLeaf(t *testing.T) {
	tests := []struct {
		in       string
		concrete bool
		leaf     Segment
	}{
		{"proj/default", true, seg(KindProject, "default")},
		{"proj/default:metric/m;a,b", true, seg(KindMetric, "m", "a", "b")},
		{"proj/*:metric/m", false, seg(KindMetric, "m")},
		{"proj/p:metric/m*", false, seg(KindMetric, "m*")},
		{"proj/p:metric/m;a*", false, seg(KindMetric, "m", "a*")},
		{"acct", true, seg(kindAccount, "")},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.in)
		if got := s.IsConcrete(); got != tt.concrete {
			t.Errorf("Parse(%q).IsConcrete() = %v, want %v", tt.in, got, tt.concrete)
		}
		if diff := cmp.Diff(tt.leaf, s.Leaf()); diff != "" {
			t.Errorf("Parse(%q).Leaf() mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
	if diff := cmp.Diff(Segment{}, Spec{}.Leaf()); diff != "" {
		t.Errorf("Spec{}.Leaf() mismatch (-want +got):\n%s", diff)
	}
	if !(Spec{}).IsConcrete() {
		t.Error("Spec{}.IsConcrete() = false, want true")
	}
}

func TestConstructors(t *testing.T) {
	tags := []string{"web", "revenue", "web"}
	tests := []struct {
		got  Spec
		want string
	}{
		{Project("default"), "proj/default"},
		{Environment("default", "production"), "proj/default:env/production"},
		{Metric("default", "checkout", tags), "proj/default:metric/checkout;revenue,web"},
		{Metric("default", "checkout", nil), "proj/default:metric/checkout"},
		{MetricGroup("default", "funnel", tags), "proj/default:metric-group/funnel;revenue,web"},
		{MetricGroup("default", "funnel", []string{}), "proj/default:metric-group/funnel"},
		{View("default", "checkout", []string{"web", "team", "web"}), "proj/default:view/checkout;team,web"},
		{Member("5f0c3e1a9d2b4c0012ab34cd"), "member/5f0c3e1a9d2b4c0012ab34cd"},
		{Team("platform"), "team/platform"},
	}
	for _, tt := range tests {
		if s := tt.got.String(); s != tt.want {
			t.Errorf("String() = %q, want %q", s, tt.want)
		}
		if !tt.got.IsConcrete() {
			t.Errorf("%q: IsConcrete() = false", tt.want)
		}
		if diff := cmp.Diff(mustParse(t, tt.want), tt.got); diff != "" {
			t.Errorf("constructor for %q differs from Parse (-parse +constructor):\n%s", tt.want, diff)
		}
	}
	if diff := cmp.Diff([]string{"web", "revenue", "web"}, tags); diff != "" {
		t.Errorf("constructors modified their tags argument:\n%s", diff)
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"*", "", true},
		{"**", "", true},
		{"*", "anything at all", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"ab", "abc", false},
		{"a*", "a", true},
		{"a*", "abc", true},
		{"a*", "ba", false},
		{"*c", "c", true},
		{"*c", "abc", true},
		{"*c", "abcd", false},
		{"*b*", "b", true},
		{"*b*", "abc", true},
		{"*b*", "ac", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "abcbc", true},
		{"a*b*c", "acb", false},
		{"a**b", "ab", true},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"*ab", "aab", true},
		{"*aab", "aaab", true},
		{"é*", "étoile", true},
		{"*é", "café", true},
		{"x.y", "xzy", false},
		{"?", "a", false},
		{"%", "a", false},
	}
	for _, tt := range tests {
		if got := GlobMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("GlobMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestLikePattern(t *testing.T) {
	tests := []struct {
		glob    string
		pattern string
		exact   bool
	}{
		{"", "", true},
		{"checkout", "checkout", true},
		{"100%_a\\b", "100%_a\\b", true},
		{"*", "%", false},
		{"**", "%", false},
		{"a**b*", "a%b%", false},
		{"dev-*", "dev-%", false},
		{"*-prod", "%-prod", false},
		{"a*b*c", "a%b%c", false},
		{"100%*", `100\%%`, false},
		{"snake_case*", `snake\_case%`, false},
		{`back\slash*`, `back\\slash%`, false},
		{`*%_\*`, `%\%\_\\%`, false},
		{"é*", "é%", false},
	}
	for _, tt := range tests {
		pattern, exact := LikePattern(tt.glob)
		if pattern != tt.pattern || exact != tt.exact {
			t.Errorf("LikePattern(%q) = %q, %v; want %q, %v", tt.glob, pattern, exact, tt.pattern, tt.exact)
		}
	}
}
