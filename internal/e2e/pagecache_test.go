package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/testdb"
)

// listPages are the metric list pages the page cache tests read: filters
// on metric rows, on tags, on connections, sorts and expansions.
var listPages = []string{
	"",
	"filter=" + url.QueryEscape(`tags contains ["x"]`) + "&sort=-createdAt&limit=2",
	"filter=" + url.QueryEscape(`tags contains ["x"]`) + "&sort=name&limit=20",
	"filter=" + url.QueryEscape(`hasConnections equals true`),
	"filter=" + url.QueryEscape(`query equals "m"`) + "&expand=experimentCount&limit=3&offset=1",
	"filter=" + url.QueryEscape(`isNumeric equals true`),
}

// pageContent is what a list page says besides its _links (which repeat
// the query string): its items and total count.
func pageContent(t *testing.T, body []byte) string {
	t.Helper()
	var p struct {
		Items      json.RawMessage `json:"items"`
		TotalCount *int            `json:"totalCount"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.TotalCount == nil {
		t.Fatalf("list page %s: %v", body, err)
	}
	return fmt.Sprintf("%d %s", *p.TotalCount, p.Items)
}

// TestReplicaCachedListPages checks the cache of encoded list pages across
// two replicas of one database (on PostgreSQL without and with pushed
// invalidation): both replicas cache every page, then after every 2xx
// write through either of them the next read of each page through each
// replica says what an uncached read of the same page says (the same
// query with a parameter no earlier request used, which no cache holds),
// and at least one page changed.
func TestReplicaCachedListPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		leases := []time.Duration{0}
		if b.Name == "postgres" {
			leases = append(leases, 600*time.Millisecond)
		}
		for _, lease := range leases {
			t.Run(fmt.Sprintf("lease=%v", lease), func(t *testing.T) {
				project := fmt.Sprintf("pages%d", lease.Milliseconds())
				cfg := app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}, ReplicaLease: lease, AuthCacheTTL: time.Minute}
				a1, _ := runApp(t, cfg)
				a2, _ := runApp(t, cfg)
				envs := []*env{newEnv(t, b, a1, testAdminToken), newEnv(t, b, a2, testAdminToken)}
				serving := func() {
					t.Helper()
					deadline := time.Now().Add(10 * time.Second)
					for lease > 0 && (!a1.Store().Serving() || !a2.Store().Serving()) {
						if time.Now().After(deadline) {
							t.Fatal("replicas never took their leases")
						}
						time.Sleep(5 * time.Millisecond)
					}
				}
				serving()
				w := envs[0]
				if st, body, _ := w.do(t, http.MethodPost, "/api/v2/projects", `{"key":"`+project+`","name":"P"}`); st != http.StatusCreated {
					t.Fatalf("create project: %d %s", st, body)
				}
				for _, def := range []string{
					`{"key":"m1","name":"m one","kind":"custom","eventKey":"e1","tags":["x"]}`,
					`{"key":"m2","name":"m two","kind":"custom","eventKey":"e2","tags":["x","y"],"isNumeric":true,"successCriteria":"HigherThanBaseline","unit":"ms"}`,
					`{"key":"m3","name":"m three","kind":"custom","eventKey":"e3"}`,
				} {
					w.createMetric(t, project, def)
				}
				path := func(q string) string { return "/api/v2/metrics/" + project + "?" + q }
				fresh := 0
				read := func(e *env, what, q string) string {
					t.Helper()
					st, body, _ := e.do(t, http.MethodGet, path(q), "")
					if st != http.StatusOK {
						t.Fatalf("%s: GET %s: %d %s", what, path(q), st, body)
					}
					return pageContent(t, body)
				}
				// Cache every page on both replicas (twice: the second
				// read is served from the cache).
				state := map[string]string{}
				for _, e := range envs {
					for _, q := range listPages {
						state[q] = read(e, "warm", q)
						if again := read(e, "warm again", q); again != state[q] {
							t.Fatalf("page %q changed without a write:\n%s\n%s", q, state[q], again)
						}
					}
				}
				writes := []struct {
					method, path, body string
					headers            []string
					want               int
				}{
					{http.MethodPost, "/api/v2/metrics/" + project, `{"key":"m4","name":"m four","kind":"custom","eventKey":"e4","tags":["x"]}`, nil, http.StatusCreated},
					{http.MethodPatch, metricPath(project, "m1"), `[{"op":"replace","path":"/name","value":"z one"}]`, nil, http.StatusOK},
					{http.MethodPatch, metricPath(project, "m2"), `[{"op":"replace","path":"/tags","value":["y"]}]`, nil, http.StatusOK},
					{http.MethodPost, mgCollectionPath(project), `{"key":"g","name":"G","kind":"standard","metrics":[{"key":"m1"},{"key":"m4"}]}`, []string{betaHeader}, http.StatusCreated},
					{http.MethodPatch, metricPath(project, "m3"), `[{"op":"replace","path":"/tags","value":["x"]}]`, nil, http.StatusOK},
					{http.MethodDelete, mgPath(project, "g"), "", []string{betaHeader}, http.StatusNoContent},
					{http.MethodDelete, metricPath(project, "m4"), "", nil, http.StatusNoContent},
				}
				for i, wr := range writes {
					we := envs[i%2]
					if st, body, _ := we.do(t, wr.method, wr.path, wr.body, wr.headers...); st != wr.want {
						t.Fatalf("write %d %s %s: %d, want %d: %s", i, wr.method, wr.path, st, wr.want, body)
					}
					changed := false
					for _, q := range listPages {
						for j, e := range envs {
							got := read(e, fmt.Sprintf("after write %d through replica %d", i, j), q)
							fresh++
							want := read(e, "uncached", q+fmt.Sprintf("&fresh=%d", fresh))
							if got != want {
								t.Errorf("after write %d (%s %s) replica %d serves page %q\n%s\nwhere an uncached read says\n%s", i, wr.method, wr.path, j, q, got, want)
							}
							if got != state[q] {
								changed = true
							}
							state[q] = got
						}
					}
					if !changed {
						t.Errorf("write %d (%s %s) changed no page", i, wr.method, wr.path)
					}
				}
				if lease == 0 {
					return
				}
				// Under a lease a cached page costs no statement. A lease
				// that lapsed for a moment (a slow renewal, under -race)
				// costs a generation read: the round is tried again, but a
				// page that reads the database every time fails all five.
				var n int64
				for range 5 {
					serving()
					for _, q := range listPages {
						read(envs[1], "warm", q)
					}
					before := a2.Store().Statements()
					for _, q := range listPages {
						read(envs[1], "cached", q)
					}
					if n = a2.Store().Statements() - before; n == 0 {
						break
					}
				}
				if n != 0 {
					t.Errorf("%d cached list pages under a lease cost %d statements, want 0", len(listPages), n)
				}
			})
		}
	})
}

// TestCachedListAccessIsPerCaller checks that the page cache never serves
// one caller's _access to another: an admin and a reader alternate reads
// of one list page, each warming the cache for the other, and each always
// sees its own _access and the same bytes as before.
func TestCachedListAccessIsPerCaller(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"c","kind":"custom","eventKey":"c","tags":["x"]}`)
		e.createMetric(t, "default", `{"key":"d","kind":"custom","eventKey":"d","tags":["x"]}`)
		_, reader := newToken(t, e.api(t), ldapi.AccessTokenPost{Role: ptr("reader")})
		path := "/api/v2/metrics/default?filter=" + url.QueryEscape(`tags contains ["x"]`)
		bodies := map[string][]byte{}
		for i := range 4 {
			for _, who := range []string{"admin", "reader"} {
				token := testAdminToken
				if who == "reader" {
					token = reader
				}
				st, body, _ := e.do(t, http.MethodGet, path, "", "Authorization: "+token)
				if st != http.StatusOK {
					t.Fatalf("%s GET %s: %d %s", who, path, st, body)
				}
				items := obj(t, body)["items"].([]any)
				if len(items) != 2 {
					t.Fatalf("%s: %d items, want 2: %s", who, len(items), body)
				}
				for _, it := range items {
					n := len(it.(map[string]any)["_access"].(map[string]any)["allowed"].([]any))
					if (who == "reader") != (n == 0) {
						t.Errorf("round %d: %s's page shows %d allowed actions: another caller's _access", i, who, n)
					}
				}
				if old, ok := bodies[who]; ok && !bytes.Equal(old, body) {
					t.Errorf("%s's page changed without a write", who)
				}
				bodies[who] = body
			}
		}
	})
}

// TestCachedListViewFilter checks that pages filtered by a view, whose
// memberships no project generation covers, show a link made after they
// were read.
func TestCachedListViewFilter(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		for _, k := range []string{"a", "b"} {
			e.createMetric(t, "default", `{"key":"`+k+`","kind":"custom","eventKey":"`+k+`"}`)
		}
		if st, body := e.viewDo(t, http.MethodPost, viewsPath("default"), `{"key":"v","name":"V"}`); st != http.StatusOK {
			t.Fatalf("create view: %d %s", st, body)
		}
		api := e.api(t)
		linkMetrics(t, api, "default", "v", "a")
		for range 2 {
			if got := e.metricKeysInView(t, "default", "v"); fmt.Sprint(got) != "[a]" {
				t.Fatalf("view lists %v, want [a]", got)
			}
		}
		linkMetrics(t, api, "default", "v", "b")
		if got := e.metricKeysInView(t, "default", "v"); fmt.Sprint(got) != "[a b]" {
			t.Errorf("after linking b the view lists %v, want [a b]", got)
		}
	})
}
