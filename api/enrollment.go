package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
)

// EnrollmentService is what the enrollment endpoints need
// (*enrollment.Service).
type EnrollmentService interface {
	Authenticate(ctx context.Context, token string) (enrollment.Principal, error)
	SignOut(ctx context.Context, token string) error
	OfficerSignIn(ctx context.Context, user, password, code string) (enrollment.SessionToken, enrollment.Principal, error)
	CreateCentre(ctx context.Context, by enrollment.Principal, c store.Centre) (store.Centre, error)
	Centres(ctx context.Context) ([]store.Centre, error)
	CreateOfficer(ctx context.Context, by enrollment.Principal, n enrollment.NewOfficer) (enrollment.OfficerEnrolment, error)
	Enrol(ctx context.Context, by enrollment.Principal, p enrollment.Proofing) (enrollment.Enrolment, error)
	ReissueCode(ctx context.Context, by enrollment.Principal, nationalID string) (enrollment.ActivationCode, error)
	Identity(ctx context.Context, by enrollment.Principal, nationalID string) (enrollment.IdentityView, error)
	Me(ctx context.Context, by enrollment.Principal) (enrollment.IdentityView, error)
	BeginActivation(ctx context.Context, nationalID, code string) (enrollment.Challenge, error)
	FinishActivation(ctx context.Context, ceremonyID, deviceName string, response []byte) (enrollment.Activation, error)
	BeginSignIn(ctx context.Context) (enrollment.Challenge, error)
	FinishSignIn(ctx context.Context, ceremonyID string, response []byte) (enrollment.SessionToken, enrollment.Principal, error)
	BeginAddDevice(ctx context.Context, by enrollment.Principal) (enrollment.Challenge, error)
	FinishAddDevice(ctx context.Context, by enrollment.Principal, ceremonyID, deviceName string, response []byte) (enrollment.IdentityView, error)
	DisableDevice(ctx context.Context, by enrollment.Principal, nationalID, deviceID, why string) (enrollment.IdentityView, error)
	Suspend(ctx context.Context, by enrollment.Principal, nationalID, why string) (enrollment.IdentityView, error)
	Resume(ctx context.Context, by enrollment.Principal, nationalID, why string) (enrollment.IdentityView, error)
	RequestRevocation(ctx context.Context, by enrollment.Principal, nationalID, reason, why string) (store.Approval, error)
	Approve(ctx context.Context, by enrollment.Principal, approvalID string, approve bool) (store.Approval, error)
	PendingApprovals(ctx context.Context, by enrollment.Principal) ([]store.Approval, error)
	DisableOfficer(ctx context.Context, by enrollment.Principal, user, why string) error
}

var _ EnrollmentService = (*enrollment.Service)(nil)

func init() {
	routeSets = append(routeSets, enrollmentRoutes)
	errorMap = append(errorMap, []struct {
		err    error
		status int
		slug   string
	}{
		{enrollment.ErrInvalid, http.StatusBadRequest, "invalid"},
		{enrollment.ErrNotFound, http.StatusNotFound, "not-found"},
		{enrollment.ErrExists, http.StatusConflict, "exists"},
		{enrollment.ErrBadCredentials, http.StatusUnauthorized, "bad-credentials"},
		{enrollment.ErrLocked, http.StatusTooManyRequests, "locked"},
		{enrollment.ErrBadCode, http.StatusUnauthorized, "bad-activation-code"},
		{enrollment.ErrCeremony, http.StatusBadRequest, "unknown-ceremony"},
		{enrollment.ErrWebAuthn, http.StatusUnauthorized, "passkey-refused"},
		{enrollment.ErrUnauthenticated, http.StatusUnauthorized, "unauthorized"},
		{enrollment.ErrForbidden, http.StatusForbidden, "forbidden"},
		{enrollment.ErrState, http.StatusConflict, "wrong-state"},
		{enrollment.ErrProofing, http.StatusUnprocessableEntity, "proofing-failed"},
	}...)
}

// handler is an enrollment endpoint: it returns the status and body of a
// success, or an error.
type handler func(r *http.Request) (int, any, error)

