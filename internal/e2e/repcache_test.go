package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestReplicaCachedRepresentations checks the cache of encoded metric and
// group representations across two replicas of one database: after every
// 2xx write through one replica, the next read through the other shows it,
// whatever that replica had cached — a new version, a usage counter that
// changed through another resource, a team's new name, a deletion.
func TestReplicaCachedRepresentations(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		a1, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}})
		a2, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}})
		w, r := newEnv(t, b, a1, testAdminToken), newEnv(t, b, a2, testAdminToken)
		w.createMetric(t, "default", `{"key":"c","name":"C","kind":"custom","eventKey":"c"}`)
		w.createMetric(t, "default", `{"key":"d","name":"D","kind":"custom","eventKey":"d"}`)
		get := func(what, path string, headers ...string) map[string]any {
			t.Helper()
			st, body, _ := r.do(t, http.MethodGet, path, "", headers...)
			if st != http.StatusOK {
				t.Fatalf("%s: GET %s through the other replica: %d %s", what, path, st, body)
			}
			return obj(t, body)
		}
		mustWrite := func(want int, method, path, body string, headers ...string) {
			t.Helper()
			if st, b, _ := w.do(t, method, path, body, headers...); st != want {
				t.Fatalf("%s %s: %d, want %d: %s", method, path, st, want, b)
			}
		}
		metric := metricPath("default", "c")
		counted := metric + "?expand=metricGroupCount"
		for i := range 3 {
			get("warm", metric)
			get("warm", counted)
			mustWrite(http.StatusOK, http.MethodPatch, metric, fmt.Sprintf(`[{"op":"replace","path":"/name","value":"C %d"}]`, i))
			if m := get("after patch", metric); m["name"] != fmt.Sprintf("C %d", i) || m["_version"] != float64(i+2) {
				t.Fatalf("after patch %d the other replica serves name %v version %v", i, m["name"], m["_version"])
			}
		}
		if n := get("before group", counted)["metricGroupCount"]; n != 0.0 {
			t.Fatalf("metricGroupCount %v, want 0", n)
		}
		mustWrite(http.StatusCreated, http.MethodPost, "/api/v2/teams", `{"key":"core","name":"Core"}`)
		mustWrite(http.StatusCreated, http.MethodPost, mgCollectionPath("default"),
			`{"key":"g","name":"G","kind":"standard","maintainerTeamKey":"core","metrics":[{"key":"c"},{"key":"d"}]}`, betaHeader)
		if n := get("after group", counted)["metricGroupCount"]; n != 1.0 {
			t.Errorf("after a group took the metric, the other replica serves metricGroupCount %v, want 1", n)
		}
		group := mgPath("default", "g")
		teamName := func() any {
			return get("group", group, betaHeader)["maintainer"].(map[string]any)["team"].(map[string]any)["name"]
		}
		if n := teamName(); n != "Core" {
			t.Fatalf("group maintainer name %v", n)
		}
		mustWrite(http.StatusOK, http.MethodPatch, "/api/v2/teams/core", `{"instructions":[{"kind":"updateName","value":"Core 2"}]}`,
			"Content-Type: application/json; domain-model=launchdarkly.semanticpatch")
		if n := teamName(); n != "Core 2" {
			t.Errorf("after the team's rename the other replica serves maintainer name %v", n)
		}
		mustWrite(http.StatusNoContent, http.MethodDelete, group, "", betaHeader)
		if st, body, _ := r.do(t, http.MethodGet, group, "", betaHeader); st != http.StatusNotFound {
			t.Errorf("deleted group through the other replica: %d %s", st, body)
		}
		mustWrite(http.StatusNoContent, http.MethodDelete, metric, "")
		if st, body, _ := r.do(t, http.MethodGet, metric, ""); st != http.StatusNotFound {
			t.Errorf("deleted metric through the other replica: %d %s", st, body)
		}
	})
}

