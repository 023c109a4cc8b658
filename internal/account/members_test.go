package account

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/metricsd/metricsd/internal/core"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestParseMemberForms(t *testing.T) {
	many := "[" + strings.TrimSuffix(strings.Repeat(`{"email":"a@example.com"},`, 51), ",") + "]"
	tests := []struct {
		name, body string
		want       []NewMemberForm
		wantErr    string
	}{
		{"one", `[{"email":"a@example.com"}]`, []NewMemberForm{{Email: "a@example.com"}}, ""},
		{"every field", `[{"email":"a@example.com","password":"","firstName":"A","lastName":"B","role":"admin","customRoles":[],"teamKeys":["t"],"roleAttributes":{}}]`,
			[]NewMemberForm{{Email: "a@example.com", FirstName: "A", LastName: "B", Role: "admin", CustomRoles: []string{}, TeamKeys: []string{"t"}, RoleAttributes: map[string][]string{}}}, ""},
		{"empty array", `[]`, nil, "request body must list at least one member"},
		{"null", `null`, nil, "request body must list at least one member"},
		{"object", `{"email":"a@example.com"}`, nil, "request body must be an array, not object"},
		{"empty body", ``, nil, "request body is empty"},
		{"51 members", many, nil, "at most 50 members can be created in one request"},
		{"unknown field", `[{"email":"a@example.com"},{"email":"b@example.com","nickname":"b"}]`, nil, `[1]: unknown field "nickname"`},
		{"wrongly-cased field", `[{"Email":"a@example.com"}]`, nil, `[0]: unknown field "Email"`},
		{"wrong type", `[{"email":1}]`, nil, "[0]: field email must be a string, not number"},
		{"entry not an object", `["a@example.com"]`, nil, "[0]: request body must be an object, not string"},
		{"malformed", `[{"email":}]`, nil, "request body is not valid JSON at offset 11: invalid character '}' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMemberForms([]byte(tt.body))
			if d := cmp.Diff(tt.wantErr, errText(err)); d != "" {
				t.Fatalf("error (-want +got):\n%s", d)
			}
			if err != nil && core.KindOf(err) != core.KindInvalid {
				t.Errorf("core.KindOf = %v, want core.KindInvalid", core.KindOf(err))
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("forms (-want +got):\n%s", d)
			}
		})
	}
}

