package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/testdb"
)

// ownerAccess is the _access the bootstrap admin token (the owner's
// permissions) gets on a resource offering actions: all allowed by the
// owner role's one statement.
func ownerAccess(_ testing.TB, actions []action.Action) map[string]any {
	allowed := make([]any, 0, len(actions))
	for _, a := range actions {
		allowed = append(allowed, map[string]any{"action": string(a), "reason": map[string]any{
			"effect": "allow", "resources": []any{"*"}, "actions": []any{"*"}, "role_name": "owner"}})
	}
	return map[string]any{"allowed": allowed, "denied": []any{}}
}

var tokenValue = regexp.MustCompile(`^api-[0-9a-f]{48}$`)

// newToken creates a token with the admin client and returns it with its
// value.
func newToken(t testing.TB, c *ldapi.APIClient, post ldapi.AccessTokenPost) (*ldapi.Token, string) {
	t.Helper()
	tok, resp, err := c.AccessTokensApi.PostToken(context.Background()).AccessTokenPost(post).Execute()
	if err != nil || status(resp) != http.StatusCreated {
		t.Fatalf("create token: %v (status %d)", err, status(resp))
	}
	if !tokenValue.MatchString(tok.GetToken()) {
		t.Fatalf("created token value %q is not api- and 48 hex digits", tok.GetToken())
	}
	return tok, tok.GetToken()
}

// newRole creates a custom role with the admin client.
func newRole(t testing.TB, c *ldapi.APIClient, key string, policy ...ldapi.StatementPost) *ldapi.CustomRole {
	t.Helper()
	r, resp, err := c.CustomRolesApi.PostCustomRole(context.Background()).CustomRolePost(ldapi.CustomRolePost{Key: key, Name: key, Policy: policy}).Execute()
	if err != nil || status(resp) != http.StatusCreated {
		t.Fatalf("create role %s: %v (status %d)", key, err, status(resp))
	}
	return r
}

func allow(actions []string, resources ...string) ldapi.StatementPost {
	return ldapi.StatementPost{Effect: "allow", Actions: actions, Resources: resources}
}

func deny(actions []string, resources ...string) ldapi.StatementPost {
	return ldapi.StatementPost{Effect: "deny", Actions: actions, Resources: resources}
}

func replaceOp(path string, v any) []ldapi.PatchOperation {
	return []ldapi.PatchOperation{{Op: "replace", Path: path, Value: v}}
}

