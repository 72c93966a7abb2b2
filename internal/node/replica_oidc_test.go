package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/descope/virtualwebauthn"
	"golang.org/x/oauth2"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/oidc"
	"github.com/thiqa/thiqa/store"
)

// balancer stands for the load balancer in front of two replicas: the
// issuer's host (localhost:8080) is dialled to whichever replica the test
// points it at, one connection per request.
type balancer struct {
	addrs  map[string]string
	target atomic.Value // name of the replica
}

func (b *balancer) to(name string) { b.target.Store(name) }

func (b *balancer) client(jar http.CookieJar, stopAt string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "localhost:8080" {
			addr = b.addrs[b.target.Load().(string)]
		}
		return d.DialContext(ctx, network, addr)
	}}
	return &http.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if stopAt != "" && strings.HasPrefix(r.URL.String(), stopAt) || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// activate enrols and activates a citizen through the replicas and
// returns their phone.
func activate(t testing.TB, a, b *Node, nid string) (virtualwebauthn.Authenticator, *virtualwebauthn.Credential) {
	t.Helper()
	ctx := context.Background()
	if cs, err := a.Enrollment.Centres(ctx); err != nil || len(cs) == 0 {
		if _, err := a.Enrollment.CreateCentre(ctx, enrollment.Operator("root"), store.Centre{Code: "AMM-01", NameAr: "عمّان", NameEn: "Amman", Governorate: "Amman"}); err != nil {
			t.Fatal(err)
		}
	}
	officer := signInOfficer(t, a, b, "omar"+nid[len(nid)-2:], store.RoleOfficer)
	enr, err := b.Enrollment.Enrol(ctx, officer, enrollment.Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad",
		GivenNameAr: "ليلى", SurnameAr: "حداد", DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "ab123456",
		DocExpiry: "2030-01-01", DocCheck: "pass", FaceMatch: "pass"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := a.Enrollment.BeginActivation(ctx, nid, enr.Code.Code)
	if err != nil {
		t.Fatal(err)
	}
	ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID), BackupEligible: true, BackupState: true})
	cred := passkey(t)
	resp := virtualwebauthn.CreateAttestationResponse(webauthnRP, auth, cred, *ao)
	auth.AddCredential(cred)
	if _, err := b.Enrollment.FinishActivation(ctx, ch.CeremonyID, "my phone", []byte(resp)); err != nil {
		t.Fatal(err)
	}
	return auth, &cred
}

var webauthnRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Thiqa", Origin: "http://localhost:8080"}

