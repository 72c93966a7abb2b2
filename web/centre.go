package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/web/internal/ui"
)

// revocationReasons are the reasons an officer may give (RFC 5280 names;
// certificateHold is suspension, the CA compromises are not a citizen's).
var revocationReasons = []string{"keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn", "unspecified"}

// notices are the notices a redirect may ask a page to show.
var notices = []string{"suspended", "device-disabled", "resumed", "revoke-requested", "approved", "rejected", "centre-created", "officer-disabled", "agency-requested", "admin-requested",
	"rotation-requested", "agency-disabled", "agency-enabled"}

func (s *Server) centreRoutes() {
	s.handle("GET /centre/", s.centreHome)
	s.handle("POST /centre/signin", s.officerSignIn)
	s.handle("POST /centre/signout", func(w http.ResponseWriter, r *http.Request, _ enrollment.Principal) {
		s.signOut(w, r)
		http.Redirect(w, r, "/centre/", http.StatusSeeOther)
	})
	s.handle("GET /centre/enrol", s.enrolForm)
	s.handle("GET /centre/identity/reproof", s.enrolForm)
	s.handle("POST /centre/enrol", s.enrol)
	s.handle("GET /centre/identity", s.identity)
	s.handle("POST /centre/identity/suspend", s.lifecycle)
	s.handle("POST /centre/identity/resume", s.lifecycle)
	s.handle("POST /centre/identity/revoke", s.lifecycle)
	s.handle("POST /centre/identity/code", s.reissue)
	s.handle("POST /centre/identity/device", s.lifecycle)
	s.handle("GET /centre/approvals", s.approvals)
	s.handle("POST /centre/approvals/{id}", s.decide)
}

// notice returns the page's notice key from ?notice=, if it is one.
func notice(r *http.Request) string {
	n := r.URL.Query().Get("notice")
	if slices.Contains(notices, n) {
		return "notice." + n
	}
	return ""
}

func (s *Server) centreHome(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	if r.URL.Path != "/centre/" {
		s.fail(w, r, by, http.StatusNotFound, "err.no-page", "")
		return
	}
	if by.Kind == "" {
		p := s.page(w, r, by, "signin.title")
		s.pages.Render(w, http.StatusOK, "signin.html", p)
		return
	}
	p := s.page(w, r, by, "centre.title")
	p.Data = by
	s.pages.Render(w, http.StatusOK, "centre.html", p)
}

// officerSignIn serves both consoles' sign-in forms.
func (s *Server) officerSignIn(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	user := field(r.PostForm, "username", 64)
	code := field(r.PostForm, "totp", 16)
	pw := r.PostForm.Get("password")
	if len(pw) > 256 {
		pw = ""
	}
	home, want := "/"+section(r.URL.Path)+"/", anyOfficer
	if home == "/admin/" {
		want = Admin
	}
	if _, err := s.signIn(r.Context(), w, want, user, pw, code); err != nil {
		status, key := errorKey(err)
		pg := s.page(w, r, by, "signin.title")
		pg.Error = s.t(pg.Lang, key)
		pg.Data = map[string]string{"username": user}
		s.pages.Render(w, status, "signin.html", pg)
		return
	}
	http.Redirect(w, r, home, http.StatusSeeOther)
}

// enrolView is the enrolment form's data.
type enrolView struct {
	Form    proofingForm
	Reproof bool
}

func (s *Server) enrolForm(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	v := enrolView{Form: proofingForm{Values: map[string]string{}, Errors: fieldErrors{}}}
	if r.URL.Path == "/centre/identity/reproof" {
		id, err := s.deps.Enrollment.Identity(r.Context(), by, field(r.URL.Query(), "nid", 32))
		if err != nil {
			s.failErr(w, r, by, err)
			return
		}
		v.Reproof = true
		v.Form.Values = map[string]string{"national_id": id.NationalID, "given_name": id.GivenName, "surname": id.Surname,
			"given_name_ar": id.GivenNameAr, "surname_ar": id.SurnameAr}
	}
	p := s.page(w, r, by, "enrol.title")
	p.Data = v
	s.pages.Render(w, http.StatusOK, "enrol.html", p)
}

// failErr renders the error page of err.
func (s *Server) failErr(w http.ResponseWriter, r *http.Request, by enrollment.Principal, err error) {
	status, key := errorKey(err)
	s.fail(w, r, by, status, key, detailOf(status, err))
}