func TestAccessTokens(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		uctx := allowUndocumented(ctx)
		e.createMetric(t, "default", `{"key":"m","name":"M","kind":"custom","eventKey":"m","tags":["web"]}`)

		tok, value := newToken(t, e.client, ldapi.AccessTokenPost{Name: ptr("ci reader"), Role: ptr("reader")})
		if tok.GetRole() != "reader" || tok.GetMemberId() != e.ownerID || tok.GetServiceToken() || tok.GetDefaultApiVersion() != 20240415 {
			t.Errorf("created token: %+v", tok)
		}

		t.Run("the value is never readable again", func(t *testing.T) {
			got, resp, err := e.client.AccessTokensApi.GetToken(ctx, tok.Id).Execute()
			if err != nil {
				t.Fatalf("get token: %v", err)
			}
			if got.GetToken() != value[len(value)-4:] || strings.Contains(string(rawBody(t, resp)), value) {
				t.Errorf("GET shows token %q, want only its last four characters", got.GetToken())
			}
			list, resp, err := e.client.AccessTokensApi.GetTokens(ctx).Execute()
			if err != nil {
				t.Fatalf("list tokens: %v", err)
			}
			if strings.Contains(string(rawBody(t, resp)), value) {
				t.Error("the list shows a token value")
			}
			if list.GetTotalCount() != 2 { // the bootstrap token and this one
				t.Errorf("totalCount %d, want 2", list.GetTotalCount())
			}
		})

		reader := e.apiWithToken(t, value)
		t.Run("a reader can read but not write", func(t *testing.T) {
			if _, resp, err := reader.MetricsApi.GetMetric(ctx, "default", "m").Execute(); err != nil {
				t.Fatalf("reader GET: %v (status %d)", err, status(resp))
			}
			_, resp, err := reader.MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation(replaceOp("/name", "X")).Execute()
			clientError(t, "reader PATCH", resp, err, http.StatusForbidden, "updateName", "proj/default:metric/m")
			_, resp, err = reader.MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation(replaceOp("/tags", []string{"web"})).Execute()
			clientError(t, "reader PATCH that changes nothing", resp, err, http.StatusForbidden, "updateTags")
			_, resp, err = reader.MetricsApi.PostMetric(uctx, "default").MetricPost(ldapi.MetricPost{Key: "n", Kind: "custom", EventKey: ptr("n")}).Execute()
			clientError(t, "reader POST", resp, err, http.StatusForbidden, "createMetric")
			resp, err = reader.MetricsApi.DeleteMetric(uctx, "default", "m").Execute()
			clientError(t, "reader DELETE", resp, err, http.StatusForbidden, "deleteMetric")
			_, resp, err = reader.AccessTokensApi.PostToken(uctx).AccessTokenPost(ldapi.AccessTokenPost{Role: ptr("writer")}).Execute()
			clientError(t, "reader token making a writer token", resp, err, http.StatusForbidden)
			if got := e.getMetric(t, "default", "m", ""); got["name"] != "M" || got["_version"] != float64(1) {
				t.Errorf("the refused writes changed the metric: %v", got)
			}
			m := e.getMetricWith(t, value, "default", "m")
			acc := m["_access"].(map[string]any)
			if len(acc["allowed"].([]any)) != 0 || len(acc["denied"].([]any)) != len(action.MetricActions()) {
				t.Errorf("reader _access: %v", acc)
			}
		})

		t.Run("caller identity", func(t *testing.T) {
			id, _, err := reader.OtherApi.GetCallerIdentity(ctx).Execute()
			if err != nil {
				t.Fatalf("caller identity: %v", err)
			}
			if id.GetTokenId() != tok.Id || id.GetMemberId() != e.ownerID || id.GetAccountId() != e.ownerID || id.GetTokenKind() != "personal" || id.GetServiceToken() {
				t.Errorf("caller identity: %+v", id)
			}
		})

		t.Run("patch, reset and delete", func(t *testing.T) {
			got, _, err := e.client.AccessTokensApi.PatchToken(ctx, tok.Id).PatchOperation(replaceOp("/name", "renamed")).Execute()
			if err != nil || got.GetName() != "renamed" || got.GetToken() != value[len(value)-4:] {
				t.Fatalf("patch token: %v %+v", err, got)
			}
			_, resp, err := e.client.AccessTokensApi.PatchToken(uctx, tok.Id).PatchOperation(replaceOp("/serviceToken", true)).Execute()
			clientError(t, "patch serviceToken", resp, err, http.StatusBadRequest, "serviceToken is read-only")

			reset, _, err := e.client.AccessTokensApi.ResetToken(ctx, tok.Id).Execute()
			if err != nil || !tokenValue.MatchString(reset.GetToken()) || reset.GetToken() == value {
				t.Fatalf("reset: %v %q", err, reset.GetToken())
			}
			st, body, _ := e.do(t, "GET", "/api/v2/projects", "", "Authorization: "+value)
			wantError(t, "old value after reset", st, body, http.StatusUnauthorized)
			if st, body, _ := e.do(t, "GET", "/api/v2/projects", "", "Authorization: "+reset.GetToken()); st != http.StatusOK {
				t.Fatalf("new value: %d %s", st, body)
			}

			// A reset with a grace period keeps the old value until then.
			again, _, err := e.client.AccessTokensApi.ResetToken(ctx, tok.Id).Expiry(time.Now().Add(time.Hour).UnixMilli()).Execute()
			if err != nil {
				t.Fatalf("reset with expiry: %v", err)
			}
			for _, v := range []string{reset.GetToken(), again.GetToken()} {
				if st, body, _ := e.do(t, "GET", "/api/v2/projects", "", "Authorization: "+v); st != http.StatusOK {
					t.Errorf("value inside the grace period: %d %s", st, body)
				}
			}

			if resp, err := e.client.AccessTokensApi.DeleteToken(ctx, tok.Id).Execute(); err != nil || status(resp) != http.StatusNoContent {
				t.Fatalf("delete: %v", err)
			}
			for _, v := range []string{reset.GetToken(), again.GetToken()} {
				st, body, _ := e.do(t, "GET", "/api/v2/projects", "", "Authorization: "+v)
				wantError(t, "deleted token", st, body, http.StatusUnauthorized)
			}
			_, resp, err = e.client.AccessTokensApi.GetToken(uctx, tok.Id).Execute()
			clientError(t, "get deleted token", resp, err, http.StatusNotFound)
		})

		t.Run("members see only their own tokens", func(t *testing.T) {
			ids := e.createMembers(t, `[{"email":"w@example.com","role":"writer"}]`)
			st, body, _ := e.do(t, "POST", "/api/v2/tokens", fmt.Sprintf(`{"name":"w","role":"writer","memberId":%q}`, ids[0]))
			if st != http.StatusCreated {
				t.Fatalf("admin creating a token for a member: %d %s", st, body)
			}
			wTok := obj(t, body)
			w := e.apiWithToken(t, wTok["token"].(string))
			list, _, err := w.AccessTokensApi.GetTokens(ctx).ShowAll(true).Execute()
			if err != nil || list.GetTotalCount() != 1 || list.Items[0].Id != wTok["_id"] {
				t.Errorf("writer's token list: %v %+v", err, list)
			}
			all, _, err := e.client.AccessTokensApi.GetTokens(ctx).ShowAll(true).Execute()
			if err != nil || all.GetTotalCount() != 2 {
				t.Errorf("admin's showAll: %v %d", err, all.GetTotalCount())
			}
			bootstrap := ""
			for _, it := range all.Items {
				if it.GetMemberId() == e.ownerID {
					bootstrap = it.Id
				}
			}
			_, resp, err := w.AccessTokensApi.GetToken(uctx, bootstrap).Execute()
			clientError(t, "writer reading the owner's token", resp, err, http.StatusNotFound)
			resp, err = w.AccessTokensApi.DeleteToken(uctx, bootstrap).Execute()
			clientError(t, "writer deleting the owner's token", resp, err, http.StatusNotFound)
			_, resp, err = w.AccessTokensApi.PostToken(uctx).AccessTokenPost(ldapi.AccessTokenPost{ServiceToken: ptr(true), Role: ptr("reader")}).Execute()
			clientError(t, "writer making a service token", resp, err, http.StatusForbidden, "createAccessToken")
			st, body, _ = e.doUndoc(t, "POST", "/api/v2/tokens", fmt.Sprintf(`{"role":"writer","memberId":%q}`, e.ownerID), "Authorization: "+wTok["token"].(string))
			wantError(t, "writer making a token for the owner", st, body, http.StatusForbidden, "createAccessToken")
		})

		t.Run("bad token bodies", func(t *testing.T) {
			for _, c := range []struct{ body, msg string }{
				{`{"role":"owner"}`, "role must be one of reader, writer, admin"},
				{`{"role":"reader","customRoleIds":["x"]}`, "one of role, customRoleIds or inlineRole"},
				{`{"customRoleIds":["nope"]}`, `customRoleIds: no custom role has the key or ID "nope"`},
				{`{"inlineRole":[{"effect":"maybe","resources":["proj/*"],"actions":["*"]}]}`, "inlineRole[0].effect"},
				{`{"inlineRole":[{"effect":"allow","resources":["env/x"],"actions":["*"]}]}`, "inlineRole[0].resources[0]"},
				{`{"defaultApiVersion":1}`, "defaultApiVersion must be 20240415"},
				{`{"value":"mine"}`, "value"},
			} {
				st, body, _ := e.doUndoc(t, "POST", "/api/v2/tokens", c.body)
				wantError(t, c.body, st, body, http.StatusBadRequest, c.msg)
			}
		})
	})
}

