package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// listMetric is one metric of the listing fixture.
type listMetric struct {
	key, name, kind string
	tags            []string
	numeric         bool
	agg             string
}

// listFixture is 25 metrics whose properties follow simple rules of their
// index, so that each filter's result can be computed independently.
func listFixture() []listMetric {
	var out []listMetric
	for i := range 25 {
		m := listMetric{key: fmt.Sprintf("metric-%02d", i), kind: "custom", agg: "average"}
		if i%5 == 0 {
			m.key = fmt.Sprintf("checkout-%02d", i)
		}
		if i == 7 {
			m.key = "snake_case_07"
		}
		// Distinct first letters put name order far from creation order;
		// odd indexes start with a capital letter.
		letter := string(rune('a' + i*7%25))
		if i%2 == 1 {
			letter = strings.ToUpper(letter)
		}
		m.name = fmt.Sprintf("%s metric %02d", letter, i)
		switch i {
		case 3:
			m.name = letter + " start CHECKOUT flow"
		case 11:
			m.name = letter + " 100% done"
		}
		switch {
		case i%7 == 2:
			m.kind = "pageview"
		case i%7 == 4:
			m.kind = "click"
		case i == 13:
			m.kind = "trace"
		}
		m.numeric = m.kind == "custom" && i%3 == 0
		if i%4 == 0 {
			m.agg = "sum"
		}
		m.tags = []string{}
		if i%2 == 0 {
			m.tags = append(m.tags, "a")
		}
		if i%3 == 0 {
			m.tags = append(m.tags, "b")
		}
		if i%5 == 0 {
			m.tags = append(m.tags, "c")
		}
		out = append(out, m)
	}
	return out
}

