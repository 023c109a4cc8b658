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
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// betaHeader is the header every metric group request needs.
const betaHeader = "LD-API-Version: beta"

func mgCollectionPath(project string) string { return "/api/v2/projects/" + project + "/metric-groups" }

func mgPath(project, key string) string {
	return mgCollectionPath(project) + "/" + url.PathEscape(key)
}

// betaOnlyTransport leaves "beta" as the only LD-API-Version value of a
// request that carries it. The generated client always adds its own
// LD-API-Version (20240415) before the configured default headers, so a
// client configured with LD-API-Version: beta sends both values; see the
// "generated client with only the default header" subtest.
type betaOnlyTransport struct{ base http.RoundTripper }

func (b betaOnlyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if slices.ContainsFunc(req.Header.Values("LD-API-Version"), func(v string) bool { return strings.EqualFold(v, "beta") }) {
		req = req.Clone(req.Context())
		req.Header.Set("LD-API-Version", "beta")
	}
	return b.base.RoundTrip(req)
}

// mgAPI returns a generated client configured with the default header
// LD-API-Version: beta whose responses are validated, failing t.
func (e *env) mgAPI(t testing.TB) *ldapi.APIClient {
	cfg := ldapi.NewConfiguration()
	cfg.Servers = ldapi.ServerConfigurations{{URL: e.base}}
	cfg.AddDefaultHeader("Authorization", e.token)
	cfg.AddDefaultHeader("LD-API-Version", "beta")
	cfg.HTTPClient = &http.Client{Transport: betaOnlyTransport{newValidatingTransport(t, e.transport)}}
	return ldapi.NewAPIClient(cfg)
}

// mgDo sends a raw metric group request with the beta header.
func (e *env) mgDo(t testing.TB, method, path, body string, headers ...string) (int, []byte) {
	t.Helper()
	st, b, _ := e.do(t, method, path, body, append([]string{betaHeader}, headers...)...)
	return st, b
}

// mgDoUndoc is mgDo for responses the OpenAPI document does not list (409s).
func (e *env) mgDoUndoc(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	st, b, _ := e.doUndoc(t, method, path, body, betaHeader)
	return st, b
}

// mgCreate creates a group from a raw body and returns its representation.
func (e *env) mgCreate(t testing.TB, project, body string) map[string]any {
	t.Helper()
	st, b := e.mgDo(t, http.MethodPost, mgCollectionPath(project), body)
	if st != http.StatusCreated {
		t.Fatalf("create metric group %s: status %d: %s", body, st, b)
	}
	return obj(t, b)
}

// mgGet reads a group, which must exist.
func (e *env) mgGet(t testing.TB, project, key, query string) map[string]any {
	t.Helper()
	path := mgPath(project, key)
	if query != "" {
		path += "?" + query
	}
	st, b := e.mgDo(t, http.MethodGet, path, "")
	if st != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, st, b)
	}
	return obj(t, b)
}

// mgList lists groups with a raw query.
func (e *env) mgList(t testing.TB, project, query string) map[string]any {
	t.Helper()
	path := mgCollectionPath(project)
	if query != "" {
		path += "?" + query
	}
	st, b := e.mgDo(t, http.MethodGet, path, "")
	if st != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, st, b)
	}
	return obj(t, b)
}

func (e *env) mgCount(t testing.TB, project string) int {
	t.Helper()
	n, ok := e.mgList(t, project, "limit=1")["totalCount"].(float64)
	if !ok {
		t.Fatalf("group list of %s has no totalCount", project)
	}
	return int(n)
}

// mgPatch sends a raw JSON Patch and returns the status and body.
func (e *env) mgPatch(t testing.TB, project, key, patch string) (int, []byte) {
	t.Helper()
	return e.mgDoUndoc(t, http.MethodPatch, mgPath(project, key), patch)
}

// mgOwner is the member summary of the bootstrap owner.
func mgOwner(e *env) map[string]any {
	return map[string]any{
		"_links": map[string]any{"self": map[string]any{"href": "/api/v2/members/" + e.ownerID, "type": "application/json"}},
		"_id":    e.ownerID, "firstName": "Metricsd", "lastName": "Owner", "role": "owner", "email": "owner@metricsd.local",
	}
}

// mgEntry is the expected representation of metric m (its own current
// representation) inside a group of project.
func mgEntry(project string, m map[string]any, nameInGroup string) map[string]any {
	key := m["key"].(string)
	out := map[string]any{
		"key": key, "_versionId": m["_versionId"], "name": m["name"], "kind": m["kind"],
		"isNumeric": m["isNumeric"], "unitAggregationType": m["unitAggregationType"],
		"_links":      map[string]any{"self": map[string]any{"href": "/api/v2/metrics/" + project + "/" + key, "type": "application/json"}},
		"nameInGroup": nameInGroup, "randomizationUnits": m["randomizationUnits"], "analysisUnits": m["randomizationUnits"],
	}
	if ek, ok := m["eventKey"]; ok {
		out["eventKey"] = ek
	}
	return out
}

// mgExpect is the expected representation of a group maintained by the
// owner, without _id, _creationDate and _lastModified.
func mgExpect(e *env, project, key, name, kind, description string, tags []string, version int, metrics ...map[string]any) map[string]any {
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"key": key, "name": name, "kind": kind, "description": description, "tags": tags,
		"_links": map[string]any{
			"parent": map[string]any{"href": "/api/v2/projects/" + project, "type": "application/json"},
			"self":   map[string]any{"href": "/api/v2/projects/" + project + "/metric-groups/" + key, "type": "application/json"},
		},
		"maintainer":            mgOwnerMaintainer(e),
		"metrics":               metrics,
		"_version":              version,
		"activeExperimentCount": 0, "activeGuardedRolloutCount": 0,
	}
}

var mgVolatile = []string{"_id", "_creationDate", "_lastModified"}

