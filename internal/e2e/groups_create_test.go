package e2e

import (
	"context"
	"fmt"
	"github.com/metricsd/metricsd/internal/action"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

func TestMetricGroupCreate(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		signup := e.createMetric(t, "default", `{"key":"signup","name":"Sign up","kind":"custom","eventKey":"signed-up"}`)
		cart := e.createMetric(t, "default", `{"key":"add-to-cart","name":"Add to cart","kind":"custom","eventKey":"cart-add"}`)
		purchase := e.createMetric(t, "default", `{"key":"purchase","name":"Purchase","kind":"custom","eventKey":"purchased","unitAggregationType":"sum"}`)
		revenue := e.createMetric(t, "default", `{"key":"revenue","name":"Revenue","kind":"custom","eventKey":"revenue","isNumeric":true,"successCriteria":"HigherThanBaseline","unit":"usd"}`)
		latency := e.createMetric(t, "default", `{"key":"latency-p95","kind":"custom","eventKey":"latency","isNumeric":true,"successCriteria":"LowerThanBaseline","analysisType":"percentile","percentileValue":95}`)
		e.createMetric(t, "default", `{"key":"org-signup","kind":"custom","eventKey":"org","randomizationUnits":["organization"]}`)
		home := e.createMetric(t, "default", `{"key":"home-view","name":"Home page","kind":"pageview","urls":[{"kind":"exact","url":"https://example.com/"}],"randomizationUnits":["user","organization"]}`)
		e.createMetric(t, "default", `{"key":"retired","kind":"custom","eventKey":"old","archived":true}`)
		if _, resp, err := e.api(t).ProjectsApi.PostProject(ctx).ProjectPost(ldapi.ProjectPost{Key: "other", Name: "Other"}).Execute(); err != nil {
			t.Fatalf("PostProject: %v (status %d)", err, status(resp))
		}
		e.createMetric(t, "other", `{"key":"elsewhere","kind":"custom","eventKey":"elsewhere"}`)

		t.Run("funnel", func(t *testing.T) {
			since := time.Now()
			rep, resp, err := e.mgAPI(t).MetricsBetaApi.CreateMetricGroup(ctx, "default").MetricGroupPost(ldapi.MetricGroupPost{
				Key: ptr("checkout-funnel"), Name: "Checkout funnel", Kind: "funnel", Description: ptr("From sign-up to purchase"),
				MaintainerId: e.ownerID, Tags: []string{"checkout", "web", "checkout"},
				Metrics: []ldapi.MetricInMetricGroupInput{
					{Key: "signup", NameInGroup: "Step 1: sign up"},
					{Key: "add-to-cart", NameInGroup: "Step 2: add to cart"},
					{Key: "purchase", NameInGroup: "Step 3: buy"},
				},
			}).Execute()
			if err != nil {
				t.Fatalf("CreateMetricGroup: %v (status %d)", err, status(resp))
			}
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("status %d, want 201", resp.StatusCode)
			}
			if rep.Key != "checkout-funnel" || len(rep.Metrics) != 3 || rep.Metrics[2].Key != "purchase" || rep.Maintainer.Member == nil {
				t.Errorf("client model: %+v", rep)
			}
			got := obj(t, rawBody(t, resp))
			want := fmt.Sprintf(`{
				"key": "checkout-funnel", "name": "Checkout funnel", "kind": "funnel", "description": "From sign-up to purchase",
				"tags": ["checkout", "web"],
				"_links": {
					"parent": {"href": "/api/v2/projects/default", "type": "application/json"},
					"self": {"href": "/api/v2/projects/default/metric-groups/checkout-funnel", "type": "application/json"}
				},
				"maintainer": {"key": %[1]q, "kind": "member", "member": {
					"_links": {"self": {"href": "/api/v2/members/%[1]s", "type": "application/json"}},
					"_id": %[1]q, "firstName": "Metricsd", "lastName": "Owner", "role": "owner", "email": "owner@metricsd.local"
				}, "_member": {
					"_links": {"self": {"href": "/api/v2/members/%[1]s", "type": "application/json"}},
					"_id": %[1]q, "firstName": "Metricsd", "lastName": "Owner", "role": "owner", "email": "owner@metricsd.local"
				}},
				"metrics": [
					{"key": "signup", "_versionId": %[2]q, "name": "Sign up", "kind": "custom", "isNumeric": false,
					 "unitAggregationType": "average", "eventKey": "signed-up", "nameInGroup": "Step 1: sign up", "randomizationUnits": ["user"], "analysisUnits": ["user"],
					 "_links": {"self": {"href": "/api/v2/metrics/default/signup", "type": "application/json"}}},
					{"key": "add-to-cart", "_versionId": %[3]q, "name": "Add to cart", "kind": "custom", "isNumeric": false,
					 "unitAggregationType": "average", "eventKey": "cart-add", "nameInGroup": "Step 2: add to cart", "randomizationUnits": ["user"], "analysisUnits": ["user"],
					 "_links": {"self": {"href": "/api/v2/metrics/default/add-to-cart", "type": "application/json"}}},
					{"key": "purchase", "_versionId": %[4]q, "name": "Purchase", "kind": "custom", "isNumeric": false,
					 "unitAggregationType": "sum", "eventKey": "purchased", "nameInGroup": "Step 3: buy", "randomizationUnits": ["user"], "analysisUnits": ["user"],
					 "_links": {"self": {"href": "/api/v2/metrics/default/purchase", "type": "application/json"}}}
				],
				"_version": 1, "activeExperimentCount": 0, "activeGuardedRolloutCount": 0
			}`, e.ownerID, signup["_versionId"], cart["_versionId"], purchase["_versionId"])
			diffJSON(t, "created funnel", want, without(got, append(mgVolatile, "_access")...))
			if d := cmp.Diff(roundTrip(t, ownerAccess(t, action.MetricGroupActions())), got["_access"]); d != "" {
				t.Errorf("funnel _access (-want +got):\n%s", d)
			}
			mgCheckVolatile(t, got, since)
			if d := cmp.Diff(got, e.mgGet(t, "default", "checkout-funnel", "")); d != "" {
				t.Errorf("GET differs from the create response (-created +read):\n%s", d)
			}
		})
		t.Run("standard", func(t *testing.T) {
			since := time.Now()
			// No maintainerId: the member whose token created it; null tags.
			got := e.mgCreate(t, "default", `{"key":"kpis","name":"  KPIs  ","kind":"standard","tags":null,
				"metrics":[{"key":"home-view","nameInGroup":""},{"key":"revenue","nameInGroup":"Money"},{"key":"latency-p95"}]}`)
			want := mgExpect(e, "default", "kpis", "KPIs", "standard", "", nil, 1,
				mgEntry("default", home, ""), mgEntry("default", revenue, "Money"), mgEntry("default", latency, ""))
			mgCompare(t, "created standard group", want, got)
			mgCheckVolatile(t, got, since)
			if _, ok := want["metrics"].([]map[string]any)[0]["eventKey"]; ok {
				t.Errorf("a pageview metric has an eventKey")
			}
			if d := cmp.Diff(got, e.mgGet(t, "default", "kpis", "")); d != "" {
				t.Errorf("GET differs from the create response (-created +read):\n%s", d)
			}
		})
		t.Run("key derivation", func(t *testing.T) {
			api := e.mgAPI(t)
			create := func(name string) string {
				t.Helper()
				rep, resp, err := api.MetricsBetaApi.CreateMetricGroup(ctx, "default").MetricGroupPost(ldapi.MetricGroupPost{
					Name: name, Kind: "standard", Tags: []string{},
					Metrics: []ldapi.MetricInMetricGroupInput{{Key: "signup"}, {Key: "purchase"}},
				}).Execute()
				if err != nil {
					t.Fatalf("create %q: %v (status %d)", name, err, status(resp))
				}
				got := obj(t, rawBody(t, resp))
				self := got["_links"].(map[string]any)["self"].(map[string]any)["href"]
				if want := mgPath("default", rep.Key); self != want {
					t.Errorf("%q: self link %v, want %s", name, self, want)
				}
				e.mgGet(t, "default", rep.Key, "")
				return rep.Key
			}
			var keys []string
			for _, name := range []string{"Weekly KPIs!", "Weekly KPIs!", "weekly kpis", "Checkout: Mobile / Web"} {
				keys = append(keys, create(name))
			}
			if d := cmp.Diff([]string{"weekly-kpis", "weekly-kpis-2", "weekly-kpis-3", "checkout-mobile-web"}, keys); d != "" {
				t.Errorf("derived keys (-want +got):\n%s", d)
			}
			// A suffix already taken is skipped.
			e.mgCreate(t, "default", `{"key":"revenue-kpis-2","name":"Other","kind":"standard","tags":[],"metrics":[{"key":"signup"},{"key":"purchase"}]}`)
			keys = []string{create("Revenue KPIs"), create("Revenue KPIs")}
			if d := cmp.Diff([]string{"revenue-kpis", "revenue-kpis-3"}, keys); d != "" {
				t.Errorf("derived keys around a taken suffix (-want +got):\n%s", d)
			}
			// An empty key is derived too.
			if g := e.mgCreate(t, "default", `{"key":"","name":"Empty key","kind":"standard","tags":[],"metrics":[{"key":"signup"},{"key":"purchase"}]}`); g["key"] != "empty-key" {
				t.Errorf("key %v, want empty-key", g["key"])
			}
			st, body := e.mgDo(t, http.MethodPost, mgCollectionPath("default"), `{"name":"!!!","kind":"standard","tags":[],"metrics":[{"key":"signup"},{"key":"purchase"}]}`)
			if got := wantError(t, "name without letters", st, body, http.StatusBadRequest); got.Message != "key is required when the name has no letters or digits" {
				t.Errorf("message %q", got.Message)
			}
		})

		t.Run("rules", func(t *testing.T) {
			before := e.mgCount(t, "default")
			two := `"metrics":[{"key":"signup","nameInGroup":"A"},{"key":"purchase","nameInGroup":"B"}]`
			std := func(rest string) string {
				return `{"key":"rule","name":"Rule","kind":"standard","tags":[],` + rest + `}`
			}
			fun := func(rest string) string { return `{"key":"rule","name":"Rule","kind":"funnel","tags":[],` + rest + `}` }
			var many []string
			for i := range 51 {
				many = append(many, fmt.Sprintf(`{"key":"m%d","nameInGroup":"S%d"}`, i, i))
			}
			for _, c := range []struct{ name, body, msg string }{
				{"no metrics", std(`"metrics":[]`), "metrics must list at least 2 metrics"},
				{"metrics missing", std(`"description":"x"`), "metrics must list at least 2 metrics"},
				{"one metric", std(`"metrics":[{"key":"signup","nameInGroup":""}]`), "metrics must list at least 2 metrics"},
				{"51 metrics", std(`"metrics":[` + strings.Join(many, ",") + `]`), "metrics must list at most 50 metrics"},
				{"metric without key", std(`"metrics":[{"key":"signup"},{"nameInGroup":"x"}]`), "metrics[1].key is required"},
				{"unknown metric", std(`"metrics":[{"key":"signup"},{"key":"nope"}]`), `metrics[1]: no metric "nope" in this project`},
				{"metric of another project", std(`"metrics":[{"key":"signup"},{"key":"elsewhere"}]`), `metrics[1]: no metric "elsewhere" in this project`},
				{"archived metric", std(`"metrics":[{"key":"retired"},{"key":"signup"}]`), `metrics[0]: metric "retired" is archived`},
				{"duplicate metric", std(`"metrics":[{"key":"signup"},{"key":"purchase"},{"key":"signup"}]`), `metrics[2]: metric "signup" is already metrics[0]`},
				{"funnel with a numeric metric", fun(`"metrics":[{"key":"signup","nameInGroup":"A"},{"key":"revenue","nameInGroup":"B"}]`),
					`metrics[1]: funnel steps must be conversion metrics; "revenue" is numeric`},
				// A percentile metric is numeric by the metric rules, so the
				// numeric rule answers first.
				{"funnel with a percentile metric", fun(`"metrics":[{"key":"signup","nameInGroup":"A"},{"key":"latency-p95","nameInGroup":"B"}]`),
					`metrics[1]: funnel steps must be conversion metrics; "latency-p95" is numeric`},
				{"funnel step without nameInGroup", fun(`"metrics":[{"key":"signup","nameInGroup":"A"},{"key":"purchase"}]`),
					"metrics[1].nameInGroup is required for each step of a funnel"},
				{"funnel step with a blank nameInGroup", fun(`"metrics":[{"key":"signup","nameInGroup":"  "},{"key":"purchase","nameInGroup":"B"}]`),
					"metrics[0].nameInGroup is required for each step of a funnel"},
				{"nameInGroup too long", std(`"metrics":[{"key":"signup","nameInGroup":"` + strings.Repeat("n", 257) + `"},{"key":"purchase"}]`),
					"metrics[0].nameInGroup must be at most 256 characters"},
				{"no shared randomization unit", std(`"metrics":[{"key":"signup"},{"key":"org-signup"}]`),
					`metrics[1]: metric "org-signup" shares no randomization unit with the metrics before it`},
				{"unknown kind", `{"key":"rule","name":"Rule","kind":"pipeline","tags":[],` + two + `}`, "kind must be one of funnel, standard, guardrail"},
				{"missing kind", `{"key":"rule","name":"Rule","tags":[],` + two + `}`, "kind is required"},
				{"missing name", `{"key":"rule","kind":"standard","tags":[],` + two + `}`, "name is required"},
				{"blank name", `{"key":"rule","name":"   ","kind":"standard","tags":[],` + two + `}`, "name is required"},
				{"missing name and key", `{"kind":"standard","tags":[],` + two + `}`, "name is required"},
				{"name too long", `{"key":"rule","name":"` + strings.Repeat("n", 257) + `","kind":"standard","tags":[],` + two + `}`, "name must be at most 256 characters"},
				{"description too long", std(`"description":"` + strings.Repeat("d", 4097) + `",` + two), "description must be at most 4096 characters"},
				{"bad key", `{"key":"-rule","name":"Rule","kind":"standard","tags":[],` + two + `}`,
					`key "-rule" must start with a letter or digit and contain only letters, digits, '.', '_' and '-'`},
				{"key with a slash", `{"key":"a/b","name":"Rule","kind":"standard","tags":[],` + two + `}`,
					`key "a/b" must start with a letter or digit and contain only letters, digits, '.', '_' and '-'`},
				{"key too long", `{"key":"` + strings.Repeat("k", 257) + `","name":"Rule","kind":"standard","tags":[],` + two + `}`, "key must be at most 256 characters"},
				{"bad tag", `{"key":"rule","name":"Rule","kind":"standard","tags":["ok","bad tag"],` + two + `}`,
					`tags[1] "bad tag" must be 1-64 letters, digits, '.', '_', ':' or '-'`},
				{"empty tag", `{"key":"rule","name":"Rule","kind":"standard","tags":[""],` + two + `}`,
					`tags[0] "" must be 1-64 letters, digits, '.', '_', ':' or '-'`},
				{"unknown maintainerId", std(`"maintainerId":"nobody",` + two), `maintainerId "nobody" does not name a member`},
				{"maintainerId and maintainerTeamKey", std(`"maintainerId":"` + e.ownerID + `","maintainerTeamKey":"team-a",` + two),
					"name either maintainerId or maintainerTeamKey, not both"},
				{"unknown maintainerTeamKey", std(`"maintainerTeamKey":"ghost-team",` + two), `maintainerTeamKey "ghost-team" does not name a team`},
				{"unknown field", std(`"colour":"red",` + two), `unknown field "colour"`},
				{"read-only field", std(`"_version":3,` + two), `unknown field "_version"`},
				{"wrongly-cased field", std(`"Description":"x",` + two), `unknown field "Description"`},
				{"unknown field of a metric", std(`"metrics":[{"key":"signup","weight":2},{"key":"purchase"}]`), `unknown field "weight"`},
				{"tags not an array", `{"key":"rule","name":"Rule","kind":"standard","tags":"a",` + two + `}`, "field tags must be an array, not string"},
				{"metrics not an array", std(`"metrics":{"key":"signup"}`), "field metrics must be an array, not object"},
				{"body not an object", `[]`, "request body must be an object, not array"},
				{"invalid JSON", `{"key":`, "request body is not valid JSON: unexpected end of input"},
			} {
				st, body := e.mgDo(t, http.MethodPost, mgCollectionPath("default"), c.body)
				if got := wantError(t, c.name, st, body, http.StatusBadRequest); got.Message != c.msg {
					t.Errorf("%s: message %q, want %q", c.name, got.Message, c.msg)
				}
			}
			if after := e.mgCount(t, "default"); after != before {
				t.Errorf("refused creates changed totalCount from %d to %d", before, after)
			}
			if st, body := e.mgDo(t, http.MethodGet, mgPath("default", "rule"), ""); st != http.StatusNotFound {
				t.Errorf("GET rule: status %d, want 404: %s", st, body)
			}
		})
		t.Run("wrongly-cased field of a metric", func(t *testing.T) {
			before := e.mgCount(t, "default")
			st, body := e.mgDo(t, http.MethodPost, mgCollectionPath("default"),
				`{"key":"cased","name":"Cased","kind":"standard","tags":[],"metrics":[{"KEY":"signup","NameInGroup":"A"},{"key":"purchase","nameInGroup":"B"}]}`)
			wantError(t, "wrongly-cased metric field", st, body, http.StatusBadRequest, `unknown field "KEY"`)
			if after := e.mgCount(t, "default"); after != before {
				t.Errorf("totalCount changed from %d to %d", before, after)
			}
		})
		t.Run("unknown project", func(t *testing.T) {
			st, body := e.mgDo(t, http.MethodPost, mgCollectionPath("nope"), `{"key":"g","name":"G","kind":"standard","tags":[],"metrics":[{"key":"signup"},{"key":"purchase"}]}`)
			wantError(t, "create in an unknown project", st, body, http.StatusNotFound, `"nope"`)
			st, body = e.mgDo(t, http.MethodGet, mgCollectionPath("nope"), "")
			wantError(t, "list an unknown project", st, body, http.StatusNotFound, `"nope"`)
			st, body = e.mgDo(t, http.MethodGet, mgPath("default", "nope"), "")
			wantError(t, "get an unknown group", st, body, http.StatusNotFound, `unknown metric group "nope" in project "default"`)
		})
		t.Run("duplicate key", func(t *testing.T) {
			before := e.mgGet(t, "default", "checkout-funnel", "")
			st, body := e.mgDoUndoc(t, http.MethodPost, mgCollectionPath("default"),
				`{"key":"checkout-funnel","name":"Another","kind":"standard","tags":[],"metrics":[{"key":"signup"},{"key":"purchase"}]}`)
			if got := wantError(t, "duplicate key", st, body, http.StatusConflict); got.Message != `a metric group with key "checkout-funnel" already exists in project "default"` {
				t.Errorf("message %q", got.Message)
			}
			if d := cmp.Diff(before, e.mgGet(t, "default", "checkout-funnel", "")); d != "" {
				t.Errorf("the refused create changed the group (-before +after):\n%s", d)
			}
		})
		t.Run("one guardrail group per project", func(t *testing.T) {
			guard := `{"key":%q,"name":%q,"kind":"guardrail","tags":[],"metrics":[{"key":%q},{"key":%q}]}`
			g := e.mgCreate(t, "default", fmt.Sprintf(guard, "guardrails", "Guardrails", "revenue", "latency-p95"))
			if g["kind"] != "guardrail" {
				t.Errorf("kind %v", g["kind"])
			}
			count := e.mgCount(t, "default")
			for _, c := range []struct{ what, body string }{
				{"explicit key", fmt.Sprintf(guard, "more-guardrails", "More guardrails", "signup", "purchase")},
				{"derived key taken", `{"name":"Guardrails","kind":"guardrail","tags":[],"metrics":[{"key":"signup"},{"key":"purchase"}]}`},
				{"derived key free", `{"name":"Safety","kind":"guardrail","tags":[],"metrics":[{"key":"signup"},{"key":"purchase"}]}`},
			} {
				st, body := e.mgDoUndoc(t, http.MethodPost, mgCollectionPath("default"), c.body)
				if got := wantError(t, c.what, st, body, http.StatusConflict); got.Message != `project "default" already has a guardrail metric group` {
					t.Errorf("%s: message %q", c.what, got.Message)
				}
			}
			if n := e.mgCount(t, "default"); n != count {
				t.Errorf("refused guardrail groups changed totalCount from %d to %d", count, n)
			}
			e.createMetric(t, "other", `{"key":"revenue","kind":"custom","eventKey":"revenue","isNumeric":true,"successCriteria":"HigherThanBaseline"}`)
			e.createMetric(t, "other", `{"key":"errors","kind":"custom","eventKey":"errors"}`)
			other := e.mgCreate(t, "other", fmt.Sprintf(guard, "guardrails", "Guardrails", "revenue", "errors"))
			if other["_links"].(map[string]any)["parent"].(map[string]any)["href"] != "/api/v2/projects/other" {
				t.Errorf("parent link %v", other["_links"])
			}
			if ms := mgMetricKeys(t, other); !slices.Equal(ms, []string{"revenue:", "errors:"}) {
				t.Errorf("metrics %v", ms)
			}
			if n := e.mgCount(t, "other"); n != 1 {
				t.Errorf("other project: %d groups", n)
			}
		})
	})
}
