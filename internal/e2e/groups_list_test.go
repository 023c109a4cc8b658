package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// mgListGroup is one group of the list fixture.
type mgListGroup struct {
	key, name, kind string
	maintainer      string // "owner", "alice" or "team"
	metrics         string // JSON array
}

func TestMetricGroupList(t *testing.T) {
	const aliceID = "a11ce00000000000000000a1"
	fixture := []mgListGroup{
		{"checkout-funnel", "Checkout funnel", "funnel", "owner", `[{"key":"c1","nameInGroup":"Visit"},{"key":"c2","nameInGroup":"Buy"}]`},
		{"signup-funnel", "Signup funnel", "funnel", "alice", `[{"key":"c1","nameInGroup":"Land"},{"key":"c3","nameInGroup":"Sign up"}]`},
		{"core-kpis", "Core KPIs", "standard", "owner", `[{"key":"c1"},{"key":"n1"}]`},
		{"checkout-health", "Checkout health", "standard", "alice", `[{"key":"c2"},{"key":"n1"}]`},
		{"guardrails", "Guardrails", "guardrail", "owner", `[{"key":"n1"},{"key":"c3"}]`},
		{"retention", "retention", "standard", "team", `[{"key":"c1"},{"key":"c3"}]`},
		{"Mobile-CHECKOUT", "Mobile purchase", "standard", "owner", `[{"key":"c2"},{"key":"c3"}]`},
		{"search-funnel", "Search funnel", "funnel", "owner", `[{"key":"c3","nameInGroup":"Search"},{"key":"c2","nameInGroup":"Buy"}]`},
		{"pricing", "Pricing page", "standard", "owner", `[{"key":"c1"},{"key":"c2"}]`},
		{"onboarding", "Onboarding steps", "funnel", "alice", `[{"key":"c1","nameInGroup":"One"},{"key":"c2","nameInGroup":"Two"},{"key":"c3","nameInGroup":"Three"}]`},
		{"engagement", "Engagement", "standard", "owner", `[{"key":"n1"},{"key":"c1"}]`},
		{"zeta", "Zeta group", "standard", "team", `[{"key":"c2"},{"key":"n1"}]`},
	}
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		for _, k := range []string{"c1", "c2", "c3"} {
			e.createMetric(t, "default", fmt.Sprintf(`{"key":%q,"kind":"custom","eventKey":%q}`, k, k))
		}
		e.createMetric(t, "default", `{"key":"n1","kind":"custom","eventKey":"n1","isNumeric":true,"successCriteria":"HigherThanBaseline"}`)
		prod, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "production").Execute()
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}
		db := openSeedDB(t, b)
		db.exec(t, `INSERT INTO members (id, email, first_name, last_name, role, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			aliceID, "alice@example.com", "Alice", "Analyst", "writer", int64(1700000000000))
		db.exec(t, `INSERT INTO teams (key, name, description, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			"team-growth", "Growth", "", 1, int64(1700000000000), int64(1700000000000))

		type created struct {
			at float64
			id string
		}
		info := map[string]created{}
		var all []string
		for _, g := range fixture {
			maint := fmt.Sprintf(`"maintainerId":%q`, e.ownerID)
			switch g.maintainer {
			case "alice":
				maint = fmt.Sprintf(`"maintainerId":%q`, aliceID)
			case "team":
				maint = `"maintainerTeamKey":"team-growth"`
			}
			rep := e.mgCreate(t, "default", fmt.Sprintf(`{"key":%q,"name":%q,"kind":%q,"tags":[],%s,"metrics":%s}`, g.key, g.name, g.kind, maint, g.metrics))
			info[g.key] = created{rep["_creationDate"].(float64), rep["_id"].(string)}
			all = append(all, g.key)
		}
		// Experiments and guarded rollouts that use groups, through the API.
		xs := map[string]map[string]any{}
		exp := func(key, name string, refs []string, instructions ...string) {
			xs[key] = e.createExperiment(t, key, name, simpleIteration("flag-"+key, refs...), instructions...)
		}
		exp("x-run1", "Running one", []string{"group:checkout-funnel", "group:core-kpis"}, startIt)
		exp("x-run2", "Running two", []string{"group:checkout-funnel"}, startIt)
		exp("x-stop", "Stopped", []string{"group:checkout-funnel", "group:checkout-health"}, startIt, stopIt)
		exp("x-new", "Not started", []string{"group:search-funnel"})
		// A standard group cannot be primary: metric c1 is.
		exp("x-arch", "Archived", []string{"c1", "group:core-kpis"}, startIt, stopIt, archiveIt)
		e.createRollout(t, "flag-g", `{"metricGroupKeys":["guardrails"]}`)
		done := e.createRollout(t, "flag-h", `{"metricGroupKeys":["guardrails"]}`)
		if st, body, _ := e.doUndoc(t, http.MethodPatch, rolloutsPath("flag-h")+"/"+done["_id"].(string), `{"instructions":[{"kind":"updateStatus","value":"completed"}]}`); st != http.StatusOK {
			t.Fatalf("complete rollout: %d %s", st, body)
		}
		createdAt := func(key string) int64 { return int64(xs[key]["_creationDate"].(float64)) }
		connections := map[string]int{"checkout-funnel": 3, "core-kpis": 2, "guardrails": 2, "checkout-health": 1, "search-funnel": 1}
		names := map[string]string{}
		kinds := map[string]string{}
		maintainers := map[string]string{}
		for _, g := range fixture {
			names[g.key], kinds[g.key], maintainers[g.key] = g.name, g.kind, g.maintainer
		}
		// byCreation orders keys as sort=createdAt does: creation time, then id.
		byCreation := func(keys []string) []string {
			out := slices.Clone(keys)
			sort.SliceStable(out, func(i, j int) bool {
				a, b := info[out[i]], info[out[j]]
				if a.at != b.at {
					return a.at < b.at
				}
				return a.id < b.id
			})
			return out
		}
		where := func(pred func(key string) bool) []string {
			out := []string{}
			for _, k := range byCreation(all) {
				if pred(k) {
					out = append(out, k)
				}
			}
			return out
		}
		keysOf := func(keys ...string) []string { return where(func(k string) bool { return slices.Contains(keys, k) }) }
		list := func(t *testing.T, q url.Values) map[string]any {
			t.Helper()
			return e.mgList(t, "default", q.Encode())
		}

		t.Run("default page", func(t *testing.T) {
			coll := list(t, nil)
			if d := cmp.Diff(byCreation(all), itemKeys(t, coll)); d != "" {
				t.Errorf("items (-want +got):\n%s", d)
			}
			if coll["totalCount"] != 12.0 {
				t.Errorf("totalCount %v", coll["totalCount"])
			}
			links := linkQueries(t, coll, mgCollectionPath("default"))
			if d := cmp.Diff(map[string]url.Values{"self": page(20, 0), "first": page(20, 0), "last": page(20, 0)}, links); d != "" {
				t.Errorf("links (-want +got):\n%s", d)
			}
			// Items are full representations, usage included.
			items := map[string]map[string]any{}
			for _, it := range coll["items"].([]any) {
				items[it.(map[string]any)["key"].(string)] = it.(map[string]any)
			}
			for key, want := range map[string][2]float64{"checkout-funnel": {2, 0}, "core-kpis": {1, 0}, "guardrails": {0, 1}, "checkout-health": {0, 0}, "pricing": {0, 0}} {
				it := items[key]
				if got := [2]any{it["activeExperimentCount"], it["activeGuardedRolloutCount"]}; got != [2]any{want[0], want[1]} {
					t.Errorf("%s: [activeExperimentCount activeGuardedRolloutCount] = %v, want %v", key, got, want)
				}
				for _, f := range []string{"experiments", "experimentCount"} {
					if _, ok := it[f]; ok {
						t.Errorf("%s: list item has %s", key, f)
					}
				}
			}
			if d := cmp.Diff(roundTrip(t, e.mgGet(t, "default", "zeta", "")), roundTrip(t, items["zeta"])); d != "" {
				t.Errorf("list item differs from GET (-get +list):\n%s", d)
			}
			diffJSON(t, "team maintainer", teamMaintainerJSON("team-growth", "Growth"), items["retention"]["maintainer"])
			diffJSON(t, "alice", memberMaintainerJSON(aliceID, fmt.Sprintf(`{"_links": {"self": {"href": "/api/v2/members/%[1]s", "type": "application/json"}},
				"_id": %[1]q, "firstName": "Alice", "lastName": "Analyst", "role": "writer", "email": "alice@example.com"}`, aliceID)), items["onboarding"]["maintainer"])
		})
		t.Run("paging", func(t *testing.T) {
			order := byCreation(all)
			coll, resp, err := e.mgAPI(t).MetricsBetaApi.GetMetricGroups(ctx, "default").Limit(5).Offset(5).Execute()
			if err != nil {
				t.Fatalf("GetMetricGroups: %v (status %d)", err, status(resp))
			}
			var got []string
			for _, it := range coll.Items {
				got = append(got, it.Key)
			}
			if d := cmp.Diff(order[5:10], got); d != "" {
				t.Errorf("limit 5 offset 5 (-want +got):\n%s", d)
			}
			if coll.TotalCount == nil || *coll.TotalCount != 12 {
				t.Errorf("totalCount %v", coll.TotalCount)
			}
			raw := obj(t, rawBody(t, resp))
			if d := cmp.Diff(map[string]url.Values{"self": page(5, 5), "first": page(5, 0), "prev": page(5, 0), "next": page(5, 10), "last": page(5, 10)},
				linkQueries(t, raw, mgCollectionPath("default"))); d != "" {
				t.Errorf("links (-want +got):\n%s", d)
			}
			coll2 := list(t, url.Values{"limit": {"5"}, "offset": {"10"}})
			if d := cmp.Diff(order[10:], itemKeys(t, coll2)); d != "" {
				t.Errorf("last page (-want +got):\n%s", d)
			}
			if _, ok := coll2["_links"].(map[string]any)["next"]; ok {
				t.Errorf("last page has a next link")
			}
			coll3 := list(t, url.Values{"offset": {"100"}})
			if n := len(itemKeys(t, coll3)); n != 0 || coll3["totalCount"] != 12.0 {
				t.Errorf("offset past the end: %d items, totalCount %v", n, coll3["totalCount"])
			}
			// Filter, sort and expand are kept in every link.
			q := url.Values{"limit": {"3"}, "offset": {"3"}, "filter": {"kind equals standard"}, "sort": {"name"}, "expand": {"experiments"}}
			coll4 := list(t, q)
			std := where(func(k string) bool { return kinds[k] == "standard" })
			sort.Slice(std, func(i, j int) bool { return strings.ToLower(names[std[i]]) < strings.ToLower(names[std[j]]) })
			if d := cmp.Diff(std[3:6], itemKeys(t, coll4)); d != "" {
				t.Errorf("filtered page (-want +got):\n%s", d)
			}
			if coll4["totalCount"] != float64(len(std)) {
				t.Errorf("filtered totalCount %v, want %d", coll4["totalCount"], len(std))
			}
			extra := []string{"filter", "kind equals standard", "sort", "name", "expand", "experiments"}
			if d := cmp.Diff(map[string]url.Values{"self": page(3, 3, extra...), "first": page(3, 0, extra...), "prev": page(3, 0, extra...),
				"next": page(3, 6, extra...), "last": page(3, 6, extra...)}, linkQueries(t, coll4, mgCollectionPath("default"))); d != "" {
				t.Errorf("filtered links (-want +got):\n%s", d)
			}
			for _, bad := range []url.Values{{"limit": {"0"}}, {"limit": {"51"}}, {"limit": {"x"}}, {"offset": {"-1"}}} {
				st, body := e.mgDo(t, http.MethodGet, mgCollectionPath("default")+"?"+bad.Encode(), "")
				wantError(t, bad.Encode(), st, body, http.StatusBadRequest, bad.Encode()[:strings.Index(bad.Encode(), "=")])
			}
		})
		t.Run("sort", func(t *testing.T) {
			byName := slices.Clone(all)
			sort.Slice(byName, func(i, j int) bool { return strings.ToLower(names[byName[i]]) < strings.ToLower(names[byName[j]]) })
			byConn := byCreation(all)
			sort.SliceStable(byConn, func(i, j int) bool {
				a, b := byConn[i], byConn[j]
				if connections[a] != connections[b] {
					return connections[a] < connections[b]
				}
				return info[a].id < info[b].id
			})
			connDescName := slices.Clone(byName)
			sort.SliceStable(connDescName, func(i, j int) bool { return connections[connDescName[i]] > connections[connDescName[j]] })
			for _, c := range []struct {
				sort string
				want []string
			}{
				{"", byCreation(all)},
				{"createdAt", byCreation(all)},
				{"-createdAt", reversed(byCreation(all))},
				{"name", byName},
				{"-name", reversed(byName)},
				{"connectionCount", byConn},
				{"-connectionCount", reversed(byConn)},
				{"-connectionCount,name", connDescName},
			} {
				coll, resp, err := e.mgAPI(t).MetricsBetaApi.GetMetricGroups(ctx, "default").Sort(c.sort).Limit(50).Execute()
				if err != nil {
					t.Fatalf("sort %q: %v (status %d)", c.sort, err, status(resp))
				}
				got := []string{}
				for _, it := range coll.Items {
					got = append(got, it.Key)
				}
				if d := cmp.Diff(c.want, got); d != "" {
					t.Errorf("sort %q (-want +got):\n%s", c.sort, d)
				}
			}
			if d := cmp.Diff([]string{"checkout-funnel", "core-kpis", "guardrails", "checkout-health", "search-funnel"}, connDescName[:5]); d != "" {
				t.Errorf("fixture: -connectionCount,name starts (-want +got):\n%s", d)
			}
			st, body := e.mgDo(t, http.MethodGet, mgCollectionPath("default")+"?sort=bogus", "")
			if got := wantError(t, "sort bogus", st, body, http.StatusBadRequest); got.Message != `sort field "bogus" is not supported; use name or createdAt or connectionCount, with - for descending order` {
				t.Errorf("message %q", got.Message)
			}
		})
		t.Run("filter", func(t *testing.T) {
			for _, c := range []struct {
				filter string
				want   []string
			}{
				{"kind equals funnel", where(func(k string) bool { return kinds[k] == "funnel" })},
				{"kind equals guardrail", keysOf("guardrails")},
				{"kind equals standard", where(func(k string) bool { return kinds[k] == "standard" })},
				{"query equals 'checkout'", keysOf("checkout-funnel", "checkout-health", "Mobile-CHECKOUT")},
				{"query equals FUNNEL", keysOf("checkout-funnel", "signup-funnel", "search-funnel")},
				{`query equals ["pricing", "zeta"]`, keysOf("pricing", "zeta")},
				{"query equals checkout and query equals health", keysOf("checkout-health")},
				{"query equals '%'", []string{}},
				{"query equals '_'", []string{}},
				{"query equals []", []string{}},
				{fmt.Sprintf(`maintainerIds anyOf [%q]`, e.ownerID), where(func(k string) bool { return maintainers[k] == "owner" })},
				{fmt.Sprintf(`maintainerIds anyOf [%q, %q]`, e.ownerID, aliceID), where(func(k string) bool { return maintainers[k] != "team" })},
				{`maintainerIds anyOf ["nobody"]`, []string{}},
				{"maintainerTeamKey equals team-growth", keysOf("retention", "zeta")},
				{"maintainerTeamKey equals ghost", []string{}},
				{"hasConnections equals true", where(func(k string) bool { return connections[k] > 0 })},
				{"hasConnections equals false", where(func(k string) bool { return connections[k] == 0 })},
				{"experimentStatus equals 'running'", keysOf("checkout-funnel", "core-kpis")},
				{"experimentStatus equals 'not_started'", keysOf("search-funnel")},
				{"experimentStatus equals 'stopped'", keysOf("checkout-funnel", "core-kpis", "checkout-health")},
				{"experimentStatus equals 'started'", keysOf("checkout-funnel", "core-kpis", "checkout-health")},
				{"kind equals funnel and experimentStatus equals 'started'", keysOf("checkout-funnel")},
				{"hasConnections equals false, kind equals funnel", keysOf("signup-funnel", "onboarding")},
				{fmt.Sprintf(`maintainerIds anyOf [%q] and query equals checkout`, aliceID), keysOf("checkout-health")},
				{"experimentStatus equals 'not_started' and query equals 'search'", keysOf("search-funnel")},
			} {
				coll, resp, err := e.mgAPI(t).MetricsBetaApi.GetMetricGroups(ctx, "default").Filter(c.filter).Execute()
				if err != nil {
					t.Errorf("filter %s: %v (status %d)", c.filter, err, status(resp))
					continue
				}
				got := []string{}
				for _, it := range coll.Items {
					got = append(got, it.Key)
				}
				if d := cmp.Diff(c.want, got); d != "" {
					t.Errorf("filter %s (-want +got):\n%s", c.filter, d)
				}
				if coll.TotalCount == nil || int(*coll.TotalCount) != len(c.want) {
					t.Errorf("filter %s: totalCount %v, want %d", c.filter, coll.TotalCount, len(c.want))
				}
			}
			for _, c := range []struct{ filter, msg string }{
				{"kind equals pipeline", `invalid filter at position 12: must be one of funnel, standard, guardrail; found "pipeline"`},
				{"bogus equals x", "invalid filter at position 0: unknown field \"bogus\""},
				{"kind anyOf [funnel]", `invalid filter at position 5: operator "anyOf" is not supported for field "kind"; use equals`},
				{"hasConnections equals maybe", `invalid filter at position 22: expected true or false, found string "maybe"`},
				{"experimentStatus equals done", `invalid filter at position 24: must be one of not_started, running, stopped, started; found "done"`},
				{"kind equals funnel and kind equals standard", `invalid filter at position 23: field "kind" may appear only once`},
				{"kind equals funnel or kind equals standard", `invalid filter at position 19: expected "and" or "," between clauses, found "or"`},
			} {
				_, resp, err := e.mgAPI(t).MetricsBetaApi.GetMetricGroups(ctx, "default").Filter(c.filter).Execute()
				clientError(t, "filter "+c.filter, resp, err, http.StatusBadRequest, c.msg)
			}
		})
		t.Run("expand is ignored on the list", func(t *testing.T) {
			for _, expand := range []string{"anything", "experiments,experimentCount"} {
				coll, resp, err := e.mgAPI(t).MetricsBetaApi.GetMetricGroups(ctx, "default").Expand(expand).Execute()
				if err != nil {
					t.Fatalf("expand %s: %v (status %d)", expand, err, status(resp))
				}
				if len(coll.Items) != 12 {
					t.Errorf("expand %s: %d items", expand, len(coll.Items))
				}
				for _, it := range coll.Items {
					if it.Experiments != nil || it.ExperimentCount != nil {
						t.Errorf("expand %s: %s has experiments %v, experimentCount %v", expand, it.Key, it.Experiments, it.ExperimentCount)
					}
				}
			}
		})
		t.Run("expand experiments", func(t *testing.T) {
			envLinks := `"_links": {"parent": {"href": "/api/v2/projects/default/environments/production", "type": "application/json"},
				"self": {"href": "/api/v2/projects/default/environments/production/experiments/%s", "type": "application/json"}}`
			x := func(key, name string, created int64, archived string) string {
				return fmt.Sprintf(`{"key": %q, "name": %q, "environmentId": %q, "environmentKey": "production", "creationDate": %d%s, `+envLinks+`}`,
					key, name, prod.Id, created, archived, key)
			}
			rep, resp, err := e.mgAPI(t).MetricsBetaApi.GetMetricGroup(ctx, "default", "checkout-funnel").Expand("experiments,experimentCount").Execute()
			if err != nil {
				t.Fatalf("GetMetricGroup: %v (status %d)", err, status(resp))
			}
			if len(rep.Experiments) != 3 || rep.ExperimentCount == nil || *rep.ExperimentCount != 3 {
				t.Errorf("client model: %d experiments, count %v", len(rep.Experiments), rep.ExperimentCount)
			}
			got := obj(t, rawBody(t, resp))
			diffJSON(t, "checkout-funnel experiments", `[`+x("x-run1", "Running one", createdAt("x-run1"), "")+`, `+x("x-run2", "Running two", createdAt("x-run2"), "")+`, `+
				x("x-stop", "Stopped", createdAt("x-stop"), "")+`]`, got["experiments"])
			if got["experimentCount"] != 3.0 || got["activeExperimentCount"] != 2.0 {
				t.Errorf("experimentCount %v, activeExperimentCount %v; want 3, 2", got["experimentCount"], got["activeExperimentCount"])
			}
			plain := e.mgGet(t, "default", "checkout-funnel", "")
			if d := cmp.Diff(plain, without(got, "experiments", "experimentCount")); d != "" {
				t.Errorf("expanded GET differs from plain GET beyond the expansions (-plain +expanded):\n%s", d)
			}
			for _, f := range []string{"experiments", "experimentCount"} {
				if _, ok := plain[f]; ok {
					t.Errorf("%s present without expand", f)
				}
			}
			got = e.mgGet(t, "default", "core-kpis", "expand=experiments")
			diffJSON(t, "core-kpis experiments", `[`+x("x-run1", "Running one", createdAt("x-run1"), "")+`, `+
				x("x-arch", "Archived", createdAt("x-arch"), fmt.Sprintf(`, "archivedDate": %d`, int64(xs["x-arch"]["archivedDate"].(float64))))+`]`, got["experiments"])
			if _, ok := got["experimentCount"]; ok || got["activeExperimentCount"] != 1.0 {
				t.Errorf("core-kpis: experimentCount present %v, activeExperimentCount %v (want 1)", ok, got["activeExperimentCount"])
			}
			got = e.mgGet(t, "default", "core-kpis", "expand=experimentCount")
			if _, ok := got["experiments"]; ok || got["experimentCount"] != 2.0 {
				t.Errorf("core-kpis expand=experimentCount: experiments present %v, experimentCount %v (want 2)", ok, got["experimentCount"])
			}
			got = e.mgGet(t, "default", "pricing", "expand=experiments,experimentCount")
			diffJSON(t, "pricing experiments", `[]`, got["experiments"])
			if got["experimentCount"] != 0.0 {
				t.Errorf("pricing experimentCount %v", got["experimentCount"])
			}
			got = e.mgGet(t, "default", "guardrails", "expand=experimentCount")
			if got["experimentCount"] != 0.0 || got["activeGuardedRolloutCount"] != 1.0 {
				t.Errorf("guardrails: experimentCount %v, activeGuardedRolloutCount %v", got["experimentCount"], got["activeGuardedRolloutCount"])
			}
			_, resp, err = e.mgAPI(t).MetricsBetaApi.GetMetricGroup(ctx, "default", "pricing").Expand("metricGroups").Execute()
			clientError(t, "expand metricGroups", resp, err, http.StatusBadRequest, `expand "metricGroups" is not supported`)
		})
		t.Run("delete", func(t *testing.T) {
			api := e.mgAPI(t)
			for key, msg := range map[string]string{
				"checkout-funnel": `metric group "checkout-funnel" is used by experiment x-run1, experiment x-run2, experiment x-stop; remove it from them first`,
				"core-kpis":       `metric group "core-kpis" is used by experiment x-arch, experiment x-run1; remove it from them first`,
				// Only the monitoring rollout keeps it; the completed one does not.
				"guardrails": `metric group "guardrails" is used by guarded rollout of flag flag-g; remove it from them first`,
			} {
				resp, err := api.MetricsBetaApi.DeleteMetricGroup(allowUndocumented(ctx), "default", key).Execute()
				if got := clientError(t, "delete "+key, resp, err, http.StatusConflict); got.Message != msg {
					t.Errorf("delete %s: message %q, want %q", key, got.Message, msg)
				}
				e.mgGet(t, "default", key, "")
			}
			resp, err := api.MetricsBetaApi.DeleteMetricGroup(ctx, "default", "pricing").Execute()
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("delete pricing: %v (status %d)", err, status(resp))
			}
			_, resp, err = api.MetricsBetaApi.GetMetricGroup(ctx, "default", "pricing").Execute()
			clientError(t, "GET deleted", resp, err, http.StatusNotFound, `unknown metric group "pricing" in project "default"`)
			resp, err = api.MetricsBetaApi.DeleteMetricGroup(ctx, "default", "pricing").Execute()
			clientError(t, "delete again", resp, err, http.StatusNotFound, `unknown metric group "pricing"`)
			if n := e.mgCount(t, "default"); n != 11 {
				t.Errorf("totalCount %d after one delete, want 11", n)
			}
			// Its metrics no longer count it.
			if got := e.getMetric(t, "default", "c1", "expand=metricGroupCount"); got["metricGroupCount"] != 6.0 {
				t.Errorf("c1 metricGroupCount %v, want 6", got["metricGroupCount"])
			}
			// A group only a draft iteration used can be deleted once a new
			// draft replaces that one.
			resp, err = api.MetricsBetaApi.DeleteMetricGroup(allowUndocumented(ctx), "default", "search-funnel").Execute()
			clientError(t, "delete search-funnel", resp, err, http.StatusConflict, "experiment x-new")
			if st, body, _ := e.do(t, http.MethodPost, expPath+"/x-new/iterations", simpleIteration("flag-x-new", "c1")); st != http.StatusOK {
				t.Fatalf("replace draft: %d %s", st, body)
			}
			if resp, err := api.MetricsBetaApi.DeleteMetricGroup(ctx, "default", "search-funnel").Execute(); err != nil {
				t.Errorf("delete search-funnel after its draft was replaced: %v (status %d)", err, status(resp))
			}
		})
		t.Run("delete the project", func(t *testing.T) {
			// Its groups go with it, used or not.
			if resp, err := e.api(t).ProjectsApi.DeleteProject(ctx, "default").Execute(); err != nil {
				t.Fatalf("DeleteProject: %v (status %d)", err, status(resp))
			}
			if _, resp, err := e.api(t).ProjectsApi.PostProject(ctx).ProjectPost(ldapi.ProjectPost{Key: "default", Name: "Default"}).Execute(); err != nil {
				t.Fatalf("re-create: %v (status %d)", err, status(resp))
			}
			if n := e.mgCount(t, "default"); n != 0 {
				t.Errorf("%d groups in the re-created project", n)
			}
			st, body := e.mgDo(t, http.MethodGet, mgPath("default", "checkout-funnel"), "")
			wantError(t, "old group", st, body, http.StatusNotFound)
		})
	})
}
