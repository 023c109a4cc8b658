package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

func viewsPath(project string) string { return "/api/v2/projects/" + project + "/views" }

func viewPath(project, key string) string { return viewsPath(project) + "/" + url.PathEscape(key) }

func viewLinkPath(project, key, typ string) string { return viewPath(project, key) + "/link/" + typ }

// viewDo sends a raw view request with the beta header.
func (e *env) viewDo(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	st, b, _ := e.do(t, method, path, body, betaHeader)
	return st, b
}

// linkMetrics links metrics to a view through the generated client.
func linkMetrics(t testing.TB, api *ldapi.APIClient, project, view string, keys ...string) {
	t.Helper()
	res, resp, err := api.ViewsBetaApi.LinkResource(context.Background(), project, view, "metrics").LDAPIVersion("beta").
		ViewLinkRequest(ldapi.ViewLinkRequestKeysAsViewLinkRequest(&ldapi.ViewLinkRequestKeys{Keys: keys})).Execute()
	if err != nil {
		t.Fatalf("LinkResource metrics %v: %v (status %d)", keys, err, status(resp))
	}
	distinct := slices.Compact(slices.Sorted(slices.Values(keys)))
	if res.SuccessCount != int32(len(distinct)) || res.FailureCount != 0 {
		t.Errorf("LinkResource metrics %v: success %d failure %d, want %d and 0", keys, res.SuccessCount, res.FailureCount, len(distinct))
	}
}

// metricKeysInView lists the metric keys the metric list's view filter
// returns.
func (e *env) metricKeysInView(t testing.TB, project, view string) []string {
	t.Helper()
	st, b, _ := e.do(t, http.MethodGet, "/api/v2/metrics/"+project+"?limit=50&filter="+url.QueryEscape(`view equals "`+view+`"`), "")
	if st != http.StatusOK {
		t.Fatalf("list metrics in view %s: %d %s", view, st, b)
	}
	keys := itemKeys(t, obj(t, b))
	slices.Sort(keys)
	return keys
}

