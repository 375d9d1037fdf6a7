package web

import (
	"net/http"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/docs"
)

// openAPI serves GET /api/v1/openapi.json: docs/openapi.yaml, embedded in
// the binary, as JSON.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := docs.OpenAPIJSON()
	if err != nil {
		s.writeError(w, r, faka.Errorf(faka.EInternal, "the OpenAPI description: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}