func enrollmentRoutes(s *Server, mux *http.ServeMux) {
	route := func(pattern string, h handler) {
		mux.HandleFunc(pattern, s.authorize(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.Enrollment == nil {
				s.writeError(w, r, ErrUnavailable)
				return
			}
			status, v, err := h(r)
			if err != nil {
				s.refuse(w, r, err)
				return
			}
			if status == http.StatusNoContent {
				w.WriteHeader(status)
				return
			}
			writeJSON(w, status, v)
		}))
	}
	e := func() EnrollmentService { return s.Enrollment }
	ok := func(v any, err error) (int, any, error) { return http.StatusOK, v, err }

	mux.HandleFunc("POST /api/v1/officers/signin", s.authorize("POST /api/v1/officers/signin", s.officerSignIn))
	mux.HandleFunc("POST /api/v1/signout", s.authorize("POST /api/v1/signout", s.signOut))
	route("GET /api/v1/centres", func(r *http.Request) (int, any, error) { return ok(e().Centres(r.Context())) })
	route("POST /api/v1/centres", func(r *http.Request) (int, any, error) {
		var c store.Centre
		if err := decodeJSON(r, &c); err != nil {
			return 0, nil, err
		}
		c, err := e().CreateCentre(r.Context(), who(r), c)
		return http.StatusCreated, c, err
	})
	route("POST /api/v1/officers", func(r *http.Request) (int, any, error) {
		var n enrollment.NewOfficer
		if err := decodeJSON(r, &n); err != nil {
			return 0, nil, err
		}
		o, err := e().CreateOfficer(r.Context(), who(r), n)
		return http.StatusCreated, o, err
	})
	route("POST /api/v1/officers/{username}/disable", func(r *http.Request) (int, any, error) {
		var req whyRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, e().DisableOfficer(r.Context(), who(r), r.PathValue("username"), req.Why)
	})
	route("POST /api/v1/enrollments", func(r *http.Request) (int, any, error) {
		var p enrollment.Proofing
		if err := decodeJSON(r, &p); err != nil {
			return 0, nil, err
		}
		res, err := e().Enrol(r.Context(), who(r), p)
		return http.StatusCreated, res, err
	})
	route("GET /api/v1/identities/{nid}", func(r *http.Request) (int, any, error) {
		return ok(e().Identity(r.Context(), who(r), r.PathValue("nid")))
	})
	route("POST /api/v1/identities/{nid}/code", func(r *http.Request) (int, any, error) {
		return ok(e().ReissueCode(r.Context(), who(r), r.PathValue("nid")))
	})
	route("POST /api/v1/identities/{nid}/devices/{device}/disable", func(r *http.Request) (int, any, error) {
		var req whyRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		return ok(e().DisableDevice(r.Context(), who(r), r.PathValue("nid"), r.PathValue("device"), req.Why))
	})
	for _, a := range []struct {
		path string
		fn   func(context.Context, enrollment.Principal, string, string) (enrollment.IdentityView, error)
	}{{"suspend", s.suspend}, {"resume", s.resume}} {
		route("POST /api/v1/identities/{nid}/"+a.path, func(r *http.Request) (int, any, error) {
			var req whyRequest
			if err := decodeJSON(r, &req); err != nil {
				return 0, nil, err
			}
			return ok(a.fn(r.Context(), who(r), r.PathValue("nid"), req.Why))
		})
	}
	route("POST /api/v1/identities/{nid}/revoke", func(r *http.Request) (int, any, error) {
		var req revokeRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		a, err := e().RequestRevocation(r.Context(), who(r), r.PathValue("nid"), req.Reason, req.Why)
		return http.StatusAccepted, a, err
	})
	route("GET /api/v1/approvals", func(r *http.Request) (int, any, error) {
		return ok(e().PendingApprovals(r.Context(), who(r)))
	})
	for _, d := range []struct {
		path    string
		approve bool
	}{{"approve", true}, {"reject", false}} {
		route("POST /api/v1/approvals/{id}/"+d.path, func(r *http.Request) (int, any, error) {
			return ok(e().Approve(r.Context(), who(r), r.PathValue("id"), d.approve))
		})
	}

	route("POST /api/v1/activation/begin", func(r *http.Request) (int, any, error) {
		var req struct {
			NationalID string `json:"national_id"`
			Code       string `json:"code"`
		}
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		limits := []limit{s.ipLimit(r, "activate")}
		if l, ok := s.nidLimit(req.NationalID); ok {
			limits = append(limits, l)
		}
		if err := s.checkLimits(r, limits...); err != nil {
			return 0, nil, err
		}
		return ok(e().BeginActivation(r.Context(), req.NationalID, req.Code))
	})
	route("POST /api/v1/activation/finish", func(r *http.Request) (int, any, error) {
		var req finishRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		if err := s.checkLimits(r, s.ipLimit(r, "activate")); err != nil {
			return 0, nil, err
		}
		return ok(e().FinishActivation(r.Context(), req.CeremonyID, req.DeviceName, req.Credential))
	})
	route("POST /api/v1/signin/begin", func(r *http.Request) (int, any, error) {
		var req struct{}
		if r.ContentLength != 0 {
			if err := decodeJSON(r, &req); err != nil {
				return 0, nil, err
			}
		}
		if err := s.checkLimits(r, s.ipLimit(r, "signin")); err != nil {
			return 0, nil, err
		}
		return ok(e().BeginSignIn(r.Context()))
	})
	mux.HandleFunc("POST /api/v1/signin/finish", s.authorize("POST /api/v1/signin/finish", s.signInFinish))
	route("GET /api/v1/me", func(r *http.Request) (int, any, error) { return ok(e().Me(r.Context(), who(r))) })
	route("POST /api/v1/me/devices/begin", func(r *http.Request) (int, any, error) {
		return ok(e().BeginAddDevice(r.Context(), who(r)))
	})
	route("POST /api/v1/me/devices/finish", func(r *http.Request) (int, any, error) {
		var req finishRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		return ok(e().FinishAddDevice(r.Context(), who(r), req.CeremonyID, req.DeviceName, req.Credential))
	})
	route("POST /api/v1/me/devices/{device}/disable", func(r *http.Request) (int, any, error) {
		var req whyRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		return ok(e().DisableDevice(r.Context(), who(r), who(r).NationalID, r.PathValue("device"), req.Why))
	})
	route("POST /api/v1/me/suspend", func(r *http.Request) (int, any, error) {
		var req whyRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		return ok(e().Suspend(r.Context(), who(r), who(r).NationalID, req.Why))
	})
	route("POST /api/v1/me/revoke", func(r *http.Request) (int, any, error) {
		var req revokeRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		return ok(e().RequestRevocation(r.Context(), who(r), who(r).NationalID, req.Reason, req.Why))
	})
}

