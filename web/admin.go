package web

import (
	"net/http"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/web/internal/ui"
)

func (s *Server) adminRoutes() {
	s.handle("GET /admin/", s.adminHome)
	s.handle("POST /admin/signin", s.officerSignIn)
	s.handle("POST /admin/signout", func(w http.ResponseWriter, r *http.Request, _ enrollment.Principal) {
		s.signOut(w, r)
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	})
	s.handle("POST /admin/centres", s.createCentre)
	s.handle("POST /admin/officers", s.createOfficer)
	s.handle("POST /admin/officers/disable", s.disableOfficer)
	s.handle("POST /admin/admins", s.requestAdmin)
	s.handle("POST /admin/admins/{id}", s.decideAdmin)
	s.handle("POST /admin/agencies", s.requestAgency)
	s.handle("POST /admin/agencies/{id}", s.decideAgency)
	s.handle("POST /admin/agencies/{id}/rotate", s.requestRotation)
	s.handle("POST /admin/agencies/{id}/disable", s.disableAgency(true))
	s.handle("POST /admin/agencies/{id}/enable", s.disableAgency(false))
}

// adminView is the admin page's data.
type adminView struct {
	Centres  []store.Centre
	Agencies []store.Agency
	// Requests are the agency requests waiting for a second
	// administrator; Me is "officer:<username>", to tell one's own.
	Requests []signing.AgencyRequest
	Me       string
	// AdminRequests are the administrator accounts waiting for a second
	// administrator; Admin is one just created (shown once).
	AdminRequests []store.Approval
	Admin         *enrollment.AdminCreated
	// Key is an agency key just issued (shown once).
	Key    *signing.AgencyKey
	Scopes []string
	// Officer is the officer just created, with the TOTP secret to set up
	// (shown once).
	Officer *enrollment.OfficerEnrolment
	Values  map[string]string
}

func (s *Server) adminHome(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	if r.URL.Path != "/admin/" {
		s.fail(w, r, by, http.StatusNotFound, "err.no-page", "")
		return
	}
	if by.Kind == "" || kindOf(by) != Admin {
		p := s.page(w, r, by, "admin.signin")
		if by.Kind != "" {
			p.Error = ui.T(p.Lang, "err.forbidden")
		}
		s.pages.Render(w, http.StatusOK, "signin.html", p)
		return
	}
	s.renderAdmin(w, r, by, http.StatusOK, adminView{}, "", notice(r))
}

func (s *Server) renderAdmin(w http.ResponseWriter, r *http.Request, by enrollment.Principal, status int, v adminView, errKey, noticeKey string) {
	cs, err := s.deps.Enrollment.Centres(r.Context())
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	v.Centres = cs
	if v.AdminRequests, err = s.deps.Enrollment.AdminRequests(r.Context(), by); err != nil {
		s.failErr(w, r, by, err)
		return
	}
	if s.deps.Agencies != nil {
		if v.Agencies, err = s.deps.Agencies.Agencies(r.Context()); err == nil {
			v.Requests, err = s.deps.Agencies.AgencyRequests(r.Context(), by)
		}
		if err != nil {
			s.failErr(w, r, by, err)
			return
		}
	}
	v.Me, v.Scopes = "officer:"+by.Username, signing.Scopes
	if v.Values == nil {
		v.Values = map[string]string{}
	}
	p := s.page(w, r, by, "admin.title")
	p.Error, p.Notice = s.t(p.Lang, errKey), s.t(p.Lang, noticeKey)
	p.Data = v
	s.pages.Render(w, status, "admin.html", p)
}

// adminRefused answers an administrator's form that err refused: a
// server error is the error page; a refusal shows the admin page again
// with its message and the form's values.
func (s *Server) adminRefused(w http.ResponseWriter, r *http.Request, by enrollment.Principal, err error, values map[string]string) {
	status, key := errorKey(err)
	if status >= 500 {
		s.failErr(w, r, by, err)
		return
	}
	s.renderAdmin(w, r, by, status, adminView{Values: values}, key, "")
}

func (s *Server) createCentre(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	c := store.Centre{Code: field(r.PostForm, "code", 32), NameAr: field(r.PostForm, "name_ar", 200),
		NameEn: field(r.PostForm, "name_en", 200), Governorate: field(r.PostForm, "governorate", 100)}
	if _, err := s.deps.Enrollment.CreateCentre(r.Context(), by, c); err != nil {
		s.adminRefused(w, r, by, err, map[string]string{"code": c.Code, "name_ar": c.NameAr, "name_en": c.NameEn, "governorate": c.Governorate})
		return
	}
	http.Redirect(w, r, "/admin/?notice=centre-created", http.StatusSeeOther)
}

