package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

const auditPath = "/api/v2/auditlog"

// auditEntryRep is LaunchDarkly's AuditLogEntryListingRep; the detailed
// AuditLogEntryRep adds delta, previousVersion and currentVersion.
type auditEntryRep struct {
	Links            links            `json:"_links"`
	ID               string           `json:"_id"`
	AccountID        string           `json:"_accountId"`
	Date             int64            `json:"date"`
	Accesses         []resourceAccess `json:"accesses"`
	Kind             string           `json:"kind"`
	Name             string           `json:"name"`
	Description      string           `json:"description"`
	ShortDescription string           `json:"shortDescription"`
	Comment          string           `json:"comment,omitempty"`
	Member           *auditMemberRep  `json:"member,omitempty"`
	Token            *auditTokenRep   `json:"token,omitempty"`
	TitleVerb        string           `json:"titleVerb"`
	Title            string           `json:"title"`
	Target           auditTargetRep   `json:"target"`
	Parent           *auditParentRep  `json:"parent,omitempty"`
	Delta            *json.RawMessage `json:"delta,omitempty"`
	PreviousVersion  *json.RawMessage `json:"previousVersion,omitempty"`
	CurrentVersion   *json.RawMessage `json:"currentVersion,omitempty"`
	Subentries       *[]auditEntryRep `json:"subentries,omitempty"`
}

type resourceAccess struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

