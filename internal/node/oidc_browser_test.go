package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/thiqa/thiqa/api"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/browsertest"
	"github.com/thiqa/thiqa/oidc"
	"github.com/thiqa/thiqa/store"
)

// portal is an agency's web portal, a relying party built with go-oidc
// and x/oauth2 as an agency would build it: /login starts the code flow
// with PKCE and a nonce, /callback exchanges the code, verifies the ID
// token and calls userinfo, /logout starts single sign-out.
type portal struct {
	name     string
	base     string // http://127.0.0.1:port/<name>
	client   store.OIDCClient
	cfg      *oauth2.Config
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	endSess  string

	mu      sync.Mutex
	pending map[string][2]string // state → PKCE verifier, nonce
	last    signInResult
}

// signInResult is what the portal learnt at its callback.
type signInResult struct {
	State, Error    string
	Subject, ACR    string
	AMR             []string
	IDToken         string
	Token           *oauth2.Token
	UserInfo        map[string]any
	UserInfoSubject string
}

func random(t testing.TB) string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (p *portal) result() signInResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *portal) serve(t *testing.T, ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, done, attrs, text string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><html lang=en><title>%s</title><body data-done=%q %s><h1>%s</h1><p>%s</p></body></html>",
			p.name, done, attrs, p.name, html.EscapeString(text))
	}
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		state, verifier, nonce := random(t), oauth2.GenerateVerifier(), random(t)
		p.mu.Lock()
		p.pending[state] = [2]string{verifier, nonce}
		p.mu.Unlock()
		http.Redirect(w, r, p.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce)), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p.mu.Lock()
		pend, ok := p.pending[q.Get("state")]
		delete(p.pending, q.Get("state"))
		p.mu.Unlock()
		res := signInResult{State: q.Get("state"), Error: q.Get("error")}
		defer func() {
			p.mu.Lock()
			p.last = res
			p.mu.Unlock()
		}()
		if !ok {
			res.Error = "portal: unknown state"
		}
		if res.Error != "" {
			page(w, "error", fmt.Sprintf("data-error=%q", res.Error), "sign-in refused: "+res.Error)
			return
		}
		fail := func(err error) {
			res.Error = "portal: " + err.Error()
			page(w, "error", `data-error="portal"`, res.Error)
		}
		tok, err := p.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pend[0]))
		if err != nil {
			fail(err)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		id, err := p.verifier.Verify(ctx, raw)
		if err != nil {
			fail(err)
			return
		}
		var claims struct {
			ACR string   `json:"acr"`
			AMR []string `json:"amr"`
		}
		if err := id.Claims(&claims); err != nil {
			fail(err)
			return
		}
		if id.Nonce != pend[1] {
			fail(fmt.Errorf("nonce %q, sent %q", id.Nonce, pend[1]))
			return
		}
		ui, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			fail(err)
			return
		}
		res.Subject, res.ACR, res.AMR, res.IDToken, res.Token, res.UserInfoSubject = id.Subject, claims.ACR, claims.AMR, raw, tok, ui.Subject
		if err := ui.Claims(&res.UserInfo); err != nil {
			fail(err)
			return
		}
		page(w, "ok", fmt.Sprintf("data-sub=%q", id.Subject), fmt.Sprintf("%v", res.UserInfo["name"]))
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"id_token_hint": {p.result().IDToken}, "post_logout_redirect_uri": {p.base + "/bye"},
			"client_id": {p.client.ID}, "state": {"bye"}}
		http.Redirect(w, r, p.endSess+"?"+q.Encode(), http.StatusFound)
	})
	mux.HandleFunc("GET /bye", func(w http.ResponseWriter, r *http.Request) { page(w, "bye", "", "signed out") })
	return http.StripPrefix("/"+p.name, mux)
}

// tab is the citizen's browser, with a passkey in its virtual
// authenticator.
type tab struct {
	t    *testing.T
	ctx  context.Context
	auth webauthn.AuthenticatorID
}

func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	browsertest.Do(b.t, b.ctx, actions...)
}

