package catalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/metricsd/metricsd/internal/core"
)

// groupShapeDef is a valid standard group definition that test cases change.
func groupShapeDef(change func(d *GroupDef)) GroupDef {
	d := GroupDef{
		Name:         "Checkout funnel",
		Kind:         GroupStandard,
		Description:  "What happens at checkout",
		Tags:         []string{"checkout"},
		MaintainerID: "569fdeadbeef1644facecafe",
		Metrics:      []GroupMetricIn{{Key: "signup"}, {Key: "purchase"}},
	}
	if change != nil {
		change(&d)
	}
	return d
}

// groupMetricsIn returns n metric references m0, m1, … with step names.
func groupMetricsIn(n int) []GroupMetricIn {
	out := make([]GroupMetricIn, 0, n)
	for i := range n {
		out = append(out, GroupMetricIn{Key: fmt.Sprintf("m%d", i), NameInGroup: fmt.Sprintf("Step %d", i+1)})
	}
	return out
}

func TestValidateGroupShape(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	funnel := func(d *GroupDef) {
		d.Kind = GroupFunnel
		d.Metrics = []GroupMetricIn{{Key: "signup", NameInGroup: "Sign up"}, {Key: "purchase", NameInGroup: "Buy"}}
	}
	tests := []struct {
		name    string
		change  func(d *GroupDef)
		wantErr string
	}{
		{"valid standard", nil, ""},
		{"valid funnel", funnel, ""},
		{"valid guardrail", func(d *GroupDef) { d.Kind = GroupGuardrail }, ""},
		{"valid team maintainer", func(d *GroupDef) { d.MaintainerID, d.MaintainerTeamKey = "", "team-a" }, ""},
		{"no tags", func(d *GroupDef) { d.Tags = nil }, ""},
		{"tag punctuation", func(d *GroupDef) { d.Tags = []string{"a.b_c:d-e", long(64)} }, ""},
		{"name of 256 characters", func(d *GroupDef) { d.Name = long(256) }, ""},
		{"description of 4096 characters", func(d *GroupDef) { d.Description = long(4096) }, ""},
		{"50 metrics", func(d *GroupDef) { d.Metrics = groupMetricsIn(50) }, ""},
		{"standard without nameInGroup", func(d *GroupDef) { d.Metrics[0].NameInGroup = "" }, ""},
		{"nameInGroup of 256 characters", func(d *GroupDef) { d.Metrics[1].NameInGroup = long(256) }, ""},

		{"missing name", func(d *GroupDef) { d.Name = "" }, "name is required"},
		{"name checked before kind", func(d *GroupDef) { d.Name, d.Kind = "", "" }, "name is required"},
		{"name too long", func(d *GroupDef) { d.Name = long(257) }, "name must be at most 256 characters"},
		{"description too long", func(d *GroupDef) { d.Description = long(4097) }, "description must be at most 4096 characters"},
		{"missing kind", func(d *GroupDef) { d.Kind = "" }, "kind is required"},
		{"unknown kind", func(d *GroupDef) { d.Kind = "pipeline" }, "kind must be one of funnel, standard, guardrail"},
		{"kind is case-sensitive", func(d *GroupDef) { d.Kind = "Funnel" }, "kind must be one of funnel, standard, guardrail"},
		{"tag with a space", func(d *GroupDef) { d.Tags = []string{"ok", "bad tag"} }, `tags[1] "bad tag" must be 1-64 letters, digits, '.', '_', ':' or '-'`},
		{"empty tag", func(d *GroupDef) { d.Tags = []string{""} }, `tags[0] "" must be 1-64 letters, digits, '.', '_', ':' or '-'`},
		{"tag too long", func(d *GroupDef) { d.Tags = []string{long(65)} }, fmt.Sprintf(`tags[0] %q must be 1-64 letters, digits, '.', '_', ':' or '-'`, long(65))},
		{"member and team", func(d *GroupDef) { d.MaintainerTeamKey = "team-a" }, "name either maintainerId or maintainerTeamKey, not both"},
		{"no maintainer", func(d *GroupDef) { d.MaintainerID = "" }, "maintainerId is required"},
		{"no metrics", func(d *GroupDef) { d.Metrics = nil }, "metrics must list at least 2 metrics"},
		{"one metric", func(d *GroupDef) { d.Metrics = d.Metrics[:1] }, "metrics must list at least 2 metrics"},
		{"51 metrics", func(d *GroupDef) { d.Metrics = groupMetricsIn(51) }, "metrics must list at most 50 metrics"},
		{"metric without key", func(d *GroupDef) { d.Metrics[1].Key = "" }, "metrics[1].key is required"},
		{"duplicate metric", func(d *GroupDef) {
			d.Metrics = []GroupMetricIn{{Key: "a"}, {Key: "b"}, {Key: "a"}}
		}, `metrics[2]: metric "a" is already metrics[0]`},
		{"funnel step without nameInGroup", func(d *GroupDef) {
			funnel(d)
			d.Metrics[1].NameInGroup = ""
		}, "metrics[1].nameInGroup is required for each step of a funnel"},
		{"funnel step with a blank nameInGroup", func(d *GroupDef) {
			funnel(d)
			d.Metrics[0].NameInGroup = " \t "
		}, "metrics[0].nameInGroup is required for each step of a funnel"},
		{"nameInGroup too long", func(d *GroupDef) { d.Metrics[1].NameInGroup = long(257) }, "metrics[1].nameInGroup must be at most 256 characters"},
		{"funnel nameInGroup too long", func(d *GroupDef) {
			funnel(d)
			d.Metrics[0].NameInGroup = long(257)
		}, "metrics[0].nameInGroup must be at most 256 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := groupShapeDef(tt.change)
			before := groupShapeDef(tt.change)
			err := validateGroupShape(&d)
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Fatalf("validateGroupShape error mismatch (-want +got):\n%s", diff)
			}
			if err != nil && core.KindOf(err) != core.KindInvalid {
				t.Errorf("core.KindOf = %v, want core.KindInvalid", core.KindOf(err))
			}
			if diff := cmp.Diff(before, d); diff != "" {
				t.Errorf("validateGroupShape changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

// groupMetric builds a metric of a group by hand: key, randomization units
// and changes to its definition.
func groupMetric(key string, units []string, change func(d *MetricDef)) GroupMetric {
	m := GroupMetric{Metric: Metric{
		ID: "id-" + key, Key: key, Kind: "custom",
		Def: MetricDef{Name: key, EventKey: key, RandomizationUnits: units, AnalysisType: "mean", UnitAggregationType: "average"},
	}}
	if change != nil {
		change(&m.Def)
	}
	return m
}

func TestValidateGroupMetrics(t *testing.T) {
	user := []string{"user"}
	numeric := func(d *MetricDef) { d.IsNumeric, d.SuccessCriteria = true, "HigherThanBaseline" }
	percentile := func(d *MetricDef) { numeric(d); d.AnalysisType, d.PercentileValue = "percentile", new(95) }
	archived := func(d *MetricDef) { d.Archived = true }
	tests := []struct {
		name    string
		kind    string
		metrics []GroupMetric
		wantErr string
	}{
		{"no metrics", GroupStandard, nil, ""},
		{"one metric", GroupFunnel, []GroupMetric{groupMetric("a", user, nil)}, ""},
		{"conversion funnel", GroupFunnel, []GroupMetric{groupMetric("a", user, nil), groupMetric("b", user, nil), groupMetric("c", user, nil)}, ""},
		{"numeric in a standard group", GroupStandard, []GroupMetric{groupMetric("a", user, nil), groupMetric("b", user, numeric)}, ""},
		{"percentile in a standard group", GroupStandard, []GroupMetric{groupMetric("a", user, percentile), groupMetric("b", user, nil)}, ""},
		{"numeric in a guardrail group", GroupGuardrail, []GroupMetric{groupMetric("a", user, numeric), groupMetric("b", user, numeric)}, ""},
		{"shared unit among several", GroupStandard, []GroupMetric{
			groupMetric("a", []string{"user", "organization"}, nil),
			groupMetric("b", []string{"organization", "user", "device"}, nil),
			groupMetric("c", []string{"device", "user"}, nil),
		}, ""},

		{"archived first", GroupStandard, []GroupMetric{groupMetric("a", user, archived), groupMetric("b", user, nil)}, `metrics[0]: metric "a" is archived`},
		{"archived later", GroupStandard, []GroupMetric{groupMetric("a", user, nil), groupMetric("b", user, nil), groupMetric("c", user, archived)}, `metrics[2]: metric "c" is archived`},
		{"archived checked before numeric", GroupFunnel, []GroupMetric{groupMetric("a", user, nil), groupMetric("b", user, func(d *MetricDef) { numeric(d); archived(d) })}, `metrics[1]: metric "b" is archived`},
		{"numeric funnel step", GroupFunnel, []GroupMetric{groupMetric("a", user, nil), groupMetric("rev", user, numeric)}, `metrics[1]: funnel steps must be conversion metrics; "rev" is numeric`},
		{"numeric first funnel step", GroupFunnel, []GroupMetric{groupMetric("rev", user, numeric), groupMetric("a", user, nil)}, `metrics[0]: funnel steps must be conversion metrics; "rev" is numeric`},
		{"percentile funnel step (numeric, as the metric rules require)", GroupFunnel, []GroupMetric{groupMetric("a", user, nil), groupMetric("p95", user, percentile)}, `metrics[1]: funnel steps must be conversion metrics; "p95" is numeric`},
		{"percentile funnel step that is not numeric", GroupFunnel, []GroupMetric{groupMetric("a", user, nil), groupMetric("p95", user, func(d *MetricDef) { d.AnalysisType = "percentile" })}, `metrics[1]: funnel steps cannot use percentile analysis; "p95" does`},
		{"no shared unit", GroupStandard, []GroupMetric{groupMetric("a", user, nil), groupMetric("org", []string{"organization"}, nil)}, `metrics[1]: metric "org" shares no randomization unit with the metrics before it`},
		{"shared units narrow", GroupStandard, []GroupMetric{
			groupMetric("a", []string{"user", "organization"}, nil),
			groupMetric("b", []string{"organization"}, nil),
			groupMetric("c", []string{"user"}, nil),
		}, `metrics[2]: metric "c" shares no randomization unit with the metrics before it`},
		{"first metric without units", GroupStandard, []GroupMetric{groupMetric("a", nil, nil), groupMetric("b", user, nil)}, `metrics[1]: metric "b" shares no randomization unit with the metrics before it`},
		{"no shared unit in a funnel", GroupFunnel, []GroupMetric{groupMetric("a", user, nil), groupMetric("b", []string{"device"}, nil)}, `metrics[1]: metric "b" shares no randomization unit with the metrics before it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before [][]string
			for _, m := range tt.metrics {
				before = append(before, slices.Clone(m.Def.RandomizationUnits))
			}
			err := validateGroupMetrics(tt.kind, tt.metrics)
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Fatalf("validateGroupMetrics error mismatch (-want +got):\n%s", diff)
			}
			if err != nil && core.KindOf(err) != core.KindInvalid {
				t.Errorf("core.KindOf = %v, want core.KindInvalid", core.KindOf(err))
			}
			for i, m := range tt.metrics {
				if !slices.Equal(before[i], m.Def.RandomizationUnits) {
					t.Errorf("metrics[%d].randomizationUnits changed from %v to %v", i, before[i], m.Def.RandomizationUnits)
				}
			}
		})
	}
}

func TestSlugKey(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Checkout funnel", "checkout-funnel"},
		{"Weekly KPIs!", "weekly-kpis"},
		{"  Leading and trailing  ", "leading-and-trailing"},
		{"A--B__C..D", "a-b-c-d"},
		{"snake_case.name", "snake-case-name"},
		{"already-a-key", "already-a-key"},
		{"2024 Q1 / mobile", "2024-q1-mobile"},
		{"UPPER lower 123", "upper-lower-123"},
		{"Checkout: Mobile / Web", "checkout-mobile-web"},
		{"Café au lait", "caf-au-lait"},
		{"ÜBER", "ber"},
		{"日本語 group", "group"},
		{"x", "x"},
		{"!!!", ""},
		{"   ", ""},
		{"", ""},
		{"日本語", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slugKey(tt.name)
			if got != tt.want {
				t.Errorf("slugKey(%q) = %q, want %q", tt.name, got, tt.want)
			}
			if got != "" {
				if err := core.ValidateKey("key", got); err != nil {
					t.Errorf("slugKey(%q) = %q is not a valid key: %v", tt.name, got, err)
				}
			}
		})
	}
}

func TestSlugKeyLong(t *testing.T) {
	for _, name := range []string{
		strings.Repeat("a", 300),
		strings.Repeat("ab ", 100),
		strings.Repeat("a ", 150),
		strings.Repeat("Name-", 80),
		strings.Repeat("é", 100) + strings.Repeat("word ", 60),
	} {
		// full is the slug without the length cap.
		words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
			return (r < 'a' || r > 'z') && (r < '0' || r > '9')
		})
		full := strings.Join(words, "-")
		got := slugKey(name)
		if len(got) < 200 || len(got) > 201 {
			t.Errorf("slugKey of %d characters: length %d, want 200 (or 201 when a separator and a character are added together)", len(name), len(got))
		}
		if !strings.HasPrefix(full, got) {
			t.Errorf("slugKey(%.40q…) = %.40q… is not a prefix of the full slug", name, got)
		}
		if strings.HasSuffix(got, "-") || strings.HasPrefix(got, "-") || strings.Contains(got, "--") {
			t.Errorf("slugKey(%.40q…) = %q has a stray separator", name, got)
		}
		// Room is left for the -N suffix of a repeated name.
		if err := core.ValidateKey("key", got+"-100"); err != nil {
			t.Errorf("slugKey(%.40q…) with a suffix is not a valid key: %v", name, err)
		}
	}
	if got, want := slugKey(strings.Repeat("a", 300)), strings.Repeat("a", 200); got != want {
		t.Errorf("slugKey(300 a's) = %d characters, want exactly 200", len(got))
	}
	if got, want := slugKey(strings.Repeat("ab ", 100)), strings.TrimSuffix(strings.Repeat("ab-", 67), "-"); got != want {
		t.Errorf("slugKey(\"ab \" × 100) = %q, want %q", got, want)
	}
}

func TestValidateGroupShapeLengthsInCharacters(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(d *GroupDef)
	}{
		{"name", func(d *GroupDef) { d.Name = strings.Repeat("é", 200) }},
		{"description", func(d *GroupDef) { d.Description = strings.Repeat("é", 3000) }},
		{"nameInGroup", func(d *GroupDef) { d.Metrics[0].NameInGroup = strings.Repeat("é", 200) }},
	} {
		d := groupShapeDef(c.change)
		if err := validateGroupShape(&d); err != nil {
			t.Errorf("%s of 200 or 3000 two-byte characters: %v", c.name, err)
		}
	}
}

// TestGroupDocumentMatchesPatchDocument: the audit log's group document,
// written directly, is the document JSON Patch applies to.
func TestGroupDocumentMatchesPatchDocument(t *testing.T) {
	for _, def := range []GroupDef{
		{},
		{Name: "G", Kind: GroupFunnel, Tags: []string{"a"}, MaintainerID: "m", Metrics: []GroupMetricIn{{Key: "a", NameInGroup: "step 1"}}},
		{Name: "T", Kind: GroupStandard, Description: "<d>", MaintainerTeamKey: "core", Metrics: []GroupMetricIn{}},
	} {
		g := &MetricGroup{ID: "g1", Key: "g", Version: 2, CreatedAt: time.UnixMilli(1700000000001), UpdatedAt: time.UnixMilli(1700000000002), Def: def}
		doc, err := groupPatchDocument(g)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(doc)
		var a, b any
		if err := json.Unmarshal(want, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(GroupDocument(g), &b); err != nil {
			t.Fatalf("GroupDocument is not JSON: %v: %s", err, GroupDocument(g))
		}
		if d := cmp.Diff(a, b); d != "" {
			t.Errorf("GroupDocument(%+v) (-groupPatchDocument +GroupDocument):\n%s", def, d)
		}
	}
}
