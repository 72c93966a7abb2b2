package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3.1 description of /api/v1/, kept true by
// TestOpenAPIConformance, which validates every endpoint's responses
// against it.
//
//go:embed openapi.json
var openAPI []byte

func init() {
	routeSets = append(routeSets, func(s *Server, mux *http.ServeMux) {
		const pattern = "GET /api/v1/openapi.json"
		// Public, like the documents it describes are to their clients: no
		// credentials are looked at, so it is not in routeAccess.
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.Write(openAPI)
		})
	})
}
