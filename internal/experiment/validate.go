package experiment

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/core"
)

// Bounds of experiment input.
const (
	maxName        = 256
	maxDescription = 4096
	maxMetrics     = 50
	maxTreatments  = 20
	maxAttributes  = 50
	maxTags        = 50
)

// DefaultRandomizationUnit is the unit an iteration randomizes by when it
// names none, as in LaunchDarkly.
const DefaultRandomizationUnit = "user"

func invalid(format string, args ...any) error { return core.Errorf(core.KindInvalid, format, args...) }

// ExperimentPost is LaunchDarkly's ExperimentPost.
type ExperimentPost struct {
	Key          string          `json:"key"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	MaintainerID string          `json:"maintainerId"`
	HoldoutID    string          `json:"holdoutId"`
	Tags         []string        `json:"tags"`
	Iteration    *IterationInput `json:"iteration"`
}

// IterationInput is LaunchDarkly's IterationInput.
type IterationInput struct {
	Hypothesis             *string              `json:"hypothesis"`
	CanReshuffleTraffic    *bool                `json:"canReshuffleTraffic"`
	Flags                  map[string]FlagInput `json:"flags"`
	Metrics                []MetricInput        `json:"metrics"`
	PrimarySingleMetricKey string               `json:"primarySingleMetricKey"`
	PrimaryFunnelKey       string               `json:"primaryFunnelKey"`
	RandomizationUnit      string               `json:"randomizationUnit"`
	Attributes             []string             `json:"attributes"`
	Treatments             []TreatmentInput     `json:"treatments"`
}

// MetricInput is LaunchDarkly's MetricInput.
type MetricInput struct {
	Key     string `json:"key"`
	IsGroup bool   `json:"isGroup"`
	Primary *bool  `json:"primary"`
}

// TreatmentInput is LaunchDarkly's TreatmentInput.
type TreatmentInput struct {
	Name              string      `json:"name"`
	Baseline          *bool       `json:"baseline"`
	AllocationPercent *string     `json:"allocationPercent"`
	Parameters        []Parameter `json:"parameters"`
}

func validateName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", invalid("%s is required", field)
	case utf8.RuneCountInString(name) > maxName:
		return "", invalid("%s must be at most %d characters", field, maxName)
	}
	return name, nil
}

func validateDescription(field, d string) error {
	if utf8.RuneCountInString(d) > maxDescription {
		return invalid("%s must be at most %d characters", field, maxDescription)
	}
	return nil
}

func validateTags(field string, tags []string) ([]string, error) {
	if len(tags) > maxTags {
		return nil, invalid("%s must list at most %d tags", field, maxTags)
	}
	out := []string{}
	for i, t := range tags {
		if err := core.ValidateKey(fmt.Sprintf("%s[%d]", field, i), t); err != nil {
			return nil, err
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// checkIterationShape checks the parts of an iteration that need no other
// resource and returns its definition; metric IDs are filled in later.
func checkIterationShape(field string, in *IterationInput) (*IterationDef, error) {
	if in == nil {
		return nil, invalid("%s is required", field)
	}
	d := &IterationDef{CanReshuffleTraffic: true, RandomizationUnit: DefaultRandomizationUnit, Attributes: []string{}, Flags: map[string]FlagInput{}}
	if in.Hypothesis == nil || strings.TrimSpace(*in.Hypothesis) == "" {
		return nil, invalid("%s.hypothesis is required", field)
	}
	if err := validateDescription(field+".hypothesis", *in.Hypothesis); err != nil {
		return nil, err
	}
	d.Hypothesis = *in.Hypothesis
	if in.CanReshuffleTraffic != nil {
		d.CanReshuffleTraffic = *in.CanReshuffleTraffic
	}
	if in.RandomizationUnit != "" {
		if err := core.ValidateKey(field+".randomizationUnit", in.RandomizationUnit); err != nil {
			return nil, err
		}
		d.RandomizationUnit = in.RandomizationUnit
	}
	if len(in.Attributes) > maxAttributes {
		return nil, invalid("%s.attributes must list at most %d attributes", field, maxAttributes)
	}
	for i, a := range in.Attributes {
		if strings.TrimSpace(a) == "" || utf8.RuneCountInString(a) > maxName {
			return nil, invalid("%s.attributes[%d] must be a non-empty name of at most %d characters", field, i, maxName)
		}
		if !slices.Contains(d.Attributes, a) {
			d.Attributes = append(d.Attributes, a)
		}
	}

	// Flags: metricsd runs an experiment on one flag, stored as given.
	switch len(in.Flags) {
	case 0:
		return nil, invalid("%s.flags must name the experiment's flag", field)
	case 1:
	default:
		return nil, invalid("%s.flags must name exactly one flag; metricsd runs each experiment on one flag", field)
	}
	for key, f := range in.Flags {
		ff := fmt.Sprintf("%s.flags[%q]", field, key)
		if err := core.ValidateKey(ff, key); err != nil {
			return nil, err
		}
		if f.RuleID == nil || *f.RuleID == "" {
			return nil, invalid("%s.ruleId is required", ff)
		}
		if f.FlagConfigVersion == nil {
			return nil, invalid("%s.flagConfigVersion is required", ff)
		}
		if *f.FlagConfigVersion < 0 {
			return nil, invalid("%s.flagConfigVersion must not be negative", ff)
		}
		d.Flags[key] = f
	}
	flagKey := d.FlagKey()

	// Metrics: keys only here; existence is checked against the store.
	if in.Metrics == nil {
		return nil, invalid("%s.metrics is required", field)
	}
	if len(in.Metrics) == 0 {
		return nil, invalid("%s.metrics must list at least one metric or metric group", field)
	}
	if len(in.Metrics) > maxMetrics {
		return nil, invalid("%s.metrics must list at most %d metrics", field, maxMetrics)
	}
	var primaries []MetricInput
	seen := map[MetricRef]bool{}
	for i, m := range in.Metrics {
		mf := fmt.Sprintf("%s.metrics[%d]", field, i)
		if m.Key == "" {
			return nil, invalid("%s.key is required", mf)
		}
		if err := core.ValidateKey(mf+".key", m.Key); err != nil {
			return nil, err
		}
		ref := MetricRef{Key: m.Key, IsGroup: m.IsGroup}
		if seen[ref] {
			return nil, invalid("%s: %s %q is listed twice", mf, kindWord(m.IsGroup), m.Key)
		}
		seen[ref] = true
		d.Metrics = append(d.Metrics, ref)
		if m.Primary != nil && *m.Primary {
			primaries = append(primaries, m)
		}
	}
	switch {
	case in.PrimarySingleMetricKey != "" && in.PrimaryFunnelKey != "":
		return nil, invalid("%s: name either primarySingleMetricKey or primaryFunnelKey, not both", field)
	case in.PrimarySingleMetricKey != "":
		if !seen[MetricRef{Key: in.PrimarySingleMetricKey}] {
			return nil, invalid("%s.primarySingleMetricKey %q must be one of the iteration's metrics (isGroup false)", field, in.PrimarySingleMetricKey)
		}
		d.PrimarySingleMetricKey = in.PrimarySingleMetricKey
	case in.PrimaryFunnelKey != "":
		if !seen[MetricRef{Key: in.PrimaryFunnelKey, IsGroup: true}] {
			return nil, invalid("%s.primaryFunnelKey %q must be one of the iteration's metric groups (isGroup true)", field, in.PrimaryFunnelKey)
		}
		d.PrimaryFunnelKey = in.PrimaryFunnelKey
	case len(primaries) == 1:
		// The deprecated form: one metric marked primary.
		if primaries[0].IsGroup {
			d.PrimaryFunnelKey = primaries[0].Key
		} else {
			d.PrimarySingleMetricKey = primaries[0].Key
		}
	case len(primaries) > 1:
		return nil, invalid("%s.metrics: only one metric may be marked primary", field)
	default:
		return nil, invalid("%s: primarySingleMetricKey or primaryFunnelKey is required", field)
	}

	// Treatments.
	if len(in.Treatments) == 0 {
		return nil, invalid("%s.treatments must list at least one treatment", field)
	}
	if len(in.Treatments) > maxTreatments {
		return nil, invalid("%s.treatments must list at most %d treatments", field, maxTreatments)
	}
	total := new(big.Rat)
	baselines := 0
	names := map[string]bool{}
	variations := map[string]bool{}
	for i, t := range in.Treatments {
		tf := fmt.Sprintf("%s.treatments[%d]", field, i)
		name, err := validateName(tf+".name", t.Name)
		if err != nil {
			return nil, err
		}
		if names[name] {
			return nil, invalid("%s.name %q is used by another treatment", tf, name)
		}
		names[name] = true
		if t.Baseline == nil {
			return nil, invalid("%s.baseline is required", tf)
		}
		if *t.Baseline {
			baselines++
		}
		if t.AllocationPercent == nil {
			return nil, invalid("%s.allocationPercent is required", tf)
		}
		pct, ok := new(big.Rat).SetString(strings.TrimSpace(*t.AllocationPercent))
		if !ok || strings.ContainsAny(*t.AllocationPercent, "/eE") || pct.Sign() < 0 || pct.Cmp(big.NewRat(100, 1)) > 0 {
			return nil, invalid("%s.allocationPercent must be a decimal number from 0 to 100, not %q", tf, *t.AllocationPercent)
		}
		total.Add(total, pct)
		if len(t.Parameters) == 0 {
			return nil, invalid("%s.parameters must name the flag variation the treatment serves", tf)
		}
		for j, p := range t.Parameters {
			pf := fmt.Sprintf("%s.parameters[%d]", tf, j)
			if p.FlagKey == "" || p.VariationID == "" {
				return nil, invalid("%s: flagKey and variationId are required", pf)
			}
			if p.FlagKey != flagKey {
				return nil, invalid("%s.flagKey %q must be the iteration's flag %q", pf, p.FlagKey, flagKey)
			}
		}
		id := t.Parameters[0].VariationID
		if variations[id] {
			return nil, invalid("%s: variation %q is served by another treatment", tf, id)
		}
		variations[id] = true
		d.Treatments = append(d.Treatments, Treatment{
			ID: id, Name: name, Baseline: *t.Baseline,
			AllocationPercent: strings.TrimSpace(*t.AllocationPercent), Parameters: t.Parameters,
		})
	}
	if baselines != 1 {
		return nil, invalid("%s.treatments must have exactly one baseline, not %d", field, baselines)
	}
	if total.Cmp(big.NewRat(100, 1)) != 0 {
		return nil, invalid("%s.treatments: allocationPercent must add up to 100, not %s", field, total.FloatString(2))
	}
	return d, nil
}

func kindWord(isGroup bool) string {
	if isGroup {
		return "metric group"
	}
	return "metric"
}

// resolveMetrics checks the iteration's metrics and groups against the
// project: they exist, metrics are not archived, the funnel primary is a
// funnel group, and every metric supports the randomization unit. It fills
// in their IDs and returns the entries the iteration shows before it
// starts.
func resolveMetrics(field string, d *IterationDef, metrics map[string]*MetricSnap, groups map[string]*GroupSnap) ([]Entry, error) {
	var entries []Entry
	for i := range d.Metrics {
		ref := &d.Metrics[i]
		mf := fmt.Sprintf("%s.metrics[%d]", field, i)
		if ref.IsGroup {
			g := groups[ref.Key]
			if g == nil {
				return nil, invalid("%s: unknown metric group %q in this project", mf, ref.Key)
			}
			if ref.Key == d.PrimaryFunnelKey && g.Kind != "funnel" {
				return nil, invalid("%s.primaryFunnelKey %q must name a funnel metric group, not a %s group", field, ref.Key, g.Kind)
			}
			for _, m := range g.Metrics {
				if err := checkMetric(fmt.Sprintf("%s (metric group %q)", mf, g.Key), d, &m.MetricSnap); err != nil {
					return nil, err
				}
			}
			ref.ID = g.ID
			entries = append(entries, Entry{Key: g.Key, IsGroup: true, Group: g})
			continue
		}
		m := metrics[ref.Key]
		if m == nil {
			return nil, invalid("%s: unknown metric %q in this project", mf, ref.Key)
		}
		if err := checkMetric(mf, d, m); err != nil {
			return nil, err
		}
		ref.ID = m.ID
		entries = append(entries, Entry{Key: m.Key, Metric: m})
	}
	return entries, nil
}

func checkMetric(field string, d *IterationDef, m *MetricSnap) error {
	if m.Archived {
		return invalid("%s: metric %q is archived", field, m.Key)
	}
	if !slices.Contains(m.RandomizationUnits, d.RandomizationUnit) {
		return invalid("%s: metric %q does not support randomization unit %q (it supports %s)", field, m.Key, d.RandomizationUnit, strings.Join(m.RandomizationUnits, ", "))
	}
	return nil
}

// keysOf returns the metric and the group keys an iteration names.
func keysOf(d *IterationDef) (metrics, groups []string) {
	for _, r := range d.Metrics {
		if r.IsGroup {
			groups = append(groups, r.Key)
		} else {
			metrics = append(metrics, r.Key)
		}
	}
	return metrics, groups
}
