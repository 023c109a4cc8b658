package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/metricsd/metricsd/internal/testdb"
)

// request is one write of a race.
type request struct {
	method, path, body string
	headers            []string
}

// raceTwo sends a and b at the same moment and returns their statuses. Any
// status outside ok fails t: a race may refuse a write, never break.
func (e *env) raceTwo(t *testing.T, a, b request, ok ...int) (int, int) {
	t.Helper()
	st := e.raceAll(t, []request{a, b}, ok...)
	return st[0], st[1]
}

// raceAll sends every request at the same moment and returns the statuses.
func (e *env) raceAll(t *testing.T, reqs []request, ok ...int) []int {
	t.Helper()
	ctx := allowUndocumented(context.Background())
	var wg sync.WaitGroup
	start := make(chan struct{})
	st := make([]int, len(reqs))
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, body, _, err := e.send(t, ctx, r.method, r.path, r.body, r.headers...)
			if err != nil {
				t.Errorf("%s %s: %v", r.method, r.path, err)
				return
			}
			st[i] = s
			if !slices.Contains(ok, s) {
				t.Errorf("%s %s: status %d: %s", r.method, r.path, s, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	return st
}

// statusOf returns the status of a GET.
func (e *env) statusOf(t *testing.T, path string, headers ...string) int {
	t.Helper()
	st, _, _ := e.doUndoc(t, http.MethodGet, path, "", headers...)
	return st
}

// TestCrossRowInvariantsUnderRaces races writes whose rules span rows. Each
// rule is checked inside the write's transaction on locked rows, so
// whichever write wins, the other sees its result: the invariant holds
// after every round, and no write answers 5xx.
func TestCrossRowInvariantsUnderRaces(t *testing.T) {
	const rounds = 12
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		beta := []string{betaHeader}
		groupBody := func(key string, metrics ...string) string {
			return fmt.Sprintf(`{"key":%q,"name":%q,"kind":"standard","metrics":[{"key":%q},{"key":%q}]}`, key, key, metrics[0], metrics[1])
		}

		t.Run("archive a metric while a group with it is created", func(t *testing.T) {
			e.createMetric(t, "default", `{"key":"fixed","kind":"custom","eventKey":"fixed"}`)
			for i := range rounds {
				m, g := fmt.Sprintf("arch-%d", i), fmt.Sprintf("arch-group-%d", i)
				e.createMetric(t, "default", fmt.Sprintf(`{"key":%q,"kind":"custom","eventKey":"e"}`, m))
				e.raceTwo(t,
					request{http.MethodPatch, metricPath("default", m), `[{"op":"replace","path":"/archived","value":true}]`, nil},
					request{http.MethodPost, mgCollectionPath("default"), groupBody(g, "fixed", m), beta},
					200, 201, 400, 409)
				archived := e.getMetric(t, "default", m, "")["archived"] == true
				grouped := e.statusOf(t, mgPath("default", g), betaHeader) == http.StatusOK
				if archived && grouped {
					t.Errorf("round %d: metric %s is archived and in group %s", i, m, g)
				}
				if !archived && !grouped {
					t.Errorf("round %d: both writes were refused", i)
				}
			}
		})

		t.Run("delete a metric while groups with it are created", func(t *testing.T) {
			const groups = 3
			for i := range 2 * rounds {
				m := fmt.Sprintf("del-%d", i)
				e.createMetric(t, "default", fmt.Sprintf(`{"key":%q,"kind":"custom","eventKey":"e"}`, m))
				reqs := []request{{http.MethodDelete, metricPath("default", m), "", nil}}
				for j := range groups {
					reqs = append(reqs, request{http.MethodPost, mgCollectionPath("default"), groupBody(fmt.Sprintf("del-group-%d-%d", i, j), "fixed", m), beta})
				}
				e.raceAll(t, reqs, 204, 201, 400, 409)
				exists := e.statusOf(t, metricPath("default", m)) == http.StatusOK
				for j := range groups {
					g := fmt.Sprintf("del-group-%d-%d", i, j)
					if e.statusOf(t, mgPath("default", g), betaHeader) == http.StatusOK && !exists {
						t.Errorf("round %d: group %s holds the deleted metric %s", i, g, m)
					}
				}
			}
		})

		t.Run("patch metrics and the group that holds them at once", func(t *testing.T) {
			e.createMetric(t, "default", `{"key":"pa","kind":"custom","eventKey":"e"}`)
			e.createMetric(t, "default", `{"key":"pb","kind":"custom","eventKey":"e"}`)
			e.mgCreate(t, "default", groupBody("pg", "pa", "pb"))
			for round := range 3 {
				var reqs []request
				for i := range 16 {
					if i%2 == 0 {
						reqs = append(reqs, request{http.MethodPatch, metricPath("default", []string{"pa", "pb"}[i%4/2]),
							fmt.Sprintf(`[{"op":"replace","path":"/description","value":"m %d %d"}]`, round, i), nil})
					} else {
						reqs = append(reqs, request{http.MethodPatch, mgPath("default", "pg"),
							fmt.Sprintf(`[{"op":"replace","path":"/description","value":"g %d %d"}]`, round, i), beta})
					}
				}
				e.raceAll(t, reqs, 200)
			}
		})

		t.Run("delete a member while a metric names them maintainer", func(t *testing.T) {
			for i := range rounds {
				id := e.createMembers(t, fmt.Sprintf(`[{"email":"race%d@example.com","role":"writer"}]`, i))[0]
				m := fmt.Sprintf("kept-%d", i)
				e.raceTwo(t,
					request{http.MethodDelete, "/api/v2/members/" + id, "", nil},
					request{http.MethodPost, "/api/v2/metrics/default", fmt.Sprintf(`{"key":%q,"kind":"custom","eventKey":"e","maintainerId":%q}`, m, id), nil},
					204, 201, 400, 409)
				memberExists := e.statusOf(t, "/api/v2/members/"+id) == http.StatusOK
				if e.statusOf(t, metricPath("default", m)) == http.StatusOK && !memberExists {
					t.Errorf("round %d: metric %s is maintained by deleted member %s", i, m, id)
				}
			}
		})

		t.Run("delete a team while a metric names it maintainer", func(t *testing.T) {
			for i := range rounds {
				team := fmt.Sprintf("race-team-%d", i)
				if st, body, _ := e.do(t, http.MethodPost, "/api/v2/teams", fmt.Sprintf(`{"key":%q,"name":%q}`, team, team)); st != http.StatusCreated {
					t.Fatalf("create team: %d %s", st, body)
				}
				m := fmt.Sprintf("team-kept-%d", i)
				e.raceTwo(t,
					request{http.MethodDelete, "/api/v2/teams/" + team, "", nil},
					request{http.MethodPost, "/api/v2/metrics/default", fmt.Sprintf(`{"key":%q,"kind":"custom","eventKey":"e","maintainerTeamKey":%q}`, m, team), nil},
					204, 201, 400, 409)
				teamExists := e.statusOf(t, "/api/v2/teams/"+team) == http.StatusOK
				if e.statusOf(t, metricPath("default", m)) == http.StatusOK && !teamExists {
					t.Errorf("round %d: metric %s is maintained by deleted team %s", i, m, team)
				}
			}
		})
	})
}