// createOfficer creates an officer or supervisor. An administrator
// account needs a second administrator (requestAdmin).
func (s *Server) createOfficer(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	n := enrollment.NewOfficer{Username: field(r.PostForm, "username", 64), Role: r.PostForm.Get("role"),
		Centre: field(r.PostForm, "centre", 32), Password: r.PostForm.Get("password")}
	vals := map[string]string{"username": n.Username, "role": n.Role, "centre": n.Centre}
	if n.Role != store.RoleOfficer && n.Role != store.RoleSupervisor {
		s.renderAdmin(w, r, by, http.StatusBadRequest, adminView{Values: vals}, "admin.role-bad", "")
		return
	}
	if len(n.Password) < 12 || len(n.Password) > 256 {
		s.renderAdmin(w, r, by, http.StatusBadRequest, adminView{Values: vals}, "admin.password-bad", "")
		return
	}
	enr, err := s.deps.Enrollment.CreateOfficer(r.Context(), by, n)
	if err != nil {
		s.adminRefused(w, r, by, err, vals)
		return
	}
	s.renderAdmin(w, r, by, http.StatusOK, adminView{Officer: &enr}, "", "notice.officer-created")
}

func (s *Server) disableOfficer(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	err := s.deps.Enrollment.DisableOfficer(r.Context(), by, field(r.PostForm, "username", 64), r.PostForm.Get("why"))
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	http.Redirect(w, r, "/admin/?notice=officer-disabled", http.StatusSeeOther)
}

// requestAgency records a request to register an agency; a second
// administrator decides it.
func (s *Server) requestAgency(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	if s.deps.Agencies == nil {
		s.fail(w, r, by, http.StatusNotFound, "err.no-page", "")
		return
	}
	n := signing.NewAgency{Name: field(r.PostForm, "name", 400), Scopes: r.PostForm["scope"], WebhookURL: field(r.PostForm, "webhook", 2048)}
	vals := map[string]string{"agency_name": n.Name, "webhook": n.WebhookURL}
	if len(n.Scopes) > len(signing.Scopes) {
		n.Scopes = nil
	}
	if _, err := s.deps.Agencies.RequestAgency(r.Context(), by, n, field(r.PostForm, "why", 500)); err != nil {
		s.adminRefused(w, r, by, err, vals)
		return
	}
	http.Redirect(w, r, "/admin/?notice=agency-requested", http.StatusSeeOther)
}

// decideAgency approves (showing the new key once) or rejects an agency
// request of another administrator.
func (s *Server) decideAgency(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	d := r.PostForm.Get("decision")
	if s.deps.Agencies == nil || (d != "approve" && d != "reject") {
		s.fail(w, r, by, http.StatusBadRequest, "form.choose", "")
		return
	}
	req, key, err := s.deps.Agencies.DecideAgency(r.Context(), by, r.PathValue("id"), d == "approve")
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	if key == nil {
		http.Redirect(w, r, "/admin/?notice=rejected", http.StatusSeeOther)
		return
	}
	n := "notice.agency-approved"
	if req.Kind == signing.AgencyKindRotate {
		n = "notice.key-rotated"
	}
	s.renderAdmin(w, r, by, http.StatusOK, adminView{Key: key}, "", n)
}

// requestRotation records a request for a new key of an agency; a second
// administrator decides it.
func (s *Server) requestRotation(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	if s.deps.Agencies == nil {
		s.fail(w, r, by, http.StatusNotFound, "err.no-page", "")
		return
	}
	if _, err := s.deps.Agencies.RequestAgencyKeyRotation(r.Context(), by, r.PathValue("id"), field(r.PostForm, "why", 500)); err != nil {
		s.failErr(w, r, by, err)
		return
	}
	http.Redirect(w, r, "/admin/?notice=rotation-requested", http.StatusSeeOther)
}

// disableAgency disables (or enables) an agency at once, with a reason.
func (s *Server) disableAgency(disabled bool) func(http.ResponseWriter, *http.Request, enrollment.Principal) {
	return func(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
		if s.deps.Agencies == nil {
			s.fail(w, r, by, http.StatusNotFound, "err.no-page", "")
			return
		}
		if _, err := s.deps.Agencies.DisableAgency(r.Context(), by, r.PathValue("id"), disabled, field(r.PostForm, "why", 500)); err != nil {
			s.failErr(w, r, by, err)
			return
		}
		n := "agency-enabled"
		if disabled {
			n = "agency-disabled"
		}
		http.Redirect(w, r, "/admin/?notice="+n, http.StatusSeeOther)
	}
}

// requestAdmin records a request for an administrator account; a second
// administrator decides it.
func (s *Server) requestAdmin(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	user, centre := field(r.PostForm, "username", 64), field(r.PostForm, "centre", 32)
	if _, err := s.deps.Enrollment.RequestAdmin(r.Context(), by, user, centre, r.PostForm.Get("why")); err != nil {
		s.adminRefused(w, r, by, err, map[string]string{"admin_username": user})
		return
	}
	http.Redirect(w, r, "/admin/?notice=admin-requested", http.StatusSeeOther)
}

// decideAdmin approves (showing the first password and TOTP secret once)
// or rejects another administrator's request for an administrator.
func (s *Server) decideAdmin(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	d := r.PostForm.Get("decision")
	if d != "approve" && d != "reject" {
		s.fail(w, r, by, http.StatusBadRequest, "form.choose", "")
		return
	}
	res, err := s.deps.Enrollment.DecideAdmin(r.Context(), by, r.PathValue("id"), d == "approve")
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	if d == "reject" {
		http.Redirect(w, r, "/admin/?notice=rejected", http.StatusSeeOther)
		return
	}
	s.renderAdmin(w, r, by, http.StatusOK, adminView{Admin: &res}, "", "notice.admin-created")
}