// codeView is the activation code page's data.
type codeView struct {
	Code     enrollment.ActivationCode
	Identity enrollment.IdentityView
	Record   string
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	proof, form := parseProofing(r.PostForm, s.opts.Clock())
	if len(form.Errors) > 0 {
		p := s.page(w, r, by, "enrol.title")
		p.Error = s.t(p.Lang, "form.fix")
		p.Data = enrolView{Form: form}
		s.pages.Render(w, http.StatusBadRequest, "enrol.html", p)
		return
	}
	res, err := s.deps.Enrollment.Enrol(r.Context(), by, proof)
	if err != nil {
		status, key := errorKey(err)
		if status >= 500 {
			s.failErr(w, r, by, err)
			return
		}
		p := s.page(w, r, by, "enrol.title")
		p.Error = s.t(p.Lang, key) + " (" + detailOf(status, err) + ")"
		p.Data = enrolView{Form: form}
		s.pages.Render(w, status, "enrol.html", p)
		return
	}
	p := s.page(w, r, by, "code.title")
	p.Data = codeView{Code: res.Code, Identity: res.Identity, Record: res.Record.ID}
	s.pages.Render(w, http.StatusOK, "code.html", p)
}

// identityView is the identity page's data.
type identityView struct {
	Identity enrollment.IdentityView
	Reasons  []string
}

func (s *Server) identity(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	q := field(r.URL.Query(), "nid", 32)
	p := s.page(w, r, by, "identity.title")
	if q == "" {
		s.pages.Render(w, http.StatusOK, "identity.html", p)
		return
	}
	nid, err := natid.Normalize(q)
	if err != nil {
		p.Error = s.t(p.Lang, "form.nid-bad")
		s.pages.Render(w, http.StatusBadRequest, "identity.html", p)
		return
	}
	id, err := s.deps.Enrollment.Identity(r.Context(), by, nid)
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	p.Notice = s.t(p.Lang, notice(r))
	p.Data = identityView{Identity: id, Reasons: revocationReasons}
	s.pages.Render(w, http.StatusOK, "identity.html", p)
}

// lifecycle suspends, resumes, disables a device of or asks to revoke an
// identity.
func (s *Server) lifecycle(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	nid, err := natid.Normalize(field(r.PostForm, "nid", 32))
	if err != nil {
		s.fail(w, r, by, http.StatusBadRequest, "form.nid-bad", "")
		return
	}
	why := r.PostForm.Get("why")
	ctx, e := r.Context(), s.deps.Enrollment
	var done string
	switch r.URL.Path {
	case "/centre/identity/suspend":
		_, err = e.Suspend(ctx, by, nid, why)
		done = "suspended"
	case "/centre/identity/resume":
		_, err = e.Resume(ctx, by, nid, why)
		done = "resumed"
	case "/centre/identity/device":
		_, err = e.DisableDevice(ctx, by, nid, field(r.PostForm, "device", 128), why)
		done = "device-disabled"
	case "/centre/identity/revoke":
		reason := r.PostForm.Get("reason")
		if !slices.Contains(revocationReasons, reason) {
			s.fail(w, r, by, http.StatusBadRequest, "form.choose", "")
			return
		}
		_, err = e.RequestRevocation(ctx, by, nid, reason, why)
		done = "revoke-requested"
	}
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	http.Redirect(w, r, "/centre/identity?"+url.Values{"nid": {nid}, "notice": {done}}.Encode(), http.StatusSeeOther)
}

// reissue issues a new activation code for an identity not yet active.
func (s *Server) reissue(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	nid, err := natid.Normalize(field(r.PostForm, "nid", 32))
	if err != nil {
		s.fail(w, r, by, http.StatusBadRequest, "form.nid-bad", "")
		return
	}
	code, err := s.deps.Enrollment.ReissueCode(r.Context(), by, nid)
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	id, err := s.deps.Enrollment.Identity(r.Context(), by, nid)
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	p := s.page(w, r, by, "code.title")
	p.Data = codeView{Code: code, Identity: id}
	s.pages.Render(w, http.StatusOK, "code.html", p)
}

func (s *Server) approvals(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	list, err := s.deps.Enrollment.PendingApprovals(r.Context(), by)
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	p := s.page(w, r, by, "approvals.title")
	p.Notice = s.t(p.Lang, notice(r))
	p.Data = list
	s.pages.Render(w, http.StatusOK, "approvals.html", p)
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	id := r.PathValue("id")
	d := r.PostForm.Get("decision")
	if len(id) > 64 || (d != "approve" && d != "reject") {
		s.fail(w, r, by, http.StatusBadRequest, "form.choose", "")
		return
	}
	a, err := s.deps.Enrollment.Approve(r.Context(), by, id, d == "approve")
	if err != nil {
		s.failErr(w, r, by, err)
		return
	}
	done := "rejected"
	if a.Status == "approved" {
		done = "approved"
	}
	http.Redirect(w, r, "/centre/approvals?notice="+done, http.StatusSeeOther)
}

// t returns the message key in lang, or "" for no key.
func (s *Server) t(lang, key string) string {
	if key == "" {
		return ""
	}
	return ui.T(lang, key)
}
