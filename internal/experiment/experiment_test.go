package experiment

import (
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func validInput() *IterationInput {
	return &IterationInput{
		Hypothesis: ptr("h"),
		Flags:      map[string]FlagInput{"f": {RuleID: ptr("fallthrough"), FlagConfigVersion: ptr(2)}},
		Metrics:    []MetricInput{{Key: "a"}, {Key: "g", IsGroup: true}},
		Treatments: []TreatmentInput{
			{Name: "A", Baseline: ptr(true), AllocationPercent: ptr("12.5"), Parameters: []Parameter{{FlagKey: "f", VariationID: "x"}}},
			{Name: "B", Baseline: ptr(false), AllocationPercent: ptr("87.5"), Parameters: []Parameter{{FlagKey: "f", VariationID: "y"}}},
		},
		PrimarySingleMetricKey: "a",
	}
}

func TestCheckIterationShape(t *testing.T) {
	d, err := checkIterationShape("iteration", validInput())
	if err != nil {
		t.Fatalf("valid input: %v", err)
	}
	if d.RandomizationUnit != "user" || !d.CanReshuffleTraffic || d.FlagKey() != "f" || d.Treatments[1].ID != "y" {
		t.Errorf("defaults and derived fields: %+v", d)
	}
	for _, c := range []struct {
		name   string
		change func(in *IterationInput)
		msg    string
	}{
		{"no hypothesis", func(in *IterationInput) { in.Hypothesis = nil }, "hypothesis is required"},
		{"two flags", func(in *IterationInput) { in.Flags["g"] = in.Flags["f"] }, "exactly one flag"},
		{"no version", func(in *IterationInput) { in.Flags["f"] = FlagInput{RuleID: ptr("r")} }, "flagConfigVersion is required"},
		{"duplicate metric", func(in *IterationInput) { in.Metrics = append(in.Metrics, MetricInput{Key: "a"}) }, `metric "a" is listed twice`},
		{"same key as group and metric", func(in *IterationInput) { in.Metrics = append(in.Metrics, MetricInput{Key: "g"}) }, ""},
		{"both primaries", func(in *IterationInput) { in.PrimaryFunnelKey = "g" }, "not both"},
		{"primary is a group", func(in *IterationInput) { in.PrimarySingleMetricKey = "g" }, "isGroup false"},
		{"deprecated primary", func(in *IterationInput) {
			in.PrimarySingleMetricKey = ""
			in.Metrics[1].Primary = ptr(true)
		}, ""},
		{"sum 99.9", func(in *IterationInput) { in.Treatments[1].AllocationPercent = ptr("87.4") }, "add up to 100, not 99.90"},
		{"over 100", func(in *IterationInput) { in.Treatments[1].AllocationPercent = ptr("101") }, "from 0 to 100"},
		{"fraction syntax", func(in *IterationInput) { in.Treatments[1].AllocationPercent = ptr("175/2") }, "decimal number"},
		{"negative", func(in *IterationInput) { in.Treatments[1].AllocationPercent = ptr("-1") }, "from 0 to 100"},
		{"no baseline", func(in *IterationInput) { in.Treatments[0].Baseline = ptr(false) }, "exactly one baseline, not 0"},
		{"same variation", func(in *IterationInput) { in.Treatments[1].Parameters[0].VariationID = "x" }, `variation "x" is served by another treatment`},
		{"same name", func(in *IterationInput) { in.Treatments[1].Name = "A" }, `"A" is used by another treatment`},
		{"other flag", func(in *IterationInput) { in.Treatments[1].Parameters[0].FlagKey = "h" }, `must be the iteration's flag "f"`},
	} {
		in := validInput()
		c.change(in)
		_, err := checkIterationShape("iteration", in)
		switch {
		case c.msg == "" && err != nil:
			t.Errorf("%s: %v, want no error", c.name, err)
		case c.msg != "" && (err == nil || !strings.Contains(err.Error(), c.msg)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.msg)
		}
	}
}

func TestResolveMetrics(t *testing.T) {
	d, err := checkIterationShape("iteration", validInput())
	if err != nil {
		t.Fatal(err)
	}
	a := &MetricSnap{ID: "ma", Key: "a", RandomizationUnits: []string{"user"}}
	member := GroupMember{MetricSnap: MetricSnap{ID: "mb", Key: "b", RandomizationUnits: []string{"org"}}}
	g := &GroupSnap{ID: "gg", Key: "g", Kind: "standard", Metrics: []GroupMember{member}}
	_, err = resolveMetrics("iteration", d, map[string]*MetricSnap{"a": a}, map[string]*GroupSnap{"g": g})
	if err == nil || !strings.Contains(err.Error(), `metric "b" does not support randomization unit "user"`) {
		t.Errorf("unit through a group: %v", err)
	}
	g.Metrics[0].RandomizationUnits = []string{"org", "user"}
	entries, err := resolveMetrics("iteration", d, map[string]*MetricSnap{"a": a}, map[string]*GroupSnap{"g": g})
	if err != nil || len(entries) != 2 || d.Metrics[0].ID != "ma" || d.Metrics[1].ID != "gg" {
		t.Errorf("resolved: %v %+v %+v", err, entries, d.Metrics)
	}
	a.Archived = true
	if _, err := resolveMetrics("iteration", d, map[string]*MetricSnap{"a": a}, map[string]*GroupSnap{"g": g}); err == nil || !strings.Contains(err.Error(), "archived") {
		t.Errorf("archived: %v", err)
	}
	if _, err := resolveMetrics("iteration", d, map[string]*MetricSnap{}, map[string]*GroupSnap{"g": g}); err == nil || !strings.Contains(err.Error(), `unknown metric "a"`) {
		t.Errorf("missing: %v", err)
	}
}

func TestIterationsOfAnExperiment(t *testing.T) {
	e := &Experiment{Iterations: []Iteration{{ID: "1", Number: 1, Status: StatusNotStarted}}}
	if e.Current().ID != "1" || e.Draft().ID != "1" || len(e.Previous()) != 0 || e.Status() != StatusNotStarted {
		t.Errorf("one draft: current %v draft %v previous %v", e.Current(), e.Draft(), e.Previous())
	}
	e.Iterations = []Iteration{{ID: "1", Number: 1, Status: StatusStopped}, {ID: "2", Number: 2, Status: StatusRunning}, {ID: "3", Number: 3, Status: StatusNotStarted}}
	if e.Current().ID != "2" || e.Draft().ID != "3" || e.Status() != StatusRunning {
		t.Errorf("running with a draft: current %v draft %v", e.Current(), e.Draft())
	}
	if p := e.Previous(); len(p) != 1 || p[0].ID != "1" {
		t.Errorf("previous = %+v", p)
	}
	if (&Experiment{}).Current() != nil || (&Experiment{}).Status() != StatusNotStarted {
		t.Errorf("an experiment without iterations")
	}
}
