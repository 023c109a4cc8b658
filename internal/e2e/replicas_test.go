package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestReplicasShareOneDatabase starts three replicas on one fresh database
// at once: migrations and bootstrap must run exactly once, a write through
// one replica is visible through the others at once (list totals included,
// despite each replica's count cache), and a test-and-set race spread over
// the replicas has exactly one winner.
func TestReplicasShareOneDatabase(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		const n = 3
		envs := make([]*env, n)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range n {
			wg.Go(func() {
				a, _ := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken})
				mu.Lock()
				envs[i] = newEnv(t, b, a, testAdminToken)
				mu.Unlock()
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		generated := 0
		for _, e := range envs {
			if e.app.AdminToken != "" {
				generated++
			}
		}
		if generated != 0 {
			t.Errorf("%d replicas generated a token although METRICSD_ADMIN_TOKEN was set", generated)
		}
		st, body, _ := envs[0].do(t, "GET", "/api/v2/projects", "")
		if st != http.StatusOK || obj(t, body)["totalCount"] != float64(1) {
			t.Fatalf("projects after a concurrent start: %d %s, want exactly the default project", st, body)
		}

		list := "/api/v2/metrics/default?filter=" + "tags%20contains%20%5B%22shared%22%5D"
		for i := range 6 {
			e := envs[i%n]
			st, body, _ := e.do(t, "POST", "/api/v2/metrics/default", fmt.Sprintf(`{"key":"m%d","kind":"custom","eventKey":"e","tags":["shared"]}`, i), "Content-Type: application/json")
			if st != http.StatusCreated {
				t.Fatalf("create through replica %d: %d %s", i%n, st, body)
			}
			for j, other := range envs {
				st, body, _ := other.do(t, "GET", list, "")
				if got := obj(t, body)["totalCount"]; st != http.StatusOK || got != float64(i+1) {
					t.Fatalf("after create %d, replica %d lists totalCount %v (status %d), want %d", i, j, got, st, i+1)
				}
			}
		}

		const writers = 9
		statuses := make([]int, writers)
		for i := range writers {
			wg.Go(func() {
				statuses[i], _, _ = envs[i%n].do(t, "PATCH", "/api/v2/metrics/default/m0",
					fmt.Sprintf(`[{"op":"test","path":"/_version","value":1},{"op":"replace","path":"/description","value":"writer %d"}]`, i),
					"Content-Type: application/json")
			})
		}
		wg.Wait()
		won := 0
		for i, st := range statuses {
			switch st {
			case http.StatusOK:
				won++
			case http.StatusConflict:
			default:
				t.Errorf("writer %d: status %d, want 200 or 409", i, st)
			}
		}
		if won != 1 {
			t.Errorf("%d writers won the test-and-set race across replicas, want exactly 1", won)
		}
		for j, e := range envs {
			_, body, _ := e.do(t, "GET", "/api/v2/metrics/default/m0", "")
			if v := obj(t, body)["_version"]; v != float64(2) {
				t.Errorf("replica %d sees _version %v, want 2", j, v)
			}
		}
	})
}