// getMetricWith reads a metric with another token.
func (e *env) getMetricWith(t testing.TB, token, project, key string) map[string]any {
	t.Helper()
	st, b, _ := e.do(t, http.MethodGet, metricPath(project, key), "", "Authorization: "+token)
	if st != http.StatusOK {
		t.Fatalf("GET metric with token: %d %s", st, b)
	}
	return obj(t, b)
}

func TestCustomRoles(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		uctx := allowUndocumented(ctx)
		e.createMetric(t, "default", `{"key":"m","name":"M","kind":"custom","eventKey":"m","tags":["team-a"]}`)

		renamer := newRole(t, e.client, "renamer", allow([]string{"updateName"}, "proj/default:metric/*"))
		if renamer.Key != "renamer" || len(renamer.Policy) != 1 || renamer.Policy[0].GetEffect() != "allow" {
			t.Errorf("created role: %+v", renamer)
		}
		_, rv := newToken(t, e.client, ldapi.AccessTokenPost{CustomRoleIds: []string{renamer.Id}})
		rc := e.apiWithToken(t, rv)

		t.Run("allow only updateName: can rename, cannot retag", func(t *testing.T) {
			got, resp, err := rc.MetricsApi.PatchMetric(ctx, "default", "m").PatchOperation(replaceOp("/name", "Renamed")).Execute()
			if err != nil || got.Name != "Renamed" {
				t.Fatalf("rename: %v (status %d)", err, status(resp))
			}
			_, resp, err = rc.MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation([]ldapi.PatchOperation{
				{Op: "replace", Path: "/name", Value: "Both"}, {Op: "add", Path: "/tags/-", Value: "x"}}).Execute()
			clientError(t, "rename and retag", resp, err, http.StatusForbidden, "updateTags")
			if m := e.getMetric(t, "default", "m", ""); m["name"] != "Renamed" || len(m["tags"].([]any)) != 1 {
				t.Errorf("a refused patch changed the metric: %v %v", m["name"], m["tags"])
			}
			// It reads the metric through the role's base permissions
			// (reader, the default), and _access says so.
			m, resp, err := rc.MetricsApi.GetMetric(ctx, "default", "m").Execute()
			if err != nil {
				t.Fatalf("GET with the role: %v (status %d)", err, status(resp))
			}
			if renamer.GetBasePermissions() != "reader" {
				t.Errorf("basePermissions = %q, want reader", renamer.GetBasePermissions())
			}
			allowed := map[string]string{}
			for _, a := range m.Access.Allowed {
				allowed[a.Action] = a.Reason.GetRoleName()
			}
			if d := cmp.Diff(map[string]string{"updateName": "renamer"}, allowed); d != "" {
				t.Errorf("allowed actions (-want +got):\n%s", d)
			}
			if st, body, _ := e.do(t, "GET", "/api/v2/metrics/default", "", "Authorization: "+rv); st != http.StatusOK || len(items(t, obj(t, body))) != 1 {
				t.Errorf("list with the role: %d %s", st, body)
			}
		})

		t.Run("no_access base permissions: no implicit read", func(t *testing.T) {
			r, resp, err := e.client.CustomRolesApi.PostCustomRole(ctx).CustomRolePost(ldapi.CustomRolePost{Key: "bare-renamer", Name: "bare",
				BasePermissions: ptr("no_access"), Policy: []ldapi.StatementPost{allow([]string{"updateName"}, "proj/default:metric/*")}}).Execute()
			if err != nil || r.GetBasePermissions() != "no_access" {
				t.Fatalf("create: %v (status %d) %+v", err, status(resp), r)
			}
			_, v := newToken(t, e.client, ldapi.AccessTokenPost{CustomRoleIds: []string{r.Key}})
			st, body, _ := e.doUndoc(t, "GET", metricPath("default", "m"), "", "Authorization: "+v)
			wantError(t, "GET without viewProject", st, body, http.StatusForbidden, "viewProject", "proj/default")
			// Nor change what it may not view, as in LaunchDarkly.
			_, resp, err = e.apiWithToken(t, v).MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation(replaceOp("/name", "Bare")).Execute()
			clientError(t, "rename without viewProject", resp, err, http.StatusForbidden, "action updateName", "it needs viewProject on proj/default")
			m, _, err := e.client.MetricsApi.GetMetric(ctx, "default", "m").Execute()
			if err != nil || m.Name == "Bare" {
				t.Errorf("the refused rename changed the metric: %v %q", err, m.GetName())
			}
			_, resp, err = e.client.CustomRolesApi.PostCustomRole(uctx).CustomRolePost(ldapi.CustomRolePost{Key: "odd", Name: "odd",
				BasePermissions: ptr("writer"), Policy: []ldapi.StatementPost{allow([]string{"*"}, "proj/*")}}).Execute()
			clientError(t, "basePermissions writer", resp, err, http.StatusBadRequest, "basePermissions")
		})

		t.Run("a deny of viewProject hides the project", func(t *testing.T) {
			r := newRole(t, e.client, "hidden", allow([]string{"updateName"}, "proj/*:metric/*"), deny([]string{"viewProject"}, "proj/default"))
			_, v := newToken(t, e.client, ldapi.AccessTokenPost{CustomRoleIds: []string{r.Key}})
			st, body, _ := e.doUndoc(t, "GET", metricPath("default", "m"), "", "Authorization: "+v)
			wantError(t, "GET of a hidden project", st, body, http.StatusForbidden, "viewProject", "denied by a statement of role hidden")
			st, body, _ = e.do(t, "GET", "/api/v2/projects", "", "Authorization: "+v)
			if st != http.StatusOK {
				t.Fatalf("project list: %d %s", st, body)
			}
			for _, p := range items(t, obj(t, body)) {
				if p["key"] == "default" {
					t.Errorf("the project list shows the hidden project: %s", body)
				}
			}
		})

		t.Run("deny beats allow", func(t *testing.T) {
			r := newRole(t, e.client, "no-rename", allow([]string{"*"}, "proj/*", "proj/*:metric/*"), deny([]string{"updateName"}, "proj/default:metric/*"))
			_, v := newToken(t, e.client, ldapi.AccessTokenPost{CustomRoleIds: []string{r.Key}})
			c := e.apiWithToken(t, v)
			_, resp, err := c.MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation(replaceOp("/name", "No")).Execute()
			clientError(t, "denied rename", resp, err, http.StatusForbidden, "updateName", "denied by a statement of role no-rename")
			if _, _, err := c.MetricsApi.PatchMetric(ctx, "default", "m").PatchOperation(replaceOp("/description", "yes")).Execute(); err != nil {
				t.Errorf("allowed description change: %v", err)
			}
			m, _, err := c.MetricsApi.GetMetric(ctx, "default", "m").Execute()
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			for _, d := range m.Access.Denied {
				if d.Action == "updateName" && (d.Reason.Effect != "deny" || d.Reason.GetRoleName() != "no-rename") {
					t.Errorf("updateName denied for %+v", d.Reason)
				}
			}
		})

		t.Run("tag selectors hold before and after", func(t *testing.T) {
			r := newRole(t, e.client, "team-a-tags", allow([]string{"updateTags"}, "proj/default:metric/*;team-a"))
			_, v := newToken(t, e.client, ldapi.AccessTokenPost{CustomRoleIds: []string{r.Key}})
			c := e.apiWithToken(t, v)
			_, resp, err := c.MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation(replaceOp("/tags", []string{"team-b"})).Execute()
			clientError(t, "removing the selected tag", resp, err, http.StatusForbidden, "updateTags")
			if _, resp, err := c.MetricsApi.PatchMetric(ctx, "default", "m").PatchOperation([]ldapi.PatchOperation{{Op: "add", Path: "/tags/-", Value: "team-b"}}).Execute(); err != nil {
				t.Fatalf("adding a tag, keeping the selected one: %v (status %d)", err, status(resp))
			}
			e.createMetric(t, "default", `{"key":"other","kind":"custom","eventKey":"o","tags":["team-b"]}`)
			_, resp, err = c.MetricsApi.PatchMetric(uctx, "default", "other").PatchOperation(replaceOp("/tags", []string{"team-a"})).Execute()
			clientError(t, "adding the selected tag to another metric", resp, err, http.StatusForbidden, "updateTags")
		})

		t.Run("notActions and notResources", func(t *testing.T) {
			r, _, err := e.client.CustomRolesApi.PostCustomRole(ctx).CustomRolePost(ldapi.CustomRolePost{Key: "all-but-delete", Name: "all-but-delete", BasePermissions: ptr("no_access"),
				Policy: []ldapi.StatementPost{
					{Effect: "allow", NotActions: []string{"deleteMetric"}, Resources: []string{"proj/*:metric/*"}},
					{Effect: "allow", Actions: []string{"*"}, NotResources: []string{"proj/*:metric/*", "member/*", "member/*:token/*", "role/*", "team/*"}}}}).Execute()
			if err != nil {
				t.Fatalf("create role: %v", err)
			}
			_, v := newToken(t, e.client, ldapi.AccessTokenPost{CustomRoleIds: []string{r.Key}})
			c := e.apiWithToken(t, v)
			resp, err := c.MetricsApi.DeleteMetric(uctx, "default", "other").Execute()
			clientError(t, "delete under notActions", resp, err, http.StatusForbidden, "deleteMetric")
			if _, _, err := c.MetricsApi.PatchMetric(ctx, "default", "other").PatchOperation(replaceOp("/description", "d")).Execute(); err != nil {
				t.Errorf("update under notActions: %v", err)
			}
			if _, _, err := c.MetricsApi.GetMetric(ctx, "default", "other").Execute(); err != nil {
				t.Errorf("read under notResources: %v", err)
			}
			_, resp, err = c.CustomRolesApi.GetCustomRoles(uctx).Execute()
			clientError(t, "roles under notResources", resp, err, http.StatusForbidden, "viewRole")
		})

		t.Run("editing a role takes effect", func(t *testing.T) {
			p := ldapi.PatchWithComment{Patch: []ldapi.PatchOperation{{Op: "replace", Path: "/policy/0/actions", Value: []string{"updateDescription"}}}, Comment: ptr("narrower")}
			got, _, err := e.client.CustomRolesApi.PatchCustomRole(ctx, "renamer").PatchWithComment(p).Execute()
			if err != nil || got.Policy[0].Actions[0] != "updateDescription" {
				t.Fatalf("patch role: %v %+v", err, got)
			}
			_, resp, err := rc.MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation(replaceOp("/name", "Again")).Execute()
			clientError(t, "rename after the role changed", resp, err, http.StatusForbidden, "updateName")
			bad := ldapi.PatchWithComment{Patch: []ldapi.PatchOperation{{Op: "replace", Path: "/policy/0/effect", Value: "perhaps"}}}
			_, resp, err = e.client.CustomRolesApi.PatchCustomRole(uctx, "renamer").PatchWithComment(bad).Execute()
			clientError(t, "invalid policy", resp, err, http.StatusBadRequest, "policy[0].effect")
		})

		t.Run("a role in use cannot be deleted", func(t *testing.T) {
			resp, err := e.client.CustomRolesApi.DeleteCustomRole(uctx, "renamer").Execute()
			clientError(t, "delete held role", resp, err, http.StatusConflict, `custom role "renamer" is held by 0 members and 1 tokens`)
			r := newRole(t, e.client, "unused", allow([]string{"*"}, "proj/*"))
			if resp, err := e.client.CustomRolesApi.DeleteCustomRole(ctx, r.Key).Execute(); err != nil || status(resp) != http.StatusNoContent {
				t.Errorf("delete unused role: %v", err)
			}
			list, _, err := e.client.CustomRolesApi.GetCustomRoles(ctx).Execute()
			if err != nil || list.GetTotalCount() != 6 {
				t.Errorf("roles left: %v %d", err, list.GetTotalCount())
			}
			_, resp, err = e.client.CustomRolesApi.PostCustomRole(uctx).CustomRolePost(ldapi.CustomRolePost{Key: "renamer", Name: "again", Policy: []ldapi.StatementPost{allow([]string{"*"}, "proj/*")}}).Execute()
			clientError(t, "duplicate key", resp, err, http.StatusConflict)
		})
	})
}

