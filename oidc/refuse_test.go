package oidc

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// code runs the browser part of the flow and returns a fresh code and its
// PKCE verifier.
func (e *env) code(t *testing.T, r *rp, ph *phone) (string, string) {
	t.Helper()
	v := oauth2.GenerateVerifier()
	loc := e.authorize(t, browser(t), ph, r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	c := loc.Query().Get("code")
	if c == "" {
		t.Fatalf("no code in %s", loc)
	}
	return c, v
}

// wantOAuthError checks that err is a token endpoint error with code.
func wantOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want token endpoint error %s", err, code)
	}
	if re.ErrorCode != code {
		t.Fatalf("error code %q (%d), want %q", re.ErrorCode, re.Response.StatusCode, code)
	}
}

func TestTokenRefusals(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	other, otherSecret := e.register(t, "Health")
	good := e.party(t, c.ID, secret)
	tests := []struct {
		name string
		run  func(t *testing.T) error
		want string
	}{
		{"replayed code", func(t *testing.T) error {
			code, v := e.code(t, good, ph)
			if _, err := good.cfg.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
				t.Fatalf("first exchange: %v", err)
			}
			_, err := good.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
			return err
		}, "invalid_grant"},
		{"expired code", func(t *testing.T) error {
			code, v := e.code(t, good, ph)
			e.clock.advance(61 * time.Second)
			_, err := good.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
			return err
		}, "invalid_grant"},
		{"wrong verifier", func(t *testing.T) error {
			code, _ := e.code(t, good, ph)
			_, err := good.cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			return err
		}, "invalid_grant"},
		{"no verifier", func(t *testing.T) error {
			code, _ := e.code(t, good, ph)
			_, err := good.cfg.Exchange(ctx, code)
			return err
		}, "invalid_request"},
		{"wrong client secret", func(t *testing.T) error {
			code, v := e.code(t, good, ph)
			bad := *good
			bad.cfg.ClientSecret = "not-the-secret"
			_, err := bad.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
			return err
		}, "invalid_client"},
		{"unknown client", func(t *testing.T) error {
			code, v := e.code(t, good, ph)
			bad := *good
			bad.cfg.ClientID = "rp-nobody"
			_, err := bad.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
			return err
		}, "invalid_client"},
		{"code of another client", func(t *testing.T) error {
			code, v := e.code(t, good, ph)
			o := e.party(t, other.ID, otherSecret)
			_, err := o.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
			return err
		}, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOAuthError(t, tt.run(t), tt.want)
		})
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t)
	c, secret := e.register(t, "Justice")
	r := e.party(t, c.ID, secret)
	v := oauth2.GenerateVerifier()
	tests := []struct {
		name     string
		url      string
		status   int    // when the provider must not redirect
		redirErr string // when it must redirect to the client with an error
	}{
		{"wrong redirect uri", strings.Replace(r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), url.QueryEscape(redirect), url.QueryEscape("http://127.0.0.1:9/evil"), 1), http.StatusBadRequest, ""},
		{"unknown client", strings.Replace(r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), c.ID, "rp-nobody", 1), http.StatusBadRequest, ""},
		{"missing pkce", r.cfg.AuthCodeURL("s"), 0, "invalid_request"},
		{"plain pkce", r.cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "plain")), 0, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := browser(t).Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			loc, _ := resp.Location()
			if tt.redirErr == "" {
				if loc != nil || resp.Request.URL.Host != strings.TrimPrefix(e.srv.URL, "http://") {
					t.Fatalf("redirected to %v", loc)
				}
				if resp.StatusCode != tt.status {
					t.Fatalf("status %s %s, want %d", resp.Status, body, tt.status)
				}
				return
			}
			if loc == nil || !strings.HasPrefix(loc.String(), redirect) || loc.Query().Get("error") != tt.redirErr {
				t.Fatalf("status %s location %v, want redirect with error %s", resp.Status, loc, tt.redirErr)
			}
		})
	}
}

func TestPagesRefusals(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	r := e.party(t, c.ID, secret)
	b := browser(t)
	resp, err := b.Get(r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("id")
	t.Run("consent before sign-in", func(t *testing.T) {
		resp, err := b.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %s", resp.Status)
		}
	})
	t.Run("consent from another browser", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		b1 := browser(t)
		loc := e.authorizeUntilConsent(t, b1, ph, r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
		resp, err := browser(t).PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {loc}, "decision": {"allow"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %s", resp.Status)
		}
	})
	t.Run("deny", func(t *testing.T) {
		b1 := browser(t)
		id := e.authorizeUntilConsent(t, b1, ph, r.cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		resp, err := b1.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {id}, "decision": {"deny"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := resp.Location()
		if loc == nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st" {
			t.Fatalf("deny: %s %v", resp.Status, loc)
		}
	})
	t.Run("unknown request", func(t *testing.T) {
		resp, err := b.Get(e.srv.URL + "/oidc/login?id=nope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %s", resp.Status)
		}
	})
}
