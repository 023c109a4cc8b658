package e2e

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/version"
)

// canList reports the status of listing projects with token.
func canList(t testing.TB, e *env, token string) int {
	t.Helper()
	_, resp, _ := e.apiWithToken(t, token).ProjectsApi.GetProjects(context.Background()).Execute()
	return status(resp)
}

func TestStartup(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		// A fresh database without a configured token gets a generated one.
		a, stop := runApp(t, app.Config{DatabaseURL: b.URL})
		generated := a.AdminToken
		if !strings.HasPrefix(generated, "api-") || len(generated) < 36 {
			t.Fatalf("generated admin token %q, want api- and at least 32 more characters", generated)
		}
		e := newEnv(t, b, a, generated)
		if st := canList(t, e, generated); st != http.StatusOK {
			t.Errorf("generated token: status %d, want 200", st)
		}
		if st := canList(t, e, "Bearer "+generated); st != http.StatusOK {
			t.Errorf("generated token as Bearer: status %d, want 200", st)
		}
		if st := canList(t, e, testAdminToken); st != http.StatusUnauthorized {
			t.Errorf("a token never configured: status %d, want 401", st)
		}
		ps, _, err := e.client.ProjectsApi.GetProjects(context.Background()).Expand("environments").Execute()
		if err != nil || len(ps.Items) != 1 || ps.Items[0].Key != "default" || ps.Items[0].Environments == nil ||
			len(ps.Items[0].Environments.Items) != 2 || ps.Items[0].Environments.Items[0].Key != "production" || ps.Items[0].Environments.Items[1].Key != "test" {
			t.Errorf("fresh database: projects %+v, %v; want default with production and test", ps, err)
		}
		if owner, err := a.Store().Owner(context.Background()); err != nil || owner.Email != "owner@metricsd.local" || owner.Role != "owner" {
			t.Errorf("owner %+v, %v", owner, err)
		}

		t.Run("healthz", func(t *testing.T) {
			resp, err := http.Get(e.base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode != http.StatusOK || mt != "application/json" {
				t.Errorf("/healthz: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			diffJSON(t, "/healthz", `{"status":"ok","version":"`+version.Read().String()+`"}`, obj(t, body))
			resp2, err := http.Post(e.base+"/healthz", "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp2.Body.Close()
			if resp2.StatusCode == http.StatusOK {
				t.Errorf("POST /healthz: status 200")
			}
		})
		stop()

		// Reopening the database generates nothing and keeps the token.
		a, stop = runApp(t, app.Config{DatabaseURL: b.URL})
		if a.AdminToken != "" {
			t.Errorf("reopened database generated another token %q", a.AdminToken)
		}
		e = newEnv(t, b, a, generated)
		if st := canList(t, e, generated); st != http.StatusOK {
			t.Errorf("generated token after restart: status %d, want 200", st)
		}
		if n := projectCount(t, e); n != 1 {
			t.Errorf("%d projects after restart, want 1 (no second bootstrap)", n)
		}
		stop()

		// A configured token is added to an existing database; the old one
		// keeps working.
		a, stop = runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken})
		if a.AdminToken != "" {
			t.Errorf("configured token: AdminToken %q, want empty", a.AdminToken)
		}
		e = newEnv(t, b, a, testAdminToken)
		for _, tok := range []string{testAdminToken, generated} {
			if st := canList(t, e, tok); st != http.StatusOK {
				t.Errorf("token %s…: status %d, want 200", tok[:8], st)
			}
		}
		stop()

		// Starting again with the same configured token adds nothing.
		a, stop = runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken})
		e = newEnv(t, b, a, testAdminToken)
		if st := canList(t, e, testAdminToken); st != http.StatusOK {
			t.Errorf("configured token after restart: status %d, want 200", st)
		}
		stop()
	})

	t.Run("configured token on a fresh database", func(t *testing.T) {
		b := testdb.New(t, "sqlite")
		a, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken})
		if a.AdminToken != "" {
			t.Errorf("AdminToken %q, want empty when one is configured", a.AdminToken)
		}
		e := newEnv(t, b, a, testAdminToken)
		if st := canList(t, e, testAdminToken); st != http.StatusOK {
			t.Errorf("configured token: status %d, want 200", st)
		}
	})

	t.Run("bad database URL", func(t *testing.T) {
		for _, u := range []string{"mysql://localhost/db", "", "sqlite:"} {
			a, err := app.Open(context.Background(), app.Config{Addr: "127.0.0.1:0", DatabaseURL: u}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				t.Errorf("app.Open(%q) succeeded", u)
				_ = a.Store().Close()
			}
		}
	})
}
