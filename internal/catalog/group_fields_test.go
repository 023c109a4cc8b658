package catalog

import (
	"testing"

	"github.com/metricsd/metricsd/internal/core"
)

// TestGroupErrorsNameTheirField: the group rules' refusals say which field
// of the definition they are about, for forms (the API's bodies do not
// carry it).
func TestGroupErrorsNameTheirField(t *testing.T) {
	two := []GroupMetricIn{{Key: "a", NameInGroup: "A"}, {Key: "b", NameInGroup: "B"}}
	for _, c := range []struct {
		def   GroupDef
		field string
	}{
		{GroupDef{Kind: GroupFunnel, MaintainerID: "m", Metrics: two}, "name"},
		{GroupDef{Name: "n", Kind: "odd", MaintainerID: "m", Metrics: two}, "kind"},
		{GroupDef{Name: "n", Kind: GroupFunnel, MaintainerID: "m", Metrics: two[:1]}, "metrics"},
		{GroupDef{Name: "n", Kind: GroupFunnel, MaintainerID: "m", Metrics: []GroupMetricIn{{Key: "a", NameInGroup: "A"}, {Key: "b"}}}, "metrics[1].nameInGroup"},
		{GroupDef{Name: "n", Kind: GroupStandard, MaintainerID: "m", Metrics: []GroupMetricIn{{Key: "a"}, {Key: "a"}}}, "metrics[1]"},
		{GroupDef{Name: "n", Kind: GroupStandard, Metrics: two}, "maintainerId"},
	} {
		err := validateGroupShape(&c.def)
		if core.KindOf(err) != core.KindInvalid || core.FieldOf(err) != c.field {
			t.Errorf("%+v: %v (field %q), want field %q", c.def, err, core.FieldOf(err), c.field)
		}
	}
	numeric := []GroupMetric{{Metric: Metric{Key: "a", Def: MetricDef{RandomizationUnits: []string{"user"}}}},
		{Metric: Metric{Key: "b", Def: MetricDef{IsNumeric: true, RandomizationUnits: []string{"user"}}}}}
	if err := validateGroupMetrics(GroupFunnel, numeric); core.FieldOf(err) != "metrics[1]" {
		t.Errorf("numeric funnel step: %v (field %q)", err, core.FieldOf(err))
	}
}
