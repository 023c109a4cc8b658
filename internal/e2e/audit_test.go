package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/testdb"
)

// auditEntries reads the whole audit log, newest first, following the
// next links of pages of the given size.
func (e *env) auditEntries(t testing.TB, query string, pageSize int) []map[string]any {
	t.Helper()
	path := fmt.Sprintf("/api/v2/auditlog?limit=%d", pageSize)
	if query != "" {
		path += "&" + query
	}
	var out []map[string]any
	for range 1000 {
		st, b, _ := e.do(t, http.MethodGet, path, "")
		if st != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, st, b)
		}
		page := obj(t, b)
		for _, it := range page["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		next, ok := page["_links"].(map[string]any)["next"].(map[string]any)
		if !ok {
			return out
		}
		path = next["href"].(string)
	}
	t.Fatalf("audit log paging did not end")
	return nil
}

// auditCount is the number of entries in the audit log.
func (e *env) auditCount(t testing.TB) int {
	t.Helper()
	return len(e.auditEntries(t, "", 20))
}

// accesses renders an entry's accesses as "action resource" strings.
func accesses(entry map[string]any) []string {
	var out []string
	for _, a := range entry["accesses"].([]any) {
		m := a.(map[string]any)
		out = append(out, m["action"].(string)+" "+m["resource"].(string))
	}
	return out
}

