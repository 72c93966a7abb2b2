package oidc

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// texts are a page's words in one language.
type texts struct {
	Title, Intro, Button, Switch, Failed, ConsentTitle, Asks, Allow, Deny string
	// Why a sign-in failed: the server refused the passkey, the browser
	// gave none (cancelled, timed out, user verification failed), too
	// many attempts, the request expired.
	Refused, Cancelled, Limited, Expired string
	Claims                               map[string]string
}

var words = map[string]texts{
	"ar": {Title: "الدخول بهوية ثقة الرقمية", Intro: "للمتابعة إلى", Button: "الدخول بمفتاح المرور", Switch: "English",
		Failed: "تعذر الدخول:", Refused: "لم يُقبل مفتاح المرور. حاول مرة أخرى.", Cancelled: "لم يُستخدم مفتاح المرور: أُلغي أو انتهى الوقت أو لم يتم التحقق منك.",
		Limited: "محاولات كثيرة من هذا الجهاز. حاول لاحقاً.", Expired: "انتهت مهلة طلب الدخول. عد إلى موقع الجهة وابدأ من جديد.", ConsentTitle: "الموافقة على مشاركة البيانات", Asks: "تطلب البيانات التالية:", Allow: "موافق", Deny: "رفض",
		Claims: map[string]string{"openid": "معرّف خاص بهذه الجهة", "profile": "الاسم بالعربية واللاتينية", ScopeNationalID: "الرقم الوطني",
			"offline_access": "البقاء متصلاً دون دخول جديد"}},
	"en": {Title: "Sign in with Thiqa digital identity", Intro: "to continue to", Button: "Sign in with passkey", Switch: "العربية",
		Failed: "Sign-in failed:", Refused: "Your passkey was not accepted. Try again.", Cancelled: "No passkey was used: cancelled, timed out or you were not verified.",
		Limited: "Too many attempts from this device. Try again later.", Expired: "This sign-in request has expired. Go back to the agency's site and start again.", ConsentTitle: "Share your details", Asks: "asks for:", Allow: "Allow", Deny: "Deny",
		Claims: map[string]string{"openid": "an identifier for this agency only", "profile": "your name in Arabic and Latin", ScopeNationalID: "your national number",
			"offline_access": "staying signed in without signing in again"}},
}

const cookieName = "thiqa_oidc"

// maxBody bounds the JSON bodies of the sign-in endpoints.
const maxBody = 64 << 10

type pageData struct {
	Lang, Dir, Other, ID, Agency string
	T                            texts
	Claims                       []string
}

func (p *Provider) page(w http.ResponseWriter, r *http.Request, name string, a authRequest) {
	lang := "ar"
	if r.URL.Query().Get("lang") == "en" {
		lang = "en"
	}
	d := pageData{Lang: lang, Dir: "rtl", Other: "en", ID: a.ID, T: words[lang]}
	if lang == "en" {
		d.Dir, d.Other = "ltr", "ar"
	}
	c, err := p.d.Clients.OIDCClient(r.Context(), a.ClientID)
	if err != nil {
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	}
	d.Agency = c.NameAr
	if lang == "en" {
		d.Agency = c.NameEn
	}
	for _, s := range a.Scopes {
		if t, ok := d.T.Claims[s]; ok {
			d.Claims = append(d.Claims, t)
		}
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, d); err != nil {
		http.Error(w, "page failed", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w, origin(a.RedirectURI))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// setPageHeaders sets the strict policy of the sign-in and consent pages:
// no inline script or style, scripts and fetches from the issuer's origin
// only, no framing, no referrer (the URL holds the request ID), and forms
// that post only to the provider, which then redirects to the agency's
// verified redirect URI (formTarget, its origin; Chromium checks
// form-action on redirects too).
func setPageHeaders(w http.ResponseWriter, formTarget string) {
	csp := "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; style-src 'self'; " +
		"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	if formTarget != "" {
		csp += " " + formTarget
	}
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// origin is the scheme, host and port of a URL, as a CSP source; empty
// for anything that is not http or https.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

//go:embed static/login.js
var loginJS []byte

//go:embed static/pages.css
var pagesCSS []byte

// asset serves a file of the pages (they have no inline script or style,
// so that their policy can forbid it).
func asset(contentType string, b []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	})
}

