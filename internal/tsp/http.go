package tsp

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// Media types of the RFC 3161 HTTP transport and of RFC 9457 problems.
const (
	ContentTypeQuery   = "application/timestamp-query"
	ContentTypeReply   = "application/timestamp-reply"
	ContentTypeProblem = "application/problem+json"
)

// ServeHTTP implements the RFC 3161 HTTP transport: a POST of
// application/timestamp-query is answered with application/timestamp-reply
// and status 200, whether the request was granted or rejected. Errors below
// the TSP layer are answered with an RFC 9457 problem: 405 for a method other
// than POST, 415 for another content type, 413 for a body over
// MaxRequestBytes, 400 for a body that cannot be read and 500 for an internal
// failure, which is also given to Options.OnError.
func (a *Authority) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeProblem(w, http.StatusMethodNotAllowed, "time-stamp requests must be sent with POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentTypeQuery {
		writeProblem(w, http.StatusUnsupportedMediaType, "content type must be "+ContentTypeQuery)
		return
	}
	if r.ContentLength > a.maxRequest {
		writeProblem(w, http.StatusRequestEntityTooLarge, "request larger than "+strconv.FormatInt(a.maxRequest, 10)+" bytes")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxRequest))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "request larger than "+strconv.FormatInt(a.maxRequest, 10)+" bytes")
			return
		}
		writeProblem(w, http.StatusBadRequest, "cannot read request body")
		return
	}
	resp, err := a.Respond(r.Context(), body)
	if err != nil {
		if a.onError != nil {
			a.onError(err)
		}
		writeProblem(w, http.StatusInternalServerError, "the time-stamping unit failed")
		return
	}
	w.Header().Set("Content-Type", ContentTypeReply)
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
}

// problem is an RFC 9457 problem details object.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	body, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
	w.Header().Set("Content-Type", ContentTypeProblem)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
