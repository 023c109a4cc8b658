// Package e2e holds metricsd's end-to-end tests. They start the real
// service (internal/app) on a loopback port against every database backend
// that internal/testdb offers, talk to it through LaunchDarkly's generated Go
// client (github.com/launchdarkly/api-client-go/v22) and through raw HTTP,
// and check every /api/v2 response against LaunchDarkly's OpenAPI document
// shipped with that client.
//
// Run them with
//
//	go test ./internal/e2e/
//
// and set METRICSD_TEST_POSTGRES (for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them on
// PostgreSQL too. METRICSD_OPENAPI_SPEC may name another copy of the
// OpenAPI document; by default the client module's api/openapi.yaml is used.
package e2e
