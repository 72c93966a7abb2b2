package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/descope/virtualwebauthn"
	"golang.org/x/oauth2"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/oidc"
)

// BenchmarkOIDCSignIn measures a whole agency sign-in against a node's
// handler over HTTP, on the embedded store and on PostgreSQL (on the same
// machine): authorize, passkey begin and finish, consent, code exchange
// with PKCE, ID token verification, userinfo. "refresh" is one refresh
// token rotation. One sign-in at a time.
func BenchmarkOIDCSignIn(b *testing.B) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	for _, kind := range []string{"bolt", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			opts := Options{Dir: filepath.Join(b.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()}
			if kind == "postgres" {
				opts.Store = pgtest.DSN(b)
			}
			n, _, err := Open(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { n.Close() })
			f := newOIDCFlow(b, n)
			b.Run("signin", func(b *testing.B) {
				for b.Loop() {
					f.signIn(b, "profile")
				}
			})
			b.Run("refresh", func(b *testing.B) {
				rt := f.signIn(b, "offline_access").RefreshToken
				for b.Loop() {
					tok, err := f.cfg.TokenSource(f.ctx, &oauth2.Token{RefreshToken: rt}).Token()
					if err != nil {
						b.Fatal(err)
					}
					rt = tok.RefreshToken
				}
			})
		})
	}
}

// oidcFlow is a citizen's phone and browser and an agency's portal in
// front of one node.
type oidcFlow struct {
	ctx      context.Context
	auth     virtualwebauthn.Authenticator
	cred     *virtualwebauthn.Credential
	hc       *http.Client
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	cfg      *oauth2.Config
}

const flowCallback = "http://127.0.0.1:9/cb"

func newOIDCFlow(b *testing.B, n *Node) *oidcFlow {
	b.Helper()
	ctx := context.Background()
	auth, cred := activate(b, n, n, "9861234567")
	c, secret, err := oidc.Register(ctx, n.Store.(oidc.Registry), oidc.Registration{NameAr: "وزارة العدل", NameEn: "Justice", RedirectURIs: []string{flowCallback}}, nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(n.Handler())
	b.Cleanup(srv.Close)
	lb := &balancer{addrs: map[string]string{"n": strings.TrimPrefix(srv.URL, "http://")}}
	lb.to("n")
	f := &oidcFlow{auth: auth, cred: cred}
	f.ctx = gooidc.ClientContext(ctx, lb.client(nil, ""))
	if f.provider, err = gooidc.NewProvider(f.ctx, "http://localhost:8080/oidc"); err != nil {
		b.Fatal(err)
	}
	ep := f.provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	f.cfg = &oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: ep, RedirectURL: flowCallback, Scopes: []string{gooidc.ScopeOpenID, "profile", "offline_access"}}
	f.verifier = f.provider.Verifier(&gooidc.Config{ClientID: c.ID})
	f.hc = lb.client(nil, flowCallback)
	return f
}

// signIn runs one whole sign-in in a fresh browser with the given extra
// scope and returns the tokens.
func (f *oidcFlow) signIn(b *testing.B, scope string) *oauth2.Token {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	f.hc.Jar = jar
	cfg := *f.cfg
	cfg.Scopes = []string{gooidc.ScopeOpenID, scope}
	v := oauth2.GenerateVerifier()
	resp, err := f.hc.Get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("id")
	var ch enrollment.Challenge
	f.post(b, "/oidc/login/begin", map[string]string{"id": id}, &ch)
	ao, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		b.Fatal(err)
	}
	f.cred.Counter++
	assertion := virtualwebauthn.CreateAssertionResponse(webauthnRP, f.auth, *f.cred, *ao)
	var next struct{ Next string }
	f.post(b, "/oidc/login/finish", map[string]any{"id": id, "ceremony_id": ch.CeremonyID, "credential": json.RawMessage(assertion)}, &next)
	resp, err = f.hc.PostForm("http://localhost:8080/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		b.Fatalf("consent: %s", resp.Status)
	}
	tok, err := cfg.Exchange(f.ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.verifier.Verify(f.ctx, tok.Extra("id_token").(string)); err != nil {
		b.Fatal(err)
	}
	if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err != nil {
		b.Fatal(err)
	}
	return tok
}

func (f *oidcFlow) post(b *testing.B, path string, in, out any) {
	b.Helper()
	body, _ := json.Marshal(in)
	resp, err := f.hc.Post("http://localhost:8080"+path, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, out) != nil {
		b.Fatalf("POST %s: %s %s", path, resp.Status, raw)
	}
}