func (m listMetric) body() string {
	b := map[string]any{"key": m.key, "name": m.name, "kind": m.kind, "tags": m.tags, "unitAggregationType": m.agg}
	switch m.kind {
	case "pageview":
		b["urls"] = []any{map[string]any{"kind": "substring", "substring": "/" + m.key}}
	case "click":
		b["urls"] = []any{map[string]any{"kind": "substring", "substring": "/" + m.key}}
		b["selector"] = "#" + m.key
	case "trace":
		b["traceQuery"] = "span.name = " + m.key
	case "custom":
		b["eventKey"] = "event-" + m.key
	}
	if m.numeric {
		b["isNumeric"] = true
		b["successCriteria"] = "HigherThanBaseline"
	}
	out, err := json.Marshal(b)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// keysWhere lists, in creation order, the keys of the fixture's metrics for
// which pred holds.
func keysWhere(fx []listMetric, pred func(i int, m listMetric) bool) []string {
	keys := []string{}
	for i, m := range fx {
		if pred(i, m) {
			keys = append(keys, m.key)
		}
	}
	return keys
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// itemKeys returns the keys of a collection's items.
func itemKeys(t testing.TB, coll map[string]any) []string {
	t.Helper()
	items, ok := coll["items"].([]any)
	if !ok {
		t.Fatalf("collection without items: %v", coll)
	}
	keys := []string{}
	for _, it := range items {
		keys = append(keys, it.(map[string]any)["key"].(string))
	}
	return keys
}

// linkQueries checks that every link of a collection points at path with
// type application/json and returns each link's query.
func linkQueries(t testing.TB, coll map[string]any, path string) map[string]url.Values {
	t.Helper()
	links, ok := coll["_links"].(map[string]any)
	if !ok {
		t.Fatalf("collection without _links: %v", coll)
	}
	out := map[string]url.Values{}
	for rel, l := range links {
		lm := l.(map[string]any)
		if lm["type"] != "application/json" {
			t.Errorf("link %s type %v", rel, lm["type"])
		}
		u, err := url.Parse(lm["href"].(string))
		if err != nil || u.Path != path {
			t.Errorf("link %s href %v: want path %s", rel, lm["href"], path)
			continue
		}
		out[rel] = u.Query()
	}
	return out
}

// page builds the expected query of a page link.
func page(limit, offset int, extra ...string) url.Values {
	q := url.Values{"limit": {fmt.Sprint(limit)}, "offset": {fmt.Sprint(offset)}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

func TestMetricList(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		const project = "listing"
		if _, resp, err := e.client.ProjectsApi.PostProject(ctx).ProjectPost(ldapi.ProjectPost{Key: project, Name: "Listing"}).Execute(); err != nil {
			t.Fatalf("create project: %v (status %d)", err, status(resp))
		}
		fx := listFixture()
		reps := map[string]map[string]any{}
		for _, m := range fx {
			reps[m.key] = e.createMetric(t, project, m.body())
			// Distinct creation times make createdAt order the creation order.
			time.Sleep(2 * time.Millisecond)
		}
		all := keysWhere(fx, func(int, listMetric) bool { return true })
		listPath := "/api/v2/metrics/" + project

		// list runs GetMetrics through the generated client and returns the
		// raw collection.
		list := func(t *testing.T, configure func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest) map[string]any {
			t.Helper()
			req := e.api(t).MetricsApi.GetMetrics(ctx, project)
			if configure != nil {
				req = configure(req)
			}
			coll, resp, err := req.Execute()
			if err != nil {
				t.Fatalf("GetMetrics: %v (status %d)", err, status(resp))
			}
			raw := obj(t, rawBody(t, resp))
			if coll.TotalCount == nil || int(*coll.TotalCount) != int(raw["totalCount"].(float64)) || len(coll.Items) != len(raw["items"].([]any)) {
				t.Errorf("client model disagrees with the body: totalCount %v, %d items", coll.TotalCount, len(coll.Items))
			}
			return raw
		}
		wantPage := func(t *testing.T, coll map[string]any, wantKeys []string, total int) {
			t.Helper()
			if d := cmp.Diff(wantKeys, itemKeys(t, coll)); d != "" {
				t.Errorf("keys (-want +got):\n%s", d)
			}
			if coll["totalCount"] != float64(total) {
				t.Errorf("totalCount %v, want %d", coll["totalCount"], total)
			}
		}

		t.Run("items are the metric representations", func(t *testing.T) {
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest { return r.Limit(50) })
			for _, it := range coll["items"].([]any) {
				item := it.(map[string]any)
				if item["metricGroupCount"] != 0.0 {
					t.Errorf("%v: metricGroupCount %v, want 0", item["key"], item["metricGroupCount"])
				}
				if _, ok := item["experimentCount"]; ok {
					t.Errorf("%v: experimentCount present without expand", item["key"])
				}
				if d := cmp.Diff(reps[item["key"].(string)], without(item, "metricGroupCount")); d != "" {
					t.Errorf("item %v differs from its 201 representation (-201 +item):\n%s", item["key"], d)
				}
			}
		})
		t.Run("default page", func(t *testing.T) {
			coll := list(t, nil)
			wantPage(t, coll, all[:20], 25)
			want := map[string]url.Values{"self": page(20, 0), "first": page(20, 0), "next": page(20, 20), "last": page(20, 20)}
			if d := cmp.Diff(want, linkQueries(t, coll, listPath)); d != "" {
				t.Errorf("_links (-want +got):\n%s", d)
			}
		})
		t.Run("middle page", func(t *testing.T) {
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest { return r.Limit(10).Offset(10) })
			wantPage(t, coll, all[10:20], 25)
			want := map[string]url.Values{"self": page(10, 10), "first": page(10, 0), "prev": page(10, 0), "next": page(10, 20), "last": page(10, 20)}
			if d := cmp.Diff(want, linkQueries(t, coll, listPath)); d != "" {
				t.Errorf("_links (-want +got):\n%s", d)
			}
		})
		t.Run("last page", func(t *testing.T) {
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest { return r.Limit(10).Offset(20) })
			wantPage(t, coll, all[20:], 25)
			want := map[string]url.Values{"self": page(10, 20), "first": page(10, 0), "prev": page(10, 10), "last": page(10, 20)}
			if d := cmp.Diff(want, linkQueries(t, coll, listPath)); d != "" {
				t.Errorf("_links (-want +got):\n%s", d)
			}
		})
		t.Run("one page holds all", func(t *testing.T) {
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest { return r.Limit(50) })
			wantPage(t, coll, all, 25)
			want := map[string]url.Values{"self": page(50, 0), "first": page(50, 0), "last": page(50, 0)}
			if d := cmp.Diff(want, linkQueries(t, coll, listPath)); d != "" {
				t.Errorf("_links (-want +got):\n%s", d)
			}
		})
		t.Run("offset past the end", func(t *testing.T) {
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest { return r.Offset(25) })
			wantPage(t, coll, []string{}, 25)
		})
		t.Run("links keep filter and sort", func(t *testing.T) {
			const f = "eventKind equals custom"
			custom := keysWhere(fx, func(_ int, m listMetric) bool { return m.kind == "custom" })
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest {
				return r.Filter(f).Sort("createdAt").Limit(5).Offset(5)
			})
			wantPage(t, coll, custom[5:10], len(custom))
			x := []string{"filter", f, "sort", "createdAt"}
			last := (len(custom) - 1) / 5 * 5
			want := map[string]url.Values{
				"self": page(5, 5, x...), "first": page(5, 0, x...), "prev": page(5, 0, x...),
				"next": page(5, 10, x...), "last": page(5, last, x...),
			}
			if d := cmp.Diff(want, linkQueries(t, coll, listPath)); d != "" {
				t.Errorf("_links (-want +got):\n%s", d)
			}
			// Following next gives the next page.
			next := coll["_links"].(map[string]any)["next"].(map[string]any)["href"].(string)
			st, body, _ := e.do(t, http.MethodGet, next, "")
			if st != http.StatusOK {
				t.Fatalf("GET next %s: %d %s", next, st, body)
			}
			wantPage(t, obj(t, body), custom[10:min(15, len(custom))], len(custom))
		})
		t.Run("bad paging", func(t *testing.T) {
			for _, q := range []string{"limit=0", "limit=51", "limit=-1", "limit=abc", "limit=", "offset=-1", "offset=abc", "limit=1.5"} {
				st, body, _ := e.doUndoc(t, http.MethodGet, listPath+"?"+q, "")
				if q == "limit=" {
					// An empty value is no value.
					if st != http.StatusOK {
						t.Errorf("%s: status %d: %s", q, st, body)
					}
					continue
				}
				field, _, _ := strings.Cut(q, "=")
				wantError(t, q, st, body, http.StatusBadRequest, field)
			}
		})
		t.Run("sort", func(t *testing.T) {
			byName := slices.Clone(fx)
			sort.Slice(byName, func(i, j int) bool { return strings.ToLower(byName[i].name) < strings.ToLower(byName[j].name) })
			nameOrder := keysWhere(byName, func(int, listMetric) bool { return true })
			for _, c := range []struct {
				sort string
				want []string
			}{
				{"name", nameOrder},
				{"-name", reversed(nameOrder)},
				{"createdAt", all},
				{"-createdAt", reversed(all)},
			} {
				coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest { return r.Sort(c.sort).Limit(50) })
				if d := cmp.Diff(c.want, itemKeys(t, coll)); d != "" {
					t.Errorf("sort=%s (-want +got):\n%s", c.sort, d)
				}
			}
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest {
				return r.Sort("-name").Limit(3).Offset(3)
			})
			wantPage(t, coll, reversed(nameOrder)[3:6], 25)
			for _, s := range []string{"bogus", "-bogus", "key", "name,bogus"} {
				_, resp, err := e.api(t).MetricsApi.GetMetrics(allowUndocumented(ctx), project).Sort(s).Execute()
				clientError(t, "sort="+s, resp, err, http.StatusBadRequest, "sort")
			}
		})
		t.Run("filters", func(t *testing.T) {
			owner := e.ownerID
			for _, c := range []struct {
				filter string
				want   []string
			}{
				{`tags contains ["a","b"]`, keysWhere(fx, func(i int, _ listMetric) bool { return i%6 == 0 })},
				{`tags contains "c"`, keysWhere(fx, func(i int, _ listMetric) bool { return i%5 == 0 })},
				{`tags contains []`, all},
				{`tags contains ["a","b","c"]`, keysWhere(fx, func(i int, _ listMetric) bool { return i%30 == 0 })},
				{`tags contains ["nope"]`, []string{}},
				{`query equals 'CHECKOUT'`, keysWhere(fx, func(_ int, m listMetric) bool {
					return containsFold(m.key, "checkout") || containsFold(m.name, "checkout")
				})},
				{`query equals "Metric 1"`, keysWhere(fx, func(_ int, m listMetric) bool {
					return containsFold(m.key, "metric 1") || containsFold(m.name, "metric 1")
				})},
				{`query equals ["checkout-0","SNAKE"]`, keysWhere(fx, func(_ int, m listMetric) bool {
					return containsFold(m.key, "checkout-0") || containsFold(m.key, "snake")
				})},
				{`query equals '_'`, keysWhere(fx, func(_ int, m listMetric) bool { return containsFold(m.key, "_") || containsFold(m.name, "_") })},
				{`query equals '%'`, keysWhere(fx, func(_ int, m listMetric) bool { return containsFold(m.key, "%") || containsFold(m.name, "%") })},
				{`query equals 'metric-1'`, keysWhere(fx, func(_ int, m listMetric) bool {
					return containsFold(m.key, "metric-1") || containsFold(m.name, "metric-1")
				})},
				{`eventKind equals custom`, keysWhere(fx, func(_ int, m listMetric) bool { return m.kind == "custom" })},
				{`eventKind equals pageview`, keysWhere(fx, func(_ int, m listMetric) bool { return m.kind == "pageview" })},
				{`eventKind equals click`, keysWhere(fx, func(_ int, m listMetric) bool { return m.kind == "click" })},
				{`eventKind equals trace`, []string{fx[13].key}},
				{`isNumeric equals true`, keysWhere(fx, func(_ int, m listMetric) bool { return m.numeric })},
				{`isNumeric equals false`, keysWhere(fx, func(_ int, m listMetric) bool { return !m.numeric })},
				{`unitAggregationType equals sum`, keysWhere(fx, func(_ int, m listMetric) bool { return m.agg == "sum" })},
				{`unitAggregationType equals average`, keysWhere(fx, func(_ int, m listMetric) bool { return m.agg == "average" })},
				{`maintainerIds anyOf ["` + owner + `"]`, all},
				{`maintainerIds anyOf ["000000000000000000000000","` + owner + `"]`, all},
				{`maintainerIds anyOf ["000000000000000000000000"]`, []string{}},
				{`dataSourceKeys anyOf ["launchdarkly"]`, all},
				{`hasConnections equals false`, all},
				{`hasConnections equals true`, []string{}},
				{`metricUsedIn equals none`, all},
				{`metricUsedIn equals any`, []string{}},
				{`tags contains ["a"] and eventKind equals custom`, keysWhere(fx, func(i int, m listMetric) bool { return i%2 == 0 && m.kind == "custom" })},
				{`tags contains ["a"], isNumeric equals true`, keysWhere(fx, func(i int, m listMetric) bool { return i%2 == 0 && m.numeric })},
				{`tags contains ["a"] AND query equals 'checkout', unitAggregationType equals sum`, keysWhere(fx, func(i int, m listMetric) bool {
					return i%2 == 0 && (containsFold(m.key, "checkout") || containsFold(m.name, "checkout")) && m.agg == "sum"
				})},
				{`query equals 'checkout' and query equals '05'`, []string{"checkout-05"}},
				{"  isNumeric   equals\ttrue  ", keysWhere(fx, func(_ int, m listMetric) bool { return m.numeric })},
			} {
				coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest { return r.Filter(c.filter).Limit(50) })
				if d := cmp.Diff(c.want, itemKeys(t, coll)); d != "" {
					t.Errorf("filter %s (-want +got):\n%s", c.filter, d)
				}
				if coll["totalCount"] != float64(len(c.want)) {
					t.Errorf("filter %s: totalCount %v, want %d", c.filter, coll["totalCount"], len(c.want))
				}
			}
			// Paging applies after filtering.
			custom := keysWhere(fx, func(_ int, m listMetric) bool { return m.kind == "custom" })
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest {
				return r.Filter("eventKind equals custom").Sort("-createdAt").Limit(4).Offset(2)
			})
			wantPage(t, coll, reversed(custom)[2:6], len(custom))
		})
		t.Run("bad filters", func(t *testing.T) {
			for _, f := range []string{
				`tags contains`,
				`bogus equals 1`,
				`tags equals ["a"]`,
				`isNumeric equals maybe`,
				`eventKind equals foo`,
				`query equals 'unterminated`,
				`tags contains ["a",]`,
				`tags contains [["a"]]`,
				`unitAggregationType equals median`,
				`tags contains ["a"] or eventKind equals custom`,
				`tags contains ["a"] and`,
				`, tags contains ["a"]`,
				`isNumeric equals [true]`,
				`tags contains [true]`,
				`query equals "bad \q escape"`,
				`1tags contains "a"`,
				`eventKind equals custom and eventKind equals click`,
				`isNumeric equals true, isNumeric equals false`,
				`maintainerIds anyOf ["x"] and maintainerIds anyOf ["y"]`,
			} {
				_, resp, err := e.api(t).MetricsApi.GetMetrics(allowUndocumented(ctx), project).Filter(f).Execute()
				clientError(t, "filter "+f, resp, err, http.StatusBadRequest, "position")
			}
		})
		t.Run("expand experimentCount", func(t *testing.T) {
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest {
				return r.Expand("experimentCount").Limit(50)
			})
			for _, it := range coll["items"].([]any) {
				item := it.(map[string]any)
				if item["experimentCount"] != 0.0 {
					t.Errorf("%v: experimentCount %v, want 0", item["key"], item["experimentCount"])
				}
				if d := cmp.Diff(reps[item["key"].(string)], without(item, "metricGroupCount", "experimentCount")); d != "" {
					t.Errorf("expanded item %v differs from its 201 representation (-201 +item):\n%s", item["key"], d)
				}
			}
			for _, x := range []string{"bogus", "experiments", "experimentCount,bogus"} {
				_, resp, err := e.api(t).MetricsApi.GetMetrics(allowUndocumented(ctx), project).Expand(x).Execute()
				clientError(t, "expand="+x, resp, err, http.StatusBadRequest, "expand")
			}
		})
		t.Run("changes show in lists", func(t *testing.T) {
			key := fx[1].key // untagged, conversion, average
			st, body, _ := e.do(t, http.MethodPatch, metricPath(project, key), `[{"op":"replace","path":"/name","value":"Zebra crossing"},{"op":"add","path":"/tags/-","value":"fresh"},{"op":"replace","path":"/unitAggregationType","value":"sum"}]`)
			if st != http.StatusOK {
				t.Fatalf("patch: %d %s", st, body)
			}
			for _, f := range []string{`query equals 'zebra'`, `tags contains ["fresh"]`, `tags contains ["fresh"] and unitAggregationType equals sum`} {
				coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest { return r.Filter(f) })
				if d := cmp.Diff([]string{key}, itemKeys(t, coll)); d != "" {
					t.Errorf("filter %s after patch (-want +got):\n%s", f, d)
				}
			}
			coll := list(t, func(r ldapi.ApiGetMetricsRequest) ldapi.ApiGetMetricsRequest { return r.Sort("-name").Limit(1) })
			if d := cmp.Diff([]string{key}, itemKeys(t, coll)); d != "" {
				t.Errorf("sort=-name after rename (-want +got):\n%s", d)
			}
		})
	})
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestMetricGetExpand(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		created := e.createMetric(t, "default", `{"key":"expandable","kind":"custom","eventKey":"e"}`)
		expandable := []string{"experiments", "experimentCount", "metricGroups", "metricGroupCount", "eventSources",
			"guardedRollouts", "guardedRolloutCount", "lastUsedInExperiment", "lastUsedInGuardedRollout"}
		for _, f := range expandable {
			if _, ok := created[f]; ok {
				t.Errorf("%s present without expand", f)
			}
		}
		empty := map[string]any{
			"experiments": []any{}, "experimentCount": 0.0, "metricGroups": []any{}, "metricGroupCount": 0.0,
			"eventSources": []any{}, "guardedRollouts": []any{}, "guardedRolloutCount": 0.0,
		}
		for _, expand := range []string{
			"experiments", "experimentCount", "metricGroups", "metricGroupCount", "eventSources",
			"guardedRollouts", "guardedRolloutCount", "lastUsedInExperiment", "lastUsedInGuardedRollout",
			"experiments,metricGroupCount", " experimentCount , guardedRollouts ", strings.Join(expandable, ","), "",
		} {
			t.Run("expand="+expand, func(t *testing.T) {
				rep, resp, err := e.api(t).MetricsApi.GetMetric(ctx, "default", "expandable").Expand(expand).Execute()
				if err != nil {
					t.Fatalf("GetMetric: %v (status %d)", err, status(resp))
				}
				got := obj(t, rawBody(t, resp))
				want := without(created)
				for part := range strings.SplitSeq(expand, ",") {
					if v, ok := empty[strings.TrimSpace(part)]; ok {
						want[strings.TrimSpace(part)] = v
					}
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
				if strings.Contains(expand, "experiments") && (rep.Experiments == nil || len(rep.Experiments) != 0) {
					t.Errorf("client model experiments %#v, want empty", rep.Experiments)
				}
			})
		}
		t.Run("bad expand", func(t *testing.T) {
			for _, x := range []string{"bogus", "experiments,bogus", "Experiments", "attachedFeatures"} {
				_, resp, err := e.api(t).MetricsApi.GetMetric(allowUndocumented(ctx), "default", "expandable").Expand(x).Execute()
				clientError(t, "expand="+x, resp, err, http.StatusBadRequest, "expand")
			}
		})
	})
}

