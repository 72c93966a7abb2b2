package oidc

import (
	"slices"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// rp is a relying party built with go-oidc and x/oauth2.
type rp struct {
	provider *gooidc.Provider
	cfg      oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

func (e *env) party(t testing.TB, id, secret string, scopes ...string) *rp {
	t.Helper()
	p, err := gooidc.NewProvider(ctx, e.p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &rp{provider: p, verifier: p.Verifier(&gooidc.Config{ClientID: id}),
		cfg: oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: ep, RedirectURL: redirect, Scopes: append([]string{gooidc.ScopeOpenID}, scopes...)}}
}

type signedIn struct {
	raw, kid string
	idToken  *gooidc.IDToken
	claims   map[string]any
	info     map[string]any
}

// login runs the whole flow and returns what the relying party learnt.
func (e *env) login(t *testing.T, r *rp, ph *phone) signedIn {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	loc := e.authorize(t, browser(t), ph, r.cfg.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n-1")))
	if loc.Query().Get("state") != "st-1" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %s: want code and state", loc)
	}
	tok, err := r.cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	out := signedIn{raw: raw, idToken: idt}
	if jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256}); err == nil {
		out.kid = jws.Signatures[0].Header.KeyID
	}
	if err := idt.Claims(&out.claims); err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != "n-1" {
		t.Errorf("nonce %q", idt.Nonce)
	}
	ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if err := ui.Claims(&out.info); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != idt.Subject {
		t.Errorf("userinfo sub %q, id token sub %q", ui.Subject, idt.Subject)
	}
	return out
}

func TestFlow(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	justice, js := e.register(t, "Justice", ScopeNationalID)
	health, hs := e.register(t, "Health")
	a := e.login(t, e.party(t, justice.ID, js, "profile", ScopeNationalID), ph)
	b := e.login(t, e.party(t, health.ID, hs, "profile", ScopeNationalID), ph)

	t.Run("claims", func(t *testing.T) {
		if a.claims["acr"] != ACRPasskeyInPerson {
			t.Errorf("acr %v", a.claims["acr"])
		}
		if a.info["national_id"] != "9901234567" || a.info["name#ar"] != "ليلى حداد" || a.info["given_name"] != "Layla" {
			t.Errorf("userinfo %v", a.info)
		}
		if a.idToken.Subject == "" || a.idToken.Subject == "9901234567" {
			t.Errorf("subject %q", a.idToken.Subject)
		}
	})
	t.Run("national id only when granted", func(t *testing.T) {
		if _, ok := b.info["national_id"]; ok {
			t.Errorf("health got national_id: %v", b.info)
		}
		if b.info["family_name"] != "Haddad" {
			t.Errorf("userinfo %v", b.info)
		}
	})
	t.Run("pairwise subjects", func(t *testing.T) {
		if a.idToken.Subject == b.idToken.Subject {
			t.Errorf("two agencies share subject %q", a.idToken.Subject)
		}
		again := e.login(t, e.party(t, justice.ID, js), ph)
		if again.idToken.Subject != a.idToken.Subject {
			t.Errorf("subject changed between sign-ins")
		}
	})
	t.Run("audit", func(t *testing.T) {
		e.audit.mu.Lock()
		defer e.audit.mu.Unlock()
		if !slices.Contains(e.audit.actions, "oidc-signin") || !slices.Contains(e.audit.actions, "oidc-consent") {
			t.Errorf("audit actions %v", e.audit.actions)
		}
	})
}
