package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
)

// access is a set of kinds of principal.
type access uint8

// Kinds of principal. A request carries at most one: no credentials
// (Anonymous), a citizen's passkey session, an officer's session with its
// role, or an agency's credentials.
const (
	Anonymous access = 1 << iota
	Citizen
	Officer
	Supervisor
	Admin
	Agency

	anyOfficer = Officer | Supervisor | Admin
	signedIn   = Citizen | anyOfficer
	everyone   = Anonymous | signedIn | Agency
)

// kinds lists every kind, for the authorization tests and error messages.
var kinds = []struct {
	kind access
	name string
}{{Anonymous, "anonymous"}, {Citizen, "citizen"}, {Officer, "officer"}, {Supervisor, "supervisor"}, {Admin, "admin"}, {Agency, "agency"}}

// routeAccess is the one place where authorization of every endpoint is
// decided: which kinds of principal may call it. A route missing here is
// refused to everyone. Finer rules that depend on the record (an officer
// acts only on identities of their centre, a citizen only on their own,
// four eyes for revocations) are enforced by the domain packages on top.
var routeAccess = map[string]access{
	// Officer console.
	"POST /api/v1/officers/signin":                           Anonymous | signedIn,
	"POST /api/v1/signout":                                   signedIn,
	"GET /api/v1/centres":                                    anyOfficer,
	"POST /api/v1/centres":                                   Admin,
	"POST /api/v1/officers":                                  Admin,
	"POST /api/v1/officers/{username}/disable":               Admin,
	"POST /api/v1/enrollments":                               Officer | Supervisor,
	"GET /api/v1/identities/{nid}":                           anyOfficer,
	"POST /api/v1/identities/{nid}/code":                     Officer | Supervisor,
	"POST /api/v1/identities/{nid}/devices/{device}/disable": anyOfficer,
	"POST /api/v1/identities/{nid}/suspend":                  anyOfficer,
	"POST /api/v1/identities/{nid}/resume":                   anyOfficer,
	"POST /api/v1/identities/{nid}/revoke":                   anyOfficer,
	"GET /api/v1/approvals":                                  Supervisor | Admin,
	"POST /api/v1/approvals/{id}/approve":                    Supervisor | Admin,
	"POST /api/v1/approvals/{id}/reject":                     Supervisor | Admin,
	// Citizen app.
	"POST /api/v1/activation/begin":            Anonymous | signedIn,
	"POST /api/v1/activation/finish":           Anonymous | signedIn,
	"POST /api/v1/signin/begin":                Anonymous | signedIn,
	"POST /api/v1/signin/finish":               Anonymous | signedIn,
	"GET /api/v1/me":                           Citizen,
	"POST /api/v1/me/devices/begin":            Citizen,
	"POST /api/v1/me/devices/finish":           Citizen,
	"POST /api/v1/me/devices/{device}/disable": Citizen,
	"POST /api/v1/me/suspend":                  Citizen,
	"POST /api/v1/me/revoke":                   Citizen,
	// Verification (api/verify.go): public, like the /verify/ page.
	"POST /api/v1/verify": everyone,
	// Signing (api/signing.go): agencies and citizens ask, citizens approve.
	"POST /api/v1/sign-requests":                           Agency | Citizen,
	"GET /api/v1/sign-requests":                            Citizen,
	"GET /api/v1/sign-requests/{id}":                       Agency | Citizen,
	"GET /api/v1/sign-requests/{id}/evidence":              Agency | Citizen,
	"GET /api/v1/sign-requests/{id}/documents/{n}":         Agency | Citizen,
	"GET /api/v1/sign-requests/{id}/documents/{n}/signed":  Agency | Citizen,
	"POST /api/v1/sign-requests/{id}/approval/begin":       Citizen,
	"POST /api/v1/sign-requests/{id}/approval/finish":      Citizen,
	"POST /api/v1/sign-requests/{id}/reject":               Citizen,
	"GET /api/v1/csc-authorizations":                       Citizen,
	"GET /api/v1/csc-authorizations/{id}":                  Citizen,
	"POST /api/v1/csc-authorizations/{id}/approval/begin":  Citizen,
	"POST /api/v1/csc-authorizations/{id}/approval/finish": Citizen,
	"POST /api/v1/csc-authorizations/{id}/reject":          Citizen,
	// Service requests (api/platform_requests.go): citizens open, submit
	// and cancel their own; the agency of the service lists its queue and
	// decides. Documents: the citizen's, and the agency's once submitted.
	"POST /api/v1/service-requests":                 Citizen,
	"GET /api/v1/service-requests":                  Citizen,
	"GET /api/v1/service-requests/{id}":             Citizen | Agency,
	"POST /api/v1/service-requests/{id}/submit":     Citizen,
	"POST /api/v1/service-requests/{id}/cancel":     Citizen,
	"POST /api/v1/service-requests/{id}/accept":     Agency,
	"POST /api/v1/service-requests/{id}/reject":     Agency,
	"GET /api/v1/service-requests/{id}/form":        Citizen | Agency,
	"GET /api/v1/service-requests/{id}/signed-form": Citizen | Agency,
	"GET /api/v1/service-requests/{id}/result":      Citizen | Agency,
	"GET /api/v1/agency/service-requests":           Agency,
	// Catalogue (api/platform_catalogue.go): public.
	"GET /api/v1/services":        everyone,
	"GET /api/v1/services/{code}": everyone,
	// Payments (api/platform_payments.go): a citizen sees, pays and gets
	// the receipt of their own invoices, administrators see all, refund
	// and reconcile; the gateway's callback carries no session and is
	// authenticated by its HMAC signature.
	"GET /api/v1/invoices/{id}":           Citizen | Admin,
	"POST /api/v1/invoices/{id}/checkout": Citizen,
	"GET /api/v1/invoices/{id}/receipt":   Citizen | Admin,
	"POST /api/v1/invoices/{id}/refunds":  Admin,
	"GET /api/v1/payments/reconciliation": Admin,
	"POST /api/v1/payments/callback":      everyone,
	// CSC API v2 (api/csc.go): remote-signing clients act for the
	// citizen with the citizen's session token.
	"POST /csc/v2/info":                          everyone,
	"POST /csc/v2/credentials/list":              Citizen,
	"POST /csc/v2/credentials/info":              Citizen,
	"POST /csc/v2/credentials/authorize":         Citizen,
	"POST /csc/v2/credentials/authorizeCheck":    Citizen,
	"POST /csc/v2/credentials/extendTransaction": Citizen,
	"POST /csc/v2/signatures/signHash":           Citizen,
	"POST /csc/v2/signatures/timestamp":          Citizen | Agency,
}

