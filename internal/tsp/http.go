package tsp

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/thiqa/thiqa/internal/problem"
)

// Media types of the RFC 3161 HTTP transport.
const (
	ContentTypeQuery = "application/timestamp-query"
	ContentTypeReply = "application/timestamp-reply"
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
		problem.Write(w, http.StatusMethodNotAllowed, "method-not-allowed", "time-stamp requests must be sent with POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentTypeQuery {
		problem.Write(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "content type must be "+ContentTypeQuery)
		return
	}
	if r.ContentLength > a.maxRequest {
		problem.Write(w, http.StatusRequestEntityTooLarge, "too-large", "request larger than "+strconv.FormatInt(a.maxRequest, 10)+" bytes")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxRequest))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem.Write(w, http.StatusRequestEntityTooLarge, "too-large", "request larger than "+strconv.FormatInt(a.maxRequest, 10)+" bytes")
			return
		}
		problem.Write(w, http.StatusBadRequest, "bad-request", "cannot read request body")
		return
	}
	resp, err := a.Respond(r.Context(), body)
	if err != nil {
		if a.onError != nil {
			a.onError(err)
		}
		problem.Write(w, http.StatusInternalServerError, "internal", "the time-stamping unit failed")
		return
	}
	w.Header().Set("Content-Type", ContentTypeReply)
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
}
