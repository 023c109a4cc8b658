package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// metricForm is what the create and edit forms hold, as the person typed
// it: a form shown again after a refusal shows exactly this.
type metricForm struct {
	Key, Kind, Name, Description string
	// Measure is "conversion" or "numeric" (custom and trace metrics).
	Measure                        string
	EventKey                       string
	SuccessCriteria, Unit          string
	UnitAggregation                string
	AnalysisType, Percentile       string
	Units                          string // context kinds, comma-separated
	URLs                           []urlRow
	Selector                       string
	TraceQuery, TraceValueLocation string
	Tags                           string // comma-separated
	// MaintainerKind is "member" or "team"; Maintainer is the member's
	// email (or ID), MaintainerTeam the team's key.
	MaintainerKind, Maintainer, MaintainerTeam string
	Archived                                   bool
	Comment                                    string
	// Version is the _version the edit form was made from.
	Version int
}

// urlRow is one URL matcher row: its kind and the URL, substring or
// pattern the kind takes.
type urlRow struct {
	Kind, Value string
	Error       string
}

// urlKinds are the kinds of URL matcher, in the form's order.
func urlKinds() []string { return []string{"exact", "canonical", "substring", "regex"} }

// metricFormKinds are the metric kinds the form offers.
func metricFormKinds() []string { return catalog.MetricKinds }

// formOf fills the form from a stored metric (the edit form's start).
func formOf(m *catalog.Metric) metricForm {
	d := m.Def
	f := metricForm{
		Key: m.Key, Kind: m.Kind, Name: d.Name, Description: d.Description, EventKey: d.EventKey,
		Measure: "conversion", SuccessCriteria: d.SuccessCriteria, Unit: d.Unit, UnitAggregation: d.UnitAggregationType,
		AnalysisType: d.AnalysisType, Units: strings.Join(d.RandomizationUnits, ", "), Selector: d.Selector,
		TraceQuery: d.TraceQuery, TraceValueLocation: d.TraceValueLocation, Tags: strings.Join(d.Tags, ", "),
		MaintainerKind: "member", Archived: d.Archived, Version: m.Version,
	}
	if d.IsNumeric {
		f.Measure = "numeric"
	}
	if d.PercentileValue != nil {
		f.Percentile = strconv.Itoa(*d.PercentileValue)
	}
	for _, u := range d.URLs {
		v := u.URL
		switch u.Kind {
		case "substring":
			v = u.Substring
		case "regex":
			v = u.Pattern
		}
		f.URLs = append(f.URLs, urlRow{Kind: u.Kind, Value: v})
	}
	switch {
	case d.MaintainerTeamKey != "":
		f.MaintainerKind, f.MaintainerTeam = "team", d.MaintainerTeamKey
	case m.Maintainer != nil:
		f.Maintainer = m.Maintainer.Email
	default:
		f.Maintainer = d.MaintainerID
	}
	return f
}

// newForm is the create form's start for kind.
func newForm(kind string) metricForm {
	if !slices.Contains(catalog.MetricKinds, kind) {
		kind = catalog.KindCustom
	}
	return metricForm{Kind: kind, Measure: "conversion", UnitAggregation: "average", AnalysisType: "mean", Units: "user", MaintainerKind: "member"}
}

// readForm reads a posted form. Blank URL rows are left out, so that the
// rows' positions are those of the definition's urls.
func readForm(r *http.Request) metricForm {
	v := r.PostForm
	g := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	f := metricForm{
		Key: g("key"), Kind: g("kind"), Name: g("name"), Description: strings.TrimSpace(strings.ReplaceAll(v.Get("description"), "\r\n", "\n")),
		Measure: g("measure"), EventKey: g("eventKey"), SuccessCriteria: g("successCriteria"), Unit: g("unit"),
		UnitAggregation: g("unitAggregation"), AnalysisType: g("analysisType"), Percentile: g("percentile"), Units: g("units"),
		Selector: g("selector"), TraceQuery: g("traceQuery"), TraceValueLocation: g("traceValueLocation"), Tags: g("tags"),
		MaintainerKind: g("maintainerKind"), Maintainer: g("maintainer"), MaintainerTeam: g("maintainerTeam"),
		Archived: v.Get("archived") == "on", Comment: g("comment"),
	}
	f.Version, _ = strconv.Atoi(g("version"))
	kinds, values := v["urlKind"], v["urlValue"]
	for i := range min(len(kinds), len(values), maxURLRows) {
		row := urlRow{Kind: strings.TrimSpace(kinds[i]), Value: strings.TrimSpace(values[i])}
		if row.Value != "" {
			f.URLs = append(f.URLs, row)
		}
	}
	return f
}

