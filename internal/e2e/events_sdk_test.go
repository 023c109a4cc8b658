package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	"github.com/launchdarkly/go-sdk-common/v3/ldlog"
	"github.com/launchdarkly/go-sdk-common/v3/ldvalue"
	ld "github.com/launchdarkly/go-server-sdk/v7"
	"github.com/launchdarkly/go-server-sdk/v7/interfaces"
	"github.com/launchdarkly/go-server-sdk/v7/ldcomponents"

	"github.com/metricsd/metricsd/internal/testdb"
)

// newSDKClient returns LaunchDarkly's Go server SDK sending events to e
// with sdkKey, flushing only when told to.
func newSDKClient(t *testing.T, e *env, sdkKey string) *ld.LDClient {
	t.Helper()
	cfg := ld.Config{
		ServiceEndpoints: interfaces.ServiceEndpoints{Streaming: e.base, Polling: e.base, Events: e.base},
		// metricsd serves no flags: the SDK starts without a data source.
		DataSource: ldcomponents.ExternalUpdatesOnly(),
		Events:     ldcomponents.SendEvents().FlushInterval(time.Hour),
		Logging:    ldcomponents.Logging().MinLevel(ldlog.Warn),
	}
	client, err := ld.MakeCustomClient(sdkKey, cfg, 5*time.Second)
	if err != nil {
		t.Fatalf("MakeCustomClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// sdkFlush delivers the SDK's pending events and waits for the answer. The
// SDK drops a flush request while none of its flush workers is ready (as
// just after start), leaving FlushAndWait to time out with the events still
// queued, so a timed-out flush is asked for again.
func sdkFlush(t *testing.T, client *ld.LDClient) {
	t.Helper()
	for range 10 {
		if client.FlushAndWait(time.Second) {
			return
		}
	}
	t.Fatal("FlushAndWait: the events were not delivered")
}

// hourMS is the start of t's hour in epoch milliseconds.
func hourMS(t time.Time) int64 { return t.UTC().Truncate(time.Hour).UnixMilli() }

// getJSON GETs a metricsd extension path (outside the OpenAPI document)
// and decodes the 200 body.
func (e *env) getJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	st, body, _ := e.doUndoc(t, "GET", path, "")
	if st != 200 {
		t.Fatalf("GET %s: status %d: %s", path, st, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return m
}

func rollupsPath(env, kind, key string) string {
	return "/api/v2/projects/default/environments/" + env + "/event-keys/" + kind + "/" + url.PathEscape(key) + "/rollups"
}

// TestGoServerSDKEvents sends custom events with LaunchDarkly's Go server
// SDK and reads what they fed through the REST API: lastSeen, isActive,
// eventSources, hourly rollups and the event explorer.
func TestGoServerSDKEvents(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		e.createMetric(t, "default", `{"key":"signup","kind":"custom","eventKey":"signed-up"}`)
		e.createMetric(t, "default", `{"key":"revenue","kind":"custom","eventKey":"purchase","isNumeric":true,"successCriteria":"HigherThanBaseline","unit":"usd"}`)
		e.createMetric(t, "default", `{"key":"basket","kind":"custom","eventKey":"basket-size","isNumeric":true,"successCriteria":"HigherThanBaseline","unit":"items"}`)
		e.createMetric(t, "default", `{"key":"silent","kind":"custom","eventKey":"never-sent"}`)
		prod, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "production").Execute()
		if err != nil {
			t.Fatalf("GetEnvironment: %v", err)
		}

		before := time.Now()
		client := newSDKClient(t, e, prod.ApiKey)
		alice := ldcontext.New("alice")
		bob := ldcontext.New("bob")
		multi := ldcontext.NewMulti(ldcontext.New("carol"), ldcontext.NewWithKind("org", "acme"))
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(client.TrackEvent("signed-up", alice))
		must(client.TrackData("signed-up", bob, ldvalue.ObjectBuild().Set("plan", ldvalue.String("pro")).Build()))
		must(client.TrackEvent("signed-up", alice))
		must(client.TrackMetric("purchase", alice, 9.5, ldvalue.Null()))
		must(client.TrackMetric("purchase", multi, 20.5, ldvalue.String("order-7")))
		must(client.TrackEvent("basket-size", bob))
		must(client.TrackEvent("nobody-uses-this", bob))
		sdkFlush(t, client)
		after := time.Now()
		hours := []int64{hourMS(before), hourMS(after)}
		inWindow := func(what string, v any) {
			t.Helper()
			f, ok := v.(float64)
			if !ok || !slices.Contains(hours, int64(f)) {
				t.Errorf("%s = %v, want the start of the current hour (%v)", what, v, hours)
			}
		}

		t.Run("lastSeen and isActive", func(t *testing.T) {
			for _, key := range []string{"signup", "revenue", "basket"} {
				m := e.getMetric(t, "default", key, "")
				inWindow(key+" lastSeen", m["lastSeen"])
				if m["isActive"] != true {
					t.Errorf("%s isActive = %v, want true", key, m["isActive"])
				}
			}
			m := e.getMetric(t, "default", "silent", "")
			if _, ok := m["lastSeen"]; ok || m["isActive"] != false {
				t.Errorf("silent metric: lastSeen %v, isActive %v; want none, false", m["lastSeen"], m["isActive"])
			}
			// The generated client reads the same.
			rep, _, err := e.client.MetricsApi.GetMetric(ctx, "default", "signup").Execute()
			if err != nil || rep.LastSeen == nil || !slices.Contains(hours, *rep.LastSeen) {
				t.Errorf("client GetMetric lastSeen = %v, err %v", rep.LastSeen, err)
			}
		})

		t.Run("eventSources", func(t *testing.T) {
			m := e.getMetric(t, "default", "revenue", "expand=eventSources")
			src, _ := m["eventSources"].([]any)
			if len(src) != 1 {
				t.Fatalf("eventSources = %v, want one", m["eventSources"])
			}
			s := src[0].(map[string]any)
			inWindow("firstSeen", s["firstSeen"])
			inWindow("lastSeen", s["lastSeen"])
			delete(s, "firstSeen")
			delete(s, "lastSeen")
			if d := cmp.Diff(map[string]any{"key": "purchase", "kind": "custom", "environmentKey": "production", "volume30Days": 2.0}, s); d != "" {
				t.Errorf("eventSources[0] (-want +got):\n%s", d)
			}
		})

		t.Run("rollups", func(t *testing.T) {
			r := e.getJSON(t, rollupsPath("production", "custom", "purchase"))
			tot := r["totals"].(map[string]any)
			delete(tot, "hour")
			want := map[string]any{"count": 2.0, "valueCount": 2.0, "sum": 30.0, "min": 9.5, "max": 20.5,
				"contexts": map[string]any{"user": 2.0, "org": 1.0}}
			if d := cmp.Diff(want, tot); d != "" {
				t.Errorf("purchase totals (-want +got):\n%s", d)
			}
			r = e.getJSON(t, rollupsPath("production", "custom", "signed-up"))
			tot = r["totals"].(map[string]any)
			if tot["count"] != 3.0 || tot["valueCount"] != 0.0 || cmp.Diff(map[string]any{"user": 2.0}, tot["contexts"]) != "" {
				t.Errorf("signed-up totals = %v, want 3 events of 2 users without values", tot)
			}
			if _, ok := tot["sum"]; ok {
				t.Errorf("signed-up totals have a sum without values: %v", tot)
			}
			// Nothing reached the test environment.
			r = e.getJSON(t, rollupsPath("test", "custom", "purchase"))
			if r["totalCount"] != 0.0 {
				t.Errorf("test environment rollups = %v, want none", r)
			}
		})

		t.Run("explorer", func(t *testing.T) {
			r := e.getJSON(t, "/api/v2/projects/default/environments/production/event-keys")
			got := map[string]map[string]any{}
			for _, it := range r["items"].([]any) {
				m := it.(map[string]any)
				inWindow("lastSeen", m["lastSeen"])
				got[m["key"].(string)] = m
			}
			if r["totalCount"] != 4.0 || len(got) != 4 {
				t.Fatalf("event keys = %v, want 4", r)
			}
			check := func(key string, volume float64, numeric bool, metrics ...string) {
				t.Helper()
				k := got[key]
				var ms []string
				for _, m := range k["metrics"].([]any) {
					ms = append(ms, m.(map[string]any)["key"].(string))
				}
				if k["volume"] != volume || k["numeric"] != numeric || k["kind"] != "custom" || cmp.Diff(metrics, ms) != "" {
					t.Errorf("event key %s = %v; want volume %v numeric %v metrics %v", key, k, volume, numeric, metrics)
				}
			}
			check("signed-up", 3, false, "signup")
			check("purchase", 2, true, "revenue")
			check("basket-size", 1, false, "basket")
			check("nobody-uses-this", 1, false)

			h := e.getJSON(t, "/api/v2/projects/default/environments/production/event-health?days=7")
			keys := func(field string) []string {
				var out []string
				for _, it := range h[field].([]any) {
					out = append(out, it.(map[string]any)["key"].(string))
				}
				return out
			}
			if d := cmp.Diff([]string{"silent"}, keys("metricsWithoutEvents")); d != "" {
				t.Errorf("metricsWithoutEvents (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]string{"basket"}, keys("numericMetricsWithoutValues")); d != "" {
				t.Errorf("numericMetricsWithoutValues (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]string{"nobody-uses-this"}, keys("unusedEventKeys")); d != "" {
				t.Errorf("unusedEventKeys (-want +got):\n%s", d)
			}
			// In the test environment every metric is silent.
			h = e.getJSON(t, "/api/v2/projects/default/environments/test/event-health")
			if d := cmp.Diff([]string{"basket", "revenue", "signup", "silent"}, keys("metricsWithoutEvents")); d != "" {
				t.Errorf("test metricsWithoutEvents (-want +got):\n%s", d)
			}
		})
	})
}
