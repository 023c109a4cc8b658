package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

func TestMetricGroupsBeta(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		e.createMetric(t, "default", `{"key":"a","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","kind":"custom","eventKey":"b"}`)
		post := `{"key":"g","name":"G","kind":"standard","tags":[],"metrics":[{"key":"a","nameInGroup":""},{"key":"b","nameInGroup":""}]}`
		ops := []struct{ method, path, body string }{
			{http.MethodGet, mgCollectionPath("default"), ""},
			{http.MethodPost, mgCollectionPath("default"), post},
			{http.MethodGet, mgPath("default", "g"), ""},
			{http.MethodPatch, mgPath("default", "g"), `[{"op":"replace","path":"/name","value":"H"}]`},
			{http.MethodDelete, mgPath("default", "g"), ""},
		}
		refuse := func(t *testing.T, headers ...string) {
			for _, op := range ops {
				st, body, _ := e.do(t, op.method, op.path, op.body, headers...)
				wantError(t, op.method+" "+op.path, st, body, http.StatusForbidden, "LD-API-Version: beta")
			}
		}
		t.Run("without the header", func(t *testing.T) {
			refuse(t)
			if st, body := e.mgDo(t, http.MethodGet, mgPath("default", "g"), ""); st != http.StatusNotFound {
				t.Errorf("the refused POST created the group: GET status %d: %s", st, body)
			}
		})
		g := e.mgCreate(t, "default", post)
		t.Run("with another API version", func(t *testing.T) {
			refuse(t, "LD-API-Version: 20240415")
			if d := cmp.Diff(g, e.mgGet(t, "default", "g", "")); d != "" {
				t.Errorf("refused PATCH or DELETE changed the group (-want +got):\n%s", d)
			}
		})
		t.Run("generated client without the beta header", func(t *testing.T) {
			api := e.api(t)
			_, resp, err := api.MetricsBetaApi.GetMetricGroups(ctx, "default").Execute()
			clientError(t, "GetMetricGroups", resp, err, http.StatusForbidden, "beta")
			_, resp, err = api.MetricsBetaApi.GetMetricGroup(ctx, "default", "g").Execute()
			clientError(t, "GetMetricGroup", resp, err, http.StatusForbidden, "beta")
			_, resp, err = api.MetricsBetaApi.CreateMetricGroup(ctx, "default").MetricGroupPost(ldapi.MetricGroupPost{
				Key: ptr("g2"), Name: "G2", Kind: "standard", Tags: []string{},
				Metrics: []ldapi.MetricInMetricGroupInput{{Key: "a"}, {Key: "b"}},
			}).Execute()
			clientError(t, "CreateMetricGroup", resp, err, http.StatusForbidden, "beta")
			_, resp, err = api.MetricsBetaApi.PatchMetricGroup(ctx, "default", "g").PatchOperation([]ldapi.PatchOperation{{Op: "replace", Path: "/name", Value: "H"}}).Execute()
			clientError(t, "PatchMetricGroup", resp, err, http.StatusForbidden, "beta")
			resp, err = api.MetricsBetaApi.DeleteMetricGroup(ctx, "default", "g").Execute()
			clientError(t, "DeleteMetricGroup", resp, err, http.StatusForbidden, "beta")
		})
		t.Run("generated client with only the default header", func(t *testing.T) {
			cfg := ldapi.NewConfiguration()
			cfg.Servers = ldapi.ServerConfigurations{{URL: e.base}}
			cfg.AddDefaultHeader("Authorization", e.token)
			cfg.AddDefaultHeader("LD-API-Version", "beta")
			cfg.HTTPClient = e.httpClient(t)
			coll, resp, err := ldapi.NewAPIClient(cfg).MetricsBetaApi.GetMetricGroups(ctx, "default").Execute()
			if err != nil {
				t.Fatalf("GetMetricGroups: %v (status %d, request LD-API-Version %q)", err, status(resp), resp.Request.Header.Values("LD-API-Version"))
			}
			if len(coll.Items) != 1 {
				t.Errorf("%d groups, want 1", len(coll.Items))
			}
		})
		t.Run("generated client with the beta header", func(t *testing.T) {
			api := e.mgAPI(t)
			created, resp, err := api.MetricsBetaApi.CreateMetricGroup(ctx, "default").MetricGroupPost(ldapi.MetricGroupPost{
				Key: ptr("g2"), Name: "G2", Kind: "standard", MaintainerId: e.ownerID, Tags: []string{"t"},
				Metrics: []ldapi.MetricInMetricGroupInput{{Key: "b"}, {Key: "a"}},
			}).Execute()
			if err != nil {
				t.Fatalf("CreateMetricGroup: %v (status %d)", err, status(resp))
			}
			if resp.StatusCode != http.StatusCreated || created.Key != "g2" || len(created.Metrics) != 2 || created.Metrics[0].Key != "b" {
				t.Errorf("CreateMetricGroup: status %d, %+v", resp.StatusCode, created)
			}
			coll, resp, err := api.MetricsBetaApi.GetMetricGroups(ctx, "default").Execute()
			if err != nil || coll.TotalCount == nil || *coll.TotalCount != 2 || len(coll.Items) != 2 {
				t.Errorf("GetMetricGroups: %v (status %d) %+v", err, status(resp), coll)
			}
			got, resp, err := api.MetricsBetaApi.GetMetricGroup(ctx, "default", "g2").Execute()
			if err != nil || got.Name != "G2" || got.Version != 1 {
				t.Errorf("GetMetricGroup: %v (status %d) %+v", err, status(resp), got)
			}
			patched, resp, err := api.MetricsBetaApi.PatchMetricGroup(ctx, "default", "g2").PatchOperation([]ldapi.PatchOperation{
				{Op: "replace", Path: "/name", Value: "G2 renamed"},
			}).Execute()
			if err != nil || patched.Name != "G2 renamed" || patched.Version != 2 {
				t.Errorf("PatchMetricGroup: %v (status %d) %+v", err, status(resp), patched)
			}
			resp, err = api.MetricsBetaApi.DeleteMetricGroup(ctx, "default", "g2").Execute()
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Errorf("DeleteMetricGroup: %v (status %d)", err, status(resp))
			}
			_, resp, err = api.MetricsBetaApi.GetMetricGroup(ctx, "default", "g2").Execute()
			clientError(t, "GetMetricGroup after delete", resp, err, http.StatusNotFound, `"g2"`)
		})
	})
}
