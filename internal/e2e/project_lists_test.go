package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/testdb"
)

func TestProjectListFilterSort(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		// Created in this order; "default" exists already (tags none).
		for _, body := range []string{
			`{"key":"web-shop","name":"Zeta Shop","tags":["Retail","eu"]}`,
			`{"key":"mobile","name":"Alpha App","tags":["retail"]}`,
			`{"key":"backend","name":"Mid Services","tags":["eu","infra"]}`,
		} {
			if st, b, _ := e.do(t, http.MethodPost, "/api/v2/projects", body); st != http.StatusCreated {
				t.Fatalf("create project %s: %d %s", body, st, b)
			}
			// Creation times have millisecond precision; let the next
			// project be created in a later millisecond so that creation
			// order is defined.
			for start := time.Now().UnixMilli(); time.Now().UnixMilli() <= start+1; {
				time.Sleep(time.Millisecond)
			}
		}
		api := e.api(t)
		for _, c := range []struct {
			filter, sort string
			want         []string
		}{
			{"", "", []string{"default", "web-shop", "mobile", "backend"}},
			{"", "-createdOn", []string{"backend", "mobile", "web-shop", "default"}},
			{"", "name", []string{"mobile", "default", "backend", "web-shop"}},
			{"", "-name", []string{"web-shop", "backend", "default", "mobile"}},
			{"query:SHOP", "", []string{"web-shop"}},
			{"query:app", "", []string{"mobile"}},
			{"query:o", "name", []string{"mobile", "web-shop"}},
			{"query:E", "-name", []string{"web-shop", "backend", "default", "mobile"}},
			{"tags:retail", "", []string{"web-shop", "mobile"}},
			{"tags:retail+eu", "", []string{"web-shop"}},
			{"tags:retail eu", "", []string{"web-shop"}}, // an unencoded + arrives as a space
			{"tags:EU", "-createdOn", []string{"backend", "web-shop"}},
			{"tags:nothing", "", []string{}},
			{"keys:mobile|backend|nope", "", []string{"mobile", "backend"}},
			{"keys:mobile|backend,query:mid", "", []string{"backend"}},
			{"query:a,tags:eu,keys:web-shop|backend", "name", []string{"backend", "web-shop"}},
		} {
			req := api.ProjectsApi.GetProjects(ctx)
			if c.filter != "" {
				req = req.Filter(c.filter)
			}
			if c.sort != "" {
				req = req.Sort(c.sort)
			}
			ps, resp, err := req.Execute()
			if err != nil {
				t.Fatalf("GetProjects filter %q sort %q: %v (status %d)", c.filter, c.sort, err, status(resp))
			}
			got := []string{}
			for _, p := range ps.Items {
				got = append(got, p.Key)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("filter %q sort %q (-want +got):\n%s", c.filter, c.sort, d)
			}
			if ps.TotalCount == nil || int(*ps.TotalCount) != len(c.want) {
				t.Errorf("filter %q: totalCount %v, want %d", c.filter, ps.TotalCount, len(c.want))
			}
		}

		t.Run("paging keeps the filter", func(t *testing.T) {
			ps, resp, err := api.ProjectsApi.GetProjects(ctx).Filter("query:a").Sort("name").Limit(2).Offset(1).Execute()
			if err != nil {
				t.Fatalf("GetProjects: %v (status %d)", err, status(resp))
			}
			if d := cmp.Diff([]string{"default", "backend"}, itemKeys(t, obj(t, rawBody(t, resp)))); d != "" || *ps.TotalCount != 4 {
				t.Errorf("page (-want +got):\n%s\ntotal %d", d, *ps.TotalCount)
			}
			got := map[string]string{}
			for name, l := range ps.Links {
				got[name] = l.GetHref()
			}
			want := map[string]string{
				"self":  "/api/v2/projects?filter=query%3Aa&limit=2&offset=1&sort=name",
				"first": "/api/v2/projects?filter=query%3Aa&limit=2&offset=0&sort=name",
				"prev":  "/api/v2/projects?filter=query%3Aa&limit=2&offset=0&sort=name",
				"next":  "/api/v2/projects?filter=query%3Aa&limit=2&offset=3&sort=name",
				"last":  "/api/v2/projects?filter=query%3Aa&limit=2&offset=2&sort=name",
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("links (-want +got):\n%s", d)
			}
		})

		t.Run("bad parameters", func(t *testing.T) {
			for _, c := range []struct{ filter, sort, msg string }{
				{"owner:me", "", `filter field "owner" is not supported; use query, tags, keys`},
				{"query", "", `filter "query" must have the form field:value`},
				{"query:a,query:b", "", `filter field "query" may appear only once`},
				{"", "createdAt", `sort field "createdAt" is not supported; use name or createdOn`},
				{"", "-key", `sort field "key" is not supported`},
			} {
				req := api.ProjectsApi.GetProjects(ctx)
				if c.filter != "" {
					req = req.Filter(c.filter)
				}
				if c.sort != "" {
					req = req.Sort(c.sort)
				}
				_, resp, err := req.Execute()
				clientError(t, "GetProjects "+c.filter+" "+c.sort, resp, err, http.StatusBadRequest, c.msg)
			}
		})
	})
}

