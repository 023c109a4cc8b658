package e2e

import (
	"context"
	"fmt"
	"github.com/metricsd/metricsd/internal/action"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// volatileMetricFields differ between otherwise equal metrics; checkVolatile
// checks their shape.
var volatileMetricFields = []string{"_id", "_versionId", "_creationDate", "lastModified"}

var objectID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// expectMetric is the representation of a version-1 metric with every
// default, without volatile fields, changed by overrides: a JSON object
// whose null members remove fields.
func expectMetric(t testing.TB, e *env, project, key, overrides string) map[string]any {
	t.Helper()
	base := fmt.Sprintf(`{
		"_version": 1,
		"key": %[2]q,
		"name": %[2]q,
		"kind": "custom",
		"_links": {
			"parent": {"href": "/api/v2/metrics/%[1]s", "type": "application/json"},
			"self": {"href": "/api/v2/metrics/%[1]s/%[2]s", "type": "application/json"}
		},
		"_site": {"href": "/experiments/metrics/%[2]s/edit", "type": "text/html"},
		"tags": [],
		"maintainerId": %[3]q,
		"_maintainer": {
			"_links": {"self": {"href": "/api/v2/members/%[3]s", "type": "application/json"}},
			"_id": %[3]q,
			"firstName": "Metricsd",
			"lastName": "Owner",
			"role": "owner",
			"email": "owner@metricsd.local"
		},
		"isNumeric": false,
		"randomizationUnits": ["user"],
		"unitAggregationType": "average",
		"analysisType": "mean",
		"dataSource": {"key": "launchdarkly", "_name": "LaunchDarkly"},
		"archived": false,
		"isActive": false,
		"activeExperimentCount": 0,
		"activeGuardedRolloutCount": 0,
		"_attachedFlagCount": 0
	}`, project, key, e.ownerID)
	m := jsonValue(t, base).(map[string]any)
	m["_access"] = ownerAccess(t, action.MetricActions())
	if overrides != "" {
		for k, v := range jsonValue(t, overrides).(map[string]any) {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
	}
	if u, ok := m["randomizationUnits"]; ok {
		m["analysisUnits"] = u // the newer name, always the same value
	}
	return m
}

// checkVolatile checks the generated fields of a metric representation
// created or changed no earlier than since.
func checkVolatile(t testing.TB, rep map[string]any, since time.Time) {
	t.Helper()
	if id, _ := rep["_id"].(string); !objectID.MatchString(id) {
		t.Errorf("_id %#v is not 24 hex digits", rep["_id"])
	}
	if v, _ := rep["_versionId"].(string); v == "" {
		t.Errorf("_versionId %#v is empty", rep["_versionId"])
	} else if _, err := uuid.Parse(v); err != nil {
		t.Errorf("_versionId %q is not a UUID", v)
	}
	created, ok := rep["_creationDate"].(float64)
	if !ok {
		t.Fatalf("_creationDate %#v is not a number", rep["_creationDate"])
	}
	now := time.Now().UnixMilli()
	lm, _ := rep["lastModified"].(map[string]any)
	date, _ := lm["date"].(string)
	modified, err := time.Parse(time.RFC3339Nano, date)
	if err != nil {
		t.Fatalf("lastModified %#v: %v", rep["lastModified"], err)
	}
	if m := modified.UnixMilli(); m < since.UnixMilli() || m > now || m < int64(created) {
		t.Errorf("lastModified %s is not within [%d, %d] and after _creationDate %d", date, since.UnixMilli(), now, int64(created))
	}
	if rep["_version"] == 1.0 {
		if c := int64(created); c < since.UnixMilli() || c > now {
			t.Errorf("_creationDate %d is not within [%d, %d]", c, since.UnixMilli(), now)
		}
		if modified.UnixMilli() != int64(created) {
			t.Errorf("lastModified %s differs from _creationDate %d in version 1", date, int64(created))
		}
	}
}

func metricPath(project, key string) string { return "/api/v2/metrics/" + project + "/" + key }

// createMetric creates a metric from a raw body and returns its representation.
func (e *env) createMetric(t testing.TB, project, body string) map[string]any {
	t.Helper()
	st, b, _ := e.do(t, http.MethodPost, "/api/v2/metrics/"+project, body)
	if st != http.StatusCreated {
		t.Fatalf("create metric %s: status %d: %s", body, st, b)
	}
	return obj(t, b)
}

// getMetric reads a metric, which must exist.
func (e *env) getMetric(t testing.TB, project, key, query string) map[string]any {
	t.Helper()
	path := metricPath(project, key)
	if query != "" {
		path += "?" + query
	}
	st, b, _ := e.do(t, http.MethodGet, path, "")
	if st != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, st, b)
	}
	return obj(t, b)
}

// metricCount returns totalCount of a project's metric list.
func (e *env) metricCount(t testing.TB, project string) int {
	t.Helper()
	st, b, _ := e.do(t, http.MethodGet, "/api/v2/metrics/"+project+"?limit=1", "")
	if st != http.StatusOK {
		t.Fatalf("list metrics of %s: status %d: %s", project, st, b)
	}
	n, ok := obj(t, b)["totalCount"].(float64)
	if !ok {
		t.Fatalf("list metrics of %s: no totalCount: %s", project, b)
	}
	return int(n)
}