type auditMemberRep struct {
	Links     links  `json:"_links"`
	ID        string `json:"_id"`
	Email     string `json:"email"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
}

type auditTokenRep struct {
	Links        links  `json:"_links"`
	ID           string `json:"_id"`
	Name         string `json:"name"`
	Ending       string `json:"ending"`
	ServiceToken bool   `json:"serviceToken"`
}

type auditTargetRep struct {
	Links     links    `json:"_links"`
	Name      string   `json:"name"`
	Resources []string `json:"resources"`
}

type auditParentRep struct {
	Links    links  `json:"_links"`
	Name     string `json:"name"`
	Resource string `json:"resource"`
}

// resourceLink returns the API path of a concrete resource specifier that
// metricsd serves, or "".
func resourceLink(s resource.Spec) string {
	segs := s.Segments
	switch {
	case len(segs) == 1 && segs[0].Kind == resource.KindProject:
		return projectPath(segs[0].Name)
	case len(segs) == 1 && segs[0].Kind == resource.KindMember:
		return memberPath(segs[0].Name)
	case len(segs) == 1 && segs[0].Kind == resource.KindTeam:
		return teamPath(segs[0].Name)
	case len(segs) == 2 && segs[1].Kind == resource.KindEnvironment:
		return projectPath(segs[0].Name) + "/environments/" + url.PathEscape(segs[1].Name)
	case len(segs) == 2 && segs[1].Kind == resource.KindMetric:
		return metricsPath(segs[0].Name) + "/" + url.PathEscape(segs[1].Name)
	case len(segs) == 2 && segs[1].Kind == resource.KindMetricGroup:
		return groupPath(segs[0].Name, segs[1].Name)
	case len(segs) == 2 && segs[1].Kind == resource.KindView:
		return viewPath(segs[0].Name, segs[1].Name)
	}
	return ""
}

func newAuditEntryRep(e *audit.Entry, accountID string, detail bool) auditEntryRep {
	target := e.Target.Resource()
	rep := auditEntryRep{
		Links: links{"self": jsonLink(auditPath + "/" + url.PathEscape(e.ID))},
		ID:    e.ID, AccountID: accountID, Date: epochMS(e.Date), Kind: e.Target.Kind, Name: e.Target.Name,
		Description: e.Description, ShortDescription: e.ShortDescription, Comment: e.Comment,
		TitleVerb: e.TitleVerb, Title: e.Title(),
		Target: auditTargetRep{Links: links{}, Name: e.Target.Name, Resources: append([]string{target}, e.Target.Others...)},
	}
	if l := resourceLink(e.Target.Spec); l != "" {
		rep.Target.Links["canonical"] = jsonLink(l)
		rep.Links["canonical"] = jsonLink(l)
	}
	for _, a := range e.Actions {
		for _, r := range rep.Target.Resources {
			rep.Accesses = append(rep.Accesses, resourceAccess{Action: string(a), Resource: r})
		}
	}
	if rep.Accesses == nil {
		rep.Accesses = []resourceAccess{}
	}
	if p := e.Principal; p.MemberID != "" {
		rep.Member = &auditMemberRep{Links: links{"self": jsonLink(memberPath(p.MemberID))}, ID: p.MemberID, Email: p.Email, FirstName: p.FirstName, LastName: p.LastName}
	}
	if p := e.Principal; p.TokenID != "" {
		rep.Token = &auditTokenRep{Links: links{}, ID: p.TokenID, Name: p.TokenName, Ending: p.TokenEnding, ServiceToken: p.ServiceToken}
	}
	if e.Parent != nil {
		rep.Parent = &auditParentRep{Links: links{}, Name: e.Parent.Name, Resource: e.Parent.Resource}
		if spec, err := resource.Parse(e.Parent.Resource); err == nil {
			if l := resourceLink(spec); l != "" {
				rep.Parent.Links["canonical"] = jsonLink(l)
			}
		}
	}
	if detail {
		rep.Delta, rep.PreviousVersion, rep.CurrentVersion = rawOrNil(e.Delta), rawOrNil(e.Before), rawOrNil(e.After)
		rep.Subentries = &[]auditEntryRep{}
	}
	return rep
}

func rawOrNil(b json.RawMessage) *json.RawMessage {
	if b == nil {
		return nil
	}
	return &b
}

type auditCollectionRep struct {
	Items []auditEntryRep `json:"items"`
	Links links           `json:"_links"`
}

// parseAuditQuery reads before, after, q, limit and spec.
func parseAuditQuery(qv url.Values) (audit.Query, error) {
	var q audit.Query
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"before", &q.Before}, {"after", &q.After}} {
		if v := qv.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || n > audit.MaxDate {
				return q, core.Errorf(core.KindInvalid, "%s must be a timestamp in epoch milliseconds", p.name)
			}
			*p.dst = n
		}
	}
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > audit.MaxLimit {
			return q, core.Errorf(core.KindInvalid, "limit must be an integer between 1 and %d", audit.MaxLimit)
		}
		q.Limit = n
	}
	q.Q = strings.TrimSpace(qv.Get("q"))
	if v := qv.Get("spec"); v != "" {
		spec, err := resource.Parse(v)
		if err != nil {
			return q, core.Errorf(core.KindInvalid, "spec: %s", err.Error())
		}
		q.Spec = &spec
	}
	// beforeId (a metricsd extension the next link carries) continues
	// after the last entry of the page before, inside its millisecond too;
	// it takes the place of before.
	q.BeforeID = qv.Get("beforeId")
	return q, nil
}

func (s *Server) listAuditEntries(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	q, err := parseAuditQuery(qv)
	if err != nil {
		return err
	}
	entries, next, err := s.svc.Audit.Entries(r.Context(), q)
	if err != nil {
		return err
	}
	account, err := s.svc.Auth.AccountID(r.Context())
	if err != nil {
		return err
	}
	rep := auditCollectionRep{Items: make([]auditEntryRep, 0, len(entries)), Links: links{"self": jsonLink(auditPath + encodeQuery(qv))}}
	for i := range entries {
		rep.Items = append(rep.Items, newAuditEntryRep(&entries[i], account, false))
	}
	limit := q.Limit
	if limit == 0 {
		limit = audit.DefaultLimit
	}
	if next != "" {
		nq := url.Values{}
		for k, v := range qv {
			nq[k] = v
		}
		nq.Set("limit", strconv.Itoa(limit))
		nq.Set("beforeId", next)
		rep.Links["next"] = jsonLink(auditPath + encodeQuery(nq))
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func encodeQuery(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

func (s *Server) getAuditEntry(w http.ResponseWriter, r *http.Request) error {
	e, err := s.svc.Audit.Entry(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	account, err := s.svc.Auth.AccountID(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newAuditEntryRep(e, account, true))
	return nil
}