func TestViewsBeta(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		for _, k := range []string{"signup", "revenue", "latency"} {
			e.createMetric(t, "default", `{"key":"`+k+`","name":"`+k+` metric","kind":"custom","eventKey":"`+k+`-event","description":"about `+k+`"}`)
		}
		api := e.api(t)

		t.Run("beta header", func(t *testing.T) {
			post := `{"key":"v0","name":"V0"}`
			link := `{"keys":["signup"]}`
			for _, op := range []struct{ method, path, body string }{
				{http.MethodGet, viewsPath("default"), ""},
				{http.MethodPost, viewsPath("default"), post},
				{http.MethodGet, viewPath("default", "v0"), ""},
				{http.MethodPatch, viewPath("default", "v0"), `{"name":"x"}`},
				{http.MethodDelete, viewPath("default", "v0"), ""},
				{http.MethodPost, viewLinkPath("default", "v0", "metrics"), link},
				{http.MethodDelete, viewLinkPath("default", "v0", "metrics"), link},
			} {
				st, body, _ := e.do(t, op.method, op.path, op.body)
				wantError(t, op.method+" "+op.path, st, body, http.StatusForbidden, "LD-API-Version: beta")
			}
			if st, body := e.viewDo(t, http.MethodGet, viewPath("default", "v0"), ""); st != http.StatusNotFound {
				t.Errorf("the refused POST created the view: GET %d %s", st, body)
			}
			_, resp, err := api.ViewsBetaApi.GetViews(ctx, "default").LDAPIVersion("20240415").Execute()
			clientError(t, "GetViews with a dated version", resp, err, http.StatusForbidden, "beta")
		})

		created, resp, err := api.ViewsBetaApi.CreateView(ctx, "default").LDAPIVersion("beta").ViewPost(ldapi.ViewPost{
			Key: "checkout", Name: " Checkout ", Description: ptr("The checkout team's resources"),
			Tags: []string{"team-a", "web", "team-a"},
		}).Execute()
		if err != nil {
			t.Fatalf("CreateView: %v (status %d)", err, status(resp))
		}
		accountID := e.ownerID
		want := ldapi.View{
			Id: created.Id, AccountId: accountID, ProjectId: created.ProjectId, ProjectKey: "default", Key: "checkout",
			Name: "Checkout", Description: "The checkout team's resources", GenerateSdkKeys: false, Version: 1,
			Tags: []string{"team-a", "web"}, CreatedAt: created.CreatedAt, UpdatedAt: created.CreatedAt,
			Links: &ldapi.ParentAndSelfLinks{
				Parent: ldapi.CoreLink{Href: "/api/v2/projects/default/views", Type: "application/json"},
				Self:   ldapi.CoreLink{Href: "/api/v2/projects/default/views/checkout", Type: "application/json"},
			},
			Maintainer: &ldapi.Maintainer{Id: e.ownerID, Kind: "member"},
			// The owner may take every view action.
			Access: created.Access,
		}
		if a := created.Access; a == nil || len(a.Allowed) != 9 || len(a.Denied) != 0 {
			t.Errorf("owner's _access %+v, want all 9 view actions allowed", a)
		}
		if d := cmp.Diff(want, *created, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".AdditionalProperties" }, cmp.Ignore())); d != "" {
			t.Errorf("CreateView (-want +got):\n%s", d)
		}
		if resp.StatusCode != http.StatusOK || created.Id == "" || created.ProjectId == "" || created.CreatedAt == 0 {
			t.Errorf("CreateView: status %d, id %q projectId %q createdAt %d", resp.StatusCode, created.Id, created.ProjectId, created.CreatedAt)
		}
		st, body, _ := e.do(t, http.MethodGet, "/api/v2/projects/default", "")
		if st != http.StatusOK || obj(t, body)["_id"] != created.ProjectId {
			t.Errorf("projectId %q is not the project's _id: %s", created.ProjectId, body)
		}

		t.Run("get with expand maintainer", func(t *testing.T) {
			got, resp, err := api.ViewsBetaApi.GetView(ctx, "default", "checkout").LDAPIVersion("beta").Expand([]string{"maintainer"}).Execute()
			if err != nil {
				t.Fatalf("GetView: %v (status %d)", err, status(resp))
			}
			m := got.Maintainer
			if m == nil || m.MaintainerMember == nil || m.MaintainerMember.Id != e.ownerID || m.MaintainerMember.Email != "owner@metricsd.local" || m.MaintainerMember.Role != "owner" {
				t.Errorf("maintainer %+v, want the owner's details", m)
			}
		})

		t.Run("links and counts", func(t *testing.T) {
			linkMetrics(t, api, "default", "checkout", "signup", "revenue", "signup")
			if got := e.metricKeysInView(t, "default", "checkout"); !slices.Equal(got, []string{"revenue", "signup"}) {
				t.Errorf("metrics in view checkout: %v, want [revenue signup]", got)
			}
			res, resp, err := api.ViewsBetaApi.LinkResource(ctx, "default", "checkout", "flags").LDAPIVersion("beta").
				ViewLinkRequest(ldapi.ViewLinkRequestKeysAsViewLinkRequest(&ldapi.ViewLinkRequestKeys{Keys: []string{"new-checkout", "dark-mode"}, Comment: ptr("launch")})).Execute()
			if err != nil || res.SuccessCount != 2 {
				t.Fatalf("LinkResource flags: %v (status %d) %+v", err, status(resp), res)
			}
			st, envBody, _ := e.do(t, http.MethodGet, "/api/v2/projects/default/environments/production", "")
			if st != http.StatusOK {
				t.Fatalf("environment: %d %s", st, envBody)
			}
			envID := obj(t, envBody)["_id"].(string)
			res, resp, err = api.ViewsBetaApi.LinkResource(ctx, "default", "checkout", "segments").LDAPIVersion("beta").
				ViewLinkRequest(ldapi.ViewLinkRequestSegmentIdentifiersAsViewLinkRequest(&ldapi.ViewLinkRequestSegmentIdentifiers{
					SegmentIdentifiers: []ldapi.ViewLinkRequestSegmentIdentifier{{EnvironmentId: envID, SegmentKey: "beta-users"}},
				})).Execute()
			if err != nil || res.SuccessCount != 1 {
				t.Fatalf("LinkResource segments: %v (status %d) %+v", err, status(resp), res)
			}
			got, resp, err := api.ViewsBetaApi.GetView(ctx, "default", "checkout").LDAPIVersion("beta").
				Expand([]string{"flagsSummary", "segmentsSummary", "resourceSummary", "metricsSummary", "allMetrics"}).Execute()
			if err != nil {
				t.Fatalf("GetView: %v (status %d)", err, status(resp))
			}
			if got.FlagsSummary == nil || got.FlagsSummary.Count != 2 || got.SegmentsSummary == nil || got.SegmentsSummary.Count != 1 ||
				got.MetricsSummary == nil || got.MetricsSummary.Count != 2 {
				t.Errorf("summaries %+v %+v %+v, want 2 flags, 1 segment, 2 metrics", got.FlagsSummary, got.SegmentsSummary, got.MetricsSummary)
			}
			if rs := got.ResourceSummary; rs == nil || rs.FlagCount != 2 || rs.SegmentCount == nil || *rs.SegmentCount != 1 || rs.TotalCount != 5 {
				t.Errorf("resourceSummary %+v, want 2 flags, 1 segment, 5 in all", rs)
			}
			if got.Version != 4 {
				t.Errorf("version %d after three link requests, want 4", got.Version)
			}
			mx := got.MetricsExpanded
			if mx == nil || mx.TotalCount != 2 || len(mx.Items) != 2 {
				t.Fatalf("metricsExpanded %+v, want the 2 metrics", mx)
			}
			keys := []string{*mx.Items[0].Key, *mx.Items[1].Key}
			slices.Sort(keys)
			if !slices.Equal(keys, []string{"revenue", "signup"}) {
				t.Errorf("metricsExpanded keys %v", keys)
			}
			for _, m := range mx.Items {
				metric := e.getMetric(t, "default", *m.Key, "")
				if *m.Name != metric["name"] || *m.VersionId != metric["_versionId"] || *m.Id != metric["_id"] || *m.EventKey != *m.Key+"-event" ||
					*m.Description != "about "+*m.Key || !*m.IsActive || *m.Kind != "custom" {
					t.Errorf("metricsExpanded item %+v does not match metric %v", m, metric)
				}
			}
			// Linking what is linked already changes nothing.
			before, _, _ := api.ViewsBetaApi.GetView(ctx, "default", "checkout").LDAPIVersion("beta").Execute()
			linkMetrics(t, api, "default", "checkout", "signup")
			after, _, _ := api.ViewsBetaApi.GetView(ctx, "default", "checkout").LDAPIVersion("beta").Execute()
			if before.Version != after.Version || before.UpdatedAt != after.UpdatedAt {
				t.Errorf("relinking a linked metric moved the view from version %d to %d", before.Version, after.Version)
			}

			unl, resp, err := api.ViewsBetaApi.UnlinkResource(ctx, "default", "checkout", "flags").LDAPIVersion("beta").
				ViewLinkRequest(ldapi.ViewLinkRequestKeysAsViewLinkRequest(&ldapi.ViewLinkRequestKeys{Keys: []string{"dark-mode", "never-linked"}})).Execute()
			if err != nil || unl.SuccessCount != 2 || unl.FailureCount != 0 {
				t.Errorf("UnlinkResource flags: %v (status %d) %+v", err, status(resp), unl)
			}
			got, _, _ = api.ViewsBetaApi.GetView(ctx, "default", "checkout").LDAPIVersion("beta").Expand([]string{"flagsSummary"}).Execute()
			if got.FlagsSummary == nil || got.FlagsSummary.Count != 1 {
				t.Errorf("flagsSummary after unlink %+v, want 1", got.FlagsSummary)
			}
		})

		t.Run("list filter sort expand", func(t *testing.T) {
			for _, body := range []string{
				`{"key":"alpha","name":"Alpha","tags":["web"],"generateSdkKeys":true}`,
				`{"key":"zeta","name":"Zeta payments","tags":["payments"]}`,
			} {
				if st, b := e.viewDo(t, http.MethodPost, viewsPath("default"), body); st != http.StatusOK {
					t.Fatalf("create %s: %d %s", body, st, b)
				}
			}
			linkMetrics(t, api, "default", "zeta", "latency")
			list := func(req ldapi.ApiGetViewsRequest) ([]string, *ldapi.Views) {
				t.Helper()
				coll, resp, err := req.LDAPIVersion("beta").Execute()
				if err != nil {
					t.Fatalf("GetViews: %v (status %d)", err, status(resp))
				}
				keys := []string{}
				for _, v := range coll.Items {
					keys = append(keys, v.Key)
				}
				return keys, coll
			}
			for _, tc := range []struct {
				name   string
				filter string
				sort   string
				want   []string
			}{
				{"all", "", "", []string{"alpha", "checkout", "zeta"}},
				{"by name desc", "", "-name", []string{"zeta", "checkout", "alpha"}},
				{"tag", `tag equals "web"`, "", []string{"alpha", "checkout"}},
				{"tag anyOf", `tag anyOf ["payments","team-a"]`, "", []string{"checkout", "zeta"}},
				{"name contains", `name contains "PAY"`, "", []string{"zeta"}},
				{"name startsWith", `name startsWith "ch"`, "", []string{"checkout"}},
				{"key notEquals", `key notEquals "alpha"`, "", []string{"checkout", "zeta"}},
				{"key anyOf", `key anyOf ["alpha","zeta","nope"]`, "", []string{"alpha", "zeta"}},
				{"payload views", `isPayloadView equals true`, "", []string{"alpha"}},
				{"maintainer", `maintainerId equals "` + e.ownerID + `"`, "", []string{"alpha", "checkout", "zeta"}},
				{"maintainer none", `maintainerId anyOf ["nobody"]`, "", []string{}},
			} {
				req := api.ViewsBetaApi.GetViews(ctx, "default")
				if tc.filter != "" {
					req = req.Filter(tc.filter)
				}
				if tc.sort != "" {
					req = req.Sort(tc.sort)
				}
				got, coll := list(req)
				if !slices.Equal(got, tc.want) || int(coll.TotalCount) != len(tc.want) {
					t.Errorf("%s: keys %v total %d, want %v", tc.name, got, coll.TotalCount, tc.want)
				}
			}
			got, coll := list(api.ViewsBetaApi.GetViews(ctx, "default").Limit(1).Offset(1).Expand([]string{"metricsSummary", "resourceSummary"}))
			if !slices.Equal(got, []string{"checkout"}) || coll.TotalCount != 3 {
				t.Errorf("page 2 of 1: %v total %d", got, coll.TotalCount)
			}
			if l := coll.Links; l == nil || l.Next == nil || l.Prev == nil || l.Self.Href == nil {
				t.Errorf("page links %+v, want self, prev and next", l)
			}
			v := coll.Items[0]
			if v.MetricsSummary == nil || v.MetricsSummary.Count != 2 || v.ResourceSummary == nil || v.ResourceSummary.TotalCount != 4 {
				t.Errorf("listed summaries %+v %+v, want 2 metrics and 4 resources", v.MetricsSummary, v.ResourceSummary)
			}
			if v.FlagsSummary != nil {
				t.Errorf("flagsSummary without its expand: %+v", v.FlagsSummary)
			}
		})

		t.Run("views a resource is linked to", func(t *testing.T) {
			linkMetrics(t, api, "default", "alpha", "signup")
			linked := func(typ, key, envID string, limit int32) ([]string, *ldapi.Views) {
				t.Helper()
				req := api.ViewsBetaApi.GetLinkedViews(ctx, "default", typ, key).LDAPIVersion("beta")
				if envID != "" {
					req = req.EnvironmentId(envID)
				}
				if limit > 0 {
					req = req.Limit(limit)
				}
				coll, resp, err := req.Execute()
				if err != nil {
					t.Fatalf("GetLinkedViews %s %s: %v (status %d)", typ, key, err, status(resp))
				}
				keys := []string{}
				for _, v := range coll.Items {
					keys = append(keys, v.Key)
				}
				return keys, coll
			}
			st, envBody, _ := e.do(t, http.MethodGet, "/api/v2/projects/default/environments/production", "")
			if st != http.StatusOK {
				t.Fatalf("environment: %d %s", st, envBody)
			}
			envID := obj(t, envBody)["_id"].(string)
			for _, tc := range []struct {
				typ, key, envID string
				want            []string
			}{
				{"metrics", "signup", "", []string{"alpha", "checkout"}},
				{"metrics", "latency", "", []string{"zeta"}},
				{"metrics", "no-such-metric", "", []string{}},
				{"flags", "new-checkout", "", []string{"checkout"}},
				{"flags", "dark-mode", "", []string{}},
				{"segments", "beta-users", envID, []string{"checkout"}},
				{"segments", "beta-users", "", []string{}},
			} {
				got, coll := linked(tc.typ, tc.key, tc.envID, 0)
				if !slices.Equal(got, tc.want) || int(coll.TotalCount) != len(tc.want) {
					t.Errorf("views linked to %s %s (env %q): %v total %d, want %v", tc.typ, tc.key, tc.envID, got, coll.TotalCount, tc.want)
				}
			}
			got, coll := linked("metrics", "signup", "", 1)
			if !slices.Equal(got, []string{"alpha"}) || coll.TotalCount != 2 || coll.Links == nil || coll.Links.Next == nil {
				t.Errorf("first page of 1: %v total %d links %+v", got, coll.TotalCount, coll.Links)
			}
			for _, tc := range []struct{ path, msg string }{
				{"/api/v2/projects/default/view-associations/widgets/x", "widgets"},
				{"/api/v2/projects/default/view-associations/flags/bad%20key", "resourceKey"},
				{"/api/v2/projects/default/view-associations/flags/f?environmentId=e", "environmentId"},
				{"/api/v2/projects/nope/view-associations/flags/f", `"nope"`},
			} {
				st, body, _ := e.doUndoc(t, http.MethodGet, tc.path, "", betaHeader)
				want := http.StatusBadRequest
				if tc.msg == `"nope"` {
					want = http.StatusNotFound
				}
				wantError(t, tc.path, st, body, want, tc.msg)
			}
			st, body, _ := e.do(t, http.MethodGet, "/api/v2/projects/default/view-associations/metrics/signup", "")
			wantError(t, "without the beta header", st, body, http.StatusForbidden, "beta")
			unl, resp, err := api.ViewsBetaApi.UnlinkResource(ctx, "default", "alpha", "metrics").LDAPIVersion("beta").
				ViewLinkRequest(ldapi.ViewLinkRequestKeysAsViewLinkRequest(&ldapi.ViewLinkRequestKeys{Keys: []string{"signup"}})).Execute()
			if err != nil || unl.SuccessCount != 1 {
				t.Fatalf("UnlinkResource: %v (status %d)", err, status(resp))
			}
		})

		t.Run("patch", func(t *testing.T) {
			before, _, _ := api.ViewsBetaApi.GetView(ctx, "default", "alpha").LDAPIVersion("beta").Execute()
			got, resp, err := api.ViewsBetaApi.UpdateView(ctx, "default", "alpha").LDAPIVersion("beta").ViewPatch(ldapi.ViewPatch{
				Description: ptr("now described"), Tags: []string{"new-tag"}, Archived: ptr(true), GenerateSdkKeys: ptr(false),
			}).Execute()
			if err != nil {
				t.Fatalf("UpdateView: %v (status %d)", err, status(resp))
			}
			if got.Description != "now described" || !slices.Equal(got.Tags, []string{"new-tag"}) || !got.Archived || got.ArchivedAt == nil ||
				got.GenerateSdkKeys || got.Version != before.Version+1 || got.Name != "Alpha" || got.UpdatedAt < before.UpdatedAt {
				t.Errorf("UpdateView: %+v", got)
			}
			st, body := e.viewDo(t, http.MethodPatch, viewPath("default", "alpha"), `{"archived":false}`)
			if st != http.StatusOK || obj(t, body)["archived"] != false || obj(t, body)["archivedAt"] != nil {
				t.Errorf("unarchive: %d %s", st, body)
			}
			// A patch that changes nothing keeps the version.
			st, body = e.viewDo(t, http.MethodPatch, viewPath("default", "alpha"), `{"description":"now described"}`)
			if st != http.StatusOK || obj(t, body)["version"] != float64(before.Version+2) {
				t.Errorf("no-op patch: %d %s, want version %d", st, body, before.Version+2)
			}
			if st, b, _ := e.do(t, http.MethodPost, "/api/v2/teams", `{"key":"payments-team","name":"Payments"}`); st != http.StatusCreated {
				t.Fatalf("create team: %d %s", st, b)
			}
			got, resp, err = api.ViewsBetaApi.UpdateView(ctx, "default", "zeta").LDAPIVersion("beta").ViewPatch(ldapi.ViewPatch{MaintainerTeamKey: ptr("payments-team")}).Execute()
			if err != nil || got.Maintainer == nil || got.Maintainer.Kind != "team" || got.Maintainer.Id != "payments-team" {
				t.Errorf("UpdateView maintainerTeamKey: %v (status %d) %+v", err, status(resp), got)
			}
			got, _, _ = api.ViewsBetaApi.GetView(ctx, "default", "zeta").LDAPIVersion("beta").Expand([]string{"maintainer"}).Execute()
			if got.Maintainer == nil || got.Maintainer.MaintainerTeam == nil || got.Maintainer.MaintainerTeam.Name != "Payments" {
				t.Errorf("team maintainer expanded: %+v", got.Maintainer)
			}
			st, body, _ = e.doUndoc(t, http.MethodDelete, "/api/v2/teams/payments-team", "")
			wantError(t, "delete the team maintaining a view", st, body, http.StatusConflict, "views zeta (project default)")
		})

		t.Run("errors", func(t *testing.T) {
			for _, tc := range []struct {
				name, method, path, body string
				status                   int
				msg                      []string
			}{
				{"unknown project list", http.MethodGet, viewsPath("nope"), "", 404, []string{`"nope"`}},
				{"unknown project create", http.MethodPost, viewsPath("nope"), `{"key":"x","name":"X"}`, 404, []string{`"nope"`}},
				{"unknown view", http.MethodGet, viewPath("default", "nope"), "", 404, []string{`"nope"`}},
				{"unknown view patch", http.MethodPatch, viewPath("default", "nope"), `{"name":"x"}`, 404, []string{`"nope"`}},
				{"unknown view delete", http.MethodDelete, viewPath("default", "nope"), "", 404, []string{`"nope"`}},
				{"unknown view link", http.MethodPost, viewLinkPath("default", "nope", "metrics"), `{"keys":["signup"]}`, 404, []string{`"nope"`}},
				{"missing name", http.MethodPost, viewsPath("default"), `{"key":"x"}`, 400, []string{"name"}},
				{"missing key", http.MethodPost, viewsPath("default"), `{"name":"X"}`, 400, []string{"key"}},
				{"bad key", http.MethodPost, viewsPath("default"), `{"key":"-x","name":"X"}`, 400, []string{"key"}},
				{"unknown field", http.MethodPost, viewsPath("default"), `{"key":"x","name":"X","colour":"red"}`, 400, []string{"colour"}},
				{"null field", http.MethodPost, viewsPath("default"), `{"key":"x","name":"X","tags":null}`, 400, []string{"tags"}},
				{"not json", http.MethodPost, viewsPath("default"), `{"key":`, 400, nil},
				{"bad tag", http.MethodPost, viewsPath("default"), `{"key":"x","name":"X","tags":["a b"]}`, 400, []string{"tags[0]"}},
				{"two maintainers", http.MethodPost, viewsPath("default"), `{"key":"x","name":"X","maintainerId":"` + e.ownerID + `","maintainerTeamKey":"t"}`, 400, []string{"maintainer"}},
				{"unknown member", http.MethodPost, viewsPath("default"), `{"key":"x","name":"X","maintainerId":"0123456789abcdef01234567"}`, 400, []string{"0123456789abcdef01234567"}},
				{"unknown team", http.MethodPatch, viewPath("default", "checkout"), `{"maintainerTeamKey":"ghosts"}`, 400, []string{"ghosts"}},
				{"empty name patch", http.MethodPatch, viewPath("default", "checkout"), `{"name":"  "}`, 400, []string{"name"}},
				{"key is not editable", http.MethodPatch, viewPath("default", "checkout"), `{"key":"other"}`, 400, []string{"key"}},
				{"unknown metric", http.MethodPost, viewLinkPath("default", "checkout", "metrics"), `{"keys":["signup","ghost","phantom"]}`, 400, []string{`"ghost"`, `"phantom"`}},
				{"unknown metric unlink", http.MethodDelete, viewLinkPath("default", "checkout", "metrics"), `{"keys":["ghost"]}`, 400, []string{`"ghost"`}},
				{"unknown environment", http.MethodPost, viewLinkPath("default", "checkout", "segments"), `{"segmentIdentifiers":[{"environmentId":"nowhere","segmentKey":"s"}]}`, 400, []string{`"nowhere"`}},
				{"bad resource type", http.MethodPost, viewLinkPath("default", "checkout", "widgets"), `{"keys":["a"]}`, 400, []string{"widgets"}},
				{"no keys", http.MethodPost, viewLinkPath("default", "checkout", "flags"), `{}`, 400, []string{"keys"}},
				{"empty keys", http.MethodPost, viewLinkPath("default", "checkout", "flags"), `{"keys":[]}`, 400, nil},
				{"filter link", http.MethodPost, viewLinkPath("default", "checkout", "flags"), `{"filter":"tags:web"}`, 400, []string{"filter"}},
				{"segment identifiers for flags", http.MethodPost, viewLinkPath("default", "checkout", "flags"), `{"segmentIdentifiers":[]}`, 400, []string{"segmentIdentifiers"}},
				{"bad flag key", http.MethodPost, viewLinkPath("default", "checkout", "flags"), `{"keys":["ok","no way"]}`, 400, []string{"keys[1]"}},
				{"expand allFlags", http.MethodGet, viewPath("default", "checkout") + "?expand=allFlags", "", 400, []string{"allFlags"}},
				{"expand unknown", http.MethodGet, viewPath("default", "checkout") + "?expand=everything", "", 400, []string{"everything"}},
				{"list expand allMetrics", http.MethodGet, viewsPath("default") + "?expand=allMetrics", "", 400, []string{"allMetrics"}},
				{"bad sort", http.MethodGet, viewsPath("default") + "?sort=createdAt", "", 400, []string{"createdAt"}},
				{"bad filter field", http.MethodGet, viewsPath("default") + "?filter=" + url.QueryEscape(`color equals "red"`), "", 400, []string{"color"}},
				{"bad filter op", http.MethodGet, viewsPath("default") + "?filter=" + url.QueryEscape(`tag contains "a"`), "", 400, []string{"contains"}},
				{"empty anyOf", http.MethodGet, viewsPath("default") + "?filter=" + url.QueryEscape(`key anyOf []`), "", 400, []string{"anyOf"}},
				{"bad limit", http.MethodGet, viewsPath("default") + "?limit=1000", "", 400, []string{"limit"}},
			} {
				st, body, _ := e.doUndoc(t, tc.method, tc.path, tc.body, betaHeader)
				wantError(t, tc.name, st, body, tc.status, tc.msg...)
			}
			st, body, _ := e.doUndoc(t, http.MethodPost, viewsPath("default"), `{"key":"checkout","name":"Again"}`, betaHeader)
			wantError(t, "duplicate key", st, body, http.StatusConflict, `"checkout"`)
			if got := e.metricKeysInView(t, "default", "checkout"); !slices.Equal(got, []string{"revenue", "signup"}) {
				t.Errorf("refused link changed the view's metrics: %v", got)
			}
			_, resp, err := api.ViewsBetaApi.GetView(ctx, "default", "nope").LDAPIVersion("beta").Execute()
			clientError(t, "GetView unknown", resp, err, http.StatusNotFound, `"nope"`)
		})

		t.Run("deleting a metric removes it from views", func(t *testing.T) {
			if st, body, _ := e.do(t, http.MethodDelete, metricPath("default", "revenue"), ""); st != http.StatusNoContent {
				t.Fatalf("delete metric: %d %s", st, body)
			}
			if got := e.metricKeysInView(t, "default", "checkout"); !slices.Equal(got, []string{"signup"}) {
				t.Errorf("metrics in view after delete: %v", got)
			}
			got, _, _ := api.ViewsBetaApi.GetView(ctx, "default", "checkout").LDAPIVersion("beta").Expand([]string{"metricsSummary"}).Execute()
			if got.MetricsSummary == nil || got.MetricsSummary.Count != 1 {
				t.Errorf("metricsSummary after metric delete: %+v", got.MetricsSummary)
			}
		})

		t.Run("unlink metrics and delete the view", func(t *testing.T) {
			unl, resp, err := api.ViewsBetaApi.UnlinkResource(ctx, "default", "zeta", "metrics").LDAPIVersion("beta").
				ViewLinkRequest(ldapi.ViewLinkRequestKeysAsViewLinkRequest(&ldapi.ViewLinkRequestKeys{Keys: []string{"latency"}})).Execute()
			if err != nil || unl.SuccessCount != 1 {
				t.Errorf("UnlinkResource metrics: %v (status %d) %+v", err, status(resp), unl)
			}
			if got := e.metricKeysInView(t, "default", "zeta"); len(got) != 0 {
				t.Errorf("metrics in zeta after unlink: %v", got)
			}
			resp, err = api.ViewsBetaApi.DeleteView(ctx, "default", "checkout").LDAPIVersion("beta").Execute()
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DeleteView: %v (status %d)", err, status(resp))
			}
			if got := e.metricKeysInView(t, "default", "checkout"); len(got) != 0 {
				t.Errorf("metrics in a deleted view: %v", got)
			}
			e.getMetric(t, "default", "signup", "")
			_, resp, err = api.ViewsBetaApi.GetView(ctx, "default", "checkout").LDAPIVersion("beta").Execute()
			clientError(t, "GetView after delete", resp, err, http.StatusNotFound, `"checkout"`)
		})

		t.Run("audit", func(t *testing.T) {
			entries := e.auditEntries(t, "spec="+url.QueryEscape("proj/default:view/checkout"), 20)
			var got []string
			for _, en := range entries {
				got = append(got, accesses(en)[0])
			}
			want := []string{
				"deleteView proj/default:view/checkout",
				"unlinkFlagFromView proj/default:view/checkout",
				"linkSegmentToView proj/default:view/checkout",
				"linkFlagToView proj/default:view/checkout",
				"linkMetricToView proj/default:view/checkout",
				"createView proj/default:view/checkout",
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("audit entries of the view (-want +got):\n%s", d)
			}
		})
	})
}

