package e2e

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// units returns a metric representation's randomizationUnits and checks
// that analysisUnits carries the same value.
func units(t testing.TB, what string, rep map[string]any) []any {
	t.Helper()
	r, _ := rep["randomizationUnits"].([]any)
	if d := cmp.Diff(rep["randomizationUnits"], rep["analysisUnits"]); d != "" {
		t.Errorf("%s: analysisUnits differs from randomizationUnits (-randomization +analysis):\n%s", what, d)
	}
	return r
}

func TestMetricAnalysisUnits(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		api := e.api(t)
		const disagree = "analysisUnits and randomizationUnits are two names of one field; given together they must list the same context kinds"

		t.Run("create", func(t *testing.T) {
			for _, c := range []struct {
				name, body string
				want       []any
			}{
				{"analysisUnits only", `{"key":"a1","kind":"custom","eventKey":"e","analysisUnits":["account","user"]}`, []any{"account", "user"}},
				{"randomizationUnits only", `{"key":"a2","kind":"custom","eventKey":"e","randomizationUnits":["device"]}`, []any{"device"}},
				{"both, agreeing in another order", `{"key":"a3","kind":"custom","eventKey":"e","randomizationUnits":["user","account"],"analysisUnits":["account","user"]}`, []any{"user", "account"}},
				{"empty analysisUnits is the default", `{"key":"a4","kind":"custom","eventKey":"e","analysisUnits":[]}`, []any{"user"}},
				{"empty analysisUnits beside randomizationUnits", `{"key":"a5","kind":"custom","eventKey":"e","analysisUnits":[],"randomizationUnits":["org"]}`, []any{"org"}},
				{"empty randomizationUnits beside analysisUnits", `{"key":"a6","kind":"custom","eventKey":"e","analysisUnits":["org"],"randomizationUnits":[]}`, []any{"org"}},
				{"neither", `{"key":"a7","kind":"custom","eventKey":"e"}`, []any{"user"}},
			} {
				rep := e.createMetric(t, "default", c.body)
				if d := cmp.Diff(c.want, units(t, c.name, rep)); d != "" {
					t.Errorf("%s: 201 (-want +got):\n%s", c.name, d)
				}
				key := rep["key"].(string)
				got := e.getMetric(t, "default", key, "")
				if d := cmp.Diff(c.want, units(t, c.name+" GET", got)); d != "" {
					t.Errorf("%s: GET (-want +got):\n%s", c.name, d)
				}
				// The generated client reads the stored value.
				m, resp, err := api.MetricsApi.GetMetric(ctx, "default", key).Execute()
				if err != nil {
					t.Fatalf("GetMetric: %v (status %d)", err, status(resp))
				}
				if len(m.RandomizationUnits) != len(c.want) {
					t.Errorf("%s: client randomizationUnits %v", c.name, m.RandomizationUnits)
				}
			}
			for _, c := range []struct{ name, body, msg string }{
				{"disagreeing", `{"key":"bad1","kind":"custom","eventKey":"e","randomizationUnits":["user"],"analysisUnits":["account"]}`, disagree},
				{"disagreeing subset", `{"key":"bad2","kind":"custom","eventKey":"e","randomizationUnits":["user","account"],"analysisUnits":["account"]}`, disagree},
				{"duplicate analysis unit", `{"key":"bad3","kind":"custom","eventKey":"e","analysisUnits":["user","user"]}`, `randomizationUnits[1] "user" is listed twice`},
				{"wrong type", `{"key":"bad4","kind":"custom","eventKey":"e","analysisUnits":"user"}`, "field analysisUnits must be an array, not string"},
				{"wrong case", `{"key":"bad5","kind":"custom","eventKey":"e","AnalysisUnits":["user"]}`, `unknown field "AnalysisUnits"`},
			} {
				st, body, _ := e.do(t, http.MethodPost, "/api/v2/metrics/default", c.body)
				if got := wantError(t, c.name, st, body, http.StatusBadRequest); got.Message != c.msg {
					t.Errorf("%s: message %q, want %q", c.name, got.Message, c.msg)
				}
			}
		})

		t.Run("list", func(t *testing.T) {
			q := url.Values{"filter": {`query equals "a1"`}}
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/metrics/default?"+q.Encode(), "")
			if st != http.StatusOK {
				t.Fatalf("list: %d %s", st, body)
			}
			items := obj(t, body)["items"].([]any)
			if len(items) != 1 {
				t.Fatalf("items %v", items)
			}
			if d := cmp.Diff([]any{"account", "user"}, units(t, "list", items[0].(map[string]any))); d != "" {
				t.Errorf("list (-want +got):\n%s", d)
			}
		})

		t.Run("patch", func(t *testing.T) {
			e.createMetric(t, "default", `{"key":"p","kind":"custom","eventKey":"e"}`)
			patch := func(t *testing.T, ops ...ldapi.PatchOperation) []any {
				t.Helper()
				_, resp, err := api.MetricsApi.PatchMetric(ctx, "default", "p").PatchOperation(ops).Execute()
				if err != nil {
					t.Fatalf("PatchMetric %+v: %v (status %d)", ops, err, status(resp))
				}
				rep := obj(t, rawBody(t, resp))
				if d := cmp.Diff(rep, e.getMetric(t, "default", "p", "")); d != "" {
					t.Errorf("GET differs from the PATCH answer (-patch +get):\n%s", d)
				}
				return units(t, "patch", rep)
			}
			for _, c := range []struct {
				name string
				ops  []ldapi.PatchOperation
				want []any
			}{
				{"replace analysisUnits", []ldapi.PatchOperation{{Op: "replace", Path: "/analysisUnits", Value: []string{"account"}}}, []any{"account"}},
				{"test and replace randomizationUnits", []ldapi.PatchOperation{
					{Op: "test", Path: "/analysisUnits", Value: []string{"account"}},
					{Op: "replace", Path: "/randomizationUnits", Value: []string{"org", "user"}}}, []any{"org", "user"}},
				{"add to analysisUnits", []ldapi.PatchOperation{{Op: "add", Path: "/analysisUnits/-", Value: "device"}}, []any{"org", "user", "device"}},
				{"both, agreeing", []ldapi.PatchOperation{
					{Op: "replace", Path: "/analysisUnits", Value: []string{"user", "org"}},
					{Op: "replace", Path: "/randomizationUnits", Value: []string{"org", "user"}}}, []any{"org", "user"}},
				{"empty analysisUnits is the default", []ldapi.PatchOperation{{Op: "replace", Path: "/analysisUnits", Value: []string{}}}, []any{"user"}},
				{"replace analysisUnits again", []ldapi.PatchOperation{
					{Op: "replace", Path: "/analysisUnits", Value: []string{"org"}}}, []any{"org"}},
			} {
				if d := cmp.Diff(c.want, patch(t, c.ops...)); d != "" {
					t.Errorf("%s (-want +got):\n%s", c.name, d)
				}
			}
			if d := cmp.Diff([]any{"user"}, patch(t, ldapi.PatchOperation{Op: "remove", Path: "/randomizationUnits"})); d != "" {
				t.Errorf("remove randomizationUnits (-want +got):\n%s", d)
			}
			before := e.getMetric(t, "default", "p", "")
			st, body, _ := e.do(t, http.MethodPatch, metricPath("default", "p"),
				`[{"op":"replace","path":"/analysisUnits","value":["account"]},{"op":"replace","path":"/randomizationUnits","value":["org"]}]`)
			if got := wantError(t, "disagreeing patch", st, body, http.StatusBadRequest); got.Message != disagree {
				t.Errorf("message %q", got.Message)
			}
			st, body, _ = e.doUndoc(t, http.MethodPatch, metricPath("default", "p"), `[{"op":"test","path":"/analysisUnits","value":["account"]}]`)
			wantError(t, "failed test", st, body, http.StatusConflict, "patch test failed")
			if d := cmp.Diff(before, e.getMetric(t, "default", "p", "")); d != "" {
				t.Errorf("refused patches changed the metric (-before +after):\n%s", d)
			}
			// A patch that names the current value under the other name
			// changes nothing and stores no new version.
			_, resp, err := api.MetricsApi.PatchMetric(ctx, "default", "p").PatchOperation([]ldapi.PatchOperation{{Op: "replace", Path: "/analysisUnits", Value: []string{"user"}}}).Execute()
			if err != nil {
				t.Fatalf("no-op patch: %v (status %d)", err, status(resp))
			}
			if got := obj(t, rawBody(t, resp)); got["_version"] != before["_version"] {
				t.Errorf("no-op patch stored version %v after %v", got["_version"], before["_version"])
			}
		})
	})
}