// TestInvariantFailedWriteKeepsCachedBody checks that writes that fail —
// invalid, conflicting, refused by If-Match, refused by a rule checked in
// the transaction — change no cached body or ETag.
func TestInvariantFailedWriteKeepsCachedBody(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"c","name":"C","kind":"custom","eventKey":"c"}`)
		e.createMetric(t, "default", `{"key":"d","name":"D","kind":"custom","eventKey":"d"}`)
		if st, body, _ := e.do(t, http.MethodPost, mgCollectionPath("default"),
			`{"key":"g","name":"G","kind":"funnel","metrics":[{"key":"c","nameInGroup":"one"},{"key":"d","nameInGroup":"two"}]}`, betaHeader); st != http.StatusCreated {
			t.Fatalf("create group: %d %s", st, body)
		}
		path := metricPath("default", "c")
		_, before, h := e.do(t, http.MethodGet, path, "")
		tag := h.Get("ETag")
		for _, c := range []struct {
			method, body string
			headers      []string
			want         int
		}{
			{http.MethodPatch, `[{"op":"replace","path":"/kind","value":"pageview"}]`, nil, http.StatusBadRequest},
			{http.MethodPatch, `[{"op":"test","path":"/_version","value":7},{"op":"replace","path":"/name","value":"X"}]`, nil, http.StatusConflict},
			{http.MethodPatch, `[{"op":"replace","path":"/name","value":"X"}]`, []string{`If-Match: "stale:0"`}, http.StatusPreconditionFailed},
			{http.MethodPatch, `[{"op":"replace","path":"/maintainerId","value":"ghost"}]`, nil, http.StatusBadRequest},
			// A funnel's metrics must stay conversion metrics: checked in the transaction.
			{http.MethodPatch, `[{"op":"replace","path":"/isNumeric","value":true}]`, nil, http.StatusBadRequest},
			{http.MethodDelete, "", nil, http.StatusConflict},
		} {
			st, body, _ := e.doUndoc(t, c.method, path, c.body, c.headers...)
			if st != c.want {
				t.Errorf("%s %s: %d, want %d: %s", c.method, c.body, st, c.want, body)
			}
			st, after, h := e.do(t, http.MethodGet, path, "")
			if st != http.StatusOK || !bytes.Equal(after, before) || h.Get("ETag") != tag {
				t.Errorf("after a failed %s %s the body or ETag changed:\n%s\n%s", c.method, c.body, before, after)
			}
		}
	})
}

// TestConcurrentCachedReadsSeeCompletedWrites races readers against a
// writer through two replicas: a read that starts after a write returned
// its 2xx never shows an older version, on either replica.
func TestConcurrentCachedReadsSeeCompletedWrites(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		a1, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}})
		a2, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}})
		envs := []*env{newEnv(t, b, a1, testAdminToken), newEnv(t, b, a2, testAdminToken)}
		envs[0].createMetric(t, "default", `{"key":"c","name":"C","kind":"custom","eventKey":"c"}`)
		path := metricPath("default", "c")
		var done atomic.Int64 // highest version a write has returned
		done.Store(1)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var failures atomic.Int64
		for i := range 4 {
			wg.Go(func() {
				e := envs[i%2]
				for ctx.Err() == nil {
					floor := done.Load()
					st, body, h, err := e.send(t, context.Background(), http.MethodGet, path, "")
					if err != nil || st != http.StatusOK {
						t.Errorf("reader %d: %d %v %s", i, st, err, body)
						failures.Add(1)
						return
					}
					var v struct {
						Version int64 `json:"_version"`
					}
					if err := json.Unmarshal(body, &v); err != nil || v.Version < floor || h.Get("ETag") == "" {
						t.Errorf("reader %d through replica %d: version %d after version %d was written (%v)", i, i%2, v.Version, floor, err)
						failures.Add(1)
						return
					}
				}
			})
		}
		for i := range 30 {
			if failures.Load() > 0 {
				break
			}
			st, body, _ := envs[i%2].do(t, http.MethodPatch, path, fmt.Sprintf(`[{"op":"replace","path":"/description","value":"r%d"}]`, i))
			if st != http.StatusOK {
				t.Errorf("write %d: %d %s", i, st, body)
				break
			}
			done.Store(int64(obj(t, body)["_version"].(float64)))
		}
		cancel()
		wg.Wait()
	})
}

// TestReplicaCachedAccessIsPerCaller checks that the cache never serves
// one caller's _access to another: an admin and a reader alternate GETs of
// one metric and one group (each warming the cache for the other), and each
// always sees its own _access and ETag.
func TestReplicaCachedAccessIsPerCaller(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"c","kind":"custom","eventKey":"c"}`)
		e.createMetric(t, "default", `{"key":"d","kind":"custom","eventKey":"d"}`)
		if st, body, _ := e.do(t, http.MethodPost, mgCollectionPath("default"),
			`{"key":"g","name":"G","kind":"standard","metrics":[{"key":"c"},{"key":"d"}]}`, betaHeader); st != http.StatusCreated {
			t.Fatalf("create group: %d %s", st, body)
		}
		_, reader := newToken(t, e.api(t), ldapi.AccessTokenPost{Role: ptr("reader")})
		allowed := func(m map[string]any) int { return len(m["_access"].(map[string]any)["allowed"].([]any)) }
		for _, path := range []string{metricPath("default", "c"), mgPath("default", "g")} {
			tags := map[string]string{}
			for i := range 4 {
				for _, who := range []string{"admin", "reader"} {
					token := testAdminToken
					if who == "reader" {
						token = reader
					}
					st, body, h := e.do(t, http.MethodGet, path, "", "Authorization: "+token, betaHeader)
					if st != http.StatusOK {
						t.Fatalf("%s GET %s: %d %s", who, path, st, body)
					}
					n := allowed(obj(t, body))
					if (who == "reader") != (n == 0) {
						t.Errorf("round %d: %s GET %s shows %d allowed actions: another caller's _access", i, who, path, n)
					}
					if old, ok := tags[who]; ok && old != h.Get("ETag") {
						t.Errorf("%s's ETag of %s moved without a write", who, path)
					}
					tags[who] = h.Get("ETag")
				}
			}
			if tags["admin"] == tags["reader"] {
				t.Errorf("%s: admin and reader bodies differ but share the ETag %s", path, tags["admin"])
			}
		}
	})
}