func TestAuditLog(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		client := e.api(t)

		e.createMetric(t, "default", `{"key":"checkout","name":"Checkout","kind":"custom","eventKey":"checkout-done","tags":["revenue"]}`)
		st, body, _ := e.do(t, http.MethodPatch, metricPath("default", "checkout"),
			`{"comment":"clearer name","patch":[{"op":"replace","path":"/name","value":"Checkout completed"},{"op":"add","path":"/tags/-","value":"web"}]}`)
		if st != http.StatusOK {
			t.Fatalf("patch: %d %s", st, body)
		}
		if st, body, _ := e.do(t, http.MethodDelete, metricPath("default", "checkout"), ""); st != http.StatusNoContent {
			t.Fatalf("delete: %d %s", st, body)
		}

		list, resp, err := client.AuditLogApi.GetAuditLogEntries(ctx).Spec("proj/default:metric/*").Execute()
		if err != nil {
			t.Fatalf("GetAuditLogEntries: %v (status %d)", err, status(resp))
		}
		if len(list.Items) != 3 {
			t.Fatalf("got %d entries for proj/default:metric/*, want 3", len(list.Items))
		}
		var got [][]string
		for _, it := range list.Items {
			var acc []string
			for _, a := range it.Accesses {
				acc = append(acc, a.GetAction()+" "+a.GetResource())
			}
			got = append(got, acc)
			if it.Kind != "metric" || it.Member == nil || it.Member.GetId() != e.ownerID || it.Token == nil || it.Token.GetEnding() != testAdminToken[len(testAdminToken)-4:] {
				t.Errorf("entry %s: kind %q member %+v token %+v", it.Id, it.Kind, it.Member, it.Token)
			}
			if it.Target == nil || !slices.Equal(it.Target.Resources, []string{"proj/default:metric/checkout"}) {
				t.Errorf("entry %s: target %+v", it.Id, it.Target)
			}
			if it.Parent == nil || it.Parent.GetResource() != "proj/default" {
				t.Errorf("entry %s: parent %+v", it.Id, it.Parent)
			}
		}
		want := [][]string{
			{"deleteMetric proj/default:metric/checkout"},
			{"updateName proj/default:metric/checkout", "updateTags proj/default:metric/checkout"},
			{"createMetric proj/default:metric/checkout"},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("accesses, newest first (-want +got):\n%s", d)
		}
		if v := list.Items[1].GetTitleVerb(); v != "updated the metric" {
			t.Errorf("titleVerb %q", v)
		}
		if c := list.Items[1].GetComment(); c != "clearer name" {
			t.Errorf("comment %q", c)
		}

		t.Run("detail of a patch holds the delta and both versions, after the metric is gone", func(t *testing.T) {
			full, resp, err := client.AuditLogApi.GetAuditLogEntry(ctx, list.Items[1].Id).Execute()
			if err != nil {
				t.Fatalf("GetAuditLogEntry: %v (status %d)", err, status(resp))
			}
			diffJSON(t, "delta", `[{"op":"replace","path":"/name","value":"Checkout completed"},{"op":"add","path":"/tags/-","value":"web"}]`, roundTrip(t, full.Delta))
			prev, cur := roundTrip(t, full.PreviousVersion).(map[string]any), roundTrip(t, full.CurrentVersion).(map[string]any)
			if prev["_version"] != 1.0 || cur["_version"] != 2.0 || prev["name"] != "Checkout" || cur["name"] != "Checkout completed" {
				t.Errorf("previousVersion %v, currentVersion %v", prev, cur)
			}
			if d := cmp.Diff([]any{"revenue", "web"}, cur["tags"]); d != "" {
				t.Errorf("currentVersion tags (-want +got):\n%s", d)
			}
			created, _, err := client.AuditLogApi.GetAuditLogEntry(ctx, list.Items[2].Id).Execute()
			if err != nil {
				t.Fatal(err)
			}
			if created.PreviousVersion != nil || created.CurrentVersion == nil || created.Delta != nil {
				t.Errorf("create entry: previous %v current %v delta %v", created.PreviousVersion, created.CurrentVersion, created.Delta)
			}
		})

		t.Run("spec, q and date filters", func(t *testing.T) {
			for _, tt := range []struct {
				query string
				want  int
			}{
				{"spec=" + url.QueryEscape("proj/default:metric/checkout"), 3},
				{"spec=" + url.QueryEscape("proj/*:metric/check*"), 3},
				{"spec=" + url.QueryEscape("proj/other:metric/*"), 0},
				{"spec=" + url.QueryEscape("proj/default:metric-group/*"), 0},
				{"spec=" + url.QueryEscape("proj/default:metric/*;revenue"), 3},
				// The delete's target is the metric as it was: tagged both.
				{"spec=" + url.QueryEscape("proj/default:metric/*;revenue,web"), 2},
				{"spec=" + url.QueryEscape("proj/default"), 0},
				{"q=CHECKOUT", 3},
				{"q=nothing-like-it", 0},
				{fmt.Sprintf("after=%d", list.Items[1].Date-1), 2},
				{fmt.Sprintf("before=%d", list.Items[1].Date+1), 2},
			} {
				if got := len(e.auditEntries(t, tt.query, 20)); got != tt.want {
					t.Errorf("%s: %d entries, want %d", tt.query, got, tt.want)
				}
			}
		})

		t.Run("bad parameters are 400", func(t *testing.T) {
			for _, tt := range []struct{ query, msg string }{
				{"spec=proj%2F", "spec: resource specifier: at position 5"},
				{"spec=" + url.QueryEscape("proj/a:metric/y;"), "spec: resource specifier: at position 16"},
				{"spec=" + url.QueryEscape("metric/y"), "spec: resource specifier: at position 0"},
				{"limit=0", "limit must be an integer between 1 and 20"},
				{"limit=21", "limit must be an integer between 1 and 20"},
				{"before=yesterday", "before must be a timestamp"},
				{"beforeId=abc", "beforeId must be an audit log entry ID"},
				{"before=281474976710656", "before must be a timestamp"},
				{"after=9223372036854775807", "after must be a timestamp"},
			} {
				st, body, _ := e.doUndoc(t, http.MethodGet, "/api/v2/auditlog?"+tt.query, "")
				wantError(t, tt.query, st, body, http.StatusBadRequest, tt.msg)
			}
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/auditlog/000000000000000000000000", "")
			wantError(t, "unknown entry", st, body, http.StatusNotFound, "unknown audit log entry")
		})

		t.Run("pages of one walk every entry once, newest first", func(t *testing.T) {
			all := e.auditEntries(t, "", 20)
			one := e.auditEntries(t, "", 1)
			ids := func(es []map[string]any) []string {
				var out []string
				for _, x := range es {
					out = append(out, x["_id"].(string))
				}
				return out
			}
			if d := cmp.Diff(ids(all), ids(one)); d != "" {
				t.Errorf("paged by one (-all +paged):\n%s", d)
			}
			for i := 1; i < len(all); i++ {
				if all[i]["date"].(float64) > all[i-1]["date"].(float64) {
					t.Errorf("entry %d is newer than entry %d", i, i-1)
				}
			}
		})
	})
}

