package openapi

import "go.yaml.in/yaml/v3"

// JSONFromYAML decodes YAML into v with string map keys, for tests.
func JSONFromYAML(b []byte, v *map[string]any) error {
	if err := yaml.Unmarshal(b, v); err != nil {
		return err
	}
	*v = stringKeys(orEmpty(*v)).(map[string]any)
	return nil
}
