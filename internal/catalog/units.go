package catalog

import (
	"slices"
)

// LaunchDarkly's newer API calls a metric's randomization units its
// analysis units. metricsd accepts either name on writes, stores only
// RandomizationUnits and renders the value under both names.

// mergeUnitNames folds AnalysisUnits into RandomizationUnits. An empty list
// counts as not given. When both are given and name different sets of
// context kinds, AnalysisUnits is left in place for validateUnitNames to
// refuse; otherwise it is cleared.
func mergeUnitNames(d *MetricDef) {
	switch {
	case len(d.AnalysisUnits) == 0:
	case len(d.RandomizationUnits) == 0:
		d.RandomizationUnits = d.AnalysisUnits
	case !sameSet(d.AnalysisUnits, d.RandomizationUnits):
		return
	}
	d.AnalysisUnits = nil
}

// validateUnitNames refuses a definition whose two unit lists disagree.
func validateUnitNames(d *MetricDef) error {
	if len(d.AnalysisUnits) > 0 {
		return invalidAt("randomizationUnits", "analysisUnits and randomizationUnits are two names of one field; given together they must list the same context kinds")
	}
	return nil
}

// reconcilePatchedUnits decides, after a patch, which unit list the client
// changed: the patch document shows both equal to prev. A changed
// analysisUnits replaces an unchanged randomizationUnits; when both changed
// they must agree (mergeUnitNames and validateUnitNames see to it).
func reconcilePatchedUnits(d *MetricDef, prev []string) {
	analysisChanged := !slices.Equal(d.AnalysisUnits, prev)
	randomizationChanged := !slices.Equal(d.RandomizationUnits, prev)
	switch {
	case !analysisChanged:
		d.AnalysisUnits = nil
	case !randomizationChanged:
		d.RandomizationUnits, d.AnalysisUnits = d.AnalysisUnits, nil
	}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