// mgCompare compares a group representation, volatile fields aside.
func mgCompare(t testing.TB, what string, want map[string]any, got map[string]any) {
	t.Helper()
	if d := cmp.Diff(roundTrip(t, want), roundTrip(t, without(got, mgVolatile...))); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// mgCheckVolatile checks _id and the times of a group changed within
// [since, now].
func mgCheckVolatile(t testing.TB, rep map[string]any, since time.Time) {
	t.Helper()
	if _, err := uuid.Parse(fmt.Sprint(rep["_id"])); err != nil {
		t.Errorf("_id %#v is not a UUID", rep["_id"])
	}
	created, ok1 := rep["_creationDate"].(float64)
	modified, ok2 := rep["_lastModified"].(float64)
	if !ok1 || !ok2 {
		t.Fatalf("_creationDate %#v, _lastModified %#v: want numbers", rep["_creationDate"], rep["_lastModified"])
	}
	now := time.Now().UnixMilli()
	if m := int64(modified); m < since.UnixMilli() || m > now || modified < created {
		t.Errorf("_lastModified %d is not within [%d, %d] and not before _creationDate %d", m, since.UnixMilli(), now, int64(created))
	}
	if rep["_version"] == 1.0 && created != modified {
		t.Errorf("version 1: _lastModified %d differs from _creationDate %d", int64(modified), int64(created))
	}
}

// mgMetricKeys returns the keys of a group's metrics, in order, each with
// its nameInGroup after a colon.
func mgMetricKeys(t testing.TB, rep map[string]any) []string {
	t.Helper()
	ms, ok := rep["metrics"].([]any)
	if !ok {
		t.Fatalf("group without metrics: %v", rep)
	}
	out := []string{}
	for _, m := range ms {
		mm := m.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", mm["key"], mm["nameInGroup"]))
	}
	return out
}

func TestMetricGroupsBeta(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		e.createMetric(t, "default", `{"key":"a","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","kind":"custom","eventKey":"b"}`)
		post := `{"key":"g","name":"G","kind":"standard","tags":[],"metrics":[{"key":"a","nameInGroup":""},{"key":"b","nameInGroup":""}]}`
		ops := []struct{ method, path, body string }{
			{http.MethodGet, mgCollectionPath("default"), ""},
			{http.MethodPost, mgCollectionPath("default"), post},
			{http.MethodGet, mgPath("default", "g"), ""},
			{http.MethodPatch, mgPath("default", "g"), `[{"op":"replace","path":"/name","value":"H"}]`},
			{http.MethodDelete, mgPath("default", "g"), ""},
		}
		refuse := func(t *testing.T, headers ...string) {
			for _, op := range ops {
				st, body, _ := e.do(t, op.method, op.path, op.body, headers...)
				wantError(t, op.method+" "+op.path, st, body, http.StatusForbidden, "LD-API-Version: beta")
			}
		}
		t.Run("without the header", func(t *testing.T) {
			refuse(t)
			if st, body := e.mgDo(t, http.MethodGet, mgPath("default", "g"), ""); st != http.StatusNotFound {
				t.Errorf("the refused POST created the group: GET status %d: %s", st, body)
			}
		})
		g := e.mgCreate(t, "default", post)
		t.Run("with another API version", func(t *testing.T) {
			refuse(t, "LD-API-Version: 20240415")
			if d := cmp.Diff(g, e.mgGet(t, "default", "g", "")); d != "" {
				t.Errorf("refused PATCH or DELETE changed the group (-want +got):\n%s", d)
			}
		})
		t.Run("generated client without the beta header", func(t *testing.T) {
			api := e.api(t)
			_, resp, err := api.MetricsBetaApi.GetMetricGroups(ctx, "default").Execute()
			clientError(t, "GetMetricGroups", resp, err, http.StatusForbidden, "beta")
			_, resp, err = api.MetricsBetaApi.GetMetricGroup(ctx, "default", "g").Execute()
			clientError(t, "GetMetricGroup", resp, err, http.StatusForbidden, "beta")
			_, resp, err = api.MetricsBetaApi.CreateMetricGroup(ctx, "default").MetricGroupPost(ldapi.MetricGroupPost{
				Key: ptr("g2"), Name: "G2", Kind: "standard", Tags: []string{},
				Metrics: []ldapi.MetricInMetricGroupInput{{Key: "a"}, {Key: "b"}},
			}).Execute()
			clientError(t, "CreateMetricGroup", resp, err, http.StatusForbidden, "beta")
			_, resp, err = api.MetricsBetaApi.PatchMetricGroup(ctx, "default", "g").PatchOperation([]ldapi.PatchOperation{{Op: "replace", Path: "/name", Value: "H"}}).Execute()
			clientError(t, "PatchMetricGroup", resp, err, http.StatusForbidden, "beta")
			resp, err = api.MetricsBetaApi.DeleteMetricGroup(ctx, "default", "g").Execute()
			clientError(t, "DeleteMetricGroup", resp, err, http.StatusForbidden, "beta")
		})
		t.Run("generated client with only the default header", func(t *testing.T) {
			cfg := ldapi.NewConfiguration()
			cfg.Servers = ldapi.ServerConfigurations{{URL: e.base}}
			cfg.AddDefaultHeader("Authorization", e.token)
			cfg.AddDefaultHeader("LD-API-Version", "beta")
			cfg.HTTPClient = e.httpClient(t)
			coll, resp, err := ldapi.NewAPIClient(cfg).MetricsBetaApi.GetMetricGroups(ctx, "default").Execute()
			if err != nil {
				t.Fatalf("GetMetricGroups: %v (status %d, request LD-API-Version %q)", err, status(resp), resp.Request.Header.Values("LD-API-Version"))
			}
			if len(coll.Items) != 1 {
				t.Errorf("%d groups, want 1", len(coll.Items))
			}
		})
		t.Run("generated client with the beta header", func(t *testing.T) {
			api := e.mgAPI(t)
			created, resp, err := api.MetricsBetaApi.CreateMetricGroup(ctx, "default").MetricGroupPost(ldapi.MetricGroupPost{
				Key: ptr("g2"), Name: "G2", Kind: "standard", MaintainerId: e.ownerID, Tags: []string{"t"},
				Metrics: []ldapi.MetricInMetricGroupInput{{Key: "b"}, {Key: "a"}},
			}).Execute()
			if err != nil {
				t.Fatalf("CreateMetricGroup: %v (status %d)", err, status(resp))
			}
			if resp.StatusCode != http.StatusCreated || created.Key != "g2" || len(created.Metrics) != 2 || created.Metrics[0].Key != "b" {
				t.Errorf("CreateMetricGroup: status %d, %+v", resp.StatusCode, created)
			}
			coll, resp, err := api.MetricsBetaApi.GetMetricGroups(ctx, "default").Execute()
			if err != nil || coll.TotalCount == nil || *coll.TotalCount != 2 || len(coll.Items) != 2 {
				t.Errorf("GetMetricGroups: %v (status %d) %+v", err, status(resp), coll)
			}
			got, resp, err := api.MetricsBetaApi.GetMetricGroup(ctx, "default", "g2").Execute()
			if err != nil || got.Name != "G2" || got.Version != 1 {
				t.Errorf("GetMetricGroup: %v (status %d) %+v", err, status(resp), got)
			}
			patched, resp, err := api.MetricsBetaApi.PatchMetricGroup(ctx, "default", "g2").PatchOperation([]ldapi.PatchOperation{
				{Op: "replace", Path: "/name", Value: "G2 renamed"},
			}).Execute()
			if err != nil || patched.Name != "G2 renamed" || patched.Version != 2 {
				t.Errorf("PatchMetricGroup: %v (status %d) %+v", err, status(resp), patched)
			}
			resp, err = api.MetricsBetaApi.DeleteMetricGroup(ctx, "default", "g2").Execute()
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Errorf("DeleteMetricGroup: %v (status %d)", err, status(resp))
			}
			_, resp, err = api.MetricsBetaApi.GetMetricGroup(ctx, "default", "g2").Execute()
			clientError(t, "GetMetricGroup after delete", resp, err, http.StatusNotFound, `"g2"`)
		})
	})
}

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
			diffJSON(t, "created funnel", want, without(got, mgVolatile...))
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

func TestMetricGroupPatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		s1 := e.createMetric(t, "default", `{"key":"s1","name":"First metric","kind":"custom","eventKey":"s1"}`)
		s2 := e.createMetric(t, "default", `{"key":"s2","name":"Second metric","kind":"custom","eventKey":"s2"}`)
		s3 := e.createMetric(t, "default", `{"key":"s3","name":"Third metric","kind":"click","selector":"#buy","urls":[{"kind":"substring","substring":"/shop"}]}`)
		e.createMetric(t, "default", `{"key":"n1","kind":"custom","eventKey":"n1","isNumeric":true,"successCriteria":"HigherThanBaseline"}`)
		e.createMetric(t, "default", `{"key":"o1","kind":"custom","eventKey":"o1","randomizationUnits":["organization"]}`)
		e.mgCreate(t, "default", `{"key":"guards","name":"Guards","kind":"guardrail","tags":[],"metrics":[{"key":"n1"},{"key":"s1"}]}`)
		created := e.mgCreate(t, "default", `{"key":"steps","name":"Steps","kind":"funnel","description":"d","tags":["a"],
			"metrics":[{"key":"s1","nameInGroup":"First"},{"key":"s2","nameInGroup":"Second"},{"key":"s3","nameInGroup":"Third"}]}`)
		api := e.mgAPI(t)
		// patch applies ops with the generated client and returns the raw
		// representation.
		patch := func(t *testing.T, ops ...ldapi.PatchOperation) map[string]any {
			t.Helper()
			_, resp, err := api.MetricsBetaApi.PatchMetricGroup(ctx, "default", "steps").PatchOperation(ops).Execute()
			if err != nil {
				t.Fatalf("PatchMetricGroup %+v: %v (status %d)", ops, err, status(resp))
			}
			return obj(t, rawBody(t, resp))
		}
		order := func(t *testing.T, what string, rep map[string]any, want ...string) {
			t.Helper()
			if d := cmp.Diff(want, mgMetricKeys(t, rep)); d != "" {
				t.Errorf("%s: metric order (-want +got):\n%s", what, d)
			}
		}
		// read checks the order on GET and on the list.
		read := func(t *testing.T, want ...string) {
			t.Helper()
			order(t, "GET", e.mgGet(t, "default", "steps", ""), want...)
			for _, it := range e.mgList(t, "default", "filter=query+equals+steps")["items"].([]any) {
				order(t, "list", it.(map[string]any), want...)
			}
		}
		version := func(rep map[string]any) int { return int(rep["_version"].(float64)) }

		t.Run("order on create", func(t *testing.T) {
			order(t, "create", created, "s1:First", "s2:Second", "s3:Third")
			read(t, "s1:First", "s2:Second", "s3:Third")
		})
		t.Run("move reorders steps", func(t *testing.T) {
			got := patch(t, ldapi.PatchOperation{Op: "move", Path: "/metrics/0", AdditionalProperties: map[string]any{"from": "/metrics/2"}})
			order(t, "move", got, "s3:Third", "s1:First", "s2:Second")
			if version(got) != 2 {
				t.Errorf("_version %v, want 2", got["_version"])
			}
			read(t, "s3:Third", "s1:First", "s2:Second")
			got = patch(t, ldapi.PatchOperation{Op: "move", Path: "/metrics/2", AdditionalProperties: map[string]any{"from": "/metrics/0"}})
			order(t, "move back", got, "s1:First", "s2:Second", "s3:Third")
			read(t, "s1:First", "s2:Second", "s3:Third")
		})
		t.Run("replace metrics", func(t *testing.T) {
			got := patch(t, ldapi.PatchOperation{Op: "replace", Path: "/metrics", Value: []map[string]any{
				{"key": "s3", "nameInGroup": "Click"}, {"key": "s2", "nameInGroup": "Two"},
			}})
			order(t, "replace", got, "s3:Click", "s2:Two")
			read(t, "s3:Click", "s2:Two")
			got = patch(t, ldapi.PatchOperation{Op: "add", Path: "/metrics/1", Value: map[string]any{"key": "s1", "nameInGroup": "One"}})
			order(t, "add in the middle", got, "s3:Click", "s1:One", "s2:Two")
			read(t, "s3:Click", "s1:One", "s2:Two")
			want := mgExpect(e, "default", "steps", "Steps", "funnel", "d", []string{"a"}, version(got),
				mgEntry("default", s3, "Click"), mgEntry("default", s1, "One"), mgEntry("default", s2, "Two"))
			mgCompare(t, "after replacing metrics", want, got)
		})
		t.Run("replace name, description and tags", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			since := time.Now()
			got := patch(t,
				ldapi.PatchOperation{Op: "replace", Path: "/name", Value: "Renamed steps"},
				ldapi.PatchOperation{Op: "replace", Path: "/description", Value: "New description"},
				ldapi.PatchOperation{Op: "replace", Path: "/tags", Value: []string{"b", "a", "b"}},
			)
			want := without(prev, mgVolatile...)
			want["name"], want["description"], want["tags"], want["_version"] = "Renamed steps", "New description", []any{"b", "a"}, prev["_version"].(float64)+1
			mgCompare(t, "after renaming", want, got)
			if got["_creationDate"] != prev["_creationDate"] || got["_id"] != prev["_id"] {
				t.Errorf("_id/_creationDate changed: %v/%v -> %v/%v", prev["_id"], prev["_creationDate"], got["_id"], got["_creationDate"])
			}
			mgCheckVolatile(t, got, since)
			if d := cmp.Diff(got, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("GET differs from the PATCH response (-patched +read):\n%s", d)
			}
			// The list searches the new name.
			if got := itemKeys(t, e.mgList(t, "default", "filter=query+equals+RENAMED")); !slices.Equal(got, []string{"steps"}) {
				t.Errorf("query for the new name: %v", got)
			}
		})
		t.Run("comment envelope", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			st, body := e.mgDo(t, http.MethodPatch, mgPath("default", "steps"),
				`{"comment":"why not","patch":[{"op":"replace","path":"/description","value":"Via envelope"}]}`)
			if st != http.StatusOK {
				t.Fatalf("status %d: %s", st, body)
			}
			got := obj(t, body)
			if got["description"] != "Via envelope" || got["_version"] != prev["_version"].(float64)+1 {
				t.Errorf("description %v, _version %v", got["description"], got["_version"])
			}
		})
		t.Run("optimistic concurrency", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			v := prev["_version"].(float64)
			st, body := e.mgPatch(t, "default", "steps", fmt.Sprintf(`[{"op":"test","path":"/_version","value":%d},{"op":"replace","path":"/name","value":"Lost"}]`, int(v)-1))
			wantError(t, "stale _version", st, body, http.StatusConflict, "test")
			st, body = e.mgPatch(t, "default", "steps", `[{"op":"test","path":"/name","value":"Not the name"},{"op":"replace","path":"/name","value":"Lost"}]`)
			wantError(t, "failed test of name", st, body, http.StatusConflict, "test")
			if d := cmp.Diff(prev, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("failed tests changed the group (-before +after):\n%s", d)
			}
			got := patch(t,
				ldapi.PatchOperation{Op: "test", Path: "/_version", Value: int(v)},
				ldapi.PatchOperation{Op: "replace", Path: "/name", Value: "Tested"},
			)
			if got["name"] != "Tested" || got["_version"] != v+1 {
				t.Errorf("name %v, _version %v; want Tested, %v", got["name"], got["_version"], v+1)
			}
		})
		t.Run("no change", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			got := patch(t, ldapi.PatchOperation{Op: "replace", Path: "/name", Value: prev["name"]},
				ldapi.PatchOperation{Op: "add", Path: "/tags/-", Value: prev["tags"].([]any)[0]})
			if d := cmp.Diff(prev, got); d != "" {
				t.Errorf("a patch that changes nothing changed the group (-before +after):\n%s", d)
			}
		})
		t.Run("refused patches", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			for _, c := range []struct{ name, patch, msg string }{
				{"replace _id", `[{"op":"replace","path":"/_id","value":"x"}]`, "_id is read-only"},
				{"replace key", `[{"op":"replace","path":"/key","value":"other"}]`, "key is read-only"},
				{"remove key", `[{"op":"remove","path":"/key"}]`, "key is read-only"},
				{"replace _version", `[{"op":"replace","path":"/_version","value":99}]`, "_version is read-only"},
				{"replace _creationDate", `[{"op":"replace","path":"/_creationDate","value":1}]`, "_creationDate is read-only"},
				{"replace _lastModified", `[{"op":"replace","path":"/_lastModified","value":1}]`, "_lastModified is read-only"},
				{"add _links", `[{"op":"add","path":"/_links","value":{}}]`, "_links is read-only"},
				{"leave one metric", `[{"op":"remove","path":"/metrics/2"},{"op":"remove","path":"/metrics/1"}]`, "metrics must list at least 2 metrics"},
				{"unknown metric", `[{"op":"replace","path":"/metrics/0/key","value":"nope"}]`, `metrics[0]: no metric "nope" in this project`},
				{"duplicate metric", `[{"op":"add","path":"/metrics/-","value":{"key":"s1","nameInGroup":"Again"}}]`, `metrics[3]: metric "s1" is already metrics[1]`},
				{"numeric step", `[{"op":"add","path":"/metrics/-","value":{"key":"n1","nameInGroup":"Revenue"}}]`,
					`metrics[3]: funnel steps must be conversion metrics; "n1" is numeric`},
				{"no shared unit", `[{"op":"add","path":"/metrics/-","value":{"key":"o1","nameInGroup":"Org"}}]`,
					`metrics[3]: metric "o1" shares no randomization unit with the metrics before it`},
				{"step without nameInGroup", `[{"op":"replace","path":"/metrics/1/nameInGroup","value":""}]`,
					"metrics[1].nameInGroup is required for each step of a funnel"},
				{"unknown kind", `[{"op":"replace","path":"/kind","value":"pipeline"}]`, "kind must be one of funnel, standard, guardrail"},
				{"remove name", `[{"op":"remove","path":"/name"}]`, "name is required"},
				{"bad tag", `[{"op":"add","path":"/tags/-","value":"bad tag"}]`, `tags[2] "bad tag" must be 1-64 letters, digits, '.', '_', ':' or '-'`},
				{"unknown maintainer", `[{"op":"replace","path":"/maintainerId","value":"nobody"}]`, `maintainerId "nobody" does not name a member`},
				{"unknown team", `[{"op":"remove","path":"/maintainerId"},{"op":"replace","path":"/maintainerTeamKey","value":"ghost"}]`,
					`maintainerTeamKey "ghost" does not name a team`},
				{"unknown field", `[{"op":"add","path":"/colour","value":"red"}]`, `unknown field "colour"`},
				{"unknown field of a metric", `[{"op":"add","path":"/metrics/0/weight","value":1}]`, `unknown field "weight"`},
				{"wrong type", `[{"op":"replace","path":"/tags","value":"a"}]`, "field tags must be an array, not string"},
			} {
				st, body := e.mgPatch(t, "default", "steps", c.patch)
				if got := wantError(t, c.name, st, body, http.StatusBadRequest); got.Message != c.msg {
					t.Errorf("%s: message %q, want %q", c.name, got.Message, c.msg)
				}
			}
			for _, c := range []struct{ name, patch string }{
				{"not JSON Patch", `{"op":"replace"}`},
				{"empty body", ``},
				{"unknown op", `[{"op":"rename","path":"/name","value":"x"}]`},
				{"path not a pointer", `[{"op":"replace","path":"name","value":"x"}]`},
				{"missing path", `[{"op":"remove","path":"/description/x"}]`},
			} {
				st, body := e.mgPatch(t, "default", "steps", c.patch)
				wantError(t, c.name, st, body, http.StatusBadRequest)
			}
			if d := cmp.Diff(prev, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("refused patches changed the group (-before +after):\n%s", d)
			}
			st, body := e.mgPatch(t, "default", "nope", `[{"op":"replace","path":"/name","value":"x"}]`)
			wantError(t, "unknown group", st, body, http.StatusNotFound, `unknown metric group "nope"`)
		})
		t.Run("kind", func(t *testing.T) {
			prev := e.mgGet(t, "default", "steps", "")
			st, body := e.mgPatch(t, "default", "steps", `[{"op":"replace","path":"/kind","value":"guardrail"}]`)
			if got := wantError(t, "second guardrail group", st, body, http.StatusConflict); got.Message != `project "default" already has a guardrail metric group` {
				t.Errorf("message %q", got.Message)
			}
			if d := cmp.Diff(prev, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("the refused patch changed the group (-before +after):\n%s", d)
			}
			got := patch(t, ldapi.PatchOperation{Op: "replace", Path: "/kind", Value: "standard"},
				ldapi.PatchOperation{Op: "add", Path: "/metrics/-", Value: map[string]any{"key": "n1", "nameInGroup": ""}})
			if got["kind"] != "standard" || got["_version"] != prev["_version"].(float64)+1 {
				t.Errorf("kind %v, _version %v", got["kind"], got["_version"])
			}
			st, body = e.mgPatch(t, "default", "steps", `[{"op":"replace","path":"/kind","value":"funnel"}]`)
			if got := wantError(t, "back to funnel with a numeric metric", st, body, http.StatusBadRequest); got.Message != "metrics[3].nameInGroup is required for each step of a funnel" {
				t.Errorf("message %q", got.Message)
			}
			got = patch(t, ldapi.PatchOperation{Op: "remove", Path: "/metrics/3"}, ldapi.PatchOperation{Op: "replace", Path: "/kind", Value: "funnel"})
			if got["kind"] != "funnel" {
				t.Errorf("kind %v", got["kind"])
			}
		})
		t.Run("maintainer team", func(t *testing.T) {
			db := openSeedDB(t, b)
			db.exec(t, `INSERT INTO teams (key, name, description, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				"team-growth", "Growth", "", 1, int64(1700000000000), int64(1700000000000))
			prev := e.mgGet(t, "default", "steps", "")
			got := patch(t, ldapi.PatchOperation{Op: "remove", Path: "/maintainerId"},
				ldapi.PatchOperation{Op: "replace", Path: "/maintainerTeamKey", Value: "team-growth"})
			diffJSON(t, "team maintainer", teamMaintainerJSON("team-growth", "Growth"), got["maintainer"])
			if got["_version"] != prev["_version"].(float64)+1 {
				t.Errorf("_version %v", got["_version"])
			}
			if d := cmp.Diff(got, e.mgGet(t, "default", "steps", "")); d != "" {
				t.Errorf("GET differs (-patched +read):\n%s", d)
			}
			st, body := e.mgPatch(t, "default", "steps", fmt.Sprintf(`[{"op":"add","path":"/maintainerId","value":%q}]`, e.ownerID))
			if got := wantError(t, "both maintainers", st, body, http.StatusBadRequest); got.Message != "name either maintainerId or maintainerTeamKey, not both" {
				t.Errorf("message %q", got.Message)
			}
			st, body = e.mgPatch(t, "default", "steps", `[{"op":"remove","path":"/maintainerTeamKey"}]`)
			if got := wantError(t, "no maintainer", st, body, http.StatusBadRequest); got.Message != "maintainerId is required" {
				t.Errorf("message %q", got.Message)
			}
			got = patch(t, ldapi.PatchOperation{Op: "remove", Path: "/maintainerTeamKey"},
				ldapi.PatchOperation{Op: "add", Path: "/maintainerId", Value: e.ownerID})
			if d := cmp.Diff(roundTrip(t, mgOwnerMaintainer(e)), got["maintainer"]); d != "" {
				t.Errorf("member maintainer (-want +got):\n%s", d)
			}
		})
	})
}

// TestMetricGroupMetricRules checks what a metric's membership in groups
// does to the metric endpoints.
func TestMetricGroupMetricRules(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		a := e.createMetric(t, "default", `{"key":"a","name":"Metric A","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","name":"Metric B","kind":"custom","eventKey":"b"}`)
		e.createMetric(t, "default", `{"key":"c","name":"Metric C","kind":"custom","eventKey":"c"}`)
		e.createMetric(t, "default", `{"key":"d","name":"Metric D","kind":"custom","eventKey":"d"}`)
		e.mgCreate(t, "default", `{"key":"f-funnel","name":"F funnel","kind":"funnel","tags":[],"metrics":[{"key":"a","nameInGroup":"Step A"},{"key":"b","nameInGroup":"Step B"}]}`)
		// Groups are checked and listed in creation order; keep the two
		// creation times apart.
		time.Sleep(5 * time.Millisecond)
		e.mgCreate(t, "default", `{"key":"s-standard","name":"S standard","kind":"standard","tags":[],"metrics":[{"key":"a"},{"key":"c"}]}`)
		groupRef := func(key, name, kind string) string {
			return fmt.Sprintf(`{"key": %q, "name": %q, "kind": %q, "_links": {
				"parent": {"href": "/api/v2/projects/default", "type": "application/json"},
				"self": {"href": "/api/v2/projects/default/metric-groups/%s", "type": "application/json"}}}`, key, name, kind, key)
		}
		patchMetric := func(t *testing.T, key, patch string) (int, []byte) {
			t.Helper()
			st, body, _ := e.doUndoc(t, http.MethodPatch, metricPath("default", key), patch)
			return st, body
		}

		t.Run("renamed metric", func(t *testing.T) {
			renamed, resp, err := e.api(t).MetricsApi.PatchMetric(ctx, "default", "a").PatchOperation([]ldapi.PatchOperation{
				{Op: "replace", Path: "/name", Value: "Renamed A"},
			}).Execute()
			if err != nil {
				t.Fatalf("PatchMetric: %v (status %d)", err, status(resp))
			}
			if renamed.VersionId == a["_versionId"] {
				t.Fatalf("renaming kept _versionId %v", a["_versionId"])
			}
			for _, g := range []map[string]any{e.mgGet(t, "default", "f-funnel", ""), e.mgGet(t, "default", "s-standard", "")} {
				m := g["metrics"].([]any)[0].(map[string]any)
				if m["name"] != "Renamed A" || m["_versionId"] != renamed.VersionId {
					t.Errorf("group %v: metrics[0] name %v, _versionId %v; want Renamed A, %s", g["key"], m["name"], m["_versionId"], renamed.VersionId)
				}
			}
			if m := e.mgGet(t, "default", "f-funnel", "")["metrics"].([]any)[0].(map[string]any); m["nameInGroup"] != "Step A" {
				t.Errorf("nameInGroup %v, want Step A", m["nameInGroup"])
			}
			for _, it := range e.mgList(t, "default", "")["items"].([]any) {
				if m := it.(map[string]any)["metrics"].([]any)[0].(map[string]any); m["name"] != "Renamed A" {
					t.Errorf("list: group %v metrics[0] name %v", it.(map[string]any)["key"], m["name"])
				}
			}
		})
		t.Run("metric expansions and counts", func(t *testing.T) {
			got := e.getMetric(t, "default", "b", "expand=metricGroups,metricGroupCount")
			diffJSON(t, "b metricGroups", `[`+groupRef("f-funnel", "F funnel", "funnel")+`]`, got["metricGroups"])
			if got["metricGroupCount"] != 1.0 {
				t.Errorf("b metricGroupCount %v, want 1", got["metricGroupCount"])
			}
			got = e.getMetric(t, "default", "a", "expand=metricGroups,metricGroupCount")
			diffJSON(t, "a metricGroups", `[`+groupRef("f-funnel", "F funnel", "funnel")+`, `+groupRef("s-standard", "S standard", "standard")+`]`, got["metricGroups"])
			if got["metricGroupCount"] != 2.0 {
				t.Errorf("a metricGroupCount %v, want 2", got["metricGroupCount"])
			}
			got = e.getMetric(t, "default", "d", "expand=metricGroups,metricGroupCount")
			diffJSON(t, "d metricGroups", `[]`, got["metricGroups"])
			if got["metricGroupCount"] != 0.0 {
				t.Errorf("d metricGroupCount %v, want 0", got["metricGroupCount"])
			}
			got = e.getMetric(t, "default", "b", "")
			for _, f := range []string{"metricGroups", "metricGroupCount"} {
				if _, ok := got[f]; ok {
					t.Errorf("%s present without expand", f)
				}
			}
			counts := map[string]float64{}
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/metrics/default", "")
			if st != http.StatusOK {
				t.Fatalf("list metrics: status %d: %s", st, body)
			}
			for _, it := range obj(t, body)["items"].([]any) {
				m := it.(map[string]any)
				counts[m["key"].(string)] = m["metricGroupCount"].(float64)
			}
			if d := cmp.Diff(map[string]float64{"a": 2, "b": 1, "c": 1, "d": 0}, counts); d != "" {
				t.Errorf("list metricGroupCount (-want +got):\n%s", d)
			}
		})
		t.Run("delete a metric in a group", func(t *testing.T) {
			for key, msg := range map[string]string{
				"b": `metric "b" is used by metric group f-funnel; remove it from them first`,
				"a": `metric "a" is used by metric group f-funnel, metric group s-standard; remove it from them first`,
			} {
				resp, err := e.api(t).MetricsApi.DeleteMetric(allowUndocumented(ctx), "default", key).Execute()
				if got := clientError(t, "delete "+key, resp, err, http.StatusConflict); got.Message != msg {
					t.Errorf("delete %s: message %q, want %q", key, got.Message, msg)
				}
				e.getMetric(t, "default", key, "")
			}
		})
		t.Run("archive a metric in a group", func(t *testing.T) {
			for key, msg := range map[string]string{
				"b": `metric "b" is in metric groups f-funnel; remove it from them before archiving it`,
				"a": `metric "a" is in metric groups f-funnel, s-standard; remove it from them before archiving it`,
			} {
				before := e.getMetric(t, "default", key, "")
				st, body := patchMetric(t, key, `[{"op":"replace","path":"/archived","value":true}]`)
				if got := wantError(t, "archive "+key, st, body, http.StatusConflict); got.Message != msg {
					t.Errorf("archive %s: message %q, want %q", key, got.Message, msg)
				}
				if d := cmp.Diff(before, e.getMetric(t, "default", key, "")); d != "" {
					t.Errorf("the refused archive changed %s (-before +after):\n%s", key, d)
				}
			}
		})
		t.Run("metric changes that break a group", func(t *testing.T) {
			for _, c := range []struct{ name, key, patch, msg string }{
				{"numeric funnel step", "b", `[{"op":"replace","path":"/isNumeric","value":true},{"op":"replace","path":"/successCriteria","value":"HigherThanBaseline"}]`,
					`the change would break metric group "f-funnel": metrics[1]: funnel steps must be conversion metrics; "b" is numeric`},
				{"percentile funnel step", "b", `[{"op":"replace","path":"/isNumeric","value":true},{"op":"replace","path":"/successCriteria","value":"LowerThanBaseline"},` +
					`{"op":"replace","path":"/analysisType","value":"percentile"},{"op":"replace","path":"/percentileValue","value":90}]`,
					`the change would break metric group "f-funnel": metrics[1]: funnel steps must be conversion metrics; "b" is numeric`},
				{"no shared unit", "a", `[{"op":"replace","path":"/randomizationUnits","value":["organization"]}]`,
					`the change would break metric group "f-funnel": metrics[1]: metric "b" shares no randomization unit with the metrics before it`},
				{"no shared unit in the standard group", "c", `[{"op":"replace","path":"/randomizationUnits","value":["device"]}]`,
					`the change would break metric group "s-standard": metrics[1]: metric "c" shares no randomization unit with the metrics before it`},
			} {
				before := e.getMetric(t, "default", c.key, "")
				st, body := patchMetric(t, c.key, c.patch)
				if got := wantError(t, c.name, st, body, http.StatusBadRequest); got.Message != c.msg {
					t.Errorf("%s: message %q, want %q", c.name, got.Message, c.msg)
				}
				if d := cmp.Diff(before, e.getMetric(t, "default", c.key, "")); d != "" {
					t.Errorf("%s: the refused patch changed the metric (-before +after):\n%s", c.name, d)
				}
			}
			// A numeric metric is fine in a standard group; a shared unit
			// may be added.
			for key, patch := range map[string]string{
				"c": `[{"op":"replace","path":"/isNumeric","value":true},{"op":"replace","path":"/successCriteria","value":"HigherThanBaseline"}]`,
				"a": `[{"op":"replace","path":"/randomizationUnits","value":["user","organization"]}]`,
			} {
				if st, body := patchMetric(t, key, patch); st != http.StatusOK {
					t.Errorf("patch %s %s: status %d: %s", key, patch, st, body)
				}
			}
			g := e.mgGet(t, "default", "s-standard", "")
			if m := g["metrics"].([]any)[1].(map[string]any); m["isNumeric"] != true {
				t.Errorf("s-standard metrics[1].isNumeric %v, want true", m["isNumeric"])
			}
		})
		t.Run("allowed once the group is deleted", func(t *testing.T) {
			if st, body := e.mgDo(t, http.MethodDelete, mgPath("default", "f-funnel"), ""); st != http.StatusNoContent {
				t.Fatalf("delete f-funnel: status %d: %s", st, body)
			}
			for _, p := range []string{
				`[{"op":"replace","path":"/isNumeric","value":true},{"op":"replace","path":"/successCriteria","value":"HigherThanBaseline"}]`,
				`[{"op":"replace","path":"/archived","value":true}]`,
			} {
				if st, body := patchMetric(t, "b", p); st != http.StatusOK {
					t.Errorf("patch b %s: status %d: %s", p, st, body)
				}
			}
			if resp, err := e.api(t).MetricsApi.DeleteMetric(ctx, "default", "b").Execute(); err != nil {
				t.Errorf("delete b: %v (status %d)", err, status(resp))
			}
			// a is still in s-standard.
			st, body := patchMetric(t, "a", `[{"op":"replace","path":"/archived","value":true}]`)
			if got := wantError(t, "archive a", st, body, http.StatusConflict); got.Message != `metric "a" is in metric groups s-standard; remove it from them before archiving it` {
				t.Errorf("message %q", got.Message)
			}
			if got := e.getMetric(t, "default", "a", "expand=metricGroupCount"); got["metricGroupCount"] != 1.0 {
				t.Errorf("a metricGroupCount %v, want 1", got["metricGroupCount"])
			}
			if st, body := e.mgDo(t, http.MethodDelete, mgPath("default", "s-standard"), ""); st != http.StatusNoContent {
				t.Fatalf("delete s-standard: status %d: %s", st, body)
			}
			if st, body := patchMetric(t, "a", `[{"op":"replace","path":"/archived","value":true}]`); st != http.StatusOK {
				t.Errorf("archive a: status %d: %s", st, body)
			}
			for _, key := range []string{"a", "c"} {
				if resp, err := e.api(t).MetricsApi.DeleteMetric(ctx, "default", key).Execute(); err != nil {
					t.Errorf("delete %s: %v (status %d)", key, err, status(resp))
				}
			}
			// An archived metric cannot join a group.
			e.createMetric(t, "default", `{"key":"e","kind":"custom","eventKey":"e","archived":true}`)
			st, body = e.mgDo(t, http.MethodPost, mgCollectionPath("default"), `{"key":"g","name":"G","kind":"standard","tags":[],"metrics":[{"key":"d"},{"key":"e"}]}`)
			wantError(t, "archived metric", st, body, http.StatusBadRequest, `metrics[1]: metric "e" is archived`)
		})
	})
}

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
		proj, _, err := e.client.ProjectsApi.GetProject(ctx, "default").Execute()
		if err != nil {
			t.Fatalf("GetProject: %v", err)
		}
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
		id := func(key string) string { return info[key].id }
		// Experiments and guarded rollouts that use groups.
		exp := func(xid, key, name, status string, createdAt int64, archivedAt any, groups ...string) {
			db.exec(t, `INSERT INTO experiments (id, project_id, environment_id, key, name, status, flag_key, flag_name, created_at, archived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				xid, proj.Id, prod.Id, key, name, status, "flag-"+key, "Flag "+key, createdAt, archivedAt)
			for _, g := range groups {
				db.exec(t, `INSERT INTO experiment_metrics (experiment_id, metric_id, metric_group_id) VALUES (?, ?, ?)`, xid, nil, id(g))
			}
		}
		exp("x1", "x-run1", "Running one", "running", 1700000001000, nil, "checkout-funnel", "core-kpis")
		exp("x2", "x-run2", "Running two", "running", 1700000002000, nil, "checkout-funnel")
		exp("x3", "x-stop", "Stopped", "stopped", 1700000003000, nil, "checkout-funnel", "checkout-health")
		exp("x4", "x-new", "Not started", "not_started", 1700000004000, nil, "search-funnel")
		exp("x5", "x-arch", "Archived", "running", 1700000005000, int64(1700000006000), "core-kpis")
		for i, r := range []struct{ flag, status string }{{"flag-g", "monitoring"}, {"flag-h", "completed"}} {
			rid := fmt.Sprintf("9d0b7b5e-0000-4000-8000-00000000000%d", i)
			db.exec(t, `INSERT INTO guarded_rollouts (id, project_id, environment_id, flag_key, flag_name, flag_purpose, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				rid, proj.Id, prod.Id, r.flag, "Flag "+r.flag, "", r.status, int64(1700000007000+i))
			db.exec(t, `INSERT INTO guarded_rollout_metrics (rollout_id, metric_id, metric_group_id) VALUES (?, ?, ?)`, rid, nil, id("guardrails"))
		}
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
				{"experimentStatus equals 'stopped'", keysOf("checkout-funnel", "checkout-health")},
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
			diffJSON(t, "checkout-funnel experiments", `[`+x("x-run1", "Running one", 1700000001000, "")+`, `+x("x-run2", "Running two", 1700000002000, "")+`, `+
				x("x-stop", "Stopped", 1700000003000, "")+`]`, got["experiments"])
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
			diffJSON(t, "core-kpis experiments", `[`+x("x-run1", "Running one", 1700000001000, "")+`, `+
				x("x-arch", "Archived", 1700000005000, `, "archivedDate": 1700000006000`)+`]`, got["experiments"])
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
				"guardrails":      `metric group "guardrails" is used by guarded rollout of flag flag-g, guarded rollout of flag flag-h; remove it from them first`,
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
			// Once the experiments are gone the group can be deleted.
			db.exec(t, `DELETE FROM experiments WHERE id IN (?, ?)`, "x1", "x5")
			if resp, err := api.MetricsBetaApi.DeleteMetricGroup(ctx, "default", "core-kpis").Execute(); err != nil {
				t.Errorf("delete core-kpis after its experiments: %v (status %d)", err, status(resp))
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

// TestMetricGroupConcurrency races writers against the unique rules and the
// version check of groups.
func TestMetricGroupConcurrency(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"a","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","kind":"custom","eventKey":"b"}`)
		const n = 8
		ctx := allowUndocumented(context.Background())
		race := func(method, path string, body func(i int) string) []raceResult {
			return e.race(t, ctx, n, method, path, body, betaHeader)
		}

		t.Run("derived keys", func(t *testing.T) {
			results := race(http.MethodPost, mgCollectionPath("default"), func(int) string {
				return `{"name":"Race","kind":"standard","tags":[],"metrics":[{"key":"a"},{"key":"b"}]}`
			})
			var keys []string
			for i, r := range results {
				if r.err != nil || r.status != http.StatusCreated {
					t.Errorf("writer %d: %v status %d: %s", i, r.err, r.status, r.body)
					continue
				}
				keys = append(keys, obj(t, r.body)["key"].(string))
			}
			sort.Strings(keys)
			want := []string{"race"}
			for i := 2; i <= n; i++ {
				want = append(want, fmt.Sprintf("race-%d", i))
			}
			sort.Strings(want)
			if d := cmp.Diff(want, keys); d != "" {
				t.Errorf("keys (-want +got):\n%s", d)
			}
			if c := e.mgCount(t, "default"); c != n {
				t.Errorf("totalCount %d, want %d", c, n)
			}
		})
		t.Run("one guardrail group", func(t *testing.T) {
			results := race(http.MethodPost, mgCollectionPath("default"), func(i int) string {
				return fmt.Sprintf(`{"key":"guard-%d","name":"Guard","kind":"guardrail","tags":[],"metrics":[{"key":"a"},{"key":"b"}]}`, i)
			})
			created := 0
			for i, r := range results {
				switch {
				case r.err != nil:
					t.Errorf("writer %d: %v", i, r.err)
				case r.status == http.StatusCreated:
					created++
				default:
					wantError(t, fmt.Sprintf("writer %d", i), r.status, r.body, http.StatusConflict, "already has a guardrail metric group")
				}
			}
			if created != 1 {
				t.Errorf("%d guardrail groups created, want 1", created)
			}
			if got := itemKeys(t, e.mgList(t, "default", "filter=kind+equals+guardrail")); len(got) != 1 {
				t.Errorf("guardrail groups %v", got)
			}
		})
		t.Run("guarded by test of _version", func(t *testing.T) {
			results := race(http.MethodPatch, mgPath("default", "race"), func(i int) string {
				return fmt.Sprintf(`[{"op":"test","path":"/_version","value":1},{"op":"replace","path":"/description","value":"writer %d"}]`, i)
			})
			winner := soleWinner(t, results)
			got := e.mgGet(t, "default", "race", "")
			if got["_version"] != 2.0 || got["description"] != fmt.Sprintf("writer %d", winner) {
				t.Errorf("final _version %v description %v, want 2 and %q", got["_version"], got["description"], fmt.Sprintf("writer %d", winner))
			}
		})
		t.Run("blind writes", func(t *testing.T) {
			results := race(http.MethodPatch, mgPath("default", "race"), func(i int) string {
				return fmt.Sprintf(`[{"op":"replace","path":"/name","value":"blind %d"},{"op":"move","from":"/metrics/0","path":"/metrics/1"}]`, i)
			})
			ok := 0
			for i, r := range results {
				switch {
				case r.err != nil:
					t.Errorf("writer %d: %v", i, r.err)
				case r.status == http.StatusOK:
					ok++
				default:
					wantError(t, fmt.Sprintf("writer %d", i), r.status, r.body, http.StatusConflict)
				}
			}
			if ok == 0 {
				t.Fatalf("no writer succeeded")
			}
			got := e.mgGet(t, "default", "race", "")
			if want := 2.0 + float64(ok); got["_version"] != want {
				t.Errorf("final _version %v after %d successful writes from version 2, want %v", got["_version"], ok, want)
			}
			// Every successful write swapped the two metrics once.
			want := []string{"a:", "b:"}
			if ok%2 == 1 {
				want = []string{"b:", "a:"}
			}
			if d := cmp.Diff(want, mgMetricKeys(t, got)); d != "" {
				t.Errorf("metric order after %d swaps (-want +got):\n%s", ok, d)
			}
		})
	})
}
