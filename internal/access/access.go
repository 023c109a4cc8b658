// Package access decides what a caller may do: LaunchDarkly's policy
// statements (effect, resources or notResources, actions or notActions),
// the built-in base roles written as policies, and the evaluator that both
// enforcement and the _access of representations call. It is pure: no
// store, no HTTP, no clock.
//
// # Rules
//
// A statement applies to an action on a resource when one of its actions
// (globs: "*", "update*") matches the action, or, with notActions, none
// does; and when one of its resources matches the resource's specifier
// (see package resource; tag selectors included), or, with notResources,
// none does. Within one policy a deny statement that applies wins over
// every allow; otherwise the first allow that applies decides; when none
// applies the action is denied. A Grant holds one or more policies that
// must each allow an action: a personal token is limited by its own policy
// and by its member's.
//
// The resource "*" (a metricsd extension that resource.Parse does not
// accept on its own) matches every resource; the built-in roles use it.
package access

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/resource"
)

// Effect is what a statement does when it applies.
type Effect string

// The two effects.
const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// AnyResource is the resource pattern that matches every resource.
const AnyResource = "*"

// Limits on one policy, so that a stored role stays cheap to evaluate.
const (
	MaxStatements = 100
	MaxPatterns   = 100
)

// Statement is one policy statement. Build it with NewStatement, which
// parses its patterns once.
type Statement struct {
	Effect       Effect
	Resources    []string
	NotResources []string
	Actions      []string
	NotActions   []string
	// RoleName names where the statement comes from: a base role
	// ("reader"), a custom role's key, or "inline" for a token's inline
	// policy.
	RoleName string

	resources    []pattern
	notResources []pattern
}

type pattern struct {
	any  bool
	spec resource.Spec
}

func (p pattern) matches(r resource.Spec) bool { return p.any || p.spec.Matches(r) }

// StatementError reports an invalid statement.
type StatementError struct {
	Field string // "effect", "resources", "actions", ...
	Msg   string
}

func (e *StatementError) Error() string { return e.Field + ": " + e.Msg }

// NewStatement validates and parses a statement. Exactly one of resources
// and notResources, and exactly one of actions and notActions, must be
// non-empty.
func NewStatement(effect Effect, resources, notResources, actions, notActions []string, roleName string) (Statement, error) {
	s := Statement{Effect: effect, Resources: resources, NotResources: notResources, Actions: actions, NotActions: notActions, RoleName: roleName}
	if effect != Allow && effect != Deny {
		return Statement{}, &StatementError{"effect", fmt.Sprintf("must be %q or %q", Allow, Deny)}
	}
	if (len(resources) == 0) == (len(notResources) == 0) {
		return Statement{}, &StatementError{"resources", "give either resources or notResources, not both or neither"}
	}
	if (len(actions) == 0) == (len(notActions) == 0) {
		return Statement{}, &StatementError{"actions", "give either actions or notActions, not both or neither"}
	}
	var err error
	if s.resources, err = parsePatterns("resources", resources); err != nil {
		return Statement{}, err
	}
	if s.notResources, err = parsePatterns("notResources", notResources); err != nil {
		return Statement{}, err
	}
	if err := checkActions("actions", actions); err != nil {
		return Statement{}, err
	}
	if err := checkActions("notActions", notActions); err != nil {
		return Statement{}, err
	}
	return s, nil
}

func parsePatterns(field string, in []string) ([]pattern, error) {
	if len(in) > MaxPatterns {
		return nil, &StatementError{field, fmt.Sprintf("at most %d entries", MaxPatterns)}
	}
	out := make([]pattern, 0, len(in))
	for i, r := range in {
		if r == AnyResource {
			out = append(out, pattern{any: true})
			continue
		}
		spec, err := resource.Parse(r)
		if err != nil {
			return nil, &StatementError{fmt.Sprintf("%s[%d]", field, i), err.Error()}
		}
		out = append(out, pattern{spec: spec})
	}
	return out, nil
}

// checkActions accepts action names and globs: letters, digits and "*".
func checkActions(field string, in []string) error {
	if len(in) > MaxPatterns {
		return &StatementError{field, fmt.Sprintf("at most %d entries", MaxPatterns)}
	}
	for i, a := range in {
		if a == "" || len(a) > 100 {
			return &StatementError{fmt.Sprintf("%s[%d]", field, i), "must be 1 to 100 characters"}
		}
		for _, c := range a {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '*') {
				return &StatementError{fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q is not an action name or glob", a)}
			}
		}
	}
	return nil
}

