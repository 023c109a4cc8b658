package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// FuzzHandler sends arbitrary requests through the whole API on SQLite and,
// when METRICSD_TEST_POSTGRES is set, on PostgreSQL too: no input may
// produce a 5xx, every error must be LaunchDarkly's error JSON, and both
// stores must answer every request with the same status.
//
//	go test -run=^$ -fuzz=FuzzHandler -fuzztime=60s ./internal/api/
func FuzzHandler(f *testing.F) {
	ctx := context.Background()
	backends := []string{"sqlite"}
	if os.Getenv(testdb.EnvPostgres) != "" {
		backends = append(backends, "postgres")
	}
	var servers []*api.Server
	for _, name := range backends {
		db, err := store.Open(ctx, testdb.New(f, name).URL)
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { db.Close() })
		cat := catalog.New(db)
		if _, err := cat.Auth.Bootstrap(ctx, benchToken); err != nil {
			f.Fatal(err)
		}
		// Rate limits off: the fuzzer sends far more than a window holds.
		servers = append(servers, api.New(cat, api.Options{RateLimits: &ratelimit.Config{}}))
	}
	methods := []string{"GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"}
	seeds := []struct {
		method     uint8
		path, body string
	}{
		{1, "/api/v2/metrics/default", `{"key":"m1","kind":"custom","eventKey":"e"}`},
		{1, "/api/v2/metrics/default", `{"key":"p1","kind":"pageview","urls":[{"kind":"regex","pattern":"(a"}]}`},
		{0, "/api/v2/metrics/default?filter=tags%20contains%20%5B%22a%22%5D&sort=-name&limit=5", ""},
		{0, "/api/v2/metrics/default?filter=query%20equals%20'x'%20and%20isNumeric%20equals%20true&expand=experimentCount", ""},
		{2, "/api/v2/metrics/default/m1", `[{"op":"test","path":"/_version","value":1},{"op":"replace","path":"/name","value":"n"}]`},
		{2, "/api/v2/metrics/default/m1", `{"comment":"c","patch":[{"op":"copy","from":"/tags","path":"/tags/-"}]}`},
		{0, "/api/v2/metrics/default/m1?expand=experiments,metricGroups&versionId=x", ""},
		{3, "/api/v2/metrics/default/m1", ""},
		{1, "/api/v2/projects", `{"key":"p","name":"P","environments":[{"key":"e","name":"E","color":"ffffff"}]}`},
		{1, "/api/v2/projects/default/metric-groups", `{"name":"G","kind":"funnel","metrics":[{"key":"m1","nameInGroup":"a"},{"key":"m2","nameInGroup":"b"}]}`},
		{0, "/api/v2/projects/default/metric-groups?sort=-connectionCount,name&filter=experimentStatus%20equals%20started", ""},
		{1, "/api/v2/members", `[{"email":"a@example.com","role":"writer"}]`},
		{1, "/api/v2/teams", `{"key":"t","name":"T","memberIDs":[]}`},
		{2, "/api/v2/teams/t", `{"instructions":[{"kind":"updateName","value":"N"}]}`},
		{0, "/api/v2/members?filter=query:a,role:admin&sort=-displayName", ""},
		{4, "/api/v2/metrics/default/%ff", "\x00"},
		// Text no store can hold: U+0000 and invalid UTF-8 in bodies, paths
		// and query parameters.
		{1, "/api/v2/metrics/default", `{"key":"n1","kind":"custom","eventKey":"e","name":"a\u0000"}`},
		{1, "/api/v2/metrics/default", `{"key":"n2","kind":"custom","eventKey":"e","dataSource":{"key":"\u0000"}}`},
		{1, "/api/v2/metrics/default", "{\"key\":\"n3\",\"kind\":\"custom\",\"eventKey\":\"e\",\"name\":\"\xff\"}"},
		{1, "/api/v2/metrics/default", `{"key":"n4","kind":"custom","eventKey":"e","na\u0000me":"x"}`},
		{2, "/api/v2/metrics/default/m1", `[{"op":"replace","path":"/name","value":"\u0000"}]`},
		{2, "/api/v2/metrics/default/m1", "[{\"op\":\"replace\",\"path\":\"/tags\",\"value\":[\"\xff\"]}]"},
		{0, "/api/v2/metrics/%00", ""},
		{0, "/api/v2/metrics/default/m1%00", ""},
		{3, "/api/v2/teams/%ff", ""},
		{0, "/api/v2/metrics/default?filter=query%20equals%20%22a%00%22", ""},
		{0, "/api/v2/metrics/default?filter=query%20equals%20%22a%5Cu0000%22", ""},
		{0, "/api/v2/metrics/default?filter=query%20equals%20%FF", ""},
		{0, "/api/v2/metrics/default/m1?versionId=%00", ""},
		{0, "/api/v2/members?filter=query:%00", ""},
		{0, "/api/v2/teams?filter=query:%FF&limit=1", ""},
		{1, "/api/v2/members", `[{"email":"b@example.com","firstName":"\u0000"}]`},
		{1, "/api/v2/teams", `{"key":"t2","name":"\u0000"}`},
		{1, "/api/v2/projects", `{"key":"p2","name":"P","environments":[{"key":"e","name":"\u0000","color":"ffffff"}]}`},
		{1, "/api/v2/projects/default/metric-groups", `{"name":"\u0000","kind":"standard","metrics":[{"key":"m1"},{"key":"m2"}]}`},
		// Read-only fields below the top level.
		{1, "/api/v2/metrics/default", `{"key":"r1","kind":"custom","eventKey":"e","dataSource":{"key":"launchdarkly","_name":"spoofed"}}`},
		{2, "/api/v2/metrics/default/m1", `[{"op":"add","path":"/dataSource/_name","value":"spoofed"}]`},
		{2, "/api/v2/metrics/default/m1", `[{"op":"remove","path":"/dataSource/_name"}]`},
		// Paging and paths.
		{0, "/api/v2/metrics/default?limit=50&offset=9223372036854775807", ""},
		{0, "//api/v2/metrics/default", ""},
		{0, "/api/v2/../v2/metrics/default", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body), true)
	}
	f.Fuzz(func(t *testing.T, method uint8, path string, body []byte, beta bool) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		statuses := make([]int, len(servers))
		for i, srv := range servers {
			r, err := http.NewRequest(methods[int(method)%len(methods)], "http://metricsd"+path, strings.NewReader(string(body)))
			if err != nil {
				return
			}
			r.Header.Set("Authorization", benchToken)
			r.Header.Set("Content-Type", "application/json")
			if beta {
				r.Header.Set("LD-API-Version", "beta")
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			statuses[i] = w.Code
			if w.Code >= 300 && w.Code < 400 {
				t.Fatalf("%s: %s %s: redirect %d to %q", backends[i], r.Method, path, w.Code, w.Header().Get("Location"))
			}
			if w.Code >= 500 {
				t.Fatalf("%s: %s %s %q: status %d: %s", backends[i], r.Method, path, body, w.Code, w.Body.String())
			}
			if w.Code >= 400 {
				var e struct{ Code, Message, ID string }
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" || e.ID == "" {
					t.Fatalf("%s: %s %s: status %d with a body that is not LaunchDarkly error JSON: %q", backends[i], r.Method, path, w.Code, w.Body.String())
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Fatalf("%s: %s %s: status %d with Content-Type %q", backends[i], r.Method, path, w.Code, ct)
				}
			}
		}
		for i := 1; i < len(statuses); i++ {
			if statuses[i] != statuses[0] {
				t.Fatalf("%s %q: status %d on %s but %d on %s", path, body, statuses[0], backends[0], statuses[i], backends[i])
			}
		}
	})
}