// TestReplicasOIDC runs the OpenID provider on two replicas of one
// PostgreSQL database, a relying party built with go-oidc and x/oauth2
// in front: each step of a sign-in lands on the replica the test picks
// (authorization request on A, passkey begun on B and finished on A,
// consent on B, code exchanged on A). The code replayed on B is refused
// and revokes the token A issued; a second agency's sign-in in the same
// browser uses the single sign-on session from the store; its refresh
// token rotates on A and, reused on B, revokes the family; one code
// exchanged on both replicas at once succeeds once; and single sign-out
// on A ends the session and tokens on B.
func TestReplicasOIDC(t *testing.T) {
	ctx := context.Background()
	a, b := openReplicas(t)
	if a.OIDC == nil || b.OIDC == nil {
		t.Fatal("the OpenID provider is not served on PostgreSQL")
	}
	auth, cred := activate(t, a, b, "9861234567")
	const cb = "http://127.0.0.1:9/cb"
	reg := a.Store.(oidc.Registry)
	justice, justiceSecret, err := oidc.Register(ctx, reg, oidc.Registration{NameAr: "وزارة العدل", NameEn: "Justice", RedirectURIs: []string{cb},
		PostLogoutRedirectURIs: []string{cb + "/bye"}}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	health, healthSecret, err := oidc.Register(ctx, reg, oidc.Registration{NameAr: "وزارة الصحة", NameEn: "Health", RedirectURIs: []string{cb}}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lb := &balancer{addrs: map[string]string{}}
	for name, n := range map[string]*Node{"A": a, "B": b} {
		srv := httptest.NewServer(n.Handler())
		t.Cleanup(srv.Close)
		lb.addrs[name] = strings.TrimPrefix(srv.URL, "http://")
	}
	lb.to("A")
	rpCtx := gooidc.ClientContext(ctx, lb.client(nil, ""))
	provider, err := gooidc.NewProvider(rpCtx, "http://localhost:8080/oidc")
	if err != nil {
		t.Fatal(err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	cfg := func(id, secret string, scopes ...string) *oauth2.Config {
		return &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: ep, RedirectURL: cb, Scopes: append([]string{gooidc.ScopeOpenID}, scopes...)}
	}
	jar, _ := cookiejar.New(nil)
	browser := lb.client(jar, cb)
	get := func(on, u string) *http.Response {
		t.Helper()
		lb.to(on)
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	post := func(on, path string, in, out any) {
		t.Helper()
		lb.to(on)
		body, _ := json.Marshal(in)
		resp, err := browser.Post("http://localhost:8080"+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, out) != nil {
			t.Fatalf("POST %s on %s: %s %s", path, on, resp.Status, raw)
		}
	}
	consent := func(on, id string) string {
		t.Helper()
		lb.to(on)
		resp, err := browser.PostForm("http://localhost:8080/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := resp.Location()
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("consent on %s: %s, redirect %v", on, resp.Status, loc)
		}
		return loc.Query().Get("code")
	}
	exchange := func(on string, c *oauth2.Config, code, verifier string) (*oauth2.Token, error) {
		lb.to(on)
		return c.Exchange(rpCtx, code, oauth2.VerifierOption(verifier))
	}
	userinfo := func(on string, tok *oauth2.Token) error {
		lb.to(on)
		_, err := provider.UserInfo(rpCtx, oauth2.StaticTokenSource(tok))
		return err
	}

	// Justice: every step on the replica the balancer picks.
	jc := cfg(justice.ID, justiceSecret, "profile")
	v1 := oauth2.GenerateVerifier()
	resp := get("A", jc.AuthCodeURL("s1", oauth2.S256ChallengeOption(v1)))
	if resp.Request.URL.Path != "/oidc/login" {
		t.Fatalf("authorize on A: %s at %s, want the login page", resp.Status, resp.Request.URL)
	}
	id := resp.Request.URL.Query().Get("id")
	var ch enrollment.Challenge
	post("B", "/oidc/login/begin", map[string]string{"id": id}, &ch)
	ao, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	cred.Counter++
	assertion := virtualwebauthn.CreateAssertionResponse(webauthnRP, auth, *cred, *ao)
	var next struct{ Next string }
	post("A", "/oidc/login/finish", map[string]any{"id": id, "ceremony_id": ch.CeremonyID, "credential": json.RawMessage(assertion)}, &next)
	if resp := get("B", "http://localhost:8080/oidc/"+next.Next); resp.StatusCode != http.StatusOK {
		t.Fatalf("consent page on B: %s", resp.Status)
	}
	code := consent("B", id)
	tok1, err := exchange("A", jc, code, v1)
	if err != nil {
		t.Fatalf("code from B exchanged on A: %v", err)
	}
	if _, err := provider.Verifier(&gooidc.Config{ClientID: justice.ID}).Verify(rpCtx, tok1.Extra("id_token").(string)); err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if err := userinfo("B", tok1); err != nil {
		t.Fatalf("userinfo on B with A's token: %v", err)
	}
	t.Run("code replayed on the other replica", func(t *testing.T) {
		_, err := exchange("B", jc, code, v1)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("replay on B: %v, want invalid_grant", err)
		}
		if err := userinfo("A", tok1); err == nil {
			t.Fatal("the token issued from a replayed code still answers")
		}
	})

	// Health, same browser: the single sign-on session is found on B.
	hc := cfg(health.ID, healthSecret, "offline_access")
	v2 := oauth2.GenerateVerifier()
	resp = get("B", hc.AuthCodeURL("s2", oauth2.S256ChallengeOption(v2)))
	if resp.Request.URL.Path != "/oidc/consent" {
		t.Fatalf("second agency on B: at %s, want the consent page (single sign-on)", resp.Request.URL)
	}
	tok2, err := exchange("A", hc, consent("A", resp.Request.URL.Query().Get("id")), v2)
	if err != nil || tok2.RefreshToken == "" {
		t.Fatalf("offline_access exchange: %v, refresh token %q", err, tok2.RefreshToken)
	}
	t.Run("refresh rotates; reuse on the other replica revokes the family", func(t *testing.T) {
		lb.to("A")
		tok3, err := hc.TokenSource(rpCtx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
		if err != nil || tok3.RefreshToken == "" || tok3.RefreshToken == tok2.RefreshToken {
			t.Fatalf("refresh on A: %v (new refresh token %q)", err, tok3.RefreshToken)
		}
		if err := userinfo("B", tok3); err != nil {
			t.Fatalf("refreshed token on B: %v", err)
		}
		lb.to("B")
		if _, err := hc.TokenSource(rpCtx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); err == nil {
			t.Fatal("a rotated refresh token was accepted again")
		}
		if err := userinfo("A", tok3); err == nil {
			t.Fatal("the family's access token survived the reuse")
		}
		lb.to("A")
		if _, err := hc.TokenSource(rpCtx, &oauth2.Token{RefreshToken: tok3.RefreshToken}).Token(); err == nil {
			t.Fatal("the family's newest refresh token survived the reuse")
		}
	})

	t.Run("one code exchanged on both replicas at once", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		resp := get("B", jc.AuthCodeURL("s5", oauth2.S256ChallengeOption(v)))
		code := consent("A", resp.Request.URL.Query().Get("id"))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for _, name := range []string{"A", "B"} {
			fixed := &balancer{addrs: lb.addrs}
			fixed.to(name)
			c := gooidc.ClientContext(ctx, fixed.client(nil, ""))
			wg.Go(func() {
				if _, err := jc.Exchange(c, code, oauth2.VerifierOption(v)); err == nil {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d exchanges of one code succeeded, want exactly 1", wins.Load())
		}
	})

	t.Run("single sign-out on A ends the session on B", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		resp := get("B", hc.AuthCodeURL("s3", oauth2.S256ChallengeOption(v)))
		tok, err := exchange("B", hc, consent("B", resp.Request.URL.Query().Get("id")), v)
		if err != nil {
			t.Fatal(err)
		}
		q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "client_id": {health.ID}}
		get("A", "http://localhost:8080/oidc/end_session?"+q.Encode())
		if err := userinfo("B", tok); err == nil {
			t.Fatal("userinfo on B answers after sign-out on A")
		}
		lb.to("B")
		if _, err := hc.TokenSource(rpCtx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Fatal("a refresh token survived single sign-out")
		}
		if resp := get("B", jc.AuthCodeURL("s4", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); resp.Request.URL.Path != "/oidc/login" {
			t.Fatalf("after sign-out, B at %s, want the login page (passkey again)", resp.Request.URL)
		}
	})
}
