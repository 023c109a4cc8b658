package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/metricsd/metricsd/internal/testdb"
)

// badText are the two kinds of text no store can hold, as they appear in a
// JSON body (json) and in a URL (url).
var badText = []struct{ name, json, url, msg string }{
	{"NUL", `\u0000`, "%00", "U+0000"},
	{"invalid UTF-8", "\xff", "%FF", "not valid UTF-8"},
}

// storedState is everything a refused request must leave alone.
type storedState struct {
	metrics, groups, teams, members, projects int
	metricVersion, groupVersion, teamVersion  float64
}

func (e *env) storedState(t *testing.T) storedState {
	t.Helper()
	return storedState{
		metrics: e.metricCount(t, "default"), groups: e.mgCount(t, "default"),
		teams: e.teamCount(t), members: e.memberCount(t), projects: projectCount(t, e),
		metricVersion: e.getMetric(t, "default", "base", "")["_version"].(float64),
		groupVersion:  e.mgGet(t, "default", "grp", "")["_version"].(float64),
		teamVersion:   e.getTeam(t, "tm", "")["_version"].(float64),
	}
}

// TestUnstorableText sends U+0000 and invalid UTF-8 in every string field
// of every body, in every filter value, query parameter and path key, on
// both stores: bodies and query parameters get a 400 naming the field or
// parameter, path keys a 404, and nothing is stored. (PostgreSQL used to
// answer 500 for a NUL, SQLite stored it, or matched everything with it.)
func TestUnstorableText(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"base","kind":"custom","eventKey":"e"}`)
		e.createMetric(t, "default", `{"key":"other","kind":"custom","eventKey":"e"}`)
		e.mgCreate(t, "default", `{"key":"grp","name":"G","kind":"standard","metrics":[{"key":"base"},{"key":"other"}]}`)
		if st, body, _ := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"tm","name":"T"}`); st != http.StatusCreated {
			t.Fatalf("create team: %d %s", st, body)
		}
		before := e.storedState(t)

		const metricPost = `{"key":"k1","kind":"custom","eventKey":"e",`
		bodies := []struct {
			method, path string
			body         string // § is replaced by the bad text
			field        string // what the message must name
		}{
			{"POST", "/api/v2/metrics/default", `{"key":"§","kind":"custom","eventKey":"e"}`, "key"},
			{"POST", "/api/v2/metrics/default", `{"key":"k1","kind":"§","eventKey":"e"}`, "kind"},
			{"POST", "/api/v2/metrics/default", metricPost + `"name":"a§"}`, "name"},
			{"POST", "/api/v2/metrics/default", metricPost + `"description":"§"}`, "description"},
			{"POST", "/api/v2/metrics/default", metricPost + `"category":"§"}`, "category"},
			{"POST", "/api/v2/metrics/default", `{"key":"k1","kind":"custom","eventKey":"e§"}`, "eventKey"},
			{"POST", "/api/v2/metrics/default", metricPost + `"maintainerId":"§"}`, "maintainerId"},
			{"POST", "/api/v2/metrics/default", metricPost + `"maintainerTeamKey":"§"}`, "maintainerTeamKey"},
			{"POST", "/api/v2/metrics/default", metricPost + `"isNumeric":true,"unit":"§","successCriteria":"HigherThanBaseline"}`, "unit"},
			{"POST", "/api/v2/metrics/default", metricPost + `"isNumeric":true,"successCriteria":"§"}`, "successCriteria"},
			{"POST", "/api/v2/metrics/default", metricPost + `"selector":"§"}`, "selector"},
			{"POST", "/api/v2/metrics/default", metricPost + `"traceQuery":"§"}`, "traceQuery"},
			{"POST", "/api/v2/metrics/default", metricPost + `"traceValueLocation":"§"}`, "traceValueLocation"},
			{"POST", "/api/v2/metrics/default", metricPost + `"unitAggregationType":"§"}`, "unitAggregationType"},
			{"POST", "/api/v2/metrics/default", metricPost + `"analysisType":"§"}`, "analysisType"},
			{"POST", "/api/v2/metrics/default", metricPost + `"tags":["a","§"]}`, "tags[1]"},
			{"POST", "/api/v2/metrics/default", metricPost + `"randomizationUnits":["§"]}`, "randomizationUnits[0]"},
			{"POST", "/api/v2/metrics/default", `{"key":"k1","kind":"pageview","urls":[{"kind":"exact","url":"https://x.com/§"}]}`, "urls[0].url"},
			{"POST", "/api/v2/metrics/default", `{"key":"k1","kind":"pageview","urls":[{"kind":"§"}]}`, "urls[0].kind"},
			{"POST", "/api/v2/metrics/default", `{"key":"k1","kind":"pageview","urls":[{"kind":"substring","substring":"§"}]}`, "urls[0].substring"},
			{"POST", "/api/v2/metrics/default", `{"key":"k1","kind":"pageview","urls":[{"kind":"regex","pattern":"§"}]}`, "urls[0].pattern"},
			{"POST", "/api/v2/metrics/default", metricPost + `"dataSource":{"key":"§"}}`, "dataSource.key"},
			{"POST", "/api/v2/metrics/default", metricPost + `"dataSource":{"key":"s","environmentKey":"§"}}`, "dataSource.environmentKey"},
			{"POST", "/api/v2/metrics/default", metricPost + `"filters":{"type":"eventProperty","attribute":"§","op":"in","values":["x"]}}`, "filters.attribute"},
			{"POST", "/api/v2/metrics/default", metricPost + `"filters":{"type":"contextAttribute","attribute":"a","contextKind":"§","op":"in","values":["x"]}}`, "filters.contextKind"},
			{"POST", "/api/v2/metrics/default", metricPost + `"filters":{"type":"eventProperty","attribute":"a","op":"§","values":["x"]}}`, "filters.op"},
			{"POST", "/api/v2/metrics/default", metricPost + `"filters":{"type":"eventProperty","attribute":"a","op":"in","values":[1,"§"]}}`, "filters.values[1]"},
			{"POST", "/api/v2/metrics/default", metricPost + `"filters":{"type":"group","op":"and","values":[{"type":"eventProperty","attribute":"§","op":"in","values":["x"]}]}}`, "filters.values[0].attribute"},
			{"POST", "/api/v2/metrics/default", metricPost + `"na§me":"x"}`, "field name"},

			{"PATCH", "/api/v2/metrics/default/base", `[{"op":"replace","path":"/name","value":"§"}]`, "[0].value"},
			{"PATCH", "/api/v2/metrics/default/base", `[{"op":"replace","path":"/description","value":"a§b"}]`, "[0].value"},
			{"PATCH", "/api/v2/metrics/default/base", `[{"op":"add","path":"/tags/-","value":"§"}]`, "[0].value"},
			{"PATCH", "/api/v2/metrics/default/base", `[{"op":"replace","path":"/tags","value":["a","§"]}]`, "[0].value[1]"},
			{"PATCH", "/api/v2/metrics/default/base", `[{"op":"replace","path":"/dataSource/key","value":"§"}]`, "[0].value"},
			{"PATCH", "/api/v2/metrics/default/base", `[{"op":"replace","path":"/dataSource","value":{"key":"§"}}]`, "[0].value.key"},
			{"PATCH", "/api/v2/metrics/default/base", `[{"op":"replace","path":"/na§me","value":"x"}]`, "[0].path"},
			{"PATCH", "/api/v2/metrics/default/base", `[{"op":"§","path":"/name","value":"x"}]`, "[0].op"},
			{"PATCH", "/api/v2/metrics/default/base", `[{"op":"test","path":"/_version","value":"§"}]`, "[0].value"},
			{"PATCH", "/api/v2/metrics/default/base", `{"comment":"§","patch":[{"op":"replace","path":"/name","value":"x"}]}`, "comment"},
			{"PATCH", "/api/v2/metrics/default/base", `{"patch":[{"op":"replace","path":"/name","value":"§"}]}`, "patch[0].value"},

			{"POST", "/api/v2/projects/default/metric-groups", `{"key":"§","name":"G2","kind":"standard","metrics":[{"key":"base"},{"key":"other"}]}`, "key"},
			{"POST", "/api/v2/projects/default/metric-groups", `{"key":"g2","name":"§","kind":"standard","metrics":[{"key":"base"},{"key":"other"}]}`, "name"},
			{"POST", "/api/v2/projects/default/metric-groups", `{"key":"g2","name":"G","kind":"§","metrics":[{"key":"base"},{"key":"other"}]}`, "kind"},
			{"POST", "/api/v2/projects/default/metric-groups", `{"key":"g2","name":"G","kind":"standard","description":"§","metrics":[{"key":"base"},{"key":"other"}]}`, "description"},
			{"POST", "/api/v2/projects/default/metric-groups", `{"key":"g2","name":"G","kind":"standard","tags":["§"],"metrics":[{"key":"base"},{"key":"other"}]}`, "tags[0]"},
			{"POST", "/api/v2/projects/default/metric-groups", `{"key":"g2","name":"G","kind":"standard","maintainerId":"§","metrics":[{"key":"base"},{"key":"other"}]}`, "maintainerId"},
			{"POST", "/api/v2/projects/default/metric-groups", `{"key":"g2","name":"G","kind":"standard","maintainerTeamKey":"§","metrics":[{"key":"base"},{"key":"other"}]}`, "maintainerTeamKey"},
			{"POST", "/api/v2/projects/default/metric-groups", `{"key":"g2","name":"G","kind":"standard","metrics":[{"key":"base"},{"key":"§"}]}`, "metrics[1].key"},
			{"POST", "/api/v2/projects/default/metric-groups", `{"key":"g2","name":"G","kind":"funnel","metrics":[{"key":"base","nameInGroup":"a"},{"key":"other","nameInGroup":"§"}]}`, "metrics[1].nameInGroup"},
			{"PATCH", "/api/v2/projects/default/metric-groups/grp", `[{"op":"replace","path":"/name","value":"§"}]`, "[0].value"},
			{"PATCH", "/api/v2/projects/default/metric-groups/grp", `[{"op":"replace","path":"/metrics/0/key","value":"§"}]`, "[0].value"},

			{"POST", "/api/v2/teams", `{"key":"§","name":"T"}`, "key"},
			{"POST", "/api/v2/teams", `{"key":"t2","name":"§"}`, "name"},
			{"POST", "/api/v2/teams", `{"key":"t2","name":"T","description":"§"}`, "description"},
			{"POST", "/api/v2/teams", `{"key":"t2","name":"T","memberIDs":["§"]}`, "memberIDs[0]"},
			{"POST", "/api/v2/teams", `{"key":"t2","name":"T","customRoleKeys":["§"]}`, "customRoleKeys[0]"},
			{"POST", "/api/v2/teams", `{"key":"t2","name":"T","permissionGrants":[{"actionSet":"§","memberIDs":["x"]}]}`, "permissionGrants[0].actionSet"},
			{"POST", "/api/v2/teams", `{"key":"t2","name":"T","permissionGrants":[{"actionSet":"maintainTeam","memberIDs":["§"]}]}`, "permissionGrants[0].memberIDs[0]"},
			{"POST", "/api/v2/teams", `{"key":"t2","name":"T","permissionGrants":[{"actionSet":"maintainTeam","actions":["§"]}]}`, "permissionGrants[0].actions[0]"},
			{"POST", "/api/v2/teams", `{"key":"t2","name":"T","roleAttributes":{"§":["a"]}}`, "field name in roleAttributes"},
			{"POST", "/api/v2/teams", `{"key":"t2","name":"T","roleAttributes":{"a":["§"]}}`, "roleAttributes.a[0]"},
			{"PATCH", "/api/v2/teams/tm", `{"instructions":[{"kind":"updateName","value":"§"}]}`, "instructions[0].value"},
			{"PATCH", "/api/v2/teams/tm", `{"instructions":[{"kind":"updateDescription","value":"§"}]}`, "instructions[0].value"},
			{"PATCH", "/api/v2/teams/tm", `{"instructions":[{"kind":"addMembers","values":["§"]}]}`, "instructions[0].values[0]"},
			{"PATCH", "/api/v2/teams/tm", `{"comment":"§","instructions":[{"kind":"updateName","value":"N"}]}`, "comment"},

			{"POST", "/api/v2/members", `[{"email":"a§@example.com"}]`, "[0].email"},
			{"POST", "/api/v2/members", `[{"email":"a@example.com","firstName":"§"}]`, "[0].firstName"},
			{"POST", "/api/v2/members", `[{"email":"a@example.com","lastName":"§"}]`, "[0].lastName"},
			{"POST", "/api/v2/members", `[{"email":"a@example.com","role":"§"}]`, "[0].role"},
			{"POST", "/api/v2/members", `[{"email":"a@example.com","teamKeys":["§"]}]`, "[0].teamKeys[0]"},
			{"POST", "/api/v2/members", `[{"email":"a@example.com","password":"§"}]`, "[0].password"},
			{"POST", "/api/v2/members", `[{"email":"a@example.com","customRoles":["§"]}]`, "[0].customRoles[0]"},
			{"POST", "/api/v2/members", `[{"email":"a@example.com"},{"email":"b@example.com","firstName":"§"}]`, "[1].firstName"},

			{"POST", "/api/v2/projects", `{"key":"§","name":"P"}`, "key"},
			{"POST", "/api/v2/projects", `{"key":"p2","name":"§"}`, "name"},
			{"POST", "/api/v2/projects", `{"key":"p2","name":"P","tags":["§"]}`, "tags[0]"},
			{"POST", "/api/v2/projects", `{"key":"p2","name":"P","environments":[{"key":"§","name":"E","color":"ffffff"}]}`, "environments[0].key"},
			{"POST", "/api/v2/projects", `{"key":"p2","name":"P","environments":[{"key":"e","name":"§","color":"ffffff"}]}`, "environments[0].name"},
			{"POST", "/api/v2/projects", `{"key":"p2","name":"P","environments":[{"key":"e","name":"E","color":"§"}]}`, "environments[0].color"},
			{"POST", "/api/v2/projects", `{"key":"p2","name":"P","environments":[{"key":"e","name":"E","color":"ffffff","tags":["§"]}]}`, "environments[0].tags[0]"},
			{"POST", "/api/v2/projects", `{"key":"p2","name":"P","namingConvention":{"prefix":"§"}}`, "namingConvention.prefix"},
		}
		for _, bt := range badText {
			t.Run("bodies with "+bt.name, func(t *testing.T) {
				for _, c := range bodies {
					body := strings.ReplaceAll(c.body, "§", bt.json)
					st, resp, _ := e.doUndoc(t, c.method, c.path, body, betaHeader)
					wantError(t, fmt.Sprintf("%s %s %s", c.method, c.path, c.body), st, resp, http.StatusBadRequest, c.field, bt.msg)
				}
			})
		}

		// Filter values, and every other query parameter.
		queries := []struct{ path, query string }{}
		for _, f := range []string{
			`query equals "a§"`, `query equals ["x","§"]`, "query equals §", `tags contains ["§"]`, "eventKind equals §",
			"isNumeric equals §", "unitAggregationType equals §", `maintainerIds anyOf ["§"]`,
			"maintainerTeamKey equals §", "hasConnections equals §", "metricUsedIn equals §",
			`dataSourceKeys anyOf ["§"]`, "view equals §",
		} {
			queries = append(queries, struct{ path, query string }{"/api/v2/metrics/default", "filter=" + f})
		}
		for _, f := range []string{
			`query equals "§"`, "kind equals §", "hasConnections equals §", "experimentStatus equals §",
			`maintainerIds anyOf ["§"]`, "maintainerTeamKey equals §",
		} {
			queries = append(queries, struct{ path, query string }{"/api/v2/projects/default/metric-groups", "filter=" + f})
		}
		for _, f := range []string{"query:§", "role:§", "id:§", "email:§", "team:§", "noteam:§", "query:a,role:§"} {
			queries = append(queries, struct{ path, query string }{"/api/v2/members", "filter=" + f})
		}
		for _, f := range []string{"query:§", "nomembers:§"} {
			queries = append(queries, struct{ path, query string }{"/api/v2/teams", "filter=" + f})
		}
		for _, p := range []string{"/api/v2/metrics/default", "/api/v2/projects/default/metric-groups", "/api/v2/members", "/api/v2/teams", "/api/v2/projects"} {
			for _, q := range []string{"limit=§", "offset=§", "sort=§", "expand=§", "§=1", "other=§"} {
				queries = append(queries, struct{ path, query string }{p, q})
			}
		}
		for _, q := range []string{"versionId=§", "expand=§"} {
			queries = append(queries, struct{ path, query string }{"/api/v2/metrics/default/base", q})
		}
		for _, bt := range badText {
			t.Run("query parameters with "+bt.name, func(t *testing.T) {
				for _, c := range queries {
					q := strings.ReplaceAll(url.PathEscape(c.query), "%C2%A7", bt.url)
					param, _, _ := strings.Cut(c.query, "=")
					if param == "§" {
						param = "query parameter name"
					}
					st, resp, _ := e.doUndoc(t, http.MethodGet, c.path+"?"+q, "", betaHeader)
					wantError(t, c.path+"?"+c.query, st, resp, http.StatusBadRequest, param)
				}
			})
		}
		// A JSON escape in a double-quoted filter string is refused at its
		// position; on SQLite it used to cut the LIKE pattern and match
		// every metric.
		for _, p := range []string{"/api/v2/metrics/default", "/api/v2/projects/default/metric-groups"} {
			st, resp, _ := e.doUndoc(t, http.MethodGet, p+"?filter="+url.QueryEscape(`query equals "a\u0000"`), "", betaHeader)
			wantError(t, p+` filter query equals "a\u0000"`, st, resp, http.StatusBadRequest, "invalid filter at position 15", "NUL")
		}

		// Path keys: no resource can have such a key.
		paths := []string{
			"/api/v2/metrics/§", "/api/v2/metrics/default/§", "/api/v2/metrics/default/base§",
			"/api/v2/projects/§", "/api/v2/projects/§/environments", "/api/v2/projects/default/environments/§",
			"/api/v2/projects/§/metric-groups", "/api/v2/projects/default/metric-groups/§",
			"/api/v2/members/§", "/api/v2/teams/§", "/api/v2/§",
		}
		for _, bt := range badText {
			t.Run("path keys with "+bt.name, func(t *testing.T) {
				for _, p := range paths {
					path := strings.ReplaceAll(p, "§", bt.url)
					for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete, http.MethodPost} {
						body := ""
						if m == http.MethodPatch || m == http.MethodPost {
							body = `[{"op":"replace","path":"/name","value":"x"}]`
						}
						st, resp, _ := e.doUndoc(t, m, path, body, betaHeader)
						wantError(t, m+" "+path, st, resp, http.StatusNotFound)
					}
				}
			})
		}

		if after := e.storedState(t); after != before {
			t.Errorf("stored state changed by refused requests: before %+v, after %+v", before, after)
		}
	})
}

