package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

var (
	sdkKey    = regexp.MustCompile(`^sdk-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	mobileKey = regexp.MustCompile(`^mob-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// stripProject checks the generated fields of a project representation
// (IDs, SDK and mobile keys, all distinct) and returns it without them.
// Its environments are an array (create) or an Environments object (expand).
func stripProject(t testing.TB, rep map[string]any, seen map[string]bool) map[string]any {
	t.Helper()
	out := without(rep, "_id")
	checkUnique := func(what string, v any, re *regexp.Regexp) {
		s, _ := v.(string)
		if !re.MatchString(s) {
			t.Errorf("%s %#v does not match %s", what, v, re)
		}
		if seen[s] {
			t.Errorf("%s %q is not unique", what, s)
		}
		seen[s] = true
	}
	checkUnique("project _id", rep["_id"], objectID)
	var items []any
	switch envs := rep["environments"].(type) {
	case nil:
	case []any:
		items = envs
	case map[string]any:
		items, _ = envs["items"].([]any)
	default:
		t.Fatalf("environments %#v", envs)
	}
	stripped := make([]any, 0, len(items))
	for _, it := range items {
		env := it.(map[string]any)
		checkUnique("environment _id", env["_id"], objectID)
		checkUnique("apiKey", env["apiKey"], sdkKey)
		checkUnique("mobileKey", env["mobileKey"], mobileKey)
		stripped = append(stripped, without(env, "_id", "apiKey", "mobileKey"))
	}
	switch envs := rep["environments"].(type) {
	case []any:
		out["environments"] = stripped
	case map[string]any:
		m := without(envs)
		m["items"] = stripped
		out["environments"] = m
	}
	return out
}

// envJSON is the representation of an environment without generated fields.
func envJSON(project, key, name, color string, critical bool, extra string) string {
	s := fmt.Sprintf(`{"_links": {"project": {"href": "/api/v2/projects/%[1]s", "type": "application/json"},
		"self": {"href": "/api/v2/projects/%[1]s/environments/%[2]s", "type": "application/json"}},
		"key": %[2]q, "name": %[3]q, "color": %[4]q, "critical": %[5]v,
		"defaultTtl": 0, "secureMode": false, "defaultTrackEvents": false, "requireComments": false, "confirmChanges": false, "tags": []`,
		project, key, name, color, critical)
	if extra != "" {
		s += ", " + extra
	}
	return s + "}"
}

func projectJSON(key, name string, rest string) string {
	return fmt.Sprintf(`{"_links": {
		"self": {"href": "/api/v2/projects/%[1]s", "type": "application/json"},
		"environments": {"href": "/api/v2/projects/%[1]s/environments", "type": "application/json"},
		"metrics": {"href": "/api/v2/metrics/%[1]s", "type": "application/json"}},
		"key": %[1]q, "name": %[2]q, %[3]s}`, key, name, rest)
}

func TestProjects(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		seen := map[string]bool{}
		created := map[string]map[string]any{} // raw 201 representations

		create := func(t *testing.T, post ldapi.ProjectPost) map[string]any {
			t.Helper()
			rep, resp, err := e.api(t).ProjectsApi.PostProject(ctx).ProjectPost(post).Execute()
			if err != nil {
				t.Fatalf("PostProject %s: %v (status %d)", post.Key, err, status(resp))
			}
			if resp.StatusCode != http.StatusCreated || rep.Key != post.Key {
				t.Errorf("PostProject %s: status %d key %q", post.Key, resp.StatusCode, rep.Key)
			}
			raw := obj(t, rawBody(t, resp))
			created[post.Key] = raw
			time.Sleep(2 * time.Millisecond) // distinct creation times order the list
			return raw
		}

		defaultEnvs := func(project string) string {
			return "[" + envJSON(project, "production", "Production", "417505", true, "") + "," +
				envJSON(project, "test", "Test", "F5A623", false, "") + "]"
		}
		stagedEnvs := []ldapi.EnvironmentPost{
			{Key: "staging", Name: "Staging", Color: "00ff00", DefaultTtl: ptr(int32(5)), SecureMode: ptr(true), DefaultTrackEvents: ptr(true),
				ConfirmChanges: ptr(true), RequireComments: ptr(true), Tags: []string{"eu", "eu", "tier:1"}, Critical: ptr(true)},
			{Key: "dev", Name: " Dev ", Color: "ABCDEF"},
			{Key: "qa", Name: "QA", Color: "123456"},
			{Key: "perf", Name: "Perf", Color: "654321"},
			{Key: "canary", Name: "Canary", Color: "0a0B0c"},
		}
		stagedEnvsJSON := "[" + strings.Join([]string{
			envJSON("beta", "staging", "Staging", "00ff00", true, `"defaultTtl": 5, "secureMode": true, "defaultTrackEvents": true, "confirmChanges": true, "requireComments": true, "tags": ["eu", "tier:1"]`),
			envJSON("beta", "dev", "Dev", "ABCDEF", false, ""),
			envJSON("beta", "qa", "QA", "123456", false, ""),
			envJSON("beta", "perf", "Perf", "654321", false, ""),
			envJSON("beta", "canary", "Canary", "0a0B0c", false, ""),
		}, ",") + "]"

		t.Run("create with default environments", func(t *testing.T) {
			raw := create(t, ldapi.ProjectPost{Key: "alpha", Name: "Alpha", Tags: []string{"team:growth", "ops", "team:growth"}})
			want := projectJSON("alpha", "Alpha", `"tags": ["team:growth", "ops"], "includeInSnippetByDefault": false,
				"defaultClientSideAvailability": {"usingMobileKey": true, "usingEnvironmentId": false},
				"environments": `+defaultEnvs("alpha"))
			diffJSON(t, "201 representation", want, stripProject(t, raw, seen))
		})
		t.Run("create with environments", func(t *testing.T) {
			raw := create(t, ldapi.ProjectPost{Key: "beta", Name: " Beta ", IncludeInSnippetByDefault: ptr(true), Environments: stagedEnvs})
			want := projectJSON("beta", "Beta", `"tags": [], "includeInSnippetByDefault": true,
				"defaultClientSideAvailability": {"usingMobileKey": true, "usingEnvironmentId": true},
				"environments": `+stagedEnvsJSON)
			diffJSON(t, "201 representation", want, stripProject(t, raw, seen))
		})
		t.Run("create with client-side availability", func(t *testing.T) {
			raw := create(t, ldapi.ProjectPost{Key: "gamma.v2", Name: "Gamma", IncludeInSnippetByDefault: ptr(true),
				DefaultClientSideAvailability: &ldapi.DefaultClientSideAvailabilityPost{UsingEnvironmentId: false, UsingMobileKey: false},
				NamingConvention:              &ldapi.NamingConvention{Case: ptr("kebabCase"), Prefix: ptr("g-")},
				Environments:                  []ldapi.EnvironmentPost{{Key: "only", Name: "Only", Color: "000000"}}})
			want := projectJSON("gamma.v2", "Gamma", `"tags": [], "includeInSnippetByDefault": true,
				"defaultClientSideAvailability": {"usingMobileKey": false, "usingEnvironmentId": false},
				"environments": [`+envJSON("gamma.v2", "only", "Only", "000000", false, "")+`]`)
			diffJSON(t, "201 representation", want, stripProject(t, raw, seen))
		})
		if len(created) != 3 {
			t.Fatalf("creates failed")
		}

		api := e.client
		t.Run("get", func(t *testing.T) {
			for key, raw := range created {
				p, resp, err := e.api(t).ProjectsApi.GetProject(ctx, key).Execute()
				if err != nil {
					t.Fatalf("GetProject %s: %v (status %d)", key, err, status(resp))
				}
				if p.Environments != nil {
					t.Errorf("%s: environments without expand", key)
				}
				if d := cmp.Diff(without(raw, "environments"), obj(t, rawBody(t, resp))); d != "" {
					t.Errorf("GET %s differs from the 201 representation (-201 +GET):\n%s", key, d)
				}
			}
			_, resp, err := api.ProjectsApi.GetProject(ctx, "nope").Execute()
			clientError(t, "unknown project", resp, err, http.StatusNotFound, `"nope"`)
			_, resp, err = api.ProjectsApi.GetProject(ctx, "alpha").Expand("bogus").Execute()
			clientError(t, "expand=bogus", resp, err, http.StatusBadRequest, "expand")
		})
		t.Run("get with environments", func(t *testing.T) {
			p, resp, err := e.api(t).ProjectsApi.GetProject(ctx, "alpha").Expand("environments").Execute()
			if err != nil {
				t.Fatalf("GetProject: %v (status %d)", err, status(resp))
			}
			if p.Environments == nil || len(p.Environments.Items) != 2 {
				t.Errorf("client model environments %#v", p.Environments)
			}
			got := obj(t, rawBody(t, resp))
			want := without(created["alpha"])
			want["environments"] = map[string]any{
				"_links":     map[string]any{"self": map[string]any{"href": "/api/v2/projects/alpha/environments", "type": "application/json"}},
				"totalCount": 2.0,
				"items":      created["alpha"]["environments"],
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
		t.Run("environments", func(t *testing.T) {
			api := e.api(t)
			for key, raw := range created {
				envs, resp, err := api.EnvironmentsApi.GetEnvironmentsByProject(ctx, key).Execute()
				if err != nil {
					t.Fatalf("GetEnvironmentsByProject %s: %v (status %d)", key, err, status(resp))
				}
				items := raw["environments"].([]any)
				if envs.TotalCount == nil || int(*envs.TotalCount) != len(items) {
					t.Errorf("%s: totalCount %v, want %d", key, envs.TotalCount, len(items))
				}
				got := obj(t, rawBody(t, resp))
				if key != "beta" { // beta's order is checked below
					want := map[string]any{
						"_links": map[string]any{
							"self":  map[string]any{"href": "/api/v2/projects/" + key + "/environments?limit=20&offset=0", "type": "application/json"},
							"first": map[string]any{"href": "/api/v2/projects/" + key + "/environments?limit=20&offset=0", "type": "application/json"},
							"last":  map[string]any{"href": "/api/v2/projects/" + key + "/environments?limit=20&offset=0", "type": "application/json"},
						},
						"totalCount": float64(len(items)),
						"items":      items,
					}
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("%s environments (-want +got):\n%s", key, d)
					}
				}
				for _, it := range items {
					env := it.(map[string]any)
					ek := env["key"].(string)
					_, resp, err := api.EnvironmentsApi.GetEnvironment(ctx, key, ek).Execute()
					if err != nil {
						t.Errorf("GetEnvironment %s/%s: %v (status %d)", key, ek, err, status(resp))
						continue
					}
					if d := cmp.Diff(env, obj(t, rawBody(t, resp))); d != "" {
						t.Errorf("GET environment %s/%s (-201 +GET):\n%s", key, ek, d)
					}
				}
			}
			_, resp, err := api.EnvironmentsApi.GetEnvironment(ctx, "alpha", "staging").Execute()
			clientError(t, "unknown environment", resp, err, http.StatusNotFound, `"staging"`)
			_, resp, err = api.EnvironmentsApi.GetEnvironment(ctx, "nope", "production").Execute()
			clientError(t, "environment of an unknown project", resp, err, http.StatusNotFound, `"nope"`)
			_, resp, err = api.EnvironmentsApi.GetEnvironmentsByProject(ctx, "nope").Execute()
			clientError(t, "environments of an unknown project", resp, err, http.StatusNotFound, `"nope"`)
		})
		t.Run("environments keep creation order", func(t *testing.T) {
			want := make([]string, 0, len(stagedEnvs))
			for _, env := range stagedEnvs {
				want = append(want, env.Key)
			}
			envs, resp, err := e.api(t).EnvironmentsApi.GetEnvironmentsByProject(ctx, "beta").Execute()
			if err != nil {
				t.Fatalf("GetEnvironmentsByProject: %v (status %d)", err, status(resp))
			}
			var got []string
			for _, env := range envs.Items {
				got = append(got, env.Key)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("GET environments order (-created +listed):\n%s", d)
			}
			p, resp, err := e.api(t).ProjectsApi.GetProject(ctx, "beta").Expand("environments").Execute()
			if err != nil {
				t.Fatalf("GetProject: %v (status %d)", err, status(resp))
			}
			got = got[:0]
			for _, env := range p.Environments.Items {
				got = append(got, env.Key)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("expand=environments order (-created +listed):\n%s", d)
			}
		})
		t.Run("list", func(t *testing.T) {
			api := e.api(t)
			all := []string{"default", "alpha", "beta", "gamma.v2"}
			keys := func(ps *ldapi.Projects) []string {
				out := []string{}
				for _, p := range ps.Items {
					out = append(out, p.Key)
				}
				return out
			}
			ps, resp, err := api.ProjectsApi.GetProjects(ctx).Execute()
			if err != nil {
				t.Fatalf("GetProjects: %v (status %d)", err, status(resp))
			}
			raw := obj(t, rawBody(t, resp))
			if d := cmp.Diff(all, keys(ps)); d != "" {
				t.Errorf("keys (-want +got):\n%s", d)
			}
			if raw["totalCount"] != 4.0 {
				t.Errorf("totalCount %v, want 4", raw["totalCount"])
			}
			for _, it := range raw["items"].([]any) {
				item := it.(map[string]any)
				if c, ok := created[item["key"].(string)]; ok {
					if d := cmp.Diff(without(c, "environments"), item); d != "" {
						t.Errorf("item %v (-201 +item):\n%s", item["key"], d)
					}
				}
			}
			want := map[string]url.Values{"self": page(20, 0), "first": page(20, 0), "last": page(20, 0)}
			if d := cmp.Diff(want, linkQueries(t, raw, "/api/v2/projects")); d != "" {
				t.Errorf("_links (-want +got):\n%s", d)
			}

			ps, resp, err = api.ProjectsApi.GetProjects(ctx).Limit(2).Offset(1).Expand("environments").Execute()
			if err != nil {
				t.Fatalf("GetProjects: %v (status %d)", err, status(resp))
			}
			raw = obj(t, rawBody(t, resp))
			if d := cmp.Diff(all[1:3], keys(ps)); d != "" {
				t.Errorf("limit=2&offset=1 keys (-want +got):\n%s", d)
			}
			x := []string{"expand", "environments"}
			want = map[string]url.Values{"self": page(2, 1, x...), "first": page(2, 0, x...), "prev": page(2, 0, x...), "next": page(2, 3, x...), "last": page(2, 2, x...)}
			if d := cmp.Diff(want, linkQueries(t, raw, "/api/v2/projects")); d != "" {
				t.Errorf("_links (-want +got):\n%s", d)
			}
			for _, p := range ps.Items {
				if p.Environments == nil || int(*p.Environments.TotalCount) != len(created[p.Key]["environments"].([]any)) {
					t.Errorf("%s: expanded environments %#v", p.Key, p.Environments)
				}
			}
			for _, q := range []string{"limit=0", "limit=1001", "limit=x", "offset=-1", "expand=bogus"} {
				st, body, _ := e.do(t, http.MethodGet, "/api/v2/projects?"+q, "")
				field, _, _ := strings.Cut(q, "=")
				wantError(t, q, st, body, http.StatusBadRequest, field)
			}
		})
		t.Run("duplicate", func(t *testing.T) {
			for _, key := range []string{"alpha", "default"} {
				_, resp, err := e.api(t).ProjectsApi.PostProject(ctx).ProjectPost(ldapi.ProjectPost{Key: key, Name: "Again"}).Execute()
				clientError(t, "duplicate "+key, resp, err, http.StatusConflict, key)
			}
			p, _, err := e.api(t).ProjectsApi.GetProject(ctx, "alpha").Execute()
			if err != nil || p.Name != "Alpha" {
				t.Errorf("alpha after a conflicting create: %v %v", p, err)
			}
		})
		t.Run("invalid", func(t *testing.T) {
			before := projectCount(t, e)
			for _, c := range []struct{ body, msg string }{
				{`{"key":"bad key","name":"Bad"}`, "key"},
				{`{"key":"-bad","name":"Bad"}`, "key"},
				{`{"name":"Bad"}`, "key"},
				{`{"key":"` + strings.Repeat("k", 257) + `","name":"Bad"}`, "key"},
				{`{"key":"bad-1"}`, "name"},
				{`{"key":"bad-2","name":"   "}`, "name"},
				{`{"key":"bad-3","name":"` + strings.Repeat("n", 257) + `"}`, "name"},
				{`{"key":"bad-4","name":"Bad","tags":["has space"]}`, "tags[0]"},
				{`{"key":"bad-5","name":"Bad","environments":[{"key":"e","name":"E","color":"green"}]}`, "environments[0].color"},
				{`{"key":"bad-6","name":"Bad","environments":[{"key":"e","name":"E","color":"00000"}]}`, "environments[0].color"},
				{`{"key":"bad-7","name":"Bad","environments":[{"name":"E","color":"000000"}]}`, "environments[0].key"},
				{`{"key":"bad-8","name":"Bad","environments":[{"key":"e","name":"E","color":"000000"},{"key":"e","name":"F","color":"000000"}]}`, "environments[1].key"},
				{`{"key":"bad-9","name":"Bad","environments":[{"key":"e","name":"E","color":"000000","defaultTtl":61}]}`, "environments[0].defaultTtl"},
				{`{"key":"bad-10","name":"Bad","environments":[{"key":"e","color":"000000"}]}`, "environments[0].name"},
				{`{"key":"bad-11","name":"Bad","environments":[{"key":"e","name":"E","color":"000000","tags":["a b"]}]}`, "environments[0].tags[0]"},
				{`{"key":"bad-12","name":"Bad","environments":[{"key":"e","name":"E","color":"000000","source":{"key":"x"}}]}`, "source"},
				{`{"key":"bad-13","name":"Bad","namingConvention":{"case":"shouting"}}`, "namingConvention.case"},
				{`{"key":"bad-14","name":"Bad","colour":"red"}`, "colour"},
				{`{"key":"bad-15","name":"Bad","tags":"a"}`, "tags"},
				{`{"key":"bad-16","name":"Bad"`, "JSON"},
				{`{"key":"bad-17","name":"Bad"} []`, "single JSON value"},
			} {
				st, body, _ := e.do(t, http.MethodPost, "/api/v2/projects", c.body)
				wantError(t, c.body, st, body, http.StatusBadRequest, c.msg)
			}
			if n := projectCount(t, e); n != before {
				t.Errorf("totalCount %d after rejected creates, want %d", n, before)
			}
		})
		t.Run("delete", func(t *testing.T) {
			api := e.api(t)
			before := projectCount(t, e)
			oldID := created["gamma.v2"]["_id"]
			resp, err := api.ProjectsApi.DeleteProject(ctx, "gamma.v2").Execute()
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DeleteProject: %v (status %d)", err, status(resp))
			}
			_, resp, err = api.ProjectsApi.GetProject(ctx, "gamma.v2").Execute()
			clientError(t, "get deleted", resp, err, http.StatusNotFound, "gamma.v2")
			_, resp, err = api.EnvironmentsApi.GetEnvironmentsByProject(ctx, "gamma.v2").Execute()
			clientError(t, "environments of deleted", resp, err, http.StatusNotFound)
			_, resp, err = api.EnvironmentsApi.GetEnvironment(ctx, "gamma.v2", "only").Execute()
			clientError(t, "environment of deleted", resp, err, http.StatusNotFound)
			resp, err = api.ProjectsApi.DeleteProject(ctx, "gamma.v2").Execute()
			clientError(t, "delete again", resp, err, http.StatusNotFound)
			if n := projectCount(t, e); n != before-1 {
				t.Errorf("totalCount %d after delete, want %d", n, before-1)
			}
			again := create(t, ldapi.ProjectPost{Key: "gamma.v2", Name: "Gamma again"})
			if again["_id"] == oldID {
				t.Errorf("re-created project has the old _id")
			}
			if envs := again["environments"].([]any); len(envs) != 2 {
				t.Errorf("re-created project has %d environments, want the 2 defaults", len(envs))
			}
		})
	})
}

func projectCount(t testing.TB, e *env) int {
	t.Helper()
	st, body, _ := e.do(t, http.MethodGet, "/api/v2/projects?limit=1", "")
	if st != http.StatusOK {
		t.Fatalf("list projects: %d %s", st, body)
	}
	return int(obj(t, body)["totalCount"].(float64))
}
