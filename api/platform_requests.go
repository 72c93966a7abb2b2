package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/thiqa/thiqa/platform/requests"
)

// RequestsService is what the service request endpoints need
// (*requests.Service).
type RequestsService interface {
	Open(ctx context.Context, by requests.Principal, code string) (requests.View, error)
	Get(ctx context.Context, by requests.Principal, id string) (requests.View, error)
	List(ctx context.Context, by requests.Principal) ([]requests.View, error)
	Queue(ctx context.Context, by requests.Principal, state, after string, limit int) (requests.Queue, error)
	Submit(ctx context.Context, by requests.Principal, id string, signedForm []byte) (requests.View, error)
	Cancel(ctx context.Context, by requests.Principal, id string) (requests.View, error)
	Accept(ctx context.Context, by requests.Principal, id string, result []byte, note string) (requests.View, error)
	Reject(ctx context.Context, by requests.Principal, id, reason string) (requests.View, error)
	Document(ctx context.Context, by requests.Principal, id, which string) ([]byte, string, error)
}

var _ RequestsService = (*requests.Service)(nil)

func init() {
	routeSets = append(routeSets, requestRoutes)
	errorMap = append(errorMap, []struct {
		err    error
		status int
		slug   string
	}{
		{requests.ErrInvalid, http.StatusBadRequest, "invalid"},
		{requests.ErrNotFound, http.StatusNotFound, "not-found"},
		{requests.ErrForbidden, http.StatusForbidden, "forbidden"},
		{requests.ErrState, http.StatusConflict, "wrong-state"},
		{requests.ErrUnpaid, http.StatusPaymentRequired, "unpaid"},
		{requests.ErrUnsigned, http.StatusConflict, "unsigned"},
		{requests.ErrForm, http.StatusUnprocessableEntity, "form-refused"},
		{requests.ErrTooLarge, http.StatusRequestEntityTooLarge, "too-large"},
	}...)
}

type openServiceRequest struct {
	Service string `json:"service"`
}

type submitServiceRequest struct {
	// SignedForm is the signed application form, when the citizen brings
	// it; absent, Thiqa takes it from the request's sign request.
	SignedForm []byte `json:"signed_form,omitempty"`
}

type acceptServiceRequest struct {
	// Result is the result document (PDF); absent, Thiqa writes a
	// decision document.
	Result []byte `json:"result,omitempty"`
	Note   string `json:"note,omitempty"`
}

type rejectServiceRequest struct {
	Reason string `json:"reason"`
}

func requestRoutes(s *Server, mux *http.ServeMux) {
	route := func(pattern string, status int, h func(*http.Request) (any, error)) {
		mux.HandleFunc(pattern, s.authorize(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.Requests == nil {
				s.writeError(w, r, ErrUnavailable)
				return
			}
			v, err := h(r)
			if err != nil {
				s.refuse(w, r, err)
				return
			}
			writeJSON(w, status, v)
		}))
	}
	rq := func() RequestsService { return s.Requests }
	by := signingPrincipal

	route("POST /api/v1/service-requests", http.StatusCreated, func(r *http.Request) (any, error) {
		var req openServiceRequest
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		return rq().Open(r.Context(), by(r), req.Service)
	})
	route("GET /api/v1/service-requests", http.StatusOK, func(r *http.Request) (any, error) {
		return rq().List(r.Context(), by(r))
	})
	route("GET /api/v1/service-requests/{id}", http.StatusOK, func(r *http.Request) (any, error) {
		return rq().Get(r.Context(), by(r), r.PathValue("id"))
	})
	route("POST /api/v1/service-requests/{id}/submit", http.StatusOK, func(r *http.Request) (any, error) {
		var req submitServiceRequest
		if r.ContentLength != 0 {
			if err := decodeJSON(r, &req); err != nil {
				return nil, err
			}
		}
		return rq().Submit(r.Context(), by(r), r.PathValue("id"), req.SignedForm)
	})
	route("POST /api/v1/service-requests/{id}/cancel", http.StatusOK, func(r *http.Request) (any, error) {
		if err := emptyBody(r); err != nil {
			return nil, err
		}
		return rq().Cancel(r.Context(), by(r), r.PathValue("id"))
	})
	route("POST /api/v1/service-requests/{id}/accept", http.StatusOK, func(r *http.Request) (any, error) {
		var req acceptServiceRequest
		if r.ContentLength != 0 {
			if err := decodeJSON(r, &req); err != nil {
				return nil, err
			}
		}
		return rq().Accept(r.Context(), by(r), r.PathValue("id"), req.Result, req.Note)
	})
	route("POST /api/v1/service-requests/{id}/reject", http.StatusOK, func(r *http.Request) (any, error) {
		var req rejectServiceRequest
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		return rq().Reject(r.Context(), by(r), r.PathValue("id"), req.Reason)
	})
	route("GET /api/v1/agency/service-requests", http.StatusOK, func(r *http.Request) (any, error) {
		q := r.URL.Query()
		limit := 0
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%w: limit must be a number", ErrBadRequest)
			}
			limit = n
		}
		return rq().Queue(r.Context(), by(r), q.Get("state"), q.Get("after"), limit)
	})
	for _, which := range []string{requests.DocForm, requests.DocSignedForm, requests.DocResult} {
		pattern := "GET /api/v1/service-requests/{id}/" + which
		mux.HandleFunc(pattern, s.authorize(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.Requests == nil {
				s.writeError(w, r, ErrUnavailable)
				return
			}
			b, name, err := s.Requests.Document(r.Context(), signingPrincipal(r), r.PathValue("id"), which)
			if err != nil {
				s.refuse(w, r, err)
				return
			}
			writePDF(w, b, name)
		}))
	}
}

// writePDF sends a PDF as an attachment.
func writePDF(w http.ResponseWriter, b []byte, name string) {
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}
