package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
)

// exchangeFor runs the flow for r and exchanges the code.
func (e *env) exchangeFor(t *testing.T, r *rp, ph *phone) *oauth2.Token {
	t.Helper()
	c, v := e.code(t, r, ph)
	tok, err := r.cfg.Exchange(ctx, c, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// refresh uses a refresh token once.
func refresh(r *rp, rt string) (*oauth2.Token, error) {
	return r.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
}

// TestCodeReplayRevokesTokens: a second exchange of a code fails and the
// access token the first one got stops working (RFC 9700 4.5.3.1).
func TestCodeReplayRevokesTokens(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	r := e.party(t, c.ID, secret)
	code, v := e.code(t, r, ph)
	tok, err := r.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo before the replay: %v", err)
	}
	_, err = r.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	wantOAuthError(t, err, "invalid_grant")
	if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Fatal("the access token issued from a replayed code still answers")
	}
	if !e.audited("oidc-code-replayed") {
		t.Error("the replay is not in the audit log")
	}
}

func (e *env) audited(action string) bool {
	e.audit.mu.Lock()
	defer e.audit.mu.Unlock()
	for _, a := range e.audit.actions {
		if a == action {
			return true
		}
	}
	return false
}

// TestRefreshTokens: offline_access gives a refresh token that rotates on
// use; a rotated one used again revokes the family; scopes may narrow,
// not widen; the family ends at RefreshTTL however often it rotates.
func TestRefreshTokens(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	other, otherSecret := e.register(t, "Health")
	r := e.party(t, c.ID, secret, "profile", "offline_access")

	t.Run("none without offline_access", func(t *testing.T) {
		if tok := e.exchangeFor(t, e.party(t, c.ID, secret, "profile"), ph); tok.RefreshToken != "" {
			t.Fatal("a refresh token without offline_access")
		}
	})
	t.Run("rotation and reuse", func(t *testing.T) {
		tok := e.exchangeFor(t, r, ph)
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token with offline_access")
		}
		next, err := refresh(r, tok.RefreshToken)
		if err != nil || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == "" {
			t.Fatalf("refresh: %v", err)
		}
		idt, err := r.verifier.Verify(ctx, next.Extra("id_token").(string))
		if err != nil {
			t.Fatalf("ID token of the refresh: %v", err)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(next)); err != nil {
			t.Fatalf("userinfo with the refreshed token: %v", err)
		}
		first, _ := r.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if first == nil || idt.Subject != first.Subject {
			t.Fatalf("subject changed on refresh")
		}
		_, err = refresh(r, tok.RefreshToken)
		wantOAuthError(t, err, "invalid_grant")
		for name, tk := range map[string]*oauth2.Token{"first access": tok, "refreshed access": next} {
			if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tk)); err == nil {
				t.Errorf("%s token survived the reuse", name)
			}
		}
		_, err = refresh(r, next.RefreshToken)
		wantOAuthError(t, err, "invalid_grant")
		if !e.audited("oidc-refresh-reused") {
			t.Error("the reuse is not in the audit log")
		}
	})
	t.Run("another client's refresh token", func(t *testing.T) {
		tok := e.exchangeFor(t, r, ph)
		_, err := refresh(e.party(t, other.ID, otherSecret, "offline_access"), tok.RefreshToken)
		wantOAuthError(t, err, "invalid_grant")
	})
	t.Run("scopes narrow, never widen", func(t *testing.T) {
		// x/oauth2 sends no scope when refreshing: post the form.
		grant := func(rt, scope string) (int, map[string]any) {
			return e.postForm(t, "/oauth/token", c.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {scope}})
		}
		tok := e.exchangeFor(t, e.party(t, c.ID, secret, "offline_access"), ph)
		if status, out := grant(tok.RefreshToken, "openid profile offline_access"); status != http.StatusBadRequest || out["error"] != "invalid_scope" {
			t.Fatalf("widened refresh: %d %v, want invalid_scope", status, out)
		}
		status, out := grant(e.exchangeFor(t, r, ph).RefreshToken, "openid offline_access")
		if status != http.StatusOK {
			t.Fatalf("narrowed refresh: %d %v", status, out)
		}
		if s, _ := out["scope"].(string); strings.Contains(s, "profile") || !strings.Contains(s, "openid") {
			t.Errorf("narrowed refresh got scope %q", s)
		}
	})
	t.Run("absolute lifetime", func(t *testing.T) {
		tok := e.exchangeFor(t, r, ph)
		e.clock.advance(6 * 24 * time.Hour)
		next, err := refresh(r, tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh within the family's life: %v", err)
		}
		e.clock.advance(25 * time.Hour)
		_, err = refresh(r, next.RefreshToken)
		wantOAuthError(t, err, "invalid_grant")
	})
}