// writeCase performs one successful write and names the entry it must
// record.
type writeCase struct {
	method, pattern string
	path, body      string
	headers         []string
	status          int
	kind, action    string
	resource        string
}

// TestAuditEveryWriteRoute walks the route table: every write route must
// have a case here, and each successful write records exactly one entry
// with the right kind, action and resource, while refused writes record
// none.
func TestAuditEveryWriteRoute(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"a","name":"A","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","name":"B","kind":"custom","eventKey":"b"}`)
		e.createMetric(t, "default", `{"key":"gone","name":"Gone","kind":"custom","eventKey":"g"}`)
		ids := e.createMembers(t, `[{"email":"kim@example.com","role":"writer"}]`)
		memberID := ids[0]
		beta := []string{betaHeader}
		st, tb, _ := e.do(t, http.MethodPost, "/api/v2/tokens", `{"name":"pre","role":"reader"}`)
		if st != http.StatusCreated {
			t.Fatalf("create token: %d %s", st, tb)
		}
		tokenID := obj(t, tb)["_id"].(string)
		tokenRes := "member/" + e.ownerID + ":token/" + tokenID
		cases := []writeCase{
			{http.MethodPost, "/api/v2/projects", "/api/v2/projects", `{"key":"p2","name":"P2"}`, nil, 201, "project", "createProject", "proj/p2"},
			{http.MethodDelete, "/api/v2/projects/{projectKey}", "/api/v2/projects/p2", "", nil, 204, "project", "deleteProject", "proj/p2"},
			{http.MethodPost, "/api/v2/projects/{projectKey}/environments/{environmentKey}/apiKey", "/api/v2/projects/default/environments/test/apiKey?expiry=" + strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10), "", nil, 200, "environment", "updateApiKey", "proj/default:env/test"},
			{http.MethodPost, "/api/v2/projects/{projectKey}/environments/{environmentKey}/mobileKey", "/api/v2/projects/default/environments/test/mobileKey", "", nil, 200, "environment", "updateMobileKey", "proj/default:env/test"},
			{http.MethodPost, "/api/v2/metrics/{projectKey}", "/api/v2/metrics/default", `{"key":"c","kind":"custom","eventKey":"c"}`, nil, 201, "metric", "createMetric", "proj/default:metric/c"},
			{http.MethodPatch, "/api/v2/metrics/{projectKey}/{metricKey}", metricPath("default", "c"), `[{"op":"replace","path":"/description","value":"d"}]`, nil, 200, "metric", "updateDescription", "proj/default:metric/c"},
			{http.MethodDelete, "/api/v2/metrics/{projectKey}/{metricKey}", metricPath("default", "gone"), "", nil, 204, "metric", "deleteMetric", "proj/default:metric/gone"},
			{http.MethodPost, "/api/v2/members", "/api/v2/members", `[{"email":"lee@example.com"}]`, nil, 201, "member", "createMember", ""},
			{http.MethodPost, "/api/v2/roles", "/api/v2/roles", `{"key":"ops","name":"Ops","policy":[{"effect":"allow","resources":["proj/*:metric/*"],"actions":["updateName"]}]}`, nil, 201, "role", "createRole", "role/ops"},
			{http.MethodPatch, "/api/v2/roles/{customRoleKey}", "/api/v2/roles/ops", `[{"op":"replace","path":"/name","value":"Ops 2"}]`, nil, 200, "role", "updateName", "role/ops"},
			{http.MethodPatch, "/api/v2/members/{id}", "/api/v2/members/" + memberID, `[{"op":"add","path":"/customRoles/0","value":"ops"}]`, nil, 200, "member", "updateCustomRole", "member/" + memberID},
			{http.MethodDelete, "/api/v2/members/{id}", "/api/v2/members/" + memberID, "", nil, 204, "member", "deleteMember", "member/" + memberID},
			{http.MethodDelete, "/api/v2/roles/{customRoleKey}", "/api/v2/roles/ops", "", nil, 204, "role", "deleteRole", "role/ops"},
			{http.MethodPost, "/api/v2/tokens", "/api/v2/tokens", `{"name":"t2","role":"writer"}`, nil, 201, "token", "createAccessToken", ""},
			{http.MethodPatch, "/api/v2/tokens/{id}", "/api/v2/tokens/" + tokenID, `[{"op":"replace","path":"/name","value":"pre 2"}]`, nil, 200, "token", "updateAccessTokenName", tokenRes},
			{http.MethodPost, "/api/v2/tokens/{id}/reset", "/api/v2/tokens/" + tokenID + "/reset", "", nil, 200, "token", "resetAccessToken", tokenRes},
			{http.MethodDelete, "/api/v2/tokens/{id}", "/api/v2/tokens/" + tokenID, "", nil, 204, "token", "deleteAccessToken", tokenRes},
			{http.MethodPost, "/api/v2/teams", "/api/v2/teams", `{"key":"core","name":"Core"}`, nil, 201, "team", "createTeam", "team/core"},
			{http.MethodPatch, "/api/v2/teams/{teamKey}", "/api/v2/teams/core", `{"instructions":[{"kind":"updateName","value":"Core team"}]}`, nil, 200, "team", "updateTeamName", "team/core"},
			{http.MethodPost, "/api/v2/members/{id}/teams", "/api/v2/members/" + e.ownerID + "/teams", `{"teamKeys":["core"]}`, nil, 201, "team", "updateTeamMembers", "team/core"},
			{http.MethodDelete, "/api/v2/teams/{teamKey}", "/api/v2/teams/core", "", nil, 204, "team", "deleteTeam", "team/core"},
			{http.MethodPost, "/api/v2/projects/{projectKey}/metric-groups", mgCollectionPath("default"), `{"key":"g","name":"G","kind":"standard","metrics":[{"key":"a"},{"key":"b"}]}`, beta, 201, "metric-group", "createMetricGroup", "proj/default:metric-group/g"},
			{http.MethodPatch, "/api/v2/projects/{projectKey}/metric-groups/{metricGroupKey}", mgPath("default", "g"), `[{"op":"replace","path":"/name","value":"G2"}]`, beta, 200, "metric-group", "updateMetricGroupName", "proj/default:metric-group/g"},
			{http.MethodDelete, "/api/v2/projects/{projectKey}/metric-groups/{metricGroupKey}", mgPath("default", "g"), "", beta, 204, "metric-group", "deleteMetricGroup", "proj/default:metric-group/g"},
			{http.MethodPost, "/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments", expPath, `{"key":"x","name":"X","iteration":` + auditIteration + `}`,
				nil, 201, "experiment", "createExperiment", "proj/default:env/production:experiment/x"},
			{http.MethodPost, "/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}/iterations", expPath + "/x/iterations", auditIteration,
				nil, 200, "experiment", "createIteration", "proj/default:env/production:experiment/x"},
			{http.MethodPatch, "/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}", expPath + "/x", `{"instructions":[{"kind":"startIteration"}]}`,
				nil, 200, "experiment", "startIteration", "proj/default:env/production:experiment/x"},
			{http.MethodPost, "/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/measured-rollouts", rolloutsPath("f"), `{"metricKeys":["a"]}`,
				nil, 201, "measured-rollout", "createMeasuredRollout", ""},
			// Views.
			{http.MethodPost, "/api/v2/projects/{projectKey}/views", viewsPath("default"), `{"key":"v","name":"V"}`, beta, 200, "view", "createView", "proj/default:view/v"},
			{http.MethodPatch, "/api/v2/projects/{projectKey}/views/{viewKey}", viewPath("default", "v"), `{"description":"d"}`, beta, 200, "view", "updateView", "proj/default:view/v"},
			{http.MethodPost, "/api/v2/projects/{projectKey}/views/{viewKey}/link/{resourceType}", viewLinkPath("default", "v", "metrics"), `{"keys":["a"]}`, beta, 200, "view", "linkMetricToView", "proj/default:view/v"},
			{http.MethodDelete, "/api/v2/projects/{projectKey}/views/{viewKey}/link/{resourceType}", viewLinkPath("default", "v", "metrics"), `{"keys":["a"]}`, beta, 200, "view", "unlinkMetricFromView", "proj/default:view/v"},
			{http.MethodDelete, "/api/v2/projects/{projectKey}/views/{viewKey}", viewPath("default", "v"), "", beta, 204, "view", "deleteView", "proj/default:view/v"},
		}

		srv := api.New(catalog.New(e.app.Store()), api.Options{})
		// The rollout's path holds the ID it is given on create, so its
		// patch is checked after the cases, below.
		const rolloutPatch = "PATCH /api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/measured-rollouts/{rolloutId}"
		covered := map[string]bool{rolloutPatch: true}
		for _, c := range cases {
			covered[c.method+" "+c.pattern] = true
		}
		for _, r := range srv.Routes() {
			for _, m := range r.Methods {
				if m != http.MethodGet && !covered[m+" "+r.Pattern] {
					t.Errorf("write route %s %s has no case in this test", m, r.Pattern)
				}
			}
		}

		for _, c := range cases {
			before := e.auditEntries(t, "", 20)
			do := e.do
			if strings.Contains(c.pattern, "measured-rollouts") {
				do = e.doUndoc // a metricsd extension, not in the document
			}
			st, body, _ := do(t, c.method, c.path, c.body, c.headers...)
			if st != c.status {
				t.Fatalf("%s %s: %d %s", c.method, c.path, st, body)
			}
			after := e.auditEntries(t, "", 20)
			if len(after) != len(before)+1 {
				t.Errorf("%s %s: %d new entries, want 1", c.method, c.path, len(after)-len(before))
				continue
			}
			got := after[0]
			acc := accesses(got)
			if got["kind"] != c.kind || len(acc) == 0 || !strings.HasPrefix(acc[0], c.action+" ") || (c.resource != "" && acc[0] != c.action+" "+c.resource) {
				t.Errorf("%s %s: entry kind %v accesses %v, want %s %s %s", c.method, c.path, got["kind"], acc, c.kind, c.action, c.resource)
			}
		}

		st, body, _ := e.doUndoc(t, http.MethodGet, rolloutsPath("f"), "")
		if st != http.StatusOK {
			t.Fatalf("list rollouts: %d %s", st, body)
		}
		id := obj(t, body)["items"].([]any)[0].(map[string]any)["_id"].(string)
		if st, body, _ := e.doUndoc(t, http.MethodPatch, rolloutsPath("f")+"/"+id, `{"instructions":[{"kind":"updateStatus","value":"completed"}]}`); st != http.StatusOK {
			t.Fatalf("patch rollout: %d %s", st, body)
		}
		if acc := accesses(e.auditEntries(t, "", 20)[0]); len(acc) != 1 || acc[0] != "updateMeasuredRolloutStatus proj/default:env/production:measured-rollout/"+id {
			t.Errorf("rollout patch entry accesses %v", acc)
		}

		t.Run("refused and empty writes record nothing", func(t *testing.T) {
			n := e.auditCount(t)
			for _, r := range []struct {
				method, path, body string
				headers            []string
				status             int
			}{
				{http.MethodPost, "/api/v2/metrics/default", `{"key":"a","kind":"custom","eventKey":"a"}`, nil, 409},
				{http.MethodPost, "/api/v2/metrics/default", `{"key":"x","kind":"nope"}`, nil, 400},
				{http.MethodPatch, metricPath("default", "a"), `[{"op":"test","path":"/_version","value":99},{"op":"replace","path":"/name","value":"z"}]`, nil, 409},
				{http.MethodPatch, metricPath("default", "a"), `[{"op":"replace","path":"/name","value":"A"}]`, nil, 200},
				{http.MethodDelete, "/api/v2/members/" + e.ownerID, "", nil, 403},
				{http.MethodPost, mgCollectionPath("default"), `{"key":"h","name":"H","kind":"standard","metrics":[{"key":"a"},{"key":"missing"}]}`, beta, 400},
				{http.MethodPatch, "/api/v2/teams/nope", `{"instructions":[{"kind":"updateName","value":"x"}]}`, nil, 404},
				{http.MethodPost, viewsPath("default"), `{"key":"w","name":"W","maintainerTeamKey":"nobody"}`, beta, 400},
				{http.MethodPost, viewLinkPath("default", "nope", "metrics"), `{"keys":["a"]}`, beta, 404},
			} {
				st, body, _ := e.doUndoc(t, r.method, r.path, r.body, r.headers...)
				if st != r.status {
					t.Errorf("%s %s: %d %s, want %d", r.method, r.path, st, body, r.status)
				}
			}
			if got := e.auditCount(t); got != n {
				t.Errorf("audit log grew from %d to %d entries", n, got)
			}
		})
	})
}

// TestAuditConcurrentPatches: patches of one metric at once all apply, one
// after the other, each with its own entry and version.
func TestAuditConcurrentPatches(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"hot","kind":"custom","eventKey":"hot"}`)
		const n = 20
		results := e.race(t, context.Background(), n, http.MethodPatch, metricPath("default", "hot"), func(i int) string {
			return fmt.Sprintf(`[{"op":"replace","path":"/description","value":"writer %d"}]`, i)
		})
		for i, r := range results {
			if r.status != http.StatusOK {
				t.Errorf("writer %d: %d %s", i, r.status, r.body)
			}
		}
		entries := e.auditEntries(t, "spec="+url.QueryEscape("proj/default:metric/hot"), 20)
		var versions []int
		var mu sync.Mutex
		for _, en := range entries {
			if accesses(en)[0] != "updateDescription proj/default:metric/hot" {
				continue
			}
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/auditlog/"+en["_id"].(string), "")
			if st != http.StatusOK {
				t.Fatalf("entry: %d %s", st, body)
			}
			var full struct {
				Current struct {
					Version int `json:"_version"`
				} `json:"currentVersion"`
			}
			if err := json.Unmarshal(body, &full); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			versions = append(versions, full.Current.Version)
			mu.Unlock()
		}
		slices.Sort(versions)
		want := make([]int, n)
		for i := range want {
			want[i] = i + 2
		}
		if d := cmp.Diff(want, versions); d != "" {
			t.Errorf("currentVersion._version of the %d patch entries (-want +got):\n%s", n, d)
		}
	})
}

