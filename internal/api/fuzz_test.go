package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// FuzzHandler sends arbitrary requests through the whole API on SQLite: no
// input may produce a 5xx, and every error must be LaunchDarkly's error JSON.
//
//	go test -run=^$ -fuzz=FuzzHandler -fuzztime=60s ./internal/api/
func FuzzHandler(f *testing.F) {
	ctx := context.Background()
	db, err := store.Open(ctx, testdb.New(f, "sqlite").URL)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	cat := catalog.New(db)
	if _, err := cat.Bootstrap(ctx, benchToken); err != nil {
		f.Fatal(err)
	}
	srv := api.New(cat, api.Options{})
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
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body), true)
	}
	f.Fuzz(func(t *testing.T, method uint8, path string, body []byte, beta bool) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
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
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", r.Method, path, body, w.Code, w.Body.String())
		}
		if w.Code >= 400 {
			var e struct{ Code, Message, ID string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" || e.ID == "" {
				t.Fatalf("%s %s: status %d with a body that is not LaunchDarkly error JSON: %q", r.Method, path, w.Code, w.Body.String())
			}
		}
	})
}
