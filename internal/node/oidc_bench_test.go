package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
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
// token rotation. One sign-in at a time, but "signin-parallel": 8
// citizens per core signing in at once, each with their own phone.
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
			// One citizen per goroutine (8 per core), each with a phone.
			phones := make(chan *benchPhone, 8*runtime.GOMAXPROCS(0))
			for i := range cap(phones) {
				auth, cred := activate(b, n, n, fmt.Sprintf("98700000%02d", i))
				phones <- &benchPhone{auth: auth, cred: cred}
			}
			b.Run("signin-parallel", func(b *testing.B) {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					ph := <-phones
					defer func() { phones <- ph }()
					for pb.Next() {
						if _, err := f.signInAs("profile", ph); err != nil {
							b.Error(err)
							return
						}
					}
				})
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

// benchPhone is a citizen's phone with one passkey.
type benchPhone struct {
	auth virtualwebauthn.Authenticator
	cred *virtualwebauthn.Credential
}

// oidcFlow is a citizen's phone and an agency's portal in front of one
// node.
type oidcFlow struct {
	ctx      context.Context
	phone    *benchPhone
	lb       *balancer
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
	f := &oidcFlow{phone: &benchPhone{auth: auth, cred: cred}, lb: lb}
	f.ctx = gooidc.ClientContext(ctx, lb.client(nil, ""))
	if f.provider, err = gooidc.NewProvider(f.ctx, "http://localhost:8080/oidc"); err != nil {
		b.Fatal(err)
	}
	ep := f.provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	f.cfg = &oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: ep, RedirectURL: flowCallback, Scopes: []string{gooidc.ScopeOpenID, "profile", "offline_access"}}
	f.verifier = f.provider.Verifier(&gooidc.Config{ClientID: c.ID})
	return f
}

// signIn runs one whole sign-in of the flow's citizen in a fresh browser
// with the given extra scope and returns the tokens.
func (f *oidcFlow) signIn(b *testing.B, scope string) *oauth2.Token {
	b.Helper()
	tok, err := f.signInAs(scope, f.phone)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// signInAs is signIn with the citizen holding ph; it returns errors
// rather than failing, to run in RunParallel's goroutines.
func (f *oidcFlow) signInAs(scope string, ph *benchPhone) (*oauth2.Token, error) {
	jar, _ := cookiejar.New(nil)
	hc := f.lb.client(jar, flowCallback)
	cfg := *f.cfg
	cfg.Scopes = []string{gooidc.ScopeOpenID, scope}
	v := oauth2.GenerateVerifier()
	resp, err := hc.Get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("id")
	var ch enrollment.Challenge
	if err := post(hc, "/oidc/login/begin", map[string]string{"id": id}, &ch); err != nil {
		return nil, err
	}
	ao, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		return nil, err
	}
	ph.cred.Counter++
	assertion := virtualwebauthn.CreateAssertionResponse(webauthnRP, ph.auth, *ph.cred, *ao)
	var next struct{ Next string }
	if err := post(hc, "/oidc/login/finish", map[string]any{"id": id, "ceremony_id": ch.CeremonyID, "credential": json.RawMessage(assertion)}, &next); err != nil {
		return nil, err
	}
	resp, err = hc.PostForm("http://localhost:8080/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("consent: %s", resp.Status)
	}
	tok, err := cfg.Exchange(f.ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		return nil, err
	}
	if _, err := f.verifier.Verify(f.ctx, tok.Extra("id_token").(string)); err != nil {
		return nil, err
	}
	if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err != nil {
		return nil, err
	}
	return tok, nil
}

func post(hc *http.Client, path string, in, out any) error {
	body, _ := json.Marshal(in)
	resp, err := hc.Post("http://localhost:8080"+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, out) != nil {
		return fmt.Errorf("POST %s: %s %s", path, resp.Status, raw)
	}
	return nil
}