func TestMemberCustomRoles(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		uctx := allowUndocumented(ctx)
		e.createMetric(t, "default", `{"key":"m","name":"M","kind":"custom","eventKey":"m"}`)
		r := newRole(t, e.client, "renamer", allow([]string{"updateName"}, "proj/default:metric/*"))
		ms, _, err := e.client.AccountMembersApi.PostMembers(ctx).NewMemberForm([]ldapi.NewMemberForm{
			{Email: "kim@example.com", Role: ptr("reader"), CustomRoles: []string{"renamer"}}}).Execute()
		if err != nil || len(ms.Items) != 1 || !slices.Equal(ms.Items[0].CustomRoles, []string{r.Id}) {
			t.Fatalf("create member with a custom role: %v %+v", err, ms)
		}
		kim := ms.Items[0].Id
		st, body, _ := e.do(t, "POST", "/api/v2/tokens", fmt.Sprintf(`{"customRoleIds":["renamer"],"memberId":%q}`, kim))
		if st != http.StatusCreated {
			t.Fatalf("token for kim: %d %s", st, body)
		}
		kc := e.apiWithToken(t, obj(t, body)["token"].(string))
		if _, _, err := kc.MetricsApi.PatchMetric(ctx, "default", "m").PatchOperation(replaceOp("/name", "By Kim")).Execute(); err != nil {
			t.Fatalf("kim renames: %v", err)
		}

		// Taking the role away takes the permission with it, at once on
		// this replica.
		m, _, err := e.client.AccountMembersApi.PatchMember(ctx, kim).PatchOperation([]ldapi.PatchOperation{{Op: "remove", Path: "/customRoles/0"}}).Execute()
		if err != nil || len(m.CustomRoles) != 0 {
			t.Fatalf("remove kim's role: %v %+v", err, m)
		}
		_, resp, err := kc.MetricsApi.PatchMetric(uctx, "default", "m").PatchOperation(replaceOp("/name", "Again")).Execute()
		clientError(t, "kim renames without the role", resp, err, http.StatusForbidden, "updateName")

		m, _, err = e.client.AccountMembersApi.PatchMember(ctx, kim).PatchOperation([]ldapi.PatchOperation{
			{Op: "add", Path: "/customRoles/0", Value: r.Id}, {Op: "replace", Path: "/role", Value: "writer"}}).Execute()
		if err != nil || m.Role != "writer" || !slices.Equal(m.CustomRoles, []string{r.Id}) {
			t.Fatalf("patch kim: %v %+v", err, m)
		}
		_, resp, err = kc.AccountMembersApi.PatchMember(uctx, kim).PatchOperation(replaceOp("/role", "admin")).Execute()
		clientError(t, "kim making herself admin", resp, err, http.StatusForbidden, "updateRole")
		_, resp, err = e.client.AccountMembersApi.PatchMember(uctx, e.ownerID).PatchOperation(replaceOp("/role", "reader")).Execute()
		clientError(t, "demoting the owner", resp, err, http.StatusForbidden, "owner")
		_, resp, err = e.client.AccountMembersApi.PatchMember(uctx, kim).PatchOperation(replaceOp("/email", "x@example.com")).Execute()
		clientError(t, "changing the email", resp, err, http.StatusBadRequest, "email is read-only")
		resp, err = e.client.CustomRolesApi.DeleteCustomRole(uctx, "renamer").Execute()
		clientError(t, "delete a role kim and her token hold", resp, err, http.StatusConflict, "1 members and 1 tokens")
	})
}