// TestMalformedQueryString: a query string Go cannot parse whole is a 400,
// never answered as if the unparsable part were absent.
func TestMalformedQueryString(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		for _, q := range []string{"spec=proj/a:metric/y;tag", "filter=%zz", "limit=5;offset=1"} {
			st, body, _ := e.doUndoc(t, http.MethodGet, "/api/v2/auditlog?"+q, "")
			wantError(t, q, st, body, http.StatusBadRequest, "the query string is malformed")
			st, body, _ = e.doUndoc(t, http.MethodGet, "/api/v2/metrics/default?"+q, "")
			wantError(t, q, st, body, http.StatusBadRequest, "the query string is malformed")
		}
	})
}

// TestAuditMembersCreatedTogether: one write that creates several members
// records one entry that names every one of them, and a spec or q for any of
// them finds it.
func TestAuditMembersCreatedTogether(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ids := e.createMembers(t, `[{"email":"ann@example.com"},{"email":"bob@example.com"},{"email":"cy_d@example.com"}]`)
		all := e.auditEntries(t, "spec="+url.QueryEscape("member/*"), 20)
		if len(all) != 1 {
			t.Fatalf("%d entries for member/*, want 1", len(all))
		}
		var want []string
		for _, id := range ids {
			want = append(want, "createMember member/"+id)
		}
		if d := cmp.Diff(want, accesses(all[0])); d != "" {
			t.Errorf("accesses (-want +got):\n%s", d)
		}
		for _, id := range ids {
			if got := e.auditEntries(t, "spec="+url.QueryEscape("member/"+id), 20); len(got) != 1 {
				t.Errorf("spec member/%s: %d entries, want 1", id, len(got))
			}
			if got := e.auditEntries(t, "q="+id, 20); len(got) != 1 {
				t.Errorf("q=%s: %d entries, want 1", id, len(got))
			}
		}
		if got := e.auditEntries(t, "spec="+url.QueryEscape("member/nobody"), 20); len(got) != 0 {
			t.Errorf("spec member/nobody: %d entries, want 0", len(got))
		}
	})
}
