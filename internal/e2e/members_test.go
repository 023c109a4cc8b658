package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/testdb"
)

// memberJSON is the representation of a member without its creation date.
// names is `"firstName": …, "lastName": …` or empty; teams and grants are
// JSON arrays.
func memberJSON(id, email, role, names, teams, grants string) string {
	if names != "" {
		names += ","
	}
	return fmt.Sprintf(`{"_links": {"self": {"href": "/api/v2/members/%[1]s", "type": "application/json"}},
		"_id": %[1]q, "email": %[2]q, "role": %[3]q, %[4]s
		"_pendingInvite": false, "_verified": true, "customRoles": [], "mfa": "disabled", "excludedDashboards": [],
		"_lastSeen": 0, "teams": %[5]s, "permissionGrants": %[6]s}`, id, email, role, names, teams, grants)
}

// memberTeamJSON is a MemberTeamSummaryRep.
func memberTeamJSON(key, name string) string {
	return fmt.Sprintf(`{"_links": {"self": {"href": "/api/v2/teams/%[1]s", "type": "application/json"}}, "key": %[1]q, "name": %[2]q, "customRoleKeys": []}`, key, name)
}

// checkCreationDate checks a member's creationDate and returns the
// representation without it.
func checkCreationDate(t testing.TB, rep map[string]any, since time.Time) map[string]any {
	t.Helper()
	ms, ok := rep["creationDate"].(float64)
	if !ok || int64(ms) < since.UnixMilli()-1000 || int64(ms) > time.Now().UnixMilli()+1000 {
		t.Errorf("creationDate %v is not between %d and now", rep["creationDate"], since.UnixMilli())
	}
	return without(rep, "creationDate")
}

// items returns a collection's items as objects.
func items(t testing.TB, coll map[string]any) []map[string]any {
	t.Helper()
	list, ok := coll["items"].([]any)
	if !ok {
		t.Fatalf("collection without items: %v", coll)
	}
	out := make([]map[string]any, len(list))
	for i, it := range list {
		out[i] = it.(map[string]any)
	}
	return out
}

// itemIDs returns the _id of a collection's items.
func itemIDs(t testing.TB, coll map[string]any) []string {
	t.Helper()
	ids := []string{}
	for _, it := range items(t, coll) {
		ids = append(ids, it["_id"].(string))
	}
	return ids
}

// createMembers posts NewMemberForm entries (a JSON array) and returns the
// created members' IDs in order.
func (e *env) createMembers(t testing.TB, body string) []string {
	t.Helper()
	st, b, _ := e.do(t, http.MethodPost, "/api/v2/members", body)
	if st != http.StatusCreated {
		t.Fatalf("create members %s: status %d: %s", body, st, b)
	}
	return itemIDs(t, obj(t, b))
}

func (e *env) memberCount(t testing.TB) int {
	t.Helper()
	st, b, _ := e.do(t, http.MethodGet, "/api/v2/members?limit=1", "")
	if st != http.StatusOK {
		t.Fatalf("list members: %d %s", st, b)
	}
	return int(obj(t, b)["totalCount"].(float64))
}