func TestMetricCreateEveryKind(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		cases := []struct {
			name string
			post ldapi.MetricPost
			want string // overrides of expectMetric
		}{{
			name: "pageview",
			post: ldapi.MetricPost{
				Key: "pageview-home", Kind: "pageview",
				Urls: []ldapi.UrlPost{
					{Kind: ptr("exact"), Url: ptr("https://example.com/")},
					{Kind: ptr("canonical"), Url: ptr("https://example.com/home")},
					{Kind: ptr("substring"), Substring: ptr("/checkout")},
					{Kind: ptr("regex"), Pattern: ptr(`^https://example\.com/p/[0-9]+$`)},
				},
				Tags: []string{"web", "funnel", "web"},
			},
			want: `{"kind": "pageview", "tags": ["web", "funnel"], "urls": [
				{"kind": "exact", "url": "https://example.com/"},
				{"kind": "canonical", "url": "https://example.com/home"},
				{"kind": "substring", "substring": "/checkout"},
				{"kind": "regex", "pattern": "^https://example\\.com/p/[0-9]+$"}]}`,
		}, {
			name: "click",
			post: ldapi.MetricPost{
				Key: "click-buy", Kind: "click", Name: ptr("Buy button clicks"), Description: ptr("Clicks on any buy button"),
				Selector: ptr("#buy, .buy-button"),
				Urls:     []ldapi.UrlPost{{Kind: ptr("substring"), Substring: ptr("/product/")}},
			},
			want: `{"kind": "click", "name": "Buy button clicks", "description": "Clicks on any buy button",
				"selector": "#buy, .buy-button", "urls": [{"kind": "substring", "substring": "/product/"}]}`,
		}, {
			name: "custom conversion",
			post: ldapi.MetricPost{
				Key: "custom-signup", Kind: "custom", Name: ptr("  Sign-ups  "), EventKey: ptr("signup-completed"),
				IsNumeric: ptr(false), SuccessCriteria: ptr("HigherThanBaseline"),
				RandomizationUnits: []string{"user", "organization"},
				Filters: &ldapi.EventFilter{Type: "group", Op: "and", Values: []any{
					map[string]any{"type": "contextAttribute", "attribute": "country", "op": "in", "values": []any{"JP"}, "contextKind": "user", "negate": false},
					map[string]any{"type": "eventProperty", "attribute": "category", "op": "in", "values": []any{"magic-wands", 3.5, true}, "negate": true},
				}},
			},
			want: `{"name": "Sign-ups", "eventKey": "signup-completed", "successCriteria": "HigherThanBaseline",
				"randomizationUnits": ["user", "organization"],
				"filters": {"type": "group", "op": "and", "negate": false, "values": [
					{"type": "contextAttribute", "attribute": "country", "op": "in", "values": ["JP"], "contextKind": "user", "negate": false},
					{"type": "eventProperty", "attribute": "category", "op": "in", "values": ["magic-wands", 3.5, true], "negate": true}]}}`,
		}, {
			name: "custom numeric",
			post: ldapi.MetricPost{
				Key: "custom-revenue", Kind: "custom", EventKey: ptr("order-placed"), IsNumeric: ptr(true),
				SuccessCriteria: ptr("HigherThanBaseline"), Unit: ptr("USD"), UnitAggregationType: ptr("sum"),
				EventDefault: &ldapi.MetricEventDefaultRep{Disabled: ptr(false)},
				DataSource:   &ldapi.MetricDataSourceRefRep{Key: "warehouse", EnvironmentKey: ptr("production")},
				MaintainerId: ptr(e.ownerID),
			},
			want: `{"eventKey": "order-placed", "isNumeric": true, "successCriteria": "HigherThanBaseline", "unit": "USD",
				"unitAggregationType": "sum", "eventDefault": {"disabled": false, "value": 0},
				"dataSource": {"key": "warehouse", "environmentKey": "production"}}`,
		}, {
			name: "custom numeric percentile",
			post: ldapi.MetricPost{
				Key: "custom-latency-p95", Kind: "custom", EventKey: ptr("page-latency"), IsNumeric: ptr(true),
				SuccessCriteria: ptr("LowerThanBaseline"), Unit: ptr("ms"),
				AnalysisType: ptr("percentile"), PercentileValue: ptr(int32(95)),
				EventDefault: &ldapi.MetricEventDefaultRep{Disabled: ptr(true)},
			},
			want: `{"eventKey": "page-latency", "isNumeric": true, "successCriteria": "LowerThanBaseline", "unit": "ms",
				"analysisType": "percentile", "percentileValue": 95, "eventDefault": {"disabled": true}}`,
		}, {
			name: "trace conversion",
			post: ldapi.MetricPost{
				Key: "trace-checkout", Kind: "trace", Tags: []string{"otel"},
				AdditionalProperties: map[string]any{"traceQuery": `service.name = "checkout"`},
			},
			want: `{"kind": "trace", "tags": ["otel"], "traceQuery": "service.name = \"checkout\""}`,
		}, {
			name: "trace numeric",
			post: ldapi.MetricPost{
				Key: "trace-duration", Kind: "trace", IsNumeric: ptr(true), SuccessCriteria: ptr("LowerThanBaseline"), Unit: ptr("ms"),
				AdditionalProperties: map[string]any{"traceQuery": `service.name = "checkout"`, "traceValueLocation": "duration"},
			},
			want: `{"kind": "trace", "isNumeric": true, "successCriteria": "LowerThanBaseline", "unit": "ms",
				"traceQuery": "service.name = \"checkout\"", "traceValueLocation": "duration"}`,
		}}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				api := e.api(t)
				ctx := context.Background()
				before := time.Now()
				rep, resp, err := api.MetricsApi.PostMetric(ctx, "default").MetricPost(c.post).Execute()
				if err != nil {
					t.Fatalf("PostMetric: %v (status %d)", err, status(resp))
				}
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("status %d, want 201", resp.StatusCode)
				}
				if rep.Key != c.post.Key || rep.Kind != c.post.Kind || rep.Version == nil || *rep.Version != 1 {
					t.Errorf("client model: key %q kind %q version %v", rep.Key, rep.Kind, rep.Version)
				}
				created := obj(t, rawBody(t, resp))
				checkVolatile(t, created, before)
				want := expectMetric(t, e, "default", c.post.Key, c.want)
				if d := cmp.Diff(want, without(created, volatileMetricFields...)); d != "" {
					t.Errorf("201 representation mismatch (-want +got):\n%s", d)
				}

				got, resp, err := api.MetricsApi.GetMetric(ctx, "default", c.post.Key).Execute()
				if err != nil {
					t.Fatalf("GetMetric: %v (status %d)", err, status(resp))
				}
				if got.Id != rep.Id || got.VersionId != rep.VersionId {
					t.Errorf("GET ids %s/%s, want %s/%s", got.Id, got.VersionId, rep.Id, rep.VersionId)
				}
				if d := cmp.Diff(created, obj(t, rawBody(t, resp))); d != "" {
					t.Errorf("GET differs from the 201 representation (-201 +GET):\n%s", d)
				}
			})
		}
	})
}

