package access

import (
	"strconv"
	"testing"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/resource"
)

func st(t testing.TB, effect Effect, resources, notResources, actions, notActions []string) Statement {
	t.Helper()
	s, err := NewStatement(effect, resources, notResources, actions, notActions, "test-role")
	if err != nil {
		t.Fatalf("NewStatement: %v", err)
	}
	return s
}

func l(s ...string) []string { return s }

func TestDecide(t *testing.T) {
	metric := resource.Metric("default", "checkout", []string{"revenue", "checkout"})
	untagged := resource.Metric("default", "signup", nil)
	other := resource.Metric("mobile", "checkout", []string{"revenue"})
	group := resource.MetricGroup("default", "g", []string{"revenue"})
	cases := []struct {
		name   string
		policy func(t testing.TB) Policy
		res    resource.Spec
		act    action.Action
		want   bool
		by     int // index of the deciding statement, -1 for none
	}{
		{"empty policy denies", func(t testing.TB) Policy { return nil }, metric, action.UpdateName, false, -1},
		{"exact allow", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/default:metric/*"), nil, l("updateName"), nil)}
		}, metric, action.UpdateName, true, 0},
		{"other action not allowed", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/default:metric/*"), nil, l("updateName"), nil)}
		}, metric, action.UpdateTags, false, -1},
		{"other project not allowed", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/default:metric/*"), nil, l("updateName"), nil)}
		}, other, action.UpdateName, false, -1},
		{"glob project", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/*:metric/*"), nil, l("updateName"), nil)}
		}, other, action.UpdateName, true, 0},
		{"glob in name", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/def*:metric/check*"), nil, l("update*"), nil)}
		}, metric, action.UpdateTags, true, 0},
		{"action glob does not match create", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/*:metric/*"), nil, l("update*"), nil)}
		}, metric, action.CreateMetric, false, -1},
		{"kind must match", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/*:metric/*"), nil, l("*"), nil)}
		}, group, action.UpdateMetricGroupName, false, -1},
		{"tag selector matches when all tags present", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/*:metric/*;revenue,checkout"), nil, l("*"), nil)}
		}, metric, action.DeleteMetric, true, 0},
		{"tag selector needs every tag", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/*:metric/*;revenue,checkout"), nil, l("*"), nil)}
		}, other, action.DeleteMetric, false, -1},
		{"tag selector does not match untagged", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/*:metric/*;revenue"), nil, l("*"), nil)}
		}, untagged, action.DeleteMetric, false, -1},
		{"tag glob", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/*:metric/*;rev*"), nil, l("*"), nil)}
		}, metric, action.DeleteMetric, true, 0},
		{"deny beats earlier allow", func(t testing.TB) Policy {
			return Policy{
				st(t, Allow, l("proj/*:metric/*"), nil, l("*"), nil),
				st(t, Deny, l("proj/default:metric/checkout"), nil, l("updateTags"), nil),
			}
		}, metric, action.UpdateTags, false, 1},
		{"deny beats later allow", func(t testing.TB) Policy {
			return Policy{
				st(t, Deny, l("proj/default:metric/checkout"), nil, l("updateTags"), nil),
				st(t, Allow, l("proj/*:metric/*"), nil, l("*"), nil),
			}
		}, metric, action.UpdateTags, false, 0},
		{"deny of another action leaves allow", func(t testing.TB) Policy {
			return Policy{
				st(t, Allow, l("proj/*:metric/*"), nil, l("*"), nil),
				st(t, Deny, l("proj/default:metric/checkout"), nil, l("updateTags"), nil),
			}
		}, metric, action.UpdateName, true, 0},
		{"notActions allows the rest", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/*:metric/*"), nil, nil, l("deleteMetric"))}
		}, metric, action.UpdateName, true, 0},
		{"notActions excludes", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("proj/*:metric/*"), nil, nil, l("deleteMetric"))}
		}, metric, action.DeleteMetric, false, -1},
		{"notResources allows the rest", func(t testing.TB) Policy {
			return Policy{st(t, Allow, nil, l("proj/mobile:metric/*"), l("*"), nil)}
		}, metric, action.UpdateName, true, 0},
		{"notResources excludes", func(t testing.TB) Policy {
			return Policy{st(t, Allow, nil, l("proj/mobile:metric/*"), l("*"), nil)}
		}, other, action.UpdateName, false, -1},
		{"deny with notResources", func(t testing.TB) Policy {
			return Policy{
				st(t, Allow, l("*"), nil, l("*"), nil),
				st(t, Deny, nil, l("proj/default:metric/*"), l("*"), nil),
			}
		}, other, action.UpdateName, false, 1},
		{"any resource", func(t testing.TB) Policy {
			return Policy{st(t, Allow, l("*"), nil, l("*"), nil)}
		}, resource.Team("t"), action.DeleteTeam, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.policy(t)
			d := Decide(p, c.res, c.act)
			if d.Allowed != c.want {
				t.Fatalf("Allowed = %v, want %v", d.Allowed, c.want)
			}
			switch {
			case c.by < 0 && d.Statement != nil:
				t.Fatalf("decided by %+v, want no statement", *d.Statement)
			case c.by >= 0 && d.Statement != &p[c.by]:
				t.Fatalf("decided by %v, want statement %d", d.Statement, c.by)
			case c.by >= 0 && d.RoleName != "test-role":
				t.Fatalf("RoleName = %q", d.RoleName)
			}
		})
	}
}

func TestNewStatementErrors(t *testing.T) {
	cases := []struct {
		name                 string
		effect               Effect
		res, notRes, act, na []string
		field                string
	}{
		{"bad effect", "maybe", l("proj/*"), nil, l("*"), nil, "effect"},
		{"no resources", Allow, nil, nil, l("*"), nil, "resources"},
		{"both resources", Allow, l("proj/*"), l("proj/x"), l("*"), nil, "resources"},
		{"no actions", Allow, l("proj/*"), nil, nil, nil, "actions"},
		{"both actions", Allow, l("proj/*"), nil, l("*"), l("x"), "actions"},
		{"bad resource", Allow, l("proj/*", "env/x"), nil, l("*"), nil, "resources[1]"},
		{"bad not resource", Allow, nil, l("proj/a b"), l("*"), nil, "notResources[0]"},
		{"bad action", Allow, l("proj/*"), nil, l("update name"), nil, "actions[0]"},
		{"empty not action", Allow, l("proj/*"), nil, nil, l(""), "notActions[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewStatement(c.effect, c.res, c.notRes, c.act, c.na, "")
			se, ok := err.(*StatementError)
			if !ok || se.Field != c.field {
				t.Fatalf("err = %v, want a StatementError on %s", err, c.field)
			}
		})
	}
}

// TestTagsBeforeAndAfter is the rule enforcement applies to a patch: a
// selector on tags must hold for the resource before and after the change.
func TestTagsBeforeAndAfter(t *testing.T) {
	g := NewGrant(Policy{st(t, Allow, l("proj/*"), nil, l("viewProject"), nil), st(t, Allow, l("proj/*:metric/*;team-a"), nil, l("updateTags"), nil)})
	before := resource.Metric("default", "m", []string{"team-a"})
	after := resource.Metric("default", "m", []string{"team-b"})
	intoA := resource.Metric("default", "m", []string{"team-a", "team-b"})
	if g.DecideAll([]resource.Spec{before, after}, action.UpdateTags).Allowed {
		t.Error("removing the selected tag was allowed")
	}
	if g.DecideAll([]resource.Spec{after, intoA}, action.UpdateTags).Allowed {
		t.Error("adding the selected tag to an unselected metric was allowed")
	}
	if !g.DecideAll([]resource.Spec{before, intoA}, action.UpdateTags).Allowed {
		t.Error("a change keeping the selected tag was denied")
	}
}

func TestGrantLayers(t *testing.T) {
	member, _ := BuiltIn(RoleWriter, "m1")
	token := Policy{st(t, Allow, l("proj/*:metric/*"), nil, l("updateName"), nil), st(t, Allow, l("proj/*"), nil, l("viewProject"), nil)}
	g := NewGrant(token, member)
	m := resource.Metric("default", "x", nil)
	if d := g.Decide(m, action.UpdateName); !d.Allowed || d.RoleName != "test-role" {
		t.Errorf("updateName: %+v", d)
	}
	if g.Decide(m, action.UpdateTags).Allowed {
		t.Error("the token's policy did not limit the member's")
	}
	reader, _ := BuiltIn(RoleReader, "m1")
	if d := NewGrant(token, reader).Decide(m, action.UpdateName); d.Allowed || d.RoleName != "" {
		t.Errorf("a reader's token could write: %+v", d)
	}
	if (Grant{}).Decide(m, action.ViewProject).Allowed {
		t.Error("the zero grant allowed something")
	}
	if NewGrant(token, member).Key() != g.Key() || NewGrant(member, token).Key() == g.Key() || NewGrant(member).Key() == g.Key() {
		t.Error("keys do not tell grants apart")
	}
}

func TestBuiltIn(t *testing.T) {
	type probe struct {
		res resource.Spec
		act action.Action
	}
	probes := map[string]probe{
		"metric":     {resource.Metric("p", "m", []string{"t"}), action.UpdateName},
		"view":       {resource.Project("p"), action.ViewProject},
		"member":     {resource.Member("m2"), action.DeleteMember},
		"viewMember": {resource.Member("m2"), action.ViewMember},
		"ownToken":   {resource.Spec{Segments: []resource.Segment{{Kind: resource.KindMember, Name: "m1"}, {Kind: resource.KindToken, Name: "t1"}}}, action.DeleteAccessToken},
		"otherToken": {resource.Spec{Segments: []resource.Segment{{Kind: resource.KindMember, Name: "m2"}, {Kind: resource.KindToken, Name: "t2"}}}, action.ViewToken},
		"role":       {resource.Spec{Segments: []resource.Segment{{Kind: resource.KindRole, Name: "r"}}}, action.CreateRole},
	}
	cases := map[string]map[string]bool{
		RoleOwner:    {"metric": true, "view": true, "member": true, "viewMember": true, "ownToken": true, "otherToken": true, "role": true},
		RoleAdmin:    {"metric": true, "view": true, "member": true, "viewMember": true, "ownToken": true, "otherToken": true, "role": true},
		RoleWriter:   {"metric": true, "view": true, "member": false, "viewMember": true, "ownToken": true, "otherToken": false, "role": false},
		RoleReader:   {"metric": false, "view": true, "member": false, "viewMember": true, "ownToken": true, "otherToken": false, "role": false},
		RoleNoAccess: {"metric": false, "view": false, "member": false, "viewMember": false, "ownToken": false, "otherToken": false, "role": false},
	}
	for role, want := range cases {
		p, ok := BuiltIn(role, "m1")
		if !ok {
			t.Fatalf("BuiltIn(%q) unknown", role)
		}
		for name, allowed := range want {
			pr := probes[name]
			if d := Decide(p, pr.res, pr.act); d.Allowed != allowed {
				t.Errorf("%s: %s on %s: allowed = %v, want %v", role, pr.act, pr.res, d.Allowed, allowed)
			} else if allowed && d.RoleName != role {
				t.Errorf("%s: role_name %q", role, d.RoleName)
			}
		}
	}
	if _, ok := BuiltIn("superuser", ""); ok {
		t.Error("unknown role accepted")
	}
	if !RoleAtMost(RoleReader, RoleWriter) || RoleAtMost(RoleAdmin, RoleWriter) || !RoleAtMost("bogus", RoleNoAccess) {
		t.Error("RoleAtMost")
	}
}

func TestReport(t *testing.T) {
	g := NewGrant(Policy{
		st(t, Allow, l("proj/*:metric/*"), nil, l("update*"), nil),
		st(t, Deny, l("proj/*:metric/*"), nil, l("updateTags"), nil),
		st(t, Allow, l("proj/*"), nil, l("viewProject"), nil),
	})
	r := g.Report(resource.Metric("p", "m", nil), []action.Action{action.UpdateName, action.UpdateTags, action.DeleteMetric})
	if len(r.Allowed) != 1 || r.Allowed[0].Action != action.UpdateName || r.Allowed[0].Statement.Effect != Allow {
		t.Errorf("allowed = %+v", r.Allowed)
	}
	if len(r.Denied) != 2 || r.Denied[0].Action != action.UpdateTags || r.Denied[0].Statement.Effect != Deny ||
		r.Denied[1].Action != action.DeleteMetric || r.Denied[1].Statement != nil {
		t.Errorf("denied = %+v", r.Denied)
	}
}

func TestAllowsEvery(t *testing.T) {
	reader, _ := BuiltIn(RoleReader, "m")
	admin, _ := BuiltIn(RoleAdmin, "m")
	cases := []struct {
		name string
		g    Grant
		want bool
	}{
		{"reader", NewGrant(reader), true},
		{"admin limited by reader", NewGrant(admin, reader), true},
		{"no access", NewGrant(Policy{}), false},
		{"zero", Grant{}, false},
		{"one project", NewGrant(Policy{st(t, Allow, l("proj/default"), nil, l("viewProject"), nil)}), false},
		{"all projects", NewGrant(Policy{st(t, Allow, l("proj/*"), nil, l("view*"), nil)}), true},
		{"tagged projects", NewGrant(Policy{st(t, Allow, l("proj/*;x"), nil, l("view*"), nil)}), false},
		{"deny one", NewGrant(reader, Policy{
			st(t, Allow, l("*"), nil, l("*"), nil), st(t, Deny, l("proj/secret"), nil, l("viewProject"), nil)}), false},
		{"deny of metrics only", NewGrant(Policy{
			st(t, Allow, l("*"), nil, l("*"), nil), st(t, Deny, l("proj/*:metric/*"), nil, l("*"), nil)}), true},
		{"deny all but projects", NewGrant(Policy{
			st(t, Allow, l("*"), nil, l("*"), nil), st(t, Deny, nil, l("proj/*"), l("*"), nil)}), true},
		{"allow all but one project", NewGrant(Policy{st(t, Allow, nil, l("proj/secret"), l("*"), nil)}), false},
	}
	for _, c := range cases {
		if got := c.g.AllowsEvery(resource.KindProject, action.ViewProject); got != c.want {
			t.Errorf("%s: AllowsEvery = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestGrantMemo checks that a grant's remembered decisions are the
// decisions: the same resource and action decide alike on every call,
// resources that differ only in tags or in how their names split are told
// apart, and past the memo's bound decisions are still right.
func TestGrantMemo(t *testing.T) {
	g := NewGrant(Policy{
		st(t, Allow, l("proj/*"), nil, l("viewProject"), nil),
		st(t, Allow, l("proj/*:metric/*;revenue"), nil, l("updateName"), nil),
		st(t, Deny, l("proj/a:metric/b*"), nil, l("updateName"), nil),
	})
	cases := []struct {
		r    resource.Spec
		want bool
	}{
		{resource.Metric("x", "m", []string{"revenue"}), true},
		{resource.Metric("x", "m", nil), false},
		{resource.Metric("x", "m", []string{"revenue"}), true},
		{resource.Metric("a", "bc", []string{"revenue"}), false},
		{resource.Metric("ab", "c", []string{"revenue"}), true},
		{resource.Metric("a", "bc", nil), false},
	}
	for round := range 2 {
		for i, c := range cases {
			if got := g.Decide(c.r, action.UpdateName); got.Allowed != c.want || got != g.decide(c.r, action.UpdateName) {
				t.Errorf("round %d case %d (%s): %+v, want allowed=%v", round, i, c.r, got, c.want)
			}
		}
	}
	for i := range maxDecisions + 10 {
		key := "k" + strconv.Itoa(i)
		if !g.Decide(resource.Metric("x", key, []string{"revenue"}), action.UpdateName).Allowed ||
			g.Decide(resource.Metric("x", key, nil), action.UpdateName).Allowed {
			t.Fatalf("metric %s decided wrongly", key)
		}
	}
}

func TestWithBase(t *testing.T) {
	renamer := Policy{st(t, Allow, l("proj/default:metric/*"), nil, l("updateName"), nil)}
	hides := Policy{st(t, Deny, l("proj/secret"), nil, l("viewProject"), nil)}
	project := func(k string) resource.Spec { return resource.Project(k) }
	token := resource.Spec{Segments: []resource.Segment{{Kind: resource.KindMember, Name: "m1"}, {Kind: resource.KindToken, Name: "t1"}}}
	cases := []struct {
		name string
		p    Policy
		base string
		res  resource.Spec
		act  action.Action
		want bool
		role string
	}{
		{"reader base views a project", renamer, BaseReader, project("default"), action.ViewProject, true, "r"},
		{"reader base keeps the policy", renamer, BaseReader, resource.Metric("default", "m", nil), action.UpdateName, true, "r"},
		{"reader base writes nothing more", renamer, BaseReader, resource.Metric("default", "m", nil), action.UpdateTags, false, ""},
		{"reader base does not view tokens", renamer, BaseReader, token, action.ViewToken, false, ""},
		{"a deny of viewProject beats the base", hides, BaseReader, project("secret"), action.ViewProject, false, "r"},
		{"the deny hides only its project", hides, BaseReader, project("default"), action.ViewProject, true, "r"},
		{"no_access base views nothing", renamer, BaseNone, project("default"), action.ViewProject, false, ""},
		{"no_access base: the policy alone cannot change what it cannot view", renamer, BaseNone, resource.Metric("default", "m", nil), action.UpdateName, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.p {
				c.p[i].RoleName = "r"
			}
			p, ok := WithBase(c.p, c.base, "r")
			if !ok {
				t.Fatal("WithBase refused a base")
			}
			g := NewGrant(p)
			d := g.Decide(c.res, c.act)
			if d.Allowed != c.want || d.RoleName != c.role {
				t.Errorf("Decide = %v by %q, want %v by %q", d.Allowed, d.RoleName, c.want, c.role)
			}
			rep := g.Report(c.res, []action.Action{c.act})
			if got := len(rep.Allowed) == 1; got != c.want {
				t.Errorf("Report allowed = %v, want %v", got, c.want)
			}
		})
	}
	if _, ok := WithBase(renamer, "writer", "r"); ok {
		t.Error("WithBase accepted writer")
	}
	if len(renamer) != 1 {
		t.Error("WithBase changed its argument")
	}
}

// TestReportKey: resources with the same ReportKey get the same Report,
// and the key tells apart what the grant's patterns tell apart.
func TestReportKey(t *testing.T) {
	byTags := Policy{
		st(t, Allow, l("proj/*:metric/*;revenue"), nil, l("update*"), nil),
		st(t, Deny, nil, l("proj/default:metric/*"), l("updateTags"), nil),
	}
	byName := Policy{st(t, Allow, l("proj/*:metric/check*"), nil, l("*"), nil)}
	acts := action.MetricActions()
	res := []resource.Spec{
		resource.Metric("default", "checkout", []string{"revenue"}),
		resource.Metric("default", "signup", []string{"revenue"}),
		resource.Metric("default", "checkout", nil),
		resource.Metric("default", "signup", []string{"revenue", "web"}),
		resource.Metric("mobile", "checkout", []string{"revenue"}),
		resource.MetricGroup("default", "checkout", []string{"revenue"}),
		resource.Project("default"),
	}
	for name, g := range map[string]Grant{"tags": NewGrant(byTags), "names": NewGrant(byName), "both": NewGrant(byTags, byName), "none": NewGrant()} {
		keys := map[string]Report{}
		distinct := map[string]bool{}
		for _, r := range res {
			rep := g.Report(r, acts)
			sig := ""
			for _, e := range rep.Allowed {
				sig += string(e.Action) + ","
			}
			distinct[sig] = true
			k := g.ReportKey(r)
			prev, ok := keys[k]
			keys[k] = rep
			if !ok {
				continue
			}
			same := len(prev.Allowed) == len(rep.Allowed) && len(prev.Denied) == len(rep.Denied)
			for i := 0; same && i < len(rep.Allowed); i++ {
				same = prev.Allowed[i].Action == rep.Allowed[i].Action && prev.Allowed[i].Statement == rep.Allowed[i].Statement
			}
			for i := 0; same && i < len(rep.Denied); i++ {
				same = prev.Denied[i].Action == rep.Denied[i].Action && prev.Denied[i].Statement == rep.Denied[i].Statement
			}
			if !same {
				t.Errorf("%s: %v shares key %q with a resource of another report", name, r, k)
			}
		}
		if len(keys) < len(distinct) {
			t.Errorf("%s: %d keys for %d distinct reports", name, len(keys), len(distinct))
		}
	}
	// The key drops what no pattern looks at, and keeps the grant's.
	g := NewGrant(byTags)
	if g.ReportKey(res[0]) != g.ReportKey(res[1]) {
		t.Error("a policy naming no metric tells metrics apart by name")
	}
	if g.ReportKey(res[0]) == g.ReportKey(res[2]) {
		t.Error("a policy with a tag selector does not tell tags apart")
	}
	if NewGrant(byName).ReportKey(res[0]) == NewGrant(byTags).ReportKey(res[0]) {
		t.Error("two grants share a key")
	}
}

// TestViewingNeeded: an action inside a project needs viewProject on it,
// in Decide and Report alike; the project itself and viewProject do not.
func TestViewingNeeded(t *testing.T) {
	renamer := Policy{st(t, Allow, l("proj/*:metric/*"), nil, l("updateName"), nil)}
	hidden := Policy{
		st(t, Allow, l("*"), nil, l("*"), nil),
		st(t, Deny, l("proj/secret"), nil, l("viewProject"), nil),
	}
	m := resource.Metric("secret", "m", nil)
	for name, c := range map[string]struct {
		g       Grant
		r       resource.Spec
		a       action.Action
		want    bool
		viewing bool
	}{
		"no viewProject":            {NewGrant(renamer), m, action.UpdateName, false, true},
		"viewProject denied":        {NewGrant(hidden), m, action.UpdateName, false, true},
		"another project":           {NewGrant(hidden), resource.Metric("open", "m", nil), action.UpdateName, true, false},
		"the project itself":        {NewGrant(hidden), resource.Project("secret"), action.DeleteProject, true, false},
		"viewProject is not nested": {NewGrant(renamer), resource.Project("secret"), action.ViewProject, false, false},
	} {
		d := c.g.Decide(c.r, c.a)
		if d.Allowed != c.want || d.Viewing != c.viewing {
			t.Errorf("%s: %+v, want allowed %v viewing %v", name, d, c.want, c.viewing)
		}
		rep := c.g.Report(c.r, []action.Action{c.a})
		if (len(rep.Allowed) == 1) != c.want {
			t.Errorf("%s: Report disagrees with Decide", name)
		}
		if !c.want && rep.Denied[0].Statement != d.Statement {
			t.Errorf("%s: Report's reason differs", name)
		}
	}
	if d := NewGrant(hidden).Decide(m, action.UpdateName); d.RoleName != "test-role" || d.Statement == nil || d.Statement.Effect != Deny {
		t.Errorf("the deny of viewProject is the reason: %+v", d)
	}
}
