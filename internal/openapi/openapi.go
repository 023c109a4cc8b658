// Package openapi builds metricsd's own OpenAPI 3 document, served at
// GET /api/v2/openapi.json: the operations of LaunchDarkly's REST API that
// metricsd serves, taken by a generator from the document that ships in
// api-client-go (launchdarkly.json, never edited by hand), merged with
// metricsd's extensions (extensions.yaml, written by hand).
//
// To add a route: if LaunchDarkly's API has the operation, run
// go generate ./internal/openapi; otherwise describe it under paths in
// extensions.yaml (which may $ref LaunchDarkly's components; run the
// generator after adding such a reference). The api package's tests fail,
// saying which of the two to do, while the route table and the document
// disagree.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:generate go run ./cmd/ldsubset

// launchDarkly is the generated subset of LaunchDarkly's document.
//
//go:embed launchdarkly.json
var launchDarkly []byte

// extensions are metricsd's own paths and components.
//
//go:embed extensions.yaml
var extensions []byte

// Extensions returns extensions.yaml, for the generator.
func Extensions() []byte { return slices.Clone(extensions) }

// Document returns metricsd's OpenAPI document as JSON, with version as
// info.version. It fails when the extensions describe an operation or a
// component the LaunchDarkly subset has too.
func Document(version string) ([]byte, error) {
	var ld, ext map[string]any
	if err := json.Unmarshal(launchDarkly, &ld); err != nil {
		return nil, fmt.Errorf("launchdarkly.json: %w", err)
	}
	if err := yaml.Unmarshal(extensions, &ext); err != nil {
		return nil, fmt.Errorf("extensions.yaml: %w", err)
	}
	ext = stringKeys(orEmpty(ext)).(map[string]any)
	paths := asMap(ld["paths"])
	for p, item := range asMap(ext["paths"]) {
		have := asMap(paths[p])
		if have == nil {
			paths[p] = item
			continue
		}
		for k, v := range asMap(item) {
			if _, dup := have[k]; dup {
				return nil, fmt.Errorf("extensions.yaml: %s %s is LaunchDarkly's already (launchdarkly.json); remove it from one of them", strings.ToUpper(k), p)
			}
			have[k] = v
		}
	}
	components := asMap(ld["components"])
	for section, defs := range asMap(asMap(ext["components"])) {
		have := asMap(components[section])
		if have == nil {
			have = map[string]any{}
			components[section] = have
		}
		for name, def := range asMap(defs) {
			if _, dup := have[name]; dup {
				return nil, fmt.Errorf("extensions.yaml: component %s/%s is LaunchDarkly's already (launchdarkly.json); give it another name", section, name)
			}
			have[name] = def
		}
	}
	if err := addProperties(asMap(components["schemas"]), asMap(ext["x-metricsd-properties"])); err != nil {
		return nil, err
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "metricsd REST API",
			"version": version,
			"description": "The LaunchDarkly REST API v2 operations metricsd serves, from " + SourceModule +
				"'s api/openapi.yaml (Apache 2.0), and metricsd's extensions (x-metricsd-extension: true). See docs/API.md.",
			"license": map[string]any{"name": "Apache 2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
		},
		"servers":    []any{map[string]any{"url": "/"}},
		"security":   ld["security"],
		"tags":       tags(paths),
		"paths":      paths,
		"components": components,
	}
	return json.Marshal(doc)
}

// addProperties adds metricsd's extension properties (extensions.yaml's
// x-metricsd-properties: schema name → property name → schema) to
// LaunchDarkly's schemas, marking each with x-metricsd-extension.
func addProperties(schemas, overlay map[string]any) error {
	for _, name := range slices.Sorted(maps.Keys(overlay)) {
		schema := asMap(schemas[name])
		if schema == nil {
			return fmt.Errorf("extensions.yaml: x-metricsd-properties names %s, which launchdarkly.json lacks (run go generate ./internal/openapi if LaunchDarkly's document has it)", name)
		}
		props := asMap(schema["properties"])
		if props == nil {
			props = map[string]any{}
			schema["properties"] = props
		}
		for prop, def := range asMap(overlay[name]) {
			if _, dup := props[prop]; dup {
				return fmt.Errorf("extensions.yaml: x-metricsd-properties: %s.%s is LaunchDarkly's already", name, prop)
			}
			d := maps.Clone(asMap(def))
			if d == nil {
				return fmt.Errorf("extensions.yaml: x-metricsd-properties: %s.%s is not a schema", name, prop)
			}
			d["x-metricsd-extension"] = true
			props[prop] = d
		}
	}
	return nil
}

// tags lists the tags the operations use, so that the document declares
// each one it names.
func tags(paths map[string]any) []any {
	seen := map[string]bool{}
	for _, item := range paths {
		for _, op := range asMap(item) {
			for _, t := range asSlice(asMap(op)["tags"]) {
				if s, ok := t.(string); ok {
					seen[s] = true
				}
			}
		}
	}
	var out []any
	for _, t := range slices.Sorted(maps.Keys(seen)) {
		out = append(out, map[string]any{"name": t})
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// stringKeys turns the map[any]any a YAML mapping with non-string keys
// (an unquoted status code: 200) decodes to into map[string]any.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = stringKeys(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
		return v
	}
	return v
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
