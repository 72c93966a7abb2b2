package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// Verifier validates signed PDFs (*validate.Validator).
type Verifier interface {
	Validate(ctx context.Context, r io.ReaderAt, size int64) (*validate.Report, error)
}

var _ Verifier = (*validate.Validator)(nil)

func init() {
	routeSets = append(routeSets, (*Server).verifyRoutes)
	errorMap = append(errorMap, []struct {
		err    error
		status int
		slug   string
	}{
		{validate.ErrTooLarge, http.StatusRequestEntityTooLarge, "too-large"},
	}...)
}

// verifyRoutes serves POST /api/v1/verify: the body is a PDF
// (application/pdf or any other type) or a multipart form whose "file"
// part is the PDF; the answer is the JSON validation report (schema
// validate.SchemaVersion), 200 whatever the verdict. Anyone may call it
// (routeAccess); the server's body limit bounds the upload. An agency
// must hold the verify scope, and is then not counted; every other
// caller counts against RateLimits.PerIPVerify for its address, before
// the body is read, since a validation costs CPU and fetches.
func (s *Server) verifyRoutes(mux *http.ServeMux) {
	const pattern = "POST /api/v1/verify"
	mux.HandleFunc(pattern, s.authorize(pattern, func(w http.ResponseWriter, r *http.Request) {
		if s.Verifier == nil {
			s.writeError(w, r, ErrUnavailable)
			return
		}
		if a, ok := r.Context().Value(agencyKey).(store.Agency); ok {
			if !signing.HasScope(a, signing.ScopeVerify) {
				s.refuse(w, r, fmt.Errorf("%w: scope %s is needed", ErrForbidden, signing.ScopeVerify))
				return
			}
		} else if err := s.checkLimits(r, s.verifyLimit(r)); err != nil {
			s.refuse(w, r, err)
			return
		}
		pdf, err := readPDFBody(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		rep, err := s.Verifier.Validate(r.Context(), bytes.NewReader(pdf), int64(len(pdf)))
		if err != nil {
			s.writeError(w, r, fmt.Errorf("verify: %w", err))
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}))
}

// readPDFBody returns the uploaded PDF: the raw body, or the "file" part
// of a multipart form.
func readPDFBody(r *http.Request) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/pdf" && mt != "multipart/form-data" {
		return nil, fmt.Errorf("%w: send application/pdf or multipart/form-data with a \"file\" part, not %q", ErrMediaType, mt)
	}
	var src io.Reader = r.Body
	if mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		for i := 0; ; i++ {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) || i > 16 {
				return nil, fmt.Errorf("%w: no \"file\" part in the form", ErrBadRequest)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
			}
			if p.FormName() == "file" {
				src = p
				break
			}
		}
	}
	b, err := io.ReadAll(src)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: read body: %w", ErrBadRequest, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty body (send the PDF)", ErrBadRequest)
	}
	return b, nil
}

// verifyLimit counts the validations asked from the request's address.
func (s *Server) verifyLimit(r *http.Request) limit {
	return limit{key: "verify/ip:" + clientIP(r, s.opts.Limits.TrustedProxies), max: s.opts.Limits.PerIPVerify, what: "from this address"}
}
