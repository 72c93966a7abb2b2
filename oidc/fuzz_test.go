package oidc

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
	"golang.org/x/oauth2"

	"github.com/thiqa/thiqa/enrollment"
)

// realFinish returns a real POST /login/finish body for a fresh request.
func realFinish(t testing.TB, e *env, ph *phone, r *rp) []byte {
	t.Helper()
	b := browser(t)
	resp, err := b.Get(r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("id")
	var ch enrollment.Challenge
	e.postJSON(t, b, "/oidc/login/begin", map[string]string{"id": id}, &ch)
	ao, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	ph.cred.Counter++
	body, _ := json.Marshal(map[string]any{"id": id, "ceremony_id": ch.CeremonyID, "credential": json.RawMessage(virtualwebauthn.CreateAssertionResponse(e.rp, ph.auth, ph.cred, *ao))})
	return body
}

// FuzzLoginFinish posts arbitrary bodies to the passkey sign-in endpoint:
// never a panic, never a server error.
func FuzzLoginFinish(f *testing.F) {
	e := newEnv(f)
	ph := e.citizen(f, "9901234567")
	c, secret := e.register(f, "Justice")
	r := e.party(f, c.ID, secret)
	f.Add(realFinish(f, e, ph, r))
	f.Add([]byte(`{"id":"x","ceremony_id":"y","credential":{}}`))
	f.Add([]byte(`{"id":`))
	h := e.p.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/login/finish", bytes.NewReader(body)))
		if w.Code >= 500 {
			t.Fatalf("status %d for %q", w.Code, body)
		}
	})
}

// FuzzToken posts arbitrary forms to the token endpoint: never a panic,
// never a server error, never a token without a valid code.
func FuzzToken(f *testing.F) {
	e := newEnv(f)
	c, _ := e.register(f, "Justice")
	seed := url.Values{"grant_type": {"authorization_code"}, "code": {"abc"}, "redirect_uri": {redirect},
		"code_verifier": {oauth2.GenerateVerifier()}, "client_id": {c.ID}, "client_secret": {"x"}}
	f.Add(seed.Encode())
	seed.Del("client_secret")
	seed.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	seed.Set("client_assertion", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA")
	f.Add(seed.Encode())
	f.Add("grant_type=refresh_token&refresh_token=x")
	f.Add("%zz=&&;")
	h := e.p.Handler()
	f.Fuzz(func(t *testing.T, form string) {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(w, req)
		if w.Code >= 500 || w.Code == http.StatusOK {
			t.Fatalf("status %d for %q: %s", w.Code, form, w.Body)
		}
	})
}

// FuzzIntrospectRevoke posts arbitrary forms to the introspection and
// revocation endpoints: never a panic, never a server error, and a token
// reported active only when the form holds the real one.
func FuzzIntrospectRevoke(f *testing.F) {
	e := newEnv(f)
	ph := e.citizen(f, "9901234567")
	c, secret := e.register(f, "Justice")
	r := e.party(f, c.ID, secret, "offline_access")
	v := oauth2.GenerateVerifier()
	loc := e.authorize(f, browser(f), ph, r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	tok, err := r.cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		f.Fatal(err)
	}
	for _, form := range []url.Values{
		{"token": {tok.AccessToken}, "client_id": {c.ID}, "client_secret": {secret}},
		{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {c.ID}, "client_secret": {secret}},
		{"token": {"x"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"eyJhbGciOiJFUzI1NiJ9.e30.AAAA"}},
	} {
		f.Add(form.Encode(), false)
		f.Add(form.Encode(), true)
	}
	f.Add("%zz=&&;", false)
	h := e.p.Handler()
	f.Fuzz(func(t *testing.T, form string, revoke bool) {
		path := "/oauth/introspect"
		if revoke {
			path = "/revoke"
		}
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s: status %d for %q: %s", path, w.Code, form, w.Body)
		}
		var out struct{ Active bool }
		if !revoke && json.Unmarshal(w.Body.Bytes(), &out) == nil && out.Active && !strings.Contains(form, url.QueryEscape(tok.AccessToken)) && !strings.Contains(form, tok.AccessToken) {
			t.Fatalf("active without the real token: %q", form)
		}
	})
}
