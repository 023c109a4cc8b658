package e2e

import (
	"fmt"
	"github.com/metricsd/metricsd/internal/action"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	ldapi "github.com/launchdarkly/api-client-go/v22"
)

// betaHeader is the header every metric group request needs.
const betaHeader = "LD-API-Version: beta"

func mgCollectionPath(project string) string { return "/api/v2/projects/" + project + "/metric-groups" }

func mgPath(project, key string) string {
	return mgCollectionPath(project) + "/" + url.PathEscape(key)
}

// betaOnlyTransport leaves "beta" as the only LD-API-Version value of a
// request that carries it. The generated client always adds its own
// LD-API-Version (20240415) before the configured default headers, so a
// client configured with LD-API-Version: beta sends both values; see the
// "generated client with only the default header" subtest.
type betaOnlyTransport struct{ base http.RoundTripper }

func (b betaOnlyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if slices.ContainsFunc(req.Header.Values("LD-API-Version"), func(v string) bool { return strings.EqualFold(v, "beta") }) {
		req = req.Clone(req.Context())
		req.Header.Set("LD-API-Version", "beta")
	}
	return b.base.RoundTrip(req)
}

// mgAPI returns a generated client configured with the default header
// LD-API-Version: beta whose responses are validated, failing t.
func (e *env) mgAPI(t testing.TB) *ldapi.APIClient {
	cfg := ldapi.NewConfiguration()
	cfg.Servers = ldapi.ServerConfigurations{{URL: e.base}}
	cfg.AddDefaultHeader("Authorization", e.token)
	cfg.AddDefaultHeader("LD-API-Version", "beta")
	cfg.HTTPClient = &http.Client{Transport: betaOnlyTransport{newValidatingTransport(t, e.transport)}}
	return ldapi.NewAPIClient(cfg)
}

// mgDo sends a raw metric group request with the beta header.
func (e *env) mgDo(t testing.TB, method, path, body string, headers ...string) (int, []byte) {
	t.Helper()
	st, b, _ := e.do(t, method, path, body, append([]string{betaHeader}, headers...)...)
	return st, b
}

// mgDoUndoc is mgDo for responses the OpenAPI document does not list (409s).
func (e *env) mgDoUndoc(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	st, b, _ := e.doUndoc(t, method, path, body, betaHeader)
	return st, b
}

// mgCreate creates a group from a raw body and returns its representation.
func (e *env) mgCreate(t testing.TB, project, body string) map[string]any {
	t.Helper()
	st, b := e.mgDo(t, http.MethodPost, mgCollectionPath(project), body)
	if st != http.StatusCreated {
		t.Fatalf("create metric group %s: status %d: %s", body, st, b)
	}
	return obj(t, b)
}

// mgGet reads a group, which must exist.
func (e *env) mgGet(t testing.TB, project, key, query string) map[string]any {
	t.Helper()
	path := mgPath(project, key)
	if query != "" {
		path += "?" + query
	}
	st, b := e.mgDo(t, http.MethodGet, path, "")
	if st != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, st, b)
	}
	return obj(t, b)
}

// mgList lists groups with a raw query.
func (e *env) mgList(t testing.TB, project, query string) map[string]any {
	t.Helper()
	path := mgCollectionPath(project)
	if query != "" {
		path += "?" + query
	}
	st, b := e.mgDo(t, http.MethodGet, path, "")
	if st != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, st, b)
	}
	return obj(t, b)
}

func (e *env) mgCount(t testing.TB, project string) int {
	t.Helper()
	n, ok := e.mgList(t, project, "limit=1")["totalCount"].(float64)
	if !ok {
		t.Fatalf("group list of %s has no totalCount", project)
	}
	return int(n)
}

// mgPatch sends a raw JSON Patch and returns the status and body.
func (e *env) mgPatch(t testing.TB, project, key, patch string) (int, []byte) {
	t.Helper()
	return e.mgDoUndoc(t, http.MethodPatch, mgPath(project, key), patch)
}