func (s *Server) suspend(ctx context.Context, p enrollment.Principal, nid, why string) (enrollment.IdentityView, error) {
	return s.Enrollment.Suspend(ctx, p, nid, why)
}

func (s *Server) resume(ctx context.Context, p enrollment.Principal, nid, why string) (enrollment.IdentityView, error) {
	return s.Enrollment.Resume(ctx, p, nid, why)
}

// officerSignIn opens an officer session, as signInFinish does.
func (s *Server) officerSignIn(w http.ResponseWriter, r *http.Request) {
	if s.Enrollment == nil {
		s.writeError(w, r, ErrUnavailable)
		return
	}
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
		TOTP     string `json:"totp"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.refuse(w, r, err)
		return
	}
	if err := s.checkLimits(r, s.ipLimit(r, "signin"), s.officerLimit(req.Username)); err != nil {
		s.refuse(w, r, err)
		return
	}
	tok, p, err := s.Enrollment.OfficerSignIn(r.Context(), req.Username, req.Password, req.TOTP)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	setSessionCookie(w, tok.Token, tok.Expires, s.opts.Clock())
	writeJSON(w, http.StatusOK, sessionReply{Token: tok.Token, Expires: tok.Expires, Principal: p})
}

// signOut ends the request's session and clears the cookie.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if s.Enrollment == nil {
		s.writeError(w, r, ErrUnavailable)
		return
	}
	if err := s.Enrollment.SignOut(r.Context(), sessionToken(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

// signInFinish opens a citizen session: the token in the body for the app,
// and the same in a cookie for pages.
func (s *Server) signInFinish(w http.ResponseWriter, r *http.Request) {
	if s.Enrollment == nil {
		s.writeError(w, r, ErrUnavailable)
		return
	}
	var req finishRequest
	if err := decodeJSON(r, &req); err != nil {
		s.refuse(w, r, err)
		return
	}
	limits := []limit{s.ipLimit(r, "signin")}
	if l, ok := s.userLimit(req.Credential); ok {
		limits = append(limits, l)
	}
	if err := s.checkLimits(r, limits...); err != nil {
		s.refuse(w, r, err)
		return
	}
	tok, p, err := s.Enrollment.FinishSignIn(r.Context(), req.CeremonyID, req.Credential)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	setSessionCookie(w, tok.Token, tok.Expires, s.opts.Clock())
	writeJSON(w, http.StatusOK, sessionReply{Token: tok.Token, Expires: tok.Expires, Principal: p})
}

type whyRequest struct {
	Why string `json:"why"`
}

type revokeRequest struct {
	Reason string `json:"reason"`
	Why    string `json:"why"`
}

type finishRequest struct {
	CeremonyID string          `json:"ceremony_id"`
	DeviceName string          `json:"device_name,omitempty"`
	Credential json.RawMessage `json:"credential"`
}

type sessionReply struct {
	Token     string               `json:"token"`
	Expires   time.Time            `json:"expires"`
	Principal enrollment.Principal `json:"principal"`
}