// appliesTo reports whether s applies to action a on resource r.
func (s *Statement) appliesTo(r resource.Spec, a action.Action) bool {
	return s.matchesAction(a) && s.matchesResource(r)
}

func (s *Statement) matchesAction(a action.Action) bool {
	if len(s.Actions) > 0 {
		return anyAction(s.Actions, a)
	}
	return !anyAction(s.NotActions, a)
}

func anyAction(globs []string, a action.Action) bool {
	for _, g := range globs {
		if g == string(a) || (strings.IndexByte(g, '*') >= 0 && resource.GlobMatch(g, string(a))) {
			return true
		}
	}
	return false
}

func (s *Statement) matchesResource(r resource.Spec) bool {
	if len(s.resources) > 0 {
		return anyPattern(s.resources, r)
	}
	return !anyPattern(s.notResources, r)
}

func anyPattern(ps []pattern, r resource.Spec) bool {
	for _, p := range ps {
		if p.matches(r) {
			return true
		}
	}
	return false
}

// Policy is an ordered list of statements.
type Policy []Statement

// Decision is the outcome of one evaluation. Statement is the statement
// that decided it: the deny or allow that applied, or nil when the action
// was denied because no allow applied.
type Decision struct {
	Allowed   bool
	Statement *Statement
	// RoleName is the deciding statement's RoleName, "" when none
	// decided.
	RoleName string
	// Viewing, on a denial, is set when the action was denied because the
	// grant may not view the resource's project (see Grant): Statement
	// and RoleName are then those of the viewProject decision.
	Viewing bool
}

// Decide evaluates policy p for action a on the concrete resource r, whose
// last segment carries the resource's tags.
func Decide(p Policy, r resource.Spec, a action.Action) Decision {
	var allow *Statement
	for i := range p {
		s := &p[i]
		if s.Effect == Allow && allow != nil {
			continue // only a deny can change the outcome now
		}
		if !s.appliesTo(r, a) {
			continue
		}
		if s.Effect == Deny {
			return Decision{Statement: s, RoleName: s.RoleName}
		}
		allow = s
	}
	if allow == nil {
		return Decision{}
	}
	return Decision{Allowed: true, Statement: allow, RoleName: allow.RoleName}
}

// Grant is what a caller may do: one or more policies that must each allow
// an action. The zero Grant allows nothing. As in LaunchDarkly, a caller
// can't change what it can't view: an action other than viewProject on a
// resource inside a project (a metric, a group, a view, an environment…)
// also needs viewProject on that project, and is denied with that
// decision (Viewing set) when the grant may not view it.
type Grant struct {
	layers []Policy
	key    string
	// names and tags have bit i set when some pattern of the grant names
	// a resource (other than "*") or selects tags at depth i: below it the
	// grant decides alike whatever the name or tags (see ReportKey).
	names, tags uint64
	// memo remembers decisions already taken, shared by the copies of
	// one grant (a credential keeps its grant for the auth cache's TTL,
	// so the memo lives no longer). Nil in the zero Grant.
	memo *decisions
}

// maxDecisions bounds how many decisions one grant remembers; past it
// decisions are taken every time, as without a memo.
const maxDecisions = 4096

// decisions is a grant's memo of Decide, keyed by action and resource.
// Decide is a pure function of the grant's policies, the resource and the
// action, so a remembered decision is the decision.
type decisions struct {
	mu sync.RWMutex
	m  map[string]Decision // memoKey → Decision; at most maxDecisions
}

// memoKey appends to b an encoding of a and r without ambiguity: every
// part is prefixed by its length, so names holding any byte can't run into
// each other.
func memoKey(b []byte, r resource.Spec, a action.Action) []byte {
	put := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	put(string(a))
	for _, g := range r.Segments {
		put(string(g.Kind))
		put(g.Name)
		b = strconv.AppendInt(b, int64(len(g.Tags)), 10)
		b = append(b, ';')
		for _, t := range g.Tags {
			put(t)
		}
	}
	return b
}