// refusedPrefix starts the detail of every refusal by authorize.
const refusedPrefix = "this kind of principal may not call"

// sessionCookie is the cookie that carries a session for pages.
const sessionCookie = "thiqa_session"

// principalKey keys the request's principal in its context.
const principalKey ctxKey = 100

// who returns the request's principal (set by authorize).
func who(r *http.Request) enrollment.Principal {
	p, _ := r.Context().Value(principalKey).(enrollment.Principal)
	return p
}

// sessionToken returns the bearer token, or else the session cookie.
func sessionToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return ""
		}
		return strings.TrimSpace(tok)
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// kindOf classifies a principal.
func kindOf(p enrollment.Principal) access {
	switch {
	case p.Kind == enrollment.KindCitizen:
		return Citizen
	case p.Kind == enrollment.KindOfficer && p.Role == store.RoleOfficer:
		return Officer
	case p.Kind == enrollment.KindOfficer && p.Role == store.RoleSupervisor:
		return Supervisor
	case p.Kind == enrollment.KindOfficer && p.Role == store.RoleAdmin:
		return Admin
	}
	return 0
}

// authorize wraps the handler of pattern: it authenticates the request and
// lets it through only when routeAccess allows its kind of principal;
// otherwise 401 (no valid credentials) or 403.
func (s *Server) authorize(pattern string, h http.HandlerFunc) http.HandlerFunc {
	allowed := routeAccess[pattern]
	return func(w http.ResponseWriter, r *http.Request) {
		kind := Anonymous
		if tok := sessionToken(r); tok != "" && s.Enrollment != nil {
			p, err := s.Enrollment.Authenticate(r.Context(), tok)
			if err == nil && kindOf(p) != 0 {
				kind = kindOf(p)
				r = r.WithContext(context.WithValue(r.Context(), principalKey, p))
			}
		}
		if kind == Anonymous {
			if a, ok := s.agencyOf(r); ok {
				kind, r = Agency, withAgency(r, a)
			}
		}
		switch {
		case allowed&kind != 0:
			h(w, r)
		case kind == Anonymous:
			s.refuse(w, r, fmt.Errorf("%w: %s %s", ErrUnauthorized, refusedPrefix, pattern))
		default:
			s.refuse(w, r, fmt.Errorf("%w: %s %s", ErrForbidden, refusedPrefix, pattern))
		}
	}
}

// refuse logs a refused request and answers with its problem document,
// or under /csc/v2/ with a CSC error object, which CSC clients expect
// also when their credentials are refused.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/csc/") {
		s.writeCSCError(w, r, err) // logs the refusal
		return
	}
	p := who(r)
	s.opts.Logger.Warn("refused", "request_id", RequestID(r.Context()), "method", r.Method, "path", logPath(r),
		"principal", p.Kind+":"+p.Username+p.NationalID, "err", err.Error())
	s.writeError(w, r, err)
}

// setSessionCookie sends the session cookie for pages.
func setSessionCookie(w http.ResponseWriter, tok string, expires time.Time, now time.Time) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", Expires: expires,
		MaxAge: int(expires.Sub(now).Seconds()), Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