func TestMembers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		start := time.Now()
		ownerJSON := memberJSON(e.ownerID, "owner@metricsd.local", "owner", `"firstName": "Metricsd", "lastName": "Owner"`, "[]", "[]")

		t.Run("fresh database lists the owner", func(t *testing.T) {
			list, resp, err := e.api(t).AccountMembersApi.GetMembers(ctx).Execute()
			if err != nil {
				t.Fatalf("GetMembers: %v (status %d)", err, status(resp))
			}
			if len(list.Items) != 1 || list.Items[0].Id != e.ownerID || list.TotalCount == nil || *list.TotalCount != 1 {
				t.Errorf("client model %+v", list)
			}
			got := obj(t, rawBody(t, resp))
			owner := without(items(t, got)[0], "creationDate")
			diffJSON(t, "owner", ownerJSON, owner)
			diffJSON(t, "links", `{
				"self": {"href": "/api/v2/members?limit=20&offset=0", "type": "application/json"},
				"first": {"href": "/api/v2/members?limit=20&offset=0", "type": "application/json"},
				"last": {"href": "/api/v2/members?limit=20&offset=0", "type": "application/json"}}`, got["_links"])
		})

		var ann, bob string
		t.Run("create", func(t *testing.T) {
			forms := []ldapi.NewMemberForm{
				{Email: "ann@example.com", FirstName: ptr("Ann"), LastName: ptr("Lee"), Role: ptr("admin")},
				{Email: " Bob@Example.com "},
			}
			list, resp, err := e.api(t).AccountMembersApi.PostMembers(ctx).NewMemberForm(forms).Execute()
			if err != nil {
				t.Fatalf("PostMembers: %v (status %d)", err, status(resp))
			}
			if resp.StatusCode != http.StatusCreated || len(list.Items) != 2 {
				t.Fatalf("status %d, %d items", resp.StatusCode, len(list.Items))
			}
			ann, bob = list.Items[0].Id, list.Items[1].Id
			for _, id := range []string{ann, bob} {
				if !objectID.MatchString(id) {
					t.Errorf("_id %q is not 24 hex digits", id)
				}
			}
			got := obj(t, rawBody(t, resp))
			stripped := []any{}
			for _, it := range items(t, got) {
				stripped = append(stripped, checkCreationDate(t, it, start))
			}
			got["items"] = stripped
			diffJSON(t, "201 representation", `{"_links": {"self": {"href": "/api/v2/members", "type": "application/json"}}, "totalCount": 2, "items": [`+
				memberJSON(ann, "ann@example.com", "admin", `"firstName": "Ann", "lastName": "Lee"`, "[]", "[]")+`,`+
				memberJSON(bob, "Bob@Example.com", "reader", "", "[]", "[]")+`]}`, got)
		})
		if ann == "" {
			t.Fatal("create failed")
		}

		t.Run("get", func(t *testing.T) {
			m, resp, err := e.api(t).AccountMembersApi.GetMember(ctx, ann).Execute()
			if err != nil {
				t.Fatalf("GetMember: %v (status %d)", err, status(resp))
			}
			if m.Email != "ann@example.com" || m.Role != "admin" || m.Mfa != "disabled" || !m.Verified {
				t.Errorf("client model %+v", m)
			}
			diffJSON(t, "GET", memberJSON(ann, "ann@example.com", "admin", `"firstName": "Ann", "lastName": "Lee"`, "[]", "[]"),
				checkCreationDate(t, obj(t, rawBody(t, resp)), start))

			me, resp, err := e.api(t).AccountMembersApi.GetMember(ctx, "me").Execute()
			if err != nil || me.Id != e.ownerID {
				t.Errorf("GetMember(me) = %v, %v (status %d); want the owner", me, err, status(resp))
			}
			_, resp, err = e.api(t).AccountMembersApi.GetMember(ctx, ann).Expand("roleAttributes").Execute()
			if err != nil {
				t.Fatalf("expand=roleAttributes: %v", err)
			}
			if got := obj(t, rawBody(t, resp)); cmp.Diff(map[string]any{}, got["roleAttributes"]) != "" {
				t.Errorf("roleAttributes %v, want {}", got["roleAttributes"])
			}
			_, resp, err = e.api(t).AccountMembersApi.GetMember(ctx, "000000000000000000000000").Execute()
			clientError(t, "unknown member", resp, err, http.StatusNotFound, `unknown member "000000000000000000000000"`)
			st, body, _ := e.doUndoc(t, http.MethodGet, "/api/v2/members/"+ann+"?expand=teams", "")
			wantError(t, "expand=teams", st, body, http.StatusBadRequest, `expand "teams" is not supported`)
		})

		more := e.createMembers(t, `[{"email":"cat@example.com","firstName":"Cat","role":"writer"},{"email":"dee@example.com","role":"no_access"}]`)
		cat, dee := more[0], more[1]
		all := []string{e.ownerID, ann, bob, cat, dee}

		t.Run("list", func(t *testing.T) {
			api := e.api(t)
			list, resp, err := api.AccountMembersApi.GetMembers(ctx).Limit(2).Offset(2).Execute()
			if err != nil {
				t.Fatalf("GetMembers: %v (status %d)", err, status(resp))
			}
			got := obj(t, rawBody(t, resp))
			if d := cmp.Diff(all[2:4], itemIDs(t, got)); d != "" || list.GetTotalCount() != 5 {
				t.Errorf("page 2 (-want +got):\n%s\ntotal %d", d, list.GetTotalCount())
			}
			wantLinks := map[string]url.Values{"self": page(2, 2), "first": page(2, 0), "prev": page(2, 0), "next": page(2, 4), "last": page(2, 4)}
			if d := cmp.Diff(wantLinks, linkQueries(t, got, "/api/v2/members")); d != "" {
				t.Errorf("links (-want +got):\n%s", d)
			}
			for _, c := range []struct {
				filter, sort string
				want         []string
			}{
				{"query:EXAMPLE.com", "", []string{ann, bob, cat, dee}},
				{"query:ann lee", "", []string{ann}},
				{"role:admin", "", []string{e.ownerID, ann}},
				{"role:writer|no_access", "", []string{cat, dee}},
				{"email:BOB@example.com|dee@example.com", "", []string{bob, dee}},
				{"id:" + cat, "", []string{cat}},
				{"noteam:true", "", all},
				{"", "displayName", []string{ann, bob, cat, dee, e.ownerID}},
				{"", "-displayName", []string{e.ownerID, dee, cat, bob, ann}},
			} {
				req := api.AccountMembersApi.GetMembers(ctx)
				if c.filter != "" {
					req = req.Filter(c.filter)
				}
				if c.sort != "" {
					req = req.Sort(c.sort)
				}
				_, resp, err := req.Execute()
				if err != nil {
					t.Errorf("filter %q sort %q: %v", c.filter, c.sort, err)
					continue
				}
				got := obj(t, rawBody(t, resp))
				if d := cmp.Diff(c.want, itemIDs(t, got)); d != "" {
					t.Errorf("filter %q sort %q (-want +got):\n%s", c.filter, c.sort, d)
				}
				if got["totalCount"] != float64(len(c.want)) {
					t.Errorf("filter %q: totalCount %v", c.filter, got["totalCount"])
				}
			}
			for _, c := range []struct{ query, msg string }{
				{"limit=0", "limit must be an integer between 1 and 1000"},
				{"limit=1001", "limit must be an integer between 1 and 1000"},
				{"offset=-1", "offset must be a non-negative integer"},
				{"filter=lastSeen:5", `filter field "lastSeen" is not supported`},
				{"filter=noteam:maybe", `filter field "noteam" must be true or false`},
				{"sort=lastSeen", `sort field "lastSeen" is not supported`},
				{"expand=bogus", `expand "bogus" is not supported`},
			} {
				st, body, _ := e.doUndoc(t, http.MethodGet, "/api/v2/members?"+c.query, "")
				wantError(t, c.query, st, body, http.StatusBadRequest, c.msg)
			}
		})

		t.Run("create validation", func(t *testing.T) {
			before := e.memberCount(t)
			fifty := strings.TrimSuffix(strings.Repeat(`{"email":"x@example.com"},`, 51), ",")
			cases := []struct {
				name, body string
				status     int
				msg        []string
			}{
				{"missing email", `[{"firstName":"No"}]`, 400, []string{"[0].email is required"}},
				{"invalid email", `[{"email":"new1@example.com"},{"email":"not-an-email"}]`, 400, []string{`[1].email "not-an-email" is not a valid email address`}},
				{"email with a name", `[{"email":"Ann <new2@example.com>"}]`, 400, []string{"[0].email", "not a valid email address"}},
				{"owner role", `[{"email":"new3@example.com","role":"owner"}]`, 400, []string{"[0].role must be one of reader, writer, admin, no_access"}},
				{"unknown role", `[{"email":"new4@example.com","role":"superuser"}]`, 400, []string{"[0].role must be one of"}},
				{"unknown field", `[{"email":"new5@example.com","nickname":"x"}]`, 400, []string{`[0]: unknown field "nickname"`}},
				{"wrongly-cased field", `[{"Email":"new6@example.com"}]`, 400, []string{`[0]: unknown field "Email"`}},
				{"wrong type", `[{"email":"new7@example.com","role":1}]`, 400, []string{"[0]: field role must be a string, not number"}},
				{"custom roles", `[{"email":"new8@example.com","customRoles":["devops"]}]`, 400, []string{`[0].customRoles: no custom role has the key or ID "devops"`}},
				{"password", `[{"email":"new9@example.com","password":"hunter2"}]`, 400, []string{"[0].password is not supported"}},
				{"role attributes", `[{"email":"new10@example.com","roleAttributes":{"k":["v"]}}]`, 400, []string{"[0].roleAttributes"}},
				{"unknown team", `[{"email":"new11@example.com","teamKeys":["nope"]}]`, 400, []string{`teamKeys: no team has the key "nope"`}},
				{"empty list", `[]`, 400, []string{"at least one member"}},
				{"object", `{"email":"new12@example.com"}`, 400, []string{"request body must be an array, not object"}},
				{"too many", "[" + fifty + "]", 400, []string{"at most 50 members"}},
				{"malformed", `[{"email":`, 400, []string{"not valid JSON"}},
				{"twice in the request", `[{"email":"new13@example.com"},{"email":"NEW13@example.com"}]`, 409, []string{`[1].email "NEW13@example.com" is listed twice in the request (also at [0])`}},
				{"taken, ignoring case", `[{"email":"new14@example.com"},{"email":"ANN@example.com"}]`, 409, []string{`a member with email "ANN@example.com" already exists`}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					st, body, _ := e.do(t, http.MethodPost, "/api/v2/members", c.body)
					wantError(t, c.name, st, body, c.status, c.msg...)
				})
			}
			if after := e.memberCount(t); after != before {
				t.Errorf("%d members after rejected creates, want %d", after, before)
			}
			st, body, _ := e.doUndoc(t, http.MethodPost, "/api/v2/members", `[{"email":"new15@example.com"}]`, "Content-Type: text/plain")
			wantError(t, "text/plain", st, body, http.StatusUnsupportedMediaType)
		})

		t.Run("delete", func(t *testing.T) {
			api := e.api(t)
			resp, err := api.AccountMembersApi.DeleteMember(ctx, e.ownerID).Execute()
			clientError(t, "delete the owner", resp, err, http.StatusForbidden, "account owner", "cannot be deleted")

			// A maintainer of metrics and metric groups stays until they
			// have another maintainer.
			e.createMetric(t, "default", `{"key":"signup","kind":"custom","eventKey":"signup","maintainerId":"`+cat+`"}`)
			e.createMetric(t, "default", `{"key":"checkout","kind":"custom","eventKey":"checkout","maintainerId":"`+cat+`"}`)
			seed := openSeedDB(t, e.backend)
			projectID := seedString(t, seed, `SELECT id FROM projects WHERE key = 'default'`)
			seed.exec(t, `INSERT INTO metric_groups (id, project_id, key, key_lower, name, name_lower, kind, maintainer_id, version, created_at, updated_at)
				VALUES ('grp-1', ?, 'funnel', 'funnel', 'Funnel', 'funnel', 'funnel', ?, 1, 0, 0)`, projectID, cat)
			resp, err = api.AccountMembersApi.DeleteMember(ctx, cat).Execute()
			clientError(t, "delete a maintainer", resp, err, http.StatusConflict,
				fmt.Sprintf(`member %q (cat@example.com) maintains metrics checkout, signup (project default); metric groups funnel (project default)`, cat))
			if _, resp, err := api.AccountMembersApi.GetMember(ctx, cat).Execute(); err != nil {
				t.Errorf("refused member is gone: %v (status %d)", err, status(resp))
			}
			seed.exec(t, `UPDATE metrics SET maintainer_id = ? WHERE maintainer_id = ?`, e.ownerID, cat)
			seed.exec(t, `UPDATE metric_groups SET maintainer_id = ? WHERE maintainer_id = ?`, e.ownerID, cat)
			if resp, err := api.AccountMembersApi.DeleteMember(ctx, cat).Execute(); err != nil || resp.StatusCode != http.StatusNoContent {
				t.Errorf("delete a former maintainer: %v (status %d)", err, status(resp))
			}

			// A deleted member's tokens stop working at once.
			secret := "api-e2e-member-token-dee"
			seed.exec(t, `INSERT INTO tokens (id, member_id, name, hash, created_at) VALUES ('tok-dee', ?, 'dee', ?, 0)`, dee, catalog.HashToken(secret))
			me, resp, err := e.apiWithToken(t, secret).AccountMembersApi.GetMember(ctx, "me").Execute()
			if err != nil || me.Id != dee {
				t.Fatalf("GetMember(me) with dee's token: %v, %v (status %d)", me, err, status(resp))
			}
			if resp, err := api.AccountMembersApi.DeleteMember(ctx, dee).Execute(); err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DeleteMember: %v (status %d)", err, status(resp))
			}
			_, resp, err = e.apiWithToken(t, secret).AccountMembersApi.GetMember(ctx, "me").Execute()
			clientError(t, "deleted member's token", resp, err, http.StatusUnauthorized)
			_, resp, err = api.AccountMembersApi.GetMember(ctx, dee).Execute()
			clientError(t, "get a deleted member", resp, err, http.StatusNotFound, dee)
			resp, err = api.AccountMembersApi.DeleteMember(ctx, dee).Execute()
			clientError(t, "delete twice", resp, err, http.StatusNotFound, dee)
			if n := e.memberCount(t); n != 3 {
				t.Errorf("%d members left, want 3", n)
			}
		})
	})
}