// NewGrant returns the grant that allows what every one of the policies
// allows.
func NewGrant(policies ...Policy) Grant {
	g := Grant{layers: policies, memo: &decisions{m: map[string]Decision{}}}
	h := sha256.New()
	for _, p := range policies {
		for _, s := range p {
			b, _ := json.Marshal([]any{s.Effect, s.Resources, s.NotResources, s.Actions, s.NotActions, s.RoleName})
			h.Write(b)
		}
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	g.key = hex.EncodeToString(sum[:16])
	for _, p := range policies {
		for i := range p {
			for _, ps := range [][]pattern{p[i].resources, p[i].notResources} {
				for _, q := range ps {
					for d, seg := range q.spec.Segments {
						if d >= 64 {
							g.names, g.tags = ^uint64(0), ^uint64(0)
							break
						}
						if seg.Name != "*" {
							g.names |= 1 << d
						}
						if len(seg.Tags) > 0 {
							g.tags |= 1 << d
						}
					}
				}
			}
		}
	}
	return g
}

// ReportKey returns a key such that two resources with the same key get the
// same decisions, and so the same Report, from this grant and from every
// grant with the same Key: the grant's Key and r's segments, each with its
// kind, with its name only where some pattern of the grant names one other
// than "*" at that depth, and with its tags only where some pattern selects
// tags there. The metrics of one project then share a key per tag set
// under a policy that names no metric, so a renderer may remember one
// encoded _access for all of them.
func (g Grant) ReportKey(r resource.Spec) string {
	b := make([]byte, 0, 64)
	put := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	put(g.key)
	for d, seg := range r.Segments {
		bit := uint64(1) << min(d, 63)
		put(string(seg.Kind))
		if g.names&bit != 0 || d >= 63 {
			put(seg.Name)
		} else {
			b = append(b, '*')
		}
		if g.tags&bit != 0 || d >= 63 {
			b = strconv.AppendInt(b, int64(len(seg.Tags)), 10)
			b = append(b, ';')
			for _, t := range seg.Tags {
				put(t)
			}
		} else {
			b = append(b, '-')
		}
	}
	return string(b)
}

// Key is a short, stable fingerprint of the grant's policies: two grants
// with the same key decide alike, so a cache of rendered representations
// (which carry _access) can put it in its key.
func (g Grant) Key() string { return g.key }

// Policies returns the grant's policies, outermost first.
func (g Grant) Policies() []Policy { return g.layers }

// Decide evaluates action a on resource r: denied by the first policy that
// denies it, else allowed by the first policy's deciding statement.
func (g Grant) Decide(r resource.Spec, a action.Action) Decision {
	if len(g.layers) == 0 {
		return Decision{}
	}
	if g.memo == nil {
		return g.decide(r, a)
	}
	// The key is built on the stack and looked up without turning it
	// into a string: a remembered decision costs no allocation.
	var buf [160]byte
	k := memoKey(buf[:0], r, a)
	g.memo.mu.RLock()
	d, ok := g.memo.m[string(k)]
	g.memo.mu.RUnlock()
	if ok {
		return d
	}
	d = g.decide(r, a)
	g.memo.mu.Lock()
	if len(g.memo.m) < maxDecisions {
		g.memo.m[string(k)] = d
	}
	g.memo.mu.Unlock()
	return d
}

// projectOf returns the project of a resource inside one, and false for
// other resources (the projects themselves included).
func projectOf(r resource.Spec) (resource.Spec, bool) {
	if len(r.Segments) < 2 || r.Segments[0].Kind != resource.KindProject {
		return resource.Spec{}, false
	}
	return resource.Spec{Segments: r.Segments[:1:1]}, true
}

// viewing returns the viewProject decision an action on r also needs, and
// false when it needs none.
func (g Grant) viewing(r resource.Spec, a action.Action) (Decision, bool) {
	if a == action.ViewProject {
		return Decision{}, false
	}
	p, ok := projectOf(r)
	if !ok {
		return Decision{}, false
	}
	d := g.Decide(p, action.ViewProject)
	d.Viewing = !d.Allowed
	return d, true
}

// decide is Decide without the memo.
func (g Grant) decide(r resource.Spec, a action.Action) Decision {
	if v, ok := g.viewing(r, a); ok && !v.Allowed {
		return v
	}
	return g.decideLayers(r, a)
}

// decideLayers decides a on r by the policies alone.
func (g Grant) decideLayers(r resource.Spec, a action.Action) Decision {
	var first Decision
	for i, p := range g.layers {
		d := Decide(p, r, a)
		if !d.Allowed {
			return d
		}
		if i == 0 {
			first = d
		}
	}
	return first
}

// DecideAll evaluates action a on every one of resources (a resource
// before and after a change): allowed only when each is.
func (g Grant) DecideAll(resources []resource.Spec, a action.Action) Decision {
	var first Decision
	for i, r := range resources {
		d := g.Decide(r, a)
		if !d.Allowed {
			return d
		}
		if i == 0 {
			first = d
		}
	}
	return first
}

// Entry is one action of a Report with the decision about it.
type Entry struct {
	Action action.Action
	Decision
}

// Report is LaunchDarkly's _access: which of a list of actions the grant
// allows on a resource and which it denies, each with its decision.
type Report struct {
	Allowed []Entry
	Denied  []Entry
}

// Report decides each of actions on r. It is the same evaluation as
// Decide (FuzzDecide checks it), so an action it lists as allowed is one
// that enforcement allows; it matches each statement's resources against r
// once rather than once per action.
func (g Grant) Report(r resource.Spec, actions []action.Action) Report {
	rep := Report{Allowed: make([]Entry, 0, len(actions)), Denied: make([]Entry, 0, len(actions))}
	view, inProject := g.viewing(r, "")
	applicable := make([][]*Statement, len(g.layers))
	for i, p := range g.layers {
		for j := range p {
			if p[j].matchesResource(r) {
				applicable[i] = append(applicable[i], &p[j])
			}
		}
	}
	for _, a := range actions {
		d := Decision{}
		for i := range applicable {
			li := decideAction(applicable[i], a)
			if i == 0 || !li.Allowed {
				d = li
			}
			if !li.Allowed {
				break
			}
		}
		if len(g.layers) == 0 {
			d = Decision{}
		}
		if inProject && !view.Allowed && a != action.ViewProject {
			d = view
		}
		if d.Allowed {
			rep.Allowed = append(rep.Allowed, Entry{Action: a, Decision: d})
		} else {
			rep.Denied = append(rep.Denied, Entry{Action: a, Decision: d})
		}
	}
	return rep
}

// decideAction is Decide over statements already known to match the
// resource.
func decideAction(p []*Statement, a action.Action) Decision {
	var allow *Statement
	for _, s := range p {
		if (s.Effect == Allow && allow != nil) || !s.matchesAction(a) {
			continue
		}
		if s.Effect == Deny {
			return Decision{Statement: s, RoleName: s.RoleName}
		}
		allow = s
	}
	if allow == nil {
		return Decision{}
	}
	return Decision{Allowed: true, Statement: allow, RoleName: allow.RoleName}
}

// AllowsEvery reports whether the grant allows action a on every resource
// of the top-level kind k (every project, say) without looking at any one
// of them, so that a list need not be filtered. False means only that some
// may be denied.
func (g Grant) AllowsEvery(k resource.Kind, a action.Action) bool {
	if len(g.layers) == 0 {
		return false
	}
	for _, p := range g.layers {
		if !allowsEvery(p, k, a) {
			return false
		}
	}
	return true
}

func allowsEvery(p Policy, k resource.Kind, a action.Action) bool {
	could := func(q pattern) bool {
		return q.any || (len(q.spec.Segments) == 1 && q.spec.Segments[0].Kind == k)
	}
	covers := func(q pattern) bool {
		if q.any {
			return true
		}
		if len(q.spec.Segments) != 1 {
			return false
		}
		g := q.spec.Segments[0]
		return g.Kind == k && g.Name == "*" && len(g.Tags) == 0
	}
	some := func(ps []pattern, f func(pattern) bool) bool {
		for _, q := range ps {
			if f(q) {
				return true
			}
		}
		return false
	}
	allowed := false
	for i := range p {
		s := &p[i]
		if !s.matchesAction(a) {
			continue
		}
		if s.Effect == Deny {
			if len(s.resources) > 0 && some(s.resources, could) {
				return false
			}
			if len(s.notResources) > 0 && !some(s.notResources, covers) {
				return false
			}
			continue
		}
		if (len(s.resources) > 0 && some(s.resources, covers)) || (len(s.notResources) > 0 && !some(s.notResources, could)) {
			allowed = true
		}
	}
	return allowed
}