// TestReadOnlyNestedFields: fields whose names start with "_" are
// read-only at every depth, on create and on patch.
func TestReadOnlyNestedFields(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"m","kind":"custom","eventKey":"e"}`)
		for _, c := range []struct{ body, msg string }{
			{`{"key":"m2","kind":"custom","eventKey":"e","dataSource":{"key":"launchdarkly","_name":"spoofed"}}`, "dataSource._name is read-only"},
			{`{"key":"m2","kind":"custom","eventKey":"e","dataSource":{"key":"s","_integrationKey":"x"}}`, "dataSource._integrationKey is read-only"},
		} {
			st, resp, _ := e.do(t, http.MethodPost, "/api/v2/metrics/default", c.body)
			wantError(t, "POST "+c.body, st, resp, http.StatusBadRequest, c.msg)
		}
		for _, c := range []struct{ patch, msg string }{
			{`[{"op":"add","path":"/dataSource/_name","value":"spoofed"}]`, "dataSource._name is read-only"},
			{`[{"op":"replace","path":"/dataSource/_name","value":"spoofed"}]`, "dataSource._name is read-only"},
			{`[{"op":"add","path":"/dataSource/_integrationKey","value":"x"}]`, "dataSource._integrationKey is read-only"},
			{`[{"op":"remove","path":"/dataSource/_name"}]`, "dataSource._name is read-only"},
			{`[{"op":"replace","path":"/dataSource","value":{"key":"launchdarkly","_name":"spoofed"}}]`, "dataSource._name is read-only"},
			{`{"comment":"c","patch":[{"op":"add","path":"/dataSource/_name","value":"spoofed"}]}`, "dataSource._name is read-only"},
		} {
			st, resp, _ := e.doUndoc(t, http.MethodPatch, "/api/v2/metrics/default/m", c.patch)
			wantError(t, "PATCH "+c.patch, st, resp, http.StatusBadRequest, c.msg)
		}
		got := e.getMetric(t, "default", "m", "")
		if ds := got["dataSource"].(map[string]any); ds["_name"] != "LaunchDarkly" || ds["_integrationKey"] != nil || got["_version"] != 1.0 {
			t.Errorf("metric changed by refused patches: dataSource %v, _version %v", ds, got["_version"])
		}
		if n := e.metricCount(t, "default"); n != 1 {
			t.Errorf("%d metrics after refused creates, want 1", n)
		}
		// Leaving the read-only field as it is, or replacing the source, works.
		for _, patch := range []string{
			`[{"op":"replace","path":"/dataSource/_name","value":"LaunchDarkly"},{"op":"replace","path":"/description","value":"d"}]`,
			`[{"op":"replace","path":"/dataSource","value":{"key":"snowflake"}}]`,
		} {
			if st, resp, _ := e.doUndoc(t, http.MethodPatch, "/api/v2/metrics/default/m", patch); st != http.StatusOK {
				t.Errorf("PATCH %s: %d %s", patch, st, resp)
			}
		}
		if ds := e.getMetric(t, "default", "m", "")["dataSource"]; fmt.Sprint(ds) != "map[key:snowflake]" {
			t.Errorf("dataSource %v after replacing it, want {key: snowflake}", ds)
		}
	})
}

// TestPagingOffsetBounds: an offset past the documented maximum is a 400 on
// every list, and links never carry a negative or overflowed offset.
func TestPagingOffsetBounds(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"m","kind":"custom","eventKey":"e"}`)
		lists := []string{"/api/v2/metrics/default", "/api/v2/projects/default/metric-groups", "/api/v2/members", "/api/v2/teams", "/api/v2/projects"}
		for _, p := range lists {
			for _, off := range []string{"9223372036854775807", "9223372036854775757", "1000000001"} {
				st, resp, _ := e.doUndoc(t, http.MethodGet, p+"?limit=50&offset="+off, "", betaHeader)
				wantError(t, p+" offset "+off, st, resp, http.StatusBadRequest, "offset must be at most 1000000000")
			}
			st, resp, _ := e.doUndoc(t, http.MethodGet, p+"?limit=50&offset=1000000000", "", betaHeader)
			if st != http.StatusOK {
				t.Fatalf("%s at the maximum offset: %d %s", p, st, resp)
			}
			links := obj(t, resp)["_links"].(map[string]any)
			if _, ok := links["next"]; ok {
				t.Errorf("%s at the maximum offset has a next link: %v", p, links["next"])
			}
			for name, l := range links {
				u, err := url.Parse(l.(map[string]any)["href"].(string))
				if err != nil {
					t.Fatalf("%s link %s: %v", p, name, err)
				}
				n, err := strconv.Atoi(u.Query().Get("offset"))
				if err != nil || n < 0 || n > 1000000000 {
					t.Errorf("%s link %s has offset %q", p, name, u.Query().Get("offset"))
				}
			}
			if prev := links["prev"].(map[string]any)["href"].(string); !strings.Contains(prev, "offset=999999950") {
				t.Errorf("%s prev link %s, want offset 999999950", p, prev)
			}
		}
	})
}