// mgOwner is the member summary of the bootstrap owner.
func mgOwner(e *env) map[string]any {
	return map[string]any{
		"_links": map[string]any{"self": map[string]any{"href": "/api/v2/members/" + e.ownerID, "type": "application/json"}},
		"_id":    e.ownerID, "firstName": "Metricsd", "lastName": "Owner", "role": "owner", "email": "owner@metricsd.local",
	}
}

// mgEntry is the expected representation of metric m (its own current
// representation) inside a group of project.
func mgEntry(project string, m map[string]any, nameInGroup string) map[string]any {
	key := m["key"].(string)
	out := map[string]any{
		"key": key, "_versionId": m["_versionId"], "name": m["name"], "kind": m["kind"],
		"isNumeric": m["isNumeric"], "unitAggregationType": m["unitAggregationType"],
		"_links":      map[string]any{"self": map[string]any{"href": "/api/v2/metrics/" + project + "/" + key, "type": "application/json"}},
		"nameInGroup": nameInGroup, "randomizationUnits": m["randomizationUnits"], "analysisUnits": m["randomizationUnits"],
	}
	if ek, ok := m["eventKey"]; ok {
		out["eventKey"] = ek
	}
	return out
}

// mgExpect is the expected representation of a group maintained by the
// owner, without _id, _creationDate and _lastModified.
func mgExpect(e *env, project, key, name, kind, description string, tags []string, version int, metrics ...map[string]any) map[string]any {
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"key": key, "name": name, "kind": kind, "description": description, "tags": tags,
		"_links": map[string]any{
			"parent": map[string]any{"href": "/api/v2/projects/" + project, "type": "application/json"},
			"self":   map[string]any{"href": "/api/v2/projects/" + project + "/metric-groups/" + key, "type": "application/json"},
		},
		"maintainer":            mgOwnerMaintainer(e),
		"metrics":               metrics,
		"_version":              version,
		"activeExperimentCount": 0, "activeGuardedRolloutCount": 0,
		"_access": ownerAccess(nil, action.MetricGroupActions()),
	}
}

var mgVolatile = []string{"_id", "_creationDate", "_lastModified"}

// mgCompare compares a group representation, volatile fields aside.
func mgCompare(t testing.TB, what string, want map[string]any, got map[string]any) {
	t.Helper()
	if d := cmp.Diff(roundTrip(t, want), roundTrip(t, without(got, mgVolatile...))); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// mgCheckVolatile checks _id and the times of a group changed within
// [since, now].
func mgCheckVolatile(t testing.TB, rep map[string]any, since time.Time) {
	t.Helper()
	if _, err := uuid.Parse(fmt.Sprint(rep["_id"])); err != nil {
		t.Errorf("_id %#v is not a UUID", rep["_id"])
	}
	created, ok1 := rep["_creationDate"].(float64)
	modified, ok2 := rep["_lastModified"].(float64)
	if !ok1 || !ok2 {
		t.Fatalf("_creationDate %#v, _lastModified %#v: want numbers", rep["_creationDate"], rep["_lastModified"])
	}
	now := time.Now().UnixMilli()
	if m := int64(modified); m < since.UnixMilli() || m > now || modified < created {
		t.Errorf("_lastModified %d is not within [%d, %d] and not before _creationDate %d", m, since.UnixMilli(), now, int64(created))
	}
	if rep["_version"] == 1.0 && created != modified {
		t.Errorf("version 1: _lastModified %d differs from _creationDate %d", int64(modified), int64(created))
	}
}

// mgMetricKeys returns the keys of a group's metrics, in order, each with
// its nameInGroup after a colon.
func mgMetricKeys(t testing.TB, rep map[string]any) []string {
	t.Helper()
	ms, ok := rep["metrics"].([]any)
	if !ok {
		t.Fatalf("group without metrics: %v", rep)
	}
	out := []string{}
	for _, m := range ms {
		mm := m.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", mm["key"], mm["nameInGroup"]))
	}
	return out
}