// accessProbe performs one action of an _access list on a metric with a
// client and returns the status.
type accessProbe func(c *ldapi.APIClient, key string) (*http.Response, error)

func metricPatchProbe(ops ...ldapi.PatchOperation) accessProbe {
	return func(c *ldapi.APIClient, key string) (*http.Response, error) {
		_, resp, err := c.MetricsApi.PatchMetric(allowUndocumented(context.Background()), "default", key).PatchOperation(ops).Execute()
		return resp, err
	}
}

// TestAccessMatchesEnforcement reads _access with several grants and
// performs every listed action that a request can take: allowed ones must
// succeed and denied ones answer 403.
func TestAccessMatchesEnforcement(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		uctx := allowUndocumented(ctx)
		probes := map[string]accessProbe{
			"updateName":               metricPatchProbe(ldapi.PatchOperation{Op: "replace", Path: "/name", Value: "N"}),
			"updateDescription":        metricPatchProbe(ldapi.PatchOperation{Op: "replace", Path: "/description", Value: "D"}),
			"updateTags":               metricPatchProbe(ldapi.PatchOperation{Op: "add", Path: "/tags/-", Value: "web"}),
			"updateEventKey":           metricPatchProbe(ldapi.PatchOperation{Op: "replace", Path: "/eventKey", Value: "other-event"}),
			"updateRandomizationUnits": metricPatchProbe(ldapi.PatchOperation{Op: "replace", Path: "/randomizationUnits", Value: []string{"request"}}),
			"updateArchived":           metricPatchProbe(ldapi.PatchOperation{Op: "replace", Path: "/archived", Value: true}),
			"deleteMetric": func(c *ldapi.APIClient, key string) (*http.Response, error) {
				return c.MetricsApi.DeleteMetric(uctx, "default", key).Execute()
			},
			"createMetric": func(c *ldapi.APIClient, key string) (*http.Response, error) {
				_, resp, err := c.MetricsApi.PostMetric(uctx, "default").MetricPost(ldapi.MetricPost{Key: key + "-copy", Kind: "custom", EventKey: ptr("e"), Tags: []string{"revenue"}}).Execute()
				return resp, err
			},
		}
		grants := []struct {
			name string
			post ldapi.AccessTokenPost
		}{
			{"reader", ldapi.AccessTokenPost{Role: ptr("reader")}},
			{"writer", ldapi.AccessTokenPost{Role: ptr("writer")}},
			{"inline mix", ldapi.AccessTokenPost{InlineRole: []ldapi.StatementPost{
				allow([]string{"viewProject"}, "proj/*"),
				allow([]string{"update*", "createMetric"}, "proj/default:metric/*;revenue", "proj/default:metric-group/*;revenue"),
				deny([]string{"updateEventKey", "updateArchived"}, "proj/*:metric/*"),
			}}},
			{"not actions", ldapi.AccessTokenPost{InlineRole: []ldapi.StatementPost{
				allow([]string{"viewProject"}, "proj/*"),
				{Effect: "allow", NotActions: []string{"updateName", "createMetric"}, Resources: []string{"proj/*:metric/*"}},
			}}},
			// A custom role with the default (reader) base permissions:
			// it reads through them and writes only what its policy says.
			{"custom role, reader base", ldapi.AccessTokenPost{CustomRoleIds: []string{newRole(t, e.client, "editor",
				allow([]string{"updateName", "updateTags", "deleteMetric"}, "proj/default:metric/*;revenue"),
				deny([]string{"deleteMetric"}, "proj/*:metric/*")).Key}}},
		}
		for i, g := range grants {
			t.Run(g.name, func(t *testing.T) {
				_, v := newToken(t, e.client, g.post)
				c := e.apiWithToken(t, v)
				for action, probe := range probes {
					key := fmt.Sprintf("g%d-%s", i, strings.ToLower(action))
					e.createMetric(t, "default", fmt.Sprintf(`{"key":%q,"kind":"custom","eventKey":"e","tags":["revenue"]}`, key))
					m, _, err := c.MetricsApi.GetMetric(ctx, "default", key).Execute()
					if err != nil {
						t.Fatalf("GET: %v", err)
					}
					allowed := slices.ContainsFunc(m.Access.Allowed, func(a ldapi.AccessAllowedRep) bool { return a.Action == action })
					denied := slices.ContainsFunc(m.Access.Denied, func(a ldapi.AccessDenied) bool { return a.Action == action })
					if allowed == denied {
						t.Fatalf("%s is allowed %v and denied %v", action, allowed, denied)
					}
					resp, err := probe(c, key)
					switch {
					case allowed && err != nil:
						t.Errorf("%s is listed as allowed but answered %d: %v", action, status(resp), err)
					case denied && status(resp) != http.StatusForbidden:
						t.Errorf("%s is listed as denied but answered %d", action, status(resp))
					}
				}
			})
		}

		// The list shows _access on every item, and a group's too.
		_, v := newToken(t, e.client, grants[2].post)
		st, body, _ := e.do(t, "GET", "/api/v2/metrics/default?limit=5", "", "Authorization: "+v)
		if st != http.StatusOK {
			t.Fatalf("list: %d %s", st, body)
		}
		for _, it := range items(t, obj(t, body)) {
			if _, ok := it["_access"].(map[string]any); !ok {
				t.Errorf("list item %v has no _access", it["key"])
			}
		}
		e.mgCreate(t, "default", `{"key":"g","name":"G","kind":"standard","tags":["revenue"],"metrics":[{"key":"g0-updatename"},{"key":"g0-updatetags"}]}`)
		cfg := ldapi.NewConfiguration()
		cfg.Servers = ldapi.ServerConfigurations{{URL: e.base}}
		cfg.AddDefaultHeader("Authorization", v)
		cfg.AddDefaultHeader("LD-API-Version", "beta")
		cfg.HTTPClient = e.httpClient(t)
		gc := ldapi.NewAPIClient(cfg)
		g, resp, err := gc.MetricsBetaApi.GetMetricGroup(ctx, "default", "g").Execute()
		if err != nil {
			t.Fatalf("get group: %v %s", err, rawBody(t, resp))
		}
		var gotAllowed []string
		for _, a := range g.Access.Allowed {
			gotAllowed = append(gotAllowed, a.Action)
		}
		want := []string{"updateMetricGroupName", "updateMetricGroupDescription", "updateMetricGroupTags", "updateMetricGroupMaintainer", "updateMetricGroupMetrics", "updateMetricGroupKind"}
		if d := cmp.Diff(want, gotAllowed); d != "" {
			t.Errorf("group allowed actions (-want +got):\n%s", d)
		}
		_, resp, err = gc.MetricsBetaApi.PatchMetricGroup(ctx, "default", "g").PatchOperation(replaceOp("/name", "G2")).Execute()
		if err != nil {
			t.Errorf("allowed group rename: %d %v", status(resp), err)
		}
		resp, err = gc.MetricsBetaApi.DeleteMetricGroup(uctx, "default", "g").Execute()
		clientError(t, "denied group delete", resp, err, http.StatusForbidden, "deleteMetricGroup")
	})
}