// revocable wraps the citizens so that a test can make one unable to
// sign in.
type revocable struct {
	Citizens
	revoked atomic.Bool
}

func (c *revocable) Me(ctx context.Context, by enrollment.Principal) (enrollment.IdentityView, error) {
	v, err := c.Citizens.Me(ctx, by)
	if c.revoked.Load() {
		v.State = store.IdentityRevoked
	}
	return v, err
}

func TestRefreshRefusedWhenIdentityRevoked(t *testing.T) {
	e := newEnv(t)
	cz := &revocable{Citizens: e.enr}
	p, err := New(ctx, e.srv.URL+"/oidc", Deps{Citizens: cz, Clients: e.st, Keys: e.keys, Audit: e.audit, State: e.st}, Options{Clock: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	e.serve(p)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	r := e.party(t, c.ID, secret, "offline_access")
	tok := e.exchangeFor(t, r, ph)
	cz.revoked.Store(true)
	_, err = refresh(r, tok.RefreshToken)
	wantOAuthError(t, err, "invalid_grant")
}

// postForm posts to the provider as client id with its secret.
func (e *env) postForm(t *testing.T, path, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.p.Issuer()+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestIntrospection (RFC 7662): a client learns about its own access
// tokens, another client learns nothing, and no personal claims leak.
func TestIntrospection(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice", ScopeNationalID)
	other, otherSecret := e.register(t, "Health")
	r := e.party(t, c.ID, secret, "profile", ScopeNationalID)
	tok := e.exchangeFor(t, r, ph)
	idt, err := r.verifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, id, secret, token string
		status                  int
		active                  bool
	}{
		{"own token", c.ID, secret, tok.AccessToken, http.StatusOK, true},
		{"another client's token", other.ID, otherSecret, tok.AccessToken, http.StatusOK, false},
		{"unknown token", c.ID, secret, "not-a-token", http.StatusOK, false},
		{"wrong secret", c.ID, "wrong", tok.AccessToken, http.StatusUnauthorized, false},
		{"no client", "", "", tok.AccessToken, http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := e.postForm(t, "/oauth/introspect", tt.id, tt.secret, url.Values{"token": {tt.token}})
			if status != tt.status {
				t.Fatalf("status %d %v, want %d", status, out, tt.status)
			}
			if status != http.StatusOK {
				return
			}
			if out["active"] != tt.active {
				t.Fatalf("active %v, want %v: %v", out["active"], tt.active, out)
			}
			if !tt.active {
				if len(out) != 1 {
					t.Errorf("an inactive answer says more: %v", out)
				}
				return
			}
			if out["sub"] != idt.Subject || out["client_id"] != c.ID || !strings.Contains(out["scope"].(string), "profile") || out["iss"] != e.p.Issuer() {
				t.Errorf("introspection %v", out)
			}
			for _, personal := range []string{"national_id", "name", "given_name", "family_name"} {
				if _, ok := out[personal]; ok {
					t.Errorf("introspection releases %s: %v", personal, out)
				}
			}
		})
	}
}

// TestRevocation (RFC 7009): a client revokes its access token, or its
// refresh token with the family; another client's revocation is ignored.
func TestRevocation(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	other, otherSecret := e.register(t, "Health")
	r := e.party(t, c.ID, secret, "offline_access")
	alive := func(tok *oauth2.Token) bool {
		_, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		return err == nil
	}
	revoke := func(t *testing.T, id, secret, token, hint string) {
		t.Helper()
		form := url.Values{"token": {token}}
		if hint != "" {
			form.Set("token_type_hint", hint)
		}
		if status, out := e.postForm(t, "/revoke", id, secret, form); status != http.StatusOK {
			t.Fatalf("revoke: %d %v", status, out)
		}
	}
	t.Run("another client cannot", func(t *testing.T) {
		tok := e.exchangeFor(t, r, ph)
		revoke(t, other.ID, otherSecret, tok.AccessToken, "")
		revoke(t, other.ID, otherSecret, tok.RefreshToken, "refresh_token")
		if !alive(tok) {
			t.Fatal("another client revoked the access token")
		}
		if _, err := refresh(r, tok.RefreshToken); err != nil {
			t.Fatalf("another client revoked the refresh token: %v", err)
		}
	})
	t.Run("access token", func(t *testing.T) {
		tok := e.exchangeFor(t, r, ph)
		revoke(t, c.ID, secret, tok.AccessToken, "access_token")
		if alive(tok) {
			t.Fatal("a revoked access token answers")
		}
		if _, err := refresh(r, tok.RefreshToken); err != nil {
			t.Fatalf("revoking the access token took the refresh token: %v", err)
		}
	})
	for _, hint := range []string{"refresh_token", "", "access_token"} {
		t.Run("refresh token, hint "+hint, func(t *testing.T) {
			tok := e.exchangeFor(t, r, ph)
			revoke(t, c.ID, secret, tok.RefreshToken, hint)
			_, err := refresh(r, tok.RefreshToken)
			wantOAuthError(t, err, "invalid_grant")
			if alive(tok) {
				t.Fatal("the family's access token survived revoking its refresh token")
			}
		})
	}
	t.Run("unknown token", func(t *testing.T) {
		revoke(t, c.ID, secret, "no-such-token", "")
	})
	t.Run("wrong secret", func(t *testing.T) {
		if status, _ := e.postForm(t, "/revoke", c.ID, "wrong", url.Values{"token": {"x"}}); status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", status)
		}
	})
}

