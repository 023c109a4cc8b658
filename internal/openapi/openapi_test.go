package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/openapi"
)

// ldDocument reads LaunchDarkly's document from the module cache.
func ldDocument(t *testing.T) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", openapi.SourceModule).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("locate %s: %v", openapi.SourceModule, err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadDocument parses and validates metricsd's document.
func loadDocument(t *testing.T) *openapi3.T {
	t.Helper()
	b, err := openapi.Document("test")
	if err != nil {
		t.Fatalf("Document: %v", err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("load metricsd's document: %v", err)
	}
	// LaunchDarkly's examples do not all match its schemas; everything
	// else must be valid.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("metricsd's OpenAPI document is not valid: %v", err)
	}
	return doc
}

// docOperations lists the document's operations by path template, with the
// document's own path.
func docOperations(doc *openapi3.T) map[openapi.Operation]string {
	out := map[openapi.Operation]string{}
	for p, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			out[openapi.Operation{Path: openapi.Template(p), Method: m}] = p
		}
	}
	return out
}

// TestDocumentMatchesRoutes fails when the route table (api.Operations)
// serves an operation metricsd's OpenAPI document lacks, or the reverse,
// and says what to do about it.
func TestDocumentMatchesRoutes(t *testing.T) {
	doc := loadDocument(t)
	have := docOperations(doc)
	var ld map[string]any
	ldOps := map[openapi.Operation]bool{}
	if err := openapi.JSONFromYAML(ldDocument(t), &ld); err != nil {
		t.Fatal(err)
	}
	for p, item := range ld["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			ldOps[openapi.Operation{Path: openapi.Template(p), Method: strings.ToUpper(m)}] = true
		}
	}
	routes := map[openapi.Operation]bool{}
	for _, op := range api.Operations() {
		key := openapi.Operation{Path: openapi.Template(op.Path), Method: op.Method}
		routes[key] = true
		if _, ok := have[key]; ok {
			continue
		}
		if ldOps[key] {
			t.Errorf("%s is in the route table (internal/api/routes.go) but not in metricsd's OpenAPI document. LaunchDarkly's document has it: run\n\tgo generate ./internal/openapi\nand commit internal/openapi/launchdarkly.json.", op)
			continue
		}
		t.Errorf("%s is in the route table (internal/api/routes.go) but not in metricsd's OpenAPI document, and LaunchDarkly's document lacks it: describe it in internal/openapi/extensions.yaml, e.g.\n"+
			"paths:\n  %s:\n    %s:\n      operationId: <unique, camelCase>\n      summary: <one line>\n      x-metricsd-extension: true\n      tags: [<resource> (metricsd)]\n      parameters: [<path and query parameters>]\n      responses:\n        \"200\":\n          description: <what>\n          content:\n            application/json:\n              schema: {$ref: \"#/components/schemas/Metricsd<Name>\"}\n        \"401\": {$ref: \"#/components/responses/MetricsdUnauthorized\"}\n"+
			"with its schemas under components/schemas (see the versions and diff paths there), then document it in docs/API.md.", op, op.Path, strings.ToLower(op.Method))
	}
	for key, p := range have {
		if !routes[key] {
			t.Errorf("%s %s is in metricsd's OpenAPI document but no route serves it: remove it from internal/openapi/extensions.yaml, or, if it came from LaunchDarkly's document (internal/openapi/launchdarkly.json), run go generate ./internal/openapi.", key.Method, p)
		}
	}
}

// TestLaunchDarklySubsetFresh fails when launchdarkly.json is not what the
// generator makes of today's route table, extensions and LaunchDarkly's
// document.
func TestLaunchDarklySubsetFresh(t *testing.T) {
	want, err := openapi.Generate(ldDocument(t), openapi.Extensions(), api.Operations())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	got, err := os.ReadFile("launchdarkly.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("internal/openapi/launchdarkly.json is stale (%d bytes, the generator makes %d): run\n\tgo generate ./internal/openapi\nand commit the file.", len(got), len(want))
	}
}

// TestExtensionsAreMarked checks that every extension operation says so and
// that operation IDs are unique across the document.
func TestExtensionsAreMarked(t *testing.T) {
	doc := loadDocument(t)
	var ld map[string]any
	if err := json.Unmarshal(mustRead(t, "launchdarkly.json"), &ld); err != nil {
		t.Fatal(err)
	}
	fromLD := map[string]bool{}
	for p, item := range ld["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			fromLD[strings.ToUpper(m)+" "+p] = true
		}
	}
	ids := map[string]string{}
	for p, item := range doc.Paths.Map() {
		for m, op := range item.Operations() {
			where := m + " " + p
			if prev, dup := ids[op.OperationID]; dup || op.OperationID == "" {
				t.Errorf("%s: operationId %q is empty or also used by %s", where, op.OperationID, prev)
			}
			ids[op.OperationID] = where
			if marked := op.Extensions["x-metricsd-extension"] == true; marked == fromLD[where] {
				t.Errorf("%s: x-metricsd-extension is %v, want %v (true exactly for operations of extensions.yaml)", where, marked, !fromLD[where])
			}
		}
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for _, tag := range doc.Tags {
			if !yield(tag.Name) {
				return
			}
		}
	}); len(got) == 0 {
		t.Errorf("document declares no tags")
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExtensionProperties checks that metricsd's fields are added to
// LaunchDarkly's schemas, marked, and the trace kind to their enums.
func TestExtensionProperties(t *testing.T) {
	doc := loadDocument(t)
	for _, c := range []struct{ schema, prop string }{
		{"MetricRep", "traceQuery"}, {"MetricRep", "maintainerTeamKey"}, {"MetricRep", "analysisUnits"},
		{"MetricListingRep", "traceValueLocation"}, {"MetricPost", "traceQuery"}, {"MetricInGroupRep", "analysisUnits"},
	} {
		s := doc.Components.Schemas[c.schema]
		if s == nil || s.Value.Properties[c.prop] == nil {
			t.Errorf("%s lacks %s", c.schema, c.prop)
			continue
		}
		if s.Value.Properties[c.prop].Value.Extensions["x-metricsd-extension"] != true {
			t.Errorf("%s.%s is not marked x-metricsd-extension", c.schema, c.prop)
		}
	}
	if enum := doc.Components.Schemas["MetricRep"].Value.Properties["kind"].Value.Enum; !slices.Contains(enum, any("trace")) {
		t.Errorf("MetricRep kind enum %v lacks trace", enum)
	}
	if _, ok := doc.Components.Schemas["MetricRep"].Value.Properties["key"].Value.Extensions["x-metricsd-extension"]; ok {
		t.Errorf("LaunchDarkly's MetricRep.key is marked as metricsd's")
	}
}