var pathVar = regexp.MustCompile(`\{[^}]+\}`)

// TestEveryRouteNeedsAValidToken walks the route table: every route and
// method answers 401 without a token, with a deleted token and with an SDK
// key. It serves the running app's store through a second api.Server
// without the failed-authentication limit, which would otherwise answer
// 429 after the first few refusals from one address.
func TestEveryRouteNeedsAValidToken(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		envs, _, err := e.client.EnvironmentsApi.GetEnvironmentsByProject(ctx, "default").Execute()
		if err != nil || len(envs.Items) == 0 || envs.Items[0].ApiKey == "" {
			t.Fatalf("environments: %v", err)
		}
		sdkKey := envs.Items[0].ApiKey
		tok, revoked := newToken(t, e.client, ldapi.AccessTokenPost{Role: ptr("admin")})
		if st, body, _ := e.do(t, "GET", "/api/v2/caller-identity", "", "Authorization: "+revoked); st != http.StatusOK {
			t.Fatalf("token before revoking: %d %s", st, body)
		}
		if _, err := e.client.AccessTokensApi.DeleteToken(ctx, tok.Id).Execute(); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		srv := api.New(catalog.New(e.app.Store()), api.Options{AuthFailureLimit: -1})
		hs := httptest.NewServer(srv)
		defer hs.Close()
		n := 0
		for _, r := range srv.Routes() {
			path := pathVar.ReplaceAllString(r.Pattern, "default")
			for _, m := range r.Methods {
				for _, cred := range []struct{ name, value string }{{"no token", ""}, {"revoked token", revoked}, {"SDK key", sdkKey}} {
					req, _ := http.NewRequest(m, hs.URL+path, strings.NewReader("{}"))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("LD-API-Version", "beta")
					if cred.value != "" {
						req.Header.Set("Authorization", cred.value)
					}
					resp, err := hs.Client().Do(req)
					if err != nil {
						t.Fatalf("%s %s: %v", m, path, err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					wantError(t, fmt.Sprintf("%s %s with %s", m, r.Pattern, cred.name), resp.StatusCode, body, http.StatusUnauthorized)
					n++
				}
			}
		}
		if n < 3*30 {
			t.Errorf("only %d requests: the route table is smaller than expected", n)
		}
	})
}

