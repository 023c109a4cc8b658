package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/access"
	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// policy50 is a 50-statement policy of the shape large accounts write:
// per-project grants with tag selectors that do not apply to the
// benchmark's project, a deny per project, and two that do apply, last.
func policy50(b testing.TB) access.Policy {
	var stmts []account.Statement
	for i := range 24 {
		stmts = append(stmts,
			account.Statement{Effect: "allow", Resources: []string{fmt.Sprintf("proj/team-%d:metric/*;t%d", i, i), fmt.Sprintf("proj/team-%d:metric-group/*", i)}, Actions: []string{"update*", "createMetric"}},
			account.Statement{Effect: "deny", Resources: []string{fmt.Sprintf("proj/team-%d:metric/*;locked", i)}, Actions: []string{"deleteMetric", "updateArchived"}},
		)
	}
	stmts = append(stmts,
		account.Statement{Effect: "allow", Resources: []string{"proj/*"}, Actions: []string{"viewProject"}},
		account.Statement{Effect: "allow", Resources: []string{"proj/bench:metric/*"}, Actions: []string{"update*"}},
	)
	p, err := account.CompilePolicy("policy", stmts, "big-role")
	if err != nil {
		b.Fatal(err)
	}
	if len(p) != 50 {
		b.Fatalf("policy has %d statements", len(p))
	}
	return p
}

