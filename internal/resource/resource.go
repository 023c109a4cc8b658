// Package resource parses and matches LaunchDarkly resource specifiers, the
// strings that name resources in custom-role policies and in the audit log's
// spec filter:
//
//	proj/default
//	proj/default:env/production:flag/*
//	proj/*:metric/*;revenue,checkout
//	member/5f0c3e1a9d2b4c0012ab34cd:token/*
//	acct
//
// # Syntax
//
// A specifier is one or more segments joined by ":". Each segment is
//
//	kind/name[;tag1,tag2,...]
//
// The kind is a lower-case letter followed by lower-case letters, digits and
// "-" (proj, env, metric-group, code-reference-repository, ...). The name is
// non-empty and may hold any printable character except ":", "/", ";" and
// ",", and except whitespace; control characters and invalid UTF-8 are
// rejected. LaunchDarkly keys only use letters, digits, ".", "_" and "-" and
// member ids are hex, so the rule is deliberately more permissive than any key
// it has to name. A "*" anywhere in a name is a glob matching any run of
// characters, the empty run included ("proj/*", "proj/dev-*", "a*b*c");
// there is no escape, so a name cannot hold a literal "*".
//
// The optional tag selector after ";" is a comma-separated list of non-empty
// tags using the same characters as names (globs included). LaunchDarkly's
// documentation states that "flag/*;tag1,tag2" selects flags tagged tag1 AND
// tag2, and that an OR needs two policy statements, so a selector here
// requires the resource to carry every listed tag. A segment without a
// selector matches regardless of the resource's tags. Parse sorts and
// de-duplicates the tags of a selector, which is also the canonical form
// String writes. LaunchDarkly's property-based selectors ("{critical:true}")
// are not supported and yield an error.
//
// The one segment that has no name is the bare kind "acct", LaunchDarkly's
// account-settings resource. A bare "*" is not a specifier: LaunchDarkly
// names "all resources of a kind" as kind/*, not as "*".
//
// A specifier is at most MaxLength bytes long.
//
// # Nesting
//
// Known kinds must appear where LaunchDarkly puts them:
//
//   - top-level kinds (proj, member, team, role, service-token, integration,
//     webhook, code-reference-repository, relay-proxy-config,
//     pending-request, acct, application, domain-verification, template)
//     only as the first segment;
//   - env, metric, metric-group and view directly under proj
//     (proj/p:env/e, proj/p:metric/m, proj/p:view/v);
//   - flag, segment, experiment and holdout directly under env
//     (proj/p:env/e:experiment/x), as LaunchDarkly scopes them per
//     environment;
//   - token (a member's personal access token) directly under member
//     (member/m:token/t); service tokens are the top-level service-token kind.
//
// Kinds this package does not know (context-kind, release-pipeline,
// destination, ...) are accepted anywhere, since policy documents name many
// of them, but they only ever match segments of the same kind.
//
// # Matching
//
// Spec.Matches compares a pattern with a concrete resource segment by
// segment: both must have the same number of segments, and each pattern
// segment must have the resource segment's kind and a name glob matching its
// name; if it has a tag selector, every tag (glob) in it must match at least
// one of the resource segment's tags. A pattern never matches a resource
// deeper or shallower than itself: proj/* does not match proj/p:metric/m, and
// proj/*:env/* does not match proj/p.
package resource

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLength is the longest specifier, in bytes, that Parse accepts.
const MaxLength = 1024

// Kind is the resource type of one segment of a specifier, such as "proj".
type Kind string

// The kinds metricsd names. Parse accepts other kinds too.
const (
	KindProject     Kind = "proj"
	KindEnvironment Kind = "env"
	KindMetric      Kind = "metric"
	KindMetricGroup Kind = "metric-group"
	KindView        Kind = "view"
	KindExperiment  Kind = "experiment"
	KindMember      Kind = "member"
	KindTeam        Kind = "team"
	KindRole        Kind = "role"
	KindToken       Kind = "token"
	// KindFlag is LaunchDarkly's feature flag, which metricsd names (in
	// experiments and guarded rollouts) but does not manage.
	KindFlag Kind = "flag"
	// KindMeasuredRollout is a guarded rollout of a flag in an
	// environment, named by its ID (proj/p:env/e:measured-rollout/id).
	KindMeasuredRollout Kind = "measured-rollout"
)