// TestStateSharedByProviders: two providers on one store (as two replicas
// on one database) see the same flow: a request begun with one finishes
// with the other, and expired entries are purged.
func TestStateSharedByProviders(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	r := e.party(t, c.ID, secret)
	v := oauth2.GenerateVerifier()
	b := browser(t)
	id := e.authorizeUntilConsent(t, b, ph, r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	e.serve(e.provider(t)) // another replica answers from here on
	resp, err := b.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("consent on the other provider: %s", resp.Status)
	}
	if _, err := r.cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Fatalf("exchange on the other provider: %v", err)
	}
	e.clock.advance(8 * 24 * time.Hour)
	n, err := e.p.Purge(ctx, 1000)
	if err != nil || n == 0 {
		t.Fatalf("purge after everything expired: %d, %v", n, err)
	}
	if n, err := e.p.Purge(ctx, 1000); err != nil || n != 0 {
		t.Fatalf("second purge: %d, %v", n, err)
	}
	_, err = e.st.OIDC(ctx, store.OIDCSignIn, "x", e.clock.now())
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lookup after purge: %v", err)
	}
}

// TestReady: the library's readiness probe asks the shared state.
func TestReady(t *testing.T) {
	e := newEnv(t)
	get := func() int {
		resp, err := http.Get(e.p.Issuer() + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(); s != http.StatusOK {
		t.Fatalf("ready with the store open: %d", s)
	}
	e.st.Close()
	if s := get(); s == http.StatusOK {
		t.Fatal("ready with the store closed")
	}
}

// TestDiscoveryAdvertisesTokens: discovery tells clients about refresh
// tokens, introspection and revocation.
func TestDiscoveryAdvertisesTokens(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Grants        []string `json:"grant_types_supported"`
		Scopes        []string `json:"scopes_supported"`
		Introspection string   `json:"introspection_endpoint"`
		Revocation    string   `json:"revocation_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Grants, "refresh_token") || !slices.Contains(d.Scopes, "offline_access") ||
		d.Introspection != e.p.Issuer()+"/oauth/introspect" || d.Revocation != e.p.Issuer()+"/revoke" {
		t.Fatalf("discovery %+v", d)
	}
}
