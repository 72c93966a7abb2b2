package ocspwire

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// ContentTypeRequest and ContentTypeResponse are the media types of the
// OCSP HTTP transport (RFC 6960 appendix A).
const (
	ContentTypeRequest  = "application/ocsp-request"
	ContentTypeResponse = "application/ocsp-response"
)

// ReadRequest extracts the DER OCSPRequest from r: the body of a POST with
// content type application/ocsp-request, or, for a GET, the base64 of the
// request in the path after prefix (URL-escaped or not, '/' characters
// included). limit bounds the DER size (0 means [MaxRequestSize]). The
// result is not parsed; pass it to [ParseRequest]. Errors wrap
// ErrMethodNotAllowed, ErrContentType, ErrTooLarge or ErrBadEncoding; use
// [HTTPStatus] to map them.
func ReadRequest(r *http.Request, prefix string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxRequestSize
	}
	switch r.Method {
	case http.MethodGet:
		return readGet(r, prefix, limit)
	case http.MethodPost:
		return readPost(r, limit)
	}
	return nil, fmt.Errorf("read OCSP request: %w: %s", ErrMethodNotAllowed, r.Method)
}

func readGet(r *http.Request, prefix string, limit int64) ([]byte, error) {
	// The escaped path keeps "%2F" apart from '/', and the base64 may
	// hold both; unescape only after cutting the prefix.
	path := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return nil, fmt.Errorf("read OCSP request: %w: path outside %q", ErrBadEncoding, prefix)
	}
	if !strings.HasSuffix(prefix, "/") {
		// prefix "/ocsp" serves "/ocsp/<base64>".
		rest = strings.TrimPrefix(rest, "/")
	}
	if int64(len(rest)) > 3*(4*limit/3+4) { // each byte escaped at most as %XX
		return nil, fmt.Errorf("read OCSP request: %w", ErrTooLarge)
	}
	b64, err := url.PathUnescape(rest)
	if err != nil {
		return nil, fmt.Errorf("read OCSP request: %w: %v", ErrBadEncoding, err)
	}
	// Some clients do not escape '+', and some proxies turn it into a
	// space: a space is never valid base64, so take it back.
	b64 = strings.ReplaceAll(b64, " ", "+")
	if b64 == "" {
		return nil, fmt.Errorf("read OCSP request: %w: empty request", ErrBadEncoding)
	}
	if int64(len(b64)) > 4*limit/3+4 {
		return nil, fmt.Errorf("read OCSP request: %w", ErrTooLarge)
	}
	enc := base64.StdEncoding.Strict()
	if !strings.HasSuffix(b64, "=") && len(b64)%4 != 0 {
		enc = base64.RawStdEncoding.Strict()
	}
	der, err := enc.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("read OCSP request: %w: %v", ErrBadEncoding, err)
	}
	if int64(len(der)) > limit {
		return nil, fmt.Errorf("read OCSP request: %w", ErrTooLarge)
	}
	return der, nil
}

func readPost(r *http.Request, limit int64) ([]byte, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentTypeRequest {
		return nil, fmt.Errorf("read OCSP request: %w: %q", ErrContentType, r.Header.Get("Content-Type"))
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("read OCSP request: %w: %d bytes", ErrTooLarge, r.ContentLength)
	}
	if r.Body == nil {
		return nil, fmt.Errorf("read OCSP request: %w: no body", ErrBadEncoding)
	}
	der, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("read OCSP request: %w", ErrTooLarge)
		}
		return nil, fmt.Errorf("read OCSP request: %w: read body: %v", ErrBadEncoding, err)
	}
	if int64(len(der)) > limit {
		return nil, fmt.Errorf("read OCSP request: %w", ErrTooLarge)
	}
	return der, nil
}

// Mount returns a handler that sends requests whose path starts with prefix
// to ocsp, untouched, and all others to next (typically an
// *http.ServeMux). An http.ServeMux redirects paths holding "//", which
// unescaped base64 GET requests may contain (RFC 6960 appendix A.1 asks
// clients to URL-escape, not all do); mounting the OCSP handler in front of
// the mux avoids that.
func Mount(prefix string, ocsp, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.EscapedPath(), prefix) {
			ocsp.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// HTTPStatus maps an error of [ReadRequest] to an HTTP status code: 405,
// 415, 413 or 400; 500 for an error that is none of these.
func HTTPStatus(err error) int {
	switch {
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrContentType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBadEncoding), errors.Is(err, ErrMalformed), errors.Is(err, ErrUnsupported):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}
