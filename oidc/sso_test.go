package oidc

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestSingleSignOnAndOut signs in at one agency with the passkey, at a
// second with the same browser and no passkey (consent only), then signs
// out at the first: the second agency's access token dies and the browser
// needs the passkey again.
func TestSingleSignOnAndOut(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c1, s1, err := Register(ctx, e.st, Registration{NameAr: "وزارة العدل", NameEn: "Justice", RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{redirect + "/bye"}}, nil, e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	logouts := make(chan string, 4)
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logouts <- r.PostFormValue("logout_token")
	}))
	defer portal.Close()
	c2, s2, err := Register(ctx, e.st, Registration{NameAr: "وزارة الصحة", NameEn: "Health", RedirectURIs: []string{redirect}, BackChannelLogoutURI: portal.URL + "/logout"}, nil, e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	justice, health := e.party(t, c1.ID, s1, "profile"), e.party(t, c2.ID, s2, "profile")
	b := browser(t)

	exchange := func(t *testing.T, r *rp, loc *url.URL, v string) *oauth2.Token {
		t.Helper()
		tok, err := r.cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		return tok
	}
	v1 := oauth2.GenerateVerifier()
	tok1 := exchange(t, justice, e.authorize(t, b, ph, justice.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v1))), v1)

	// Second agency, same browser: the login page goes straight to consent.
	v2 := oauth2.GenerateVerifier()
	resp, err := b.Get(health.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v2)))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/oidc/consent" || !strings.Contains(string(page), "وزارة الصحة") {
		t.Fatalf("second agency: at %s, want the consent page", resp.Request.URL)
	}
	resp, err = b.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {resp.Request.URL.Query().Get("id")}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	tok2 := exchange(t, health, loc, v2)
	if _, err := health.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok2)); err != nil {
		t.Fatalf("userinfo before sign-out: %v", err)
	}

	// Sign out at the first agency.
	q := url.Values{"id_token_hint": {tok1.Extra("id_token").(string)}, "post_logout_redirect_uri": {redirect + "/bye"}, "client_id": {c1.ID}}
	resp, err = b.Get(e.srv.URL + "/oidc/end_session?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := resp.Location(); loc == nil || !strings.HasPrefix(loc.String(), redirect+"/bye") {
		t.Fatalf("end session: %s %v", resp.Status, loc)
	}
	t.Run("other agency's token ended", func(t *testing.T) {
		if _, err := health.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok2)); err == nil {
			t.Fatal("userinfo after sign-out answered")
		}
	})
	t.Run("back-channel logout", func(t *testing.T) {
		var raw string
		select {
		case raw = <-logouts:
		default:
			t.Fatal("no logout token sent")
		}
		payload, err := gooidc.NewRemoteKeySet(ctx, e.p.Issuer()+"/keys").VerifySignature(ctx, raw)
		if err != nil {
			t.Fatalf("logout token signature: %v", err)
		}
		var claims struct {
			Sub, Aud, Iss string
			Events        map[string]any
		}
		json.Unmarshal(payload, &claims)
		id2, _ := health.verifier.Verify(ctx, tok2.Extra("id_token").(string))
		if claims.Aud != c2.ID || claims.Iss != e.p.Issuer() || id2 == nil || claims.Sub != id2.Subject || claims.Events[backChannelEvent] == nil {
			t.Errorf("logout token %+v", claims)
		}
	})
	t.Run("passkey needed again", func(t *testing.T) {
		resp, err := b.Get(health.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Request.URL.Path != "/oidc/login" || resp.StatusCode != http.StatusOK {
			t.Fatalf("after sign-out: %s at %s, want the login page", resp.Status, resp.Request.URL)
		}
	})
}
