package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/testdb"
)

func TestMetricListEventKeysVersionIDs(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()
		a, stop := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken})
		e := newEnv(t, b, a, testAdminToken)
		versionOf := map[string]string{}
		for _, body := range []string{
			`{"key":"c1","kind":"custom","eventKey":"checkout"}`,
			`{"key":"c2","kind":"custom","eventKey":"signup"}`,
			`{"key":"c3","kind":"custom","eventKey":"checkout"}`,
			`{"key":"pv","kind":"pageview","urls":[{"kind":"substring","substring":"/cart"}]}`,
		} {
			m := e.createMetric(t, "default", body)
			versionOf[m["key"].(string)] = m["_versionId"].(string)
		}
		list := func(t *testing.T, e *env, filter string) []string {
			t.Helper()
			ms, resp, err := e.api(t).MetricsApi.GetMetrics(ctx, "default").Filter(filter).Execute()
			if err != nil {
				t.Fatalf("GetMetrics %s: %v (status %d)", filter, err, status(resp))
			}
			keys := []string{}
			for _, m := range ms.Items {
				keys = append(keys, m.Key)
			}
			if int(ms.GetTotalCount()) != len(keys) {
				t.Errorf("%s: totalCount %d for %d items", filter, ms.GetTotalCount(), len(keys))
			}
			return keys
		}
		// The metrics may share a creation millisecond, and ties are in ID
		// order: the matches are compared as sets.
		check := func(t *testing.T, e *env, filter string, want ...string) {
			t.Helper()
			if want == nil {
				want = []string{}
			}
			got := list(t, e, filter)
			slices.Sort(got)
			slices.Sort(want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s (-want +got):\n%s", filter, d)
			}
		}
		check(t, e, `eventKeys anyOf ["checkout"]`, "c1", "c3")
		check(t, e, `eventKeys anyOf ["checkout", "signup", "nope"]`, "c1", "c2", "c3")
		check(t, e, `eventKeys anyOf ["Checkout"]`) // event keys are case-sensitive
		check(t, e, `eventKeys anyOf ["checkout"], query equals "3"`, "c3")

		// A patch moves the metric between event keys and versions.
		old := versionOf["c3"]
		_, resp, err := e.api(t).MetricsApi.PatchMetric(ctx, "default", "c3").PatchOperation([]ldapi.PatchOperation{
			{Op: "replace", Path: "/eventKey", Value: "signup"}}).Execute()
		if err != nil {
			t.Fatalf("PatchMetric: %v (status %d)", err, status(resp))
		}
		versionOf["c3"] = obj(t, rawBody(t, resp))["_versionId"].(string)
		check(t, e, `eventKeys anyOf ["checkout"]`, "c1")
		check(t, e, `eventKeys anyOf ["signup"]`, "c2", "c3")

		check(t, e, fmt.Sprintf(`versionIds anyOf [%q]`, versionOf["c1"]), "c1")
		check(t, e, fmt.Sprintf(`versionIds anyOf [%q]`, old)) // no longer current
		check(t, e, fmt.Sprintf(`versionIds anyOf [%q, %q, %q]`, versionOf["pv"], versionOf["c3"], old), "c3", "pv")
		check(t, e, fmt.Sprintf(`versionIds anyOf [%q, %q], eventKeys anyOf ["signup"]`, versionOf["c1"], versionOf["c2"]), "c2")

		for _, c := range []struct{ filter, msg string }{
			{`eventKeys equals "checkout"`, `operator "equals" is not supported for field "eventKeys"`},
			{`versionIds contains ["x"]`, `operator "contains" is not supported for field "versionIds"`},
			{`eventKeys anyOf ["a"], eventKeys anyOf ["b"]`, `field "eventKeys" may appear only once`},
			{`versionIds anyOf [true]`, "expected a string in list, found boolean true"},
			{`eventKeys anyOf []`, `invalid filter at position 0: field "eventKeys" needs at least one value`},
			{`versionIds anyOf []`, `field "versionIds" needs at least one value`},
		} {
			st, body, _ := e.doUndoc(t, http.MethodGet, "/api/v2/metrics/default?"+url.Values{"filter": {c.filter}}.Encode(), "")
			wantError(t, c.filter, st, body, http.StatusBadRequest, c.msg)
		}

		// Migration 0005 fills event_key in for metrics stored before it.
		stop()
		db := openSeedDB(t, b)
		db.exec(t, `DROP INDEX metrics_event_key`)
		db.exec(t, `DROP INDEX metrics_version_id`)
		// Migration 0020's index covers event_key too: it goes with the
		// column and comes back with its migration.
		db.exec(t, `DROP INDEX metrics_event_fed`)
		db.exec(t, `ALTER TABLE metrics DROP COLUMN event_key`)
		db.exec(t, `DELETE FROM schema_migrations WHERE version IN (5, 20)`)
		a2, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken})
		e2 := newEnv(t, b, a2, testAdminToken)
		check(t, e2, `eventKeys anyOf ["checkout"]`, "c1")
		check(t, e2, `eventKeys anyOf ["signup"]`, "c2", "c3")
		check(t, e2, fmt.Sprintf(`versionIds anyOf [%q]`, versionOf["c2"]), "c2")
	})
}
