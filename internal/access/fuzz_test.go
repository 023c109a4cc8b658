package access

import (
	"strings"
	"testing"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/resource"
)

// FuzzDecide checks the evaluator's invariants on arbitrary statements:
// it never panics, the order of statements does not change the outcome,
// adding a deny never turns a denial into an allow, and a deny that
// applies always wins; resources with the same ReportKey are decided
// alike.
func FuzzDecide(f *testing.F) {
	f.Add("proj/*:metric/*;revenue", "", "update*", "", "proj/default:metric/*", "updateTags", "default", "m", "revenue,checkout", "updateTags")
	f.Add("*", "", "*", "", "", "deleteMetric", "x", "y", "", "deleteMetric")
	f.Add("", "proj/mobile:metric/*", "", "deleteMetric", "proj/*:metric/*;a*", "*", "mobile", "k", "ab", "updateName")
	f.Fuzz(func(t *testing.T, res, notRes, acts, notActs, denyRes, denyActs, proj, key, tags, act string) {
		allow, err := NewStatement(Allow, split(res), split(notRes), split(acts), split(notActs), "a")
		if err != nil {
			return
		}
		deny, err := NewStatement(Deny, split(denyRes), nil, split(denyActs), nil, "d")
		if err != nil {
			return
		}
		if strings.ContainsAny(proj+key, ":/;,* ") || proj == "" || key == "" {
			return
		}
		r := resource.Metric(proj, key, split(tags))
		a := action.Action(act)
		alone := Decide(Policy{allow}, r, a)
		both := Decide(Policy{allow, deny}, r, a)
		reversed := Decide(Policy{deny, allow}, r, a)
		if both.Allowed != reversed.Allowed {
			t.Fatalf("order changed the outcome: %v vs %v", both.Allowed, reversed.Allowed)
		}
		if both.Allowed && !alone.Allowed {
			t.Fatal("adding a deny allowed an action")
		}
		if denies := Decide(Policy{deny}, r, a).Statement != nil; denies && both.Allowed {
			t.Fatal("an applying deny lost to an allow")
		}
		if alone.Allowed != (alone.Statement != nil) {
			t.Fatal("an allow without its statement")
		}
		g := NewGrant(Policy{allow, deny})
		rep := g.Report(r, []action.Action{a})
		gd := g.Decide(r, a)
		if (len(rep.Allowed) == 1) != gd.Allowed {
			t.Fatal("Report disagrees with Decide")
		}
		if gd.Allowed && !both.Allowed {
			t.Fatal("the grant allowed what its policy denies")
		}
		// A resource sharing r's ReportKey (another name, or no tags) is
		// decided alike.
		for _, o := range []resource.Spec{resource.Metric(proj, key+"x", split(tags)), resource.Metric(proj+"x", key, split(tags)), resource.Metric(proj, key, nil)} {
			if g.ReportKey(o) == g.ReportKey(r) && g.Decide(o, a).Allowed != gd.Allowed {
				t.Fatalf("%v shares the ReportKey of %v but is decided otherwise", o, r)
			}
		}
	})
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "|")
}
