package oidc

import (
	"io"
	"log/slog"
	"testing"

	"golang.org/x/oauth2"
)

// BenchmarkSignIn measures one agency sign-in end to end over HTTP:
// authorize, passkey assertion, consent, code exchange with PKCE, ID token
// verification.
func BenchmarkSignIn(b *testing.B) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := newEnv(b)
	ph := e.citizen(b, "9901234567")
	c, secret := e.register(b, "Justice")
	r := e.party(b, c.ID, secret)
	b.ResetTimer()
	for b.Loop() {
		v := oauth2.GenerateVerifier()
		loc := e.authorize(b, browser(b), ph, r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
		tok, err := r.cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.verifier.Verify(ctx, tok.Extra("id_token").(string)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIDTokenSign measures signing one ID token with the custody key.
func BenchmarkIDTokenSign(b *testing.B) {
	e := newEnv(b)
	k := opaque{e.p.keys[len(e.p.keys)-1]}
	payload := []byte(`{"iss":"https://thiqa.example/oidc","sub":"abc","aud":"rp-1","exp":1,"iat":1}`)
	for b.Loop() {
		if _, err := k.SignPayload(payload, "ES256"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodeExchange measures the token endpoint alone: one code
// exchanged with PKCE for an access and refresh token (claiming the code,
// storing the tokens, recording the code redeemed, signing the ID token).
// The browser part that yields each code is outside the timer.
func BenchmarkCodeExchange(b *testing.B) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := newEnv(b)
	ph := e.citizen(b, "9901234567")
	c, secret := e.register(b, "Justice")
	r := e.party(b, c.ID, secret, "offline_access")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		v := oauth2.GenerateVerifier()
		loc := e.authorize(b, browser(b), ph, r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
		b.StartTimer()
		if _, err := r.cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
			b.Fatal(err)
		}
	}
}
