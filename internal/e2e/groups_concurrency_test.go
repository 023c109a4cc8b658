package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/testdb"
)

// TestMetricGroupConcurrency races writers against the unique rules and the
// version check of groups.
func TestMetricGroupConcurrency(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		e.createMetric(t, "default", `{"key":"a","kind":"custom","eventKey":"a"}`)
		e.createMetric(t, "default", `{"key":"b","kind":"custom","eventKey":"b"}`)
		const n = 8
		ctx := allowUndocumented(context.Background())
		race := func(method, path string, body func(i int) string) []raceResult {
			return e.race(t, ctx, n, method, path, body, betaHeader)
		}

		t.Run("derived keys", func(t *testing.T) {
			results := race(http.MethodPost, mgCollectionPath("default"), func(int) string {
				return `{"name":"Race","kind":"standard","tags":[],"metrics":[{"key":"a"},{"key":"b"}]}`
			})
			var keys []string
			for i, r := range results {
				if r.err != nil || r.status != http.StatusCreated {
					t.Errorf("writer %d: %v status %d: %s", i, r.err, r.status, r.body)
					continue
				}
				keys = append(keys, obj(t, r.body)["key"].(string))
			}
			sort.Strings(keys)
			want := []string{"race"}
			for i := 2; i <= n; i++ {
				want = append(want, fmt.Sprintf("race-%d", i))
			}
			sort.Strings(want)
			if d := cmp.Diff(want, keys); d != "" {
				t.Errorf("keys (-want +got):\n%s", d)
			}
			if c := e.mgCount(t, "default"); c != n {
				t.Errorf("totalCount %d, want %d", c, n)
			}
		})
		t.Run("one guardrail group", func(t *testing.T) {
			results := race(http.MethodPost, mgCollectionPath("default"), func(i int) string {
				return fmt.Sprintf(`{"key":"guard-%d","name":"Guard","kind":"guardrail","tags":[],"metrics":[{"key":"a"},{"key":"b"}]}`, i)
			})
			created := 0
			for i, r := range results {
				switch {
				case r.err != nil:
					t.Errorf("writer %d: %v", i, r.err)
				case r.status == http.StatusCreated:
					created++
				default:
					wantError(t, fmt.Sprintf("writer %d", i), r.status, r.body, http.StatusConflict, "already has a guardrail metric group")
				}
			}
			if created != 1 {
				t.Errorf("%d guardrail groups created, want 1", created)
			}
			if got := itemKeys(t, e.mgList(t, "default", "filter=kind+equals+guardrail")); len(got) != 1 {
				t.Errorf("guardrail groups %v", got)
			}
		})
		t.Run("guarded by test of _version", func(t *testing.T) {
			results := race(http.MethodPatch, mgPath("default", "race"), func(i int) string {
				return fmt.Sprintf(`[{"op":"test","path":"/_version","value":1},{"op":"replace","path":"/description","value":"writer %d"}]`, i)
			})
			winner := soleWinner(t, results)
			got := e.mgGet(t, "default", "race", "")
			if got["_version"] != 2.0 || got["description"] != fmt.Sprintf("writer %d", winner) {
				t.Errorf("final _version %v description %v, want 2 and %q", got["_version"], got["description"], fmt.Sprintf("writer %d", winner))
			}
		})
		t.Run("blind writes", func(t *testing.T) {
			results := race(http.MethodPatch, mgPath("default", "race"), func(i int) string {
				return fmt.Sprintf(`[{"op":"replace","path":"/name","value":"blind %d"},{"op":"move","from":"/metrics/0","path":"/metrics/1"}]`, i)
			})
			ok := 0
			for i, r := range results {
				switch {
				case r.err != nil:
					t.Errorf("writer %d: %v", i, r.err)
				case r.status == http.StatusOK:
					ok++
				default:
					wantError(t, fmt.Sprintf("writer %d", i), r.status, r.body, http.StatusConflict)
				}
			}
			if ok == 0 {
				t.Fatalf("no writer succeeded")
			}
			got := e.mgGet(t, "default", "race", "")
			if want := 2.0 + float64(ok); got["_version"] != want {
				t.Errorf("final _version %v after %d successful writes from version 2, want %v", got["_version"], ok, want)
			}
			// Every successful write swapped the two metrics once.
			want := []string{"a:", "b:"}
			if ok%2 == 1 {
				want = []string{"b:", "a:"}
			}
			if d := cmp.Diff(want, mgMetricKeys(t, got)); d != "" {
				t.Errorf("metric order after %d swaps (-want +got):\n%s", ok, d)
			}
		})
	})
}