// kindAccount is the only kind written without a name.
const kindAccount Kind = "acct"

// parents maps each known kind to the kind its segment must follow; the
// empty Kind stands for "first segment".
var parents = map[Kind]Kind{
	KindProject:                 "",
	KindMember:                  "",
	KindTeam:                    "",
	KindRole:                    "",
	kindAccount:                 "",
	"service-token":             "",
	"integration":               "",
	"webhook":                   "",
	"code-reference-repository": "",
	"relay-proxy-config":        "",
	"pending-request":           "",
	"application":               "",
	"domain-verification":       "",
	"template":                  "",
	KindEnvironment:             KindProject,
	KindMetric:                  KindProject,
	KindMetricGroup:             KindProject,
	KindFlag:                    KindEnvironment,
	KindMeasuredRollout:         KindEnvironment,
	KindView:                    KindProject,
	"segment":                   KindEnvironment,
	KindExperiment:              KindEnvironment,
	"holdout":                   KindEnvironment,
	KindToken:                   KindMember,
}

// Segment is one kind/name;tags part of a specifier.
type Segment struct {
	Kind Kind
	// Name is the resource's key or id; in a pattern it may hold "*" globs.
	// It is empty only for the bare kind "acct".
	Name string
	// Tags is the tag selector of a pattern, or the tags a concrete
	// resource carries. Parse returns it sorted and de-duplicated, and nil
	// when there is no selector.
	Tags []string
}

// String returns the segment in specifier syntax.
func (g Segment) String() string {
	var b strings.Builder
	g.write(&b)
	return b.String()
}

func (g Segment) write(b *strings.Builder) {
	b.WriteString(string(g.Kind))
	if g.Name == "" && g.Kind == kindAccount {
		return
	}
	b.WriteByte('/')
	b.WriteString(g.Name)
	if len(g.Tags) > 0 {
		b.WriteByte(';')
		b.WriteString(strings.Join(g.Tags, ","))
	}
}

// Spec is a parsed resource specifier: a pattern when it holds globs or tag
// selectors, a concrete resource otherwise.
type Spec struct {
	Segments []Segment
}

// String returns s in canonical specifier syntax. For a Spec returned by
// Parse or built by this package's constructors, Parse(s.String()) returns a
// Spec equal to s.
func (s Spec) String() string {
	var b strings.Builder
	for i, g := range s.Segments {
		if i > 0 {
			b.WriteByte(':')
		}
		g.write(&b)
	}
	return b.String()
}

// Leaf returns the last segment of s, which names the resource itself, or
// the zero Segment when s has none.
func (s Spec) Leaf() Segment {
	if len(s.Segments) == 0 {
		return Segment{}
	}
	return s.Segments[len(s.Segments)-1]
}

// IsConcrete reports whether s holds no glob in any name or tag, so that it
// names at most one resource.
func (s Spec) IsConcrete() bool {
	for _, g := range s.Segments {
		if strings.Contains(g.Name, "*") {
			return false
		}
		for _, t := range g.Tags {
			if strings.Contains(t, "*") {
				return false
			}
		}
	}
	return true
}

// Matches reports whether the pattern s names the resource r. r should be
// concrete and carry, on each segment, the tags of that resource; a "*" in
// r is compared literally. See the package documentation for the rules.
func (s Spec) Matches(r Spec) bool {
	if len(s.Segments) != len(r.Segments) {
		return false
	}
	for i, p := range s.Segments {
		g := r.Segments[i]
		if p.Kind != g.Kind || !GlobMatch(p.Name, g.Name) {
			return false
		}
		for _, want := range p.Tags {
			if !slices.ContainsFunc(g.Tags, func(have string) bool { return GlobMatch(want, have) }) {
				return false
			}
		}
	}
	return true
}

