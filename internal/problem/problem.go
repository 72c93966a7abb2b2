// Package problem writes RFC 9457 problem details (application/problem+json)
// for HTTP errors. Every Thiqa handler reports errors through it, so that
// clients get one shape and a stable type URI per kind of error. It imports
// no other Thiqa package.
package problem

import (
	"encoding/json"
	"net/http"
)

// Details is an RFC 9457 problem document.
type Details struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// TypeBase prefixes Thiqa's problem type URIs; the suffix is a stable slug.
const TypeBase = "https://thiqa.jo/problems/"

// Write sends a problem document with the given status, stable slug (the
// last part of the type URI) and detail.
func Write(w http.ResponseWriter, status int, slug, detail string) {
	d := Details{Type: TypeBase + slug, Title: http.StatusText(status), Status: status, Detail: detail}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(d)
}