func TestNewMember(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		form    NewMemberForm
		want    NewMember
		wantErr string
	}{
		{"defaults", NewMemberForm{Email: "a@example.com"},
			NewMember{Member: Member{Email: "a@example.com", Role: "reader", CreatedAt: now.Add(2 * time.Millisecond)}, TeamKeys: []string{}}, ""},
		{"trimmed, deduplicated teams", NewMemberForm{Email: " a@example.com ", FirstName: " Ann ", LastName: " Lee ", Role: "writer", TeamKeys: []string{"x", "y", "x"}},
			NewMember{Member: Member{Email: "a@example.com", FirstName: "Ann", LastName: "Lee", Role: "writer", CreatedAt: now.Add(2 * time.Millisecond)}, TeamKeys: []string{"x", "y"}}, ""},
		{"admin", NewMemberForm{Email: "a@example.com", Role: "admin"}, NewMember{Member: Member{Email: "a@example.com", Role: "admin", CreatedAt: now.Add(2 * time.Millisecond)}, TeamKeys: []string{}}, ""},
		{"no_access", NewMemberForm{Email: "a@example.com", Role: "no_access"}, NewMember{Member: Member{Email: "a@example.com", Role: "no_access", CreatedAt: now.Add(2 * time.Millisecond)}, TeamKeys: []string{}}, ""},
		{"empty custom roles and attributes", NewMemberForm{Email: "a@example.com", CustomRoles: []string{}, RoleAttributes: map[string][]string{}},
			NewMember{Member: Member{Email: "a@example.com", Role: "reader", CreatedAt: now.Add(2 * time.Millisecond)}, TeamKeys: []string{}, roleRefs: []string{}}, ""},
		{"missing email", NewMemberForm{}, NewMember{}, "[2].email is required"},
		{"blank email", NewMemberForm{Email: "  "}, NewMember{}, "[2].email is required"},
		{"no at sign", NewMemberForm{Email: "ann"}, NewMember{}, `[2].email "ann" is not a valid email address`},
		{"display name", NewMemberForm{Email: "Ann <a@example.com>"}, NewMember{}, `[2].email "Ann <a@example.com>" is not a valid email address`},
		{"two addresses", NewMemberForm{Email: "a@example.com, b@example.com"}, NewMember{}, `[2].email "a@example.com, b@example.com" is not a valid email address`},
		{"no domain", NewMemberForm{Email: "a@"}, NewMember{}, `[2].email "a@" is not a valid email address`},
		{"too long", NewMemberForm{Email: strings.Repeat("a", 250) + "@x.io"}, NewMember{}, "[2].email must be at most 254 characters"},
		{"owner role", NewMemberForm{Email: "a@example.com", Role: "owner"}, NewMember{}, "[2].role must be one of reader, writer, admin, no_access"},
		{"unknown role", NewMemberForm{Email: "a@example.com", Role: "Admin"}, NewMember{}, "[2].role must be one of reader, writer, admin, no_access"},
		{"long name", NewMemberForm{Email: "a@example.com", FirstName: strings.Repeat("n", 257)}, NewMember{}, "[2].firstName and lastName must be at most 256 characters each"},
		{"password", NewMemberForm{Email: "a@example.com", Password: "hunter2"}, NewMember{}, "[2].password is not supported: members use access tokens"},
		{"custom roles", NewMemberForm{Email: "a@example.com", CustomRoles: []string{"devops"}},
			NewMember{Member: Member{Email: "a@example.com", Role: "reader", CreatedAt: now.Add(2 * time.Millisecond)}, TeamKeys: []string{}, roleRefs: []string{"devops"}}, ""},
		{"role attributes", NewMemberForm{Email: "a@example.com", RoleAttributes: map[string][]string{"k": {"v"}}}, NewMember{}, "[2].roleAttributes: role attributes are not supported yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newMember(2, tt.form, now)
			if d := cmp.Diff(tt.wantErr, errText(err)); d != "" {
				t.Fatalf("error (-want +got):\n%s", d)
			}
			if err != nil {
				if core.KindOf(err) != core.KindInvalid {
					t.Errorf("core.KindOf = %v, want core.KindInvalid", core.KindOf(err))
				}
				return
			}
			if !hexID.MatchString(got.ID) {
				t.Errorf("ID %q is not 24 hex digits", got.ID)
			}
			if d := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(Member{}, "ID"), cmp.AllowUnexported(NewMember{})); d != "" {
				t.Errorf("member (-want +got):\n%s", d)
			}
		})
	}
}

func TestDescribeMaintained(t *testing.T) {
	ref := func(kind, project, key string) MaintainedRef {
		return MaintainedRef{Kind: kind, ProjectKey: project, Key: key}
	}
	var many []MaintainedRef
	for i := range 23 {
		many = append(many, ref("metric", "p", string(rune('a'+i))))
	}
	tests := []struct {
		refs []MaintainedRef
		want string
	}{
		{[]MaintainedRef{ref("metric", "default", "checkout")}, "metrics checkout (project default)"},
		{[]MaintainedRef{ref("metric", "default", "checkout"), ref("metric", "default", "signup")}, "metrics checkout, signup (project default)"},
		{[]MaintainedRef{ref("metric", "a", "x"), ref("metric", "b", "y"), ref("metric group", "a", "g")},
			"metrics x (project a), y (project b); metric groups g (project a)"},
		{[]MaintainedRef{ref("metric group", "a", "g"), ref("metric group", "a", "h")}, "metric groups g, h (project a)"},
		{many, "metrics a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t (project p) and 3 more"},
	}
	for _, tt := range tests {
		if got := describeMaintained(tt.refs); got != tt.want {
			t.Errorf("describeMaintained(%v)\n got %q\nwant %q", tt.refs, got, tt.want)
		}
	}
}

func TestDescribeMissing(t *testing.T) {
	tests := []struct {
		err  *core.MissingRefsError
		want string
	}{
		{&core.MissingRefsError{What: "team", Keys: []string{"x"}}, `no team has the key "x"`},
		{&core.MissingRefsError{What: "team", Keys: []string{"x", "y"}}, `no teams have the keys "x", "y"`},
		{&core.MissingRefsError{What: "member", Keys: []string{"1"}}, `no member has the ID "1"`},
		{&core.MissingRefsError{What: "member", Keys: []string{"1", "2"}}, `no members have the IDs "1", "2"`},
	}
	for _, tt := range tests {
		if got := describeMissing(tt.err); got != tt.want {
			t.Errorf("describeMissing(%v) = %q, want %q", tt.err.Keys, got, tt.want)
		}
	}
}
