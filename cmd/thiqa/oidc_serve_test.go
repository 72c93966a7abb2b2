package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/thiqa/thiqa/internal/testenv"
)

// TestOIDCAgainstServe signs a citizen in to an agency's portal against a
// running thiqa serve: a relying party built with go-oidc and x/oauth2,
// the citizen's virtual passkey, discovery, code + PKCE, token, ID token
// verified, userinfo. The node's issuer is set with --issuer to
// http://id.localhost:8080/oidc, which makes id.localhost the passkey
// relying party; the test dials that name to the served port.
func TestOIDCAgainstServe(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	mustRun := func(args ...string) string {
		t.Helper()
		out, code := run(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: %s", args, out)
		}
		return out
	}
	mustRun("init", "--data", data)
	mustRun("admin", "centre", "add", "--data", data, "--code", "AMM-01", "--name-en", "Amman 1", "--name-ar", "عمان ١", "--governorate", "Amman")
	out := mustRun("admin", "officer", "add", "--data", data, "--username", "omar", "--role", "officer", "--centre", "AMM-01")
	password := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	totpURL := regexp.MustCompile(`TOTP: (\S+)`).FindStringSubmatch(out)
	if password == nil || totpURL == nil {
		t.Fatalf("officer add: %s", out)
	}
	const cb = "http://127.0.0.1:9/cb"
	out = mustRun("admin", "agency", "oidc-client", "add", "--data", data, "--name-ar", "وزارة العدل", "--name-en", "Ministry of Justice", "--redirect-uri", cb, "--scope", "national_id")
	clientID := regexp.MustCompile(`oidc client (rp-\S+) added`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`client secret \(shown once\): (\S+)`).FindStringSubmatch(out)
	if clientID == nil || secret == nil {
		t.Fatalf("oidc-client add: %s", out)
	}
	addr := freeAddr(t)
	serve(t, data, addr, "--issuer", "http://id.localhost:8080/oidc")

	dial := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		if a == "id.localhost:8080" {
			a = addr
		}
		return dial.DialContext(ctx, network, a)
	}}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Transport: transport, Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), cb) || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	const base = "http://id.localhost:8080"
	post := func(path, token string, in, v any) {
		t.Helper()
		body, _ := json.Marshal(in)
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %s %s", path, resp.Status, raw)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
	}

	// The officer enrols Layla; her phone activates a passkey.
	u, _ := url.Parse(totpURL[1])
	code, err := totp.GenerateCode(u.Query().Get("secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var officer struct{ Token string }
	post("/api/v1/officers/signin", "", map[string]string{"username": "omar", "password": password[1], "totp": code}, &officer)
	var enr struct {
		Activation struct{ Code string }
	}
	post("/api/v1/enrollments", officer.Token, map[string]string{"national_id": "9901234567", "given_name": "Layla", "surname": "Haddad",
		"given_name_ar": "ليلى", "surname_ar": "حداد", "date_of_birth": "1990-04-12", "doc_type": "national-id-card", "doc_number": "ab123456",
		"doc_expiry": "2030-01-01", "doc_check": "pass", "face_match": "pass"}, &enr)
	type challenge struct {
		CeremonyID string          `json:"ceremony_id"`
		Options    json.RawMessage `json:"options"`
	}
	var ch challenge
	post("/api/v1/activation/begin", "", map[string]string{"national_id": "9901234567", "code": enr.Activation.Code}, &ch)
	rp := virtualwebauthn.RelyingParty{ID: "id.localhost", Name: "Thiqa", Origin: base}
	ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID)})
	cred := testenv.Passkey(t)
	var act any
	post("/api/v1/activation/finish", "", map[string]any{"ceremony_id": ch.CeremonyID, "device_name": "phone",
		"credential": json.RawMessage(virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *ao))}, &act)
	auth.AddCredential(cred)

	// The agency's portal: discovery, then the code flow with PKCE.
	ctx := gooidc.ClientContext(context.Background(), &http.Client{Transport: transport})
	provider, err := gooidc.NewProvider(ctx, base+"/oidc")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	cfg := oauth2.Config{ClientID: clientID[1], ClientSecret: secret[1], Endpoint: ep, RedirectURL: cb, Scopes: []string{gooidc.ScopeOpenID, "profile", "national_id"}}
	verifier := oauth2.GenerateVerifier()
	resp, err := hc.Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/oidc/login" {
		t.Fatalf("authorize: %s at %s", resp.Status, resp.Request.URL)
	}
	id := resp.Request.URL.Query().Get("id")
	post("/oidc/login/begin", "", map[string]string{"id": id}, &ch)
	as, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	cred.Counter++
	var next struct{ Next string }
	post("/oidc/login/finish", "", map[string]any{"id": id, "ceremony_id": ch.CeremonyID,
		"credential": json.RawMessage(virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *as))}, &next)
	resp, err = hc.PostForm(base+"/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("consent: %s %v", resp.Status, loc)
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	idt, err := provider.Verifier(&gooidc.Config{ClientID: clientID[1]}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var claims map[string]any
	ui.Claims(&claims)
	if ui.Subject != idt.Subject || claims["national_id"] != "9901234567" || claims["name#ar"] != "ليلى حداد" {
		t.Errorf("userinfo %v, id token subject %s", claims, idt.Subject)
	}
}
