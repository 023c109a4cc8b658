package api

import (
	"net/url"
	"strconv"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
)

// link is LaunchDarkly's link object.
type link struct {
	Href string `json:"href"`
	Type string `json:"type"`
}

func jsonLink(href string) link { return link{Href: href, Type: "application/json"} }

type links map[string]link

func epochMS(t time.Time) int64 { return t.UnixMilli() }

// pageLinks renders self, first, prev, next and last for a paged
// collection, keeping every other query parameter of the request.
func pageLinks(path string, query url.Values, page core.Page, total int) links {
	at := func(offset int) link {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("limit", strconv.Itoa(page.Limit))
		q.Set("offset", strconv.Itoa(offset))
		return jsonLink(path + "?" + q.Encode())
	}
	l := links{"self": at(page.Offset), "first": at(0)}
	lastOffset := 0
	if total > 0 {
		lastOffset = (total - 1) / page.Limit * page.Limit
	}
	l["last"] = at(lastOffset)
	if page.Offset > 0 {
		prev := max(page.Offset-page.Limit, 0)
		l["prev"] = at(prev)
	}
	// Written so that no sum can overflow, whatever the page.
	if page.Offset < total && total-page.Offset > page.Limit {
		l["next"] = at(page.Offset + page.Limit)
	}
	return l
}

type memberSummary struct {
	Links     links  `json:"_links"`
	ID        string `json:"_id"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Role      string `json:"role"`
	Email     string `json:"email"`
}

func memberSummaryRep(m *account.Member) *memberSummary {
	if m == nil {
		return nil
	}
	return &memberSummary{
		Links: links{"self": jsonLink("/api/v2/members/" + m.ID)},
		ID:    m.ID, FirstName: m.FirstName, LastName: m.LastName, Role: m.Role, Email: m.Email,
	}
}
