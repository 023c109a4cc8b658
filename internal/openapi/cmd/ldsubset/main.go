// Command ldsubset writes internal/openapi/launchdarkly.json: the operations
// of LaunchDarkly's OpenAPI document (api/openapi.yaml of the api-client-go
// module in go.mod) that metricsd's route table serves and extensions.yaml
// does not describe, with the components they reference. Run it through
// go generate ./internal/openapi.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/openapi"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ldsubset:", err)
		os.Exit(1)
	}
}

func run() error {
	src, err := SourcePath()
	if err != nil {
		return err
	}
	ld, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	out, err := openapi.Generate(ld, openapi.Extensions(), api.Operations())
	if err != nil {
		return err
	}
	return os.WriteFile("launchdarkly.json", out, 0o644)
}

// SourcePath locates api/openapi.yaml in the module cache.
func SourcePath() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", openapi.SourceModule).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("locate module %s: %w", openapi.SourceModule, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not downloaded (go mod download)", openapi.SourceModule)
	}
	return filepath.Join(dir, "api", "openapi.yaml"), nil
}