func TestMetricCreateValidation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		before := e.metricCount(t, "default")
		long := strings.Repeat("k", 257)
		cases := []struct {
			name, body string
			msg        []string // the message contains each
		}{
			{"pageview without urls", `{"key":"bad-01","kind":"pageview"}`, []string{"urls"}},
			{"pageview with empty urls", `{"key":"bad-02","kind":"pageview","urls":[]}`, []string{"urls"}},
			{"bad regex url", `{"key":"bad-03","kind":"pageview","urls":[{"kind":"regex","pattern":"(["}]}`, []string{"urls[0].pattern"}},
			{"relative exact url", `{"key":"bad-04","kind":"pageview","urls":[{"kind":"exact","url":"/home"}]}`, []string{"urls[0].url"}},
			{"unknown url kind", `{"key":"bad-05","kind":"pageview","urls":[{"kind":"glob","url":"https://example.com/"}]}`, []string{"urls[0].kind"}},
			{"substring url without substring", `{"key":"bad-06","kind":"pageview","urls":[{"kind":"exact","url":"https://example.com/"},{"kind":"substring"}]}`, []string{"urls[1].substring"}},
			{"click without selector", `{"key":"bad-07","kind":"click","urls":[{"kind":"substring","substring":"/"}]}`, []string{"selector"}},
			{"custom without eventKey", `{"key":"bad-08","kind":"custom"}`, []string{"eventKey"}},
			{"numeric without successCriteria", `{"key":"bad-09","kind":"custom","eventKey":"e","isNumeric":true}`, []string{"successCriteria"}},
			{"percentile without percentileValue", `{"key":"bad-10","kind":"custom","eventKey":"e","isNumeric":true,"successCriteria":"LowerThanBaseline","analysisType":"percentile"}`, []string{"percentileValue"}},
			{"percentileValue above 100", `{"key":"bad-11","kind":"custom","eventKey":"e","isNumeric":true,"successCriteria":"LowerThanBaseline","analysisType":"percentile","percentileValue":101}`, []string{"percentileValue"}},
			{"percentileValue below 0", `{"key":"bad-12","kind":"custom","eventKey":"e","isNumeric":true,"successCriteria":"LowerThanBaseline","analysisType":"percentile","percentileValue":-1}`, []string{"percentileValue"}},
			{"percentileValue not an integer", `{"key":"bad-13","kind":"custom","eventKey":"e","isNumeric":true,"successCriteria":"LowerThanBaseline","analysisType":"percentile","percentileValue":95.5}`, []string{"percentileValue"}},
			{"percentileValue with mean", `{"key":"bad-14","kind":"custom","eventKey":"e","isNumeric":true,"successCriteria":"LowerThanBaseline","percentileValue":95}`, []string{"percentileValue"}},
			{"percentile of a conversion metric", `{"key":"bad-15","kind":"custom","eventKey":"e","analysisType":"percentile","percentileValue":95}`, []string{"analysisType"}},
			{"unknown kind", `{"key":"bad-16","kind":"bogus","eventKey":"e"}`, []string{"kind"}},
			{"kind in the wrong case", `{"key":"bad-17","kind":"Custom","eventKey":"e"}`, []string{"kind"}},
			{"missing kind", `{"key":"bad-18","eventKey":"e"}`, []string{"kind"}},
			{"bad key format", `{"key":"bad key!","kind":"custom","eventKey":"e"}`, []string{"key", "bad key!"}},
			{"key starting with a dot", `{"key":".bad-19","kind":"custom","eventKey":"e"}`, []string{"key"}},
			{"missing key", `{"kind":"custom","eventKey":"e"}`, []string{"key"}},
			{"key too long", `{"key":"` + long + `","kind":"custom","eventKey":"e"}`, []string{"key"}},
			{"unknown field", `{"key":"bad-20","kind":"custom","eventKey":"e","colour":"red"}`, []string{"colour"}},
			{"isNumeric of the wrong type", `{"key":"bad-21","kind":"custom","eventKey":"e","isNumeric":"yes"}`, []string{"isNumeric"}},
			{"tags of the wrong type", `{"key":"bad-22","kind":"custom","eventKey":"e","tags":"a"}`, []string{"tags"}},
			{"malformed JSON", `{"key":"bad-23","kind":`, []string{"JSON"}},
			{"syntax error", `{"key":"bad-24" "kind":"custom"}`, []string{"JSON"}},
			{"trailing garbage", `{"key":"bad-25","kind":"custom","eventKey":"e"} x`, []string{"single JSON value"}},
			{"two JSON values", `{"key":"bad-26","kind":"custom","eventKey":"e"}{}`, []string{"single JSON value"}},
			{"array body", `[{"key":"bad-27","kind":"custom","eventKey":"e"}]`, []string{"object"}},
			{"null body", `null`, []string{"key"}},
			{"nonexistent maintainerId", `{"key":"bad-28","kind":"custom","eventKey":"e","maintainerId":"000000000000000000000000"}`, []string{"maintainerId"}},
			{"eventDefault value 5", `{"key":"bad-29","kind":"custom","eventKey":"e","eventDefault":{"disabled":false,"value":5}}`, []string{"eventDefault.value"}},
			{"trace without traceQuery", `{"key":"bad-30","kind":"trace"}`, []string{"traceQuery"}},
			{"numeric trace without traceValueLocation", `{"key":"bad-31","kind":"trace","traceQuery":"q","isNumeric":true,"successCriteria":"LowerThanBaseline"}`, []string{"traceValueLocation"}},
			{"traceValueLocation on a conversion trace", `{"key":"bad-32","kind":"trace","traceQuery":"q","traceValueLocation":"duration"}`, []string{"traceValueLocation"}},
			{"numeric pageview", `{"key":"bad-33","kind":"pageview","isNumeric":true,"successCriteria":"HigherThanBaseline","urls":[{"kind":"substring","substring":"/"}]}`, []string{"isNumeric"}},
			{"unit on a conversion metric", `{"key":"bad-34","kind":"custom","eventKey":"e","unit":"ms"}`, []string{"unit"}},
			{"unknown successCriteria", `{"key":"bad-35","kind":"custom","eventKey":"e","successCriteria":"Better"}`, []string{"successCriteria"}},
			{"unknown unitAggregationType", `{"key":"bad-36","kind":"custom","eventKey":"e","unitAggregationType":"median"}`, []string{"unitAggregationType"}},
			{"unknown analysisType", `{"key":"bad-37","kind":"custom","eventKey":"e","analysisType":"median"}`, []string{"analysisType"}},
			{"bad tag", `{"key":"bad-38","kind":"custom","eventKey":"e","tags":["ok","has space"]}`, []string{"tags[1]"}},
			{"duplicate randomization unit", `{"key":"bad-39","kind":"custom","eventKey":"e","randomizationUnits":["user","user"]}`, []string{"randomizationUnits[1]"}},
			{"eventKey on a pageview", `{"key":"bad-40","kind":"pageview","eventKey":"e","urls":[{"kind":"substring","substring":"/"}]}`, []string{"eventKey"}},
			{"selector on a custom metric", `{"key":"bad-41","kind":"custom","eventKey":"e","selector":"#a"}`, []string{"selector"}},
			{"urls on a custom metric", `{"key":"bad-42","kind":"custom","eventKey":"e","urls":[{"kind":"substring","substring":"/"}]}`, []string{"urls"}},
			{"traceQuery on a custom metric", `{"key":"bad-43","kind":"custom","eventKey":"e","traceQuery":"q"}`, []string{"traceQuery"}},
			{"filter of unknown type", `{"key":"bad-44","kind":"custom","eventKey":"e","filters":{"type":"bogus","op":"in","values":["x"],"negate":false}}`, []string{"filters.type"}},
			{"bad filter in a group", `{"key":"bad-45","kind":"custom","eventKey":"e","filters":{"type":"group","op":"and","values":[{"type":"eventProperty","attribute":"a","op":"near","values":["x"],"negate":false}],"negate":false}}`, []string{"filters.values[0].op"}},
			{"name too long", `{"key":"bad-46","kind":"custom","eventKey":"e","name":"` + long + `"}`, []string{"name"}},
			{"description too long", `{"key":"bad-47","kind":"custom","eventKey":"e","description":"` + strings.Repeat("d", 4097) + `"}`, []string{"description"}},
			{"empty body", ``, []string{"empty"}},
			{"wrongly-cased field", `{"key":"bad-48","kind":"custom","EventKey":"e"}`, []string{"EventKey"}},
			{"wrongly-cased key field", `{"Key":"bad-49","kind":"custom","eventKey":"e"}`, []string{"Key"}},
			{"dataSource without key", `{"key":"bad-50","kind":"custom","eventKey":"e","dataSource":{"environmentKey":"production"}}`, []string{"dataSource.key"}},
			{"unknown field in a url", `{"key":"bad-51","kind":"pageview","urls":[{"kind":"substring","substring":"/","weight":1}]}`, []string{"weight"}},
			{"eventDefault of the wrong type", `{"key":"bad-52","kind":"custom","eventKey":"e","eventDefault":true}`, []string{"eventDefault"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				st, body, _ := e.do(t, http.MethodPost, "/api/v2/metrics/default", c.body, "Content-Type: application/json")
				wantError(t, c.body, st, body, http.StatusBadRequest, c.msg...)
			})
		}
		if after := e.metricCount(t, "default"); after != before {
			t.Errorf("totalCount %d after rejected creates, want %d", after, before)
		}
	})
}

