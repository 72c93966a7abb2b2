package web

import (
	"context"
	"embed"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/web/internal/ui"
)

// Enrollment is what the officer and admin pages need of the
// registration authority (*enrollment.Service).
type Enrollment interface {
	Authenticate(ctx context.Context, token string) (enrollment.Principal, error)
	SignOut(ctx context.Context, token string) error
	OfficerSignIn(ctx context.Context, user, password, code string) (enrollment.SessionToken, enrollment.Principal, error)
	Enrol(ctx context.Context, by enrollment.Principal, p enrollment.Proofing) (enrollment.Enrolment, error)
	ReissueCode(ctx context.Context, by enrollment.Principal, nationalID string) (enrollment.ActivationCode, error)
	Identity(ctx context.Context, by enrollment.Principal, nationalID string) (enrollment.IdentityView, error)
	DisableDevice(ctx context.Context, by enrollment.Principal, nationalID, deviceID, why string) (enrollment.IdentityView, error)
	Suspend(ctx context.Context, by enrollment.Principal, nationalID, why string) (enrollment.IdentityView, error)
	Resume(ctx context.Context, by enrollment.Principal, nationalID, why string) (enrollment.IdentityView, error)
	RequestRevocation(ctx context.Context, by enrollment.Principal, nationalID, reason, why string) (store.Approval, error)
	PendingApprovals(ctx context.Context, by enrollment.Principal) ([]store.Approval, error)
	Approve(ctx context.Context, by enrollment.Principal, approvalID string, approve bool) (store.Approval, error)
	Centres(ctx context.Context) ([]store.Centre, error)
	CreateCentre(ctx context.Context, by enrollment.Principal, c store.Centre) (store.Centre, error)
	CreateOfficer(ctx context.Context, by enrollment.Principal, n enrollment.NewOfficer) (enrollment.OfficerEnrolment, error)
	DisableOfficer(ctx context.Context, by enrollment.Principal, user, why string) error
	RequestAdmin(ctx context.Context, by enrollment.Principal, user, centre, why string) (store.Approval, error)
	AdminRequests(ctx context.Context, by enrollment.Principal) ([]store.Approval, error)
	DecideAdmin(ctx context.Context, by enrollment.Principal, approvalID string, approve bool) (enrollment.AdminCreated, error)
}

var _ Enrollment = (*enrollment.Service)(nil)

// Verifier validates signed PDFs (*validate.Validator).
type Verifier interface {
	Validate(ctx context.Context, r io.ReaderAt, size int64) (*validate.Report, error)
}

var _ Verifier = (*validate.Validator)(nil)

// Agencies are the agencies of the signing API and the requests to
// register one, which a second administrator decides
// (*signing.Service).
type Agencies interface {
	Agencies(ctx context.Context) ([]store.Agency, error)
	RequestAgency(ctx context.Context, by enrollment.Principal, n signing.NewAgency, why string) (signing.AgencyRequest, error)
	AgencyRequests(ctx context.Context, by enrollment.Principal) ([]signing.AgencyRequest, error)
	DecideAgency(ctx context.Context, by enrollment.Principal, id string, approve bool) (signing.AgencyRequest, *signing.AgencyKey, error)
	RequestAgencyKeyRotation(ctx context.Context, by enrollment.Principal, agencyID, why string) (signing.AgencyRequest, error)
	DisableAgency(ctx context.Context, by enrollment.Principal, id string, disabled bool, why string) (store.Agency, error)
}

// Registry finds a PDF signed by Thiqa by the SHA-256 of its bytes
// (*signing.Service).
type Registry interface {
	SignedByHash(ctx context.Context, sum []byte) (signing.SignedDocument, error)
	SignedBySignature(ctx context.Context, id string) (signing.SignedDocument, error)
}

var _ Registry = (*signing.Service)(nil)

var _ Agencies = (*signing.Service)(nil)

// Deps are the services behind the pages. Enrollment and Verifier are
// required; without Agencies the admin page has no agencies, without
// Registry the verification page offers no check by hash.
type Deps struct {
	Enrollment Enrollment
	Verifier   Verifier
	Agencies   Agencies
	Registry   Registry
}

// Options tune the pages; the zero value is safe.
type Options struct {
	// MaxUpload bounds a PDF uploaded for verification (default 32 MiB);
	// MaxForm bounds every other form (default 64 KiB).
	MaxUpload int64
	MaxForm   int64
	// Clock replaces time.Now.
	Clock func() time.Time
	// Logger receives refused requests and internal errors (default
	// discards).
	Logger *slog.Logger
}

//go:embed templates/*.html
var templatesFS embed.FS

//go:embed assets
var assetsFS embed.FS

// Server serves the pages.
type Server struct {
	deps  Deps
	opts  Options
	mux   *http.ServeMux
	pages ui.Templates
	h     http.Handler
	// patterns are the registered routes, for the authorization tests.
	patterns []string
}