// BenchmarkAccess measures what access control adds to metric reads on
// SQLite: a list page of 20 and a GET rendered without a principal (no
// _access, no checks), for the owner (one statement) and for a token with
// a 50-statement inline policy; and the read authorization of one request
// on its own.
//
//	go test -run=^$ -bench=BenchmarkAccess -benchtime=3000x ./internal/api/
func BenchmarkAccess(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, testdb.New(b, "sqlite").URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	cat := catalog.New(db)
	if _, err := cat.Auth.Bootstrap(ctx, "api-bench"); err != nil {
		b.Fatal(err)
	}
	p, _, err := cat.Projects.CreateProject(ctx, catalog.ProjectPost{Key: "bench", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	owner, err := db.Owner(ctx)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var ms []*catalog.Metric
	for i := range 200 {
		ms = append(ms, &catalog.Metric{ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key, Key: fmt.Sprintf("m-%03d", i),
			Kind: catalog.KindCustom, Version: 1, VersionID: uuid.NewString(), CreatedAt: now, UpdatedAt: now,
			Def: catalog.MetricDef{Name: fmt.Sprintf("M %d", i), Tags: []string{"all", fmt.Sprintf("t%d", i%10)}, EventKey: "e", MaintainerID: owner.ID,
				RandomizationUnits: []string{"user"}, AnalysisType: "mean", UnitAggregationType: "average", DataSource: catalog.DataSource{Key: "launchdarkly"}}})
	}
	if err := db.ImportMetrics(ctx, ms); err != nil {
		b.Fatal(err)
	}
	s := New(cat, Options{})
	ownerPolicy, _ := access.BuiltIn(access.RoleOwner, owner.ID)
	principals := []struct {
		name string
		p    core.Principal
	}{
		{"none", core.Principal{}},
		{"owner", core.Principal{MemberID: owner.ID, TokenID: "t", Grant: access.NewGrant(ownerPolicy)}},
		{"policy-50", core.Principal{MemberID: owner.ID, TokenID: "t", Grant: access.NewGrant(policy50(b), ownerPolicy)}},
	}
	call := func(b *testing.B, h handlerFunc, pattern, path string, p core.Principal, vars ...string) {
		r := httptest.NewRequest(http.MethodGet, path, nil).WithContext(core.WithPrincipal(ctx, p))
		for i := 0; i+1 < len(vars); i += 2 {
			r.SetPathValue(vars[i], vars[i+1])
		}
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			if err := authorizeRead(pattern, r); err != nil {
				b.Fatal(err)
			}
			if err := h(w, r); err != nil || w.Code != http.StatusOK {
				b.Fatalf("status %d: %v", w.Code, err)
			}
		}
	}
	for _, pr := range principals {
		b.Run("list-20/"+pr.name, func(b *testing.B) {
			call(b, s.listMetrics, "/api/v2/metrics/{projectKey}", "/api/v2/metrics/bench?limit=20", pr.p, "projectKey", "bench")
		})
	}
	// The ratio in one loop: each iteration serves the page without a
	// principal, with the 50-statement policy, and with that policy but
	// without the _access memo (a server whose memo is off), rotating
	// which goes first, so that whatever else the machine does weighs on
	// all three alike.
	b.Run("list-20-ab/policy-50", func(b *testing.B) {
		noMemo := New(cat, Options{})
		noMemo.accessMemo = nil
		serve := func(srv *Server, p core.Principal) time.Duration {
			r := httptest.NewRequest(http.MethodGet, "/api/v2/metrics/bench?limit=20", nil).WithContext(core.WithPrincipal(ctx, p))
			r.SetPathValue("projectKey", "bench")
			start := time.Now()
			w := httptest.NewRecorder()
			if err := authorizeRead("/api/v2/metrics/{projectKey}", r); err != nil {
				b.Fatal(err)
			}
			if err := srv.listMetrics(w, r); err != nil || w.Code != http.StatusOK {
				b.Fatalf("status %d: %v", w.Code, err)
			}
			return time.Since(start)
		}
		var spent [3]time.Duration
		arms := []func() time.Duration{
			func() time.Duration { return serve(s, principals[0].p) },
			func() time.Duration { return serve(s, principals[2].p) },
			func() time.Duration { return serve(noMemo, principals[2].p) },
		}
		i := 0
		for b.Loop() {
			for j := range arms {
				k := (i + j) % len(arms)
				spent[k] += arms[k]()
			}
			i++
		}
		b.ReportMetric(float64(spent[0].Nanoseconds())/float64(i), "bare-ns/page")
		b.ReportMetric(float64(spent[1].Nanoseconds())/float64(i), "access-ns/page")
		b.ReportMetric(float64(spent[1])/float64(spent[0]), "ratio")
		b.ReportMetric(float64(spent[2])/float64(spent[0]), "ratio-no-memo")
	})
	for _, pr := range principals {
		b.Run("get/"+pr.name, func(b *testing.B) {
			call(b, s.getMetric, "/api/v2/metrics/{projectKey}/{metricKey}", "/api/v2/metrics/bench/m-100", pr.p, "projectKey", "bench", "metricKey", "m-100")
		})
	}
	// The page without the database: representations, _access and JSON.
	page, _, err := cat.Metrics.ListMetrics(ctx, "bench", catalog.MetricQuery{Page: core.Page{Limit: 20}})
	if err != nil {
		b.Fatal(err)
	}
	for _, pr := range principals {
		b.Run("render-20/"+pr.name, func(b *testing.B) {
			pctx := core.WithPrincipal(ctx, pr.p)
			b.ReportAllocs()
			for b.Loop() {
				ar := newAccessRenderer(pctx, s.accessMemo)
				items := make([]metricRep, 0, len(page))
				acc := make([]*accessRep, len(page))
				for i := range page {
					items = append(items, newMetricRep(&page[i], nil, nil))
					acc[i] = ar.render(metricSpec(&page[i]), action.MetricActions())
				}
				if err := writeListWithAccess(httptest.NewRecorder(), items, acc, links{}, len(page)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("authorize-read/policy-50", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, "/api/v2/metrics/bench/m-100", nil).WithContext(core.WithPrincipal(ctx, principals[2].p))
		r.SetPathValue("projectKey", "bench")
		b.ReportAllocs()
		for b.Loop() {
			if err := authorizeRead("/api/v2/metrics/{projectKey}/{metricKey}", r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAccessRendering checks that the hand-written _access is the JSON its
// structure describes.
func TestAccessRendering(t *testing.T) {
	own, _ := access.BuiltIn(access.RoleReader, "m")
	deny, err := account.CompilePolicy("p", []account.Statement{
		{Effect: "allow", Resources: []string{"proj/*:metric/*;web"}, Actions: []string{"update*"}},
		{Effect: "deny", NotResources: []string{"proj/other:metric/*"}, Actions: []string{"updateTags"}},
		{Effect: "allow", Resources: []string{"proj/*"}, Actions: []string{"viewProject"}},
	}, "r")
	if err != nil {
		t.Fatal(err)
	}
	ar := newAccessRenderer(core.WithPrincipal(context.Background(), core.Principal{TokenID: "t", Grant: access.NewGrant(deny, own)}), nil)
	got := ar.render(resource.Metric("p", "m", []string{"web"}), []action.Action{action.UpdateName, action.UpdateTags, action.DeleteMetric})
	want := `{"denied":[{"action":"updateTags","reason":{"effect":"deny","notResources":["proj/other:metric/*"],"actions":["updateTags"],"role_name":"r"}},` +
		`{"action":"deleteMetric","reason":{"effect":"deny"}}],` +
		`"allowed":[]}`
	// updateName is allowed by the token's policy and denied by the
	// reader member's: the member's decision (no statement) is the reason.
	want = `{"denied":[{"action":"updateName","reason":{"effect":"deny"}},` + want[len(`{"denied":[`):]
	if string(got.raw) != want {
		t.Errorf("_access\n got %s\nwant %s", got.raw, want)
	}
	var v any
	if err := json.Unmarshal(got.raw, &v); err != nil {
		t.Errorf("not JSON: %v", err)
	}
	if again := ar.render(resource.Metric("p", "n", []string{"web"}), []action.Action{action.UpdateName, action.UpdateTags, action.DeleteMetric}); again != got {
		t.Error("the same outcome was encoded twice")
	}
}

// TestAccessMemo: the memo shares an encoded _access only between
// resources and grants that decide alike, and what it returns is what the
// renderer encodes without it.
func TestAccessMemo(t *testing.T) {
	compile := func(stmts ...account.Statement) access.Policy {
		p, err := account.CompilePolicy("p", stmts, "r")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	view := account.Statement{Effect: "allow", Resources: []string{"proj/*"}, Actions: []string{"viewProject"}}
	byTag := access.NewGrant(compile(view, account.Statement{Effect: "allow", Resources: []string{"proj/*:metric/*;revenue"}, Actions: []string{"update*"}}))
	byName := access.NewGrant(compile(view, account.Statement{Effect: "allow", Resources: []string{"proj/*:metric/a*"}, Actions: []string{"update*"}}))
	memo := newAccessMemo()
	res := []resource.Spec{
		resource.Metric("p", "a1", []string{"revenue"}),
		resource.Metric("p", "b2", []string{"revenue"}),
		resource.Metric("p", "a3", nil),
		resource.Metric("q", "a1", []string{"revenue", "web"}),
	}
	for _, g := range []access.Grant{byTag, byName} {
		ctx := core.WithPrincipal(context.Background(), core.Principal{TokenID: "t", Grant: g})
		for round := range 2 {
			ar := newAccessRenderer(ctx, memo)
			for _, r := range res {
				got := ar.render(r, action.MetricActions())
				want := newAccessRenderer(ctx, nil).render(r, action.MetricActions())
				if string(got.raw) != string(want.raw) {
					t.Errorf("round %d, %v: memo gave\n%s\nwant\n%s", round, r, got.raw, want.raw)
				}
			}
		}
	}
	// One entry per distinct ReportKey: by tag, the three tag sets (names
	// ignored); by name, a1 (in both projects: project names and tags
	// ignored), b2 and a3.
	if n := len(memo.m); n != 3+3 {
		t.Errorf("memo holds %d entries, want 6", n)
	}
}