// TestAccessAcrossReplicas revokes a token, narrows a role and takes a
// member's custom role through one replica and checks that another replica, which had them cached, stops
// honouring them within the authentication cache's time to live.
func TestAccessAcrossReplicas(t *testing.T) {
	b := testdb.New(t, "postgres")
	const ttl = 500 * time.Millisecond
	a1, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, AuthCacheTTL: ttl})
	a2, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, AuthCacheTTL: ttl})
	e1, e2 := newEnv(t, b, a1, testAdminToken), newEnv(t, b, a2, testAdminToken)
	ctx := context.Background()
	e1.createMetric(t, "default", `{"key":"m","kind":"custom","eventKey":"m"}`)
	newRole(t, e1.client, "renamer", allow([]string{"updateName", "updateDescription"}, "proj/default:metric/*"))
	tok, v := newToken(t, e1.client, ldapi.AccessTokenPost{Role: ptr("reader")})
	_, rv := newToken(t, e1.client, ldapi.AccessTokenPost{CustomRoleIds: []string{"renamer"}})
	// Kim holds "describer" as a member, and her token holds it too, so
	// taking it from her member takes it from the token.
	newRole(t, e1.client, "describer", allow([]string{"updateDescription"}, "proj/default:metric/*"))
	ms, _, err := e1.client.AccountMembersApi.PostMembers(ctx).NewMemberForm([]ldapi.NewMemberForm{
		{Email: "kim@example.com", Role: ptr("reader"), CustomRoles: []string{"describer"}}}).Execute()
	if err != nil || len(ms.Items) != 1 {
		t.Fatalf("create kim: %v", err)
	}
	kim := ms.Items[0].Id
	st, body, _ := e1.do(t, "POST", "/api/v2/tokens", fmt.Sprintf(`{"customRoleIds":["describer"],"memberId":%q}`, kim))
	if st != http.StatusCreated {
		t.Fatalf("token for kim: %d %s", st, body)
	}
	k2 := e2.apiWithToken(t, obj(t, body)["token"].(string))
	if _, _, err := k2.MetricsApi.PatchMetric(ctx, "default", "m").PatchOperation(replaceOp("/description", "by kim")).Execute(); err != nil {
		t.Fatalf("kim describes through replica 2: %v", err)
	}

	// Replica 2 caches both tokens.
	if st, body, _ := e2.do(t, "GET", "/api/v2/projects", "", "Authorization: "+v); st != http.StatusOK {
		t.Fatalf("replica 2 before revoking: %d %s", st, body)
	}
	c2 := e2.apiWithToken(t, rv)
	if _, _, err := c2.MetricsApi.PatchMetric(ctx, "default", "m").PatchOperation(replaceOp("/name", "One")).Execute(); err != nil {
		t.Fatalf("rename through replica 2: %v", err)
	}

	if _, err := e1.client.AccessTokensApi.DeleteToken(ctx, tok.Id).Execute(); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	p := ldapi.PatchWithComment{Patch: []ldapi.PatchOperation{{Op: "replace", Path: "/policy/0/actions", Value: []string{"updateDescription"}}}}
	if _, _, err := e1.client.CustomRolesApi.PatchCustomRole(ctx, "renamer").PatchWithComment(p).Execute(); err != nil {
		t.Fatalf("narrow the role: %v", err)
	}
	if _, _, err := e1.client.AccountMembersApi.PatchMember(ctx, kim).PatchOperation([]ldapi.PatchOperation{{Op: "remove", Path: "/customRoles/0"}}).Execute(); err != nil {
		t.Fatalf("take kim's role: %v", err)
	}
	// Replica 1 decides afresh at once.
	st, body, _ = e1.do(t, "GET", "/api/v2/projects", "", "Authorization: "+v)
	wantError(t, "revoked token on replica 1", st, body, http.StatusUnauthorized)

	time.Sleep(ttl + 100*time.Millisecond)
	st, body, _ = e2.do(t, "GET", "/api/v2/projects", "", "Authorization: "+v)
	wantError(t, "revoked token on replica 2 after the cache's TTL", st, body, http.StatusUnauthorized)
	_, resp, err := c2.MetricsApi.PatchMetric(allowUndocumented(ctx), "default", "m").PatchOperation(replaceOp("/name", "Two")).Execute()
	clientError(t, "rename on replica 2 after the role changed", resp, err, http.StatusForbidden, "updateName")
	_, resp, err = k2.MetricsApi.PatchMetric(allowUndocumented(ctx), "default", "m").PatchOperation(replaceOp("/description", "again")).Execute()
	clientError(t, "kim on replica 2 after her role was taken", resp, err, http.StatusForbidden, "updateDescription")
}
