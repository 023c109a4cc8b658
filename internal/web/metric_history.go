package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// metricHistory is the version history section of a metric's page: one
// page of versions, the form that picks two, and their diff.
type metricHistory struct {
	Versions []historyRow
	Pager    pager
	// Choices are the versions the form's two menus offer: those of the
	// page, and the chosen ones wherever they are.
	Choices []catalog.MetricVersion
	// FromID and ToID are the chosen versions ("" for none).
	FromID, ToID string
	// VOffset is the history page's offset, kept by the form.
	VOffset int
	Diff    *versionDiff
	Error   string
}

// historyRow is one version in the history table.
type historyRow struct {
	catalog.MetricVersion
	// Compare shows the changes this version made, "" for the first.
	Compare string
	// Chosen marks the two versions of the diff shown.
	Chosen bool
}

// diffLine is one line of a value; Changed marks what the other side
// lacks (every line of a changed scalar, only the items gained or lost of
// a list of words).
type diffLine struct {
	Text    string
	Changed bool
}

// lines marks every line of vs changed but those of keep.
func lines(vs []string, keep []string) []diffLine {
	out := make([]diffLine, len(vs))
	for i, v := range vs {
		out[i] = diffLine{Text: v, Changed: !slices.Contains(keep, v)}
	}
	return out
}

// versionDiff is the readable form of catalog.VersionDiff.
type versionDiff struct {
	From, To *catalog.Metric
	Rows     []diffRow
}

// diffRow is one changed field.
type diffRow struct {
	Field string
	// Path is the JSON Pointer of the field in the definition.
	Path string
	// Before and After are the field's values, each as lines; Absent*
	// marks a field only one side has.
	Before, After             []diffLine
	AbsentBefore, AbsentAfter bool
	// Added and Removed are the items a list of words gained and lost.
	Added, Removed []string
}

// By names the version's author.
func (v historyRow) By() string {
	if a := v.Author; a != nil {
		if n := strings.TrimSpace(a.FirstName + " " + a.LastName); n != "" {
			return n
		}
		return a.Email
	}
	if v.AuthorEmail != "" {
		return v.AuthorEmail
	}
	return "metricsd"
}

// metricHistory reads one page of the metric's versions (the query's
// vOffset) and the diff of the query's from and to, by default the
// latest change. A version that does not exist is the section's error.
func (u *UI) metricHistory(r *http.Request, d *metricData, q url.Values) error {
	ctx, h := r.Context(), &d.History
	off, err := queryOffset(q, "vOffset")
	if err != nil {
		return err
	}
	h.VOffset = off
	// One more than a page, so that the last row knows its predecessor.
	rows, total, err := u.svc.Metrics.ListMetricVersions(ctx, d.Project, d.Metric.Key, core.Page{Limit: metricVersionsPage + 1, Offset: off})
	if err != nil {
		return err
	}
	h.Pager = newPager(d.Self, q, total, off, metricVersionsPage)
	h.Pager.Prev = historyPageLink(d.Self, q, "vOffset", off-metricVersionsPage, off > 0)
	h.Pager.Next = historyPageLink(d.Self, q, "vOffset", off+metricVersionsPage, off+metricVersionsPage < total)

	h.FromID, h.ToID = strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
	if h.FromID == "" && h.ToID == "" && total > 1 {
		// By default, the latest change.
		latest := rows
		if off > 0 {
			if latest, _, err = u.svc.Metrics.ListMetricVersions(ctx, d.Project, d.Metric.Key, core.Page{Limit: 2}); err != nil {
				return err
			}
		}
		if len(latest) >= 2 {
			h.FromID, h.ToID = latest[1].VersionID, latest[0].VersionID
		}
	}
	for i, v := range rows[:min(len(rows), metricVersionsPage)] {
		row := historyRow{MetricVersion: v}
		if i+1 < len(rows) {
			row.Compare = withQuery(d.Self, q, "from", rows[i+1].VersionID, "to", v.VersionID) + "#diff"
		}
		h.Versions = append(h.Versions, row)
		h.Choices = append(h.Choices, v)
	}
	if h.FromID == "" && h.ToID == "" {
		return nil
	}
	if h.FromID == "" {
		return core.Errorf(core.KindInvalid, "choose the version to compare from")
	}
	for _, p := range []struct{ name, id string }{{"from", h.FromID}, {"to", h.ToID}} {
		if !versionIDShape(p.id) {
			return core.Errorf(core.KindInvalid, "%s must be a version ID: at most 128 letters, digits and dashes", p.name)
		}
	}
	diff, err := u.svc.Metrics.DiffMetricVersions(ctx, d.Project, d.Metric.Key, h.FromID, h.ToID)
	if err != nil {
		return err
	}
	if h.ToID == "" {
		h.ToID = diff.To.VersionID
	}
	vd, err := readableDiff(diff)
	if err != nil {
		return err
	}
	if err := u.nameMaintainers(ctx, vd); err != nil {
		return err
	}
	h.Diff = vd
	for i := range h.Versions {
		id := h.Versions[i].VersionID
		h.Versions[i].Chosen = id == diff.From.VersionID || id == diff.To.VersionID
	}
	// The chosen versions stay in the menus on every page.
	for _, m := range []*catalog.Metric{diff.From, diff.To} {
		if !slices.ContainsFunc(h.Choices, func(v catalog.MetricVersion) bool { return v.VersionID == m.VersionID }) {
			h.Choices = append(h.Choices, catalog.MetricVersion{Version: m.Version, VersionID: m.VersionID, CreatedAt: m.UpdatedAt, Comment: m.Comment})
		}
	}
	slices.SortFunc(h.Choices, func(a, b catalog.MetricVersion) int { return b.Version - a.Version })
	return nil
}