func TestMetricConflictAndNotFound(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		api := e.client
		post := ldapi.MetricPost{Key: "dup", Kind: "custom", EventKey: ptr("e")}
		if _, resp, err := api.MetricsApi.PostMetric(ctx, "default").MetricPost(post).Execute(); err != nil {
			t.Fatalf("create: %v (status %d)", err, status(resp))
		}
		other := ldapi.MetricPost{Key: "dup", Kind: "pageview", Urls: []ldapi.UrlPost{{Kind: ptr("substring"), Substring: ptr("/")}}}
		_, resp, err := api.MetricsApi.PostMetric(ctx, "default").MetricPost(other).Execute()
		clientError(t, "duplicate key", resp, err, http.StatusConflict, `"dup"`)
		if got := e.getMetric(t, "default", "dup", ""); got["kind"] != "custom" || got["_version"] != 1.0 {
			t.Errorf("after a conflicting create the metric is %v", got)
		}

		// Keys are unique per project only.
		if _, resp, err := api.ProjectsApi.PostProject(ctx).ProjectPost(ldapi.ProjectPost{Key: "other", Name: "Other"}).Execute(); err != nil {
			t.Fatalf("create project: %v (status %d)", err, status(resp))
		}
		if _, resp, err := api.MetricsApi.PostMetric(ctx, "other").MetricPost(post).Execute(); err != nil {
			t.Errorf("same key in another project: %v (status %d)", err, status(resp))
		}

		_, resp, err = api.MetricsApi.PostMetric(ctx, "nope").MetricPost(post).Execute()
		clientError(t, "create in unknown project", resp, err, http.StatusNotFound, `"nope"`)
		_, resp, err = api.MetricsApi.GetMetrics(ctx, "nope").Execute()
		clientError(t, "list unknown project", resp, err, http.StatusNotFound, `"nope"`)
		_, resp, err = api.MetricsApi.GetMetric(ctx, "nope", "dup").Execute()
		clientError(t, "get in unknown project", resp, err, http.StatusNotFound, `"nope"`)
		_, resp, err = api.MetricsApi.GetMetric(ctx, "default", "missing").Execute()
		clientError(t, "get unknown metric", resp, err, http.StatusNotFound, `"missing"`)
		patch := []ldapi.PatchOperation{{Op: "replace", Path: "/name", Value: "x"}}
		_, resp, err = api.MetricsApi.PatchMetric(ctx, "default", "missing").PatchOperation(patch).Execute()
		clientError(t, "patch unknown metric", resp, err, http.StatusNotFound, `"missing"`)
		resp, err = api.MetricsApi.DeleteMetric(ctx, "default", "missing").Execute()
		clientError(t, "delete unknown metric", resp, err, http.StatusNotFound, `"missing"`)
		resp, err = api.MetricsApi.DeleteMetric(ctx, "nope", "dup").Execute()
		clientError(t, "delete in unknown project", resp, err, http.StatusNotFound, `"nope"`)
	})
}

func TestMetricPatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		path := metricPath("default", "patchme")
		v1 := e.createMetric(t, "default", `{"key":"patchme","kind":"custom","name":"Patch me","description":"first","tags":["a"],"eventKey":"evt"}`)

		// versions records every representation a successful change returned.
		versions := []map[string]any{v1}
		cur := func() map[string]any { return versions[len(versions)-1] }
		// changed checks a successful change: one more version, a new
		// version ID, the given fields changed and nothing else.
		changed := func(t *testing.T, what string, got map[string]any, fields string) {
			t.Helper()
			prev := cur()
			want := without(prev, "_versionId", "lastModified")
			want["_version"] = prev["_version"].(float64) + 1
			for k, v := range jsonValue(t, fields).(map[string]any) {
				if v == nil {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			if d := cmp.Diff(want, without(got, "_versionId", "lastModified")); d != "" {
				t.Errorf("%s: representation mismatch (-want +got):\n%s", what, d)
			}
			if got["_versionId"] == prev["_versionId"] {
				t.Errorf("%s: _versionId unchanged", what)
			}
			checkVolatile(t, got, time.UnixMilli(int64(prev["_creationDate"].(float64))))
			versions = append(versions, got)
		}
		// unchanged checks that the metric is still the last version.
		unchanged := func(t *testing.T, what string) {
			t.Helper()
			if d := cmp.Diff(cur(), e.getMetric(t, "default", "patchme", "")); d != "" {
				t.Errorf("%s changed the metric (-want +got):\n%s", what, d)
			}
		}
		patchOK := func(t *testing.T, body string) map[string]any {
			t.Helper()
			st, b, _ := e.do(t, http.MethodPatch, path, body)
			if st != http.StatusOK {
				t.Fatalf("PATCH %s: status %d: %s", body, st, b)
			}
			return obj(t, b)
		}

		t.Run("replace with the client", func(t *testing.T) {
			rep, resp, err := e.api(t).MetricsApi.PatchMetric(ctx, "default", "patchme").PatchOperation([]ldapi.PatchOperation{
				{Op: "replace", Path: "/name", Value: "Renamed"},
				{Op: "replace", Path: "/description", Value: "second"},
				{Op: "replace", Path: "/tags", Value: []string{"x", "y"}},
			}).Execute()
			if err != nil {
				t.Fatalf("PatchMetric: %v (status %d)", err, status(resp))
			}
			if rep.Version == nil || *rep.Version != 2 || rep.Name != "Renamed" {
				t.Errorf("client model: version %v name %q", rep.Version, rep.Name)
			}
			changed(t, "replace", obj(t, rawBody(t, resp)), `{"name":"Renamed","description":"second","tags":["x","y"]}`)
		})
		t.Run("envelope with comment adds a tag", func(t *testing.T) {
			got := patchOK(t, `{"comment":"tag it","patch":[{"op":"add","path":"/tags/-","value":"z"}]}`)
			changed(t, "add /tags/-", got, `{"tags":["x","y","z"]}`)
		})
		t.Run("remove description", func(t *testing.T) {
			rep, resp, err := e.api(t).MetricsApi.PatchMetric(ctx, "default", "patchme").PatchOperation([]ldapi.PatchOperation{
				{Op: "remove", Path: "/description"},
			}).Execute()
			if err != nil {
				t.Fatalf("PatchMetric: %v (status %d)", err, status(resp))
			}
			if rep.Description != nil {
				t.Errorf("description %q after remove", *rep.Description)
			}
			changed(t, "remove", obj(t, rawBody(t, resp)), `{"description":null}`)
		})
		t.Run("copy", func(t *testing.T) {
			got := patchOK(t, `[{"op":"copy","from":"/name","path":"/description"}]`)
			changed(t, "copy", got, `{"description":"Renamed"}`)
		})
		t.Run("move", func(t *testing.T) {
			got := patchOK(t, `[{"op":"move","from":"/description","path":"/category"}]`)
			changed(t, "move", got, `{"description":null,"category":"Renamed"}`)
		})
		t.Run("test then replace", func(t *testing.T) {
			v := int(cur()["_version"].(float64))
			got := patchOK(t, fmt.Sprintf(`[{"op":"test","path":"/_version","value":%d},{"op":"test","path":"/name","value":"Renamed"},{"op":"test","path":"/key","value":"patchme"},{"op":"replace","path":"/eventKey","value":"evt2"}]`, v))
			changed(t, "test+replace", got, `{"eventKey":"evt2"}`)
		})
		t.Run("stale version test", func(t *testing.T) {
			st, body, _ := e.do(t, http.MethodPatch, path, `[{"op":"test","path":"/_version","value":1},{"op":"replace","path":"/name","value":"Stale"}]`)
			wantError(t, "stale _version", st, body, http.StatusConflict)
			st, body, _ = e.do(t, http.MethodPatch, path, `{"patch":[{"op":"test","path":"/name","value":"Wrong"},{"op":"replace","path":"/name","value":"Stale"}]}`)
			wantError(t, "failed test of name", st, body, http.StatusConflict)
			unchanged(t, "a failed test")
		})
		t.Run("read-only fields", func(t *testing.T) {
			for _, c := range []struct{ body, field string }{
				{`[{"op":"replace","path":"/_id","value":"000000000000000000000000"}]`, "_id"},
				{`[{"op":"replace","path":"/key","value":"renamed-key"}]`, "key"},
				{`[{"op":"replace","path":"/kind","value":"trace"}]`, "kind"},
				{`[{"op":"replace","path":"/_version","value":99}]`, "_version"},
				{`[{"op":"replace","path":"/_versionId","value":"x"}]`, "_versionId"},
				{`[{"op":"replace","path":"/_creationDate","value":1}]`, "_creationDate"},
				{`[{"op":"remove","path":"/key"}]`, "key"},
				{`[{"op":"add","path":"/_links","value":{}}]`, "_links"},
			} {
				st, body, _ := e.do(t, http.MethodPatch, path, c.body)
				wantError(t, c.body, st, body, http.StatusBadRequest, c.field)
			}
			unchanged(t, "patches of read-only fields")
		})
		t.Run("invalid results", func(t *testing.T) {
			for _, c := range []struct{ body, msg string }{
				{`[{"op":"remove","path":"/eventKey"}]`, "eventKey"},
				{`[{"op":"replace","path":"/isNumeric","value":true}]`, "successCriteria"},
				{`[{"op":"replace","path":"/tags","value":"x"}]`, "tags"},
				{`[{"op":"add","path":"/colour","value":"red"}]`, "colour"},
				{`[{"op":"add","path":"/urls","value":[{"kind":"substring","substring":"/"}]}]`, "urls"},
				{`[{"op":"replace","path":"/percentileValue","value":50}]`, "percentileValue"},
				{`[{"op":"replace","path":"/maintainerId","value":"000000000000000000000000"}]`, "maintainerId"},
				{`[{"op":"add","path":"/tags/-","value":"bad tag"}]`, "tags[3]"},
				{`[{"op":"add","path":"/Name","value":"x"}]`, "Name"},
				{`[{"op":"replace","path":"/dataSource","value":{"environmentKey":"production"}}]`, "dataSource.key"},
			} {
				st, body, _ := e.do(t, http.MethodPatch, path, c.body)
				wantError(t, c.body, st, body, http.StatusBadRequest, c.msg)
			}
			unchanged(t, "patches producing invalid metrics")
		})
		t.Run("malformed patches", func(t *testing.T) {
			for _, c := range []struct{ body, msg string }{
				{`[]`, "at least one"},
				{`{}`, "patch"},
				{`{"comment":"no patch"}`, "patch"},
				{`{"patch":[{"op":"replace","path":"/name","value":"x"}],"extra":1}`, "extra"},
				{`[{"op":"frobnicate","path":"/name"}]`, "op"},
				{`[{"op":"replace","path":"name","value":"x"}]`, "path"},
				{`[{"op":"replace","path":"/name"}]`, "value"},
				{`[{"op":"move","path":"/name"}]`, "from"},
				{`[{"op":"remove","path":"/nonexistent"}]`, "patch"},
				{`[{"op":"replace","path":"/name","value":"x"}`, "JSON"},
				{`"replace"`, "array"},
				{`{"comment":"` + strings.Repeat("c", 1025) + `","patch":[{"op":"replace","path":"/name","value":"x"}]}`, "comment"},
				{"[" + strings.Repeat(`{"op":"test","path":"/key","value":"patchme"},`, 100) + `{"op":"replace","path":"/name","value":"x"}]`, "at most 100"},
			} {
				st, body, _ := e.do(t, http.MethodPatch, path, c.body)
				wantError(t, c.body, st, body, http.StatusBadRequest, c.msg)
			}
			unchanged(t, "malformed patches")
		})
		t.Run("no-op patch keeps the version", func(t *testing.T) {
			got := patchOK(t, `[{"op":"replace","path":"/name","value":"Renamed"}]`)
			if d := cmp.Diff(cur(), got); d != "" {
				t.Errorf("a patch that changes nothing returned (-want +got):\n%s", d)
			}
			unchanged(t, "a patch that changes nothing")
		})
		t.Run("versions", func(t *testing.T) {
			if len(versions) != 7 {
				t.Fatalf("%d versions recorded, want 7 (earlier subtests failed)", len(versions))
			}
			api := e.api(t)
			for i, v := range versions {
				id := v["_versionId"].(string)
				rep, resp, err := api.MetricsApi.GetMetric(ctx, "default", "patchme").VersionId(id).Execute()
				if err != nil {
					t.Errorf("version %d: %v (status %d)", i+1, err, status(resp))
					continue
				}
				if rep.Version == nil || int(*rep.Version) != i+1 {
					t.Errorf("version %d: _version %v", i+1, rep.Version)
				}
				if d := cmp.Diff(v, obj(t, rawBody(t, resp))); d != "" {
					t.Errorf("GET ?versionId of version %d (-when written +now):\n%s", i+1, d)
				}
			}
			if d := cmp.Diff(cur(), e.getMetric(t, "default", "patchme", "")); d != "" {
				t.Errorf("current version (-want +got):\n%s", d)
			}
			_, resp, err := api.MetricsApi.GetMetric(ctx, "default", "patchme").VersionId(uuid.NewString()).Execute()
			clientError(t, "unknown versionId", resp, err, http.StatusNotFound)

			other := e.createMetric(t, "default", `{"key":"other-metric","kind":"custom","eventKey":"e"}`)
			_, resp, err = api.MetricsApi.GetMetric(ctx, "default", "patchme").VersionId(other["_versionId"].(string)).Execute()
			clientError(t, "versionId of another metric", resp, err, http.StatusNotFound)
		})
	})
}

func TestMetricPatchConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		const n = 8
		path := metricPath("default", "contended")
		e.createMetric(t, "default", `{"key":"contended","kind":"custom","eventKey":"e"}`)

		run := func(body func(i int) string) []raceResult {
			return e.race(t, context.Background(), n, http.MethodPatch, path, body)
		}

		t.Run("guarded by test of _version", func(t *testing.T) {
			results := run(func(i int) string {
				return fmt.Sprintf(`[{"op":"test","path":"/_version","value":1},{"op":"replace","path":"/description","value":"writer %d"}]`, i)
			})
			winner := soleWinner(t, results)
			got := e.getMetric(t, "default", "contended", "")
			if got["_version"] != 2.0 || got["description"] != fmt.Sprintf("writer %d", winner) {
				t.Errorf("final _version %v description %v, want 2 and %q", got["_version"], got["description"], fmt.Sprintf("writer %d", winner))
			}
		})
		t.Run("blind writes", func(t *testing.T) {
			before := e.getMetric(t, "default", "contended", "")["_version"].(float64)
			results := run(func(i int) string {
				return fmt.Sprintf(`[{"op":"replace","path":"/name","value":"blind %d"}]`, i)
			})
			var ok []int // writers that got 200
			for i, r := range results {
				switch {
				case r.err != nil:
					t.Errorf("writer %d: %v", i, r.err)
				case r.status == http.StatusOK:
					ok = append(ok, i)
				default:
					wantError(t, fmt.Sprintf("writer %d", i), r.status, r.body, http.StatusConflict)
				}
			}
			if len(ok) == 0 {
				t.Fatalf("no writer succeeded")
			}
			t.Run("no lost update", func(t *testing.T) {
				got := e.getMetric(t, "default", "contended", "")
				if want := before + float64(len(ok)); got["_version"] != want {
					t.Errorf("final _version %v after %d successful writes from version %v, want %v", got["_version"], len(ok), before, want)
				}
			})
			t.Run("each response is the version it wrote", func(t *testing.T) {
				seen := map[float64]int{} // version -> writer
				for _, i := range ok {
					rep := obj(t, results[i].body)
					v := rep["_version"].(float64)
					if j, dup := seen[v]; dup {
						t.Errorf("writers %d and %d were both answered with version %v", j, i, v)
					}
					seen[v] = i
					if want := fmt.Sprintf("blind %d", i); rep["name"] != want {
						t.Errorf("writer %d was answered with version %v named %v, want its own name %q", i, v, rep["name"], want)
					}
					if v <= before || v > before+float64(len(ok)) {
						t.Errorf("writer %d was answered with version %v, want one in (%v, %v]", i, v, before, before+float64(len(ok)))
					}
				}
			})
		})
	})
}