// GlobMatch reports whether name matches pattern, in which each "*" stands
// for any run of bytes, the empty run included, and every other byte stands
// for itself. The empty pattern matches only the empty name.
func GlobMatch(pattern, name string) bool {
	// Greedy matching that, on a mismatch, backtracks only to the most
	// recent star: linear in practice, O(len(pattern)*len(name)) at worst.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			mark++
			p, n = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// LikePattern translates a name glob into a pattern for SQL LIKE ... ESCAPE
// '\': "%", "_" and "\" in literal parts are escaped with "\" and each run
// of "*" becomes "%". When glob holds no "*", exact is true and pattern is
// glob itself, unescaped, for the caller to compare with = instead. LIKE is
// case-insensitive for ASCII in SQLite, unlike glob matching; callers that
// need GlobMatch's exact semantics there must compare case-sensitively too.
func LikePattern(glob string) (pattern string, exact bool) {
	if !strings.Contains(glob, "*") {
		return glob, true
	}
	var b strings.Builder
	b.Grow(len(glob) + 4)
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*':
			if i == 0 || glob[i-1] != '*' {
				b.WriteByte('%')
			}
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), false
}

// Project returns the specifier of the project with the given key.
func Project(key string) Spec {
	return Spec{Segments: []Segment{{Kind: KindProject, Name: key}}}
}

// Environment returns the specifier of an environment of a project.
func Environment(projectKey, envKey string) Spec {
	return Spec{Segments: []Segment{
		{Kind: KindProject, Name: projectKey},
		{Kind: KindEnvironment, Name: envKey},
	}}
}

// Metric returns the specifier proj/projectKey:metric/key of a metric that
// carries tags, which are copied, sorted and de-duplicated.
func Metric(projectKey, key string, tags []string) Spec {
	return Spec{Segments: []Segment{
		{Kind: KindProject, Name: projectKey},
		{Kind: KindMetric, Name: key, Tags: canonicalTags(tags)},
	}}
}

// MetricGroup returns the specifier proj/projectKey:metric-group/key of a
// metric group that carries tags, which are copied, sorted and de-duplicated.
func MetricGroup(projectKey, key string, tags []string) Spec {
	return Spec{Segments: []Segment{
		{Kind: KindProject, Name: projectKey},
		{Kind: KindMetricGroup, Name: key, Tags: canonicalTags(tags)},
	}}
}

// Experiment returns the specifier proj/p:env/e:experiment/key of an
// experiment that carries tags.
func Experiment(projectKey, envKey, key string, tags []string) Spec {
	return Spec{Segments: []Segment{
		{Kind: KindProject, Name: projectKey},
		{Kind: KindEnvironment, Name: envKey},
		{Kind: KindExperiment, Name: key, Tags: canonicalTags(tags)},
	}}
}

// MeasuredRollout returns the specifier proj/p:env/e:measured-rollout/id
// of a guarded rollout.
func MeasuredRollout(projectKey, envKey, id string) Spec {
	return Spec{Segments: []Segment{
		{Kind: KindProject, Name: projectKey},
		{Kind: KindEnvironment, Name: envKey},
		{Kind: KindMeasuredRollout, Name: id},
	}}
}

// View returns the specifier proj/projectKey:view/key of a view that
// carries tags, which are copied, sorted and de-duplicated.
func View(projectKey, key string, tags []string) Spec {
	return Spec{Segments: []Segment{
		{Kind: KindProject, Name: projectKey},
		{Kind: KindView, Name: key, Tags: canonicalTags(tags)},
	}}
}

// Member returns the specifier of the account member with the given id.
func Member(id string) Spec {
	return Spec{Segments: []Segment{{Kind: KindMember, Name: id}}}
}

// Team returns the specifier of the team with the given key.
func Team(key string) Spec {
	return Spec{Segments: []Segment{{Kind: KindTeam, Name: key}}}
}

// canonicalTags returns a sorted, de-duplicated copy of tags, or nil when
// there are none.
func canonicalTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := slices.Clone(tags)
	slices.Sort(out)
	return slices.Compact(out)
}

// SyntaxError reports a malformed specifier.
type SyntaxError struct {
	// Pos is the 0-based byte offset in the input where the problem is.
	Pos int
	// Msg describes the problem.
	Msg string
}

// Error returns the message prefixed with "resource specifier" and the
// position.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("resource specifier: at position %d: %s", e.Pos, e.Msg)
}

// Parse parses a resource specifier. Every error it returns is a
// *SyntaxError.
func Parse(s string) (Spec, error) {
	if len(s) > MaxLength {
		return Spec{}, &SyntaxError{Pos: MaxLength, Msg: fmt.Sprintf("longer than %d bytes", MaxLength)}
	}
	p := parser{in: s}
	var segs []Segment
	for {
		g, err := p.segment(segs)
		if err != nil {
			return Spec{}, err
		}
		segs = append(segs, g)
		if p.pos == len(s) {
			return Spec{Segments: segs}, nil
		}
		// segment stops only at the end or before ":".
		p.pos++
	}
}