// TestViewsConcurrentWrites: links to one view at once all apply, one after
// the other (each its own version and audit entry); creates of one key at
// once leave one view and 409s; a metric deleted while it is being linked
// is either linked first and then removed, or refused as unknown.
func TestViewsConcurrentWrites(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		const n = 8
		for i := range n {
			e.createMetric(t, "default", fmt.Sprintf(`{"key":"m%d","kind":"custom","eventKey":"m%d"}`, i, i))
		}
		if st, body := e.viewDo(t, http.MethodPost, viewsPath("default"), `{"key":"hot","name":"Hot"}`); st != http.StatusOK {
			t.Fatalf("create: %d %s", st, body)
		}
		results := e.race(t, ctx, n, http.MethodPost, viewLinkPath("default", "hot", "metrics"), func(i int) string {
			return fmt.Sprintf(`{"keys":["m%d"]}`, i)
		}, betaHeader)
		for i, r := range results {
			if r.err != nil || r.status != http.StatusOK {
				t.Errorf("writer %d: %v %d %s", i, r.err, r.status, r.body)
			}
		}
		st, body := e.viewDo(t, http.MethodGet, viewPath("default", "hot")+"?expand=metricsSummary", "")
		v := obj(t, body)
		if st != http.StatusOK || v["version"] != float64(n+1) || v["metricsSummary"].(map[string]any)["count"] != float64(n) {
			t.Errorf("after %d concurrent links: %d %s, want version %d and %d metrics", n, st, body, n+1, n)
		}
		entries := e.auditEntries(t, "spec="+url.QueryEscape("proj/default:view/hot"), 20)
		if len(entries) != n+1 {
			t.Errorf("%d audit entries, want %d", len(entries), n+1)
		}

		// 409 is not among createView's documented answers.
		results = e.race(t, allowUndocumented(ctx), n, http.MethodPost, viewsPath("default"), func(int) string { return `{"key":"same","name":"Same"}` }, betaHeader)
		won := 0
		for i, r := range results {
			switch {
			case r.err != nil:
				t.Errorf("creator %d: %v", i, r.err)
			case r.status == http.StatusOK:
				won++
			default:
				wantError(t, fmt.Sprintf("creator %d", i), r.status, r.body, http.StatusConflict, `"same"`)
			}
		}
		if won != 1 {
			t.Errorf("%d creators of one key succeeded, want 1", won)
		}

		e.createMetric(t, "default", `{"key":"doomed","kind":"custom","eventKey":"d"}`)
		var wg sync.WaitGroup
		var linkRes raceResult
		wg.Go(func() {
			st, b, _, err := e.send(t, ctx, http.MethodPost, viewLinkPath("default", "same", "metrics"), `{"keys":["doomed"]}`, betaHeader)
			linkRes = raceResult{st, b, err}
		})
		wg.Go(func() {
			if st, b, _, err := e.send(t, ctx, http.MethodDelete, metricPath("default", "doomed"), ""); err != nil || st != http.StatusNoContent {
				t.Errorf("delete metric: %v %d %s", err, st, b)
			}
		})
		wg.Wait()
		if linkRes.err != nil || (linkRes.status != http.StatusOK && linkRes.status != http.StatusBadRequest) {
			t.Errorf("link of a metric being deleted: %v %d %s", linkRes.err, linkRes.status, linkRes.body)
		}
		if got := e.metricKeysInView(t, "default", "same"); len(got) != 0 {
			t.Errorf("deleted metric still in the view: %v", got)
		}
		st, body = e.viewDo(t, http.MethodGet, viewPath("default", "same")+"?expand=metricsSummary", "")
		if st != http.StatusOK || obj(t, body)["metricsSummary"].(map[string]any)["count"] != float64(0) {
			t.Errorf("view after the race: %d %s", st, body)
		}
	})
}