// loginPage asks for the passkey, unless the browser holds a live single
// sign-on session: then it goes straight to consent.
func (p *Provider) loginPage(w http.ResponseWriter, r *http.Request) {
	a, err := p.st.request(r.Context(), r.URL.Query().Get("id"))
	if err != nil {
		httpError(w, err)
		return
	}
	if ss, ok := p.session(r); ok {
		who := citizen(ss.IdentityID, ss.NationalID)
		who.AuthTime = ss.AuthTime
		if err := p.bind(w, r, a, who, true); err != nil {
			httpError(w, err)
			return
		}
		lang := ""
		if r.URL.Query().Get("lang") == "en" {
			lang = "&lang=en"
		}
		http.Redirect(w, r, p.issuer+"/consent?id="+url.QueryEscape(a.ID)+lang, http.StatusSeeOther)
		return
	}
	p.page(w, r, "login.html", a)
}

const sessionCookie = "thiqa_sso"

// session returns the browser's live single sign-on session.
func (p *Provider) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	var ss session
	if _, err := p.st.load(r.Context(), store.OIDCSession, hashKey(c.Value), &ss); err != nil || p.now().After(ss.Expires) {
		return session{}, false
	}
	return ss, true
}

// randomCookie draws a cookie value and its SHA-256.
func (p *Provider) randomCookie() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(p.opts.Rand, b); err != nil {
		return "", nil, err
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(v))
	return v, h[:], nil
}

func (p *Provider) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: issuerPath(p.issuer), HttpOnly: true,
		Secure: isHTTPS(p.issuer), SameSite: http.SameSiteLaxMode, MaxAge: int(maxAge.Seconds())})
}

// bind gives the request to the signed-in citizen and this browser.
func (p *Provider) bind(w http.ResponseWriter, r *http.Request, a authRequest, who enrollment.Principal, sso bool) error {
	c, err := p.d.Clients.OIDCClient(r.Context(), a.ClientID)
	if err != nil {
		return ErrUnknownRequest
	}
	cookie, h, err := p.randomCookie()
	if err != nil {
		return err
	}
	sub := p.subject(c.Sector, who.IdentityID)
	_, err = p.st.updateRequest(r.Context(), a.ID, func(a *authRequest) error {
		if a.IdentityID != "" {
			return ErrUnknownRequest
		}
		a.IdentityID, a.NationalID, a.AuthTime, a.Browser, a.Subject = who.IdentityID, who.NationalID, who.AuthTime, h, sub
		return nil
	})
	if err != nil {
		return err
	}
	// The sign-in record finds the citizen again at single sign-out; it
	// lasts as long as anything issued from this sign-in may.
	in := store.OIDCEntry{Kind: store.OIDCSignIn, Key: signInKey(a.ClientID, sub), Identity: who.IdentityID,
		Expires: p.now().Add(p.familyTTL(true))}
	// Its audit record is kept pending with it, so that a crash before
	// the append is caught up (audit.Log.CatchUp).
	ev := audit.Event{Actor: "citizen:" + who.IdentityID, Action: "oidc-signin", Subject: "oidc-client:" + a.ClientID,
		Details: map[string]any{"single_sign_on": sso}, Source: "oidc.signin:" + a.ID}
	pending, err := audit.Pending(ev, p.now())
	if err != nil {
		return err
	}
	in.AuditPending = &pending
	if err := p.st.st.PutOIDC(r.Context(), in); err != nil {
		return err
	}
	p.d.Audit.Append(r.Context(), ev)
	p.setCookie(w, cookieName, cookie, p.opts.RequestTTL)
	return nil
}

// signedOut is where end_session lands without a post-logout URI.
func (p *Provider) signedOut(w http.ResponseWriter, r *http.Request) {
	p.setCookie(w, sessionCookie, "", -time.Second)
	setPageHeaders(w, "")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("تم تسجيل الخروج / signed out\n"))
}

// finishRequest is the body of POST /login/finish.
type finishRequest struct {
	ID         string          `json:"id"`
	CeremonyID string          `json:"ceremony_id"`
	Credential json.RawMessage `json:"credential"`
}