// checkText refuses, beside its field, text no store can hold: invalid
// UTF-8 and U+0000 (the API refuses them in its JSON bodies alike).
func checkText(v url.Values, errs *formErrors) {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, s := range v[k] {
			if utf8.ValidString(s) && !strings.ContainsRune(s, 0) && utf8.ValidString(k) && !strings.ContainsRune(k, 0) {
				continue
			}
			field := k
			switch k {
			case "urlKind", "urlValue":
				field = "urls"
			case "key", "kind", "name", "description", "eventKey", "successCriteria", "unit", "unitAggregation", "analysisType",
				"percentile", "units", "selector", "traceQuery", "traceValueLocation", "tags", "maintainer", "maintainerTeam", "measure":
			default:
				errs.Other = "the form holds text that is not valid UTF-8 or contains NUL characters"
				return
			}
			errs.set(field, "must be valid UTF-8 text without NUL characters")
		}
	}
}

// maxURLRows bounds the URL rows a form may send.
const maxURLRows = 100

// splitList splits a comma- or space-separated list, dropping blanks.
func splitList(s string) []string {
	sep := func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }
	return append([]string{}, strings.FieldsFunc(s, sep)...)
}

// formErrors are a form's refusals: by form field, and one not about any.
type formErrors struct {
	Fields map[string]string
	Other  string
}

func (e *formErrors) set(field, msg string) {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = msg
	}
}

func (e *formErrors) any() bool { return len(e.Fields) > 0 || e.Other != "" }

// rowField matches the definition field of one URL row: "urls[3]...".
var rowField = regexp.MustCompile(`^urls\[(\d+)\]`)

// formFieldOf maps the field a catalog error names (wire names) to the
// form's field.
func formFieldOf(field string) (string, int) {
	if m := rowField.FindStringSubmatch(field); m != nil {
		i, _ := strconv.Atoi(m[1])
		return "urls", i
	}
	name, _, _ := strings.Cut(field, "[")
	name, _, _ = strings.Cut(name, ".")
	switch name {
	case "key", "kind", "name", "description", "eventKey", "successCriteria", "unit", "analysisType", "selector", "traceQuery", "traceValueLocation", "tags", "urls":
		return name, -1
	case "isNumeric":
		return "measure", -1
	case "unitAggregationType":
		return "unitAggregation", -1
	case "percentileValue":
		return "percentile", -1
	case "randomizationUnits", "analysisUnits":
		return "units", -1
	case "maintainerId":
		return "maintainer", -1
	case "maintainerTeamKey":
		return "maintainerTeam", -1
	}
	return "", -1
}

// place puts a catalog error beside the field it is about, or above the
// form when it names none the form has.
func (e *formErrors) place(f *metricForm, err error) {
	field, row := formFieldOf(core.FieldOf(err))
	msg := err.Error()
	if core.KindOf(err) == core.KindInternal {
		msg = "Something went wrong on the server; try again later."
	}
	switch {
	case field == "urls" && row >= 0 && row < len(f.URLs):
		f.URLs[row].Error = msg
		e.set("urls", "A URL below is refused.")
	case field == "maintainer" && f.MaintainerKind == "team":
		e.set("maintainerTeam", msg)
	case field != "":
		e.set(field, msg)
	default:
		e.Other = msg
	}
}

// numericKind reports whether metrics of kind may measure a number.
func numericKind(kind string) bool { return kind == catalog.KindCustom || kind == catalog.KindTrace }