func TestMetricArchive(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		path := metricPath("default", "arch")
		e.createMetric(t, "default", `{"key":"arch","kind":"custom","eventKey":"e"}`)
		patch := func(t *testing.T, body string) map[string]any {
			t.Helper()
			st, b, _ := e.do(t, http.MethodPatch, path, body)
			if st != http.StatusOK {
				t.Fatalf("PATCH %s: %d %s", body, st, b)
			}
			return obj(t, b)
		}
		modified := func(rep map[string]any) float64 {
			d, _ := time.Parse(time.RFC3339Nano, rep["lastModified"].(map[string]any)["date"].(string))
			return float64(d.UnixMilli())
		}
		archived := patch(t, `[{"op":"replace","path":"/archived","value":true}]`)
		if archived["archived"] != true || archived["archivedAt"] != modified(archived) || archived["_version"] != 2.0 {
			t.Errorf("after archiving: archived %v archivedAt %v lastModified %v _version %v", archived["archived"], archived["archivedAt"], modified(archived), archived["_version"])
		}
		time.Sleep(2 * time.Millisecond)
		edited := patch(t, `[{"op":"replace","path":"/description","value":"still archived"}]`)
		if edited["archived"] != true || edited["archivedAt"] != archived["archivedAt"] {
			t.Errorf("editing an archived metric: archived %v archivedAt %v, want true and %v", edited["archived"], edited["archivedAt"], archived["archivedAt"])
		}
		restored := patch(t, `[{"op":"replace","path":"/archived","value":false}]`)
		if _, ok := restored["archivedAt"]; ok || restored["archived"] != false || restored["_version"] != 4.0 {
			t.Errorf("after restoring: archived %v archivedAt %v _version %v", restored["archived"], restored["archivedAt"], restored["_version"])
		}
		if d := cmp.Diff(archived, e.getMetric(t, "default", "arch", "versionId="+archived["_versionId"].(string))); d != "" {
			t.Errorf("archived version (-when written +now):\n%s", d)
		}
		born := e.createMetric(t, "default", `{"key":"born-archived","kind":"custom","eventKey":"e","archived":true}`)
		if born["archived"] != true || born["archivedAt"] != born["_creationDate"] {
			t.Errorf("created archived: archived %v archivedAt %v _creationDate %v", born["archived"], born["archivedAt"], born["_creationDate"])
		}
	})
}