// nameMaintainers shows a changed maintainer member by name and email
// where the principal may see members; a member since deleted stays an ID.
func (u *UI) nameMaintainers(ctx context.Context, vd *versionDiff) error {
	for i := range vd.Rows {
		row := &vd.Rows[i]
		if row.Path != "/maintainerId" {
			continue
		}
		for _, side := range [][]diffLine{row.Before, row.After} {
			for j := range side {
				id := side[j].Text
				if !can(ctx, action.ViewMember, resource.Member(id)) {
					continue
				}
				m, err := u.svc.Members.GetMember(ctx, id)
				if core.KindOf(err) == core.KindNotFound {
					continue
				}
				if err != nil {
					return err
				}
				name := strings.TrimSpace(m.FirstName + " " + m.LastName)
				if name == "" {
					side[j].Text = m.Email
				} else {
					side[j].Text = name + " (" + m.Email + ")"
				}
			}
		}
		row.Field = "Maintainer"
	}
	return nil
}

// versionIDShape reports whether s could be a version ID (a UUID today):
// letters, digits and dashes, at most 128. Anything else is refused before
// it reaches the store, which would fail on a NUL or invalid UTF-8.
func versionIDShape(s string) bool {
	if len(s) > 128 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' {
			return false
		}
	}
	return true
}

// historyPageLink is base with the query q and name set to off ("" for 0), or ""
// when ok is false.
func historyPageLink(base string, q url.Values, name string, off int, ok bool) string {
	if !ok {
		return ""
	}
	v := ""
	if off > 0 {
		v = strconv.Itoa(off)
	}
	return withQuery(base, q, name, v) + "#history"
}

// fieldLabels name the metric definition's fields (their wire names).
func fieldLabel(name string) string {
	switch name {
	case "name":
		return "Name"
	case "description":
		return "Description"
	case "category":
		return "Category"
	case "tags":
		return "Tags"
	case "maintainerId":
		return "Maintainer (member ID)"
	case "maintainerTeamKey":
		return "Maintainer team"
	case "isNumeric":
		return "Numeric"
	case "unit":
		return "Unit"
	case "successCriteria":
		return "Success criteria"
	case "eventKey":
		return "Event key"
	case "selector":
		return "CSS selector"
	case "urls":
		return "URLs"
	case "traceQuery":
		return "Trace query"
	case "traceValueLocation":
		return "Trace value location"
	case "randomizationUnits":
		return "Randomization units"
	case "unitAggregationType":
		return "Unit aggregation"
	case "analysisType":
		return "Analysis type"
	case "percentileValue":
		return "Percentile"
	case "eventDefault":
		return "Units without events"
	case "dataSource":
		return "Data source"
	case "filters":
		return "Filters"
	case "archived":
		return "Archived"
	}
	return name
}

// readableDiff turns the JSON Patch between two versions into one row per
// changed field, with the field's value on each side.
func readableDiff(vd *catalog.VersionDiff) (*versionDiff, error) {
	var from, to any
	if err := decodeDoc(vd.From.Def, &from); err != nil {
		return nil, err
	}
	if err := decodeDoc(vd.To.Def, &to); err != nil {
		return nil, err
	}
	out := &versionDiff{From: vd.From, To: vd.To}
	for _, op := range vd.Patch {
		tokens := pointerTokens(op.Path)
		labels := make([]string, len(tokens))
		for i, t := range tokens {
			labels[i] = t
			if i == 0 {
				labels[i] = fieldLabel(t)
			}
		}
		row := diffRow{Field: strings.Join(labels, " › "), Path: op.Path}
		b, okB := lookup(from, tokens)
		a, okA := lookup(to, tokens)
		row.AbsentBefore, row.AbsentAfter = !okB, !okA
		var before, after []string
		if okB {
			before = valueLines(b)
		}
		if okA {
			after = valueLines(a)
		}
		row.Before, row.After = lines(before, nil), lines(after, nil)
		if bs, ok := words(b); ok && okB && okA {
			if as, ok := words(a); ok {
				row.Added, row.Removed = setDiff(as, bs), setDiff(bs, as)
				row.Before, row.After = lines(before, as), lines(after, bs)
			}
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// decodeDoc turns a definition into its JSON document's generic form.
func decodeDoc(def catalog.MetricDef, v *any) error {
	b, err := json.Marshal(def)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// pointerTokens splits a JSON Pointer into its unescaped tokens.
func pointerTokens(p string) []string {
	if p == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// lookup resolves pointer tokens in a generic JSON value.
func lookup(v any, tokens []string) (any, bool) {
	for _, t := range tokens {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[t]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// valueLines renders a JSON value for reading: text as it is, yes/no for
// booleans, a list one item a line, anything else as compact JSON.
func valueLines(v any) []string {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return []string{"(none)"}
		}
		var out []string
		for _, item := range x {
			out = append(out, valueText(item))
		}
		return out
	}
	return []string{valueText(v)}
}

func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		if x == "" {
			return `""`
		}
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case json.Number:
		return x.String()
	case map[string]any:
		// A URL matcher reads as its kind and its one value.
		if k, ok := x["kind"].(string); ok && len(x) <= 2 {
			for _, f := range []string{"url", "substring", "pattern"} {
				if s, ok := x[f].(string); ok {
					return fmt.Sprintf("%s: %s", k, s)
				}
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// words returns a list of strings as such.
func words(v any) ([]string, bool) {
	x, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(x))
	for _, item := range x {
		s, ok := item.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// setDiff lists the items of a that b lacks, in a's order.
func setDiff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