func TestEnvironmentListPaging(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		body := `{"key":"p","name":"P","environments":[
			{"key":"prod","name":"Production","color":"ff0000","critical":true,"tags":["Live","eu"]},
			{"key":"stage","name":"Staging","color":"00ff00","tags":["eu"]},
			{"key":"dev","name":"Development","color":"0000ff","tags":["local"]},
			{"key":"qa","name":"Quality","color":"000000","critical":true}]}`
		if st, b, _ := e.do(t, http.MethodPost, "/api/v2/projects", body); st != http.StatusCreated {
			t.Fatalf("create project: %d %s", st, b)
		}
		api := e.api(t)
		for _, c := range []struct {
			filter, sort string
			want         []string
		}{
			{"", "", []string{"prod", "stage", "dev", "qa"}},
			{"", "-createdOn", []string{"qa", "dev", "stage", "prod"}},
			{"", "name", []string{"dev", "prod", "qa", "stage"}},
			{"", "-name", []string{"stage", "qa", "prod", "dev"}},
			{"", "critical,name", []string{"dev", "stage", "prod", "qa"}},
			{"", "-critical,name", []string{"prod", "qa", "dev", "stage"}},
			{"query:PRO", "", []string{"prod"}},
			{"query:ta", "", []string{"stage"}},
			{"query:d", "", []string{"prod", "dev"}},
			{"tags:eu", "", []string{"prod", "stage"}},
			{"tags:live+EU", "", []string{"prod"}},
			{"tags:eu,query:stag", "", []string{"stage"}},
			{"tags:none", "", []string{}},
		} {
			req := api.EnvironmentsApi.GetEnvironmentsByProject(ctx, "p")
			if c.filter != "" {
				req = req.Filter(c.filter)
			}
			if c.sort != "" {
				req = req.Sort(c.sort)
			}
			envs, resp, err := req.Execute()
			if err != nil {
				t.Fatalf("GetEnvironmentsByProject filter %q sort %q: %v (status %d)", c.filter, c.sort, err, status(resp))
			}
			got := []string{}
			for _, env := range envs.Items {
				got = append(got, env.Key)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("filter %q sort %q (-want +got):\n%s", c.filter, c.sort, d)
			}
			if envs.TotalCount == nil || int(*envs.TotalCount) != len(c.want) {
				t.Errorf("filter %q: totalCount %v, want %d", c.filter, envs.TotalCount, len(c.want))
			}
		}

		t.Run("pages", func(t *testing.T) {
			base := "/api/v2/projects/p/environments"
			for _, c := range []struct {
				limit, offset int32
				want          []string
				links         map[string]string
			}{
				{2, 0, []string{"dev", "prod"}, map[string]string{
					"self": "?limit=2&offset=0&sort=name", "first": "?limit=2&offset=0&sort=name",
					"next": "?limit=2&offset=2&sort=name", "last": "?limit=2&offset=2&sort=name"}},
				{2, 1, []string{"prod", "qa"}, map[string]string{
					"self": "?limit=2&offset=1&sort=name", "first": "?limit=2&offset=0&sort=name", "prev": "?limit=2&offset=0&sort=name",
					"next": "?limit=2&offset=3&sort=name", "last": "?limit=2&offset=2&sort=name"}},
				{3, 3, []string{"stage"}, map[string]string{
					"self": "?limit=3&offset=3&sort=name", "first": "?limit=3&offset=0&sort=name",
					"prev": "?limit=3&offset=0&sort=name", "last": "?limit=3&offset=3&sort=name"}},
				{2, 9, []string{}, map[string]string{
					"self": "?limit=2&offset=9&sort=name", "first": "?limit=2&offset=0&sort=name",
					"prev": "?limit=2&offset=7&sort=name", "last": "?limit=2&offset=2&sort=name"}},
			} {
				envs, resp, err := api.EnvironmentsApi.GetEnvironmentsByProject(ctx, "p").Sort("name").Limit(int64(c.limit)).Offset(int64(c.offset)).Execute()
				if err != nil {
					t.Fatalf("GetEnvironmentsByProject: %v (status %d)", err, status(resp))
				}
				got := []string{}
				for _, env := range envs.Items {
					got = append(got, env.Key)
				}
				// Sorted by name: Development, Production, Quality, Staging.
				if d := cmp.Diff(c.want, got); d != "" {
					t.Errorf("limit %d offset %d (-want +got):\n%s", c.limit, c.offset, d)
				}
				if *envs.TotalCount != 4 {
					t.Errorf("totalCount %d, want 4", *envs.TotalCount)
				}
				gotLinks := map[string]string{}
				for name, l := range envs.GetLinks() {
					gotLinks[name] = l.GetHref()
				}
				wantLinks := map[string]string{}
				for name, q := range c.links {
					wantLinks[name] = base + q
				}
				if d := cmp.Diff(wantLinks, gotLinks); d != "" {
					t.Errorf("limit %d offset %d links (-want +got):\n%s", c.limit, c.offset, d)
				}
			}
		})

		t.Run("bad parameters", func(t *testing.T) {
			for _, c := range []struct {
				filter, sort string
				limit        int64
				msg          string
			}{
				{"color:red", "", 0, `filter field "color" is not supported; use query, tags`},
				{"keys:prod", "", 0, `filter field "keys" is not supported`},
				{"", "key", 0, `sort field "key" is not supported; use name or createdOn or critical`},
				{"", "", 1001, "limit must be an integer between 1 and 1000"},
			} {
				req := api.EnvironmentsApi.GetEnvironmentsByProject(ctx, "p")
				if c.filter != "" {
					req = req.Filter(c.filter)
				}
				if c.sort != "" {
					req = req.Sort(c.sort)
				}
				if c.limit != 0 {
					req = req.Limit(c.limit)
				}
				_, resp, err := req.Execute()
				clientError(t, "GetEnvironmentsByProject", resp, err, http.StatusBadRequest, c.msg)
			}
			_, resp, err := api.EnvironmentsApi.GetEnvironmentsByProject(ctx, "nope").Execute()
			clientError(t, "unknown project", resp, err, http.StatusNotFound, `unknown project "nope"`)
		})
	})
}
