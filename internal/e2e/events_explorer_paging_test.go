package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/testdb"
)

// TestExplorerPaging pages the explorer's lists through the REST API:
// limit and offset, totals, _links to follow, and refused bounds.
func TestExplorerPaging(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		for i := 1; i <= 5; i++ {
			e.createMetric(t, "default", fmt.Sprintf(`{"key":"s%d","kind":"custom","eventKey":"never-%d"}`, i, i))
		}
		prod, _, err := e.client.EnvironmentsApi.GetEnvironment(context.Background(), "default", "production").Execute()
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}
		for _, k := range []string{"k1", "k2", "k3"} {
			if st, body := e.postEvents(t, "/bulk", customEvents(k, 2), "Authorization: "+prod.ApiKey); st != 202 {
				t.Fatalf("post %s: %d %s", k, st, body)
			}
		}
		base := "/api/v2/projects/default/environments/production"
		keysOf := func(items any) []string {
			var out []string
			for _, it := range items.([]any) {
				out = append(out, it.(map[string]any)["key"].(string))
			}
			return out
		}
		link := func(r map[string]any, rel string) string {
			l, ok := r["_links"].(map[string]any)[rel].(map[string]any)
			if !ok {
				return ""
			}
			return l["href"].(string)
		}
		// Follows next from the first page of limit 2.
		var seen []string
		path := base + "/event-keys?limit=2"
		for pages := 0; path != ""; pages++ {
			if pages > 3 {
				t.Fatalf("event keys: more pages than keys")
			}
			r := e.getJSON(t, path)
			if r["totalCount"] != 3.0 || len(r["items"].([]any)) > 2 {
				t.Fatalf("GET %s: %v", path, r)
			}
			if pages > 0 && link(r, "prev") == "" {
				t.Errorf("GET %s: no prev link: %v", path, r["_links"])
			}
			seen = append(seen, keysOf(r["items"])...)
			path = link(r, "next")
		}
		slices.Sort(seen)
		if d := cmp.Diff([]string{"k1", "k2", "k3"}, seen); d != "" {
			t.Errorf("event keys over the pages (-want +got):\n%s", d)
		}

		h := e.getJSON(t, base+"/event-health?limit=2&offset=2")
		if d := cmp.Diff([]string{"s3", "s4"}, keysOf(h["metricsWithoutEvents"])); d != "" {
			t.Errorf("metricsWithoutEvents page (-want +got):\n%s", d)
		}
		if n := len(h["unusedEventKeys"].([]any)); n != 1 || len(h["numericMetricsWithoutValues"].([]any)) != 0 {
			t.Errorf("health page: %v", h)
		}
		want := map[string]any{"metricsWithoutEvents": 5.0, "numericMetricsWithoutValues": 0.0, "unusedEventKeys": 3.0}
		if d := cmp.Diff(want, h["totalCounts"]); d != "" {
			t.Errorf("totalCounts (-want +got):\n%s", d)
		}
		next, err := url.Parse(link(h, "next"))
		if err != nil || next.Query().Get("offset") != "4" || next.Query().Get("limit") != "2" || link(h, "prev") == "" {
			t.Errorf("health links: %v", h["_links"])
		}
		h = e.getJSON(t, link(h, "next"))
		if d := cmp.Diff([]string{"s5"}, keysOf(h["metricsWithoutEvents"])); d != "" || link(h, "next") != "" {
			t.Errorf("last health page (-want +got):\n%s\nlinks %v", d, h["_links"])
		}

		for _, q := range []string{"/event-keys?limit=0", "/event-keys?limit=101", "/event-keys?offset=-1", "/event-health?limit=x", "/event-health?offset=1000000001"} {
			st, body, _ := e.doUndoc(t, "GET", base+q, "")
			var er map[string]any
			if st != 400 || json.Unmarshal(body, &er) != nil || er["code"] != "invalid_request" || !strings.Contains(er["message"].(string), "limit") && !strings.Contains(er["message"].(string), "offset") {
				t.Errorf("GET %s: %d %s, want 400 invalid_request", q, st, body)
			}
		}
	})
}
