package api

import (
	"net/http"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/openapi"
)

// openapiPath serves metricsd's own OpenAPI document.
const openapiPath = "/api/v2/openapi.json"

// getOpenAPI serves the document built in New.
func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	if s.openapiErr != nil {
		return core.Errorf(core.KindInternal, "OpenAPI document: %v", s.openapiErr)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.openapiDoc)
	return nil
}

// Operations lists every method of every route of the table, HEAD aside
// (it is implied by GET), for the OpenAPI generator and its tests.
func Operations() []openapi.Operation {
	var out []openapi.Operation
	for _, rt := range (&Server{}).Routes() {
		for _, m := range rt.Methods {
			out = append(out, openapi.Operation{Path: rt.Pattern, Method: m})
		}
	}
	return out
}