// definition builds the metric definition the form describes on top of
// base (the current version's, for an edit): only the fields of the form's
// kind are taken, so fields of other kinds that a browser without
// JavaScript still shows are ignored. Fields the form does not show
// (filters, data source, event default) keep base's values.
func (u *UI) definition(ctx context.Context, f *metricForm, kind string, base catalog.MetricDef, current *catalog.Metric, errs *formErrors) catalog.MetricDef {
	d := base
	d.Name, d.Description = f.Name, f.Description
	d.Tags = splitList(f.Tags)
	d.RandomizationUnits, d.AnalysisUnits = splitList(f.Units), nil
	d.IsNumeric = numericKind(kind) && f.Measure == "numeric"
	if numericKind(kind) && f.Measure != "numeric" && f.Measure != "conversion" {
		errs.set("measure", "choose conversion or numeric")
	}
	d.SuccessCriteria = f.SuccessCriteria
	d.Unit = ""
	if d.IsNumeric {
		d.Unit = f.Unit
	}
	d.UnitAggregationType = f.UnitAggregation
	d.AnalysisType, d.PercentileValue = f.AnalysisType, nil
	if f.AnalysisType == "percentile" && f.Percentile != "" {
		n, err := strconv.Atoi(f.Percentile)
		if err != nil {
			errs.set("percentile", "the percentile must be a whole number from 0 to 100")
		} else {
			d.PercentileValue = &n
		}
	}
	d.EventKey = ""
	if kind == catalog.KindCustom {
		d.EventKey = f.EventKey
	}
	d.URLs = nil
	if kind == catalog.KindPageview || kind == catalog.KindClick {
		for _, row := range f.URLs {
			m := catalog.URLMatcher{Kind: row.Kind}
			switch row.Kind {
			case "substring":
				m.Substring = row.Value
			case "regex":
				m.Pattern = row.Value
			default:
				m.URL = row.Value
			}
			d.URLs = append(d.URLs, m)
		}
	}
	d.Selector = ""
	if kind == catalog.KindClick {
		d.Selector = f.Selector
	}
	d.TraceQuery, d.TraceValueLocation = "", ""
	if kind == catalog.KindTrace {
		d.TraceQuery = f.TraceQuery
		if d.IsNumeric {
			d.TraceValueLocation = f.TraceValueLocation
		}
	}
	d.Archived = f.Archived
	d.MaintainerID, d.MaintainerTeamKey = "", ""
	switch f.MaintainerKind {
	case "team":
		d.MaintainerTeamKey = f.MaintainerTeam
		if d.MaintainerTeamKey == "" {
			errs.set("maintainerTeam", "enter the key of the team that maintains the metric")
		}
	case "member", "":
		id, err := u.memberID(ctx, f.Maintainer, current)
		if err != "" {
			errs.set("maintainer", err)
		}
		d.MaintainerID = id
	default:
		errs.set("maintainer", "choose a member or a team")
	}
	return d
}

// memberID resolves the maintainer field: a member's email or ID. ""
// leaves the choice to the catalog (the acting member on create). Emails
// are looked up only for principals that may see members; anybody may name
// themselves or keep the current maintainer.
func (u *UI) memberID(ctx context.Context, in string, current *catalog.Metric) (string, string) {
	if in == "" {
		return "", ""
	}
	if !strings.Contains(in, "@") {
		return in, ""
	}
	if current != nil && current.Maintainer != nil && strings.EqualFold(current.Maintainer.Email, in) {
		return current.Maintainer.ID, ""
	}
	p := core.PrincipalFrom(ctx)
	if strings.EqualFold(p.Email, in) && p.MemberID != "" {
		return p.MemberID, ""
	}
	if !can(ctx, action.ViewMember, resource.Spec{Segments: []resource.Segment{{Kind: resource.KindMember, Name: "*"}}}) {
		return "", "you may not look members up by email; enter the member's ID"
	}
	ms, _, err := u.svc.Members.ListMembers(ctx, account.MemberQuery{Page: core.Page{Limit: 2}, Emails: []string{in}})
	if err != nil {
		return "", "the member could not be looked up; try again"
	}
	if len(ms) == 0 {
		return "", fmt.Sprintf("no member has the email %s", in)
	}
	return ms[0].ID, ""
}

// choices are the suggestions of the maintainer fields: the first members
// and teams the principal may see (a datalist; any other may be typed).
type choices struct {
	Members []account.MemberDetail
	Teams   []account.Team
}

// maxChoices bounds the suggestions read for a form.
const maxChoices = 100

func (u *UI) maintainerChoices(ctx context.Context) choices {
	var c choices
	all := func(k resource.Kind) resource.Spec {
		return resource.Spec{Segments: []resource.Segment{{Kind: k, Name: "*"}}}
	}
	// Suggestions are a convenience: failing to read them leaves them out.
	if can(ctx, action.ViewMember, all(resource.KindMember)) {
		c.Members, _, _ = u.svc.Members.ListMembers(ctx, account.MemberQuery{Page: core.Page{Limit: maxChoices}, Sort: []core.SortKey{{Field: "displayName"}}})
	}
	if can(ctx, action.ViewTeam, all(resource.KindTeam)) {
		c.Teams, _, _ = u.svc.Teams.ListTeams(ctx, account.TeamQuery{Page: core.Page{Limit: maxChoices}})
	}
	return c
}