// New returns the pages' handler; mount it at /centre/, /verify/,
// /admin/ and /assets/.
func New(deps Deps, opts Options) (*Server, error) {
	if deps.Enrollment == nil || deps.Verifier == nil {
		return nil, errors.New("new web pages: enrollment and verifier are required")
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = 32 << 20
	}
	if opts.MaxForm <= 0 {
		opts.MaxForm = 64 << 10
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := ui.ParseTemplates(templatesFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	s := &Server{deps: deps, opts: opts, mux: http.NewServeMux(), pages: pages}
	s.centreRoutes()
	s.verifyRoutes()
	s.adminRoutes()
	s.assetRoutes()
	s.h = ui.Secure(s.mux)
	return s, nil
}

// Paths are the path prefixes the server answers, for mounting.
var Paths = []string{"/centre/", "/verify/", "/admin/", "/assets/"}

// ServeHTTP serves a page, recovering a panic as a 500 page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.opts.Logger.Error("web panic", "path", r.URL.Path, "panic", v)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	s.h.ServeHTTP(w, r)
}

// assetRoutes serves the embedded style sheet and scripts.
func (s *Server) assetRoutes() {
	own, _ := fs.Sub(assetsFS, "assets")
	shared := http.FileServerFS(ui.Assets())
	mine := http.FileServerFS(own)
	s.handle("GET /assets/", func(w http.ResponseWriter, r *http.Request, _ enrollment.Principal) {
		name := r.URL.Path[len("/assets/"):]
		w.Header().Set("Cache-Control", "public, max-age=3600")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		if _, err := fs.Stat(own, name); err == nil {
			mine.ServeHTTP(w, r2)
			return
		}
		shared.ServeHTTP(w, r2)
	})
}

// page starts the page data of a request by an officer (or nobody).
func (s *Server) page(w http.ResponseWriter, r *http.Request, by enrollment.Principal, title string) ui.Page {
	p := ui.NewPage(w, r, section(r.URL.Path), title)
	p.User, p.Role = by.Username, by.Role
	return p
}

// fail renders the error page with status and the message key in the
// request's language (and detail, when not empty, after it).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, by enrollment.Principal, status int, key, detail string) {
	if status >= 500 {
		s.opts.Logger.Error("web error", "path", r.URL.Path, "status", status, "detail", detail)
		detail = ""
	} else {
		s.opts.Logger.Warn("web refused", "method", r.Method, "path", r.URL.Path, "status", status, "why", key, "officer", by.Username)
	}
	p := s.page(w, r, by, "err.title")
	p.Error = ui.T(p.Lang, key)
	if detail != "" {
		p.Error += " (" + detail + ")"
	}
	p.Data = status
	s.pages.Render(w, status, "error.html", p)
}

// errorKey maps an enrollment error to an HTTP status and a message key;
// the one place where these pages decide what an error means.
func errorKey(err error) (int, string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "err.too-large"
	case errors.Is(err, enrollment.ErrInvalid):
		return http.StatusBadRequest, "err.invalid"
	case errors.Is(err, enrollment.ErrNotFound):
		return http.StatusNotFound, "err.not-found"
	case errors.Is(err, enrollment.ErrExists):
		return http.StatusConflict, "err.exists"
	case errors.Is(err, enrollment.ErrBadCredentials):
		return http.StatusUnauthorized, "err.bad-credentials"
	case errors.Is(err, enrollment.ErrLocked):
		return http.StatusTooManyRequests, "err.locked"
	case errors.Is(err, enrollment.ErrUnauthenticated):
		return http.StatusUnauthorized, "err.signin-first"
	case errors.Is(err, enrollment.ErrForbidden):
		return http.StatusForbidden, "err.forbidden"
	case errors.Is(err, enrollment.ErrState):
		return http.StatusConflict, "err.state"
	case errors.Is(err, enrollment.ErrProofing):
		return http.StatusUnprocessableEntity, "err.proofing"
	case errors.Is(err, signing.ErrInvalid):
		return http.StatusBadRequest, "err.invalid"
	case errors.Is(err, signing.ErrNotFound):
		return http.StatusNotFound, "err.not-found"
	case errors.Is(err, signing.ErrExists):
		return http.StatusConflict, "err.exists"
	case errors.Is(err, signing.ErrForbidden):
		return http.StatusForbidden, "err.forbidden"
	case errors.Is(err, signing.ErrState):
		return http.StatusConflict, "err.decided"
	case errors.Is(err, validate.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "err.too-large"
	}
	return http.StatusInternalServerError, "err.internal"
}

// detailOf is the error's message to show after the translated one:
// enrollment's messages say which field is wrong (in English); internal
// errors show nothing.
func detailOf(status int, err error) string {
	if status >= 500 || err == nil {
		return ""
	}
	return err.Error()
}