// decodeBody reads a bounded JSON body.
func decodeBody(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p *Provider) loginBegin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID string `json:"id"`
	}
	if err := decodeBody(r.Body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, err := p.st.request(r.Context(), req.ID); err != nil {
		httpError(w, err)
		return
	}
	ch, err := p.d.Citizens.BeginSignIn(r.Context())
	if err != nil {
		http.Error(w, "begin sign-in failed", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, ch)
}

func (p *Provider) loginFinish(w http.ResponseWriter, r *http.Request) {
	var req finishRequest
	if err := decodeBody(r.Body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a, err := p.st.request(r.Context(), req.ID)
	if err != nil {
		httpError(w, err)
		return
	}
	if err := p.limitIdentity(r.Context(), req.Credential); err != nil {
		p.refused(w, r, err)
		return
	}
	tok, who, err := p.d.Citizens.FinishSignIn(r.Context(), req.CeremonyID, req.Credential)
	if err != nil {
		http.Error(w, "passkey refused", http.StatusUnauthorized)
		return
	}
	// The provider keeps no enrollment session; it ends at once.
	p.d.Citizens.SignOut(r.Context(), tok.Token)
	if err := p.bind(w, r, a, who, false); err != nil {
		httpError(w, err)
		return
	}
	value, h, err := p.randomCookie()
	if err != nil {
		http.Error(w, "randomness failed", http.StatusInternalServerError)
		return
	}
	now := p.now()
	ss := session{IdentityID: who.IdentityID, NationalID: who.NationalID, AuthTime: who.AuthTime, Expires: now.Add(p.opts.SessionTTL)}
	e, err := entry(store.OIDCSession, hex.EncodeToString(h), ss, ss.Expires)
	if err == nil {
		e.Identity = who.IdentityID
		err = p.st.st.InsertOIDC(r.Context(), e, now)
	}
	if err != nil {
		httpError(w, err)
		return
	}
	p.setCookie(w, sessionCookie, value, p.opts.SessionTTL)
	writeJSON(w, http.StatusOK, map[string]string{"next": "consent?id=" + url.QueryEscape(req.ID)})
}

// signedIn returns the request id when this browser signed in for it.
func (p *Provider) signedIn(r *http.Request, id string) (authRequest, error) {
	a, err := p.st.request(r.Context(), id)
	if err != nil {
		return a, err
	}
	c, err := r.Cookie(cookieName)
	if err != nil || a.IdentityID == "" {
		return a, ErrNotSignedIn
	}
	h := sha256.Sum256([]byte(c.Value))
	if subtle.ConstantTimeCompare(h[:], a.Browser) != 1 {
		return a, ErrNotSignedIn
	}
	return a, nil
}

func (p *Provider) consentPage(w http.ResponseWriter, r *http.Request) {
	a, err := p.signedIn(r, r.URL.Query().Get("id"))
	if err != nil {
		httpError(w, err)
		return
	}
	p.page(w, r, "consent.html", a)
}

func (p *Provider) consent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	a, err := p.signedIn(r, r.PostForm.Get("id"))
	if err != nil {
		httpError(w, err)
		return
	}
	allow := r.PostForm.Get("decision") == "allow"
	p.d.Audit.Append(r.Context(), audit.Event{Actor: "citizen:" + a.IdentityID, Action: "oidc-consent", Subject: "oidc-client:" + a.ClientID,
		Details: map[string]any{"allowed": allow, "scopes": a.Scopes}})
	if !allow {
		p.st.DeleteAuthRequest(r.Context(), a.ID)
		u, _ := url.Parse(a.RedirectURI)
		q := u.Query()
		q.Set("error", string(oidc.AccessDenied))
		if a.State != "" {
			q.Set("state", a.State)
		}
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusSeeOther)
		return
	}
	_, err = p.st.updateRequest(r.Context(), a.ID, func(x *authRequest) error {
		if x.IdentityID != a.IdentityID {
			return ErrNotSignedIn
		}
		x.Consented = true
		return nil
	})
	if err != nil {
		httpError(w, err)
		return
	}
	http.Redirect(w, r, p.issuer+"/authorize/callback?id="+url.QueryEscape(a.ID), http.StatusSeeOther)
}

// httpError answers a refused page request: 400 for an unknown request,
// 403 for a browser that did not sign in for it, 500 (without details)
// for anything else, such as an unreachable store.
func httpError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnknownRequest):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, ErrNotSignedIn):
		http.Error(w, err.Error(), http.StatusForbidden)
	default:
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func issuerPath(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

func isHTTPS(issuer string) bool {
	u, err := url.Parse(issuer)
	return err == nil && u.Scheme == "https"
}