func (b *tab) eval(expr string) string {
	b.t.Helper()
	s, err := browsertest.Run(b.t, b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return s
}

// wait polls until expr is true in the page, across navigations.
func (b *tab) wait(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	for {
		_, err := browsertest.Run(b.t, b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		if time.Now().Before(deadline) && (strings.Contains(err.Error(), "Cannot find context") || strings.Contains(err.Error(), "context was destroyed") || strings.Contains(err.Error(), "navigated or closed")) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		b.t.Fatalf("waiting for %s: %v (at %s, page shows %q)", expr, err, b.eval(`location.href`), b.eval(`document.body ? document.body.innerText : ''`))
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(b.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ''`, sel)))
}

func (b *tab) click(sel string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// signCount is the virtual authenticator's signature counter: it moves
// once per passkey assertion.
func (b *tab) signCount() float64 {
	b.t.Helper()
	creds, err := browsertest.Credentials(b.ctx, b.auth)
	if err != nil || len(creds) != 1 {
		b.t.Fatalf("authenticator holds %d credentials (%v), want 1", len(creds), err)
	}
	return creds[0].SignCount
}

const (
	onLogin   = `location.pathname === '/oidc/login' && document.readyState === 'complete' && !!document.getElementById('go')`
	onConsent = `location.pathname === '/oidc/consent' && document.readyState === 'complete' && !!document.getElementById('allow')`
)

// TestOIDCSignInInChromium runs national sign-in as a citizen meets it in
// a browser: the citizen activates in the app with the browser's passkey
// (CDP virtual authenticator), then an agency's portal (go-oidc and
// x/oauth2 on 127.0.0.1) sends the browser to Thiqa's /oidc/authorize;
// the sign-in page (Arabic first, then English) takes the passkey, the
// consent page names the agency and the claims in both languages, and the
// portal verifies the ID token (acr, nonce) and reads userinfo. A second
// agency's sign-in needs no second passkey assertion and gets another
// pairwise subject; signing out at the first ends both. A consent posted
// by another site's page is refused. A failed user
// verification leaves the citizen on the sign-in page, and a refused
// consent reaches the portal as access_denied. The pages run under their
// strict policy: a Content-Security-Policy violation fails the test.
func TestOIDCSignInInChromium(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", l.Addr().(*net.TCPAddr).Port)
	n, _, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig(),
		WebAuthnRPID: "localhost", WebAuthnOrigins: []string{origin}, RateLimits: &api.RateLimits{}})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		n.Close()
	})
	if n.OIDC == nil || n.OIDC.Issuer() != origin+"/oidc" {
		t.Fatalf("provider %v, want one at %s/oidc", n.OIDC, origin)
	}

	// The citizen is proofed at a centre.
	const nid = "9861234567"
	if _, err := n.Enrollment.CreateCentre(ctx, enrollment.Operator("root"), store.Centre{Code: "AMM-01", NameAr: "عمّان", NameEn: "Amman", Governorate: "Amman"}); err != nil {
		t.Fatal(err)
	}
	enr, err := n.Enrollment.Enrol(ctx, signInOfficer(t, n, n, "omar", store.RoleOfficer), enrollment.Proofing{NationalID: nid,
		GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد", DateOfBirth: "1990-04-12",
		DocType: "national-id-card", DocNumber: "AB123456", DocExpiry: "2031-01-01", DocCheck: "pass", FaceMatch: "pass"})
	if err != nil {
		t.Fatal(err)
	}

	// Two agencies' portals, registered as relying parties.
	portals := map[string]*portal{}
	rpMux := http.NewServeMux()
	rpSrv := httptest.NewServer(rpMux)
	t.Cleanup(rpSrv.Close)
	rpCtx := gooidc.ClientContext(ctx, rpSrv.Client())
	provider, err := gooidc.NewProvider(rpCtx, n.OIDC.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("discovery: no end_session_endpoint (%v)", err)
	}
	for _, a := range []struct{ name, ar, en string }{{"justice", "وزارة العدل", "Ministry of Justice"}, {"health", "وزارة الصحة", "Ministry of Health"}} {
		p := &portal{name: a.name, base: rpSrv.URL + "/" + a.name, provider: provider, endSess: meta.EndSession, pending: map[string][2]string{}}
		var secret string
		p.client, secret, err = oidc.Register(ctx, n.Store.(oidc.Registry), oidc.Registration{NameAr: a.ar, NameEn: a.en,
			RedirectURIs: []string{p.base + "/callback"}, PostLogoutRedirectURIs: []string{p.base + "/bye"}}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ep := provider.Endpoint()
		ep.AuthStyle = oauth2.AuthStyleInHeader
		p.cfg = &oauth2.Config{ClientID: p.client.ID, ClientSecret: secret, Endpoint: ep, RedirectURL: p.base + "/callback",
			Scopes: []string{gooidc.ScopeOpenID, "profile"}}
		p.verifier = provider.Verifier(&gooidc.Config{ClientID: p.client.ID})
		portals[a.name] = p
		rpMux.Handle("/"+a.name+"/", p.serve(t, rpCtx))
	}
	justice, health := portals["justice"], portals["health"]
	// A page of another site that posts a consent in the citizen's name.
	rpMux.HandleFunc("GET /forged", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>forged</title><form method=post action=%q><input type=hidden name=id value=%q>`+
			`<input type=hidden name=decision value=allow></form><script>document.forms[0].submit()</script>`,
			origin+"/oidc/consent", r.URL.Query().Get("id"))
	})

	// Activation in the app, with the browser's own authenticator.
	bctx := browsertest.Start(t)
	auth, err := browsertest.VirtualAuthenticator(bctx)
	if err != nil {
		t.Fatal(err)
	}
	b := &tab{t: t, ctx: bctx, auth: auth}
	b.do(browsertest.Phone())
	b.do(chromedp.Navigate(origin + "/app/#/activate"))
	b.wait(`document.body.dataset.ready === 'true' && document.body.dataset.view === 'activate'`)
	for id, v := range map[string]string{"nid": nid, "code": enr.Code.Code, "device": "هاتف ليلى"} {
		b.eval(fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); return e.value; })()`, id, v))
	}
	b.click("#activate-submit")
	b.wait(`document.body.dataset.view === 'activated' && !document.body.hasAttribute('aria-busy')`)
	if id, err := n.Enrollment.Identity(ctx, enrollment.Operator("test"), nid); err != nil || id.State != store.IdentityActive {
		t.Fatalf("identity after activation in the browser: %+v %v", id, err)
	}
	activated := b.signCount()

	// First agency: the sign-in page in Arabic, then in English.
	start := time.Now()
	b.do(chromedp.Navigate(justice.base + "/login"))
	b.wait(onLogin)
	if got := b.eval(`document.documentElement.lang + ' ' + document.documentElement.dir`); got != "ar rtl" {
		t.Fatalf("sign-in page opens in %q, want Arabic right to left", got)
	}
	if got := b.text("#agency"); got != "وزارة العدل" {
		t.Fatalf("sign-in page names %q", got)
	}
	browsertest.Screenshot(bctx, t, "signin-ar")
	b.click("#lang")
	b.wait(onLogin + ` && document.documentElement.lang === 'en'`)
	if got := b.text("#agency"); got != "Ministry of Justice" || b.eval(`document.documentElement.dir`) != "ltr" {
		t.Fatalf("English sign-in page names %q", got)
	}
	browsertest.Screenshot(bctx, t, "signin-en")
	b.click("#go")
	b.wait(onConsent)
	if got := b.signCount(); got != activated+1 {
		t.Fatalf("sign count %v after sign-in, want %v: one passkey assertion", got, activated+1)
	}

	// The consent page names the agency and the claims, in both languages.
	for _, l := range []struct{ lang, dir, agency, claim string }{
		{"en", "ltr", "Ministry of Justice", "your name in Arabic and Latin"},
		{"ar", "rtl", "وزارة العدل", "الاسم بالعربية واللاتينية"},
	} {
		if b.eval(`document.documentElement.lang`) != l.lang {
			b.click("#lang")
			b.wait(onConsent + fmt.Sprintf(` && document.documentElement.lang === %q`, l.lang))
		}
		if got := b.eval(`document.documentElement.dir`); got != l.dir {
			t.Errorf("consent in %s: dir=%q", l.lang, got)
		}
		if got := b.text("#agency"); got != l.agency {
			t.Errorf("consent in %s names %q, want %q", l.lang, got, l.agency)
		}
		if got := b.text("#claims"); !strings.Contains(got, l.claim) {
			t.Errorf("consent in %s lists %q, want %q", l.lang, got, l.claim)
		}
		browsertest.Screenshot(bctx, t, "consent-"+l.lang)
	}

	// Another site's page posting the consent is refused, and the
	// citizen's own consent still goes through.
	consentURL := b.eval(`location.href`)
	cu, _ := url.Parse(consentURL)
	b.do(chromedp.Navigate(rpSrv.URL + "/forged?id=" + url.QueryEscape(cu.Query().Get("id"))))
	b.wait(`location.pathname === '/oidc/consent' && document.readyState === 'complete' && !document.getElementById('allow')`)
	if got := b.text("body"); !strings.Contains(got, "cross-origin") {
		t.Fatalf("forged consent answered %q", got)
	}
	if r := justice.result(); r.State != "" || r.Error != "" {
		t.Fatalf("forged consent reached the portal: %+v", r)
	}
	b.do(chromedp.Navigate(consentURL))
	b.wait(onConsent)
	b.click("#allow")
	b.wait(`location.pathname === '/justice/callback' && !!document.body && !!document.body.dataset.done`)
	t.Logf("portal to signed-in portal (passkey, consent in two languages, screenshots, a forged consent refused): %v", time.Since(start))
	r1 := justice.result()
	if r1.Error != "" {
		t.Fatalf("justice portal: %s", r1.Error)
	}
	if r1.ACR != oidc.ACRPasskeyInPerson || r1.Subject == "" || r1.UserInfoSubject != r1.Subject {
		t.Fatalf("justice portal got acr %q, subject %q, userinfo subject %q", r1.ACR, r1.Subject, r1.UserInfoSubject)
	}
	if r1.UserInfo["name"] != "Layla Haddad" || r1.UserInfo["name#ar"] != "ليلى حداد" || r1.UserInfo["national_id"] != nil {
		t.Fatalf("justice userinfo %v", r1.UserInfo)
	}
	if strings.Contains(r1.Subject, nid) {
		t.Fatalf("subject %q shows the national number", r1.Subject)
	}

	// Second agency: single sign-on, consent only, another subject.
	b.do(chromedp.Navigate(health.base + "/login"))
	b.wait(onConsent)
	if got := b.text("#agency"); got != "وزارة الصحة" {
		t.Fatalf("second agency's consent names %q", got)
	}
	b.click("#allow")
	b.wait(`location.pathname === '/health/callback' && !!document.body && !!document.body.dataset.done`)
	r2 := health.result()
	if r2.Error != "" || r2.ACR != oidc.ACRPasskeyInPerson {
		t.Fatalf("health portal: %q, acr %q", r2.Error, r2.ACR)
	}
	if r2.Subject == "" || r2.Subject == r1.Subject {
		t.Fatalf("subjects %q and %q: want two different pairwise subjects", r1.Subject, r2.Subject)
	}
	if got := b.signCount(); got != activated+1 {
		t.Fatalf("sign count %v after single sign-on, want %v: no second passkey assertion", got, activated+1)
	}

	// Single sign-out at the first agency ends the second's token and the
	// browser's session.
	b.do(chromedp.Navigate(justice.base + "/logout"))
	b.wait(`location.pathname === '/justice/bye' && !!document.body && document.body.dataset.done === 'bye'`)
	if _, err := provider.UserInfo(rpCtx, oauth2.StaticTokenSource(r2.Token)); err == nil {
		t.Fatal("the second agency's access token still answers after single sign-out")
	}
	b.do(chromedp.Navigate(health.base + "/login"))
	b.wait(onLogin)
	b.click("#lang")
	b.wait(onLogin + ` && document.documentElement.lang === 'en'`)

	// User verification fails: the server refuses an assertion without
	// the UV flag, and an authenticator that cannot verify gives none.
	for _, c := range []struct {
		name, key, says string
		set             func() error
	}{
		{"uv-flag-cleared", "refused", "Your passkey was not accepted. Try again.", func() error { return browsertest.Tamper(bctx, auth, false, true, false) }},
		{"uv-failed", "cancelled", "No passkey was used: cancelled, timed out or you were not verified.", func() error { return browsertest.SetUserVerified(bctx, auth, false) }},
	} {
		if err := c.set(); err != nil {
			t.Fatal(err)
		}
		b.click("#go")
		b.wait(`document.getElementById('err').dataset.key !== '' && !document.getElementById('go').disabled`)
		if key, got := b.eval(`document.getElementById('err').dataset.key`), b.text("#err"); key != c.key || got != c.says {
			t.Errorf("%s: the page says %q (%s), want %q", c.name, got, key, c.says)
		}
		if p := b.eval(`location.pathname`); p != "/oidc/login" {
			t.Fatalf("%s: the browser went on to %s", c.name, p)
		}
		browsertest.Screenshot(bctx, t, "signin-"+c.name)
	}
	if err := browsertest.Tamper(bctx, auth, false, false, false); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.SetUserVerified(bctx, auth, true); err != nil {
		t.Fatal(err)
	}

	// Consent refused: the portal gets access_denied with its state.
	b.click("#go")
	b.wait(onConsent)
	b.click("#deny")
	b.wait(`location.pathname === '/health/callback' && !!document.body && !!document.body.dataset.done`)
	if r := health.result(); r.Error != "access_denied" || r.State == "" || r.Token != nil {
		t.Fatalf("refused consent reached the portal as %+v, want access_denied with the state", r)
	}
}
