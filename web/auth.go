package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/web/internal/ui"
)

// access is a set of kinds of person.
type access uint8

// Kinds of person on these pages: nobody signed in, or an officer with
// their role. Citizens use the app (package web/app), not these pages.
const (
	Anonymous access = 1 << iota
	Officer
	Supervisor
	Admin

	anyOfficer = Officer | Supervisor | Admin
	everyone   = Anonymous | anyOfficer
)

// kinds lists every kind, for the authorization tests.
var kinds = []struct {
	kind access
	name string
}{{Anonymous, "anonymous"}, {Officer, "officer"}, {Supervisor, "supervisor"}, {Admin, "admin"}}

// pageAccess is the one place where the authorization of every page is
// decided: which kinds of person may open it. A pattern missing here is
// refused to everyone. Finer rules (an officer acts only on identities of
// their centre; four eyes for revocations, administrator accounts and
// agency keys) are the enrollment and signing packages'.
var pageAccess = map[string]access{
	// Officer console.
	"GET /centre/":                  everyone, // the sign-in form when signed out
	"POST /centre/signin":           everyone,
	"POST /centre/signout":          anyOfficer,
	"GET /centre/enrol":             Officer | Supervisor,
	"POST /centre/enrol":            Officer | Supervisor,
	"GET /centre/identity":          anyOfficer,
	"POST /centre/identity/suspend": anyOfficer,
	"POST /centre/identity/resume":  anyOfficer,
	"POST /centre/identity/revoke":  anyOfficer,
	"POST /centre/identity/code":    Officer | Supervisor,
	"POST /centre/identity/device":  anyOfficer,
	"GET /centre/approvals":         Supervisor | Admin,
	"POST /centre/approvals/{id}":   Supervisor | Admin,
	"GET /centre/identity/reproof":  Officer | Supervisor,
	// Public verification.
	"GET /verify/":  everyone,
	"POST /verify/": everyone,
	// Administration.
	"GET /admin/":                  everyone, // the sign-in form when signed out
	"POST /admin/signin":           everyone,
	"POST /admin/signout":          anyOfficer,
	"POST /admin/centres":          Admin,
	"POST /admin/officers":         Admin,
	"POST /admin/officers/disable": Admin,
	"POST /admin/admins":           Admin,
	"POST /admin/admins/{id}":      Admin,
	"POST /admin/agencies":         Admin,
	"POST /admin/agencies/{id}":    Admin,
	// An agency's key: a new one asked here is issued when a second
	// administrator approves; disabling is immediate, with a reason.
	"POST /admin/agencies/{id}/rotate":  Admin,
	"POST /admin/agencies/{id}/disable": Admin,
	"POST /admin/agencies/{id}/enable":  Admin,
	// Assets.
	"GET /assets/": everyone,
}

// noCSRF lists the POST patterns that change nothing and so take no CSRF
// token: the verification upload (anyone may verify, and a forged upload
// only shows its sender a report).
var noCSRF = map[string]bool{"POST /verify/": true}

// sessionCookie carries an officer's session on these pages.
const sessionCookie = "thiqa_officer"

// kindOf classifies a principal; citizens and operators are not people
// of these pages.
func kindOf(p enrollment.Principal) access {
	if p.Kind != enrollment.KindOfficer {
		return 0
	}
	switch p.Role {
	case store.RoleOfficer:
		return Officer
	case store.RoleSupervisor:
		return Supervisor
	case store.RoleAdmin:
		return Admin
	}
	return 0
}

// pageFunc is a page handler; by is the signed-in officer (zero when
// anonymous).
type pageFunc func(w http.ResponseWriter, r *http.Request, by enrollment.Principal)

// section is the first path element: "centre", "verify" or "admin".
func section(path string) string {
	s, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return s
}

// handle registers h under pattern behind the authorization table, the
// body limit and, for POST, the CSRF check.
func (s *Server) handle(pattern string, h pageFunc) {
	allowed, ok := pageAccess[pattern]
	if !ok {
		panic("web: page " + pattern + " is not in pageAccess")
	}
	post := strings.HasPrefix(pattern, "POST ")
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		limit := s.opts.MaxForm
		if noCSRF[pattern] {
			limit = s.opts.MaxUpload
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		by, kind := s.principal(r)
		switch {
		case allowed&kind == 0 && kind == Anonymous && !post:
			http.Redirect(w, r, "/"+section(r.URL.Path)+"/", http.StatusSeeOther)
			return
		case allowed&kind == 0 && kind == Anonymous:
			s.fail(w, r, by, http.StatusUnauthorized, "err.signin-first", "")
			return
		case allowed&kind == 0:
			s.fail(w, r, by, http.StatusForbidden, "err.forbidden", "")
			return
		}
		if post && !noCSRF[pattern] {
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, by, http.StatusBadRequest, "err.bad-form", "")
				return
			}
			if err := ui.CheckCSRF(r); err != nil {
				s.fail(w, r, by, http.StatusForbidden, "err.csrf", "")
				return
			}
		}
		h(w, r, by)
	})
}

// principal returns the signed-in officer of the request and its kind.
func (s *Server) principal(r *http.Request) (enrollment.Principal, access) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 256 {
		return enrollment.Principal{}, Anonymous
	}
	p, err := s.deps.Enrollment.Authenticate(r.Context(), c.Value)
	if err != nil || kindOf(p) == 0 {
		return enrollment.Principal{}, Anonymous
	}
	return p, kindOf(p)
}

// signIn checks an officer's password and TOTP code and, when the
// officer is of a kind in want, sets the session cookie; a session of
// another kind is closed at once.
func (s *Server) signIn(ctx context.Context, w http.ResponseWriter, want access, user, password, code string) (enrollment.Principal, error) {
	tok, p, err := s.deps.Enrollment.OfficerSignIn(ctx, user, password, code)
	if err != nil {
		return p, err
	}
	if kindOf(p)&want == 0 {
		s.deps.Enrollment.SignOut(ctx, tok.Token)
		return p, fmt.Errorf("%w: %s may not use these pages", enrollment.ErrForbidden, p.Role)
	}
	now := s.opts.Clock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok.Token, Path: "/", Expires: tok.Expires,
		MaxAge: int(tok.Expires.Sub(now) / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return p, nil
}

// signOut ends the session and clears the cookie.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.deps.Enrollment.SignOut(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