type parser struct {
	in  string
	pos int
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// segment parses one segment that follows prev and leaves p.pos at the end
// of the input or at the ":" after it.
func (p *parser) segment(prev []Segment) (Segment, error) {
	start := p.pos
	kind, err := p.kind()
	if err != nil {
		return Segment{}, err
	}
	if err := checkNesting(kind, prev, start); err != nil {
		return Segment{}, err
	}
	g := Segment{Kind: kind}
	if p.pos == len(p.in) || p.in[p.pos] == ':' {
		if kind == kindAccount {
			return g, nil
		}
		return Segment{}, p.errorf(p.pos, "expected \"/\" after resource kind %q", kind)
	}
	p.pos++ // the "/" kind checked for
	if g.Name, err = p.word("name"); err != nil {
		return Segment{}, err
	}
	if p.pos == len(p.in) || p.in[p.pos] == ':' {
		return g, nil
	}
	if p.in[p.pos] != ';' {
		return Segment{}, p.errorf(p.pos, "unexpected %q in name", p.in[p.pos])
	}
	p.pos++
	for {
		if p.pos < len(p.in) && p.in[p.pos] == '{' {
			return Segment{}, p.errorf(p.pos, "property-based selectors are not supported")
		}
		t, err := p.word("tag")
		if err != nil {
			return Segment{}, err
		}
		g.Tags = append(g.Tags, t)
		if p.pos == len(p.in) || p.in[p.pos] == ':' {
			break
		}
		if p.in[p.pos] != ',' {
			return Segment{}, p.errorf(p.pos, "unexpected %q in tag", p.in[p.pos])
		}
		p.pos++
	}
	g.Tags = canonicalTags(g.Tags)
	return g, nil
}

// kind parses a kind and leaves p.pos at the end of the input, at ":" or at
// "/".
func (p *parser) kind() (Kind, error) {
	start := p.pos
	if p.pos == len(p.in) {
		return "", p.errorf(p.pos, "expected a resource kind")
	}
	if c := p.in[p.pos]; c < 'a' || c > 'z' {
		return "", p.errorf(p.pos, "resource kind must start with a lower-case letter, found %s", quoteAt(p.in, p.pos))
	}
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			p.pos++
			continue
		case c == '/', c == ':':
		default:
			return "", p.errorf(p.pos, "invalid character %s in resource kind", quoteAt(p.in, p.pos))
		}
		break
	}
	return Kind(p.in[start:p.pos]), nil
}

// word parses a non-empty name or tag and leaves p.pos at the end of the
// input or at one of ":", ";", ",", "/".
func (p *parser) word(what string) (string, error) {
	start := p.pos
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == ':' || c == ';' || c == ',' || c == '/' {
			break
		}
		r, size := utf8.DecodeRuneInString(p.in[p.pos:])
		if r == utf8.RuneError && size == 1 {
			return "", p.errorf(p.pos, "invalid UTF-8 in %s", what)
		}
		if r == ' ' || !unicode.IsPrint(r) {
			return "", p.errorf(p.pos, "invalid character %q in %s", r, what)
		}
		p.pos += size
	}
	if p.pos == start {
		return "", p.errorf(p.pos, "empty %s", what)
	}
	return p.in[start:p.pos], nil
}

// checkNesting reports an error at pos when a known kind does not follow the
// kind it belongs under.
func checkNesting(kind Kind, prev []Segment, pos int) error {
	want, known := parents[kind]
	if !known {
		return nil
	}
	var got Kind
	if len(prev) > 0 {
		got = prev[len(prev)-1].Kind
	}
	switch {
	case got == want:
		return nil
	case want == "":
		return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("%q is a top-level resource kind and must come first", kind)}
	default:
		return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("resource kind %q must directly follow %q", kind, want)}
	}
}

// quoteAt quotes the character at byte offset i of s for an error message.
func quoteAt(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		return fmt.Sprintf("byte %#x", s[i])
	}
	return fmt.Sprintf("%q", r)
}
