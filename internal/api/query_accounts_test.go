package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
)

func TestParseMemberQuery(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		limit, offset, filter, sort string
		want                        account.MemberQuery
		wantErr                     string
	}{
		{"", "", "", "", account.MemberQuery{Page: core.Page{Limit: 20}}, ""},
		{"1000", "5", "", "", account.MemberQuery{Page: core.Page{Limit: 1000, Offset: 5}}, ""},
		{"1001", "", "", "", account.MemberQuery{}, "limit must be an integer between 1 and 1000"},
		{"", "-1", "", "", account.MemberQuery{}, "offset must be a non-negative integer"},
		{"", "", "query:ann", "", account.MemberQuery{Page: core.Page{Limit: 20}, Query: "ann"}, ""},
		{"", "", "query:abc,role:admin|customrole", "", account.MemberQuery{Page: core.Page{Limit: 20}, Query: "abc", Roles: []string{"admin", "customrole"}}, ""},
		{"", "", " id:a|b|a , email:X@y.io ", "", account.MemberQuery{Page: core.Page{Limit: 20}, IDs: []string{"a", "b"}, Emails: []string{"X@y.io"}}, ""},
		{"", "", "team:core,noteam:false", "", account.MemberQuery{Page: core.Page{Limit: 20}, TeamKey: "core", NoTeam: &no}, ""},
		{"", "", "noteam:true", "", account.MemberQuery{Page: core.Page{Limit: 20}, NoTeam: &yes}, ""},
		{"", "", "noteam:yes", "", account.MemberQuery{}, `filter field "noteam" must be true or false`},
		{"", "", "noteam:1", "", account.MemberQuery{}, `filter field "noteam" must be true or false`},
		{"", "", "lastSeen:{\"never\":true}", "", account.MemberQuery{}, `filter field "lastSeen" is not supported; use query, role, id, email, team, noteam`},
		{"", "", "query", "", account.MemberQuery{}, `filter "query" must have the form field:value`},
		{"", "", "query:", "", account.MemberQuery{}, `filter "query:" must have the form field:value`},
		{"", "", "query:a,query:b", "", account.MemberQuery{}, `filter field "query" may appear only once`},
		{"", "", "", "displayName", account.MemberQuery{Page: core.Page{Limit: 20}, Sort: []core.SortKey{{Field: "displayName"}}}, ""},
		{"", "", "", "-displayName", account.MemberQuery{Page: core.Page{Limit: 20}, Sort: []core.SortKey{{Field: "displayName", Desc: true}}}, ""},
		{"", "", "", "lastSeen", account.MemberQuery{}, `sort field "lastSeen" is not supported; use displayName, with - for descending order`},
	}
	for _, tt := range tests {
		t.Run(tt.limit+"|"+tt.offset+"|"+tt.filter+"|"+tt.sort, func(t *testing.T) {
			got, err := parseMemberQuery(tt.limit, tt.offset, tt.filter, tt.sort)
			if d := cmp.Diff(tt.wantErr, errText(err)); d != "" {
				t.Fatalf("error (-want +got):\n%s", d)
			}
			if err != nil {
				if core.KindOf(err) != core.KindInvalid {
					t.Errorf("core.KindOf = %v, want core.KindInvalid", core.KindOf(err))
				}
				return
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("query (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseTeamQuery(t *testing.T) {
	yes := true
	tests := []struct {
		limit, offset, filter string
		want                  account.TeamQuery
		wantErr               string
	}{
		{"", "", "", account.TeamQuery{Page: core.Page{Limit: 20}}, ""},
		{"100", "3", "", account.TeamQuery{Page: core.Page{Limit: 100, Offset: 3}}, ""},
		{"101", "", "", account.TeamQuery{}, "limit must be an integer between 1 and 100"},
		{"0", "", "", account.TeamQuery{}, "limit must be an integer between 1 and 100"},
		{"", "", "query:core", account.TeamQuery{Page: core.Page{Limit: 20}, Query: "core"}, ""},
		{"", "", "query:core,nomembers:true", account.TeamQuery{Page: core.Page{Limit: 20}, Query: "core", NoMembers: &yes}, ""},
		{"", "", "nomembers:maybe", account.TeamQuery{}, `filter field "nomembers" must be true or false`},
		{"", "", "name:core", account.TeamQuery{}, `filter field "name" is not supported; use query, nomembers`},
	}
	for _, tt := range tests {
		t.Run(tt.limit+"|"+tt.offset+"|"+tt.filter, func(t *testing.T) {
			got, err := parseTeamQuery(tt.limit, tt.offset, tt.filter)
			if d := cmp.Diff(tt.wantErr, errText(err)); d != "" {
				t.Fatalf("error (-want +got):\n%s", d)
			}
			if err == nil {
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("query (-want +got):\n%s", d)
				}
			}
		})
	}
}

func TestParseTeamExpand(t *testing.T) {
	if _, err := parseTeamExpand("members,roles,roleAttributes,projects,maintainers"); err != nil {
		t.Errorf("single team: %v", err)
	}
	if _, err := parseTeamListExpand("members,roleAttributes,maintainers"); err != nil {
		t.Errorf("list: %v", err)
	}
	want := `expand "roles" is not supported; supported values: members, roleAttributes, maintainers`
	if _, err := parseTeamListExpand("members,roles"); errText(err) != want {
		t.Errorf("list expand=roles: %v, want %s", err, want)
	}
	want = `expand "bogus" is not supported; supported values: members, roles, roleAttributes, projects, maintainers`
	if _, err := parseTeamExpand("bogus"); errText(err) != want {
		t.Errorf("expand=bogus: %v, want %s", err, want)
	}
}
