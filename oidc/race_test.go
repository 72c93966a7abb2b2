package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/thiqa/thiqa/store"
)

// pausingState is the shared state of a replica whose calls can be
// interrupted: once armed, the first successful call that at matches
// runs then, after the store has committed it and before the provider
// goes on, as another replica would between two of its steps.
type pausingState struct {
	State
	at    func(call string, kind store.OIDCKind) bool
	mu    sync.Mutex
	armed bool
	then  func()
	// inserted are the entries stored through InsertOIDC.
	inserted []store.OIDCEntry
}

func (s *pausingState) arm(then func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.then = true, then
}

// pause runs the armed function once, if call matches.
func (s *pausingState) pause(call string, kind store.OIDCKind, err error) {
	s.mu.Lock()
	fire := s.armed && err == nil && s.at(call, kind)
	then := s.then
	if fire {
		s.armed = false
	}
	s.mu.Unlock()
	if fire {
		then()
	}
}

func (s *pausingState) InsertOIDC(ctx context.Context, e store.OIDCEntry, now time.Time) error {
	err := s.State.InsertOIDC(ctx, e, now)
	if err == nil {
		s.mu.Lock()
		s.inserted = append(s.inserted, e)
		s.mu.Unlock()
	}
	s.pause("insert", e.Kind, err)
	return err
}

func (s *pausingState) UpdateOIDC(ctx context.Context, kind store.OIDCKind, key string, now time.Time, fn func(*store.OIDCEntry) error) (store.OIDCEntry, error) {
	e, err := s.State.UpdateOIDC(ctx, kind, key, now, fn)
	s.pause("update", kind, err)
	return e, err
}

// TestCodeExchangedTwiceAtOnce: two exchanges of one code racing (two
// replicas, or a client's retry) give tokens to exactly one; the other is
// refused without revoking what the first is issuing, whichever step the
// first has reached. A replay once the tokens are issued revokes them
// (TestCodeReplayRevokesTokens).
func TestCodeExchangedTwiceAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scopes []string
		at     func(call string, kind store.OIDCKind) bool
	}{
		{"after the code is claimed", nil,
			func(call string, kind store.OIDCKind) bool { return call == "update" && kind == store.OIDCCode }},
		{"after the access token is stored", nil,
			func(call string, kind store.OIDCKind) bool { return call == "insert" && kind == store.OIDCAccessToken }},
		{"offline, after the code is claimed", []string{"offline_access"},
			func(call string, kind store.OIDCKind) bool { return call == "update" && kind == store.OIDCCode }},
		{"offline, after the refresh token is stored", []string{"offline_access"},
			func(call string, kind store.OIDCKind) bool { return call == "insert" && kind == store.OIDCRefresh }},
		{"offline, after both tokens are stored", []string{"offline_access"},
			func(call string, kind store.OIDCKind) bool { return call == "insert" && kind == store.OIDCAccessToken }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ph := e.citizen(t, "9901234567")
			c, secret := e.register(t, "Justice")
			st := e.pausing(t, tc.at)
			r := e.party(t, c.ID, secret, tc.scopes...)
			code, v := e.code(t, r, ph)

			var second error
			st.arm(func() { _, second = r.cfg.Exchange(ctx, code, oauth2.VerifierOption(v)) })
			tok, err := r.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("the first exchange lost to the one that came while it ran: %v", err)
			}
			if st.armed {
				t.Fatal("the second exchange did not run during the first")
			}
			wantOAuthError(t, second, "invalid_grant")
			if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
				t.Fatalf("the winner's access token was revoked by the exchange it raced: %v", err)
			}
			if e.audited("oidc-code-replayed") {
				t.Error("an exchange racing the winner is audited as a replay")
			}
			if len(tc.scopes) > 0 {
				if tok.RefreshToken == "" {
					t.Fatal("no refresh token for offline_access")
				}
				next, err := refresh(r, tok.RefreshToken)
				if err != nil {
					t.Fatalf("the winner's refresh token was revoked by the exchange it raced: %v", err)
				}
				tok = next
			}

			// Once the winner has its tokens, the code coming back is a
			// replay: refused, and the tokens go.
			_, err = r.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
			wantOAuthError(t, err, "invalid_grant")
			if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Fatal("the access token issued from a replayed code still answers")
			}
			if len(tc.scopes) > 0 {
				if _, err := refresh(r, tok.RefreshToken); err == nil {
					t.Fatal("the refresh token issued from a replayed code still works")
				}
			}
			if !e.audited("oidc-code-replayed") {
				t.Error("the replay is not in the audit log")
			}
		})
	}
}