// TestViewsAccess: view writes are enforced in the write seam like every
// other write, with the view's tags before and after a change; view reads
// need viewProject.
func TestViewsAccess(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"m","kind":"custom","eventKey":"m"}`)
		if st, body := e.viewDo(t, http.MethodPost, viewsPath("default"), `{"key":"shared","name":"Shared","tags":["team-a"]}`); st != http.StatusOK {
			t.Fatalf("create: %d %s", st, body)
		}
		as := func(token string) func(method, path, body string) (int, []byte) {
			return func(method, path, body string) (int, []byte) {
				t.Helper()
				st, b, _ := e.doUndoc(t, method, path, body, betaHeader, "Authorization: "+token)
				return st, b
			}
		}
		_, rv := newToken(t, e.client, ldapi.AccessTokenPost{Role: ptr("reader")})
		reader := as(rv)
		if st, body := reader(http.MethodGet, viewPath("default", "shared")+"?expand=metricsSummary", ""); st != http.StatusOK {
			t.Errorf("reader GET: %d %s", st, body)
		}
		for _, op := range []struct{ method, path, body, action string }{
			{http.MethodPost, viewsPath("default"), `{"key":"mine","name":"Mine"}`, "createView"},
			{http.MethodPatch, viewPath("default", "shared"), `{"name":"Renamed"}`, "updateView"},
			{http.MethodPost, viewLinkPath("default", "shared", "metrics"), `{"keys":["m"]}`, "linkMetricToView"},
			{http.MethodPost, viewLinkPath("default", "shared", "flags"), `{"keys":["f"]}`, "linkFlagToView"},
			{http.MethodDelete, viewPath("default", "shared"), "", "deleteView"},
		} {
			st, body := reader(op.method, op.path, op.body)
			wantError(t, "reader "+op.method+" "+op.path, st, body, http.StatusForbidden, op.action)
		}

		_, tv := newToken(t, e.client, ldapi.AccessTokenPost{InlineRole: []ldapi.StatementPost{
			allow([]string{"viewProject"}, "proj/*"),
			allow([]string{"createView", "updateView", "linkMetricToView"}, "proj/default:view/*;team-a"),
		}})
		team := as(tv)
		if st, body := team(http.MethodPost, viewsPath("default"), `{"key":"team-view","name":"Team","tags":["team-a","web"]}`); st != http.StatusOK {
			t.Errorf("create a team-a view: %d %s", st, body)
		}
		st, body := team(http.MethodPost, viewsPath("default"), `{"key":"untagged","name":"Untagged"}`)
		wantError(t, "create an untagged view", st, body, http.StatusForbidden, "createView")
		// _access says what the caller may do, by the evaluator that enforces.
		tc := e.apiWithToken(t, tv)
		got, resp, err := tc.ViewsBetaApi.GetView(context.Background(), "default", "team-view").LDAPIVersion("beta").Execute()
		if err != nil || got.Access == nil {
			t.Fatalf("GetView with _access: %v (status %d) %+v", err, status(resp), got)
		}
		var allowed, denied []string
		for _, a := range got.Access.Allowed {
			allowed = append(allowed, a.Action)
		}
		for _, d := range got.Access.Denied {
			denied = append(denied, d.Action)
		}
		slices.Sort(allowed)
		slices.Sort(denied)
		if d := cmp.Diff([]string{"createView", "linkMetricToView", "updateView"}, allowed); d != "" {
			t.Errorf("_access allowed (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"deleteView", "linkFlagToView", "linkSegmentToView", "unlinkFlagFromView", "unlinkMetricFromView", "unlinkSegmentFromView"}, denied); d != "" {
			t.Errorf("_access denied (-want +got):\n%s", d)
		}
		coll, _, err := tc.ViewsBetaApi.GetViews(context.Background(), "default").LDAPIVersion("beta").Execute()
		if err != nil || len(coll.Items) != 2 || coll.Items[0].Access == nil || coll.Items[1].Access == nil {
			t.Fatalf("GetViews with _access: %v %+v", err, coll)
		}
		for _, v := range coll.Items {
			n := 0
			for _, a := range v.Access.Allowed {
				if a.Action == "updateView" {
					n++
				}
			}
			if want := map[string]int{"shared": 1, "team-view": 1}[v.Key]; n != want {
				t.Errorf("%s: updateView allowed %d times, want %d", v.Key, n, want)
			}
		}
		st, body = team(http.MethodPatch, viewPath("default", "team-view"), `{"tags":["web"]}`)
		wantError(t, "drop the selected tag", st, body, http.StatusForbidden, "updateView")
		if st, body := team(http.MethodPatch, viewPath("default", "team-view"), `{"description":"ok","tags":["team-a"]}`); st != http.StatusOK {
			t.Errorf("patch keeping the tag: %d %s", st, body)
		}
		if st, body := team(http.MethodPost, viewLinkPath("default", "team-view", "metrics"), `{"keys":["m"]}`); st != http.StatusOK {
			t.Errorf("link a metric: %d %s", st, body)
		}
		st, body = team(http.MethodPost, viewLinkPath("default", "team-view", "flags"), `{"keys":["f"]}`)
		wantError(t, "link a flag", st, body, http.StatusForbidden, "linkFlagToView")
		st, body = team(http.MethodDelete, viewPath("default", "team-view"), "")
		wantError(t, "delete", st, body, http.StatusForbidden, "deleteView")
		if st, body := e.viewDo(t, http.MethodGet, viewPath("default", "team-view")+"?expand=flagsSummary,metricsSummary", ""); st != http.StatusOK ||
			obj(t, body)["flagsSummary"].(map[string]any)["count"] != float64(0) || obj(t, body)["metricsSummary"].(map[string]any)["count"] != float64(1) {
			t.Errorf("after the refused writes: %d %s", st, body)
		}
		if got := e.metricKeysInView(t, "default", "untagged"); len(got) != 0 {
			t.Errorf("refused create left metrics: %v", got)
		}
		if st, _ := e.viewDo(t, http.MethodGet, viewPath("default", "untagged"), ""); st != http.StatusNotFound {
			t.Errorf("refused create stored the view: %d", st)
		}

		_, nv := newToken(t, e.client, ldapi.AccessTokenPost{InlineRole: []ldapi.StatementPost{allow([]string{"createView"}, "proj/*:view/*")}})
		st, body = as(nv)(http.MethodGet, viewsPath("default"), "")
		wantError(t, "list without viewProject", st, body, http.StatusForbidden, "viewProject")
	})
}
