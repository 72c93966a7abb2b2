package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// SigningService is what the signing endpoints need (*signing.Service).
type SigningService interface {
	AuthenticateAgency(ctx context.Context, key string) (store.Agency, error)
	AuthenticateAgencyCert(ctx context.Context, der []byte) (store.Agency, error)
	Create(ctx context.Context, by signing.Principal, n signing.NewRequest) (signing.RequestView, bool, error)
	Get(ctx context.Context, by signing.Principal, id string) (signing.RequestView, error)
	List(ctx context.Context, by signing.Principal, pendingOnly bool) ([]signing.RequestView, error)
	Document(ctx context.Context, by signing.Principal, id string, i int, signed bool) ([]byte, string, error)
	Evidence(ctx context.Context, by signing.Principal, id string) ([]store.SignEvidence, error)
	BeginApproval(ctx context.Context, by signing.Principal, id string) (signing.Challenge, error)
	Approve(ctx context.Context, by signing.Principal, id, ceremonyID string, assertion []byte) (signing.RequestView, error)
	Reject(ctx context.Context, by signing.Principal, id, why string) (signing.RequestView, error)
}

var _ SigningService = (*signing.Service)(nil)

func init() {
	routeSets = append(routeSets, signingRoutes)
	errorMap = append(errorMap, []struct {
		err    error
		status int
		slug   string
	}{
		{signing.ErrInvalid, http.StatusBadRequest, "invalid"},
		{signing.ErrTooMany, http.StatusRequestEntityTooLarge, "too-large"},
		{signing.ErrNotFound, http.StatusNotFound, "not-found"},
		{signing.ErrForbidden, http.StatusForbidden, "forbidden"},
		{signing.ErrUnauthenticated, http.StatusUnauthorized, "unauthorized"},
		{signing.ErrState, http.StatusConflict, "wrong-state"},
		{signing.ErrExpired, http.StatusGone, "expired"},
		{signing.ErrDocument, http.StatusUnprocessableEntity, "document-refused"},
		{signing.ErrConflict, http.StatusConflict, "idempotency-conflict"},
		{signing.ErrExists, http.StatusConflict, "exists"},
		{signing.ErrSigning, http.StatusBadGateway, "signing-failed"},
		{enrollment.ErrApproval, http.StatusForbidden, "approval-refused"},
	}...)
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 128

func signingRoutes(s *Server, mux *http.ServeMux) {
	route := func(pattern string, h handler) {
		mux.HandleFunc(pattern, s.authorize(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.Signing == nil {
				s.writeError(w, r, ErrUnavailable)
				return
			}
			status, v, err := h(r)
			if err != nil {
				s.refuse(w, r, err)
				return
			}
			writeJSON(w, status, v)
		}))
	}
	sg := func() SigningService { return s.Signing }
	by := signingPrincipal
	ok := func(v any, err error) (int, any, error) { return http.StatusOK, v, err }

	route("POST /api/v1/sign-requests", func(r *http.Request) (int, any, error) {
		var n signing.NewRequest
		if err := decodeJSON(r, &n); err != nil {
			return 0, nil, err
		}
		n.IdempotencyKey = r.Header.Get("Idempotency-Key")
		if len(n.IdempotencyKey) > maxIdempotencyKey {
			return 0, nil, fmt.Errorf("%w: Idempotency-Key over %d bytes", ErrBadRequest, maxIdempotencyKey)
		}
		v, created, err := sg().Create(r.Context(), by(r), n)
		if !created {
			return http.StatusOK, v, err
		}
		return http.StatusCreated, v, err
	})
	route("GET /api/v1/sign-requests", func(r *http.Request) (int, any, error) {
		state := r.URL.Query().Get("state")
		if state != "" && state != store.SignPending {
			return 0, nil, fmt.Errorf("%w: state filter must be %q", ErrBadRequest, store.SignPending)
		}
		return ok(sg().List(r.Context(), by(r), state == store.SignPending))
	})
	route("GET /api/v1/sign-requests/{id}", func(r *http.Request) (int, any, error) {
		return ok(sg().Get(r.Context(), by(r), r.PathValue("id")))
	})
	route("GET /api/v1/sign-requests/{id}/evidence", func(r *http.Request) (int, any, error) {
		return ok(sg().Evidence(r.Context(), by(r), r.PathValue("id")))
	})
	route("POST /api/v1/sign-requests/{id}/approval/begin", func(r *http.Request) (int, any, error) {
		if err := emptyBody(r); err != nil {
			return 0, nil, err
		}
		c, err := sg().BeginApproval(r.Context(), by(r), r.PathValue("id"))
		return http.StatusOK, challengeReply{Challenge: c, Options: json.RawMessage(c.Options)}, err
	})
	route("POST /api/v1/sign-requests/{id}/approval/finish", func(r *http.Request) (int, any, error) {
		var req finishRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		return ok(sg().Approve(r.Context(), by(r), r.PathValue("id"), req.CeremonyID, req.Credential))
	})
	route("POST /api/v1/sign-requests/{id}/reject", func(r *http.Request) (int, any, error) {
		var req whyRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		return ok(sg().Reject(r.Context(), by(r), r.PathValue("id"), req.Why))
	})
	for _, d := range []struct {
		suffix string
		signed bool
	}{{"", false}, {"/signed", true}} {
		pattern := "GET /api/v1/sign-requests/{id}/documents/{n}" + d.suffix
		mux.HandleFunc(pattern, s.authorize(pattern, func(w http.ResponseWriter, r *http.Request) {
			s.serveDocument(w, r, d.signed)
		}))
	}
}

// challengeReply sends the WebAuthn options as JSON, not base64.
type challengeReply struct {
	signing.Challenge
	Options json.RawMessage `json:"options"`
}

// emptyBody accepts no body or an empty JSON object.
func emptyBody(r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	var v struct{}
	return decodeJSON(r, &v)
}

// serveDocument sends a PDF of a request.
func (s *Server) serveDocument(w http.ResponseWriter, r *http.Request, signed bool) {
	if s.Signing == nil {
		s.writeError(w, r, ErrUnavailable)
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		s.refuse(w, r, fmt.Errorf("%w: document number", ErrBadRequest))
		return
	}
	b, name, err := s.Signing.Document(r.Context(), signingPrincipal(r), r.PathValue("id"), n, signed)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}