// TestNonCanonicalPaths: paths with empty, "." or ".." segments are answered
// with LaunchDarkly error JSON (404), never with ServeMux's HTML redirect.
func TestNonCanonicalPaths(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"m","kind":"custom","eventKey":"e"}`)
		for _, p := range []string{
			"//api/v2/metrics/default", "/./api/v2/metrics/default", "/api/v2/../v2/metrics/default",
			"/api/v2/metrics/default/./m", "/api/v2/metrics//default", "/api/v2/metrics/default/m/..",
			"/api/./v2/projects", "/api/v2/projects/default/.", "/api", "//healthz", "/api/v2/metrics/default/",
		} {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
				for _, auth := range []string{"Authorization: " + testAdminToken, "Authorization:"} {
					st, resp, h := e.doUndoc(t, m, p, "", auth)
					what := fmt.Sprintf("%s %s (%s)", m, p, auth)
					if ct := h.Get("Content-Type"); ct != "application/json" {
						t.Errorf("%s: Content-Type %q", what, ct)
					}
					if h.Get("Location") != "" {
						t.Errorf("%s: redirected to %s", what, h.Get("Location"))
					}
					var body map[string]any
					if err := json.Unmarshal(resp, &body); err != nil || len(body) != 3 {
						t.Errorf("%s: body %q is not LaunchDarkly error JSON", what, resp)
					}
					want := http.StatusNotFound
					if auth == "Authorization:" && p == "/api/v2/metrics/default/" {
						want = http.StatusUnauthorized // canonical, under /api/
					}
					wantError(t, what, st, resp, want)
				}
			}
		}
		if st, resp, _ := e.do(t, http.MethodGet, "/api/v2/metrics/default/m", ""); st != http.StatusOK {
			t.Errorf("canonical path: %d %s", st, resp)
		}
	})
}