func TestMetricDelete(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		api := e.client
		old := e.createMetric(t, "default", `{"key":"doomed","kind":"custom","eventKey":"e"}`)
		e.createMetric(t, "default", `{"key":"survivor","kind":"custom","eventKey":"e"}`)
		count := e.metricCount(t, "default")

		resp, err := api.MetricsApi.DeleteMetric(ctx, "default", "doomed").Execute()
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DeleteMetric: %v (status %d)", err, status(resp))
		}
		_, resp, err = api.MetricsApi.GetMetric(ctx, "default", "doomed").Execute()
		clientError(t, "get deleted", resp, err, http.StatusNotFound, "doomed")
		_, resp, err = api.MetricsApi.GetMetric(ctx, "default", "doomed").VersionId(old["_versionId"].(string)).Execute()
		clientError(t, "get a version of a deleted metric", resp, err, http.StatusNotFound)
		resp, err = api.MetricsApi.DeleteMetric(ctx, "default", "doomed").Execute()
		clientError(t, "delete again", resp, err, http.StatusNotFound, "doomed")
		if n := e.metricCount(t, "default"); n != count-1 {
			t.Errorf("totalCount %d after delete, want %d", n, count-1)
		}
		e.getMetric(t, "default", "survivor", "")

		// The key can be used again, for a new metric.
		again := e.createMetric(t, "default", `{"key":"doomed","kind":"pageview","urls":[{"kind":"substring","substring":"/"}]}`)
		if again["_version"] != 1.0 || again["_id"] == old["_id"] || again["kind"] != "pageview" {
			t.Errorf("re-created metric: _version %v _id %v (old %v) kind %v", again["_version"], again["_id"], old["_id"], again["kind"])
		}

		t.Run("delete project", func(t *testing.T) {
			api := e.api(t)
			if _, resp, err := api.ProjectsApi.PostProject(ctx).ProjectPost(ldapi.ProjectPost{Key: "gone", Name: "Gone"}).Execute(); err != nil {
				t.Fatalf("create project: %v (status %d)", err, status(resp))
			}
			e.createMetric(t, "gone", `{"key":"orphan","kind":"custom","eventKey":"e"}`)
			resp, err := api.ProjectsApi.DeleteProject(ctx, "gone").Execute()
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DeleteProject: %v (status %d)", err, status(resp))
			}
			_, resp, err = api.MetricsApi.GetMetric(ctx, "gone", "orphan").Execute()
			clientError(t, "metric of a deleted project", resp, err, http.StatusNotFound)
			_, resp, err = api.MetricsApi.GetMetrics(ctx, "gone").Execute()
			clientError(t, "metrics of a deleted project", resp, err, http.StatusNotFound)

			// A new project with the same key does not inherit the metrics.
			if _, resp, err := api.ProjectsApi.PostProject(ctx).ProjectPost(ldapi.ProjectPost{Key: "gone", Name: "Gone again"}).Execute(); err != nil {
				t.Fatalf("re-create project: %v (status %d)", err, status(resp))
			}
			if n := e.metricCount(t, "gone"); n != 0 {
				t.Errorf("re-created project has %d metrics, want 0", n)
			}
			_, resp, err = api.MetricsApi.GetMetric(ctx, "gone", "orphan").Execute()
			clientError(t, "metric of a re-created project", resp, err, http.StatusNotFound)
			e.createMetric(t, "gone", `{"key":"orphan","kind":"custom","eventKey":"e"}`)
		})
	})
}