func TestMetricCreateBoundaries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		key256 := strings.Repeat("k", 256)
		for _, c := range []struct{ name, body, key, want string }{
			{"256-character key", `{"key":"` + key256 + `","kind":"custom","eventKey":"e"}`, key256, ``},
			{"key with dots, underscores and dashes", `{"key":"A.b_c-9","kind":"custom","eventKey":"e"}`, "A.b_c-9", ``},
			{"256-character name", `{"key":"long-name","kind":"custom","eventKey":"e","name":"` + strings.Repeat("n", 256) + `"}`, "long-name",
				`{"name":"` + strings.Repeat("n", 256) + `"}`},
			{"4096-character description", `{"key":"long-description","kind":"custom","eventKey":"e","description":"` + strings.Repeat("d", 4096) + `"}`, "long-description",
				`{"description":"` + strings.Repeat("d", 4096) + `"}`},
			{"64-character tag", `{"key":"long-tag","kind":"custom","eventKey":"e","tags":["` + strings.Repeat("t", 64) + `","a:b.c_d-e"]}`, "long-tag",
				`{"tags":["` + strings.Repeat("t", 64) + `","a:b.c_d-e"]}`},
			{"blank name", `{"key":"blank-name","kind":"custom","eventKey":"e","name":"   "}`, "blank-name", ``},
			{"unicode name", `{"key":"unicode","kind":"custom","eventKey":"e","name":"Métrique ✓ <b>&</b>"}`, "unicode", `{"name":"Métrique ✓ <b>&</b>"}`},
			{"percentile 0", `{"key":"p0","kind":"custom","eventKey":"e","isNumeric":true,"successCriteria":"LowerThanBaseline","analysisType":"percentile","percentileValue":0}`, "p0",
				`{"isNumeric":true,"successCriteria":"LowerThanBaseline","analysisType":"percentile","percentileValue":0}`},
			{"percentile 100", `{"key":"p100","kind":"custom","eventKey":"e","isNumeric":true,"successCriteria":"LowerThanBaseline","analysisType":"percentile","percentileValue":100}`, "p100",
				`{"isNumeric":true,"successCriteria":"LowerThanBaseline","analysisType":"percentile","percentileValue":100}`},
			{"explicit defaults", `{"key":"defaults","kind":"custom","eventKey":"e","tags":null,"randomizationUnits":[],"unitAggregationType":"average","analysisType":"mean","archived":false,"dataSource":{}}`, "defaults", ``},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := time.Now()
				got := e.createMetric(t, "default", c.body)
				checkVolatile(t, got, before)
				want := expectMetric(t, e, "default", c.key, `{"eventKey":"e"}`)
				if c.want != "" {
					for k, v := range jsonValue(t, c.want).(map[string]any) {
						want[k] = v
					}
				}
				if d := cmp.Diff(want, without(got, volatileMetricFields...)); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
				if d := cmp.Diff(got, e.getMetric(t, "default", c.key, "")); d != "" {
					t.Errorf("GET (-201 +GET):\n%s", d)
				}
			})
		}
		st, body, _ := e.do(t, http.MethodPost, "/api/v2/metrics/default", `{"key":"tag65","kind":"custom","eventKey":"e","tags":["`+strings.Repeat("t", 65)+`"]}`)
		wantError(t, "65-character tag", st, body, http.StatusBadRequest, "tags[0]")

		t.Run("patch copies are bounded", func(t *testing.T) {
			long := strings.Repeat("d", 4096)
			e.createMetric(t, "default", `{"key":"copier","kind":"custom","eventKey":"e","description":"`+long+`"}`)
			copies := func(n int) string {
				ops := make([]string, n)
				for i := range ops {
					ops[i] = `{"op":"copy","from":"/description","path":"/category"}`
				}
				return "[" + strings.Join(ops, ",") + "]"
			}
			st, body, _ := e.do(t, http.MethodPatch, metricPath("default", "copier"), copies(17))
			wantError(t, "17 copies of 4 KiB", st, body, http.StatusBadRequest, "copy")
			if got := e.getMetric(t, "default", "copier", ""); got["_version"] != 1.0 {
				t.Errorf("_version %v after a refused patch", got["_version"])
			}
			st, body, _ = e.do(t, http.MethodPatch, metricPath("default", "copier"), copies(14))
			if st != http.StatusOK {
				t.Fatalf("14 copies of 4 KiB: %d %s", st, body)
			}
			if got := obj(t, body); got["category"] != long || got["_version"] != 2.0 {
				t.Errorf("after copies: category of %d bytes, _version %v", len(fmt.Sprint(got["category"])), got["_version"])
			}
		})
	})
}

func TestMetricCreateConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		const n = 8
		before := e.metricCount(t, "default")
		create := func(body func(i int) string) []int {
			statuses := make([]int, n)
			start := make(chan struct{})
			done := make(chan struct{})
			for i := range n {
				go func() {
					defer func() { done <- struct{}{} }()
					<-start
					st, b, _, err := e.send(t, context.Background(), http.MethodPost, "/api/v2/metrics/default", body(i))
					if err != nil {
						t.Errorf("writer %d: %v", i, err)
						return
					}
					if st != http.StatusCreated {
						wantError(t, fmt.Sprintf("writer %d", i), st, b, http.StatusConflict, "same-key")
					}
					statuses[i] = st
				}()
			}
			close(start)
			for range n {
				<-done
			}
			return statuses
		}
		statuses := create(func(i int) string {
			return fmt.Sprintf(`{"key":"same-key","kind":"custom","eventKey":"writer-%d"}`, i)
		})
		created := 0
		for _, st := range statuses {
			if st == http.StatusCreated {
				created++
			}
		}
		if created != 1 {
			t.Errorf("%d creates of one key succeeded, want 1 (statuses %v)", created, statuses)
		}
		create(func(i int) string { return fmt.Sprintf(`{"key":"key-%d","kind":"custom","eventKey":"e"}`, i) })
		if got := e.metricCount(t, "default"); got != before+1+n {
			t.Errorf("totalCount %d, want %d", got, before+1+n)
		}
	})
}