// pausing makes e serve a provider whose state pauses at.
func (e *env) pausing(t *testing.T, at func(call string, kind store.OIDCKind) bool) *pausingState {
	t.Helper()
	st := &pausingState{State: e.st, at: at}
	p, err := New(ctx, e.srv.URL+"/oidc", Deps{Citizens: e.enr, Clients: e.st, Keys: e.keys, Audit: e.audit, State: st}, Options{Clock: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	e.serve(p)
	return st
}

// TestCodeReplayedPastExchangeWindow: an exchange that stalls between
// claiming the code and recording its tokens (its replica stopped) holds
// off a replay only for exchangeWindow. Later the replay revokes the
// grant, audited, and the stalled exchange, resuming, fails and leaves no
// live token, not even one it stores after the revocation.
func TestCodeReplayedPastExchangeWindow(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	// Stall after the refresh token, before the access token is stored.
	st := e.pausing(t, func(call string, kind store.OIDCKind) bool { return call == "insert" && kind == store.OIDCRefresh })
	r := e.party(t, c.ID, secret, "offline_access")
	code, v := e.code(t, r, ph)
	var replay error
	st.arm(func() {
		e.clock.advance(exchangeWindow)
		_, replay = r.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	})
	_, err := r.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	wantOAuthError(t, err, "invalid_grant")
	wantOAuthError(t, replay, "invalid_grant")
	if !e.audited("oidc-code-replayed") {
		t.Error("the replay is not in the audit log")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var kinds []store.OIDCKind
	for _, x := range st.inserted {
		if x.Kind != store.OIDCAccessToken && x.Kind != store.OIDCRefresh {
			continue
		}
		kinds = append(kinds, x.Kind)
		if _, err := e.st.OIDC(ctx, x.Kind, x.Key, e.clock.now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the stalled exchange's %s token is left: %v", x.Kind, err)
		}
	}
	if fmt.Sprint(kinds) != "[refresh access]" {
		t.Fatalf("tokens stored: %v, want the stalled exchange's refresh and access tokens", kinds)
	}
}

// TestCodeExchangedConcurrently: many exchanges of one code at once, on
// two providers sharing the state (two replicas), give tokens exactly
// once.
func TestCodeExchangedConcurrently(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	r := e.party(t, c.ID, secret, "offline_access")
	other := httptest.NewServer(http.StripPrefix("/oidc", e.provider(t).Handler()))
	t.Cleanup(other.Close)
	cfgs := []oauth2.Config{r.cfg, r.cfg}
	cfgs[1].Endpoint.TokenURL = strings.Replace(r.cfg.Endpoint.TokenURL, e.srv.URL, other.URL, 1)
	for round := range 5 {
		code, v := e.code(t, r, ph)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				if _, err := cfgs[i%2].Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d exchanges of one code succeeded, want exactly 1", round, n)
		}
	}
}

// TestRefusedExchangeLeavesCode: an exchange refused for its client or
// PKCE verifier does not use the code up (the code is claimed only once
// both are checked), so someone who saw the code cannot spend it before
// the client that holds the verifier.
func TestRefusedExchangeLeavesCode(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	other, otherSecret := e.register(t, "Health")
	r := e.party(t, c.ID, secret)
	code, v := e.code(t, r, ph)
	bad := *r
	bad.cfg.ClientSecret = "not-the-secret"
	for _, try := range []struct {
		name string
		cfg  oauth2.Config
		v    string
		want string
	}{
		{"wrong verifier", r.cfg, oauth2.GenerateVerifier(), "invalid_grant"},
		{"wrong client secret", bad.cfg, v, "invalid_client"},
		{"another client", e.party(t, other.ID, otherSecret).cfg, v, "invalid_grant"},
	} {
		_, err := try.cfg.Exchange(ctx, code, oauth2.VerifierOption(try.v))
		wantOAuthError(t, err, try.want)
	}
	if _, err := r.cfg.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
		t.Fatalf("the client's exchange after refused ones: %v", err)
	}
	if e.audited("oidc-code-replayed") {
		t.Error("a refused exchange is audited as a replay")
	}
}