// TestReplicaLeaseKilledListenerNeverStale runs two replicas on PostgreSQL
// with pushed invalidation: for each round it warms the reader's cache,
// terminates the reader's listening connection (pg_terminate_backend) in
// some rounds, patches through the writer and reads through the reader at
// once: every read after the patch's 2xx shows it. Then it checks that the
// reader, its lease back, serves cached GETs without any statement.
func TestReplicaLeaseKilledListenerNeverStale(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		if b.Name != "postgres" {
			t.Skip("pushed invalidation is PostgreSQL's")
		}
		a1, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}, ReplicaLease: 600 * time.Millisecond, AuthCacheTTL: time.Minute})
		a2, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken, RateLimits: &ratelimit.Config{}, ReplicaLease: 600 * time.Millisecond, AuthCacheTTL: time.Minute})
		w, r := newEnv(t, b, a1, testAdminToken), newEnv(t, b, a2, testAdminToken)
		w.createMetric(t, "default", `{"key":"c","name":"C","kind":"custom","eventKey":"c"}`)
		path := metricPath("default", "c")
		raw, err := sql.Open("pgx", b.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		serving := func() {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for !a1.Store().Serving() || !a2.Store().Serving() {
				if time.Now().After(deadline) {
					t.Fatal("replicas never took their leases")
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		// Zero listeners to terminate is a round where the one killed
		// before is not back yet: a dead listener all the same.
		for i := range 12 {
			if i%3 == 0 {
				serving()
			}
			if st, body, _ := r.do(t, http.MethodGet, path, ""); st != http.StatusOK {
				t.Fatalf("warm: %d %s", st, body)
			}
			if i%2 == 1 {
				var n int
				if err := raw.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) k`,
					"metricsd-listen-"+a2.Store().ReplicaID()).Scan(&n); err != nil || n > 1 {
					t.Fatalf("terminate the reader's listener: %d %v", n, err)
				}
			}
			st, body, _ := w.do(t, http.MethodPatch, path, fmt.Sprintf(`[{"op":"replace","path":"/name","value":"C %d"}]`, i))
			if st != http.StatusOK {
				t.Fatalf("patch %d: %d %s", i, st, body)
			}
			st, body, _ = r.do(t, http.MethodGet, path, "")
			if m := obj(t, body); st != http.StatusOK || m["name"] != fmt.Sprintf("C %d", i) {
				t.Fatalf("round %d (listener killed: %v): the reader serves %d %v after the patch's 200", i, i%2 == 1, st, m["name"])
			}
		}
		serving()
		r.do(t, http.MethodGet, path, "")
		before := a2.Store().Statements()
		for range 10 {
			if st, body, _ := r.do(t, http.MethodGet, path, ""); st != http.StatusOK {
				t.Fatalf("cached GET: %d %s", st, body)
			}
		}
		if n := a2.Store().Statements() - before; n != 0 {
			t.Errorf("10 cached GETs under a lease cost %d statements, want 0", n)
		}
	})
}