// seedString reads one string with a raw query on the test database.
func seedString(t testing.TB, s *seedDB, q string, args ...any) string {
	t.Helper()
	if s.numbered {
		n := 0
		var sb strings.Builder
		for _, c := range q {
			if c == '?' {
				n++
				fmt.Fprintf(&sb, "$%d", n)
				continue
			}
			sb.WriteRune(c)
		}
		q = sb.String()
	}
	var out string
	if err := s.db.QueryRowContext(context.Background(), q, args...).Scan(&out); err != nil {
		t.Fatalf("seed query %s: %v", q, err)
	}
	return out
}

// TestMembersConcurrentCreate: racing creates of one email make exactly
// one member; the others get 409.
func TestMembersConcurrentCreate(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		const n = 8
		statuses := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				body := fmt.Sprintf(`[{"email":"racer-%d@example.com"},{"email":"Same@example.com"}]`, i)
				statuses[i], _, _, errs[i] = e.send(t, context.Background(), http.MethodPost, "/api/v2/members", body)
			})
		}
		wg.Wait()
		created := 0
		for i := range n {
			switch {
			case errs[i] != nil:
				t.Errorf("request %d: %v", i, errs[i])
			case statuses[i] == http.StatusCreated:
				created++
			case statuses[i] != http.StatusConflict:
				t.Errorf("request %d: status %d", i, statuses[i])
			}
		}
		if created != 1 {
			t.Errorf("%d racing creates succeeded, want 1", created)
		}
		if got := e.memberCount(t); got != 3 {
			t.Errorf("%d members, want the owner and one request's two", got)
		}
	})
}
